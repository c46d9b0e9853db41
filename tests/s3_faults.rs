//! S3 faults through a faulting proxy in front of moto (tests/common/fault_proxy.rs):
//! 500, 503, responses slower than the per-attempt timeout and connection resets.
//! Single faults are absorbed by the SDK's retry; faults that outlast it fail the
//! stage transiently and the engine retries it; faults that outlast the engine fail
//! the run. In every case the published bundle holds only whole files of stages
//! that finished, byte-equal to what a fault-free run on the local directory writes.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::fault_proxy::{Fault, FaultProxy};
use hyper::Method;
use seccfg::app::{App, ProfileRef};
use seccfg::aws::AwsSettings;
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::store::{ArtifactStore, LocalArtifactStore, RunRecord, S3ArtifactStore, S3Location};
use serde_json::json;

const SERVICE: &str = "Amazon SQS";
/// Faults with a delay hold a request this long, past the 1 s attempt timeout below.
const SLOW: Duration = Duration::from_secs(3);

struct Setup {
    app: Arc<App>,
    worker: Worker,
    proxy: FaultProxy,
    /// Straight to moto, for inspecting the bucket without faults.
    direct: aws_sdk_s3::Client,
    bucket: String,
    _db: tempfile::TempDir,
}

fn worker(app: &App) -> Worker {
    let config = WorkerConfig { backoff_base: Duration::from_millis(20), ..WorkerConfig::default() };
    Worker::new("w".into(), app.store.clone(), app.artifacts.clone(), app.knowledge.clone(), config)
}

async fn setup() -> Setup {
    let moto = common::moto::moto();
    let direct = common::moto::s3_client(&common::moto::settings(&moto.endpoint)).await;
    let bucket = common::moto::bucket(&direct).await;
    let proxy = FaultProxy::start(&moto.endpoint).await;
    let settings = AwsSettings {
        aws_endpoint_url: Some(proxy.endpoint.clone()),
        aws_max_attempts: 3,
        aws_attempt_timeout_ms: 1_000,
    };
    let client = common::moto::s3_client(&settings).await;
    let location = S3Location { bucket: bucket.clone(), prefix: "bundles".into() };
    let store: Arc<dyn ArtifactStore> = Arc::new(S3ArtifactStore::new(client, location, None));
    let (db, _, db_dir) = common::fresh_sqlite().await;
    let app = Arc::new(App::new(db, store, common::knowledge()));
    let worker = worker(&app);
    Setup { app, worker, proxy, direct, bucket, _db: db_dir }
}

async fn submit(app: &App) -> String {
    let request = json!({ "requestId": "REQ-FAULTS", "services": [{ "serviceName": SERVICE }] });
    let profile = ProfileRef::Embedded(common::example_json("profiles/fin-prod.json"));
    app.submit_request(&request, profile).await.unwrap().runs.remove(0).run_id
}

/// Steps the worker until the run has finished, waiting out the engine's back-off.
async fn finish(app: &App, worker: &Worker, run_id: &str) -> RunRecord {
    for _ in 0..5000 {
        let run = app.store.run(run_id).await.unwrap().unwrap();
        if matches!(run.status.as_str(), "succeeded" | "failed") {
            return run;
        }
        if !worker.step().await.unwrap() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    panic!("run {run_id} did not finish");
}

/// Every file of a finished run as the API reads it: name → size and SHA-256.
async fn bundle(app: &App, run_id: &str) -> BTreeMap<String, String> {
    use sha2::Digest;
    let mut files = BTreeMap::new();
    for info in app.artifact_list(run_id).await.unwrap() {
        let (_, bytes) = app.artifact(run_id, &info.name).await.unwrap().expect("listed file reads");
        files.insert(info.name, format!("{} bytes, sha256 {}", bytes.len(), hex::encode(sha2::Sha256::digest(&bytes))));
    }
    files
}

/// The same request, fault-free, on the local directory: what a bundle must hold.
async fn reference() -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let (db, _, _db_dir) = common::fresh_sqlite().await;
    let app = App::new(db, Arc::new(LocalArtifactStore::new(dir.path())), common::knowledge());
    let run_id = submit(&app).await;
    let run = finish(&app, &worker(&app), &run_id).await;
    assert_eq!(run.status, "succeeded");
    bundle(&app, &run_id).await
}

/// Keys under the run's published prefix in the bucket, read directly from moto.
async fn published_keys(t: &Setup, run: &RunRecord) -> Vec<String> {
    let prefix = format!("bundles/{}/{}/v{}/", run.profile_id, run.service_id, run.bundle_version);
    let page = t.direct.list_objects_v2().bucket(&t.bucket).prefix(&prefix).send().await.unwrap();
    page.contents().iter().filter_map(|o| o.key()).map(|k| k[prefix.len()..].to_string()).collect()
}

/// Objects under the old attempt-copy prefix: none, whatever failed (an attempt
/// publishes from memory and writes nothing of its own).
async fn attempt_copies(t: &Setup) -> Vec<String> {
    let page = t.direct.list_objects_v2().bucket(&t.bucket).prefix("bundles/attempts/").send().await.unwrap();
    page.contents().iter().filter_map(|o| o.key()).map(str::to_string).collect()
}

/// A PUT of `file` into a bundle.
fn put_of(file: &'static str) -> impl Fn(&Method, &str) -> bool + Send + Sync {
    move |method, path| method == Method::PUT && path.ends_with(&format!("/{file}"))
}

fn attempts(run: &RunRecord) -> BTreeMap<String, i64> {
    run.stages.iter().map(|s| (s.name.clone(), s.attempts)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_faults_are_absorbed_by_the_sdk_retry() {
    let t = setup().await;
    let expected = reference().await;
    // One fault of each kind, each on a different write, and two on reads.
    t.proxy.inject(1, Fault::Status(500), put_of("facts.json"));
    t.proxy.inject(1, Fault::Status(503), put_of("analysis.json"));
    // A held request reaches moto after the retry has written the name (refused,
    // same bytes), which is harmless.
    t.proxy.inject(1, Fault::Slow(SLOW), put_of("controls.json"));
    t.proxy.inject(1, Fault::Reset, put_of("template.yaml"));
    t.proxy.inject(1, Fault::Reset, put_of("iam-model.json"));
    let run_id = submit(&t.app).await;
    let run = finish(&t.app, &t.worker, &run_id).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.stages);
    assert!(attempts(&run).values().all(|&a| a == 1), "no stage needed the engine's retry: {:?}", attempts(&run));
    let injected: Vec<Fault> = t.proxy.injected().into_iter().map(|(_, f)| f).collect();
    assert_eq!(injected.len(), 5, "{:?}", t.proxy.injected());

    // Reads retry too: a 503 and a reset on the way to the same file.
    let read = |m: &Method, p: &str| m == Method::GET && p.ends_with("/bundle.json");
    t.proxy.inject(1, Fault::Status(503), read);
    t.proxy.inject(1, Fault::Reset, read);
    assert_eq!(bundle(&t.app, &run_id).await, expected, "every file whole and equal to the fault-free bundle");
    assert_eq!(t.proxy.injected().len(), 7);
    assert_eq!(attempt_copies(&t).await, Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_outlasting_the_sdk_retry_fail_the_stage_transiently_and_the_engine_retries_it() {
    let t = setup().await;
    let expected = reference().await;
    // Three faults in a row exhaust the SDK's three attempts on one write.
    // While publishing the iac stage:
    for fault in [Fault::Status(500), Fault::Reset, Fault::Status(503)] {
        t.proxy.inject(1, fault, put_of("template.yaml"));
    }
    // While publishing the controls stage, after controls.json is already published:
    for fault in [Fault::Slow(SLOW), Fault::Status(503), Fault::Status(500)] {
        t.proxy.inject(1, fault, put_of("controls.md"));
    }
    let run_id = submit(&t.app).await;
    let run = finish(&t.app, &t.worker, &run_id).await;
    assert_eq!(run.status, "succeeded", "{:?}", run.stages);
    let tries = attempts(&run);
    assert_eq!((tries["controls"], tries["iac"]), (2, 2), "{tries:?}");
    assert!(tries.iter().filter(|(s, _)| !["controls", "iac"].contains(&s.as_str())).all(|(_, &a)| a == 1));
    assert_eq!(t.proxy.injected().len(), 6);
    assert_eq!(bundle(&t.app, &run_id).await, expected, "the retried stages published whole, equal files");
    assert_eq!(attempt_copies(&t).await, Vec::<String>::new(), "failed attempts leave no copies");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_outlasting_the_engine_fail_the_run_with_nothing_of_the_stage_published() {
    let t = setup().await;
    let expected = reference().await;
    // Every publish of controls.md fails: controls.json of each attempt is published first.
    t.proxy.inject(usize::MAX, Fault::Status(500), put_of("controls.md"));
    let run_id = submit(&t.app).await;
    let run = finish(&t.app, &t.worker, &run_id).await;
    assert_eq!(run.status, "failed");
    let controls = run.stages.iter().find(|s| s.name == "controls").unwrap();
    assert_eq!((controls.status.as_str(), controls.attempts), ("failed", controls.max_attempts));
    let error = controls.error.as_deref().unwrap_or_default();
    assert!(error.contains("PutObject") && error.contains("InternalError"), "{error}");

    // Only the stages that finished are in the bundle, whole; nothing of the controls stage.
    t.proxy.heal();
    let published = bundle(&t.app, &run_id).await;
    let finished: BTreeMap<String, String> = expected
        .into_iter()
        .filter(|(name, _)| ["facts.json", "analysis.json", "analysis.md"].contains(&name.as_str()))
        .collect();
    assert_eq!(published, finished);
    assert_eq!(published_keys(&t, &run).await, finished.keys().cloned().collect::<Vec<_>>());
    assert_eq!(attempt_copies(&t).await, Vec::<String>::new());
}
