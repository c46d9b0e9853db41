//! One place that configures the AWS SDK for every client seccfg builds (S3,
//! DynamoDB, Bedrock): a single rustls (ring) HTTPS client, region and credentials
//! from the standard provider chain, the SDK's standard retry with a bounded number
//! of attempts, and timeouts on every attempt and every operation. Nothing here runs
//! unless an AWS-backed store or the advisor is configured, so the embedded default
//! needs no credentials and no network.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct AwsSettings {
    /// Endpoint for every AWS client instead of the regional AWS endpoints
    /// (S3-compatible stores, local test servers); S3 then uses path-style addressing.
    #[arg(long, env = "SECCFG_AWS_ENDPOINT_URL")]
    pub aws_endpoint_url: Option<String>,

    /// Attempts per AWS call, the first included (the SDK's standard retry with jittered back-off).
    #[arg(long, env = "SECCFG_AWS_MAX_ATTEMPTS", default_value_t = 3)]
    pub aws_max_attempts: u32,

    /// Milliseconds one attempt of an AWS call may take before it is abandoned and retried.
    #[arg(long, env = "SECCFG_AWS_ATTEMPT_TIMEOUT_MS", default_value_t = 10_000)]
    pub aws_attempt_timeout_ms: u64,
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings { aws_endpoint_url: None, aws_max_attempts: 3, aws_attempt_timeout_ms: 10_000 }
    }
}

impl AwsSettings {
    fn attempt_timeout(&self) -> Duration {
        Duration::from_millis(self.aws_attempt_timeout_ms.max(1))
    }

    /// Attempts plus the back-off between them; the SDK's back-off is capped at 20 s.
    fn operation_timeout(&self) -> Duration {
        let attempts = self.aws_max_attempts.max(1);
        self.attempt_timeout() * attempts + Duration::from_secs(2) * attempts
    }
}

/// The loader behind [`sdk_config`]; tests add static credentials to it.
pub fn loader(settings: &AwsSettings) -> ConfigLoader {
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3).min(settings.attempt_timeout()))
        .operation_attempt_timeout(settings.attempt_timeout())
        .operation_timeout(settings.operation_timeout())
        .build();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(settings.aws_max_attempts.max(1)))
        .timeout_config(timeouts);
    if let Some(url) = &settings.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader
}

/// The configuration from the environment's provider chain; `us-east-1` when no
/// region is configured anywhere.
pub async fn sdk_config(settings: &AwsSettings) -> SdkConfig {
    let config = loader(settings).load().await;
    if config.region().is_some() {
        return config;
    }
    config.into_builder().region(Region::new("us-east-1")).build()
}

/// An S3 client; path-style addressing when the endpoint is overridden (S3-compatible
/// servers on an IP address cannot take the bucket as a host name).
pub fn s3_client(config: &SdkConfig, settings: &AwsSettings) -> aws_sdk_s3::Client {
    let s3 = aws_sdk_s3::config::Builder::from(config).force_path_style(settings.aws_endpoint_url.is_some()).build();
    aws_sdk_s3::Client::from_conf(s3)
}
