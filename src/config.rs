//! Configuration from environment variables (each also a flag), documented by `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct StoreConfig {
    /// Database URL: `sqlite:FILE` (embedded default) or `postgres://…`.
    #[arg(long, env = "SECCFG_DATABASE_URL", default_value = "sqlite:seccfg.db")]
    pub database_url: String,

    /// Directory for bundle artifacts (one subdirectory per run).
    #[arg(long, env = "SECCFG_ARTIFACT_DIR", default_value = "seccfg-artifacts")]
    pub artifact_dir: PathBuf,

    /// Bundle artifacts in Amazon S3 instead of the directory: `s3://bucket/prefix`.
    #[arg(long, env = "SECCFG_ARTIFACT_URL")]
    pub artifact_url: Option<String>,

    /// KMS key (id, ARN or alias) for SSE-KMS on every artifact written to S3.
    #[arg(long, env = "SECCFG_ARTIFACT_KMS_KEY_ID")]
    pub artifact_kms_key_id: Option<String>,

    /// Control library in DynamoDB instead of the database: `dynamodb://table`.
    #[arg(long, env = "SECCFG_LIBRARY_URL")]
    pub library_url: Option<String>,

    #[command(flatten)]
    pub aws: crate::aws::AwsSettings,

    #[command(flatten)]
    pub advisor: crate::advisor::AdvisorSettings,
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    #[command(flatten)]
    pub store: StoreConfig,

    /// Address to listen on.
    #[arg(long, env = "SECCFG_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Stage workers in this process (0 serves the API only).
    #[arg(long, env = "SECCFG_WORKERS", default_value_t = 2)]
    pub workers: usize,

    /// Seconds a claimed stage stays leased without a heartbeat.
    #[arg(long, env = "SECCFG_LEASE_SECONDS", default_value_t = 30)]
    pub lease_seconds: u64,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "SECCFG_BODY_LIMIT", default_value_t = 1_048_576)]
    pub body_limit: usize,

    /// Seconds before a request is answered 408.
    #[arg(long, env = "SECCFG_REQUEST_TIMEOUT_SECONDS", default_value_t = 30)]
    pub request_timeout_seconds: u64,

    /// Seconds a client has to send a complete request head (slow or half-sent headers are cut off).
    #[arg(long, env = "SECCFG_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10)]
    pub header_read_timeout_seconds: u64,

    /// Seconds after SIGTERM that open connections and running stages get before the process exits.
    #[arg(long, env = "SECCFG_SHUTDOWN_GRACE_SECONDS", default_value_t = 20)]
    pub shutdown_grace_seconds: u64,

    /// `required` (every call but health and the API document needs an API key) or `none`.
    /// Unset means `none` on a loopback address; `serve` refuses any other address until it is set.
    #[arg(long, env = "SECCFG_AUTH", value_parser = ["none", "required"])]
    pub auth: Option<String>,

    /// Calls per second per authenticated principal (bursts of twice that) before 429; 0 = no limit.
    #[arg(long, env = "SECCFG_RATE_LIMIT_PER_SECOND", default_value_t = 100)]
    pub rate_limit_per_second: u32,

    /// Buckets whose upload events `POST /v1/intake/s3-event` accepts (comma-separated);
    /// unset disables the intake.
    #[arg(long, env = "SECCFG_INTAKE_BUCKETS", value_delimiter = ',')]
    pub intake_buckets: Vec<String>,

    /// Largest uploaded object the intake reads, in bytes.
    #[arg(long, env = "SECCFG_INTAKE_MAX_BYTES", default_value_t = 1_048_576)]
    pub intake_max_bytes: u64,

    /// Fault injection for durability tests: milliseconds each stage waits before running.
    #[arg(long, env = "SECCFG_FAULT_STAGE_DELAY_MS", default_value_t = 0, hide = true)]
    pub fault_stage_delay_ms: u64,
}
