//! `/v1/requests`: a service request fans out to one run per service.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::JsonBody;
use crate::app::{AcceptedRequest, App, ProfileRef};
use crate::auth::Principal;

/// The body of a service request (documentation only: the handler validates the raw
/// JSON so every bad field is named by its pointer). Give `profile_id` or `profile`.
#[derive(ToSchema)]
#[schema(as = ServiceRequestBody)]
#[allow(dead_code, non_snake_case)]
pub struct RequestBody {
    /// 1–128 characters, no control characters.
    #[schema(min_length = 1, max_length = 128)]
    requestId: String,
    #[schema(max_length = 128)]
    serviceId: Option<String>,
    /// RFC 3339 date-time.
    timestamp: Option<String>,
    requestor: Option<Requestor>,
    #[schema(min_items = 1, max_items = 50)]
    services: Vec<RequestedService>,
    /// A stored profile's id (instead of `profile`).
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    profile_id: Option<String>,
    /// Pins a stored version of `profile_id`; the latest when absent.
    #[schema(minimum = 1)]
    profile_version: Option<i64>,
    /// A profile embedded in the request (instead of `profile_id`).
    profile: Option<super::profiles::ProfileBody>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Requestor {
    #[schema(max_length = 256)]
    id: Option<String>,
    #[schema(max_length = 256)]
    role: Option<String>,
    #[schema(max_length = 256)]
    team: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct RequestedService {
    /// An AWS service name, id or alias, e.g. `Amazon S3` or `s3`.
    #[schema(min_length = 1, max_length = 128)]
    serviceName: String,
}

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/", post(create))
}

/// Submit a service request. The body is the reference request format plus
/// either `profile_id` (and optional `profile_version`) or an embedded `profile`.
/// Runs are committed before the 202 is sent.
#[utoipa::path(post, path = "/v1/requests", tag = "requests", operation_id = "createRequest",
    request_body(content = RequestBody, content_type = "application/json",
        description = "Service request with profile_id [+ profile_version] or an embedded profile"),
    responses(
        (status = 202, description = "Runs queued; Location names the first run", body = AcceptedRequest),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown profile", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown services", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    JsonBody(mut body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    let profile = profile_ref(&mut body)?;
    let accepted: AcceptedRequest = app.submit_request_as(&body, profile, &principal).await?;
    let location = accepted.runs.first().map(|r| format!("/v1/runs/{}", r.run_id)).unwrap_or_default();
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], Json(accepted)))
}

/// Takes the profile reference out of the body, leaving the verbatim request; the one
/// parser is [`crate::app::take_profile_ref`], shared with the S3 intake.
fn profile_ref(body: &mut Value) -> Result<ProfileRef, ApiError> {
    crate::app::take_profile_ref(body).map_err(ApiError::from)
}
