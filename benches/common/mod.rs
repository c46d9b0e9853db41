//! What the benches share: a `seccfg serve` child process on loopback, a fresh
//! PostgreSQL database, a keep-alive HTTP/1.1 GET load client, and percentiles.

#![allow(dead_code)] // each bench uses part of it

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The service mix the job-table and runs-list benches submit (the reviewed services).
pub const SERVICES: [&str; 25] = [
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

/// A `seccfg serve` child, killed when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    /// Starts the release-or-bench build of `seccfg serve` on a free loopback port with
    /// `env` (database, workers, …) and waits until it accepts connections.
    pub async fn start(env: &[(&str, String)]) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_seccfg"));
        cmd.arg("serve")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
            .env("SECCFG_LOG", "warn")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env_remove("SECCFG_HTTP_METRICS")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let server = Server { child: cmd.spawn().expect("seccfg starts"), port };
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident set so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        kib / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new, empty PostgreSQL database next to the one `admin` names.
pub async fn fresh_postgres(admin: &str) -> String {
    use sqlx::Connection;
    let name = format!("seccfg_bench_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("PostgreSQL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

/// The `p` quantile (0..=1) of sorted samples.
pub fn quantile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// `connections` keep-alive HTTP/1.1 clients issuing `GET path` back to back for `duration`:
/// (requests, sorted latencies, elapsed).
pub async fn load(port: u16, path: &str, connections: usize, duration: Duration) -> (usize, Vec<Duration>, Duration) {
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
    all.sort_unstable();
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
