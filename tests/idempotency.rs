//! `Idempotency-Key` on POSTs, on both backends: a replay returns the original
//! response and stores nothing new; another body under the same key is 422.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seccfg::app::App;
use seccfg::http::{HttpConfig, router};
use seccfg::store::{IdempotencyState, LocalArtifactStore, RunFilter, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

async fn post(router: &axum::Router, uri: &str, key: &str, body: &Value) -> (StatusCode, axum::http::HeaderMap, Value) {
    let req = Request::builder()
        .method("POST")
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header("idempotency-key", key)
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn check(backend: &str, store: Arc<dyn Store>) {
    let artifacts = tempfile::tempdir().unwrap();
    let app =
        Arc::new(App::new(store.clone(), Arc::new(LocalArtifactStore::new(artifacts.path())), common::knowledge()));
    let r = router(app, &HttpConfig { body_limit: 256 * 1024, request_timeout: Duration::from_secs(30) });

    let profile = common::example_json("profiles/fin-prod.json");
    let first = post(&r, "/v1/profiles", "profile-1", &profile).await;
    assert_eq!(first.0, StatusCode::CREATED, "{backend}");
    let again = post(&r, "/v1/profiles", "profile-1", &profile).await;
    assert_eq!((again.0, &again.2), (StatusCode::CREATED, &first.2), "{backend}: the original 201, not a 200");
    assert_eq!(again.1["idempotent-replayed"], "true");
    assert_eq!(again.1[header::LOCATION], first.1[header::LOCATION]);

    let request = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-1", "services": [{"serviceName": "s3"}]});
    let (status, headers, accepted) = post(&r, "/v1/requests", "req-1", &request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{backend}: {accepted}");
    let (status, replay_headers, replayed) = post(&r, "/v1/requests", "req-1", &request).await;
    assert_eq!((status, &replayed), (StatusCode::ACCEPTED, &accepted), "{backend}");
    assert_eq!(replay_headers[header::LOCATION], headers[header::LOCATION]);
    let runs = store.runs(&RunFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(runs.len(), 1, "{backend}: one request, one run, one bundle version");

    let other = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-2", "services": [{"serviceName": "s3"}]});
    let (status, headers, problem) = post(&r, "/v1/requests", "req-1", &other).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {problem}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let (status, _, _) = post(&r, "/v1/requests", &"k".repeat(256), &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{backend}");
    let runs = store.runs(&RunFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(runs.len(), 1, "{backend}: rejected calls stored nothing");

    // A rejected body is replayed as rejected too; keys are per path and body.
    let bad = json!({"profile_id": "FIN-PROD-001", "services": []});
    let (status, _, problem) = post(&r, "/v1/requests", "bad-1", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(post(&r, "/v1/requests", "bad-1", &bad).await.2, problem);

    // Keys expire after 24 h: an entry older than the cut-off is forgotten.
    let state = store.idempotency_begin("anonymous", "req-1", "other", 0, i64::MAX).await.unwrap();
    assert_eq!(state, IdempotencyState::New, "{backend}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_key_replays_the_original_response() {
    let (sqlite, _, _dir) = common::fresh_sqlite().await;
    check("sqlite", sqlite).await;
    let (postgres, _) = common::fresh_postgres().await;
    check("postgres", postgres).await;
}
