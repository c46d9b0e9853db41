//! The HTTP API end to end over SQLite: submissions, runs, artifacts, problems.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seccfg::app::App;
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::http::{HttpConfig, router};
use seccfg::store::{LocalArtifactStore, RunFilter};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    app: Arc<App>,
    router: axum::Router,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn api() -> Api {
    let (store, _, db_dir) = common::fresh_sqlite().await;
    let artifact_dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), common::knowledge()));
    let config = HttpConfig { body_limit: 64 * 1024, request_timeout: Duration::from_secs(10) };
    Api { router: router(app.clone(), &config), app, _dirs: (db_dir, artifact_dir) }
}

impl Api {
    async fn call(&self, method: &str, uri: &str, body: Option<Vec<u8>>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (parts.status, parts.headers, value)
    }

    async fn post(&self, uri: &str, body: &Value) -> (StatusCode, axum::http::HeaderMap, Value) {
        self.call("POST", uri, Some(serde_json::to_vec(body).unwrap())).await
    }

    /// Runs an in-process worker until nothing is claimable.
    async fn drain(&self) {
        let worker = Worker::new(
            "test".into(),
            self.app.store.clone(),
            self.app.artifacts.clone(),
            self.app.knowledge.clone(),
            WorkerConfig::default(),
        );
        while worker.step().await.unwrap() {}
    }

    async fn row_counts(&self) -> usize {
        self.app.store.runs(&RunFilter { limit: 1000, ..Default::default() }).await.unwrap().len()
    }
}

fn pointers(problem: &Value) -> Vec<&str> {
    problem["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn profile_versions_over_http() {
    let api = api().await;
    let fin = common::example_json("profiles/fin-prod.json");
    let (status, headers, body) = api.post("/v1/profiles", &fin).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["version"], 1);
    assert_eq!(headers[header::LOCATION], "/v1/profiles/FIN-PROD-001/versions/1");
    let (status, _, body) = api.post("/v1/profiles", &fin).await;
    assert_eq!((status, body["version"].as_i64()), (StatusCode::OK, Some(1)));
    let mut changed = fin.clone();
    changed["threat_model"]["risk_level"] = json!("critical");
    let (status, _, body) = api.post("/v1/profiles", &changed).await;
    assert_eq!((status, body["version"].as_i64()), (StatusCode::CREATED, Some(2)));
    let (status, _, body) = api.call("GET", "/v1/profiles/FIN-PROD-001", None).await;
    assert_eq!((status, body["version"].as_i64()), (StatusCode::OK, Some(2)));
    let (_, _, body) = api.call("GET", "/v1/profiles/FIN-PROD-001/versions/1", None).await;
    assert_eq!(body["document"]["threat_model"]["risk_level"], "high");
    let (status, headers, _) = api.call("GET", "/v1/profiles/FIN-PROD-001/versions/9", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let (status, _, problem) = api.call("GET", "/v1/profiles/FIN-PROD-001/versions/one", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(problem["status"], 400);
}

#[tokio::test]
async fn request_runs_to_completion_with_artifacts() {
    let api = api().await;
    let mut body = common::example_json("requests/s3.json");
    body["profile"] = common::example_json("profiles/fin-prod.json");
    let (status, headers, accepted) = api.post("/v1/requests", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let services: Vec<&str> =
        accepted["runs"].as_array().unwrap().iter().map(|r| r["service_id"].as_str().unwrap()).collect();
    assert_eq!(services, vec!["s3"]);
    let first = accepted["runs"][0]["run_id"].as_str().unwrap();
    assert_eq!(headers[header::LOCATION], format!("/v1/runs/{first}"));
    assert!(headers.contains_key("x-request-id"));

    api.drain().await;
    let (_, _, run) = api.call("GET", &format!("/v1/runs/{first}"), None).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["stages"][0]["name"], "collect");
    assert_eq!(run["stages"][0]["attempts"], 1);

    let (_, _, list) = api.call("GET", &format!("/v1/runs/{first}/artifacts"), None).await;
    assert!(
        list.as_array().unwrap().iter().any(|a| a["name"] == "facts.json" && a["content_type"] == "application/json")
    );
    let (status, headers, facts) = api.call("GET", &format!("/v1/runs/{first}/artifacts/facts.json"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(facts["service"]["id"], "s3");
    assert!(facts["actions_by_access_level"]["Read"].as_array().unwrap().iter().any(|a| a == "GetObject"));
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    for expected in ["analysis.json", "controls.json", "rules.guard", "template.yaml", "main.tf", "verification.json"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }

    let mut platform = common::example_json("requests/data-platform.json");
    platform["profile_id"] = serde_json::json!("FIN-PROD-001");
    let (status, _, accepted) = api.post("/v1/requests", &platform).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let (_, _, page) = api.call("GET", "/v1/runs?limit=3&service=s3", None).await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 1);
    let (_, _, page) = api.call("GET", "/v1/runs?limit=3", None).await;
    assert_eq!(page["runs"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, _, rest) = api.call("GET", &format!("/v1/runs?limit=3&cursor={cursor}"), None).await;
    assert_eq!(rest["runs"].as_array().unwrap().len(), 2);
    assert!(rest["next_cursor"].is_null());

    let (status, _, _) = api.call("POST", &format!("/v1/runs/{first}/retry"), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "succeeded runs are not retried");
}

#[tokio::test]
async fn bad_requests_are_rejected_and_store_nothing() {
    let api = api().await;
    api.post("/v1/profiles", &common::example_json("profiles/fin-prod.json")).await;

    let mut typo = common::example_json("requests/typo-service.json");
    typo["profile_id"] = json!("FIN-PROD-001");
    let (status, headers, problem) = api.post("/v1/requests", &typo).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(pointers(&problem), vec!["/services/0/serviceName"]);
    assert!(!problem["errors"][0]["suggestions"].as_array().unwrap().is_empty());

    let (status, _, problem) = api.call("POST", "/v1/requests", Some(common::example("requests/malformed.json"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().contains("line"));

    let mut unknown_profile = common::example_json("requests/s3.json");
    unknown_profile["profile_id"] = json!("NOPE");
    let (status, _, _) = api.post("/v1/requests", &unknown_profile).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut bad_embedded = common::example_json("requests/s3.json");
    bad_embedded["profile"] = json!({ "profile_id": "X", "security_requirements": {} });
    let (status, _, problem) = api.post("/v1/requests", &bad_embedded).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pointers(&problem), vec!["/profile/compliance_requirements"]);

    let huge =
        json!({ "requestId": "R", "profile_id": "FIN-PROD-001", "services": [{ "serviceName": "x".repeat(100_000) }] });
    let (status, _, problem) = api.post("/v1/requests", &huge).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem["status"], 413);

    let (status, _, _) = api.call("POST", "/v1/profiles", Some(b"{}".to_vec())).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    assert_eq!(api.row_counts().await, 0, "no rejected submission created a run");
    assert!(api.app.store.profile("X", None).await.unwrap().is_none());
}

#[tokio::test]
async fn health_and_docs() {
    let api = api().await;
    let (status, _, body) = api.call("GET", "/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, _, body) = api.call("GET", "/readyz", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["catalog_version"], api.app.catalog.version());
    let (status, _, body) = api.call("GET", "/openapi.json", None).await;
    assert_eq!((status, body["openapi"].as_str()), (StatusCode::OK, Some("3.1.0")));
    let (status, _, _) = api.call("GET", "/docs/", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, problem) = api.call("GET", "/nowhere", None).await;
    assert_eq!((status, problem["status"].as_i64()), (StatusCode::NOT_FOUND, Some(404)));
}

#[tokio::test]
async fn catalog_endpoints() {
    let api = api().await;
    let (status, _, summary) = api.call("GET", "/v1/catalog", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary["version"], api.app.catalog.version());
    assert!(summary["counts"]["actions"].as_u64().unwrap() > 10_000);
    let linked = summary["counts"]["services_linked_to_cloudformation"].as_u64().unwrap();
    assert!((280..=445).contains(&linked), "{linked} prefixes linked to CloudFormation types");
    let (_, _, found) = api.call("GET", "/v1/catalog/services?query=Amazon%20SES", None).await;
    assert_eq!(found[0]["id"], "ses");
    assert_eq!(found[0]["matched"], "exact");
    let (_, _, near) = api.call("GET", "/v1/catalog/services?query=Amazon%20S4", None).await;
    assert!(near.as_array().unwrap().iter().all(|m| m["matched"] != "exact"));
    let (status, _, s3) = api.call("GET", "/v1/catalog/services/s3", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(s3["actions_by_access_level"]["Read"].as_array().unwrap().iter().any(|a| a == "GetObject"));
    assert!(s3["resource_types"]["bucket"]["arn"].as_str().unwrap().starts_with("arn:${Partition}:s3:::"));
    let (status, _, problem) = api.call("GET", "/v1/catalog/services/s4", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(problem["errors"][0]["suggestions"].as_array().unwrap().iter().any(|s| s == "s3"));
    let (status, _, _) = api.call("GET", "/v1/catalog/services?query=", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn catalog_serves_config_rules_security_hub_controls_and_terraform_prefixes() {
    let api = api().await;
    let (_, _, summary) = api.call("GET", "/v1/catalog", None).await;
    for count in
        ["config_rules", "security_hub_controls", "framework_requirements", "checkov_checks", "terraform_resources"]
    {
        assert!(summary["counts"][count].as_u64().unwrap() > 0, "{count}");
    }
    assert_eq!(summary["frameworks"].as_array().unwrap().len(), 7);
    assert!(summary["terraform_provider"]["version"].is_string());

    let (status, _, s3) = api.call("GET", "/v1/catalog/services/s3", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s3["service"]["terraform_prefixes"], serde_json::json!(["aws_s3_"]));
    assert_eq!(
        s3["links"]["cloudformation_types"]["AWS::S3::Bucket"], "handler: the prefix is named like the namespace",
        "every link says why"
    );
    assert!(
        s3["config_rules"].as_array().unwrap().iter().any(|r| r["id"] == "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED")
    );
    assert!(s3["security_hub_controls"].as_array().unwrap().iter().any(|c| c["id"] == "S3.1"));

    let (status, _, list) = api.call("GET", "/v1/catalog/config-rules?service=s3", None).await;
    assert_eq!(status, StatusCode::OK);
    let rule = list["config_rules"].as_array().unwrap().iter().find(|r| r["id"] == "S3_BUCKET_SSL_REQUESTS_ONLY");
    assert!(rule.unwrap()["resource_types"].as_array().unwrap().iter().any(|t| t == "AWS::S3::Bucket"));

    let (status, headers, problem) = api.call("GET", "/v1/catalog/config-rules?service=s4", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(problem["errors"][0]["pointer"], "/service");
    assert!(problem["errors"][0]["suggestions"].as_array().unwrap().iter().any(|s| s == "s3"));
    for bad in [
        "/v1/catalog/config-rules",
        "/v1/catalog/config-rules?service=",
        "/v1/catalog/config-rules?service=s3&service=sns",
    ] {
        let (status, headers, _) = api.call("GET", bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(headers["content-type"], "application/problem+json", "{bad}");
    }
}

#[tokio::test]
async fn reference_design_profile_is_accepted_with_warnings_that_reach_the_bundle() {
    let api = api().await;
    let profile = common::example_json("profiles/reference-design.json");
    let (status, _, stored) = api.post("/v1/profiles", &profile).await;
    assert_eq!(status, StatusCode::CREATED, "{stored}");
    let pointers: Vec<&str> =
        stored["warnings"].as_array().unwrap().iter().map(|w| w["pointer"].as_str().unwrap()).collect();
    assert!(pointers.contains(&"/compliance_requirements/requirements/data_classification"), "{stored}");
    assert!(pointers.contains(&"/organization_details/aws_accounts/0"), "{stored}");

    let mut body = common::example_json("requests/s3.json");
    body["profile"] = profile;
    let (status, _, accepted) = api.post("/v1/requests", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let pointers: Vec<&str> =
        accepted["warnings"].as_array().unwrap().iter().map(|w| w["pointer"].as_str().unwrap()).collect();
    assert!(pointers.contains(&"/profile/compliance_requirements/requirements/data_classification"), "{accepted}");
    assert!(pointers.contains(&"/profile/organization_details/aws_accounts/0"), "{accepted}");

    api.drain().await;
    let run = accepted["runs"][0]["run_id"].as_str().unwrap();
    let (status, _, bundle) = api.call("GET", &format!("/v1/runs/{run}/artifacts/bundle.json"), None).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    let warned: Vec<&str> =
        bundle["profile_warnings"].as_array().unwrap().iter().map(|w| w["pointer"].as_str().unwrap()).collect();
    assert!(warned.contains(&"/organization_details/aws_accounts/0"), "{bundle}");
    let (_, _, iam) = api.call("GET", &format!("/v1/runs/{run}/artifacts/iam-model.json"), None).await;
    let account = iam["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "Account").unwrap();
    assert!(account.get("allowed_values").is_none_or(|v| v.as_array().unwrap().is_empty()), "{account}");
    let (_, _, policy) =
        api.call("GET", &format!("/v1/runs/{run}/artifacts/iam-policy-administrator.json"), None).await;
    let text = policy.to_string();
    assert!(text.contains("${Account}") && !text.contains(":320:"), "ARNs keep the account parameter: {text}");
}

/// A request naming a network load balancer gets one through the API; the run record and
/// bundle.json show the variant.
#[tokio::test]
async fn a_request_for_a_network_load_balancer_gets_that_variant() {
    let api = api().await;
    let body = json!({
        "requestId": "NLB-1",
        "profile": common::example_json("profiles/fin-prod.json"),
        "services": [ { "serviceName": "Network Load Balancer" }, { "serviceName": "ALB" } ]
    });
    let (status, _, accepted) = api.post("/v1/requests", &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    api.drain().await;
    for (run, variant, kind) in [(0, "network", "Type: network"), (1, "application", "Type: application")] {
        let id = accepted["runs"][run]["run_id"].as_str().unwrap();
        assert_eq!(accepted["runs"][run]["service_id"], "elasticloadbalancing");
        let (status, _, record) = api.call("GET", &format!("/v1/runs/{id}"), None).await;
        assert_eq!((status, record["status"].as_str()), (StatusCode::OK, Some("succeeded")), "{record}");
        let (_, _, bundle) = api.call("GET", &format!("/v1/runs/{id}/artifacts/bundle.json"), None).await;
        assert_eq!(bundle["variant"], variant, "{bundle}");
        let (_, _, template) = api.call("GET", &format!("/v1/runs/{id}/artifacts/template.yaml"), None).await;
        assert!(template.as_str().unwrap().contains(kind), "{template}");
    }
}
