//! Overhead of the telemetry on API reads: the real `seccfg serve` binary (API only,
//! SQLite, 200 runs stored) on loopback, three ways — HTTP metrics middleware off
//! (`SECCFG_HTTP_METRICS=off`, a benchmark switch), the default (metrics on, tracing
//! off), and metrics plus OpenTelemetry tracing exported over OTLP/HTTP to a sink in
//! this process. For each: `GET /v1/catalog/services/s3` (in-memory read) and
//! `GET /v1/runs?limit=50` (database read), 16 keep-alive connections, 1 s warm-up,
//! then 5 s measured; prints req/s, p50 and p99. `cargo bench --bench telemetry_overhead`;
//! under `cargo test` it does a short smoke run of each.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seccfg::app::{App, ProfileRef};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (warm, measure) = if measuring {
        (Duration::from_secs(1), Duration::from_secs(5))
    } else {
        (Duration::ZERO, Duration::from_millis(200))
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        populate(&url, dir.path()).await;
        let sink = otlp_sink().await;
        let configs: [(&str, Vec<(&str, String)>); 3] = [
            ("metrics off, tracing off", vec![("SECCFG_HTTP_METRICS", "off".into())]),
            ("metrics on,  tracing off (default)", vec![]),
            ("metrics on,  tracing on ", vec![("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{sink}"))]),
        ];
        for (label, env) in configs {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_seccfg"));
            cmd.arg("serve")
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .env("SECCFG_DATABASE_URL", &url)
                .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
                .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
                .env("SECCFG_WORKERS", "0")
                .env("SECCFG_LOG", "warn")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
                .env_remove("SECCFG_HTTP_METRICS")
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in &env {
                cmd.env(k, v);
            }
            let _server = Server(cmd.spawn().expect("seccfg starts"));
            while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            for path in ["/v1/catalog/services/s3", "/v1/runs?limit=50"] {
                if !warm.is_zero() {
                    load(port, path, 16, warm).await;
                }
                let (count, mut latencies, elapsed) = load(port, path, 16, measure).await;
                latencies.sort_unstable();
                let pct =
                    |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
                println!(
                    "{label}: GET {path:<25} {:>7.0} req/s  p50 {:.2} ms  p99 {:.2} ms",
                    count as f64 / elapsed.as_secs_f64(),
                    pct(0.5),
                    pct(0.99)
                );
            }
        }
    });
}

/// An OTLP/HTTP endpoint that accepts and drops every export.
async fn otlp_sink() -> u16 {
    let app = axum::Router::new().route("/v1/traces", axum::routing::post(|| async { "" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

async fn populate(url: &str, dir: &std::path::Path) {
    let store = store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let knowledge = Arc::new(Knowledge::load_default().expect("catalog loads"));
    let app = App::new(store, Arc::new(LocalArtifactStore::new(dir.join("artifacts"))), knowledge);
    let profile = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/profiles/fin-prod.json")).unwrap();
    let profile: serde_json::Value = serde_json::from_slice(&profile).unwrap();
    let services: Vec<_> = ["s3", "sns", "sqs", "kms", "lambda", "dynamodb", "ec2", "rds", "iam", "logs"]
        .iter()
        .map(|s| json!({ "serviceName": s }))
        .collect();
    for i in 0..20 {
        let request = json!({ "requestId": format!("BENCH-{i}"), "services": services });
        app.submit_request(&request, ProfileRef::Embedded(profile.clone())).await.expect("accepted");
    }
}

/// `connections` keep-alive HTTP/1.1 clients issuing `GET path` back to back for `duration`.
async fn load(port: u16, path: &str, connections: usize, duration: Duration) -> (usize, Vec<Duration>, Duration) {
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes();
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut latencies = Vec::new();
                let mut buf = Vec::with_capacity(64 * 1024);
                while Instant::now() < deadline {
                    let t = Instant::now();
                    stream.write_all(&request).await.unwrap();
                    read_response(&mut stream, &mut buf).await;
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (all.len(), all, started.elapsed())
}

/// Reads one response (status 200, Content-Length body) from a keep-alive connection.
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .expect("content-length");
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "server closed the connection");
        buf.extend_from_slice(&chunk[..n]);
    }
}
