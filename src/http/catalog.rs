//! `/v1/catalog`: the facts bundles are built from, and name resolution.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, ApiResult, Problem, ProblemField};
use crate::app::App;
use crate::catalog::{
    Catalog, CfnResourceType, ConfigRule, Resolution, ResourceType, SecurityHubControl, ServiceIdentity, ServiceLinks,
};

pub fn router() -> Router<Arc<App>> {
    Router::new()
        .route("/", get(summary))
        .route("/services", get(services))
        .route("/services/{id}", get(service))
        .route("/resource-types/{type_name}", get(resource_type))
        .route("/config-rules", get(config_rules))
}

/// The catalog's version, sources and counts.
#[derive(Serialize, ToSchema)]
pub struct CatalogSummary {
    pub version: String,
    /// The pinned packages and files the facts were extracted from, as the manifest records them.
    #[schema(value_type = Vec<Object>)]
    pub sources: Vec<Value>,
    /// Number of facts of each kind (services, actions, resource types, …).
    pub counts: BTreeMap<String, usize>,
    pub terraform_provider: TerraformProvider,
    pub frameworks: Vec<FrameworkSummary>,
}

#[derive(Serialize, ToSchema)]
pub struct TerraformProvider {
    pub name: String,
    pub version: String,
}

/// One compliance framework and the edition the catalog uses.
#[derive(Serialize, ToSchema)]
pub struct FrameworkSummary {
    pub id: String,
    pub name: String,
    pub version: Option<String>,
    pub source_file: String,
    pub requirements: usize,
}

/// Catalog version, sources, counts, the Terraform provider version and the frameworks with their editions.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog", operation_id = "getCatalogSummary",
    responses((status = 200, body = CatalogSummary)))]
pub async fn summary(State(app): State<Arc<App>>) -> Json<CatalogSummary> {
    let c = &app.catalog;
    let frameworks = crate::input::Framework::ALL
        .iter()
        .filter_map(|f| c.framework(*f).map(|facts| (f, facts)))
        .map(|(f, facts)| FrameworkSummary {
            id: f.id().to_string(),
            name: facts.name.clone(),
            version: facts.version.clone(),
            source_file: facts.file.clone(),
            requirements: facts.requirement_count(),
        })
        .collect();
    Json(CatalogSummary {
        version: c.version().to_string(),
        sources: c.manifest.sources.clone(),
        counts: c.counts().into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        terraform_provider: TerraformProvider {
            name: c.terraform_provider().to_string(),
            version: c.terraform_provider_version().to_string(),
        },
        frameworks,
    })
}

/// 404 for a name that is not a canonical service id, with ranked suggestions.
fn unknown_service(c: &Catalog, id: &str, pointer: &str) -> Problem {
    let suggestions = c.suggest(&id.to_lowercase(), 5).into_iter().map(|s| s.id).collect();
    Problem {
        errors: vec![ProblemField {
            pointer: pointer.into(),
            detail: format!("'{id}' is not a canonical service id"),
            suggestions,
            line: None,
        }],
        ..Problem::new(axum::http::StatusCode::NOT_FOUND, "unknown-service", "no such service in the catalog")
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ServiceQuery {
    /// A service name as people write it; resolved exactly, else ranked suggestions.
    #[param(min_length = 1, max_length = 128)]
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
#[utoipa::path(get, path = "/v1/catalog/services", tag = "catalog", operation_id = "listCatalogServices", params(ServiceQuery),
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

/// Everything the catalog knows about one service.
#[derive(Serialize, ToSchema)]
pub struct CatalogService {
    pub catalog_version: String,
    pub service: ServiceIdentity,
    pub resource_types: BTreeMap<String, ResourceType>,
    /// Every access level is present; action names sorted.
    pub actions_by_access_level: BTreeMap<String, Vec<String>>,
    pub condition_keys: BTreeMap<String, String>,
    pub config_rules: Vec<ConfigRule>,
    pub security_hub_controls: Vec<SecurityHubControl>,
    pub links: ServiceLinks,
}

/// A service's identity (with Terraform prefixes), IAM resource types, actions by access level,
/// AWS Config managed rules, Security Hub controls, and its links with the basis of each.
#[utoipa::path(get, path = "/v1/catalog/services/{id}", tag = "catalog", operation_id = "getCatalogService",
    params(("id" = String, Path)),
    responses((status = 200, body = CatalogService), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn service(State(app): State<Arc<App>>, Path(id): Path<String>) -> Result<Json<CatalogService>, Problem> {
    let c = &app.catalog;
    let (Some(identity), Some(iam)) = (c.service(&id), c.iam(&id)) else {
        return Err(unknown_service(c, &id, "/id"));
    };
    let actions = iam.actions_by_access_level().into_iter();
    Ok(Json(CatalogService {
        catalog_version: c.version().to_string(),
        service: identity.clone(),
        resource_types: iam.resource_types.clone(),
        actions_by_access_level: actions
            .map(|(level, names)| (level.to_string(), names.into_iter().map(String::from).collect()))
            .collect(),
        condition_keys: iam.condition_keys.clone(),
        config_rules: c.config_rules_for_service(identity).into_iter().cloned().collect(),
        security_hub_controls: c.security_hub_controls_for_service(identity).into_iter().cloned().collect(),
        links: c.links(identity).clone(),
    }))
}

/// A CloudFormation resource type as the catalog holds it.
#[derive(Serialize, ToSchema)]
pub struct ResourceTypeFacts {
    pub catalog_version: String,
    pub type_name: String,
    pub schema: CfnResourceType,
}

/// A CloudFormation resource type's schema facts (property tree, identifiers, handler permissions).
#[utoipa::path(get, path = "/v1/catalog/resource-types/{type_name}", tag = "catalog", operation_id = "getResourceType",
    params(("type_name" = String, Path, example = "AWS::S3::Bucket")),
    responses((status = 200, body = ResourceTypeFacts), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn resource_type(
    State(app): State<Arc<App>>,
    Path(type_name): Path<String>,
) -> ApiResult<Json<ResourceTypeFacts>> {
    let c = &app.catalog;
    let Some(rt) = c.resource_type(&type_name) else {
        return Err(ApiError::NotFound(format!("'{type_name}' is not a CloudFormation resource type in the catalog")));
    };
    Ok(Json(ResourceTypeFacts { catalog_version: c.version().to_string(), type_name, schema: rt.clone() }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConfigRuleQuery {
    /// Canonical service id, e.g. `s3` (see `/v1/catalog/services?query=`).
    #[param(required = true, min_length = 1, max_length = 128)]
    pub service: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ConfigRuleList {
    pub catalog_version: String,
    pub service: String,
    /// Sorted by id.
    pub config_rules: Vec<ConfigRule>,
}

/// AWS Config managed rules that apply to a service, with the resource types each evaluates.
#[utoipa::path(get, path = "/v1/catalog/config-rules", tag = "catalog", operation_id = "listConfigRules", params(ConfigRuleQuery),
    responses((status = 200, body = ConfigRuleList),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn config_rules(
    State(app): State<Arc<App>>,
    query: Result<Query<ConfigRuleQuery>, QueryRejection>,
) -> Result<Json<ConfigRuleList>, Problem> {
    let c = &app.catalog;
    let Query(q) = query.map_err(|e| Problem::from(ApiError::BadRequest(e.body_text())))?;
    let service = match q.service.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() && s.len() <= 128 => s.to_string(),
        _ => {
            return Err(ApiError::BadRequest(
                "query parameter 'service' must be a service id of 1 to 128 characters".into(),
            )
            .into());
        }
    };
    let identity = c.service(&service).ok_or_else(|| unknown_service(c, &service, "/service"))?;
    Ok(Json(ConfigRuleList {
        catalog_version: c.version().to_string(),
        service: identity.id.clone(),
        config_rules: c.config_rules_for_service(identity).into_iter().cloned().collect(),
    }))
}
