//! `/v1/runs/{run_id}/diff`: what changed between two bundle versions of a service.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::{ApiError, ApiResult, Problem};
use crate::app::App;

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/{run_id}/diff", get(diff))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// `previous` (the previous succeeded version, the default) or a run id of the same service
    pub against: Option<String>,
    /// `json` (default) or `markdown`
    #[param(value_type = Option<DiffFormat>)]
    pub format: Option<String>,
}

/// Documentation of the `format` parameter.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum DiffFormat {
    Json,
    Markdown,
}

/// Compare a succeeded run with its previous succeeded version or another run of the same service:
/// controls, templates, IAM per persona, SCP and Guard statements, framework coverage, and the
/// profile fields that caused them.
#[utoipa::path(get, path = "/v1/runs/{run_id}/diff", tag = "runs", operation_id = "diffRun", params(("run_id" = String, Path), DiffQuery),
    responses((status = 200, description = "The diff (JSON, or Markdown with format=markdown)",
            content((crate::diff::BundleDiff = "application/json"), (String = "text/markdown; charset=utf-8"))),
        (status = 400, description = "format is not json or markdown", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such run, or no previous succeeded version", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A run is not succeeded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The runs are for different services", body = Problem, content_type = "application/problem+json")))]
pub async fn diff(
    State(app): State<Arc<App>>,
    Path(run_id): Path<String>,
    Query(q): Query<DiffQuery>,
) -> ApiResult<Response> {
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "markdown"].contains(&format) {
        return Err(ApiError::BadRequest("format must be 'json' or 'markdown'".into()));
    }
    let d = app.diff(&run_id, q.against.as_deref().unwrap_or("previous")).await?;
    Ok(if format == "markdown" {
        ([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], d.markdown()).into_response()
    } else {
        Json(d).into_response()
    })
}
