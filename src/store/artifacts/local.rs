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

    async fn link_atomically(from: &Path, dir: &Path, name: &str) -> std::io::Result<()> {
        let tmp = dir.join(format!(".{name}.tmp"));
        let _ = tokio::fs::remove_file(&tmp).await;
        tokio::fs::hard_link(from, &tmp).await?;
        tokio::fs::rename(&tmp, dir.join(name)).await
    }

    async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> StoreResult<()> {
        let tmp = dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, dir.join(name)).await.map_err(io)
    }
}

impl LocalArtifactStore {
    /// Writes the files not yet stored, then the index once; a name already stored
    /// with other bytes fails with [`StoreError::ArtifactExists`] before anything is written.
    /// With `link_from`, each new file is hard-linked from that directory (where the
    /// same bytes were stored) instead of written, falling back to writing.
    async fn write_files(
        &self,
        bundle: &BundleRef,
        files: &[(&str, &str, &[u8])],
        link_from: Option<&Path>,
    ) -> StoreResult<Vec<ArtifactInfo>> {
        let dir = self.run_dir(bundle)?;
        let mut infos = Vec::with_capacity(files.len());
        for (name, content_type, bytes) in files {
            valid_name(name)?;
            let hash = content_hash(bytes);
            infos.push(ArtifactInfo {
                name: name.to_string(),
                content_type: content_type.to_string(),
                size: bytes.len() as u64,
                version: hash[..16].to_string(),
            });
        }
        let _guard = self.lock.lock().await;
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        let mut index = Self::index(&dir).await?;
        let mut out = Vec::with_capacity(infos.len());
        let mut new: Vec<(ArtifactInfo, &[u8])> = Vec::new();
        for (info, (_, _, bytes)) in infos.into_iter().zip(files) {
            let stored = index.iter().chain(new.iter().map(|(a, _)| a)).find(|a| a.name == info.name);
            match stored {
                Some(existing) if existing.version == info.version => out.push(existing.clone()),
                Some(_) => return Err(StoreError::ArtifactExists(info.name)),
                None => {
                    out.push(info.clone());
                    new.push((info, bytes));
                }
            }
        }
        for (info, bytes) in &new {
            let linked = match link_from {
                Some(from) => Self::link_atomically(&from.join(&info.name), &dir, &info.name).await.is_ok(),
                None => false,
            };
            if !linked {
                Self::write_atomically(&dir, &info.name, bytes).await?;
            }
        }
        if !new.is_empty() {
            index.extend(new.into_iter().map(|(info, _)| info));
            index.sort_by(|a, b| a.name.cmp(&b.name));
            let body = serde_json::to_vec(&index).map_err(|e| StoreError::Artifact(e.to_string()))?;
            Self::write_atomically(&dir, INDEX, &body).await?;
        }
        Ok(out)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Artifact(e.to_string())
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    async fn put(&self, bundle: &BundleRef, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo> {
        let mut written = self.write_files(bundle, &[(name, content_type, bytes)], None).await?;
        Ok(written.pop().expect("one file in, one out"))
    }

    /// One index read and one index write for all the files.
    async fn put_all(&self, bundle: &BundleRef, files: &[(&str, &str, &[u8])]) -> StoreResult<()> {
        self.write_files(bundle, files, None).await.map(drop)
    }

    /// Hard-links the staged files (no second copy, no new inode).
    async fn publish(&self, staged: &BundleRef, bundle: &BundleRef, files: &[(&str, &str, &[u8])]) -> StoreResult<()> {
        let from = self.run_dir(staged)?;
        self.write_files(bundle, files, Some(&from)).await.map(drop)
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
}
