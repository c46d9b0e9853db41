//! The control library: approval decisions on bundle versions, the controls an
//! organisation adopted through them, waivers with expiry, and the audit trail.
//!
//! It sits behind the [`Library`] trait so it can live in the relational store
//! (SQLite or PostgreSQL, [`relational`]) or in a DynamoDB single table. The
//! trait is shaped for the latter: a decision and everything it adds to the
//! library arrive as one [`NewDecision`] written by one call (one transaction, a
//! conditional write on the run id for "decided once"); reads are keyed by
//! profile and service (a GSI by service) and take `now` so expired waivers drop
//! out without a background job. Nothing here knows about runs or HTTP: callers
//! check the run and build the entry (see `crate::approval`).

pub mod dynamodb;
mod relational;
pub mod time;

pub use dynamodb::DynamoLibrary;
pub use relational::{PostgresLibrary, SqliteLibrary};

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    /// The run already has a decision; nothing was written.
    #[error("run '{0}' has already been decided")]
    AlreadyDecided(String),
    #[error("library storage error: {0}")]
    Storage(String),
    #[error("library data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for LibraryError {
    fn from(e: sqlx::Error) -> Self {
        LibraryError::Storage(e.to_string())
    }
}

pub type LibraryResult<T> = Result<T, LibraryError>;

/// What the reviewer decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        match s {
            "approve" => Some(Verdict::Approve),
            "reject" => Some(Verdict::Reject),
            _ => None,
        }
    }
}

/// An accepted exception: a control of the approved bundle that need not be
/// applied until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Waiver {
    pub control_id: String,
    pub reason: String,
    /// RFC 3339; the waiver no longer applies from this instant.
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: i64,
}

/// One decision on one run (bundle version).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct DecisionRecord {
    pub run_id: String,
    pub service_id: String,
    pub profile_id: String,
    pub profile_version: i64,
    pub bundle_version: i64,
    pub decision: Verdict,
    pub reviewer: String,
    pub comment: Option<String>,
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub decided_at: i64,
    /// Every waiver granted with the decision, expired or not.
    pub waivers: Vec<Waiver>,
}

/// A control as adopted: the bundle's control entry plus the framework
/// requirements `analyze` mapped it to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovedControl {
    pub control_id: String,
    pub title: String,
    pub category: String,
    pub priority: String,
    /// Framework id → requirement ids (only frameworks the profile names).
    pub frameworks: BTreeMap<String, Vec<String>>,
    /// The control exactly as the bundle's `controls.json` lists it.
    #[schema(value_type = Object)]
    pub definition: Value,
}

/// A bundle file and the version (content hash or object version) that was approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ArtifactVersion {
    pub name: String,
    pub version: String,
}

/// What an approval adds to the library.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleContent {
    pub controls: Vec<ApprovedControl>,
    pub iam_model: Value,
    /// File name → text (CloudFormation, Terraform, Guard rules, SCPs).
    pub templates: BTreeMap<String, String>,
    pub artifacts: Vec<ArtifactVersion>,
}

/// A decision to record. `bundle` is present exactly when the verdict is approve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDecision {
    pub record: DecisionRecord,
    pub bundle: Option<BundleContent>,
}

/// The latest approved bundle version of a service for a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovedService {
    pub profile_id: String,
    pub service_id: String,
    pub run_id: String,
    pub bundle_version: i64,
    pub profile_version: i64,
    pub reviewer: String,
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub approved_at: i64,
    pub controls: i64,
    /// Waivers that have not expired.
    pub waivers: Vec<Waiver>,
}

/// An adopted control, where it came from, and its waiver if one is in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LibraryControl {
    pub profile_id: String,
    pub service_id: String,
    pub run_id: String,
    pub bundle_version: i64,
    #[serde(flatten)]
    pub control: ApprovedControl,
    pub waiver: Option<Waiver>,
}

/// The latest approved version of one service for one profile, in full.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApprovedBundle {
    #[serde(flatten)]
    pub service: ApprovedService,
    pub controls: Vec<LibraryControl>,
    #[schema(value_type = Object)]
    pub iam_model: Value,
    pub templates: BTreeMap<String, String>,
    pub artifacts: Vec<ArtifactVersion>,
}

/// Filters for the approved controls across services; `None` matches anything.
#[derive(Debug, Clone, Default)]
pub struct ControlFilter {
    pub profile_id: Option<String>,
    pub service_id: Option<String>,
    /// A framework id the control maps to (case-insensitive), e.g. `pci_dss_4.0`.
    pub framework: Option<String>,
    pub category: Option<String>,
}

impl ControlFilter {
    /// The one definition of what matches, shared by every implementation.
    pub fn matches(&self, c: &LibraryControl) -> bool {
        let eq = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
        eq(&self.profile_id, &c.profile_id)
            && eq(&self.service_id, &c.service_id)
            && eq(&self.category, &c.control.category)
            && self
                .framework
                .as_deref()
                .is_none_or(|f| c.control.frameworks.iter().any(|(k, v)| k.eq_ignore_ascii_case(f) && !v.is_empty()))
    }
}

/// One line of the audit trail: every recorded decision with its time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: String,
    #[serde(flatten)]
    pub record: DecisionRecord,
}

/// Waivers still in force at `now`.
pub fn active(waivers: &[Waiver], now: i64) -> Vec<Waiver> {
    waivers.iter().filter(|w| w.expires_at > now).cloned().collect()
}

#[async_trait]
pub trait Library: Send + Sync + 'static {
    /// Records the decision, its audit entry and (for an approval) the library
    /// entry atomically. If the run already has a decision nothing is written and
    /// the result is [`LibraryError::AlreadyDecided`].
    async fn decide(&self, decision: &NewDecision) -> LibraryResult<()>;
    /// The decision on a run, if any.
    async fn decision(&self, run_id: &str) -> LibraryResult<Option<DecisionRecord>>;
    /// The latest approved version of every service, optionally for one profile,
    /// ordered by profile then service, with the waivers in force at `now`.
    async fn services(&self, profile_id: Option<&str>, now: i64) -> LibraryResult<Vec<ApprovedService>>;
    /// The latest approved version of one service for one profile.
    async fn service(&self, profile_id: &str, service_id: &str, now: i64) -> LibraryResult<Option<ApprovedBundle>>;
    /// Controls of every latest approved version that match, ordered by profile,
    /// service, control id; each with its waiver if in force at `now`.
    async fn controls(&self, filter: &ControlFilter, now: i64) -> LibraryResult<Vec<LibraryControl>>;
    /// Recorded decisions, oldest first, optionally for one run.
    async fn audit(&self, run_id: Option<&str>) -> LibraryResult<Vec<AuditEntry>>;
}
