//! The embedded default: files under `<root>/<run_id>/<name>`, with an index file
//! recording content types and versions. Writes are atomic (write, then rename) and
//! immutable like S3's conditional writes.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;

use super::{ArtifactBody, ArtifactInfo, ArtifactStore, BundleRef, content_hash, valid_name};
use crate::store::{StoreError, StoreResult};

pub struct LocalArtifactStore {
    root: PathBuf,
    /// Serialises index updates within this process (runs write concurrently).
    lock: tokio::sync::Mutex<()>,
}

const INDEX: &str = ".index.json";

impl LocalArtifactStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalArtifactStore {
        LocalArtifactStore { root: root.into(), lock: tokio::sync::Mutex::new(()) }
    }

    /// `<root>/<run_id>`, or `<root>/<run_id>.<staging>` for an attempt's own files.
    fn run_dir(&self, bundle: &BundleRef) -> StoreResult<PathBuf> {
        let dir = match &bundle.staging {
            Some(s) => format!("{}.{s}", bundle.run_id),
            None => bundle.run_id.clone(),
        };
        valid_name(&dir)?;
        Ok(self.root.join(dir))
    }

    async fn index(dir: &Path) -> StoreResult<Vec<ArtifactInfo>> {
        match tokio::fs::read(dir.join(INDEX)).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("artifact index: {e}")))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io(e)),
        }
    }

    async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> StoreResult<()> {
        let tmp = dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, dir.join(name)).await.map_err(io)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Artifact(e.to_string())
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    async fn put(&self, bundle: &BundleRef, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo> {
        valid_name(name)?;
        let dir = self.run_dir(bundle)?;
        let hash = content_hash(bytes);
        let info = ArtifactInfo {
            name: name.to_string(),
            content_type: content_type.to_string(),
            size: bytes.len() as u64,
            version: hash[..16].to_string(),
        };
        let _guard = self.lock.lock().await;
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let mut index = Self::index(&dir).await?;
        if let Some(existing) = index.iter().find(|a| a.name == name) {
            return if existing.version == info.version {
                Ok(existing.clone())
            } else {
                Err(StoreError::ArtifactExists(name.to_string()))
            };
        }
        Self::write_atomically(&dir, name, bytes).await?;
        index.push(info.clone());
        index.sort_by(|a, b| a.name.cmp(&b.name));
        let body = serde_json::to_vec(&index).map_err(|e| StoreError::Artifact(e.to_string()))?;
        Self::write_atomically(&dir, INDEX, &body).await?;
        Ok(info)
    }

    async fn get(&self, bundle: &BundleRef, name: &str) -> StoreResult<Option<(ArtifactInfo, ArtifactBody)>> {
        if valid_name(name).is_err() {
            return Ok(None);
        }
        let dir = self.run_dir(bundle)?;
        let Some(info) = Self::index(&dir).await?.into_iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        let file = tokio::fs::File::open(dir.join(name)).await.map_err(io)?;
        Ok(Some((info, tokio_util::io::ReaderStream::new(file).boxed())))
    }

    async fn list(&self, bundle: &BundleRef) -> StoreResult<Vec<ArtifactInfo>> {
        Self::index(&self.run_dir(bundle)?).await
    }

    async fn delete(&self, bundle: &BundleRef, name: &str) -> StoreResult<()> {
        valid_name(name)?;
        let dir = self.run_dir(bundle)?;
        let _guard = self.lock.lock().await;
        let mut index = Self::index(&dir).await?;
        let before = index.len();
        index.retain(|a| a.name != name);
        if index.len() == before {
            return Ok(());
        }
        if index.is_empty() {
            // The last file: the directory goes too (an attempt's copies leave nothing behind).
            return tokio::fs::remove_dir_all(&dir).await.map_err(io);
        }
        let body = serde_json::to_vec(&index).map_err(|e| StoreError::Artifact(e.to_string()))?;
        Self::write_atomically(&dir, INDEX, &body).await?;
        match tokio::fs::remove_file(dir.join(name)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }
}
