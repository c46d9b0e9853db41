//! OpenTelemetry traces end to end: `seccfg serve` with OTEL_EXPORTER_OTLP_ENDPOINT
//! pointing at a tiny OTLP/HTTP receiver on loopback (written here, decoding the
//! protobuf with opentelemetry-proto). An incoming W3C traceparent becomes the
//! request span's parent, an unparseable one is ignored and the request served,
//! each stage attempt has one span linked to the request span that created the
//! run, and the resource carries the semantic-convention attributes.

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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, received)
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
