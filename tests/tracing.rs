//! OpenTelemetry traces end to end: `seccfg serve` with OTEL_EXPORTER_OTLP_ENDPOINT
//! pointing at a tiny OTLP/HTTP receiver on loopback (written here, decoding the
//! protobuf with opentelemetry-proto). An incoming W3C traceparent becomes the
//! request span's parent, an unparseable one is ignored and the request served,
//! each stage attempt has one span linked to the request span that created the
//! run, and the resource carries the semantic-convention attributes. The same
//! receiver behind TLS (a test-only CA in tests/fixtures/otlp-tls) gets spans over
//! `https://` when `OTEL_EXPORTER_OTLP_CERTIFICATE` names that CA, and none without it.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    resource: HashMap<String, String>,
}

fn attrs(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| {
            let v = match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(AnyValue::StringValue(s)) => s.clone(),
                Some(AnyValue::IntValue(i)) => i.to_string(),
                Some(AnyValue::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), v)
        })
        .collect()
}

/// An OTLP/HTTP receiver: POST /v1/traces with a protobuf ExportTraceServiceRequest.
async fn receiver() -> (SocketAddr, Arc<Mutex<Received>>) {
    let (app, received) = receiver_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
}

/// The same receiver behind TLS only, with the test-only server certificate.
async fn tls_receiver() -> (SocketAddr, Arc<Mutex<Received>>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = common::repo("tests/fixtures/otlp-tls");
    let certs: Vec<_> = CertificateDer::pem_file_iter(dir.join("server.pem")).unwrap().map(Result::unwrap).collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let (app, received) = receiver_app();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new())
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    (addr, received)
}

fn receiver_app() -> (axum::Router, Arc<Mutex<Received>>) {
    let received = Arc::new(Mutex::new(Received::default()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: axum::body::Bytes| {
            let sink = sink.clone();
            async move {
                let request = match ExportTraceServiceRequest::decode(body) {
                    Ok(r) => r,
                    Err(e) => panic!("not an OTLP protobuf export: {e}"),
                };
                let mut r = sink.lock().unwrap();
                for rs in request.resource_spans {
                    if let Some(resource) = rs.resource {
                        r.resource.extend(attrs(&resource.attributes));
                    }
                    r.spans.extend(rs.scope_spans.into_iter().flat_map(|s| s.spans));
                }
                ([(axum::http::header::CONTENT_TYPE, "application/x-protobuf")], Vec::<u8>::new())
            }
        }),
    );
    (app, received)
}

/// One HTTP/1.1 exchange over a plain socket; returns the status and the body.
fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        head += "Content-Type: application/json\r\n";
    }
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    let mut out = String::new();
    stream.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(seconds), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_follow_a_request_into_its_stages() {
    let (otlp, received) = receiver().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .current_dir(common::repo(""))
        .env("SECCFG_BIND", addr.to_string())
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.path().join("db").display()))
        .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
        .env("SECCFG_WORKERS", "1")
        .env("SECCFG_LOG", "warn")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{otlp}"))
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=test")
        .env_remove("OTEL_SERVICE_NAME")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The client side blocks: keep it off the runtime that serves the receiver.
    let result = tokio::task::spawn_blocking(move || exercise(addr, &received)).await;
    server.kill().unwrap();
    server.wait().unwrap();
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn exercise(addr: SocketAddr, received: &Arc<Mutex<Received>>) {
    wait_until("the server", 60, || TcpStream::connect(addr).is_ok());
    let mut body = common::example_json("requests/s3.json");
    body["profile"] = common::example_json("profiles/fin-prod.json");
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let (status, accepted) = http(addr, "POST", "/v1/requests", &[("traceparent", &traceparent)], &body.to_string());
    assert_eq!(status, 202, "{accepted}");
    let run_id = serde_json::from_str::<serde_json::Value>(&accepted).unwrap()["runs"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // An unparseable traceparent is ignored and the request served.
    let (status, _) = http(addr, "GET", "/v1/catalog", &[("traceparent", "00-not-a-trace-context")], "");
    assert_eq!(status, 200);

    let mut stages = 0;
    wait_until("the run to succeed", 120, || {
        let (_, run) = http(addr, "GET", &format!("/v1/runs/{run_id}"), &[], "");
        let run: serde_json::Value = serde_json::from_str(&run).unwrap_or_default();
        stages = run["stages"].as_array().map_or(0, Vec::len);
        run["status"] == "succeeded"
    });
    let hex = |b: &[u8]| hex::encode(b);
    let started = Instant::now();
    while received.lock().unwrap().spans.iter().filter(|s| s.name.starts_with("stage ")).count() < stages {
        let names: Vec<String> = received.lock().unwrap().spans.iter().map(|s| s.name.clone()).collect();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {stages} stage spans; received {names:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    let r = received.lock().unwrap();
    let post = r.spans.iter().find(|s| s.name == "POST /v1/requests").expect("request span");
    assert_eq!(hex(&post.trace_id), TRACE_ID, "the incoming traceparent's trace continues");
    assert_eq!(hex(&post.parent_span_id), PARENT_ID, "the caller's span is the parent");
    assert_eq!(attrs(&post.attributes).get("http.route").map(String::as_str), Some("/v1/requests"));

    let catalog = r.spans.iter().find(|s| s.name == "GET /v1/catalog").expect("catalog span");
    assert_ne!(hex(&catalog.trace_id), TRACE_ID);
    assert!(catalog.parent_span_id.is_empty(), "an unparseable traceparent gives a new root");

    let stage_spans: Vec<&Span> = r.spans.iter().filter(|s| s.name.starts_with("stage ")).collect();
    assert_eq!(stage_spans.len(), stages, "one span per stage attempt");
    for span in &stage_spans {
        let linked = span.links.iter().any(|l| hex(&l.trace_id) == TRACE_ID && l.span_id == post.span_id);
        assert!(linked, "{} links to the request span", span.name);
        assert_eq!(attrs(&span.attributes).get("run_id"), Some(&run_id));
    }

    for key in ["service.version", "service.instance.id", "host.name", "process.pid", "telemetry.sdk.language"] {
        assert!(r.resource.contains_key(key), "resource has {key}: {:?}", r.resource);
    }
    assert_eq!(r.resource.get("service.name").map(String::as_str), Some("seccfg"));
    assert_eq!(r.resource.get("deployment.environment.name").map(String::as_str), Some("test"));
}

/// `serve` (API only) exporting to `endpoint`, with extra environment.
fn serve_exporting(
    addr: SocketAddr,
    dir: &std::path::Path,
    endpoint: &str,
    env: &[(&str, String)],
) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_seccfg"));
    command
        .arg("serve")
        .current_dir(common::repo(""))
        .env("SECCFG_BIND", addr.to_string())
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.join("db").display()))
        .env("SECCFG_ARTIFACT_DIR", dir.join("artifacts"))
        .env("SECCFG_WORKERS", "0")
        .env("SECCFG_LOG", "warn")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("OTEL_EXPORTER_OTLP_CERTIFICATE")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")
        .stderr(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    command.spawn().unwrap()
}

/// Requests `GET /v1/catalog` until the server answers, then waits up to `seconds`
/// for the receiver to hold a span of it.
fn catalog_span_arrives(addr: SocketAddr, received: &Arc<Mutex<Received>>, seconds: u64) -> bool {
    wait_until("the server", 60, || TcpStream::connect(addr).is_ok());
    assert_eq!(http(addr, "GET", "/v1/catalog", &[], "").0, 200);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(seconds) {
        if received.lock().unwrap().spans.iter().any(|s| s.name == "GET /v1/catalog") {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_export_over_https_to_a_collector_with_a_private_ca() {
    let (otlp, received) = tls_receiver().await;
    let endpoint = format!("https://localhost:{}", otlp.port());
    let ca = common::repo("tests/fixtures/otlp-tls/ca.pem").display().to_string();
    for (trusted, env) in [(true, vec![("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.clone())]), (false, vec![])] {
        received.lock().unwrap().spans.clear();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut server = serve_exporting(addr, dir.path(), &endpoint, &env);
        let sink = received.clone();
        // Without the CA the exporter must refuse the receiver's certificate: no span in 5 s.
        let wait = if trusted { 30 } else { 5 };
        let arrived = tokio::task::spawn_blocking(move || catalog_span_arrives(addr, &sink, wait)).await;
        server.kill().unwrap();
        server.wait().unwrap();
        let arrived = arrived.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        assert_eq!(arrived, trusted, "span over https with the test CA trusted: {trusted}");
    }
}

#[test]
fn a_missing_otlp_ca_file_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let missing = dir.path().join("no-such-ca.pem").display().to_string();
    let mut server =
        serve_exporting(addr, dir.path(), "https://localhost:4318", &[("OTEL_EXPORTER_OTLP_CERTIFICATE", missing)]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "serve kept running with a missing CA file");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(!status.success());
}
