//! Defects found by adversarial testing (issue 14), checked on both backends:
//! control characters, concurrent version allocation, client request ids, and —
//! with a real server process — slow request heads and bounded shutdown.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use seccfg::app::App;
use seccfg::catalog::Resolution;
use seccfg::http::{HttpConfig, router};
use seccfg::store::{LocalArtifactStore, RunFilter, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    app: Arc<App>,
    router: axum::Router,
    _dirs: Vec<tempfile::TempDir>,
}

async fn api_on(store: Arc<dyn Store>, mut dirs: Vec<tempfile::TempDir>) -> Api {
    let artifact_dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), common::knowledge()));
    let config = HttpConfig { body_limit: 256 * 1024, request_timeout: Duration::from_secs(30) };
    dirs.push(artifact_dir);
    Api { router: router(app.clone(), &config), app, _dirs: dirs }
}

/// One API per backend: SQLite, then PostgreSQL.
async fn backends() -> Vec<(&'static str, Api)> {
    let (sqlite, _, dir) = common::fresh_sqlite().await;
    let (postgres, _) = common::fresh_postgres().await;
    vec![("sqlite", api_on(sqlite, vec![dir]).await), ("postgres", api_on(postgres, vec![]).await)]
}

async fn call(router: &axum::Router, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
    let (status, _, value) = call_with(router, method, uri, body, &[]).await;
    (status, value)
}

async fn call_with(
    router: &axum::Router,
    method: &str,
    uri: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(body.map(|b| Body::from(serde_json::to_vec(b).unwrap())).unwrap_or_else(Body::empty)).unwrap();
    let res = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["errors"].as_array().map_or_else(Vec::new, |errors| {
        errors.iter().map(|e| e["pointer"].as_str().unwrap_or_default().to_string()).collect()
    })
}

fn profile(id: &str, organisation: &str) -> Value {
    let mut doc = common::example_json("profiles/fin-prod.json");
    doc["profile_id"] = json!(id);
    doc["organization_details"]["name"] = json!(organisation);
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_characters_are_rejected_and_store_nothing() {
    assert!(
        matches!(common::catalog().resolve("Amazon\u{0}S3"), Resolution::Unknown(_)),
        "a name with a NUL never resolves"
    );
    for (backend, api) in backends().await {
        let r = &api.router;
        let (status, _) = call(r, "POST", "/v1/profiles", Some(&profile("FIN-PROD-001", "Org"))).await;
        assert_eq!(status, StatusCode::CREATED, "{backend}");
        let bodies = [
            (
                json!({"profile_id": "FIN-PROD-001", "requestId": "R\u{0}1", "services": [{"serviceName": "s3"}]}),
                "/requestId",
            ),
            (
                json!({"profile_id": "FIN-PROD-001", "requestId": "R1", "services": [{"serviceName": "Amazon\u{0}S3"}]}),
                "/services/0/serviceName",
            ),
            (
                json!({"profile_id": "FIN-PROD-001", "requestId": "R1", "services": [{"serviceName": "Amazon\u{7}S3"}]}),
                "/services/0/serviceName",
            ),
            (
                json!({"profile_id": "FIN\u{0}PROD", "requestId": "R1", "services": [{"serviceName": "s3"}]}),
                "/profile_id",
            ),
        ];
        for (body, pointer) in bodies {
            let (status, problem) = call(r, "POST", "/v1/requests", Some(&body)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend} {body}: {problem}");
            assert!(pointers(&problem).contains(&pointer.to_string()), "{backend} {body}: {problem}");
        }
        let (status, problem) = call(r, "POST", "/v1/profiles", Some(&profile("NUL\u{0}ID", "Org"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {problem}");
        let (status, problem) = call(r, "POST", "/v1/profiles", Some(&profile("FIN-PROD-001", "Org\u{0}"))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{backend}: {problem}");
        assert_eq!(pointers(&problem), ["/organization_details/name"], "{backend}");

        for path in [
            "/v1/profiles/FIN%00PROD",
            "/v1/profiles/FIN%00PROD/versions/1",
            "/v1/runs/abc%00def",
            "/v1/runs/abc%00def/artifacts",
            "/v1/runs/abc%00def/artifacts/facts.json",
        ] {
            let (status, problem) = call(r, "GET", path, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{backend} {path}: {problem}");
        }
        let (status, _) = call(r, "POST", "/v1/runs/abc%00def/retry", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{backend}");
        for query in ["service=s%003", "profile=FIN%00", "service=%01"] {
            let (status, page) = call(r, "GET", &format!("/v1/runs?{query}"), None).await;
            assert_eq!(status, StatusCode::OK, "{backend} {query}: {page}");
            assert_eq!(page["runs"], json!([]), "{backend} {query}");
        }
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1:abc\u{0}");
        let (status, _) = call(r, "GET", &format!("/v1/runs?cursor={cursor}"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{backend}");

        let runs = api.app.store.runs(&RunFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert!(runs.is_empty(), "{backend}: nothing stored");
        let latest = api.app.store.profile("FIN-PROD-001", None).await.unwrap().unwrap();
        assert_eq!(latest.version, 1, "{backend}: only the valid profile was stored");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_profile_writers_get_contiguous_versions() {
    for (backend, api) in backends().await {
        let writers: Vec<_> = (0..20)
            .map(|i| {
                let router = api.router.clone();
                tokio::spawn(async move {
                    call(&router, "POST", "/v1/profiles", Some(&profile("SHARED-1", &format!("Org {i}")))).await
                })
            })
            .collect();
        let mut versions = Vec::new();
        for w in writers {
            let (status, body) = w.await.unwrap();
            assert_eq!(status, StatusCode::CREATED, "{backend}: {body}");
            versions.push(body["version"].as_i64().unwrap());
        }
        versions.sort();
        assert_eq!(versions, (1..=20).collect::<Vec<_>>(), "{backend}: contiguous versions");

        // Identical content from many writers at once: one new version, shared by all.
        let same: Vec<_> = (0..10)
            .map(|_| {
                let router = api.router.clone();
                tokio::spawn(async move {
                    call(&router, "POST", "/v1/profiles", Some(&profile("SHARED-1", "Same content"))).await
                })
            })
            .collect();
        let mut created = 0;
        for w in same {
            let (status, body) = w.await.unwrap();
            assert!(status == StatusCode::CREATED || status == StatusCode::OK, "{backend}: {status} {body}");
            created += usize::from(status == StatusCode::CREATED);
            assert_eq!(body["version"], 21, "{backend}");
        }
        assert_eq!(created, 1, "{backend}: exactly one writer created the version");
    }
}

/// Submits `count` one-service requests at once, `parallel` in flight.
async fn burst(api: &Api, count: usize, parallel: usize) -> Vec<(StatusCode, Value)> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let router = api.router.clone();
            let semaphore = semaphore.clone();
            tokio::spawn(async move {
                let _permit = semaphore.acquire().await.unwrap();
                let body = json!({"profile_id": "BURST-1", "requestId": format!("REQ-{i}"),
                    "services": [{"serviceName": "Amazon S3"}]});
                call(&router, "POST", "/v1/requests", Some(&body)).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_burst_allocates_unique_contiguous_bundle_versions() {
    for (backend, api) in backends().await {
        let count = if backend == "postgres" { 2000 } else { 200 };
        let (status, _) = call(&api.router, "POST", "/v1/profiles", Some(&profile("BURST-1", "Org"))).await;
        assert_eq!(status, StatusCode::CREATED);
        let results = burst(&api, count, 32).await;
        let failures: Vec<_> = results.iter().filter(|(s, _)| *s != StatusCode::ACCEPTED).collect();
        assert!(failures.is_empty(), "{backend}: {} of {count} failed, e.g. {:?}", failures.len(), failures.first());
        for service in ["s3"] {
            let filter = RunFilter { service_id: Some(service.into()), limit: 10_000, ..Default::default() };
            let mut versions: Vec<i64> =
                api.app.store.runs(&filter).await.unwrap().iter().map(|r| r.bundle_version).collect();
            versions.sort();
            assert_eq!(versions, (1..=count as i64).collect::<Vec<_>>(), "{backend} {service}: no duplicates, no gaps");
        }
    }
}

#[tokio::test]
async fn client_request_ids_are_kept_only_when_safe() {
    let (store, _, dir) = common::fresh_sqlite().await;
    let api = api_on(store, vec![dir]).await;
    let (_, headers, _) = call_with(&api.router, "GET", "/healthz", None, &[("x-request-id", "ci-build.42:7")]).await;
    assert_eq!(headers["x-request-id"], "ci-build.42:7");
    for unsafe_id in ["has space", "quote\"d", &"x".repeat(129), "<script>"] {
        let (_, headers, _) = call_with(&api.router, "GET", "/healthz", None, &[("x-request-id", unsafe_id)]).await;
        let echoed = headers["x-request-id"].to_str().unwrap();
        assert_ne!(echoed, unsafe_id);
        assert!(uuid::Uuid::parse_str(echoed).is_ok(), "replaced by a fresh id: {echoed}");
    }
}

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `seccfg serve` (API only) and waits until it answers.
fn serve(db: &std::path::Path, header_timeout_s: u64, grace_s: u64) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", db.join("seccfg.db").display()))
        .env("SECCFG_ARTIFACT_DIR", db.join("artifacts"))
        .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
        .env("SECCFG_WORKERS", "0")
        .env("SECCFG_HEADER_READ_TIMEOUT_SECONDS", header_timeout_s.to_string())
        .env("SECCFG_SHUTDOWN_GRACE_SECONDS", grace_s.to_string())
        .env("SECCFG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("seccfg binary starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port }
}

/// Opens a connection and sends half a request head.
fn half_sent_head(port: u16) -> std::net::TcpStream {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").unwrap();
    stream
}

#[test]
fn half_sent_request_heads_time_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), 1, 5);
    let mut stream = half_sent_head(server.port);
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let mut buf = Vec::new();
    // The server closes the connection (possibly after a 408); read_to_end returns at EOF.
    let _ = stream.read_to_end(&mut buf);
    assert!(started.elapsed() < Duration::from_secs(10), "connection closed after {:?}", started.elapsed());
}

#[test]
fn shutdown_is_bounded_with_a_slow_client_connected() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), 300, 2);
    let _slow = half_sent_head(server.port);
    std::thread::sleep(Duration::from_millis(200));
    let status = Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            assert!(exit.success(), "clean exit: {exit}");
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(15), "still running 15 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}
