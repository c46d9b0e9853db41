//! Bundle files behind one trait, with two implementations that pass the same
//! contract suite (`tests/artifact_contract.rs`): a local directory (the embedded
//! default) and Amazon S3 (`s3://bucket/prefix`, SSE-KMS, immutable keys).
//!
//! Writes are immutable: a name is written once per bundle. Writing the same bytes
//! again returns the stored object (a stage retried after a crash repeats its
//! writes); different bytes under an existing name are refused with
//! [`StoreError::ArtifactExists`].

mod local;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

pub use local::LocalArtifactStore;
pub use s3::{S3ArtifactStore, S3Location};

use super::{RunRecord, StoreError, StoreResult};

/// One file of a bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct ArtifactInfo {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Version of the stored object (S3 version id, or its ETag in an unversioned
    /// bucket; a content hash locally).
    pub version: String,
}

/// The bundle a file belongs to: everything a store needs to place it (the S3 key
/// layout is `{prefix}/{profile_id}/{service_id}/v{bundle_version}/{file}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleRef {
    pub run_id: String,
    pub profile_id: String,
    pub service_id: String,
    pub bundle_version: i64,
}

/// One file handed to [`ArtifactStore::put_all`].
#[derive(Debug, Clone, Copy)]
pub struct NewArtifact<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

impl From<&RunRecord> for BundleRef {
    fn from(run: &RunRecord) -> BundleRef {
        BundleRef {
            run_id: run.id.clone(),
            profile_id: run.profile_id.clone(),
            service_id: run.service_id.clone(),
            bundle_version: run.bundle_version,
        }
    }
}

/// An artifact's bytes as they arrive from the store, so large files reach the
/// HTTP response without being held in memory.
pub type ArtifactBody = BoxStream<'static, Result<Bytes, std::io::Error>>;

#[async_trait]
pub trait ArtifactStore: Send + Sync + 'static {
    /// Stores a file once; see the module documentation for repeated writes.
    async fn put(&self, bundle: &BundleRef, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo>;
    async fn get(&self, bundle: &BundleRef, name: &str) -> StoreResult<Option<(ArtifactInfo, ArtifactBody)>>;
    /// Every file of the bundle, sorted by name.
    async fn list(&self, bundle: &BundleRef) -> StoreResult<Vec<ArtifactInfo>>;
    /// Removes a file; removing one that is not there is not an error. Only
    /// [`ArtifactStore::put_all`] calls it, to take back a stage's files when
    /// publishing them failed part-way.
    async fn delete(&self, bundle: &BundleRef, name: &str) -> StoreResult<()>;

    /// Stores a stage's files whole or not at all: when one write fails, the names
    /// this call already wrote are deleted again (best effort: a file a failed
    /// delete leaves behind has the bytes the retry writes) and the error is returned.
    /// Stores that can commit several files at once override it (the local directory
    /// writes every file, then its index once).
    async fn put_all(&self, bundle: &BundleRef, files: &[NewArtifact<'_>]) -> StoreResult<()> {
        for (i, f) in files.iter().enumerate() {
            if let Err(e) = self.put(bundle, f.name, f.content_type, f.bytes).await {
                for taken in &files[..i] {
                    if let Err(e) = self.delete(bundle, taken.name).await {
                        tracing::warn!(artifact = %taken.name, error = %e, "could not take back a partly published stage's file");
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }
}

/// The store the configuration names: S3 when `artifact_url` is set, else the directory.
pub async fn open(config: &crate::config::StoreConfig) -> Result<Arc<dyn ArtifactStore>, String> {
    let Some(url) = &config.artifact_url else {
        return Ok(Arc::new(LocalArtifactStore::new(&config.artifact_dir)));
    };
    let location = S3Location::parse(url)?;
    let sdk = crate::aws::sdk_config(&config.aws).await;
    let client = crate::aws::s3_client(&sdk, &config.aws);
    Ok(Arc::new(S3ArtifactStore::new(client, location, config.artifact_kms_key_id.clone())))
}

/// Collects a body (CLI output, tests).
pub async fn read_body(mut body: ArtifactBody) -> StoreResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        out.extend_from_slice(&chunk.map_err(|e| StoreError::Artifact(e.to_string()))?);
    }
    Ok(out)
}

/// Names are flat file names: no separators, no parent references, no hidden files.
pub(crate) fn valid_name(s: &str) -> StoreResult<()> {
    let ok = !s.is_empty()
        && s != "."
        && s != ".."
        && !s.starts_with('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok { Ok(()) } else { Err(StoreError::Artifact(format!("invalid artifact name '{s}'"))) }
}

/// A short content hash: the local version id, and how S3 recognises a repeated write.
pub(crate) fn content_hash(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
