//! Who is calling and what they may do: principals, roles, and the two bearer
//! schemes (API keys, and OIDC tokens from a configured issuer). The HTTP layer (`http/auth.rs`) turns a bearer credential into a
//! [`Principal`] with this module and checks it against its per-route table.

pub mod keys;
pub mod oidc;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::Store;

/// What a principal may do. `admin` may do everything; every role may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Reader,
    Submitter,
    Approver,
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Reader, Role::Submitter, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reader => "reader",
            Role::Submitter => "submitter",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The caller of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Stable name: `key:<name>` for API keys, `oidc:<sub>` for OIDC tokens,
    /// `anonymous` without authentication.
    pub name: String,
    pub roles: Vec<Role>,
}

impl Principal {
    /// Everyone, when authentication is switched off (loopback embedded default, CLI).
    pub fn anonymous() -> Principal {
        Principal { name: "anonymous".into(), roles: vec![Role::Admin] }
    }

    /// Whether this principal holds `role` (admin holds every role; any role may read).
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&Role::Admin)
            || role == Role::Reader && !self.roles.is_empty()
            || self.roles.contains(&role)
    }

    /// The caller when authentication is off.
    pub fn is_anonymous(&self) -> bool {
        self.name == "anonymous"
    }

    pub fn is_admin(&self) -> bool {
        self.roles.contains(&Role::Admin)
    }
}

/// How callers are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Every caller is the anonymous admin (`SECCFG_AUTH=none`, or loopback by default).
    None,
    /// Every call but health and the API document needs an API key or an OIDC token.
    Required,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication required")]
    Missing,
    #[error("the credential is not valid")]
    Invalid,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Resolves bearer credentials to principals, and limits each principal's rate.
pub struct Authenticator {
    pub mode: AuthMode,
    store: Option<Arc<dyn Store>>,
    limiter: Option<governor::DefaultKeyedRateLimiter<String>>,
    oidc: Option<Arc<oidc::OidcVerifier>>,
}

impl Authenticator {
    pub fn none() -> Authenticator {
        Authenticator { mode: AuthMode::None, store: None, limiter: None, oidc: None }
    }

    pub fn required(store: Arc<dyn Store>) -> Authenticator {
        Authenticator { mode: AuthMode::Required, store: Some(store), limiter: None, oidc: None }
    }

    /// Also accepts OIDC tokens that `verifier` vouches for.
    pub fn with_oidc(mut self, verifier: Arc<oidc::OidcVerifier>) -> Authenticator {
        self.oidc = Some(verifier);
        self
    }

    /// At most `per_second` calls per second per authenticated principal, with bursts
    /// of twice that; 0 switches the limit off.
    pub fn with_rate_limit(mut self, per_second: u32) -> Authenticator {
        self.limiter = std::num::NonZeroU32::new(per_second).map(|rate| {
            let burst = rate.saturating_mul(std::num::NonZeroU32::new(2).expect("2 is not zero"));
            governor::RateLimiter::keyed(governor::Quota::per_second(rate).allow_burst(burst))
        });
        self
    }

    /// `Err(wait)` when `principal` is over its rate.
    pub fn admit(&self, principal: &Principal) -> Result<(), std::time::Duration> {
        use governor::clock::Clock;
        match &self.limiter {
            Some(limiter) if self.mode == AuthMode::Required => limiter
                .check_key(&principal.name)
                .map_err(|not_until| not_until.wait_time_from(governor::clock::DefaultClock::default().now())),
            _ => Ok(()),
        }
    }

    /// The principal for an `Authorization` header value (or its absence).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Principal, AuthError> {
        let store = match (self.mode, &self.store) {
            (AuthMode::None, _) | (_, None) => return Ok(Principal::anonymous()),
            (AuthMode::Required, Some(store)) => store,
        };
        let header = authorization.ok_or(AuthError::Missing)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .ok_or(AuthError::Invalid)?;
        if !keys::looks_like_key(token) {
            let Some(verifier) = &self.oidc else { return Err(AuthError::Invalid) };
            // Why a token is refused goes to the log, never to the caller.
            return verifier.verify(token).await.map_err(|e| {
                tracing::info!(reason = %e, "OIDC token refused");
                AuthError::Invalid
            });
        }
        let key = store.api_key_by_hash(&keys::hash(token)).await?.ok_or(AuthError::Invalid)?;
        if key.revoked_at.is_some() {
            return Err(AuthError::Invalid);
        }
        let role = Role::parse(&key.role).ok_or(AuthError::Invalid)?;
        Ok(Principal { name: format!("key:{}", key.name), roles: vec![role] })
    }
}
