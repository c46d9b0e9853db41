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

    /// Log in to PostgreSQL with RDS IAM tokens (the URL's user, host and port; the
    /// region and credentials of the AWS provider chain) instead of a password.
    /// Pair it with `sslmode=verify-full&sslrootcert=<RDS CA bundle>` in the URL.
    #[arg(long, env = "SECCFG_DATABASE_IAM_AUTH", default_value_t = false, action = clap::ArgAction::Set)]
    pub database_iam_auth: bool,

    /// Apply pending migrations at start-up. Off for a user that may not change the
    /// schema (the RDS application user): `seccfg migrate` then runs as the migration owner.
    #[arg(long, env = "SECCFG_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,

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

    /// OIDC issuer whose bearer tokens are accepted (the `iss` claim, exactly). Setting it
    /// switches authentication on; API keys keep working alongside.
    #[arg(long, env = "SECCFG_OIDC_ISSUER", requires = "oidc_audience")]
    pub oidc_issuer: Option<String>,

    /// The `aud` an OIDC token must carry.
    #[arg(long, env = "SECCFG_OIDC_AUDIENCE")]
    pub oidc_audience: Option<String>,

    /// URL of the issuer's JWKS (its signing keys).
    #[arg(long, env = "SECCFG_OIDC_JWKS_URL", conflicts_with = "oidc_jwks_file")]
    pub oidc_jwks_url: Option<String>,

    /// A file holding the issuer's JWKS, instead of a URL.
    #[arg(long, env = "SECCFG_OIDC_JWKS_FILE")]
    pub oidc_jwks_file: Option<std::path::PathBuf>,

    /// Claim holding the caller's roles (a string or a list; dots reach into nested objects).
    #[arg(long, env = "SECCFG_OIDC_ROLE_CLAIM", default_value = "roles")]
    pub oidc_role_claim: String,

    /// Claim values that map to roles, e.g. `sec-admins=admin,sec-reviewers=approver`;
    /// values that are role names need no entry.
    #[arg(long, env = "SECCFG_OIDC_ROLE_MAP", value_delimiter = ',')]
    pub oidc_role_map: Vec<String>,

    /// Clock skew tolerated on a token's `exp` and `nbf`, in seconds.
    #[arg(long, env = "SECCFG_OIDC_LEEWAY_SECONDS", default_value_t = 30)]
    pub oidc_leeway_seconds: u64,

    /// Least seconds between two JWKS fetches caused by tokens with an unknown `kid`.
    #[arg(long, env = "SECCFG_OIDC_JWKS_REFRESH_SECONDS", default_value_t = 30)]
    pub oidc_jwks_refresh_seconds: u64,

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
