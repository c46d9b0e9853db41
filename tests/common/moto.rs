//! moto's server (PyPI `moto[server]`, pinned in `scripts/moto/requirements.txt`)
//! as the S3 and DynamoDB the tests talk to through the real SDK clients. One server
//! per test binary, on a free loopback port; the kernel kills it when the test
//! process exits (`PR_SET_PDEATHSIG` on a thread that lives as long as the process).
//! `scripts/moto/serve.py` serves one request at a time (see why there).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::Credentials;
use seccfg::aws::AwsSettings;

pub struct Moto {
    pub endpoint: String,
}

/// The binary's moto server, started on first use.
pub fn moto() -> &'static Moto {
    static MOTO: OnceLock<Moto> = OnceLock::new();
    MOTO.get_or_init(start)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn venv_python() -> String {
    let out = Command::new(super::repo("scripts/moto/ensure-venv"))
        .stderr(Stdio::inherit())
        .output()
        .expect("scripts/moto/ensure-venv runs");
    assert!(out.status.success(), "scripts/moto/ensure-venv failed");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn start() -> Moto {
    let python = venv_python();
    let serve = super::repo("scripts/moto/serve.py");
    let port = free_port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut command = Command::new(&python);
        command.arg(&serve).args(["127.0.0.1", &port.to_string()]).stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe; the parent is this thread, which never ends.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().expect("moto's server starts");
        tx.send(()).unwrap();
        let _keep = child;
        loop {
            std::thread::park();
        }
    });
    rx.recv().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto did not listen on {port} within 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    Moto { endpoint: format!("http://127.0.0.1:{port}") }
}

/// Settings pointing every client at `endpoint` with short timeouts.
pub fn settings(endpoint: &str) -> AwsSettings {
    AwsSettings { aws_endpoint_url: Some(endpoint.to_string()), aws_max_attempts: 3, aws_attempt_timeout_ms: 5_000 }
}

/// An SDK configuration for `endpoint` with static test credentials.
pub async fn sdk_config(settings: &AwsSettings) -> aws_config::SdkConfig {
    seccfg::aws::loader(settings)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .region(aws_config::Region::new("us-east-1"))
        .load()
        .await
}

pub async fn s3_client(settings: &AwsSettings) -> aws_sdk_s3::Client {
    seccfg::aws::s3_client(&sdk_config(settings).await, settings)
}

/// A new bucket with a unique name on the moto server.
pub async fn bucket(client: &aws_sdk_s3::Client) -> String {
    let name = format!("seccfg-test-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    client.create_bucket().bucket(&name).send().await.expect("create bucket");
    name
}
