//! The HTTP API: a thin layer over [`App`]. One router per resource, composed
//! with `nest`; every error leaves through [`error::Problem`].

mod approval;
mod audit;
pub mod auth;
mod catalog;
mod checks;
pub mod contract;
mod diff;
pub mod error;
mod extract;
mod health;
mod idempotency;
mod intake;
mod library;
mod metrics;
mod profiles;
mod requests;
mod runs;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

use crate::app::App;
use auth::DocumentAuth;
use contract::DocumentContract;
use error::{ApiError, Problem};
use idempotency::DocumentIdempotency;

#[derive(OpenApi)]
#[openapi(
    info(title = "seccfg", description = "Security profile + service request in, verified AWS security bundle out."),
    paths(
        health::healthz, health::readyz, metrics::scrape,
        profiles::create, profiles::latest, profiles::version,
        requests::create,
        intake::s3_event,
        runs::list, runs::show, runs::retry, runs::artifacts, runs::artifact,
        catalog::summary, catalog::services, catalog::service, catalog::resource_type, catalog::config_rules,
        approval::decide, approval::decision, diff::diff,
        library::services, library::service, library::controls,
        audit::list,
        checks::check,
    ),
    components(schemas(Problem, error::ProblemField, health::Health, profiles::ProfileResponse, runs::RunPage, catalog::ServiceMatch,
        crate::store::RunRecord, crate::store::StageRecord, crate::store::ArtifactInfo, crate::app::AcceptedRequest,
        intake::IntakeResponse, intake::IntakeSource,
        catalog::ConfigRuleList, crate::catalog::ConfigRule, crate::catalog::SecurityHubControl,
        approval::ApprovalBody, approval::WaiverBody, approval::DecisionResponse, crate::library::DecisionRecord,
        crate::library::Waiver, crate::library::Verdict, crate::library::ApprovedService, library::BundleResponse, runs::RunStatus, diff::DiffFormat,
        crate::library::LibraryControl, crate::library::ApprovedControl, crate::library::ArtifactVersion,
        audit::AuditPage, crate::store::AuditEntry,
        crate::gate::library::CheckRequest, crate::gate::Report, crate::gate::report::Summary, crate::gate::report::RuleSource,
        crate::gate::InputReport, crate::gate::Finding, crate::gate::report::PathResult, crate::gate::report::NotApproved,
        crate::gate::Outcome, crate::gate::Verdict)),
    modifiers(&DocumentAuth, &DocumentIdempotency, &DocumentContract),
    tags((name = "profiles"), (name = "requests"), (name = "runs"), (name = "intake"), (name = "catalog"), (name = "approval"), (name = "library"), (name = "audit"), (name = "checks"), (name = "health"))
)]
pub struct ApiDoc;

/// The OpenAPI 3.1 document as utoipa builds it.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The OpenAPI 3.1 document as served at `/openapi.json` and committed.
pub fn openapi_document() -> serde_json::Value {
    let mut doc = serde_json::to_value(openapi()).expect("the OpenAPI document serialises");
    contract::fix_link_keys(&mut doc);
    doc
}

#[derive(Clone, Copy)]
struct BodyLimit(usize);

fn body_limit(extensions: &axum::http::Extensions) -> usize {
    extensions.get::<BodyLimit>().map_or(0, |b| b.0)
}

pub struct HttpConfig {
    pub body_limit: usize,
    pub request_timeout: Duration,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API without authentication: every caller is the anonymous admin.
pub fn router(app: Arc<App>, config: &HttpConfig) -> Router {
    router_with_auth(app, config, crate::auth::Authenticator::none())
}

/// The API with `authenticator` deciding who calls; roles per route in [`auth::ROUTES`].
pub fn router_with_auth(app: Arc<App>, config: &HttpConfig, authenticator: crate::auth::Authenticator) -> Router {
    let auth_state = Arc::new(auth::AuthState { authenticator, store: app.store.clone() });
    let api = Router::new()
        .route("/v1/audit", get(audit::list))
        .nest("/v1/profiles", profiles::router())
        .nest("/v1/requests", requests::router())
        .nest("/v1/runs", runs::router().merge(approval::router()).merge(diff::router()))
        .nest("/v1/intake", intake::router())
        .nest("/v1/library", library::router())
        .nest("/v1/catalog", catalog::router())
        .nest("/v1/checks", checks::router())
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route_layer(axum::middleware::from_fn_with_state(app.store.clone(), idempotency::idempotency))
        .route_layer(axum::middleware::from_fn_with_state(auth_state, auth::authorize))
        .layer(axum::Extension(Arc::new(crate::gate::library::RuleCache::default())))
        .with_state(app.clone());
    crate::telemetry::metrics::info(app.catalog.version());
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
        let id = req.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
        let span = tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id,
            otel.name = tracing::field::Empty, otel.kind = "server", http.route = tracing::field::Empty);
        if crate::telemetry::trace::enabled() {
            let route = req.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |p| p.as_str());
            span.record("otel.name", format!("{} {route}", req.method()));
            span.record("http.route", route);
            crate::telemetry::trace::set_parent_from_headers(&span, req.headers());
        }
        span
    });
    let router = Router::new()
        .merge(SwaggerUi::new("/docs").external_url_unchecked("/openapi.json", openapi_document()))
        .merge(api)
        .fallback(|| async { ApiError::NotFound("no such endpoint".into()) })
        .layer(axum::Extension(BodyLimit(config.body_limit)))
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unsafe_request_id))
        .layer(axum::middleware::from_fn(contract::limit_request_head))
        .layer(axum::middleware::map_response(problem_for_bare_errors));
    if crate::telemetry::metrics::http_enabled() {
        router.layer(axum::middleware::from_fn(metrics::track))
    } else {
        router
    }
}

/// A client's `x-request-id` is kept only when it is 1–128 characters of
/// `[A-Za-z0-9._:-]`; anything else is replaced by a fresh UUID, so ids in logs
/// and responses are always safe to print.
async fn drop_unsafe_request_id<B>(mut request: Request<B>) -> Request<B> {
    let safe = request.headers().get(REQUEST_ID).is_none_or(|v| is_safe_request_id(v.as_bytes()));
    if !safe {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

pub fn is_safe_request_id(id: &[u8]) -> bool {
    (1..=128).contains(&id.len()) && id.iter().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(b))
}

/// Rejections produced outside our handlers (bad path parameters, method not
/// allowed, timeouts) come back as plain text; rewrap them as problem+json.
async fn problem_for_bare_errors(response: axum::response::Response) -> axum::response::Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let slug = status.canonical_reason().unwrap_or("error").to_ascii_lowercase().replace(' ', "-");
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = String::from_utf8_lossy(&text).trim().to_string();
    let detail = if detail.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { detail };
    let mut problem = Problem::new(status, &slug, detail).into_response();
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n == REQUEST_ID || *n == axum::http::header::ALLOW) {
        problem.headers_mut().insert(name.clone(), value.clone());
    }
    problem
}
