//! The committed OpenAPI document is the one the server serves, and it holds as a
//! contract: unique operation ids, typed bodies, every error as problem+json, links
//! along the main flow, binary artifact downloads; and the head limits it documents
//! (414, 431) answer with problem+json.
//! Regenerate with `UPDATE_OPENAPI=1 cargo test --test openapi`.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn document() -> Value {
    seccfg::http::openapi_document()
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

fn schema_of(doc: &Value, node: &Value) -> Value {
    match node["$ref"].as_str() {
        Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
        None => node.clone(),
    }
}

#[test]
fn committed_openapi_matches_the_served_document() {
    let served = serde_json::to_string_pretty(&seccfg::http::openapi_document()).unwrap() + "\n";
    let path = common::repo("openapi/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(served.contains("\"openapi\": \"3.1.0\""));
    assert!(committed == served, "openapi/openapi.json is stale: run UPDATE_OPENAPI=1 cargo test --test openapi");
}

#[test]
fn operation_ids_are_present_and_unique() {
    let doc = document();
    let mut seen = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
        assert!(seen.insert(id.to_string()), "operationId {id} is used twice");
    }
    assert!(seen.contains("createRequest") && seen.contains("createProfile"));
}

#[test]
fn success_bodies_are_typed_and_errors_are_problems() {
    let doc = document();
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let content = response["content"].as_object().cloned().unwrap_or_default();
            if status.starts_with('2') {
                if let Some(json) = content.get("application/json")
                    && op["operationId"] != "getArtifact"
                {
                    let schema = schema_of(&doc, &json["schema"]);
                    let typed = ["properties", "items", "allOf"].iter().any(|k| schema.get(k).is_some());
                    assert!(typed, "{method} {path} {status}: untyped JSON body {schema}");
                }
            } else if (status.starts_with('4') || status.starts_with('5')) && path != "/readyz" {
                let problem = &content
                    .get("application/problem+json")
                    .unwrap_or_else(|| panic!("{method} {path} {status} is not documented as problem+json"))["schema"]
                    ["$ref"];
                assert_eq!(problem, "#/components/schemas/Problem", "{method} {path} {status}");
            }
        }
        let statuses = op["responses"].as_object().unwrap();
        for status in ["414", "431"] {
            assert!(statuses.contains_key(status), "{method} {path} does not document {status}");
        }
        if method == "post" {
            for status in ["400", "413", "415", "422", "429"] {
                assert!(statuses.contains_key(status), "{method} {path} does not document {status}");
            }
        }
    }
    // Two types named Verdict (approval, gate) once shared one schema name, and the
    // approval body documented pass/fail.
    let verdict = &doc["components"]["schemas"]["Verdict"]["enum"];
    assert_eq!(verdict, &serde_json::json!(["approve", "reject"]));
    let run = &doc["components"]["schemas"]["RunRecord"];
    assert_eq!(run["properties"]["stages"]["items"]["$ref"], "#/components/schemas/StageRecord");
}

#[test]
fn links_follow_the_submit_run_artifact_flow() {
    let doc = document();
    let op = |path: &str, method: &str| doc["paths"][path][method].clone();
    let submit = &op("/v1/requests", "post")["responses"]["202"]["links"]["GetRun"];
    assert_eq!(submit["operationId"], "getRun");
    assert_eq!(submit["parameters"]["run_id"], "$response.body#/runs/0/run_id");
    let run = &op("/v1/runs/{run_id}", "get")["responses"]["200"]["links"];
    assert_eq!(run["ListArtifacts"]["operationId"], "listArtifacts");
    assert_eq!(run["DecideRun"]["operationId"], "decideRun");
    let list = &op("/v1/runs/{run_id}/artifacts", "get")["responses"]["200"]["links"]["GetArtifact"];
    assert_eq!(list["parameters"]["name"], "$response.body#/0/name");
    let download = &op("/v1/runs/{run_id}/artifacts/{name}", "get")["responses"]["200"]["content"];
    assert_eq!(download["application/octet-stream"]["schema"]["format"], "binary");
}

async fn send(request: Request<Body>) -> (StatusCode, String, Value) {
    let (store, _, _dir) = common::fresh_sqlite().await;
    let artifacts = tempfile::tempdir().unwrap();
    let app = std::sync::Arc::new(seccfg::app::App::new(
        store,
        std::sync::Arc::new(seccfg::store::LocalArtifactStore::new(artifacts.path())),
        common::knowledge(),
    ));
    let config =
        seccfg::http::HttpConfig { body_limit: 64 * 1024, request_timeout: std::time::Duration::from_secs(30) };
    let response = seccfg::http::router(app, &config).oneshot(request).await.unwrap();
    let status = response.status();
    let ct = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, ct, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn oversized_heads_get_problem_documents() {
    let long = format!("/v1/runs?profile={}", "a".repeat(9 * 1024));
    let (status, ct, body) = send(Request::get(long).body(Body::empty()).unwrap()).await;
    assert_eq!((status, ct.as_str()), (StatusCode::URI_TOO_LONG, "application/problem+json"));
    assert_eq!(body["status"], 414);

    let mut many = Request::get("/v1/runs");
    for i in 0..150 {
        many = many.header(format!("x-filler-{i}"), "1");
    }
    let (status, ct, body) = send(many.body(Body::empty()).unwrap()).await;
    assert_eq!((status, ct.as_str()), (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "application/problem+json"));
    assert_eq!(body["status"], 431);

    let (status, _, _) = send(Request::get("/v1/runs?limit=5").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
}
