//! Latency of one bundle with artifacts in S3 against the local directory: the
//! in-process engine (SQLite job table, one worker stepping without poll sleeps)
//! runs `s3` for fin-prod from submission to `succeeded`, alternating the two
//! artifact stores bundle by bundle so machine load hits both alike. S3 is moto's
//! server (`scripts/moto/ensure-venv`) on loopback through the real SDK client, so
//! the figure is the cost of seccfg's S3 path (SDK, HTTP, conditional writes,
//! fencing copies and their deletes) plus moto's own request handling — not AWS's
//! network latency. Prints every bundle's time, then the median and the p10–p90
//! spread per store and the median of the per-pair differences, with the load
//! average before and after. `cargo bench --bench s3_overhead [-- ROUNDS]`; under
//! `cargo test` it runs one pair as a smoke test.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::Credentials;
use seccfg::app::{App, ProfileRef};
use seccfg::aws::AwsSettings;
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, ArtifactStore, LocalArtifactStore, S3ArtifactStore, S3Location};
use serde_json::json;

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo(path: &str) -> String {
    format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))
}

fn start_moto() -> (Moto, String) {
    let out = Command::new(repo("scripts/moto/ensure-venv")).stderr(Stdio::inherit()).output().unwrap();
    assert!(out.status.success(), "scripts/moto/ensure-venv failed");
    let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(python)
        .arg(repo("scripts/moto/serve.py"))
        .args(["127.0.0.1", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (Moto(child), format!("http://127.0.0.1:{port}"))
}

async fn s3_store(endpoint: &str) -> Arc<dyn ArtifactStore> {
    let settings = AwsSettings { aws_endpoint_url: Some(endpoint.into()), ..AwsSettings::default() };
    let sdk = seccfg::aws::loader(&settings)
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await;
    let client = seccfg::aws::s3_client(&sdk, &settings);
    client.create_bucket().bucket("seccfg-bench").send().await.expect("create bucket");
    let location = S3Location { bucket: "seccfg-bench".into(), prefix: "bundles".into() };
    Arc::new(S3ArtifactStore::new(
        client,
        location,
        Some("arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555".into()),
    ))
}

struct Engine {
    app: App,
    worker: Worker,
    _db: tempfile::TempDir,
}

async fn engine(knowledge: Arc<Knowledge>, artifacts: Arc<dyn ArtifactStore>) -> Engine {
    let db = tempfile::tempdir().unwrap();
    let store = store::connect(&format!("sqlite:{}", db.path().join("bench.db").display())).await.unwrap();
    store.migrate().await.unwrap();
    let app = App::new(store, artifacts, knowledge);
    let worker = Worker::new(
        "bench".into(),
        app.store.clone(),
        app.artifacts.clone(),
        app.knowledge.clone(),
        WorkerConfig::default(),
    );
    Engine { app, worker, _db: db }
}

/// Submission to `succeeded` for one `s3` bundle.
async fn one_bundle(e: &Engine, profile: &serde_json::Value, i: usize) -> Duration {
    let started = Instant::now();
    let request = json!({ "requestId": format!("BENCH-{i}"), "services": [{ "serviceName": "s3" }] });
    let accepted = e.app.submit_request(&request, ProfileRef::Embedded(profile.clone())).await.unwrap();
    while e.worker.step().await.unwrap() {}
    let run = e.app.store.run(&accepted.runs[0].run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.stages);
    started.elapsed()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Median and the p10–p90 range of `xs` (sorted here).
fn summary(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(|a, b| a.total_cmp(b));
    let at = |p: f64| xs[((xs.len() - 1) as f64 * p).round() as usize];
    (at(0.5), at(0.1), at(0.9))
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let measuring = args.iter().any(|a| a == "--bench");
    let rounds: usize = if measuring { args.iter().filter_map(|a| a.parse().ok()).next().unwrap_or(30) } else { 1 };
    let (_moto, endpoint) = start_moto();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let knowledge = Arc::new(Knowledge::load_default().expect("catalog loads"));
        let artifacts = tempfile::tempdir().unwrap();
        let local = engine(knowledge.clone(), Arc::new(LocalArtifactStore::new(artifacts.path()))).await;
        let s3 = engine(knowledge, s3_store(&endpoint).await).await;
        let profile: serde_json::Value =
            serde_json::from_slice(&std::fs::read(repo("examples/profiles/fin-prod.json")).unwrap()).unwrap();
        // One warm-up bundle each (connection pools, page cache), not counted.
        one_bundle(&local, &profile, 0).await;
        one_bundle(&s3, &profile, 0).await;
        println!("load average before: {}", loadavg());
        let (mut l, mut s, mut d) = (Vec::new(), Vec::new(), Vec::new());
        for i in 1..=rounds {
            // Alternate which store goes first, so neither always follows the other.
            let (a, b) = if i % 2 == 0 {
                (one_bundle(&local, &profile, i).await, one_bundle(&s3, &profile, i).await)
            } else {
                let b = one_bundle(&s3, &profile, i).await;
                (one_bundle(&local, &profile, i).await, b)
            };
            println!("bundle {i:>3}: local {:>7.1} ms  s3 {:>7.1} ms", ms(a), ms(b));
            l.push(ms(a));
            s.push(ms(b));
            d.push(ms(b) - ms(a));
        }
        println!("load average after:  {}", loadavg());
        for (name, xs) in [("local directory", &mut l), ("S3 (moto)", &mut s), ("S3 − local, per pair", &mut d)] {
            let (median, p10, p90) = summary(xs);
            println!("{name:<22} median {median:>7.1} ms   p10 {p10:>7.1}   p90 {p90:>7.1}   (n = {})", xs.len());
        }
    });
}
