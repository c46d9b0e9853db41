//! Authentication and authorisation as one router-level layer: every route's
//! required role comes from [`ROUTES`] (unlisted reads need `reader`, unlisted
//! writes need `admin`, so a new endpoint is never open by accident), and every
//! mutating call is written to the audit log with its principal and request id.
//!
//! The check runs before the handler, so a 401 or 403 never says whether the
//! addressed resource exists.

use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::auth::{AuthError, Authenticator, Principal, Role};
use crate::store::{AuditEntry, Store, now_ms};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Public,
    Needs(Role),
}

/// Routes whose access differs from the default (reads → reader, writes → admin).
pub const ROUTES: &[(Method, &str, Access)] = &[
    (Method::GET, "/healthz", Access::Public),
    (Method::GET, "/readyz", Access::Public),
    (Method::GET, "/metrics", Access::Public),
    (Method::POST, "/v1/profiles", Access::Needs(Role::Submitter)),
    (Method::POST, "/v1/requests", Access::Needs(Role::Submitter)),
    (Method::POST, "/v1/intake/s3-event", Access::Needs(Role::Submitter)),
    (Method::POST, "/v1/runs/{run_id}/retry", Access::Needs(Role::Submitter)),
    (Method::POST, "/v1/runs/{run_id}/approval", Access::Needs(Role::Approver)),
    (Method::GET, "/v1/audit", Access::Needs(Role::Admin)),
    // The CI gate changes nothing and reveals only what GET /v1/library shows a reader.
    (Method::POST, "/v1/checks", Access::Needs(Role::Reader)),
];

pub fn access(method: &Method, route: &str) -> Access {
    ROUTES.iter().find(|(m, r, _)| m == method && *r == route).map(|(_, _, a)| *a).unwrap_or(
        if matches!(*method, Method::GET | Method::HEAD) {
            Access::Needs(Role::Reader)
        } else {
            Access::Needs(Role::Admin)
        },
    )
}

pub struct AuthState {
    pub authenticator: Authenticator,
    pub store: Arc<dyn Store>,
}

/// The layer: authenticate, authorise against [`ROUTES`], run, audit.
pub async fn authorize(
    State(auth): State<Arc<AuthState>>,
    matched: Option<MatchedPath>,
    mut request: Request,
    next: Next,
) -> Response {
    let route = matched.as_ref().map_or_else(|| request.uri().path().to_string(), |m| m.as_str().to_string());
    let access = access(request.method(), &route);
    let credential = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let principal = match (access, auth.authenticator.authenticate(credential).await) {
        (_, Ok(principal)) => principal,
        (Access::Public, Err(_)) => Principal { name: "public".into(), roles: Vec::new() },
        (_, Err(AuthError::Store(e))) => return ApiError::App(crate::app::AppError::Store(e)).into_response(),
        (_, Err(_)) => {
            let mut response = ApiError::Unauthorized.into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    };
    let mutating = !matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let action = format!("{} {route}", request.method());
    let target = request.uri().path().to_string();
    let request_id =
        request.headers().get(super::REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    if access != Access::Public
        && let Err(wait) = auth.authenticator.admit(&principal)
    {
        let mut response = ApiError::TooManyRequests.into_response();
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        return response;
    }
    let response = match access {
        Access::Needs(role) if !principal.has(role) => ApiError::Forbidden(role.as_str()).into_response(),
        _ => {
            request.extensions_mut().insert(principal.clone());
            next.run(request).await
        }
    };
    if mutating {
        let entry = AuditEntry {
            id: uuid::Uuid::new_v4().to_string(),
            at: now_ms(),
            principal: principal.name,
            action,
            target,
            status: i64::from(response.status().as_u16()),
            request_id,
        };
        if let Err(e) = auth.store.record_audit(&entry).await {
            tracing::error!(error = %e, action = %entry.action, "audit record failed");
        }
    }
    response
}

/// Handlers take the caller as an argument; without the layer there is no caller.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Principal>().cloned().ok_or(ApiError::Unauthorized)
    }
}

/// Documents the bearer scheme, and 401/403 on every operation that needs a role
/// (public operations declare no security requirement).
pub struct DocumentAuth;

impl utoipa::Modify for DocumentAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("An API key from `seccfg keys create` (when SECCFG_AUTH=required)"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("api_key", SecurityScheme::Http(scheme));
        openapi.security = Some(vec![SecurityRequirement::new("api_key", Vec::<String>::new())]);
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (Method::GET, &mut item.get),
                (Method::POST, &mut item.post),
                (Method::PUT, &mut item.put),
                (Method::DELETE, &mut item.delete),
                (Method::PATCH, &mut item.patch),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation.as_mut() else { continue };
                if access(&method, path) == Access::Public {
                    operation.security = Some(vec![SecurityRequirement::default()]);
                    continue;
                }
                let responses = &mut operation.responses.responses;
                responses.entry("401".into()).or_insert_with(|| problem("No valid credential").into());
                responses
                    .entry("403".into())
                    .or_insert_with(|| problem("The credential lacks the role this call needs").into());
                responses.entry("429".into()).or_insert_with(|| {
                    problem("Over this principal's rate limit; retry after Retry-After seconds").into()
                });
            }
        }
    }
}
