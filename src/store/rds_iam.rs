//! RDS IAM database authentication: on ECS the application user logs in to
//! PostgreSQL with a short-lived token instead of a password, so the task holds
//! no database secret and its role's `rds-db:connect` on that one user is the
//! whole grant. A token is a SigV4 presigned `GET https://host:port/?Action=connect
//! &DBUser=user` (service `rds-db`, 15 minutes) without its scheme, signed with
//! aws-sigv4, the signer the AWS SDK uses. Tokens are only checked when a
//! connection opens, so the pool gets a fresh one every [`TOKEN_REFRESH`],
//! well inside the 15-minute lifetime, through `Pool::set_connect_options`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use sqlx::postgres::{PgConnectOptions, PgPool};

use super::{StoreError, StoreResult};

/// How long a token is valid (the most RDS accepts).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// How often the pool's token is replaced: a new connection never uses one older
/// than this, leaving 5 minutes of slack before expiry.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(600);
/// Wait before trying again after a failed refresh (the current token still has time).
const RETRY_AFTER: Duration = Duration::from_secs(30);

/// What signs tokens: the region of the database and the AWS credentials (on ECS,
/// the task role's, from the provider chain).
#[derive(Clone)]
pub struct IamLogin {
    pub region: String,
    pub credentials: SharedCredentialsProvider,
}

/// Where and as whom tokens log in, and the credentials that sign them.
#[derive(Clone)]
pub struct RdsIamAuth {
    host: String,
    port: u16,
    user: String,
    region: String,
    credentials: SharedCredentialsProvider,
}

impl std::fmt::Debug for RdsIamAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RdsIamAuth({}@{}:{} in {})", self.user, self.host, self.port, self.region)
    }
}

impl RdsIamAuth {
    /// Host, port and user from the connection options; region and credentials from
    /// the AWS provider chain.
    pub fn new(options: &PgConnectOptions, login: IamLogin) -> StoreResult<Self> {
        let user = options.get_username().to_string();
        if user.is_empty() || !user.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
            return Err(StoreError::Config(format!("IAM database user {user:?} must be a plain PostgreSQL user name")));
        }
        let (host, port) = (options.get_host().to_string(), options.get_port());
        Ok(RdsIamAuth { host, port, user, region: login.region, credentials: login.credentials })
    }

    /// A token signed now with the provider's current credentials.
    pub async fn token(&self) -> StoreResult<String> {
        let credentials = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| StoreError::Config(format!("AWS credentials for the RDS token: {e}")))?;
        auth_token(&self.host, self.port, &self.user, &self.region, &credentials, SystemTime::now())
    }
}

/// The RDS IAM token for `user` at `host:port`, signed with `credentials` at `at`:
/// the presigned URL's `host:port/?query`, as `aws rds generate-db-auth-token` prints.
pub fn auth_token(
    host: &str,
    port: u16,
    user: &str,
    region: &str,
    credentials: &Credentials,
    at: SystemTime,
) -> StoreResult<String> {
    let failed = |e: &dyn std::fmt::Display| StoreError::Config(format!("signing the RDS token: {e}"));
    let url = format!("https://{host}:{port}/?Action=connect&DBUser={user}");
    let identity = Identity::from(credentials.clone());
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("rds-db")
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| failed(&e))?
        .into();
    let request =
        SignableRequest::new("GET", &url, std::iter::empty(), SignableBody::Bytes(&[])).map_err(|e| failed(&e))?;
    let (instructions, _) = sign(request, &params).map_err(|e| failed(&e))?.into_parts();
    let mut signed = axum::http::Request::builder().uri(&url).body(()).map_err(|e| failed(&e))?;
    instructions.apply_to_request_http1x(&mut signed);
    let uri = signed.uri().to_string();
    Ok(uri.strip_prefix("https://").unwrap_or(&uri).to_string())
}

/// Connect options carrying a fresh token as the password.
pub async fn with_token(base: &PgConnectOptions, auth: &RdsIamAuth) -> StoreResult<PgConnectOptions> {
    Ok(base.clone().password(&auth.token().await?))
}

/// Replaces the pool's token every [`TOKEN_REFRESH`] until the pool closes; a failed
/// refresh is logged and retried sooner, while the current token is still valid.
pub fn keep_fresh(pool: PgPool, base: PgConnectOptions, auth: Arc<RdsIamAuth>) {
    tokio::spawn(async move {
        let mut wait = TOKEN_REFRESH;
        loop {
            tokio::time::sleep(wait).await;
            if pool.is_closed() {
                return;
            }
            wait = match with_token(&base, &auth).await {
                Ok(options) => {
                    pool.set_connect_options(options);
                    TOKEN_REFRESH
                }
                Err(e) => {
                    tracing::warn!(error = %e, "RDS IAM token refresh failed; retrying");
                    RETRY_AFTER
                }
            };
        }
    });
}
