//! The one place errors become responses: RFC 9457 problem+json. Internal
//! details are logged here and never returned.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppError;
use crate::input::InputError;
use crate::intake::IntakeError;

/// One invalid field in a problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    /// JSON pointer (RFC 6901) into the submitted document.
    pub pointer: String,
    pub detail: String,
    /// Ranked alternatives when the field names something unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
    /// 1-based line in the submitted template (checks only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("authentication required: send Authorization: Bearer <API key or OIDC token>")]
    Unauthorized,
    #[error("too many requests from this principal; retry after the Retry-After delay")]
    TooManyRequests,
    #[error("this call needs the {0} role")]
    Forbidden(&'static str),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body exceeds the {0}-byte limit")]
    PayloadTooLarge(usize),
    #[error(transparent)]
    Intake(crate::intake::IntakeError),
    #[error(transparent)]
    Gate(crate::gate::GateError),
}

impl From<crate::gate::library::CheckError> for ApiError {
    fn from(e: crate::gate::library::CheckError) -> Self {
        match e {
            crate::gate::library::CheckError::Gate(g) => ApiError::Gate(g),
            crate::gate::library::CheckError::App(a) => ApiError::App(a),
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            problem_type: format!("https://seccfg.dev/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

impl From<ApiError> for Problem {
    fn from(e: ApiError) -> Problem {
        match e {
            ApiError::App(app) => app_problem(app),
            ApiError::BadRequest(m) => Problem::new(StatusCode::BAD_REQUEST, "bad-request", m),
            ApiError::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, "not-found", m),
            ApiError::Unauthorized => Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()),
            ApiError::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, "forbidden", e.to_string()),
            ApiError::TooManyRequests => {
                Problem::new(StatusCode::TOO_MANY_REQUESTS, "too-many-requests", e.to_string())
            }
            ApiError::UnsupportedMediaType => {
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", e.to_string())
            }
            ApiError::PayloadTooLarge(_) => {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", e.to_string())
            }
            ApiError::Intake(intake) => intake_problem(intake),
            ApiError::Gate(gate) => gate_problem(gate),
        }
    }
}

fn intake_problem(e: IntakeError) -> Problem {
    let detail = e.to_string();
    let field = |pointer: &str, slug: &str| Problem {
        errors: vec![ProblemField {
            pointer: pointer.into(),
            detail: detail.clone(),
            suggestions: Vec::new(),
            line: None,
        }],
        ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, detail.clone())
    };
    match e {
        IntakeError::App(app) => app_problem(app),
        IntakeError::NotConfigured => Problem::new(StatusCode::NOT_FOUND, "intake-not-configured", detail),
        IntakeError::UnknownBucket(_) => field("/detail/bucket/name", "unknown-bucket"),
        IntakeError::UnknownObject(..) => field("/detail/object/key", "unknown-object"),
        IntakeError::TooLarge { .. } => Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "object-too-large", detail),
        IntakeError::S3(inner) => {
            tracing::error!(error = %inner, "intake read from S3 failed");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the object could not be read from S3; try again",
            )
        }
    }
}

/// A check that cannot be made: 422 with the pointer (and the template's line) for
/// bad input; an evaluation failure is ours (500, logged).
fn gate_problem(e: crate::gate::GateError) -> Problem {
    use crate::gate::GateError;
    let detail = e.to_string();
    let field = |pointer: String, line: Option<usize>, slug: &str| Problem {
        errors: vec![ProblemField { pointer, detail: detail.clone(), suggestions: Vec::new(), line }],
        ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, slug, detail.clone())
    };
    match e {
        GateError::Syntax { line, .. } => field("/template".into(), line, "invalid-template"),
        GateError::Input { pointer, line, .. } => field(pointer, line, "invalid-check"),
        GateError::UnknownProfile(_) => field("/profile_id".into(), None, "unknown-profile"),
        GateError::Bundle(_) | GateError::Guard(_) => {
            tracing::error!(error = %detail, "check evaluation failed");
            Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "check-failed", "the check could not be evaluated")
        }
    }
}

fn app_problem(e: AppError) -> Problem {
    let detail = e.to_string();
    match e {
        AppError::Input(InputError::Syntax { .. }) => Problem::new(StatusCode::BAD_REQUEST, "malformed-json", detail),
        AppError::Input(InputError::Fields(fields)) => Problem {
            errors: fields
                .into_iter()
                .map(|f| ProblemField { pointer: f.pointer, detail: f.detail, suggestions: Vec::new(), line: None })
                .collect(),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-fields", "the document has invalid fields")
        },
        AppError::UnresolvedServices(services) => Problem {
            errors: services
                .into_iter()
                .map(|s| {
                    let (detail, suggestions) = if s.ambiguous.is_empty() {
                        (
                            format!("'{}' is not a known AWS service", s.name),
                            s.suggestions.into_iter().map(|x| x.id).collect(),
                        )
                    } else {
                        (format!("'{}' names several services; name one of them", s.name), s.ambiguous)
                    };
                    ProblemField { pointer: s.pointer, detail, suggestions, line: None }
                })
                .collect(),
            ..Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown-service", "service names do not resolve")
        },
        AppError::ProfileNotFound(_) | AppError::ProfileVersionNotFound(..) => {
            Problem::new(StatusCode::NOT_FOUND, "profile-not-found", detail)
        }
        AppError::RunNotFound(_) => Problem::new(StatusCode::NOT_FOUND, "run-not-found", detail),
        AppError::Forbidden(_) => Problem::new(StatusCode::FORBIDDEN, "forbidden", detail),
        AppError::RunNotRetryable(_) => Problem::new(StatusCode::CONFLICT, "run-not-retryable", detail),
        AppError::RunNotSucceeded(..) => Problem::new(StatusCode::CONFLICT, "run-not-succeeded", detail),
        AppError::NoPreviousVersion(_) => Problem::new(StatusCode::NOT_FOUND, "no-previous-version", detail),
        AppError::DifferentServices(..) => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "different-services", detail),
        AppError::AlreadyDecided(_) => Problem::new(StatusCode::CONFLICT, "already-decided", detail),
        AppError::BundleIncomplete(..) | AppError::Library(_) => {
            tracing::error!(error = %detail, "library failure");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service could not complete the request; try again",
            )
        }
        AppError::Store(inner) => {
            tracing::error!(error = %inner, "store failure");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service could not complete the request; try again",
            )
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
