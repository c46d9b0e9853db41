//! The OpenAPI document as a contract: every status the server can send is
//! documented with its problem+json body, operations are linked along the
//! profile → request → run → artifact → approval flow, and artifact downloads
//! are binary. Applied after [`super::auth::DocumentAuth`], so 401/403/429 are
//! already there.
//!
//! Also the edge limits behind two of those statuses: a request line over
//! [`MAX_URI_BYTES`] gets 414 and a request head over [`MAX_HEADER_BYTES`] or
//! [`MAX_HEADERS`] headers gets 431, both as problem+json.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{ContentBuilder, KnownFormat, OpenApi, Ref, RefOr, Response as ApiResponse, ResponseBuilder};

use super::error::Problem;

/// Longest request target (path and query) served.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Largest total of header names and values served.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Most headers one request may carry (hyper itself refuses more than 2× this).
pub const MAX_HEADERS: usize = 100;

/// 414 and 431 as problem+json before anything else runs.
pub async fn limit_request_head(request: Request, next: Next) -> Response {
    let uri_len = request.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        let detail = format!("the request target exceeds {MAX_URI_BYTES} bytes");
        return Problem::new(StatusCode::URI_TOO_LONG, "uri-too-long", detail).into_response();
    }
    let headers = request.headers();
    let header_bytes: usize = headers.iter().map(|(n, v)| n.as_str().len() + v.len()).sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        let detail = format!("the request has more than {MAX_HEADERS} headers or {MAX_HEADER_BYTES} bytes of them");
        return Problem::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers-too-large", detail).into_response();
    }
    next.run(request).await
}

/// utoipa 5.5 writes a Link's fields in snake case (`operation_id`); OpenAPI names
/// them `operationId`, `operationRef` and `requestBody`.
pub fn fix_link_keys(doc: &mut serde_json::Value) {
    use serde_json::Value;
    match doc {
        Value::Object(map) => {
            if let Some(Value::Object(links)) = map.get_mut("links") {
                for link in links.values_mut().filter_map(Value::as_object_mut) {
                    for (from, to) in [
                        ("operation_id", "operationId"),
                        ("operation_ref", "operationRef"),
                        ("request_body", "requestBody"),
                    ] {
                        if let Some(v) = link.shift_remove(from) {
                            link.insert(to.to_string(), v);
                        }
                    }
                }
            }
            map.values_mut().for_each(fix_link_keys);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_link_keys),
        _ => {}
    }
}

pub struct DocumentContract;

impl utoipa::Modify for DocumentContract {
    fn modify(&self, openapi: &mut OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = ["/healthz", "/readyz", "/metrics"].contains(&path.as_str());
            let has_path_params = path.contains('{');
            if let Some(op) = item.get.as_mut() {
                document_statuses(op, false, public, has_path_params);
            }
            if let Some(op) = item.post.as_mut() {
                document_statuses(op, true, public, has_path_params);
            }
        }
        for op in operations(openapi) {
            link(op);
            if op.operation_id.as_deref() == Some("getArtifact") {
                binary_artifact(op);
            }
        }
    }
}

fn operations(openapi: &mut OpenApi) -> impl Iterator<Item = &mut Operation> {
    openapi.paths.paths.values_mut().flat_map(|item| [item.get.as_mut(), item.post.as_mut()].into_iter().flatten())
}

fn problem(description: &str) -> RefOr<ApiResponse> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
        )
        .build()
        .into()
}

/// Adds every status the layers in front of the handler can send; a status the
/// handler already documents keeps its own description.
fn document_statuses(op: &mut Operation, post: bool, public: bool, has_path_params: bool) {
    let has_query = op
        .parameters
        .as_ref()
        .is_some_and(|ps| ps.iter().any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query)));
    let mut statuses = vec![
        ("408", "The request took longer than the server's request timeout"),
        ("414", "The request target is too long"),
        ("431", "The request headers are too large or too many"),
    ];
    if !public {
        statuses.push(("503", "A store is unavailable; retry"));
    }
    if has_path_params || has_query || post {
        statuses.push(("400", "A path or query parameter, header or body is malformed"));
    }
    if has_path_params {
        statuses.push(("404", "No such resource"));
    }
    if post {
        statuses.extend([
            ("409", "A call with this Idempotency-Key is still being processed"),
            ("413", "The body exceeds the size limit"),
            ("415", "The body is not JSON"),
            ("422", "The body has invalid fields, or the Idempotency-Key was used with another body"),
        ]);
    }
    let responses = &mut op.responses.responses;
    for (status, description) in statuses {
        responses.entry(status.into()).or_insert_with(|| problem(description));
    }
    // Every error documented by a handler without a body gets the problem schema.
    for (status, response) in responses.iter_mut() {
        if let RefOr::T(r) = response
            && (status.starts_with('4') || status.starts_with('5'))
            && r.content.is_empty()
        {
            *response = problem(&r.description.clone());
        }
    }
}

/// (response status, link name, target operation, parameter → runtime expression).
type LinkSpec<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// OpenAPI links along the main flow: each names the operation and where its parameters come from.
fn link(op: &mut Operation) {
    let run_from_body = [("run_id", "$response.body#/id")];
    let run_from_path = [("run_id", "$request.path.run_id")];
    let links: Vec<LinkSpec> = match op.operation_id.as_deref() {
        Some("createProfile") => vec![
            (
                "201",
                "GetProfileVersion",
                "getProfileVersion",
                &[("profile_id", "$response.body#/profile_id"), ("version", "$response.body#/version")],
            ),
            ("201", "GetProfile", "getProfile", &[("profile_id", "$response.body#/profile_id")]),
            (
                "200",
                "GetProfileVersion",
                "getProfileVersion",
                &[("profile_id", "$response.body#/profile_id"), ("version", "$response.body#/version")],
            ),
        ],
        Some("createRequest") => vec![
            ("202", "GetRun", "getRun", &[("run_id", "$response.body#/runs/0/run_id")]),
            (
                "202",
                "GetProfileVersion",
                "getProfileVersion",
                &[("profile_id", "$response.body#/profile_id"), ("version", "$response.body#/profile_version")],
            ),
        ],
        Some("getRun") => vec![
            ("200", "ListArtifacts", "listArtifacts", &run_from_body),
            ("200", "GetDecision", "getDecision", &run_from_body),
            ("200", "DecideRun", "decideRun", &run_from_body),
            ("200", "RetryRun", "retryRun", &run_from_body),
            ("200", "DiffRun", "diffRun", &run_from_body),
        ],
        Some("retryRun") => vec![("202", "GetRun", "getRun", &run_from_body)],
        Some("listArtifacts") => vec![(
            "200",
            "GetArtifact",
            "getArtifact",
            &[("run_id", "$request.path.run_id"), ("name", "$response.body#/0/name")],
        )],
        Some("decideRun") => vec![("201", "GetDecision", "getDecision", &run_from_path)],
        _ => Vec::new(),
    };
    for (status, name, target, params) in links {
        let Some(RefOr::T(response)) = op.responses.responses.get_mut(status) else { continue };
        let mut builder = LinkBuilder::new().operation_id(target);
        for (param, expression) in params {
            builder = builder.parameter(*param, *expression);
        }
        response.links.insert(name.to_string(), builder.build().into());
    }
}

/// The artifact download: the stored bytes under the content type listed for it.
fn binary_artifact(op: &mut Operation) {
    let Some(RefOr::T(ok)) = op.responses.responses.get_mut("200") else { return };
    let binary =
        ObjectBuilder::new().schema_type(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)));
    ok.content.clear();
    ok.content.insert("application/octet-stream".into(), ContentBuilder::new().schema(Some(binary.build())).build());
    // JSON artifacts are any JSON document; the text formats are strings.
    let any = ObjectBuilder::new().schema_type(SchemaType::AnyValue);
    ok.content.insert("application/json".into(), ContentBuilder::new().schema(Some(any.build())).build());
    for media in ["application/yaml", "text/plain; charset=utf-8", "text/markdown; charset=utf-8"] {
        let text = ObjectBuilder::new().schema_type(Type::String);
        ok.content.insert(media.into(), ContentBuilder::new().schema(Some(text.build())).build());
    }
}
