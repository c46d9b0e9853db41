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
            .map(|o| c.strings("/organization_details/aws_accounts", o.get("aws_accounts"), 1000, 12))
            .unwrap_or_default();
        for (i, acct) in aws_accounts.iter().enumerate() {
            if acct.len() != 12 || !acct.chars().all(|ch| ch.is_ascii_digit()) {
                c.error(format!("/organization_details/aws_accounts/{i}"), "must be a 12-digit AWS account id");
            }
        }

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
            document: Value::Null,
        };
        let (mut profile, warnings) = c.finish(profile)?;
        profile.document = doc;
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
    if let Some(mfa) = ops
        .and_then(|o| o.get("access_management"))
        .and_then(|a| c.boolean("/security_operations/access_management/mfa_required", a.get("mfa_required")))
    {
        acc.mfa |= mfa;
    }
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
            c.error("/compliance_requirements/primary_framework", unknown_framework(&name));
        }
    }
    let names = c.strings("/compliance_requirements/additional_frameworks", comp.get("additional_frameworks"), 16, 64);
    for (i, name) in names.iter().enumerate() {
        match Framework::parse(name) {
            Some(f) => out.additional.push(f),
            None => c.error(format!("/compliance_requirements/additional_frameworks/{i}"), unknown_framework(name)),
        }
    }
    let base = "/compliance_requirements/requirements";
    if let Some(req) = c.object(base, comp.get("requirements"), false) {
        if let Some(dc) = c.string(&pointer(base, "data_classification"), req.get("data_classification"), false, 32) {
            out.classification = match dc.to_ascii_lowercase().as_str() {
                "public" => Some(DataClassification::Public),
                "internal" => Some(DataClassification::Internal),
                "confidential" => Some(DataClassification::Confidential),
                "restricted" | "secret" => Some(DataClassification::Restricted),
                "phi" => Some(DataClassification::Phi),
                "pci" | "cardholder" => Some(DataClassification::Pci),
                _ => {
                    c.error(
                        pointer(base, "data_classification"),
                        "must be one of public, internal, confidential, restricted, phi, pci",
                    );
                    None
                }
            };
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
        c.error("/threat_model/framework", "only STRIDE is supported");
    }
    let vectors = c.strings("/threat_model/threat_vectors", tm.get("threat_vectors"), 32, 64);
    for (i, tv) in vectors.iter().enumerate() {
        if !THREAT_VECTORS.contains(&tv.as_str()) {
            c.error(
                format!("/threat_model/threat_vectors/{i}"),
                format!("unknown threat vector '{tv}'; expected one of {}", THREAT_VECTORS.join(", ")),
            );
        }
    }
    let risk = c.string("/threat_model/risk_level", tm.get("risk_level"), false, 16).and_then(|r| {
        match r.to_ascii_lowercase().as_str() {
            "low" => Some(RiskLevel::Low),
            "medium" => Some(RiskLevel::Medium),
            "high" => Some(RiskLevel::High),
            "critical" => Some(RiskLevel::Critical),
            _ => {
                c.error("/threat_model/risk_level", "must be one of low, medium, high, critical");
                None
            }
        }
    });
    (vectors, risk)
}
