//! `POST /v1/checks`: the CI gate. A template (or a Terraform plan) and a profile id in; per resource and
//! control pass / fail / undetermined / waived, the resources whose service has no
//! approved bundle, the library versions used and the verdict out. Needs the reader
//! role: it changes nothing and reveals only what `GET /v1/library` already shows.

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Extension, Json, Router};

use super::error::{ApiError, ApiResult, Problem};
use super::extract::JsonBody;
use crate::app::App;
use crate::gate::Report;
use crate::gate::library::{self, CheckRequest, RuleCache};

pub fn router() -> Router<Arc<App>> {
    Router::new().route("/", post(check))
}

/// Checks a CloudFormation template or a Terraform plan against the latest approved bundles of the profile's services.
///
/// The verdict is `pass` only when every control passes (or is waived by a waiver in
/// force) and every resource's service has an approved bundle; a value the rules need
/// that is an unresolved intrinsic is `undetermined`, never a pass. Bad input (invalid
/// JSON or YAML, no `Resources`, an unknown profile, a resource type the catalog does
/// not know) is a 422 whose `errors` carry the JSON pointer (`/template/...` into the
/// template) and the template's line.
///
/// Give `plan` instead of `template` to check a Terraform plan (`terraform show -json`
/// output): each resource change that exists after apply is checked against the
/// bundles' `terraform-checks.json`; a value known only after apply is `undetermined`,
/// a control a plan cannot decide is `not_decidable` with the reason; errors point into
/// `/plan`.
#[utoipa::path(post, path = "/v1/checks", tag = "checks", operation_id = "checkTemplates", request_body = CheckRequest,
    responses((status = 200, body = Report),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn check(
    State(app): State<Arc<App>>,
    Extension(cache): Extension<Arc<RuleCache>>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Report>> {
    let request = library::parse_request(&body).map_err(ApiError::Gate)?;
    Ok(Json(library::check(&app, &cache, &request).await?))
}
