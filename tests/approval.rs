//! Approval and the control library over HTTP, on SQLite and PostgreSQL: real
//! runs through the pipeline, then decisions, refusals that store nothing,
//! waivers, immutability of approved artifacts, and the library queries.

mod common;

use axum::http::StatusCode;
use common::api::{Api, api};
use seccfg::store::{BundleRef, read_body};
use serde_json::{Value, json};

fn problem(body: &Value, status: u16, slug: &str) {
    assert_eq!(body["status"], status, "{body}");
    assert!(body["type"].as_str().unwrap().ends_with(slug), "{body}");
}

fn approve(waivers: Value) -> Value {
    json!({ "decision": "approve", "reviewer": "ciso@example.com", "comment": "pilot approved", "waivers": waivers })
}

async fn approval_flow(api: Api) {
    let runs = api.submit(&["s3", "sns"]).await;
    let (s3, sns) = (&runs[0], &runs[1]);

    // A run that has not succeeded cannot be decided.
    let (status, body) = api.call("POST", &format!("/v1/runs/{s3}/approval"), Some(&approve(json!([])))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    problem(&body, 409, "run-not-succeeded");
    api.nothing_stored(s3).await;

    api.drain().await;
    let uri = format!("/v1/runs/{s3}/approval");

    // Past expiry and unknown controls are refused with pointers; nothing is stored.
    let past =
        approve(json!([{ "control_id": "S3-06", "reason": "central logging later", "expires_at": "2020-01-01" }]));
    let (status, body) = api.call("POST", &uri, Some(&past)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["pointer"], "/waivers/0/expires_at", "{body}");
    api.nothing_stored(s3).await;
    let unknown = approve(json!([{ "control_id": "SNS-01", "reason": "n/a", "expires_at": "2999-01-01" }]));
    let (status, body) = api.call("POST", &uri, Some(&unknown)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["pointer"], "/waivers/0/control_id", "{body}");
    assert!(body["errors"][0]["detail"].as_str().unwrap().contains("no control 'SNS-01'"));
    api.nothing_stored(s3).await;
    let (status, body) = api.call("POST", &uri, Some(&json!({ "decision": "maybe" }))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let pointers: Vec<&str> =
        body["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
    assert_eq!(pointers, ["/decision", "/reviewer"]);
    api.nothing_stored(s3).await;

    // The approval, with one waiver.
    let waiver = json!([{ "control_id": "S3-06", "reason": "central logging bucket arrives in Q3", "expires_at": "2999-01-31" }]);
    let (status, decided) = api.call("POST", &uri, Some(&approve(waiver))).await;
    assert_eq!(status, StatusCode::CREATED, "{decided}");
    assert_eq!(decided["decision"], "approve");
    assert_eq!(decided["bundle_version"], 1);
    assert_eq!(decided["waivers"][0]["expires_at"], "2999-01-31T00:00:00.000Z");
    let (status, stored) = api.call("GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["reviewer"], "ciso@example.com");

    // Decided once.
    let (status, body) =
        api.call("POST", &uri, Some(&json!({ "decision": "reject", "reviewer": "someone@example.com" }))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    problem(&body, 409, "already-decided");
    assert_eq!(api.app.library.audit(Some(s3)).await.unwrap().len(), 1);

    // A rejection is recorded but adds nothing to the library.
    let (status, _) = api
        .call("POST", &format!("/v1/runs/{sns}/approval"), Some(&json!({ "decision": "reject", "reviewer": "r" })))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(api.app.library.audit(None).await.unwrap().len(), 2);

    // The library.
    let (status, services) = api.call("GET", "/v1/library/services", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(services.as_array().unwrap().len(), 1, "{services}");
    assert_eq!(services[0]["service_id"], "s3");
    assert_eq!(services[0]["waivers"][0]["control_id"], "S3-06");
    let (status, bundle) = api.call("GET", "/v1/library/services/s3?profile=FIN-PROD-001", None).await;
    assert_eq!(status, StatusCode::OK);
    let s3_bundle = BundleRef::from(&api.app.store.run(s3).await.unwrap().unwrap());
    let controls = api.app.artifacts.get(&s3_bundle, "controls.json").await.unwrap().unwrap().1;
    let controls: Value = serde_json::from_slice(&read_body(controls).await.unwrap()).unwrap();
    let expected: Vec<&str> =
        controls["controls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    let approved: Vec<&str> =
        bundle["controls"].as_array().unwrap().iter().map(|c| c["control_id"].as_str().unwrap()).collect();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(approved, expected_sorted, "every control of the bundle is in the library");
    assert!(bundle["templates"]["template.yaml"].as_str().unwrap().contains("AWS::S3::Bucket"));
    assert!(bundle["templates"]["main.tf"].as_str().unwrap().contains("aws_s3_bucket"));
    assert!(bundle["iam_model"]["personas"].is_array() || bundle["iam_model"].is_object());
    let waived = bundle["controls"].as_array().unwrap().iter().find(|c| c["control_id"] == "S3-06").unwrap();
    assert_eq!(waived["waiver"]["reason"], "central logging bucket arrives in Q3");
    let s301 = bundle["controls"].as_array().unwrap().iter().find(|c| c["control_id"] == "S3-01").unwrap();
    assert!(!s301["frameworks"].as_object().unwrap().is_empty(), "framework requirements come from analyze: {s301}");
    let framework = s301["frameworks"].as_object().unwrap().keys().next().unwrap().clone();

    let (status, _) = api.call("GET", "/v1/library/services/s3", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = api.call("GET", "/v1/library/services/sns?profile=FIN-PROD-001", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "a rejected service is not in the library");

    let (_, by_category) = api.call("GET", "/v1/library/controls?service=s3&category=logging", None).await;
    let ids: Vec<&str> = by_category.as_array().unwrap().iter().map(|c| c["control_id"].as_str().unwrap()).collect();
    assert!(ids.contains(&"S3-06") && ids.iter().all(|id| id.starts_with("S3-")), "{ids:?}");
    assert!(by_category.as_array().unwrap().iter().all(|c| c["category"] == "logging"));
    let (_, by_framework) = api.call("GET", &format!("/v1/library/controls?framework={framework}"), None).await;
    assert!(by_framework.as_array().unwrap().iter().any(|c| c["control_id"] == "S3-01"));
    assert!(by_framework.as_array().unwrap().iter().all(|c| c["frameworks"][&framework].is_array()));
    let (_, none) = api.call("GET", "/v1/library/controls?service=sns", None).await;
    assert_eq!(none, json!([]));

    // Approved artifacts never change: the run cannot be re-run and its files cannot be overwritten.
    let (status, _) = api.call("POST", &format!("/v1/runs/{s3}/retry"), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let overwrite = api.app.artifacts.put(&s3_bundle, "template.yaml", "application/yaml", b"Resources: {}\n").await;
    assert!(overwrite.is_err(), "an artifact is written once");
    let versions: Vec<(String, String)> =
        api.app.artifacts.list(&s3_bundle).await.unwrap().into_iter().map(|a| (a.name, a.version)).collect();
    let approved_versions: Vec<(String, String)> = bundle["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap().into(), a["version"].as_str().unwrap().into()))
        .collect();
    assert_eq!(versions, approved_versions, "the approved artifact versions are the stored ones");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_on_sqlite() {
    let (store, _, dir) = common::fresh_sqlite().await;
    approval_flow(api(store, vec![dir]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_on_postgres() {
    let (store, _) = common::fresh_postgres().await;
    approval_flow(api(store, vec![]).await).await;
}

#[tokio::test]
async fn unknown_run_is_404() {
    let (store, _, dir) = common::fresh_sqlite().await;
    let api = api(store, vec![dir]).await;
    let (status, body) = api.call("POST", "/v1/runs/nope/approval", Some(&approve(json!([])))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    problem(&body, 404, "run-not-found");
    let (status, _) = api.call("GET", "/v1/runs/nope/approval", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
