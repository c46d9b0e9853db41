//! Server-side latency of `POST /v1/checks` work (`gate::library::check`): a 51-resource
//! CloudFormation template (17 copies of the approved S3 template's bucket, bucket
//! policy and key) checked against the library on SQLite with the rule cache warm.
//! Every check reads the profile and the library's approved entries (for the library
//! version and the waivers in force), parses the template, and evaluates every rule
//! per resource and clause in one cfn-guard run. `cargo bench --bench gate` prints
//! p50, p95 and max over 200 checks; under `cargo test` it does a small smoke run.
//! Target (issue 16): ≤ 20 ms on the 2-core machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use seccfg::app::{App, ProfileRef};
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::gate::library::{CheckRequest, RuleCache, check};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore};
use serde_json::{Value, json};

const COPIES: usize = 17;

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(bench(if measuring { 200 } else { 3 }));
}

async fn bench(iterations: usize) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("bench.db").display());
    let store = store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let knowledge = Arc::new(Knowledge::load_default().expect("catalog loads"));
    let app = App::new(store, Arc::new(LocalArtifactStore::new(dir.path().join("artifacts"))), knowledge);
    let template = approved_s3(&app).await;
    let request = CheckRequest {
        template: Some(many(&template)),
        plan: None,
        profile_id: "FIN-PROD-001".into(),
        profile_version: None,
    };
    let cache = RuleCache::default();
    let first = check(&app, &cache, &request).await.expect("check");
    let findings = first.inputs[0].findings.len();
    assert_eq!(first.summary.fail, 0, "the copies pass");
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let start = Instant::now();
        let report = check(&app, &cache, &request).await.unwrap();
        times.push(start.elapsed());
        assert_eq!(report.inputs[0].findings.len(), findings);
    }
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "gate check, {} resources, {findings} findings, warm cache: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms ({iterations} checks)",
        COPIES * 3,
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
}

/// Runs the S3 pipeline for fin-prod, approves it, returns its template.
async fn approved_s3(app: &App) -> String {
    let profile: Value = serde_json::from_slice(&std::fs::read("examples/profiles/fin-prod.json").unwrap()).unwrap();
    let request = json!({ "requestId": "BENCH-GATE", "services": [{ "serviceName": "s3" }] });
    let accepted = app.submit_request(&request, ProfileRef::Embedded(profile)).await.unwrap();
    let worker = Worker::new(
        "bench".into(),
        app.store.clone(),
        app.artifacts.clone(),
        app.knowledge.clone(),
        WorkerConfig::default(),
    );
    while worker.step().await.unwrap() {}
    let run_id = &accepted.runs[0].run_id;
    app.decide(run_id, &json!({ "decision": "approve", "reviewer": "bench@example.com" }), None).await.unwrap();
    let approved = app.library.service("FIN-PROD-001", "s3", seccfg::store::now_ms()).await.unwrap().unwrap();
    approved.templates["template.yaml"].clone()
}

/// The template's resources copied `COPIES` times, references renamed per copy.
fn many(template: &str) -> String {
    let doc: Value = yaml_serde::from_str(template).unwrap();
    let resources = doc["Resources"].as_object().unwrap();
    let ids: Vec<&String> = resources.keys().collect();
    let mut out = serde_json::Map::new();
    for i in 0..COPIES {
        for (id, resource) in resources {
            let mut text = serde_json::to_string(resource).unwrap();
            for other in &ids {
                text = text.replace(&format!("\"{other}\""), &format!("\"{other}{i}\""));
                text = text.replace(&format!("${{{other}."), &format!("${{{other}{i}."));
            }
            out.insert(format!("{id}{i}"), serde_json::from_str(&text).unwrap());
        }
    }
    let mut doc = doc.clone();
    doc["Resources"] = Value::Object(out);
    serde_json::to_string_pretty(&doc).unwrap()
}
