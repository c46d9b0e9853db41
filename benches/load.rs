//! Throughput and latency under load (issue 15), release build:
//! `cargo bench --bench load` (or `scripts/bench`). Against the real `seccfg serve`
//! binary on loopback, with work committed to its database by this process:
//!
//! - bundles/s through the job table, SQLite and (when `SECCFG_TEST_POSTGRES_URL` is
//!   set) PostgreSQL, with 1, 2 and 4 workers;
//! - submission → completion of one interactive request behind a 2,000-run bulk backlog;
//! - the full catalog (every IAM prefix, requests of 50 services) through 2 workers;
//! - API reads (`GET /v1/runs?limit=50`, 16 connections) and server peak RSS while
//!   2 workers drain a 10,000-run burst;
//! - one-shot `seccfg run` for S3: wall time and max RSS (`/usr/bin/time -v`).
//!
//! The machine is shared, so every figure is printed beside the in-memory pipeline
//! (`pipeline::run_all`, what `benches/pipeline.rs` measures) timed in the same run on
//! the same service mix, as a ratio. Under `cargo test` (no `--bench`) it does a small
//! smoke run of each part. `SECCFG_BENCH_DIR` chooses where the databases and artifact
//! directories go (default: the system's temporary directory).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use seccfg::app::{App, ProfileRef};
use seccfg::input::Profile;
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore, Store};
use serde_json::{Value, json};

use common::{SERVICES, Server, fresh_postgres, load, quantile};

struct Sizes {
    /// Runs per throughput measurement.
    throughput_runs: usize,
    backlog: usize,
    interactive_samples: usize,
    burst: usize,
    burst_seconds: u64,
    read_seconds: u64,
    /// Catalog services in the full-catalog measurement (`None`: all of them) and per request.
    catalog: (Option<usize>, usize),
}

/// The in-memory reference, measured once at the start of the run.
struct Reference {
    /// Median time of one bundle (all stages), single thread.
    p50: Duration,
    /// Bundles/s with 1, 2 and 4 threads over the service mix.
    per_s: [(usize, f64); 3],
}

impl Reference {
    fn per_s(&self, threads: usize) -> f64 {
        self.per_s.iter().find(|(t, _)| *t == threads).map(|(_, v)| *v).expect("measured")
    }
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let sizes = if measuring {
        Sizes {
            throughput_runs: 300,
            backlog: 2000,
            interactive_samples: 20,
            burst: 10_000,
            burst_seconds: 20,
            read_seconds: 5,
            catalog: (None, 50),
        }
    } else {
        // Smoke mode (`cargo test --all-targets`): every path once, small; 10 catalog services, not 445.
        Sizes {
            throughput_runs: 25,
            backlog: 50,
            interactive_samples: 2,
            burst: 50,
            burst_seconds: 1,
            read_seconds: 1,
            catalog: (Some(10), 5),
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let knowledge = Arc::new(Knowledge::load_default().expect("catalog loads"));
    let profile_json = example("profiles/fin-prod.json");
    let reference = reference(&knowledge, &profile_json, if measuring { 3 } else { 1 });
    println!(
        "in-memory pipeline (run_all, {} services): p50 {:.1} ms/bundle; {:.1} bundles/s on 1 thread, {:.1} on 2, {:.1} on 4",
        SERVICES.len(),
        ms(reference.p50),
        reference.per_s(1),
        reference.per_s(2),
        reference.per_s(4)
    );
    let files = std::env::var_os("SECCFG_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    println!("SQLite databases and artifact directories under {}", files.display());
    runtime.block_on(async {
        let mut backends = vec![("sqlite", None)];
        if let (Ok(admin), true) = (std::env::var("SECCFG_TEST_POSTGRES_URL"), measuring) {
            backends.push(("postgres", Some(admin)));
        }
        for (backend, admin) in &backends {
            for workers in [1, 2, 4] {
                let db = Db::new(admin.as_deref()).await;
                throughput(&knowledge, &db, backend, workers, sizes.throughput_runs, &reference).await;
            }
        }
        let db = Db::new(None).await;
        interactive_behind_backlog(&knowledge, &db, &sizes, &reference).await;
        let db = Db::new(None).await;
        full_catalog(&knowledge, &db, sizes.catalog, &reference).await;
        let db = Db::new(None).await;
        burst(&knowledge, &db, &sizes, &reference).await;
    });
    one_shot_cli(&reference, if measuring { 5 } else { 1 });
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn example(path: &str) -> Value {
    let bytes = std::fs::read(format!("{}/examples/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `rounds` passes over the service mix on 1, 2 and 4 threads.
fn reference(knowledge: &Knowledge, profile_json: &Value, rounds: usize) -> Reference {
    let profile = Profile::from_value(profile_json.clone()).unwrap().0;
    let mut times = Vec::new();
    for service in SERVICES.iter().cycle().take(SERVICES.len() * rounds) {
        let t = Instant::now();
        seccfg::pipeline::run_all(knowledge, &profile, service)
            .unwrap_or_else(|(s, e)| panic!("{service}: {s:?}: {e}"));
        times.push(t.elapsed());
    }
    times.sort_unstable();
    let per_s = [1, 2, 4].map(|threads| {
        let started = Instant::now();
        std::thread::scope(|scope| {
            for t in 0..threads {
                let profile = &profile;
                scope.spawn(move || {
                    for service in
                        SERVICES.iter().cycle().skip(t).step_by(threads).take(SERVICES.len() * rounds / threads)
                    {
                        seccfg::pipeline::run_all(knowledge, profile, service)
                            .unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
                    }
                });
            }
        });
        let bundles = (SERVICES.len() * rounds / threads) * threads;
        (threads, bundles as f64 / started.elapsed().as_secs_f64())
    });
    Reference { p50: quantile(&times, 0.5), per_s }
}

/// A fresh database (SQLite in a temporary directory, or PostgreSQL) and an app on it.
struct Db {
    url: String,
    dir: tempfile::TempDir,
}

impl Db {
    /// In `SECCFG_BENCH_DIR` when set (e.g. /dev/shm, to leave the disk's file creation
    /// out of the measurement), else the system's temporary directory.
    async fn new(postgres_admin: Option<&str>) -> Db {
        let parent = std::env::var_os("SECCFG_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
        let dir = tempfile::tempdir_in(parent).unwrap();
        let url = match postgres_admin {
            Some(admin) => fresh_postgres(admin).await,
            None => format!("sqlite:{}", dir.path().join("bench.db").display()),
        };
        Db { url, dir }
    }

    async fn app(&self, knowledge: &Arc<Knowledge>) -> App {
        let store = store::connect(&self.url).await.unwrap();
        store.migrate().await.unwrap();
        App::new(store, Arc::new(LocalArtifactStore::new(self.artifacts())), knowledge.clone())
    }

    fn artifacts(&self) -> std::path::PathBuf {
        self.dir.path().join("artifacts")
    }

    async fn serve(&self, workers: usize) -> Server {
        Server::start(&[
            ("SECCFG_DATABASE_URL", self.url.clone()),
            ("SECCFG_ARTIFACT_DIR", self.artifacts().display().to_string()),
            ("SECCFG_WORKERS", workers.to_string()),
        ])
        .await
    }
}

/// Commits `runs` runs over `services`, `per_request` services per request; returns the run ids.
async fn submit(app: &App, services: &[&str], runs: usize, per_request: usize) -> Vec<String> {
    let profile = example("profiles/fin-prod.json");
    let mut ids = Vec::with_capacity(runs);
    let names: Vec<&str> = services.iter().cycle().take(runs).copied().collect();
    for (i, chunk) in names.chunks(per_request).enumerate() {
        let services: Vec<Value> = chunk.iter().map(|s| json!({ "serviceName": s })).collect();
        let request = json!({ "requestId": format!("BENCH-{i}"), "services": services });
        let accepted = app.submit_request(&request, ProfileRef::Embedded(profile.clone())).await.expect("accepted");
        ids.extend(accepted.runs.into_iter().map(|r| r.run_id));
    }
    ids
}

/// Waits until no run is queued or running; returns (succeeded, failed).
async fn drained(store: &Arc<dyn Store>) -> (i64, i64) {
    loop {
        let snapshot = store.queue_snapshot(store::now_ms()).await.unwrap();
        let count = |s: &str| snapshot.runs_by_status.iter().find(|(status, _)| status == s).map_or(0, |(_, n)| *n);
        if count("queued") + count("running") == 0 {
            return (count("succeeded"), count("failed"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn throughput(knowledge: &Arc<Knowledge>, db: &Db, backend: &str, workers: usize, runs: usize, r: &Reference) {
    let app = db.app(knowledge).await;
    submit(&app, &SERVICES, runs, SERVICES.len()).await;
    let server = db.serve(workers).await;
    let started = Instant::now();
    let (succeeded, failed) = drained(&app.store).await;
    let elapsed = started.elapsed().as_secs_f64();
    drop(server);
    assert_eq!((succeeded, failed), (runs as i64, 0), "every run succeeds");
    let per_s = runs as f64 / elapsed;
    let reference = r.per_s(workers);
    println!(
        "job table {backend:<8} {workers} worker(s): {runs} runs in {elapsed:.1} s = {per_s:.1} bundles/s; \
         in-memory {reference:.1}/s on {workers} thread(s); ratio {:.2} (overhead {:.0}%)",
        per_s / reference,
        (reference / per_s - 1.0) * 100.0
    );
}

async fn interactive_behind_backlog(knowledge: &Arc<Knowledge>, db: &Db, sizes: &Sizes, r: &Reference) {
    let app = db.app(knowledge).await;
    // A CI burst: requests of 25 services are bulk work.
    submit(&app, &SERVICES, sizes.backlog, SERVICES.len()).await;
    let _server = db.serve(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let request = example("requests/s3.json");
    let profile = example("profiles/fin-prod.json");
    let mut latencies = Vec::new();
    for _ in 0..sizes.interactive_samples {
        let started = Instant::now();
        let accepted = app.submit_request(&request, ProfileRef::Embedded(profile.clone())).await.expect("accepted");
        let run_id = &accepted.runs[0].run_id;
        loop {
            let run = app.store.run(run_id).await.unwrap().unwrap();
            if run.status == "succeeded" {
                break;
            }
            assert_ne!(run.status, "failed", "{:?}", run.error);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies.sort_unstable();
    let left = app.store.queue_snapshot(store::now_ms()).await.unwrap().queued;
    let (p50, p99) = (quantile(&latencies, 0.5), quantile(&latencies, 0.99));
    println!(
        "interactive S3 request behind a {}-run bulk backlog (sqlite, 2 workers, {} samples, {left} stages still queued after): \
         p50 {:.0} ms, p99 {:.0} ms; in-memory bundle p50 {:.1} ms; ratio p50 {:.1}, p99 {:.1}",
        sizes.backlog,
        latencies.len(),
        ms(p50),
        ms(p99),
        ms(r.p50),
        ms(p50) / ms(r.p50),
        ms(p99) / ms(r.p50)
    );
}

async fn full_catalog(
    knowledge: &Arc<Knowledge>,
    db: &Db,
    (count, per_request): (Option<usize>, usize),
    r: &Reference,
) {
    let app = db.app(knowledge).await;
    let all = knowledge.catalog().services().map(|s| s.id.clone());
    let ids: Vec<String> = all.take(count.unwrap_or(usize::MAX)).collect();
    let names: Vec<&str> = ids.iter().map(String::as_str).collect();
    let server = db.serve(2).await;
    let started = Instant::now();
    submit(&app, &names, names.len(), per_request).await;
    let (succeeded, failed) = drained(&app.store).await;
    let elapsed = started.elapsed().as_secs_f64();
    drop(server);
    let expected = names.len() as f64 / r.per_s(2);
    println!(
        "full catalog: {} IAM prefixes in requests of {per_request}, sqlite, 2 workers: {elapsed:.1} s \
         ({succeeded} succeeded, {failed} failed); in-memory estimate {expected:.1} s at {:.1}/s; ratio {:.2}",
        names.len(),
        r.per_s(2),
        elapsed / expected
    );
}

async fn burst(knowledge: &Arc<Knowledge>, db: &Db, sizes: &Sizes, r: &Reference) {
    let app = db.app(knowledge).await;
    submit(&app, &SERVICES, sizes.burst, SERVICES.len()).await;
    let server = db.serve(2).await;
    let started = Instant::now();
    let path = "/v1/runs?limit=50";
    let (count, latencies, elapsed) = load(server.port, path, 16, Duration::from_secs(sizes.read_seconds)).await;
    let reads = count as f64 / elapsed.as_secs_f64();
    let remaining = Duration::from_secs(sizes.burst_seconds).saturating_sub(started.elapsed());
    tokio::time::sleep(remaining).await;
    let snapshot = app.store.queue_snapshot(store::now_ms()).await.unwrap();
    let done = snapshot.runs_by_status.iter().find(|(s, _)| s == "succeeded").map_or(0, |(_, n)| *n);
    let rss = server.peak_rss_mib();
    let own = own_peak_rss_mib();
    println!(
        "API reads during a {}-run burst (sqlite, 2 workers busy): GET {path} {reads:.0} req/s, p50 {:.2} ms, p99 {:.2} ms; \
         in-memory bundle p50 {:.1} ms; ratio read p99 / bundle p50 {:.2}",
        sizes.burst,
        ms(quantile(&latencies, 0.5)),
        ms(quantile(&latencies, 0.99)),
        ms(r.p50),
        ms(quantile(&latencies, 0.99)) / ms(r.p50)
    );
    println!(
        "server peak RSS over the first {:.0} s of the burst ({done} runs done): {rss:.0} MiB; \
         this bench process (catalog + in-memory pipeline) {own:.0} MiB; ratio {:.2}",
        started.elapsed().as_secs_f64(),
        rss / own
    );
}

fn own_peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// `seccfg run` for S3 on a fresh SQLite file, `times` times: median wall and max RSS.
fn one_shot_cli(r: &Reference, times: usize) {
    let mut samples = Vec::new();
    for _ in 0..times {
        let dir = tempfile::tempdir().unwrap();
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let out = std::process::Command::new("/usr/bin/time")
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_seccfg"))
            .args(["run", "--profile", &format!("{examples}/profiles/fin-prod.json")])
            .args(["--request", &format!("{examples}/requests/s3.json")])
            .arg("--out")
            .arg(dir.path().join("out"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.path().join("cli.db").display()))
            .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
            .output()
            .expect("/usr/bin/time runs seccfg");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report = String::from_utf8_lossy(&out.stderr);
        let field = |name: &str| report.lines().find_map(|l| l.trim().strip_prefix(name)).map(str::trim).unwrap();
        let wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss):");
        let (min, sec) = wall.rsplit_once(':').unwrap();
        let wall = min.parse::<f64>().unwrap() * 60.0 + sec.parse::<f64>().unwrap();
        let rss: f64 = field("Maximum resident set size (kbytes):").parse().unwrap();
        samples.push((wall * 1000.0, rss / 1024.0));
    }
    samples.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (wall, _) = samples[samples.len() / 2];
    let rss = samples.iter().map(|s| s.1).fold(0.0, f64::max);
    println!(
        "one-shot `seccfg run` for S3 (sqlite, {} runs): median wall {wall:.0} ms, max RSS {rss:.0} MiB; \
         in-memory bundle p50 {:.1} ms; ratio wall / bundle {:.1}",
        samples.len(),
        ms(r.p50),
        wall / ms(r.p50)
    );
}
