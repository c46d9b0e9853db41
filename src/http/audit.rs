//! `/v1/audit`: the audit log of mutating calls, for admins.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query, State};
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem};
use crate::app::{App, AppError};
use crate::store::AuditEntry;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Opaque cursor from the previous page's `next_cursor`
    #[param(min_length = 1)]
    pub cursor: Option<String>,
    /// 1–500, default 100
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub next_cursor: Option<String>,
}

/// Mutating calls, oldest first: principal, action, target, time, status, request id.
#[utoipa::path(get, path = "/v1/audit", tag = "audit", operation_id = "listAudit", params(AuditQuery),
    responses((status = 200, body = AuditPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(app): State<Arc<App>>, Query(q): Query<AuditQuery>) -> ApiResult<Json<AuditPage>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest("limit must be from 1 to 500".into()));
    }
    let after = match &q.cursor {
        Some(c) => Some(decode(c).ok_or_else(|| ApiError::BadRequest("cursor is not valid".into()))?),
        None => None,
    };
    let mut entries = app.store.audit(after, limit + 1).await.map_err(AppError::from)?;
    let next_cursor = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}:{}", e.at, e.id)))
    } else {
        None
    };
    Ok(Json(AuditPage { entries, next_cursor }))
}

fn decode(cursor: &str) -> Option<(i64, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let (at, id) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    crate::app::is_lookup_key(id).then(|| Some((at.parse().ok()?, id.to_string())))?
}
