//! `GET /metrics` on a server that processed runs: every metric family a
//! dashboard or alert reads is there, with bounded labels (route templates,
//! never run ids), and the job-table gauges agree with the store on both backends.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seccfg::app::{App, ProfileRef};
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::http::{HttpConfig, router};
use seccfg::store::{LocalArtifactStore, Store, now_ms};
use serde_json::Value;
use tower::ServiceExt;

async fn get(router: &axum::Router, uri: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (parts.status, parts.headers, String::from_utf8(body.collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

async fn post(router: &axum::Router, uri: &str, body: &Value) -> Value {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap()
}

fn request_for(service: &str) -> Value {
    let mut body = common::example_json("requests/s3.json");
    body["services"] = serde_json::json!([{ "serviceName": service }]);
    body["profile"] = common::example_json("profiles/fin-prod.json");
    body
}

/// The value of the one sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_show_every_family_after_runs() {
    let (store, url, _db) = common::fresh_sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store.clone(), Arc::new(LocalArtifactStore::new(dir.path())), common::knowledge()));
    let router = router(app.clone(), &HttpConfig { body_limit: 1 << 20, request_timeout: Duration::from_secs(10) });
    let worker =
        Worker::new("w".into(), store.clone(), app.artifacts.clone(), app.knowledge.clone(), WorkerConfig::default());

    // A run whose first attempt dies holding its lease: the next claim counts a lease expiry.
    let accepted = post(&router, "/v1/requests", &request_for("Amazon S3")).await;
    let run_id = accepted["runs"][0]["run_id"].as_str().unwrap().to_string();
    let dead = store.claim_stage("dead-worker", now_ms(), 1).await.unwrap().expect("claimable");
    assert!(!dead.lease_expired, "a first claim is not an expiry");
    tokio::time::sleep(Duration::from_millis(5)).await;
    while worker.step().await.unwrap() {}

    // A run that fails permanently: its stored profile no longer parses.
    post(&router, "/v1/requests", &request_for("Amazon SNS")).await;
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("UPDATE profiles SET document = 'not json'").execute(&pool).await.unwrap();
    while worker.step().await.unwrap() {}

    assert_eq!(get(&router, &format!("/v1/runs/{run_id}")).await.0, StatusCode::OK);
    assert_eq!(get(&router, "/v1/runs/no-such-run").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get(&router, "/no/such/path").await.0, StatusCode::NOT_FOUND);

    let (status, headers, text) = get(&router, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    for family in [
        "seccfg_http_requests_total",
        "seccfg_http_request_duration_seconds",
        "seccfg_runs",
        "seccfg_stage_duration_seconds",
        "seccfg_stage_claims_total",
        "seccfg_queue_depth",
        "seccfg_queue_oldest_age_seconds",
        "seccfg_stages_running",
        "seccfg_lease_expiries_total",
        "seccfg_stage_retries_total",
        "seccfg_stage_failures_total",
        "seccfg_advisor_tokens_total",
        "seccfg_store_up",
        "seccfg_build_info",
        "seccfg_catalog_info",
    ] {
        assert!(text.contains(&format!("# TYPE {family} ")), "{family} missing:\n{text}");
    }
    assert_eq!(sample(&text, r#"seccfg_lease_expiries_total{stage="collect"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"seccfg_stage_failures_total{stage="collect"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"seccfg_runs{status="succeeded"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, r#"seccfg_runs{status="failed"}"#), Some(1.0), "{text}");
    assert_eq!(sample(&text, "seccfg_queue_depth"), Some(0.0));
    assert_eq!(sample(&text, "seccfg_store_up"), Some(1.0));
    assert_eq!(sample(&text, r#"seccfg_advisor_tokens_total{direction="input"}"#), Some(0.0));
    assert!(
        sample(&text, r#"seccfg_stage_duration_seconds_count{stage="verify",outcome="succeeded"}"#) == Some(1.0),
        "{text}"
    );
    assert!(text.contains(&format!(r#"seccfg_catalog_info{{version="{}"}} 1"#, app.catalog.version())));
    assert!(text.contains(r#"seccfg_build_info{version=""#));
    // Route templates and bounded labels only.
    assert!(text.contains(r#"route="/v1/runs/{run_id}",method="GET",status="200""#), "{text}");
    assert!(text.contains(r#"route="/v1/runs/{run_id}",method="GET",status="404""#), "{text}");
    assert!(text.contains(r#"route="unmatched",method="GET",status="404""#), "{text}");
    assert!(text.contains(r#"route="/v1/requests",method="POST",status="202""#), "{text}");
    assert!(!text.contains(&run_id) && !text.contains("no-such-run") && !text.contains("/no/such/path"));
}

async fn queue_gauges_follow_the_job_table(store: Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(store.clone(), Arc::new(LocalArtifactStore::new(dir.path())), common::knowledge());
    let empty = store.queue_snapshot(now_ms()).await.unwrap();
    assert_eq!((empty.queued, empty.running, empty.oldest_due_ms), (0, 0, 0));
    app.submit_profile(common::example_json("profiles/fin-prod.json")).await.unwrap();
    let request = common::example_json("requests/data-platform.json");
    let profile = ProfileRef::Stored { profile_id: "FIN-PROD-001".into(), version: None };
    let accepted = app.submit_request(&request, profile).await.unwrap();
    let runs = accepted.runs.len() as i64;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let now = now_ms();
    let queued = store.queue_snapshot(now).await.unwrap();
    assert_eq!((queued.queued, queued.running), (runs, 0), "one queued stage per run");
    assert!(queued.oldest_due_ms >= 20, "the oldest queued stage has waited: {queued:?}");
    assert_eq!(queued.runs_by_status, vec![("queued".to_string(), runs)]);
    store.claim_stage("w", now, 30_000).await.unwrap().unwrap();
    let claimed = store.queue_snapshot(now_ms()).await.unwrap();
    assert_eq!((claimed.queued, claimed.running), (runs - 1, 1));
    let mut statuses = claimed.runs_by_status.clone();
    statuses.sort();
    assert_eq!(statuses, vec![("queued".to_string(), runs - 1), ("running".to_string(), 1)]);
    // A released lease is not an expiry when the stage is claimed again.
    store.release_leases("w", now_ms()).await.unwrap();
    assert!(!store.claim_stage("w2", now_ms(), 30_000).await.unwrap().unwrap().lease_expired);
}

#[tokio::test]
async fn queue_gauges_on_sqlite() {
    let (store, _, _dir) = common::fresh_sqlite().await;
    queue_gauges_follow_the_job_table(store).await;
}

#[tokio::test]
async fn queue_gauges_on_postgres() {
    let (store, _) = common::fresh_postgres().await;
    queue_gauges_follow_the_job_table(store).await;
}
