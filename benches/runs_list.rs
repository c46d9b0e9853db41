//! Throughput and latency of `GET /v1/runs?limit=50` with 10,000 runs stored,
//! against the real `seccfg serve` binary (API only) on loopback:
//! `cargo bench --bench runs_list` (or `scripts/bench-runs-list`). Runs on SQLite,
//! and on PostgreSQL when `SECCFG_TEST_POSTGRES_URL` is set. Each measurement is
//! bounded (10 s after 1 s of warm-up, 16 keep-alive connections) and prints
//! req/s, p50 and p99. Under `cargo test` (no `--bench`) it does a small smoke run.
//! Target (PRODUCT.md): ≥ 5,000 req/s at p99 ≤ 10 ms.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seccfg::app::{App, ProfileRef};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SERVICES: [&str; 25] = [
    "s3",
    "dynamodb",
    "lambda",
    "ec2",
    "rds",
    "sns",
    "sqs",
    "kms",
    "iam",
    "ecs",
    "eks",
    "apigateway",
    "cloudfront",
    "secretsmanager",
    "logs",
    "cloudwatch",
    "states",
    "events",
    "glue",
    "athena",
    "kinesis",
    "sagemaker",
    "elasticache",
    "cloudtrail",
    "guardduty",
];

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (runs, duration) =
        if measuring { (10_000, Duration::from_secs(10)) } else { (100, Duration::from_millis(300)) };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite:{}", dir.path().join("bench.db").display());
    runtime.block_on(bench("sqlite", &sqlite, dir.path(), runs, duration));
    if let Ok(admin) = std::env::var("SECCFG_TEST_POSTGRES_URL")
        && measuring
    {
        let url = runtime.block_on(fresh_postgres(&admin));
        runtime.block_on(bench("postgres", &url, dir.path(), runs, duration));
    }
}

async fn fresh_postgres(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("seccfg_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

async fn bench(backend: &str, url: &str, dir: &std::path::Path, runs: usize, duration: Duration) {
    let started = Instant::now();
    populate(url, dir, runs).await;
    println!("{backend}: {runs} runs stored in {:.1} s", started.elapsed().as_secs_f64());
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = Server(
        Command::new(env!("CARGO_BIN_EXE_seccfg"))
            .arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("SECCFG_DATABASE_URL", url)
            .env("SECCFG_ARTIFACT_DIR", dir.join("artifacts"))
            .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
            .env("SECCFG_WORKERS", "0")
            .env("SECCFG_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("seccfg starts"),
    );
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let path = "/v1/runs?limit=50";
    load(port, path, 16, Duration::from_secs(1).min(duration)).await;
    let (count, mut latencies, elapsed) = load(port, path, 16, duration).await;
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0;
    println!(
        "{backend}: GET {path}: {count} requests in {:.1} s = {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        pct(0.5),
        pct(0.99)
    );
}

/// Stores `runs` runs through the domain core, 25 services per request.
async fn populate(url: &str, dir: &std::path::Path, runs: usize) {
    let store = store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    let knowledge = Arc::new(Knowledge::load_default().expect("catalog loads"));
    let app = App::new(store, Arc::new(LocalArtifactStore::new(dir.join("artifacts"))), knowledge);
    let profile = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/profiles/fin-prod.json")).unwrap();
    let profile: serde_json::Value = serde_json::from_slice(&profile).unwrap();
    for i in 0..runs.div_ceil(SERVICES.len()) {
        let services: Vec<_> = SERVICES.iter().map(|s| json!({ "serviceName": s })).collect();
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
