//! `/v1/profiles`: versioned security profiles.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::error::{ApiResult, Problem};
use super::extract::JsonBody;
use crate::app::App;
use crate::auth::Principal;
use crate::input::Warning;
use crate::store::StoredProfile;

#[derive(Serialize, ToSchema)]
pub struct ProfileResponse {
    pub profile_id: String,
    pub version: i64,
    pub content_hash: String,
    /// Milliseconds since the Unix epoch.
    pub created_at: i64,
    /// False when identical content was already stored as this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// The profile as submitted.
    #[schema(value_type = Object)]
    pub document: Value,
}

impl ProfileResponse {
    fn new(p: StoredProfile, created: Option<bool>, warnings: Vec<Warning>) -> ProfileResponse {
        let document = serde_json::from_str(&p.document).unwrap_or(Value::Null);
        ProfileResponse {
            profile_id: p.profile_id,
            version: p.version,
            content_hash: p.content_hash,
            created_at: p.created_at,
            created,
            warnings,
            document,
        }
    }
}

/// A security profile in the reference format (documentation only: the handler validates
/// the raw JSON so every bad field is named by its pointer; docs/INPUTS.md has every field).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ProfileBody {
    #[schema(min_length = 1, max_length = 128, pattern = "^[A-Za-z0-9._-]+$")]
    profile_id: String,
    #[schema(value_type = Option<Object>)]
    organization_details: Option<Value>,
    #[schema(value_type = Option<Object>)]
    security_operations: Option<Value>,
    #[schema(value_type = Option<Object>)]
    security_controls: Option<Value>,
    #[schema(value_type = Option<Object>)]
    security_requirements: Option<Value>,
    #[schema(value_type = Option<Object>)]
    compliance_requirements: Option<Value>,
    #[schema(value_type = Option<Object>)]
    threat_model: Option<Value>,
}

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", post(create))
        .route("/{profile_id}", get(latest))
        .route("/{profile_id}/versions/{version}", get(version))
}

/// Submit a security profile. Same content → same version; new content → next version.
#[utoipa::path(post, path = "/v1/profiles", tag = "profiles", operation_id = "createProfile",
    request_body(content = ProfileBody, description = "Security profile in the reference format", content_type = "application/json"),
    responses(
        (status = 201, description = "New version stored", body = ProfileResponse),
        (status = 200, description = "Identical content: existing version", body = ProfileResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(app): State<Arc<App>>,
    principal: Principal,
    JsonBody(doc): JsonBody,
) -> ApiResult<impl IntoResponse> {
    let (stored, created, warnings) = app.submit_profile_as(doc, &principal).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let location = format!("/v1/profiles/{}/versions/{}", stored.profile_id, stored.version);
    Ok((status, [(header::LOCATION, location)], Json(ProfileResponse::new(stored, Some(created), warnings))))
}

/// The latest version of a profile.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}", tag = "profiles", operation_id = "getProfile",
    params(("profile_id" = String, Path)),
    responses((status = 200, body = ProfileResponse), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn latest(State(app): State<Arc<App>>, Path(profile_id): Path<String>) -> ApiResult<Json<ProfileResponse>> {
    let stored = app.profile(&profile_id, None).await?;
    Ok(Json(ProfileResponse::new(stored, None, Vec::new())))
}

/// One version of a profile.
#[utoipa::path(get, path = "/v1/profiles/{profile_id}/versions/{version}", tag = "profiles", operation_id = "getProfileVersion",
    params(("profile_id" = String, Path), ("version" = i64, Path, minimum = 1)),
    responses((status = 200, body = ProfileResponse), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn version(
    State(app): State<Arc<App>>,
    Path((profile_id, version)): Path<(String, i64)>,
) -> ApiResult<Json<ProfileResponse>> {
    let stored = app.profile(&profile_id, Some(version)).await?;
    Ok(Json(ProfileResponse::new(stored, None, Vec::new())))
}
