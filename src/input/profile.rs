//! The organisation's security profile: the reference design's format, typed.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::validate::{Checker, InputError, Warning, pointer};

/// Compliance frameworks a profile may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Framework {
    #[serde(rename = "NIST-800-53")]
    Nist80053,
    #[serde(rename = "PCI-DSS")]
    PciDss,
    #[serde(rename = "ISO-27001")]
    Iso27001,
    #[serde(rename = "CIS")]
    Cis,
    #[serde(rename = "HIPAA")]
    Hipaa,
    #[serde(rename = "SOC2")]
    Soc2,
    #[serde(rename = "FedRAMP")]
    FedRamp,
}

impl Framework {
    pub const ALL: [Framework; 7] = [
        Framework::Nist80053,
        Framework::PciDss,
        Framework::Iso27001,
        Framework::Cis,
        Framework::Hipaa,
        Framework::Soc2,
        Framework::FedRamp,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Framework::Nist80053 => "NIST-800-53",
            Framework::PciDss => "PCI-DSS",
            Framework::Iso27001 => "ISO-27001",
            Framework::Cis => "CIS",
            Framework::Hipaa => "HIPAA",
            Framework::Soc2 => "SOC2",
            Framework::FedRamp => "FedRAMP",
        }
    }

    /// Accepts the usual spellings ("NIST 800-53", "pci_dss", "SOC 2").
    pub fn parse(s: &str) -> Option<Framework> {
        let norm: String = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
        let norm = norm.trim_end_matches("REV5").trim_end_matches("40").trim_end_matches("2022");
        Some(match norm {
            "NIST80053" | "NIST" => Framework::Nist80053,
            "PCIDSS" | "PCI" => Framework::PciDss,
            "ISO27001" => Framework::Iso27001,
            "CIS" | "CISAWS" | "CISAWSFOUNDATIONS" => Framework::Cis,
            "HIPAA" => Framework::Hipaa,
            "SOC2" => Framework::Soc2,
            "FEDRAMP" | "FEDRAMPMODERATE" => Framework::FedRamp,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataClassification {
    Public,
    Internal,
    Confidential,
    Restricted,
    Phi,
    Pci,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Encryption {
    pub at_rest: bool,
    pub in_transit: bool,
    /// True when the profile asks for customer-managed KMS keys.
    pub customer_managed_keys: bool,
    pub key_rotation: bool,
    pub key_management: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Access {
    pub mfa: bool,
    pub ip_restrictions: bool,
    pub least_privilege: bool,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Monitoring {
    pub logging: bool,
    pub alerting: bool,
    pub audit_trail: bool,
    pub log_retention_days: Option<i64>,
}

/// A validated profile: the typed facts stages use, plus the document as submitted.
#[derive(Debug, Clone, Serialize)]
pub struct Profile {
    pub profile_id: String,
    pub organization: Option<String>,
    pub environment: Option<String>,
    pub aws_accounts: Vec<String>,
    pub encryption: Encryption,
    pub access: Access,
    pub monitoring: Monitoring,
    pub primary_framework: Framework,
    pub additional_frameworks: Vec<Framework>,
    pub data_classification: Option<DataClassification>,
    pub regulatory_regions: Vec<String>,
    pub threat_vectors: Vec<String>,
    pub risk_level: RiskLevel,
    /// How values outside a vocabulary were read (JSON pointers into the profile); every
    /// bundle built from the profile repeats them in `bundle.json`.
    pub warnings: Vec<Warning>,
    #[serde(skip)]
    pub document: Value,
}

const TOP_LEVEL: &[&str] = &[
    "profile_id",
    "organization_details",
    "security_operations",
    "security_controls",
    "security_requirements",
    "compliance_requirements",
    "threat_model",
];

pub const THREAT_VECTORS: &[&str] = &[
    "data_exfiltration",
    "unauthorized_access",
    "privilege_escalation",
    "denial_of_service",
    "tampering",
    "spoofing",
    "repudiation",
    "information_disclosure",
    "insider_threat",
    "misconfiguration",
    "supply_chain",
    "ransomware",
];

impl Profile {
    pub fn from_slice(bytes: &[u8]) -> Result<(Profile, Vec<Warning>), InputError> {
        Profile::from_value(super::parse_json(bytes)?)
    }

    pub fn from_value(doc: Value) -> Result<(Profile, Vec<Warning>), InputError> {
        let mut c = Checker::default();
        let Some(root) = c.object("", Some(&doc), true) else {
            return Err(InputError::Fields(c.errors));
        };
        c.unknown_fields("", root, TOP_LEVEL);
        let profile_id = c.string("/profile_id", root.get("profile_id"), true, 128);
        if let Some(id) = &profile_id
            && !id.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
        {
            c.error("/profile_id", "may contain only letters, digits, '-', '_' and '.'");
        }

        let org = c.object("/organization_details", root.get("organization_details"), false);
        let organization = org.and_then(|o| c.string("/organization_details/name", o.get("name"), false, 256));
        let environment =
            org.and_then(|o| c.string("/organization_details/environment", o.get("environment"), false, 64));
        let aws_accounts = org
            .map(|o| c.strings("/organization_details/aws_accounts", o.get("aws_accounts"), 1000, 64))
            .unwrap_or_default();
        let aws_accounts = account_ids(&mut c, aws_accounts);

        let ops = c.object("/security_operations", root.get("security_operations"), false);
        c.object("/security_controls", root.get("security_controls"), false);
        let (encryption, access, mut monitoring) =
            security_requirements(&mut c, root.get("security_requirements"), ops);
        monitoring.log_retention_days = ops.and_then(|o| o.get("logging")).and_then(|l| {
            c.integer("/security_operations/logging/log_retention_period", l.get("log_retention_period"), 1, 3653)
        });

        let comp = compliance(&mut c, root.get("compliance_requirements"));
        let (threat_vectors, risk_level) = threat_model(&mut c, root.get("threat_model"));

        let profile = Profile {
            profile_id: profile_id.unwrap_or_default(),
            organization,
            environment,
            aws_accounts,
            encryption,
            access,
            monitoring,
            primary_framework: comp.primary.unwrap_or(Framework::Cis),
            additional_frameworks: comp.additional,
            data_classification: comp.classification,
            regulatory_regions: comp.regions,
            threat_vectors,
            risk_level: risk_level.unwrap_or(RiskLevel::Medium),
            warnings: Vec::new(),
            document: Value::Null,
        };
        let (mut profile, warnings) = c.finish(profile)?;
        profile.document = doc;
        profile.warnings = warnings.clone();
        Ok((profile, warnings))
    }

    /// Every framework the profile names, primary first, without duplicates.
    pub fn frameworks(&self) -> Vec<Framework> {
        let mut all = vec![self.primary_framework];
        for f in &self.additional_frameworks {
            if !all.contains(f) {
                all.push(*f);
            }
        }
        all
    }

    /// SHA-256 of the canonical JSON (object keys sorted, no insignificant space):
    /// the same content submitted twice maps to the same profile version.
    pub fn content_hash(&self) -> String {
        hex::encode(Sha256::digest(serde_json::to_vec(&canonical(&self.document)).unwrap_or_default()))
    }
}

/// The same document with object keys sorted at every level, so equal profiles hash
/// equally whatever key order they arrived in (serde_json may preserve insertion order).
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut entries: Vec<(&String, &Value)> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn security_requirements(
    c: &mut Checker,
    v: Option<&Value>,
    ops: Option<&serde_json::Map<String, Value>>,
) -> (Encryption, Access, Monitoring) {
    let mut enc = Encryption::default();
    let mut acc = Access::default();
    let mut mon = Monitoring::default();
    let Some(req) = c.object("/security_requirements", v, true) else {
        return (enc, acc, mon);
    };
    c.unknown_fields(
        "/security_requirements",
        req,
        &["encryption_requirements", "access_requirements", "monitoring_requirements"],
    );
    let base = "/security_requirements/encryption_requirements";
    if let Some(e) = c.object(base, req.get("encryption_requirements"), false) {
        enc.at_rest = c.boolean(&pointer(base, "at_rest"), e.get("at_rest")).unwrap_or(false);
        enc.in_transit = c.boolean(&pointer(base, "in_transit"), e.get("in_transit")).unwrap_or(false);
        enc.key_management = c.string(&pointer(base, "key_management"), e.get("key_management"), false, 256);
    }
    let base = "/security_requirements/access_requirements";
    if let Some(a) = c.object(base, req.get("access_requirements"), false) {
        acc.mfa = c.boolean(&pointer(base, "mfa"), a.get("mfa")).unwrap_or(false);
        acc.ip_restrictions = c.boolean(&pointer(base, "ip_restrictions"), a.get("ip_restrictions")).unwrap_or(false);
        acc.least_privilege = c.boolean(&pointer(base, "least_privilege"), a.get("least_privilege")).unwrap_or(true);
    }
    let base = "/security_requirements/monitoring_requirements";
    if let Some(m) = c.object(base, req.get("monitoring_requirements"), false) {
        mon.logging = c.boolean(&pointer(base, "logging"), m.get("logging")).unwrap_or(false);
        mon.alerting = c.boolean(&pointer(base, "alerting"), m.get("alerting")).unwrap_or(false);
        mon.audit_trail = c.boolean(&pointer(base, "audit_trail"), m.get("audit_trail")).unwrap_or(false);
    }
    // Operations settings refine requirements: a KMS mandate or key rotation there counts too.
    let ops_enc = ops.and_then(|o| o.get("encryption"));
    let base = "/security_operations/encryption";
    let kms_required = ops_enc.and_then(|e| c.boolean(&pointer(base, "kms_required"), e.get("kms_required")));
    enc.key_rotation =
        ops_enc.and_then(|e| c.boolean(&pointer(base, "key_rotation"), e.get("key_rotation"))).unwrap_or(false);
    let names_cmk = enc.key_management.as_deref().is_some_and(|k| k.to_ascii_lowercase().contains("customer"));
    enc.customer_managed_keys = names_cmk || (kms_required == Some(true) && enc.key_rotation);
    if names_cmk {
        enc.key_rotation = true;
    }
    let stated = req.get("access_requirements").and_then(Value::as_object);
    let ops_access = ops.and_then(|o| o.get("access_management"));
    let mut agree = |ops_field: &str, req_field: &str, current: &mut bool| {
        let ops_pointer = pointer("/security_operations/access_management", ops_field);
        let Some(operated) = ops_access.and_then(|a| c.boolean(&ops_pointer, a.get(ops_field))) else { return };
        let required = stated.and_then(|a| a.get(req_field)).and_then(Value::as_bool);
        if required.is_some_and(|r| r != operated) {
            let req_pointer = pointer("/security_requirements/access_requirements", req_field);
            let detail = format!("contradicts {req_pointer}; both must say the same");
            c.error(ops_pointer.clone(), detail);
            c.error(req_pointer, format!("contradicts {ops_pointer}; both must say the same"));
        }
        *current |= operated;
    };
    // Operations and requirements describe the same access policy twice; a profile where
    // they disagree cannot be turned into one IAM model, so it is rejected, not guessed.
    agree("mfa_required", "mfa", &mut acc.mfa);
    agree("ip_restrictions", "ip_restrictions", &mut acc.ip_restrictions);
    (enc, acc, mon)
}

struct Compliance {
    primary: Option<Framework>,
    additional: Vec<Framework>,
    classification: Option<DataClassification>,
    regions: Vec<String>,
}

fn compliance(c: &mut Checker, v: Option<&Value>) -> Compliance {
    let mut out = Compliance { primary: None, additional: Vec::new(), classification: None, regions: Vec::new() };
    let base = "/compliance_requirements";
    let Some(comp) = c.object(base, v, true) else {
        return out;
    };
    c.unknown_fields(base, comp, &["primary_framework", "additional_frameworks", "requirements"]);
    if let Some(name) = c.string("/compliance_requirements/primary_framework", comp.get("primary_framework"), true, 64)
    {
        out.primary = Framework::parse(&name);
        if out.primary.is_none() {
            // The broadest catalogue seccfg maps stands in, so no requirement goes unnamed.
            c.warn(
                "/compliance_requirements/primary_framework",
                format!(
                    "{}; requirement ids are given for NIST-800-53 instead, '{name}' itself is not mapped",
                    unknown_framework(&name)
                ),
            );
            out.primary = Some(Framework::Nist80053);
        }
    }
    let names = c.strings("/compliance_requirements/additional_frameworks", comp.get("additional_frameworks"), 16, 64);
    for (i, name) in names.iter().enumerate() {
        match Framework::parse(name) {
            Some(f) => out.additional.push(f),
            None => c.warn(
                format!("/compliance_requirements/additional_frameworks/{i}"),
                format!("{}; kept, but the bundle claims no coverage of it", unknown_framework(name)),
            ),
        }
    }
    let base = "/compliance_requirements/requirements";
    if let Some(req) = c.object(base, comp.get("requirements"), false) {
        if let Some(dc) = c.string(&pointer(base, "data_classification"), req.get("data_classification"), false, 32) {
            out.classification = Some(classification(c, &pointer(base, "data_classification"), &dc));
        }
        out.regions = c.strings(&pointer(base, "regulatory_regions"), req.get("regulatory_regions"), 40, 32);
        for (i, region) in out.regions.iter().enumerate() {
            if !is_region_code(region) {
                c.error(
                    format!("{base}/regulatory_regions/{i}"),
                    format!("'{region}' is not an AWS region code (e.g. us-east-1)"),
                );
            }
        }
    }
    out
}

/// The vocabulary of data classes; anything else is read as `restricted`, the strictest
/// class that does not claim a regulation (phi, pci) the organisation did not name.
fn classification(c: &mut Checker, at: &str, value: &str) -> DataClassification {
    match value.to_ascii_lowercase().as_str() {
        "public" => DataClassification::Public,
        "internal" => DataClassification::Internal,
        "confidential" => DataClassification::Confidential,
        "restricted" | "secret" => DataClassification::Restricted,
        "phi" => DataClassification::Phi,
        "pci" | "cardholder" => DataClassification::Pci,
        _ => {
            c.warn(
                at,
                format!(
                    "'{value}' is not one of public, internal, confidential, restricted, phi, pci; read as \
                     'restricted', the strictest class that names no regulation (sensitive-data controls apply)"
                ),
            );
            DataClassification::Restricted
        }
    }
}

/// 12-digit account ids; others (placeholders such as "320") are kept in the stored profile
/// with a warning but never offered as a value: ARNs keep the `${Account}` parameter.
fn account_ids(c: &mut Checker, accounts: Vec<String>) -> Vec<String> {
    let mut valid = Vec::new();
    for (i, acct) in accounts.into_iter().enumerate() {
        if acct.len() == 12 && acct.chars().all(|ch| ch.is_ascii_digit()) {
            valid.push(acct);
        } else {
            c.warn(
                format!("/organization_details/aws_accounts/{i}"),
                format!(
                    "'{acct}' is not a 12-digit AWS account id; not used as a value of the ${{Account}} \
                     parameter, which every ARN keeps"
                ),
            );
        }
    }
    valid
}

fn unknown_framework(name: &str) -> String {
    let known: Vec<&str> = Framework::ALL.iter().map(|f| f.id()).collect();
    format!("unknown framework '{name}'; expected one of {}", known.join(", "))
}

/// AWS region codes look like `us-east-1`, `ap-southeast-2`, `us-gov-west-1`.
pub(crate) fn is_region_code(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|c| c.is_ascii_lowercase())
        && parts[1..parts.len() - 1].iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok_and(|n| n >= 1)
}

fn threat_model(c: &mut Checker, v: Option<&Value>) -> (Vec<String>, Option<RiskLevel>) {
    let base = "/threat_model";
    let Some(tm) = c.object(base, v, false) else {
        return (Vec::new(), None);
    };
    c.unknown_fields(base, tm, &["framework", "threat_vectors", "risk_level"]);
    if let Some(fw) = c.string("/threat_model/framework", tm.get("framework"), false, 32)
        && !fw.eq_ignore_ascii_case("STRIDE")
    {
        c.warn(
            "/threat_model/framework",
            format!("'{fw}' read as STRIDE: seccfg maps every control to STRIDE categories only"),
        );
    }
    let vectors = c.strings("/threat_model/threat_vectors", tm.get("threat_vectors"), 32, 64);
    let vectors = vectors
        .iter()
        .enumerate()
        .map(|(i, tv)| threat_vector(c, &format!("/threat_model/threat_vectors/{i}"), tv))
        .collect();
    let risk = c.string("/threat_model/risk_level", tm.get("risk_level"), false, 32).map(|r| risk_level(c, &r));
    (vectors, risk)
}

/// A vector in the vocabulary, matched without regard to case, spaces or hyphens. Others are
/// kept (analysis lists them) but select no control; the warning says so.
fn threat_vector(c: &mut Checker, at: &str, value: &str) -> String {
    let norm: String =
        value.trim().to_ascii_lowercase().chars().map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' }).collect();
    if THREAT_VECTORS.contains(&norm.as_str()) {
        if norm != value {
            c.warn(at, format!("'{value}' read as '{norm}'"));
        }
    } else {
        c.warn(
            at,
            format!(
                "unknown threat vector '{value}': kept, but no control keys on it (known: {})",
                THREAT_VECTORS.join(", ")
            ),
        );
    }
    norm
}

/// low / medium / high / critical and common synonyms; anything else is read as high, which
/// selects the risk-driven controls and lowers no priority.
fn risk_level(c: &mut Checker, value: &str) -> RiskLevel {
    let at = "/threat_model/risk_level";
    let (level, synonym) = match value.to_ascii_lowercase().as_str() {
        "low" => (RiskLevel::Low, false),
        "medium" => (RiskLevel::Medium, false),
        "high" => (RiskLevel::High, false),
        "critical" => (RiskLevel::Critical, false),
        "moderate" | "med" => (RiskLevel::Medium, true),
        "elevated" | "significant" => (RiskLevel::High, true),
        "severe" | "very high" | "very_high" | "extreme" => (RiskLevel::Critical, true),
        _ => {
            c.warn(
                at,
                format!(
                    "'{value}' is not one of low, medium, high, critical; read as 'high' \
                     (risk-driven controls selected, no priority lowered)"
                ),
            );
            return RiskLevel::High;
        }
    };
    if synonym {
        c.warn(at, format!("'{value}' read as '{}'", format!("{level:?}").to_ascii_lowercase()));
    }
    level
}
