//! Overhead of the telemetry on API reads: the real `seccfg serve` binary (API only,
//! SQLite, 200 runs stored) on loopback, three ways — HTTP metrics middleware off
//! (`SECCFG_HTTP_METRICS=off`, a benchmark switch), the default (metrics on, tracing
//! off), and metrics plus OpenTelemetry tracing exported over OTLP/HTTP to a sink in
//! this process. For each: `GET /v1/catalog/services/s3` (in-memory read) and
//! `GET /v1/runs?limit=50` (database read), 16 keep-alive connections, 1 s warm-up,
//! then 5 s measured; prints req/s, p50 and p99. `cargo bench --bench telemetry_overhead`;
//! under `cargo test` it does a short smoke run of each.

mod common;

use std::sync::Arc;
use std::time::Duration;

use seccfg::app::{App, ProfileRef};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore};
use serde_json::json;

use common::{Server, load, quantile};

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
            let mut env = env;
            env.extend([
                ("SECCFG_DATABASE_URL", url.clone()),
                ("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts").display().to_string()),
                ("SECCFG_WORKERS", "0".into()),
            ]);
            let server = Server::start(&env).await;
            let port = server.port;
            for path in ["/v1/catalog/services/s3", "/v1/runs?limit=50"] {
                if !warm.is_zero() {
                    load(port, path, 16, warm).await;
                }
                let (count, latencies, elapsed) = load(port, path, 16, measure).await;
                let pct = |p: f64| quantile(&latencies, p).as_secs_f64() * 1000.0;
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
