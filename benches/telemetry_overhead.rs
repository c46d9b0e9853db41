//! Overhead of the telemetry on API reads: the real `seccfg serve` binary (API only,
//! SQLite, 200 runs stored) on loopback, three ways — HTTP metrics middleware off and
//! tracing off (`SECCFG_HTTP_METRICS=off`, a benchmark switch), the default (metrics on,
//! tracing off), and metrics plus OpenTelemetry tracing exported over OTLP/HTTP to a
//! receiver in this process (which counts the export requests, so the traced rows are
//! shown to export). For each: `GET /v1/runs?limit=50` (the API read benchmark of
//! issue 14, a database read) and `GET /v1/catalog/services/s3` (an in-memory read),
//! 16 keep-alive connections, 1 s warm-up, then 5 s measured. The three configurations
//! are interleaved over `SECCFG_BENCH_ROUNDS` rounds (default 3) so machine load drifts
//! hit them alike; each row prints req/s, p50, p99 and the server's CPU time per request
//! (utime+stime from /proc, which load from other processes disturbs far less than wall
//! time), and the summary gives medians over rounds with ratios to "off".
//! `cargo bench --bench telemetry_overhead`; under `cargo test` a short smoke run.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use seccfg::app::{App, ProfileRef};
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, LocalArtifactStore};
use serde_json::json;

use common::{Server, load, quantile};

const PATHS: [&str; 2] = ["/v1/runs?limit=50", "/v1/catalog/services/s3"];
const CONFIGS: [&str; 3] = ["off (no metrics, no tracing)", "metrics on, tracing off", "metrics + tracing (OTLP)"];

/// One measured row: requests per second, p50 and p99 in ms, server CPU µs per request.
#[derive(Clone, Copy)]
struct Row {
    rps: f64,
    p50: f64,
    p99: f64,
    cpu_us: f64,
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let (warm, measure, rounds) = if measuring {
        let rounds = std::env::var("SECCFG_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(3);
        (Duration::from_secs(1), Duration::from_secs(5), rounds)
    } else {
        (Duration::ZERO, Duration::from_millis(200), 1)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("bench.db").display());
        populate(&url, dir.path()).await;
        let (sink, exports) = otlp_sink().await;
        // rows[config][path] over rounds
        let mut rows = vec![vec![Vec::<Row>::new(); PATHS.len()]; CONFIGS.len()];
        for round in 1..=rounds {
            for (c, label) in CONFIGS.iter().enumerate() {
                let mut env = match c {
                    0 => vec![("SECCFG_HTTP_METRICS", "off".to_string())],
                    1 => vec![],
                    _ => vec![
                        ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{sink}")),
                        ("OTEL_BSP_SCHEDULE_DELAY", "200".into()),
                    ],
                };
                env.extend([
                    ("SECCFG_DATABASE_URL", url.clone()),
                    ("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts").display().to_string()),
                    ("SECCFG_WORKERS", "0".into()),
                ]);
                let exported_before = exports.load(Ordering::Relaxed);
                let server = Server::start(&env).await;
                for (p, path) in PATHS.iter().enumerate() {
                    let row = measure_path(&server, path, warm, measure).await;
                    println!(
                        "round {round} {label:<30} GET {path:<25} {:>7.0} req/s  p50 {:.2} ms  p99 {:.2} ms  cpu {:.0} µs/req",
                        row.rps, row.p50, row.p99, row.cpu_us
                    );
                    rows[c][p].push(row);
                }
                drop(server);
                if c == 2 {
                    // The batch exporter flushes every 200 ms; give it one period.
                    tokio::time::sleep(Duration::from_millis(400)).await;
                    let n = exports.load(Ordering::Relaxed) - exported_before;
                    println!("round {round} OTLP export requests received while traced: {n}");
                    assert!(n > 0, "the traced configuration exported nothing");
                }
            }
        }
        summary(&rows);
    });
}

/// Warms up, then loads `path` and reads the server's CPU time around the measurement.
async fn measure_path(server: &Server, path: &str, warm: Duration, measure: Duration) -> Row {
    if !warm.is_zero() {
        load(server.port, path, 16, warm).await;
    }
    let cpu_before = cpu_seconds(server.pid());
    let (count, latencies, elapsed) = load(server.port, path, 16, measure).await;
    let cpu = cpu_seconds(server.pid()) - cpu_before;
    let ms = |p: f64| quantile(&latencies, p).as_secs_f64() * 1000.0;
    Row {
        rps: count as f64 / elapsed.as_secs_f64(),
        p50: ms(0.5),
        p99: ms(0.99),
        cpu_us: cpu * 1e6 / count.max(1) as f64,
    }
}

/// Medians over rounds per configuration and path, with ratios to the first ("off").
fn summary(rows: &[Vec<Vec<Row>>]) {
    let median = |v: &[Row], f: fn(&Row) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        x.sort_by(f64::total_cmp);
        x[x.len() / 2]
    };
    println!("\nmedians over {} round(s); ratios to \"off\":", rows[0][0].len());
    for (p, path) in PATHS.iter().enumerate() {
        let base_rps = median(&rows[0][p], |r| r.rps);
        let base_cpu = median(&rows[0][p], |r| r.cpu_us);
        for (c, label) in CONFIGS.iter().enumerate() {
            let (rps, cpu) = (median(&rows[c][p], |r| r.rps), median(&rows[c][p], |r| r.cpu_us));
            println!(
                "  GET {path:<25} {label:<30} {rps:>7.0} req/s ({:.2}x)  p99 {:.2} ms  cpu {cpu:.0} µs/req ({:.2}x)",
                rps / base_rps,
                median(&rows[c][p], |r| r.p99),
                cpu / base_cpu
            );
        }
    }
}

/// User plus system CPU seconds a process has used (/proc/PID/stat fields 14 and 15).
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    ticks / hz
}

/// An OTLP/HTTP endpoint that accepts every export and counts them.
async fn otlp_sink() -> (u16, Arc<AtomicUsize>) {
    let exports = Arc::new(AtomicUsize::new(0));
    let counter = exports.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move || {
            counter.fetch_add(1, Ordering::Relaxed);
            async { "" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (port, exports)
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
