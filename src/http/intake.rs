//! `/v1/intake/s3-event`: an S3 "Object Created" event (EventBridge format) names an
//! uploaded profile or service request, which is read from S3 and submitted.
//! The intake is configured by the server (`SECCFG_INTAKE_BUCKETS`) and reaches the
//! handler as an extension; without it the endpoint answers 404.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::JsonBody;
use crate::app::App;
use crate::auth::Principal;
use crate::intake::{IntakeError, S3Intake, Submitted};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/s3-event", post(s3_event))
}

/// The object an accepted event named.
#[derive(Serialize, ToSchema)]
pub struct IntakeSource {
    pub bucket: String,
    pub key: String,
    pub version_id: Option<String>,
}

/// What the upload became: a request with its runs, or a stored profile version.
#[derive(Serialize, ToSchema)]
pub struct IntakeResponse {
    /// `request` or `profile`
    pub kind: &'static str,
    /// False when this object version was already submitted: nothing new was created.
    pub created: bool,
    pub source: IntakeSource,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<crate::app::AcceptedRequest>,
    #[schema(value_type = Option<Object>)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<serde_json::Value>,
}

/// Submit the profile or service request an S3 upload event names. The object is read
/// with the S3 client and validated exactly like `POST /v1/requests` / `POST /v1/profiles`.
#[utoipa::path(post, path = "/v1/intake/s3-event", tag = "intake", operation_id = "intakeS3Event",
    request_body(content = Object, content_type = "application/json",
        description = "EventBridge event: source aws.s3, detail-type Object Created, detail.bucket.name, detail.object.key [version-id, etag, size]"),
    responses(
        (status = 202, description = "A new request: runs queued; Location names the first run", body = IntakeResponse),
        (status = 201, description = "A new profile version", body = IntakeResponse),
        (status = 200, description = "This object version was already submitted; nothing new was created", body = IntakeResponse),
        (status = 400, description = "The object is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Intake not configured", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The object is larger than the intake limit", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid event, unknown bucket or object, invalid document", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "S3 could not be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn s3_event(
    State(app): State<Arc<App>>,
    intake: Option<Extension<Arc<S3Intake>>>,
    principal: Principal,
    JsonBody(event): JsonBody,
) -> ApiResult<Response> {
    let Some(Extension(intake)) = intake else {
        return Err(ApiError::Intake(IntakeError::NotConfigured));
    };
    let (object, submitted) = intake.submit(&app, &event, &principal).await.map_err(ApiError::Intake)?;
    let source = IntakeSource { bucket: object.bucket, key: object.key, version_id: object.version_id };
    Ok(match submitted {
        Submitted::Request { accepted, created } => {
            let location = accepted.runs.first().map(|r| format!("/v1/runs/{}", r.run_id)).unwrap_or_default();
            let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
            let body = IntakeResponse { kind: "request", created, source, request: Some(accepted), profile: None };
            (status, [(header::LOCATION, location)], Json(body)).into_response()
        }
        Submitted::Profile { profile, created, warnings } => {
            let location = format!("/v1/profiles/{}/versions/{}", profile.profile_id, profile.version);
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            let doc = serde_json::json!({ "profile_id": profile.profile_id, "version": profile.version,
                "content_hash": profile.content_hash, "warnings": warnings });
            let body = IntakeResponse { kind: "profile", created, source, request: None, profile: Some(doc) };
            (status, [(header::LOCATION, location)], Json(body)).into_response()
        }
    })
}
