//! `/v1/catalog`: the facts bundles are built from, and name resolution.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem, ProblemField};
use crate::app::App;
use crate::catalog::Resolution;

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(summary))
        .route("/services", get(services))
        .route("/services/{id}", get(service))
        .route("/resource-types/{type_name}", get(resource_type))
}

/// Catalog version, sources and counts.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog", responses((status = 200, body = Object)))]
pub async fn summary(State(app): State<Arc<App>>) -> Json<Value> {
    let c = &app.catalog;
    Json(json!({ "version": c.version(), "sources": c.manifest.sources, "counts": c.counts() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    /// A service name as people write it; resolved exactly, else ranked suggestions.
    pub query: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceMatch {
    pub id: String,
    pub display_names: Vec<String>,
    /// "exact" for a resolved name, else a similarity score from 0 to 1.
    pub matched: String,
}

/// List services, or resolve `query` to one (or to suggestions when it does not resolve).
#[utoipa::path(get, path = "/v1/catalog/services", tag = "catalog", params(ServiceQuery),
    responses((status = 200, body = Vec<ServiceMatch>), (status = 400, body = Problem, content_type = "application/problem+json")))]
pub async fn services(
    State(app): State<Arc<App>>,
    Query(q): Query<ServiceQuery>,
) -> ApiResult<Json<Vec<ServiceMatch>>> {
    let c = &app.catalog;
    let describe = |id: &str, matched: String| ServiceMatch {
        id: id.to_string(),
        display_names: c.service(id).map(|s| s.display_names.clone()).unwrap_or_default(),
        matched,
    };
    let Some(query) = q.query else {
        return Ok(Json(c.services().map(|s| describe(&s.id, "listed".into())).collect()));
    };
    if query.trim().is_empty() || query.len() > 128 {
        return Err(ApiError::BadRequest("query must be 1 to 128 characters".into()));
    }
    Ok(Json(match c.resolve(&query) {
        Resolution::Resolved(id) => vec![describe(&id, "exact".into())],
        Resolution::Ambiguous(ids) => ids.iter().map(|id| describe(id, "ambiguous".into())).collect(),
        Resolution::Unknown(s) => s.iter().map(|s| describe(&s.id, format!("{}", s.score))).collect(),
    }))
}

/// A service's identity, resource types and actions by access level.
#[utoipa::path(get, path = "/v1/catalog/services/{id}", tag = "catalog", params(("id" = String, Path)),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn service(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<Value>, Problem> {
    let c = &app.catalog;
    let (Some(identity), Some(iam)) = (c.service(&id), c.iam(&id)) else {
        let suggestions = c.suggest(&id.to_lowercase(), 5).into_iter().map(|s| s.id).collect();
        return Err(Problem {
            errors: vec![ProblemField {
                pointer: "/id".into(),
                detail: format!("'{id}' is not a canonical service id"),
                suggestions,
            }],
            ..Problem::new(axum::http::StatusCode::NOT_FOUND, "unknown-service", "no such service in the catalog")
        });
    };
    Ok(Json(json!({
        "catalog_version": c.version(),
        "service": identity,
        "resource_types": iam.resource_types,
        "actions_by_access_level": iam.actions_by_access_level(),
        "condition_keys": iam.condition_keys,
    })))
}

/// A CloudFormation resource type's schema facts (property tree, identifiers, handler permissions).
#[utoipa::path(get, path = "/v1/catalog/resource-types/{type_name}", tag = "catalog",
    params(("type_name" = String, Path, example = "AWS::S3::Bucket")),
    responses((status = 200, body = Object), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn resource_type(State(app): State<Arc<App>>, Path(type_name): Path<String>) -> ApiResult<Json<Value>> {
    let c = &app.catalog;
    let Some(rt) = c.resource_type(&type_name) else {
        return Err(ApiError::NotFound(format!("'{type_name}' is not a CloudFormation resource type in the catalog")));
    };
    Ok(Json(json!({ "catalog_version": c.version(), "type_name": type_name, "schema": rt })))
}
