//! `seccfg healthcheck` (the container HEALTHCHECK): fails when nothing answers,
//! succeeds against a running `seccfg serve`, for liveness and readiness.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn healthcheck(bind: &str, extra: &[&str]) -> bool {
    Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .args(["healthcheck", "--bind", bind, "--timeout", "2"])
        .args(extra)
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

#[test]
fn healthcheck_follows_the_server() {
    let port = free_port();
    let bind = format!("0.0.0.0:{port}");
    assert!(!healthcheck(&bind, &[]), "nothing listens yet");
    let dir = tempfile::tempdir().unwrap();
    let mut server = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .current_dir(common::repo(""))
        .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.path().join("db").display()))
        .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
        .env("SECCFG_WORKERS", "0")
        .env("SECCFG_LOG", "error")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut up = false;
    while started.elapsed() < Duration::from_secs(60) {
        if healthcheck(&bind, &[]) {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let ready = up && healthcheck(&bind, &["--ready"]);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(up, "healthcheck never succeeded against the running server");
    assert!(ready, "readiness probe failed");
}
