//! `/v1/requests`: a service request fans out to one run per service.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::JsonBody;
use crate::app::{AcceptedRequest, App, ProfileRef};
use crate::auth::Principal;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/", post(create))
}

/// Submit a service request. The body is the reference request format plus
/// either `profile_id` (and optional `profile_version`) or an embedded `profile`.
/// Runs are committed before the 202 is sent.
#[utoipa::path(post, path = "/v1/requests", tag = "requests",
    request_body(content = Object, content_type = "application/json",
        description = "Service request (requestId, services[].serviceName, …) with profile_id [+ profile_version] or profile"),
    responses(
        (status = 202, description = "Runs queued; Location names the first run", body = Object),
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
