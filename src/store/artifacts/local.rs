//! The embedded default: files under `<root>/<run_id>/<name>`, with an index file
//! recording content types and versions. The index is the commit point: a file is
//! part of the bundle only once the index lists it, so a stage's files are written
//! first and the index once after them ([`ArtifactStore::put_all`]), which makes a
//! stage's publish whole or nothing with one index write. Writes are immutable like
//! S3's conditional writes, and a listed file is never rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use futures::StreamExt;

use super::{ArtifactBody, ArtifactInfo, ArtifactStore, BundleRef, NewArtifact, content_hash, valid_name};
use crate::store::{StoreError, StoreResult};

pub struct LocalArtifactStore {
    root: PathBuf,
    /// Serialises index updates within this process (runs write concurrently).
    lock: tokio::sync::Mutex<()>,
}

const INDEX: &str = ".index.json";

/// A file to write: owned, so the batch can move to the blocking pool.
struct Pending {
    info: ArtifactInfo,
    bytes: Vec<u8>,
}

impl LocalArtifactStore {
    pub fn new(root: impl Into<PathBuf>) -> LocalArtifactStore {
        LocalArtifactStore { root: root.into(), lock: tokio::sync::Mutex::new(()) }
    }

    /// `<root>/<run_id>`.
    fn run_dir(&self, bundle: &BundleRef) -> StoreResult<PathBuf> {
        valid_name(&bundle.run_id)?;
        Ok(self.root.join(&bundle.run_id))
    }

    async fn index(dir: &Path) -> StoreResult<Vec<ArtifactInfo>> {
        match tokio::fs::read(dir.join(INDEX)).await {
            Ok(bytes) => parse_index(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(io(e)),
        }
    }

    /// Writes `files` into `dir` and then lists them in its index, on the blocking
    /// pool (one hop for the whole stage). Returns each file's stored info.
    async fn publish(&self, dir: PathBuf, files: Vec<Pending>) -> StoreResult<Vec<ArtifactInfo>> {
        let _guard = self.lock.lock().await;
        tokio::task::spawn_blocking(move || publish_blocking(&dir, files))
            .await
            .map_err(|e| StoreError::Artifact(format!("artifact writer panicked: {e}")))?
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Artifact(e.to_string())
}

fn parse_index(bytes: &[u8]) -> StoreResult<Vec<ArtifactInfo>> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("artifact index: {e}")))
}

fn pending(name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<Pending> {
    valid_name(name)?;
    let hash = content_hash(bytes);
    let info = ArtifactInfo {
        name: name.to_string(),
        content_type: content_type.to_string(),
        size: bytes.len() as u64,
        version: hash[..16].to_string(),
    };
    Ok(Pending { info, bytes: bytes.to_vec() })
}

/// Checks every name against the index first (same bytes: already stored; other
/// bytes: refused before anything is written), writes the new files, then the index
/// once. A failure part-way removes the files this call created; none of them was
/// listed, so readers never saw them.
fn publish_blocking(dir: &Path, files: Vec<Pending>) -> StoreResult<Vec<ArtifactInfo>> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut index = match std::fs::read(dir.join(INDEX)) {
        Ok(bytes) => parse_index(&bytes)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io(e)),
    };
    let mut stored = Vec::with_capacity(files.len());
    let mut new: Vec<Pending> = Vec::new();
    for file in files {
        let listed = index.iter().chain(new.iter().map(|p| &p.info)).find(|a| a.name == file.info.name);
        match listed {
            Some(existing) if existing.version == file.info.version => stored.push(existing.clone()),
            Some(_) => return Err(StoreError::ArtifactExists(file.info.name)),
            None => {
                stored.push(file.info.clone());
                new.push(file);
            }
        }
    }
    if new.is_empty() {
        return Ok(stored);
    }
    let mut created = Vec::with_capacity(new.len());
    let result = new.iter().try_for_each(|file| {
        create_file(dir, &file.info.name, &file.bytes)?;
        created.push(dir.join(&file.info.name));
        Ok::<_, std::io::Error>(())
    });
    let result = result.and_then(|()| {
        index.extend(new.into_iter().map(|p| p.info));
        index.sort_by(|a, b| a.name.cmp(&b.name));
        let body = serde_json::to_vec(&index).map_err(std::io::Error::other)?;
        write_atomically(dir, INDEX, &body)
    });
    if let Err(e) = result {
        for path in created {
            let _ = std::fs::remove_file(path);
        }
        return Err(io(e));
    }
    Ok(stored)
}

/// Creates `name` with `bytes`. An unlisted file of that name (left by a crashed
/// attempt) is replaced atomically rather than truncated in place.
fn create_file(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    match std::fs::OpenOptions::new().write(true).create_new(true).open(dir.join(name)) {
        Ok(mut file) => file.write_all(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => write_atomically(dir, name, bytes),
        Err(e) => Err(e),
    }
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

#[async_trait]
impl ArtifactStore for LocalArtifactStore {
    async fn put(&self, bundle: &BundleRef, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo> {
        let file = pending(name, content_type, bytes)?;
        let mut stored = self.publish(self.run_dir(bundle)?, vec![file]).await?;
        Ok(stored.remove(0))
    }

    /// One index write for the whole stage; see [`publish_blocking`].
    async fn put_all(&self, bundle: &BundleRef, files: &[NewArtifact<'_>]) -> StoreResult<()> {
        let files = files.iter().map(|f| pending(f.name, f.content_type, f.bytes)).collect::<StoreResult<Vec<_>>>()?;
        self.publish(self.run_dir(bundle)?, files).await.map(drop)
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
            // The last file: the directory goes too.
            return tokio::fs::remove_dir_all(&dir).await.map_err(io);
        }
        let body = serde_json::to_vec(&index).map_err(|e| StoreError::Artifact(e.to_string()))?;
        write_atomically(&dir, INDEX, &body).map_err(io)?;
        match tokio::fs::remove_file(dir.join(name)).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
            _ => Ok(()),
        }
    }
}
