//! Throughput and latency of `GET /v1/runs?limit=50` with 10,000 runs stored,
//! against the real `seccfg serve` binary (API only) on loopback:
//! `cargo bench --bench runs_list` (or `scripts/bench-runs-list`). Runs on SQLite,
//! and on PostgreSQL when `SECCFG_TEST_POSTGRES_URL` is set. Each measurement is
//! bounded (10 s after 1 s of warm-up, 16 keep-alive connections) and prints
//! req/s, p50 and p99. Under `cargo test` (no `--bench`) it does a small smoke run.
//! Target (PRODUCT.md): ≥ 5,000 req/s at p99 ≤ 10 ms.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use seccfg::app::{App, ProfileRef};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore};
use serde_json::json;

use common::{SERVICES, Server, fresh_postgres, load, quantile};

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

async fn bench(backend: &str, url: &str, dir: &std::path::Path, runs: usize, duration: Duration) {
    let started = Instant::now();
    populate(url, dir, runs).await;
    println!("{backend}: {runs} runs stored in {:.1} s", started.elapsed().as_secs_f64());
    let server = Server::start(&[
        ("SECCFG_DATABASE_URL", url.to_string()),
        ("SECCFG_ARTIFACT_DIR", dir.join("artifacts").display().to_string()),
        ("SECCFG_WORKERS", "0".into()),
    ])
    .await;
    let port = server.port;
    let path = "/v1/runs?limit=50";
    load(port, path, 16, Duration::from_secs(1).min(duration)).await;
    let (count, latencies, elapsed) = load(port, path, 16, duration).await;
    let pct = |p: f64| quantile(&latencies, p).as_secs_f64() * 1000.0;
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
