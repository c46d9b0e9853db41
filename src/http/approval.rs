//! `/v1/runs/{run_id}/approval`: a reviewer's decision on a bundle version.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiResult, Problem};
use super::extract::JsonBody;
use crate::app::{App, AppError};
use crate::auth::Principal;
use crate::input::Warning;
use crate::library::{DecisionRecord, Verdict};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/{run_id}/approval", post(decide).get(decision))
}

/// The body of a decision (documentation only: the handler validates the raw
/// JSON so every bad field is named by its pointer).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct ApprovalBody {
    pub decision: Verdict,
    /// Who decides. With authentication on, the authenticated principal is recorded:
    /// omit this, or give exactly that principal's name (anything else is 422).
    /// Required without authentication.
    pub reviewer: Option<String>,
    pub comment: Option<String>,
    /// Controls of this bundle that need not be applied until `expires_at`
    /// (an RFC 3339 date-time or a date, in the future). Approvals only.
    #[serde(default)]
    pub waivers: Vec<WaiverBody>,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct WaiverBody {
    pub control_id: String,
    pub reason: String,
    pub expires_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct DecisionResponse {
    #[serde(flatten)]
    pub decision: DecisionRecord,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Approve or reject a succeeded run, once. An approval copies the bundle's
/// controls, IAM model and templates into the control library.
#[utoipa::path(post, path = "/v1/runs/{run_id}/approval", tag = "approval", operation_id = "decideRun", params(("run_id" = String, Path)),
    request_body = ApprovalBody,
    responses((status = 201, body = DecisionResponse),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The run is not succeeded, or already decided", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, a past expiry, or a waiver for a control the bundle does not have", body = Problem, content_type = "application/problem+json")))]
pub async fn decide(
    State(app): State<Arc<App>>,
    Path(run_id): Path<String>,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    let authenticated = (!principal.is_anonymous()).then_some(principal.name.as_str());
    let (decision, warnings) = app.decide(&run_id, &body, authenticated).await?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/v1/runs/{run_id}/approval"))],
        Json(DecisionResponse { decision, warnings }),
    ))
}

/// The decision recorded on a run.
#[utoipa::path(get, path = "/v1/runs/{run_id}/approval", tag = "approval", operation_id = "getDecision", params(("run_id" = String, Path)),
    responses((status = 200, body = DecisionRecord),
        (status = 404, description = "No such run, or not decided yet", body = Problem, content_type = "application/problem+json")))]
pub async fn decision(State(app): State<Arc<App>>, Path(run_id): Path<String>) -> ApiResult<Json<DecisionRecord>> {
    if app.store.run(&run_id).await.map_err(AppError::from)?.is_none() {
        return Err(AppError::RunNotFound(run_id).into());
    }
    match app.library.decision(&run_id).await.map_err(AppError::from)? {
        Some(d) => Ok(Json(d)),
        None => Err(ApiError::NotFound(format!("run '{run_id}' has no decision yet"))),
    }
}
