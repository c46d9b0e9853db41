//! `/v1/runs`: run status, retry and artifacts.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem};
use crate::app::{App, AppError, is_lookup_key};
use crate::store::{ArtifactInfo, BundleRef, RunFilter, RunRecord};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(list))
        .route("/{run_id}", get(show))
        .route("/{run_id}/retry", post(retry))
        .route("/{run_id}/artifacts", get(artifacts))
        .route("/{run_id}/artifacts/{name}", get(artifact))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// queued, running, succeeded or failed
    #[param(value_type = Option<RunStatus>)]
    pub status: Option<String>,
    /// Canonical service id, e.g. `s3`
    pub service: Option<String>,
    pub profile: Option<String>,
    /// Opaque cursor from the previous page's `next_cursor`
    #[param(min_length = 1)]
    pub cursor: Option<String>,
    /// 1–200, default 50
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct RunPage {
    pub runs: Vec<RunRecord>,
    pub next_cursor: Option<String>,
}

/// A run's status (documentation of the `status` filter).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

const STATUSES: [&str; 4] = ["queued", "running", "succeeded", "failed"];

fn decode_cursor(cursor: &str) -> Option<(i64, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (ts, id) = text.split_once(':')?;
    if !is_lookup_key(id) {
        return None;
    }
    Some((ts.parse().ok()?, id.to_string()))
}

fn encode_cursor(run: &RunRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{}", run.created_at, run.id))
}

/// List runs, oldest first, with cursor pagination.
#[utoipa::path(get, path = "/v1/runs", tag = "runs", operation_id = "listRuns", params(ListQuery),
    responses((status = 200, body = RunPage), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(app): State<Arc<App>>, Query(q): Query<ListQuery>) -> ApiResult<Json<RunPage>> {
    if let Some(s) = &q.status
        && !STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::BadRequest(format!("status must be one of {}", STATUSES.join(", "))));
    }
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be from 1 to 200".into()));
    }
    let after = match &q.cursor {
        Some(c) => Some(decode_cursor(c).ok_or_else(|| ApiError::BadRequest("cursor is not valid".into()))?),
        None => None,
    };
    // A filter value no stored row can hold matches nothing.
    if [&q.service, &q.profile].into_iter().flatten().any(|v| !is_lookup_key(v)) {
        return Ok(Json(RunPage { runs: Vec::new(), next_cursor: None }));
    }
    let filter = RunFilter { status: q.status, service_id: q.service, profile_id: q.profile, after, limit: limit + 1 };
    let mut runs = app.store.runs(&filter).await.map_err(AppError::from)?;
    let next_cursor = if runs.len() as i64 > limit {
        runs.truncate(limit as usize);
        runs.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(RunPage { runs, next_cursor }))
}

async fn find(app: &App, run_id: &str) -> ApiResult<RunRecord> {
    if !is_lookup_key(run_id) {
        return Err(AppError::RunNotFound(run_id.escape_default().to_string()).into());
    }
    match app.store.run(run_id).await.map_err(AppError::from)? {
        Some(run) => Ok(run),
        None => Err(AppError::RunNotFound(run_id.into()).into()),
    }
}

/// A run as `GET /v1/runs/{run_id}` shows it: the record, and the advisor's token
/// usage when the run has an `advise` stage that finished.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    #[serde(flatten)]
    pub run: RunRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisor: Option<crate::app::RunAdvisor>,
}

/// A run with every stage's status, attempts, timings and error, and the advisor's
/// token usage when a model was asked.
#[utoipa::path(get, path = "/v1/runs/{run_id}", tag = "runs", operation_id = "getRun", params(("run_id" = String, Path)),
    responses((status = 200, body = RunView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn show(State(app): State<Arc<App>>, Path(run_id): Path<String>) -> ApiResult<Json<RunView>> {
    let run = find(&app, &run_id).await?;
    let advisor = app.run_advisor(&run).await?;
    Ok(Json(RunView { run, advisor }))
}

/// Resume a failed run from its failed stage.
#[utoipa::path(post, path = "/v1/runs/{run_id}/retry", tag = "runs", operation_id = "retryRun", params(("run_id" = String, Path)),
    responses((status = 202, description = "Retry queued; Location names the run", body = RunRecord), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Run is not failed", body = Problem, content_type = "application/problem+json")))]
pub async fn retry(State(app): State<Arc<App>>, Path(run_id): Path<String>) -> ApiResult<impl IntoResponse> {
    app.retry_run(&run_id).await?;
    let run = find(&app, &run_id).await?;
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, format!("/v1/runs/{run_id}"))], Json(run)))
}

/// The run's artifacts with their content types.
#[utoipa::path(get, path = "/v1/runs/{run_id}/artifacts", tag = "runs", operation_id = "listArtifacts", params(("run_id" = String, Path)),
    responses((status = 200, body = Vec<ArtifactInfo>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn artifacts(State(app): State<Arc<App>>, Path(run_id): Path<String>) -> ApiResult<Json<Vec<ArtifactInfo>>> {
    let run = find(&app, &run_id).await?;
    Ok(Json(app.artifacts.list(&BundleRef::from(&run)).await.map_err(AppError::from)?))
}

/// One artifact, served with its content type (JSON, YAML, HCL, Markdown).
#[utoipa::path(get, path = "/v1/runs/{run_id}/artifacts/{name}", tag = "runs", operation_id = "getArtifact",
    params(("run_id" = String, Path), ("name" = String, Path)),
    responses((status = 200, description = "The artifact's bytes, with the content type listed for it by listArtifacts"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn artifact(
    State(app): State<Arc<App>>,
    Path((run_id, name)): Path<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let run = find(&app, &run_id).await?;
    let Some((info, body)) = app.artifacts.get(&BundleRef::from(&run), &name).await.map_err(AppError::from)? else {
        return Err(ApiError::NotFound(format!("run '{run_id}' has no artifact '{name}'")));
    };
    // Streamed from the store: a large file never sits in memory whole.
    Ok((
        [(header::CONTENT_TYPE, info.content_type), (header::CONTENT_LENGTH, info.size.to_string())],
        axum::body::Body::from_stream(body),
    ))
}
