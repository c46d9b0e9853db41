//! Profile requirement keys: the vocabulary control definitions use in `requires`
//! and `escalates_on`, evaluated against a parsed profile. Keeping the vocabulary
//! closed means a typo in a control file is a load error, not a silently skipped control.

use crate::input::{DataClassification, Profile, RiskLevel, THREAT_VECTORS};

const KEYS: &[&str] = &[
    "encryption.at_rest",
    "encryption.in_transit",
    "encryption.customer_managed_keys",
    "encryption.key_rotation",
    "access.mfa",
    "access.ip_restrictions",
    "access.least_privilege",
    "monitoring.logging",
    "monitoring.alerting",
    "monitoring.audit_trail",
    "data.sensitive",
    "risk.high",
    "environment.production",
];

pub fn is_known(key: &str) -> bool {
    KEYS.contains(&key) || key.strip_prefix("threat.").is_some_and(|v| THREAT_VECTORS.contains(&v))
}

/// Whether the profile states the requirement. Unknown keys never hold.
pub fn holds(profile: &Profile, key: &str) -> bool {
    if let Some(vector) = key.strip_prefix("threat.") {
        return profile.threat_vectors.iter().any(|v| v == vector);
    }
    match key {
        "encryption.at_rest" => profile.encryption.at_rest,
        "encryption.in_transit" => profile.encryption.in_transit,
        "encryption.customer_managed_keys" => profile.encryption.customer_managed_keys,
        "encryption.key_rotation" => profile.encryption.key_rotation,
        "access.mfa" => profile.access.mfa,
        "access.ip_restrictions" => profile.access.ip_restrictions,
        "access.least_privilege" => profile.access.least_privilege,
        "monitoring.logging" => profile.monitoring.logging,
        "monitoring.alerting" => profile.monitoring.alerting,
        "monitoring.audit_trail" => profile.monitoring.audit_trail,
        "data.sensitive" => sensitive(profile.data_classification),
        "risk.high" => matches!(profile.risk_level, RiskLevel::High | RiskLevel::Critical),
        "environment.production" => {
            profile.environment.as_deref().is_some_and(|e| e.to_ascii_lowercase().starts_with("prod"))
        }
        _ => false,
    }
}

fn sensitive(classification: Option<DataClassification>) -> bool {
    use DataClassification::*;
    matches!(classification, Some(Confidential | Restricted | Phi | Pci))
}

/// The profile fact behind a key, in words, for rationales ("data classification: confidential").
pub fn describe(profile: &Profile, key: &str) -> String {
    if let Some(vector) = key.strip_prefix("threat.") {
        return format!("threat model lists {}", vector.replace('_', " "));
    }
    match key {
        "encryption.at_rest" => "encryption at rest is required".into(),
        "encryption.in_transit" => "encryption in transit is required".into(),
        "encryption.customer_managed_keys" => format!(
            "key management: {}",
            profile.encryption.key_management.as_deref().unwrap_or("customer managed KMS keys")
        ),
        "encryption.key_rotation" => "key rotation is required".into(),
        "access.mfa" => "MFA is required".into(),
        "access.ip_restrictions" => "access must be restricted by source IP".into(),
        "access.least_privilege" => "least privilege is required".into(),
        "monitoring.logging" => match profile.monitoring.log_retention_days {
            Some(days) => format!("logging is required with {days}-day retention"),
            None => "logging is required".into(),
        },
        "monitoring.alerting" => "alerting is required".into(),
        "monitoring.audit_trail" => "an audit trail is required".into(),
        "data.sensitive" => format!(
            "data classification: {}",
            profile.data_classification.map(|c| format!("{c:?}").to_lowercase()).unwrap_or_default()
        ),
        "risk.high" => format!("risk level: {}", format!("{:?}", profile.risk_level).to_lowercase()),
        "environment.production" => {
            format!("environment: {}", profile.environment.as_deref().unwrap_or("production"))
        }
        other => other.to_string(),
    }
}
