//! Amazon S3 (`SECCFG_ARTIFACT_URL=s3://bucket/prefix`): one object per file under
//! `{prefix}/{profile_id}/{service_id}/v{bundle_version}/{file}`, with its content
//! type, SSE-KMS when a key id is configured, and immutable writes through
//! `If-None-Match: *`. Reads stream the object body; listing follows
//! `ListObjectsV2` continuation tokens. Retries and timeouts are the SDK client's
//! (see `crate::aws`).

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use futures::{StreamExt, TryStreamExt};

use super::{ArtifactBody, ArtifactInfo, ArtifactStore, BundleRef, content_hash, valid_name};
use crate::store::{StoreError, StoreResult};

/// User metadata carrying the content hash, so a repeated write can be told apart
/// from a conflicting one.
const HASH_META: &str = "sha256";
/// HEAD requests in flight while listing (content types are not in `ListObjectsV2`).
const HEAD_CONCURRENCY: usize = 8;

/// A parsed `s3://bucket/prefix` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing slashes; may be empty.
    pub prefix: String,
}

impl S3Location {
    pub fn parse(url: &str) -> Result<S3Location, String> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| format!("'{url}' is not an s3:// URL"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("'{url}' names no bucket"));
        }
        Ok(S3Location { bucket: bucket.to_string(), prefix: prefix.trim_matches('/').to_string() })
    }
}

pub struct S3ArtifactStore {
    client: Client,
    location: S3Location,
    kms_key_id: Option<String>,
    page_size: Option<i32>,
}

impl S3ArtifactStore {
    pub fn new(client: Client, location: S3Location, kms_key_id: Option<String>) -> S3ArtifactStore {
        S3ArtifactStore { client, location, kms_key_id, page_size: None }
    }

    /// Keys per `ListObjectsV2` page (S3's default is 1,000); tests use small pages.
    pub fn with_page_size(mut self, size: i32) -> S3ArtifactStore {
        self.page_size = Some(size);
        self
    }

    /// `{prefix}/{profile_id}/{service_id}/v{bundle_version}/`.
    pub fn bundle_prefix(&self, bundle: &BundleRef) -> String {
        let mut key = String::new();
        if !self.location.prefix.is_empty() {
            key.push_str(&self.location.prefix);
            key.push('/');
        }
        key.push_str(&format!(
            "{}/{}/v{}/",
            key_segment(&bundle.profile_id),
            key_segment(&bundle.service_id),
            bundle.bundle_version
        ));
        key
    }

    async fn head(&self, key: &str, name: &str) -> StoreResult<Option<(ArtifactInfo, Option<String>)>> {
        match self.client.head_object().bucket(&self.location.bucket).key(key).send().await {
            Ok(out) => {
                let info = ArtifactInfo {
                    name: name.to_string(),
                    content_type: out.content_type().unwrap_or("application/octet-stream").to_string(),
                    size: out.content_length().unwrap_or(0).max(0) as u64,
                    version: version(out.version_id(), out.e_tag()),
                };
                let hash = out.metadata().and_then(|m| m.get(HASH_META)).cloned();
                Ok(Some((info, hash)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(sdk_error("HeadObject", e)),
        }
    }

    /// After a refused conditional write: the same bytes are a repeated write.
    async fn existing(&self, key: &str, name: &str, hash: &str) -> StoreResult<ArtifactInfo> {
        match self.head(key, name).await? {
            Some((info, Some(stored))) if stored == hash => Ok(info),
            _ => Err(StoreError::ArtifactExists(name.to_string())),
        }
    }
}

/// Percent-encodes everything but `[A-Za-z0-9._-]`, so an id can never add a
/// level to the key layout.
fn key_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn version(version_id: Option<&str>, e_tag: Option<&str>) -> String {
    version_id.filter(|v| !v.is_empty() && *v != "null").or(e_tag).unwrap_or("").trim_matches('"').to_string()
}

fn sdk_error<E, R>(operation: &str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::Artifact(format!("S3 {operation}: {}", DisplayErrorContext(&e)))
}

/// 412 (the key exists) or 409 (a concurrent conditional write won).
fn refused_as_existing<E>(e: &SdkError<E, HttpResponse>) -> bool {
    e.raw_response().is_some_and(|r| matches!(r.status().as_u16(), 409 | 412))
}

#[async_trait]
impl ArtifactStore for S3ArtifactStore {
    async fn put(&self, bundle: &BundleRef, name: &str, content_type: &str, bytes: &[u8]) -> StoreResult<ArtifactInfo> {
        valid_name(name)?;
        let key = format!("{}{name}", self.bundle_prefix(bundle));
        let hash = content_hash(bytes);
        let mut request = self
            .client
            .put_object()
            .bucket(&self.location.bucket)
            .key(&key)
            .content_type(content_type)
            .if_none_match("*")
            .metadata(HASH_META, &hash)
            .body(ByteStream::from(bytes.to_vec()));
        if let Some(kms) = &self.kms_key_id {
            request = request.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms);
        }
        match request.send().await {
            Ok(out) => Ok(ArtifactInfo {
                name: name.to_string(),
                content_type: content_type.to_string(),
                size: bytes.len() as u64,
                version: version(out.version_id(), out.e_tag()),
            }),
            Err(e) if refused_as_existing(&e) => self.existing(&key, name, &hash).await,
            Err(e) => Err(sdk_error("PutObject", e)),
        }
    }

    async fn get(&self, bundle: &BundleRef, name: &str) -> StoreResult<Option<(ArtifactInfo, ArtifactBody)>> {
        if valid_name(name).is_err() {
            return Ok(None);
        }
        let key = format!("{}{name}", self.bundle_prefix(bundle));
        match self.client.get_object().bucket(&self.location.bucket).key(&key).send().await {
            Ok(out) => {
                let info = ArtifactInfo {
                    name: name.to_string(),
                    content_type: out.content_type().unwrap_or("application/octet-stream").to_string(),
                    size: out.content_length().unwrap_or(0).max(0) as u64,
                    version: version(out.version_id(), out.e_tag()),
                };
                let body = tokio_util::io::ReaderStream::new(out.body.into_async_read()).boxed();
                Ok(Some((info, body)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
            Err(e) => Err(sdk_error("GetObject", e)),
        }
    }

    async fn list(&self, bundle: &BundleRef) -> StoreResult<Vec<ArtifactInfo>> {
        let prefix = self.bundle_prefix(bundle);
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.location.bucket)
            .prefix(&prefix)
            .set_max_keys(self.page_size)
            .into_paginator()
            .send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| sdk_error("ListObjectsV2", e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_string));
        }
        let prefix_len = prefix.len();
        let mut infos: Vec<ArtifactInfo> = futures::stream::iter(keys)
            .map(|key| async move {
                let name = key[prefix_len..].to_string();
                Ok::<_, StoreError>(self.head(&key, &name).await?.map(|(info, _)| info))
            })
            .buffer_unordered(HEAD_CONCURRENCY)
            .try_filter_map(|info| async move { Ok(info) })
            .try_collect()
            .await?;
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(infos)
    }

    /// `DeleteObject`: in a versioned bucket this adds a delete marker, and the
    /// bucket's lifecycle expires the hidden version.
    async fn delete(&self, bundle: &BundleRef, name: &str) -> StoreResult<()> {
        valid_name(name)?;
        let key = format!("{}{name}", self.bundle_prefix(bundle));
        match self.client.delete_object().bucket(&self.location.bucket).key(&key).send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(sdk_error("DeleteObject", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_locations() {
        assert_eq!(S3Location::parse("s3://b/a/b/").unwrap(), S3Location { bucket: "b".into(), prefix: "a/b".into() });
        assert_eq!(S3Location::parse("s3://b").unwrap().prefix, "");
        assert!(S3Location::parse("s3:///x").is_err());
        assert!(S3Location::parse("file:///x").is_err());
    }

    #[test]
    fn ids_cannot_add_key_levels() {
        assert_eq!(key_segment("FIN-PROD-001"), "FIN-PROD-001");
        assert_eq!(key_segment("a/b c"), "a%2Fb%20c");
    }
}
