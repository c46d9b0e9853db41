//! S3 intake, mirroring the reference design's upload flow: an S3 "Object Created"
//! event (EventBridge format) names an uploaded profile or service request; seccfg
//! reads it with the S3 client, validates it exactly like the API and submits it.
//!
//! A delivery is idempotent per object version: the request's id is derived from
//! (bucket, key, version id or ETag), so the same upload delivered twice returns
//! the first submission and creates nothing. Profiles are idempotent by content
//! already. Anything refused (bad event, unknown bucket, missing or oversized
//! object, not JSON, invalid document) stores nothing.

pub mod event;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use serde_json::Value;
use tokio::io::AsyncReadExt;

use crate::app::{AcceptedRequest, App, AppError, take_profile_ref};
use crate::auth::Principal;
use crate::input::{Warning, parse_json};
use crate::store::StoredProfile;
pub use event::ObjectRef;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("S3 intake is not configured (set SECCFG_INTAKE_BUCKETS)")]
    NotConfigured,
    #[error("bucket '{0}' is not an intake bucket")]
    UnknownBucket(String),
    #[error("s3://{0}/{1} does not exist")]
    UnknownObject(String, String),
    #[error("the object is {size} bytes; the intake limit is {limit} bytes")]
    TooLarge { size: u64, limit: u64 },
    #[error("reading the object from S3 failed: {0}")]
    S3(String),
    #[error(transparent)]
    App(#[from] AppError),
}

/// What an accepted upload became.
pub enum Submitted {
    Request { accepted: AcceptedRequest, created: bool },
    Profile { profile: StoredProfile, created: bool, warnings: Vec<Warning> },
}

pub struct S3Intake {
    client: Client,
    buckets: Vec<String>,
    max_bytes: u64,
}

impl S3Intake {
    pub fn new(client: Client, buckets: Vec<String>, max_bytes: u64) -> S3Intake {
        S3Intake { client, buckets, max_bytes }
    }

    /// Submits what the event names on behalf of `principal` (the caller of the intake).
    pub async fn submit(
        &self,
        app: &App,
        event: &Value,
        principal: &Principal,
    ) -> Result<(ObjectRef, Submitted), IntakeError> {
        let object = event::parse(event).map_err(AppError::from)?;
        if !self.buckets.contains(&object.bucket) {
            return Err(IntakeError::UnknownBucket(object.bucket));
        }
        if let Some(size) = object.size.filter(|s| *s > self.max_bytes) {
            return Err(IntakeError::TooLarge { size, limit: self.max_bytes });
        }
        let bytes = self.read(&object).await?;
        let mut document = parse_json(&bytes).map_err(AppError::from)?;
        let submitted = if is_request(&document) {
            let profile = take_profile_ref(&mut document)?;
            let (accepted, created) =
                app.submit_request_once(&request_id_for(&object), &document, profile, principal).await?;
            Submitted::Request { accepted, created }
        } else {
            let (profile, created, warnings) = app.submit_profile_as(document, principal).await?;
            Submitted::Profile { profile, created, warnings }
        };
        Ok((object, submitted))
    }

    /// The object's bytes, refusing more than the limit whatever the event said.
    async fn read(&self, object: &ObjectRef) -> Result<Vec<u8>, IntakeError> {
        let sent = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version_id.clone())
            .send()
            .await;
        let out = match sent {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
                return Err(IntakeError::UnknownObject(object.bucket.clone(), object.key.clone()));
            }
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
                return Err(IntakeError::UnknownObject(object.bucket.clone(), object.key.clone()));
            }
            Err(e) => return Err(IntakeError::S3(DisplayErrorContext(&e).to_string())),
        };
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        if size > self.max_bytes {
            return Err(IntakeError::TooLarge { size, limit: self.max_bytes });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        out.body
            .into_async_read()
            .take(self.max_bytes + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| IntakeError::S3(e.to_string()))?;
        if bytes.len() as u64 > self.max_bytes {
            return Err(IntakeError::TooLarge { size: bytes.len() as u64, limit: self.max_bytes });
        }
        Ok(bytes)
    }
}

/// A service request names services; anything else is read as a profile.
fn is_request(document: &Value) -> bool {
    document.get("services").is_some() || document.get("requestId").is_some()
}

/// A request id in UUID form derived from the object's identity.
pub fn request_id_for(object: &ObjectRef) -> String {
    use sha2::Digest;
    let h = hex::encode(&sha2::Sha256::digest(object.identity().as_bytes())[..16]);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}
