//! Durability of the stage engine with real processes: a SIGKILL mid-run, and
//! several servers sharing one PostgreSQL.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use seccfg::app::{App, ProfileRef};
use seccfg::store::{LocalArtifactStore, RunRecord, Store};
use serde_json::json;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn serve(db_url: &str, artifacts: &std::path::Path, workers: usize, lease_s: u64, delay_ms: u64) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .env("SECCFG_DATABASE_URL", db_url)
        .env("SECCFG_ARTIFACT_DIR", artifacts)
        .env("SECCFG_BIND", format!("127.0.0.1:{}", free_port()))
        .env("SECCFG_WORKERS", workers.to_string())
        .env("SECCFG_LEASE_SECONDS", lease_s.to_string())
        .env("SECCFG_FAULT_STAGE_DELAY_MS", delay_ms.to_string())
        .env("SECCFG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("seccfg binary starts");
    Server(child)
}

async fn submit(store: Arc<dyn Store>, artifacts: &std::path::Path, services: &[&str], copies: usize) -> Vec<String> {
    let app = App::new(store, Arc::new(LocalArtifactStore::new(artifacts)), common::knowledge());
    let mut ids = Vec::new();
    for i in 0..copies {
        let names: Vec<_> = services.iter().map(|s| json!({ "serviceName": s })).collect();
        let request = json!({ "requestId": format!("REQ-{i}"), "services": names });
        let profile = ProfileRef::Embedded(common::example_json("profiles/fin-prod.json"));
        let accepted = app.submit_request(&request, profile).await.expect("request accepted");
        ids.extend(accepted.runs.into_iter().map(|r| r.run_id));
    }
    ids
}

async fn wait_for(
    store: &Arc<dyn Store>,
    ids: &[String],
    timeout: Duration,
    done: impl Fn(&[RunRecord]) -> bool,
) -> Vec<RunRecord> {
    let deadline = Instant::now() + timeout;
    loop {
        let mut runs = Vec::new();
        for id in ids {
            runs.push(store.run(id).await.unwrap().unwrap());
        }
        if done(&runs) {
            return runs;
        }
        assert!(Instant::now() < deadline, "timed out; runs: {runs:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// No two executions of one stage overlapped: each attempt started after the
/// previous one finished or after its lease could have expired.
async fn assert_no_concurrent_execution(store: &Arc<dyn Store>, ids: &[String], lease_ms: i64) -> usize {
    let mut executions = 0;
    for id in ids {
        let attempts = store.stage_attempts(id).await.unwrap();
        executions += attempts.len();
        let mut by_stage: std::collections::BTreeMap<i64, Vec<_>> = Default::default();
        for a in attempts {
            by_stage.entry(a.0).or_default().push(a);
        }
        for list in by_stage.values() {
            for pair in list.windows(2) {
                let (prev, next) = (&pair[0], &pair[1]);
                let prev_end = prev.4.unwrap_or(prev.3 + lease_ms);
                assert!(next.3 >= prev_end, "stage {} of run {id} ran concurrently: {list:?}", prev.0);
            }
        }
    }
    executions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_resumes_after_restart() {
    let (store, url, _db) = common::fresh_sqlite().await;
    let artifacts = tempfile::tempdir().unwrap();
    let ids = submit(store.clone(), artifacts.path(), &["Amazon S3", "SNS", "SQS"], 1).await;

    let first = serve(&url, artifacts.path(), 1, 2, 1500);
    wait_for(&store, &ids, Duration::from_secs(30), |runs| {
        runs.iter().any(|r| r.stages.iter().any(|s| s.status == "running"))
    })
    .await;
    drop(first); // SIGKILL: no shutdown hook runs, the lease stays behind.

    let killed: Vec<_> = store.runs(&seccfg::store::RunFilter { limit: 1000, ..Default::default() }).await.unwrap();
    assert!(
        killed.iter().any(|r| r.stages.iter().any(|s| s.status == "running")),
        "a stage was mid-flight at the kill"
    );

    let _second = serve(&url, artifacts.path(), 1, 2, 0);
    let runs =
        wait_for(&store, &ids, Duration::from_secs(60), |runs| runs.iter().all(|r| r.status == "succeeded")).await;
    assert!(runs.iter().any(|r| r.stages[0].attempts == 2), "the killed stage ran again after its lease expired");
    assert_no_concurrent_execution(&store, &ids, 2000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_on_one_postgres_run_every_stage_once() {
    let (store, url) = common::fresh_postgres().await;
    let artifacts = tempfile::tempdir().unwrap();
    let ids = submit(store.clone(), artifacts.path(), &["s3", "dynamodb", "lambda", "kms", "sns"], 12).await;
    assert_eq!(ids.len(), 60);

    let _a = serve(&url, artifacts.path(), 2, 30, 0);
    let _b = serve(&url, artifacts.path(), 2, 30, 0);
    let runs =
        wait_for(&store, &ids, Duration::from_secs(120), |runs| runs.iter().all(|r| r.status == "succeeded")).await;
    let stages: usize = runs.iter().map(|r| r.stages.len()).sum();
    assert!(runs.iter().flat_map(|r| &r.stages).all(|s| s.status == "succeeded" && s.attempts == 1));
    let executions = assert_no_concurrent_execution(&store, &ids, 30_000).await;
    assert_eq!(executions, stages, "every stage ran exactly once");
}
