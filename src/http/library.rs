//! `/v1/library`: the controls the organisation adopted through approvals.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem};
use crate::app::{App, AppError};
use crate::library::{ApprovedBundle, ApprovedService, ArtifactVersion, ControlFilter, LibraryControl, Waiver};
use crate::store::now_ms;

/// A service's latest approved version in full. (The library's bundle flattens its
/// summary, whose `controls` is a count, next to the control list; the response
/// carries the list only, so no key appears twice.)
#[derive(Serialize, ToSchema)]
#[schema(as = ApprovedBundle)]
pub struct BundleResponse {
    pub profile_id: String,
    pub service_id: String,
    pub run_id: String,
    pub bundle_version: i64,
    pub profile_version: i64,
    pub reviewer: String,
    #[serde(with = "crate::library::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub approved_at: i64,
    /// Waivers that have not expired.
    pub waivers: Vec<Waiver>,
    pub controls: Vec<LibraryControl>,
    #[schema(value_type = Object)]
    pub iam_model: Value,
    /// File name → text (CloudFormation, Terraform, Guard rules, SCPs).
    pub templates: std::collections::BTreeMap<String, String>,
    pub artifacts: Vec<ArtifactVersion>,
}

impl From<ApprovedBundle> for BundleResponse {
    fn from(b: ApprovedBundle) -> BundleResponse {
        let s = b.service;
        BundleResponse {
            profile_id: s.profile_id,
            service_id: s.service_id,
            run_id: s.run_id,
            bundle_version: s.bundle_version,
            profile_version: s.profile_version,
            reviewer: s.reviewer,
            approved_at: s.approved_at,
            waivers: s.waivers,
            controls: b.controls,
            iam_model: b.iam_model,
            templates: b.templates,
            artifacts: b.artifacts,
        }
    }
}

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/services", get(services))
        .route("/services/{service_id}", get(service))
        .route("/controls", get(controls))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServicesQuery {
    /// Only this profile id
    pub profile: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    /// The profile id the service was approved for (required)
    #[param(required = true)]
    pub profile: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ControlsQuery {
    /// Canonical service id, e.g. `s3`
    pub service: Option<String>,
    /// A framework id the control maps to, e.g. `pci_dss_4.0` (case-insensitive)
    pub framework: Option<String>,
    /// data_protection, access, logging, network, resilience, …
    pub category: Option<String>,
    pub profile: Option<String>,
}

/// The latest approved version of every service, per profile, with the waivers in force.
#[utoipa::path(get, path = "/v1/library/services", tag = "library", operation_id = "listLibraryServices", params(ServicesQuery),
    responses((status = 200, body = Vec<ApprovedService>)))]
pub async fn services(
    State(app): State<Arc<App>>,
    Query(q): Query<ServicesQuery>,
) -> ApiResult<Json<Vec<ApprovedService>>> {
    Ok(Json(app.library.services(q.profile.as_deref(), now_ms()).await.map_err(AppError::from)?))
}

/// The approved controls, IAM model and templates of a service's latest approved version for a profile.
#[utoipa::path(get, path = "/v1/library/services/{service_id}", tag = "library", operation_id = "getLibraryService",
    params(("service_id" = String, Path), ServiceQuery),
    responses((status = 200, body = BundleResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn service(
    State(app): State<Arc<App>>,
    Path(service_id): Path<String>,
    Query(q): Query<ServiceQuery>,
) -> ApiResult<Json<BundleResponse>> {
    let Some(profile) = q.profile else {
        return Err(ApiError::BadRequest("the 'profile' query parameter is required".into()));
    };
    match app.library.service(&profile, &service_id, now_ms()).await.map_err(AppError::from)? {
        Some(bundle) => Ok(Json(bundle.into())),
        None => Err(ApiError::NotFound(format!("'{service_id}' has no approved version for profile '{profile}'"))),
    }
}

/// Approved controls across services (latest approved version of each), filtered.
#[utoipa::path(get, path = "/v1/library/controls", tag = "library", operation_id = "listLibraryControls", params(ControlsQuery),
    responses((status = 200, body = Vec<LibraryControl>)))]
pub async fn controls(
    State(app): State<Arc<App>>,
    Query(q): Query<ControlsQuery>,
) -> ApiResult<Json<Vec<LibraryControl>>> {
    let filter =
        ControlFilter { profile_id: q.profile, service_id: q.service, framework: q.framework, category: q.category };
    Ok(Json(app.library.controls(&filter, now_ms()).await.map_err(AppError::from)?))
}
