//! Body extraction that reports problems the way the rest of the API does.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::Value;

use super::error::ApiError;
use crate::app::AppError;

/// A JSON document, parsed without a schema so validation can name every bad field.
pub struct JsonBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            let mime = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = super::body_limit(req.extensions());
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(limit),
            _ => ApiError::BadRequest(rejection.body_text()),
        })?;
        let value = crate::input::parse_json(&bytes).map_err(AppError::from)?;
        Ok(JsonBody(value))
    }
}
