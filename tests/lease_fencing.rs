//! Lease fencing with real processes: a worker paused (SIGSTOP) past its lease
//! and then resumed (SIGCONT) must not rewrite the artifacts that the worker
//! which took over published; its attempt ends `abandoned` and leaves no files of
//! its own (an attempt publishes from memory after its lease check).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use seccfg::app::{App, ProfileRef};
use seccfg::store::LocalArtifactStore;
use serde_json::json;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-CONT", &self.0.id().to_string()]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(db_url: &str, artifacts: &Path, lease_s: u64, delay_ms: u64) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .env("SECCFG_DATABASE_URL", db_url)
        .env("SECCFG_ARTIFACT_DIR", artifacts)
        .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
        .env("SECCFG_WORKERS", "1")
        .env("SECCFG_LEASE_SECONDS", lease_s.to_string())
        .env("SECCFG_FAULT_STAGE_DELAY_MS", delay_ms.to_string())
        .env("SECCFG_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("seccfg binary starts");
    Server(child)
}

fn signal(server: &Server, sig: &str) {
    assert!(Command::new("kill").args([sig, &server.0.id().to_string()]).status().unwrap().success());
}

/// Every published file of a run with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            (name, (std::fs::read(e.path()).unwrap(), e.metadata().unwrap().modified().unwrap()))
        })
        .collect()
}

async fn attempts(pool: &sqlx::SqlitePool, run_id: &str) -> Vec<(i64, i64, String, Option<i64>, Option<String>)> {
    sqlx::query_as("SELECT position, attempt, worker, finished_at, outcome FROM stage_attempts WHERE run_id = $1")
        .bind(run_id)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn until<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_resumed_after_losing_its_lease_publishes_nothing() {
    let (store, url, _db) = common::fresh_sqlite().await;
    let artifacts = tempfile::tempdir().unwrap();
    let app = App::new(store.clone(), Arc::new(LocalArtifactStore::new(artifacts.path())), common::knowledge());
    let request = json!({"requestId": "REQ-FENCE", "services": [{"serviceName": "Amazon SQS"}]});
    let accepted = app
        .submit_request(&request, ProfileRef::Embedded(common::example_json("profiles/fin-prod.json")))
        .await
        .unwrap();
    let run_id = accepted.runs[0].run_id.clone();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();

    // Worker A claims the first stage, then is frozen mid-stage.
    let stale = serve(&url, artifacts.path(), 2, 1500);
    until("A to claim the first stage", Duration::from_secs(30), async || {
        attempts(&pool, &run_id).await.into_iter().next()
    })
    .await;
    signal(&stale, "-STOP");

    // Worker B takes over once A's lease expires and publishes the whole bundle.
    let fresh = serve(&url, artifacts.path(), 2, 0);
    until("B to finish the run", Duration::from_secs(90), async || {
        let run = store.run(&run_id).await.unwrap().unwrap();
        (run.status == "succeeded").then_some(())
    })
    .await;
    drop(fresh);
    let run_dir = artifacts.path().join(&run_id);
    let published = snapshot(&run_dir);
    assert!(published.contains_key("facts.json"), "{:?}", published.keys());

    // A wakes up, finishes its stale attempt, and must publish nothing.
    signal(&stale, "-CONT");
    let stale_attempt = until("A's attempt to end", Duration::from_secs(30), async || {
        attempts(&pool, &run_id).await.into_iter().find(|a| a.0 == 0 && a.1 == 1 && a.3.is_some())
    })
    .await;
    assert_eq!(stale_attempt.4.as_deref(), Some("abandoned"), "{stale_attempt:?}");
    assert!(
        !artifacts.path().join(format!("{run_id}.s0a1")).exists(),
        "A's abandoned attempt left no copies and published nothing"
    );
    let leftovers: Vec<String> = std::fs::read_dir(artifacts.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|name| name.starts_with(&format!("{run_id}.")))
        .collect();
    assert!(leftovers.is_empty(), "no attempt's copies are left behind: {leftovers:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(snapshot(&run_dir), published, "no published artifact was rewritten");
    let all = attempts(&pool, &run_id).await;
    assert!(all.iter().all(|a| a.3.is_some()), "every attempt ended: {all:?}");
    assert_eq!(all.iter().filter(|a| a.4.as_deref() == Some("abandoned")).count(), 1, "{all:?}");
}
