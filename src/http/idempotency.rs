//! `Idempotency-Key` on every POST: the same key with the same body gets the
//! original response again (marked `Idempotent-Replayed: true`), the same key
//! with a different body gets 422, a key still being processed gets 409. Keys
//! are per principal and kept 24 hours; a call that ends in a server error
//! releases its key so the client can retry.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::Digest;

use super::error::{ApiError, Problem};
use crate::auth::Principal;
use crate::store::{IdempotencyState, IdempotentResponse, Store, now_ms};

pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
const RETENTION_MS: i64 = 24 * 60 * 60 * 1000;

pub async fn idempotency(State(store): State<Arc<dyn Store>>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(IDEMPOTENCY_KEY).cloned() else {
        return next.run(request).await;
    };
    let Some(key) =
        key.to_str().ok().filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
    else {
        return ApiError::BadRequest("Idempotency-Key must be 1-255 visible ASCII characters".into()).into_response();
    };
    let key = key.to_string();
    let principal = request.extensions().get::<Principal>().map_or_else(|| "anonymous".to_string(), |p| p.name.clone());
    let limit = super::body_limit(request.extensions());
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return ApiError::PayloadTooLarge(limit).into_response();
    };
    let mut hasher = sha2::Sha256::new();
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    let fingerprint = hex::encode(hasher.finalize());
    let now = now_ms();
    let state = match store.idempotency_begin(&principal, &key, &fingerprint, now, now - RETENTION_MS).await {
        Ok(state) => state,
        Err(e) => return ApiError::App(crate::app::AppError::Store(e)).into_response(),
    };
    match state {
        IdempotencyState::Done { fingerprint: f, .. } | IdempotencyState::InProgress { fingerprint: f }
            if f != fingerprint =>
        {
            reused()
        }
        IdempotencyState::InProgress { .. } => Problem::new(
            StatusCode::CONFLICT,
            "idempotency-key-in-progress",
            "a call with this Idempotency-Key is still being processed; retry shortly",
        )
        .into_response(),
        IdempotencyState::Done { response, .. } => replay(response),
        IdempotencyState::New => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            record(&*store, &principal, &key, response).await
        }
    }
}

fn reused() -> Response {
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency-key-reused",
        "this Idempotency-Key was already used with a different request body",
    )
    .into_response()
}

fn replay(stored: IdempotentResponse) -> Response {
    let status = StatusCode::from_u16(stored.status as u16).unwrap_or(StatusCode::OK);
    let mut response = (status, stored.body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [(header::CONTENT_TYPE, stored.content_type), (header::LOCATION, stored.location)] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(name, value);
        }
    }
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}

/// Keeps the handler's answer for replays (server errors release the key instead).
async fn record(store: &dyn Store, principal: &str, key: &str, response: Response) -> Response {
    if response.status().is_server_error() {
        if let Err(e) = store.idempotency_abort(principal, key).await {
            tracing::error!(error = %e, "could not release an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "could not buffer a response");
            let _ = store.idempotency_abort(principal, key).await;
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let stored = IdempotentResponse {
        status: i64::from(parts.status.as_u16()),
        content_type: text(header::CONTENT_TYPE),
        location: text(header::LOCATION),
        body: String::from_utf8_lossy(&bytes).into_owned(),
    };
    if let Err(e) = store.idempotency_complete(principal, key, &stored).await {
        tracing::error!(error = %e, "could not record an idempotent response");
        let _ = store.idempotency_abort(principal, key).await;
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Documents the optional `Idempotency-Key` header and its 409/422 answers on every POST.
pub struct DocumentIdempotency;

impl utoipa::Modify for DocumentIdempotency {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, Required, ResponseBuilder, Type};
        let problem = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let Some(operation) = item.post.as_mut() else { continue };
            let parameter = ParameterBuilder::new()
                .name("Idempotency-Key")
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some("Repeat a call safely: the same key and body return the original response for 24 h"))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(255))))
                .build();
            operation.parameters.get_or_insert_with(Vec::new).push(parameter);
            let responses = &mut operation.responses.responses;
            responses
                .entry("409".into())
                .or_insert_with(|| problem("Conflict, or the Idempotency-Key is still in progress").into());
            responses
                .entry("422".into())
                .or_insert_with(|| problem("Invalid fields, or the Idempotency-Key was used with another body").into());
        }
    }
}
