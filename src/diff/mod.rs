//! The semantic diff between two bundle versions of one service: what a
//! reviewer must re-read when a profile changes. It compares the bundles'
//! artifacts (not their text): controls field by field, template resources and
//! properties, IAM actions and statements per persona, SCP/guardrail and Guard
//! statements, framework coverage — and, separately, the profile fields that
//! changed and caused all of it.
//!
//! Pure functions of two [`Bundle`]s; [`load`] reads bundles from a directory
//! (`seccfg diff`) or from the stores (runs).

pub mod json;
pub mod load;
mod render;
mod sections;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub use json::FieldChange;
pub use sections::{
    ControlChange, ControlsDiff, FrameworkChange, PersonaDiff, ResourceChange, RuleChange, StatementChange,
    TemplateDiff,
};

/// A bundle's files by name, and the profile document it was built from (when known).
#[derive(Debug, Clone, Default)]
pub struct Bundle {
    pub files: BTreeMap<String, Vec<u8>>,
    pub profile: Option<Value>,
}

impl Bundle {
    pub fn json(&self, name: &str) -> Option<Value> {
        serde_json::from_slice(self.files.get(name)?).ok()
    }

    pub fn text(&self, name: &str) -> Option<String> {
        self.files.get(name).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// The service the bundle is for, from `bundle.json` or `controls.json`.
    pub fn service(&self) -> Option<String> {
        ["bundle.json", "controls.json", "analysis.json"]
            .iter()
            .find_map(|f| self.json(f).and_then(|v| v["service"].as_str().map(String::from)))
    }
}

/// Which versions were compared.
#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct Side {
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BundleDiff {
    pub service: String,
    pub from: Side,
    pub to: Side,
    /// False when the two bundles are semantically the same.
    pub differs: bool,
    /// The profile fields that changed (the cause), by JSON pointer into the profile.
    pub profile: Vec<FieldChange>,
    /// True when the profile of either side was not available.
    pub profile_unknown: bool,
    pub controls: ControlsDiff,
    pub templates: Vec<TemplateDiff>,
    pub iam: Vec<PersonaDiff>,
    /// SCP statements (controls' `scp-N.json` and the IAM guardrails), by Sid.
    pub scp_statements: Vec<StatementChange>,
    /// Guard rules, by rule name.
    pub guard_rules: Vec<RuleChange>,
    pub framework_coverage: Vec<FrameworkChange>,
}

#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the bundles are for different services ('{0}' and '{1}'); only versions of one service can be compared")]
    DifferentServices(String, String),
    #[error("{0} is not a bundle (no bundle.json or controls.json naming its service)")]
    NotABundle(String),
}

/// Compares bundle `a` (before) with bundle `b` (after).
pub fn diff(a: &Bundle, b: &Bundle, from: Side, to: Side) -> Result<BundleDiff, DiffError> {
    let sa = a.service().ok_or_else(|| DiffError::NotABundle(from.label.clone()))?;
    let sb = b.service().ok_or_else(|| DiffError::NotABundle(to.label.clone()))?;
    if sa != sb {
        return Err(DiffError::DifferentServices(sa, sb));
    }
    let (profile, profile_unknown) = match (&a.profile, &b.profile) {
        (Some(pa), Some(pb)) => (json::diff(pa, pb), false),
        _ => (Vec::new(), true),
    };
    let mut d = BundleDiff {
        service: sa,
        from,
        to,
        differs: false,
        profile,
        profile_unknown,
        controls: sections::controls(a, b),
        templates: sections::templates(a, b),
        iam: sections::iam(a, b),
        scp_statements: sections::scp_statements(a, b),
        guard_rules: sections::guard_rules(a, b),
        framework_coverage: sections::framework_coverage(a, b),
    };
    d.differs = !(d.profile.is_empty()
        && d.controls.is_empty()
        && d.templates.is_empty()
        && d.iam.is_empty()
        && d.scp_statements.is_empty()
        && d.guard_rules.is_empty()
        && d.framework_coverage.is_empty());
    Ok(d)
}

impl BundleDiff {
    pub fn markdown(&self) -> String {
        render::markdown(self)
    }
}
