//! OIDC bearer tokens: a JWT signed by the configured issuer (RS256 or ES256
//! only), checked for signature, `iss`, `aud`, `exp` and `nbf` (with a small
//! leeway) by the `jsonwebtoken` crate. The principal is `oidc:<sub>`; its roles
//! come from one configured claim (a string or a list; a dotted path reaches into
//! nested objects), each value either a role name or mapped to one.
//!
//! The issuer's JWKS (a URL or a file) is cached. A token whose `kid` is not in
//! the cache triggers one refresh, at most once per `refresh_interval`, so a
//! stream of forged kids cannot turn into a stream of fetches; the cache is also
//! refreshed when older than [`MAX_AGE`].

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::Mutex;

use super::{Principal, Role};

/// A cached JWKS older than this is fetched again before use.
pub const MAX_AGE: Duration = Duration::from_secs(3600);
/// Largest JWKS document read.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// Where the issuer's signing keys are published.
#[derive(Debug, Clone)]
pub enum JwksSource {
    Url(String),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer: String,
    pub audience: String,
    pub jwks: JwksSource,
    /// Claim holding the roles, e.g. `roles` or `realm_access.roles`.
    pub role_claim: String,
    /// Claim value → role, for values that are not role names themselves.
    pub role_map: BTreeMap<String, Role>,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// Least time between two JWKS fetches caused by unknown kids.
    pub refresh_interval: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("could not read the JWKS: {0}")]
    Jwks(String),
    #[error("the token is not acceptable: {0}")]
    Token(String),
}

struct Cache {
    keys: JwkSet,
    fetched: Option<Instant>,
    last_refresh_attempt: Option<Instant>,
}

/// Verifies tokens against one issuer; cheap to share behind an `Arc`.
pub struct OidcVerifier {
    config: OidcConfig,
    cache: Mutex<Cache>,
    client: hyper_util::client::legacy::Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        http_body_util::Empty<bytes::Bytes>,
    >,
}

impl OidcVerifier {
    pub fn new(config: OidcConfig) -> Result<OidcVerifier, OidcError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .map_err(|e| OidcError::Jwks(format!("no TLS roots: {e}")))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https);
        let cache = Cache { keys: JwkSet { keys: Vec::new() }, fetched: None, last_refresh_attempt: None };
        Ok(OidcVerifier { config, cache: Mutex::new(cache), client })
    }

    /// Loads the JWKS now (start-up check that the source is readable).
    pub async fn load(&self) -> Result<(), OidcError> {
        let keys = self.fetch().await?;
        let mut cache = self.cache.lock().await;
        cache.keys = keys;
        cache.fetched = Some(Instant::now());
        Ok(())
    }

    /// The principal a token names, or why it is refused (for logs only).
    pub async fn verify(&self, token: &str) -> Result<Principal, OidcError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| OidcError::Token(e.to_string()))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(OidcError::Token(format!("algorithm {:?} is not accepted", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| OidcError::Token("no kid".into()))?;
        let key = self.key(&kid).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = self.config.leeway.as_secs();
        let data =
            jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(|e| OidcError::Token(e.to_string()))?;
        self.principal(&data.claims)
    }

    fn principal(&self, claims: &Value) -> Result<Principal, OidcError> {
        let sub = claims["sub"].as_str().unwrap_or_default();
        if sub.is_empty() || sub.len() > 255 || sub.chars().any(char::is_control) {
            return Err(OidcError::Token("sub must be 1-255 printable characters".into()));
        }
        let claim = self.config.role_claim.split('.').try_fold(claims, |v, part| v.get(part));
        let values: Vec<&str> = match claim {
            Some(Value::String(s)) => vec![s.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let mut roles: Vec<Role> = values
            .into_iter()
            .filter_map(|v| self.config.role_map.get(v).copied().or_else(|| Role::parse(v)))
            .collect();
        roles.sort_by_key(|r| r.as_str());
        roles.dedup();
        Ok(Principal { name: format!("oidc:{sub}"), roles })
    }

    /// The decoding key for `kid`, refreshing the cache once when it is stale or lacks the kid.
    async fn key(&self, kid: &str) -> Result<DecodingKey, OidcError> {
        let mut cache = self.cache.lock().await;
        let stale = cache.fetched.is_none_or(|at| at.elapsed() > MAX_AGE);
        let known = cache.keys.find(kid).is_some();
        let may_refresh = cache.last_refresh_attempt.is_none_or(|at| at.elapsed() >= self.config.refresh_interval);
        if stale || (!known && may_refresh) {
            cache.last_refresh_attempt = Some(Instant::now());
            match self.fetch().await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; keeping the cached keys"),
            }
        }
        let jwk = cache.keys.find(kid).ok_or_else(|| OidcError::Token("unknown kid".into()))?;
        DecodingKey::from_jwk(jwk).map_err(|e| OidcError::Token(format!("unusable key: {e}")))
    }

    async fn fetch(&self) -> Result<JwkSet, OidcError> {
        let bytes = match &self.config.jwks {
            JwksSource::File(path) => {
                tokio::fs::read(path).await.map_err(|e| OidcError::Jwks(format!("{}: {e}", path.display())))?
            }
            JwksSource::Url(url) => self.get(url).await?,
        };
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(OidcError::Jwks("the JWKS is larger than 1 MiB".into()));
        }
        serde_json::from_slice(&bytes).map_err(|e| OidcError::Jwks(format!("not a JWKS: {e}")))
    }

    async fn get(&self, url: &str) -> Result<Vec<u8>, OidcError> {
        use http_body_util::BodyExt;
        let uri: axum::http::Uri = url.parse().map_err(|e| OidcError::Jwks(format!("bad URL: {e}")))?;
        let request = tokio::time::timeout(Duration::from_secs(10), self.client.get(uri));
        let response = request
            .await
            .map_err(|_| OidcError::Jwks("timed out".into()))?
            .map_err(|e| OidcError::Jwks(e.to_string()))?;
        if !response.status().is_success() {
            return Err(OidcError::Jwks(format!("HTTP {}", response.status())));
        }
        let limited = http_body_util::Limited::new(response.into_body(), MAX_JWKS_BYTES);
        let body = tokio::time::timeout(Duration::from_secs(10), limited.collect())
            .await
            .map_err(|_| OidcError::Jwks("timed out".into()))?
            .map_err(|e| OidcError::Jwks(e.to_string()))?;
        Ok(body.to_bytes().to_vec())
    }
}
