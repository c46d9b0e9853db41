//! Bundle files. Local directory now; the trait is shaped for S3 (keys per run,
//! content types, object versions).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StoreError, StoreResult};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ArtifactInfo {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Version id of the stored object (S3 object version; a content hash locally).
    pub version: String,
}

#[async_trait]
pub trait ArtifactStore: Send + Sync + 'static {
    /// Writes once: putting the same bytes again is a no-op (a re-executed stage),
    /// different bytes under an existing name are refused — a bundle version's
    /// artifacts never change once written.
    async fn put(&self, run_id: &str, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo>;
    async fn get(&self, run_id: &str, name: &str) -> StoreResult<Option<(ArtifactInfo, Vec<u8>)>>;
    async fn list(&self, run_id: &str) -> StoreResult<Vec<ArtifactInfo>>;
}

/// Files under `<root>/<run_id>/<name>`, with an index file recording content types.
pub struct LocalArtifactStore {
    root: PathBuf,
}

const INDEX: &str = ".index.json";

impl LocalArtifactStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalArtifactStore {
        LocalArtifactStore { root: root.into() }
    }

    fn run_dir(&self, run_id: &str) -> StoreResult<PathBuf> {
        valid_segment(run_id)?;
        Ok(self.root.join(run_id))
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
}

/// Names are flat file names: no separators, no parent references.
fn valid_segment(s: &str) -> StoreResult<()> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok { Ok(()) } else { Err(StoreError::Artifact(format!("invalid artifact path segment '{s}'"))) }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Artifact(e.to_string())
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    async fn put(&self, run_id: &str, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo> {
        valid_segment(name)?;
        let dir = self.run_dir(run_id)?;
        tokio::fs::create_dir_all(&dir).await.map_err(io)?;
        if let Some(existing) = Self::index(&dir).await?.into_iter().find(|a| a.name == name) {
            let same = tokio::fs::read(dir.join(name)).await.is_ok_and(|old| old == bytes);
            return if same {
                Ok(existing)
            } else {
                Err(StoreError::Artifact(format!("artifact '{name}' of run '{run_id}' is immutable")))
            };
        }
        // Write then rename so a reader never sees half a file.
        let tmp = dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes).await.map_err(io)?;
        tokio::fs::rename(&tmp, dir.join(name)).await.map_err(io)?;
        use sha2::Digest;
        let info = ArtifactInfo {
            name: name.to_string(),
            content_type: content_type.to_string(),
            size: bytes.len() as u64,
            version: hex::encode(&sha2::Sha256::digest(bytes)[..8]),
        };
        let mut index = Self::index(&dir).await?;
        index.retain(|a| a.name != name);
        index.push(info.clone());
        index.sort_by(|a, b| a.name.cmp(&b.name));
        let body = serde_json::to_vec(&index).map_err(|e| StoreError::Artifact(e.to_string()))?;
        tokio::fs::write(dir.join(".index.tmp"), body).await.map_err(io)?;
        tokio::fs::rename(dir.join(".index.tmp"), dir.join(INDEX)).await.map_err(io)?;
        Ok(info)
    }

    async fn get(&self, run_id: &str, name: &str) -> StoreResult<Option<(ArtifactInfo, Vec<u8>)>> {
        if valid_segment(name).is_err() {
            return Ok(None);
        }
        let dir = self.run_dir(run_id)?;
        let Some(info) = Self::index(&dir).await?.into_iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        let bytes = tokio::fs::read(dir.join(name)).await.map_err(io)?;
        Ok(Some((info, bytes)))
    }

    async fn list(&self, run_id: &str) -> StoreResult<Vec<ArtifactInfo>> {
        Self::index(&self.run_dir(run_id)?).await
    }
}
