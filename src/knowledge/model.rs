//! The shape of `knowledge/controls/<service>.yaml` (documented in docs/CONTROLS.md).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// All control knowledge for one service: the core resources it deploys and the controls.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceControls {
    pub service: String,
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    #[serde(default)]
    pub resources: Vec<ResourceDef>,
    pub controls: Vec<ControlDef>,
    /// Service principals the generated customer managed key must let encrypt and
    /// decrypt (services that write to the resource on the customer's behalf).
    #[serde(default)]
    pub kms_key_principals: Vec<String>,
    /// True when generated from resource schemas rather than reviewed by the team.
    #[serde(default)]
    pub derived: bool,
    /// For derived controls: what the semantic library found and what it could not use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub derivation: Option<Derivation>,
}

/// How a derived control set came about: the types it deploys, every recognised property
/// that did not become a control with the reason, and what cannot be enforced at all.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Derivation {
    /// The service's primary CloudFormation types (IAM names a resource type after them).
    pub primary_types: Vec<String>,
    /// Types left out of the primary ones because schema facts show they are secondary to
    /// another type (copies, attachments, variants), each with its basis.
    #[serde(default)]
    pub secondary_types: Vec<SecondaryType>,
    /// Primary types the derived template deploys.
    pub deployed_types: Vec<String>,
    pub not_derived: Vec<NotDerived>,
    /// Plain sentences: what cannot be enforced at deployment, and why.
    pub limits: Vec<String>,
    /// Properties of deployed resources wired to another deployed resource (`Ref`/`GetAtt`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wiring: Vec<String>,
}

/// A type that is not primary because it is secondary to another type of its namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecondaryType {
    pub resource_type: String,
    /// The type it is a copy, attachment or variant of.
    pub of: String,
    /// The schema facts that show it.
    pub basis: String,
}

/// A property a semantic rule recognises that is not a control, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotDerived {
    pub resource_type: String,
    pub property: String,
    pub rule: String,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    #[serde(rename = "type", default = "string_type")]
    pub kind: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Secret-like value: CloudFormation `NoEcho`, Terraform `sensitive`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_echo: bool,
    /// Whole-value pattern (RE2 and Java syntax alike), enforced in both templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_pattern: Option<String>,
    /// Values refused whatever their case (e.g. default administrator names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refused_values: Vec<String>,
    /// Smallest accepted number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<i64>,
    /// The only accepted values (a schema enum the user chooses from: CloudFormation
    /// `AllowedValues`, Terraform `contains`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<String>,
    /// Shown when a value is refused (CloudFormation `ConstraintDescription`, Terraform `error_message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
}

impl Parameter {
    /// CloudFormation's `AllowedPattern`: the pattern, with refused values excluded by a
    /// case-insensitive negative lookahead (CloudFormation patterns are Java regular expressions).
    pub fn cloudformation_pattern(&self) -> Option<String> {
        let base = self.allowed_pattern.clone().unwrap_or_else(|| ".*".into());
        if self.refused_values.is_empty() {
            return self.allowed_pattern.clone();
        }
        Some(format!("^(?!(?i:{})$){}", self.refused_values.join("|"), base.trim_start_matches('^')))
    }
}

fn string_type() -> String {
    "String".into()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceDef {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// Deploy only when this control is selected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_control: Option<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terraform: Option<TerraformResourceDef>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformResourceDef {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub arguments: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Critical,
}

impl Priority {
    pub fn raised(self) -> Priority {
        match self {
            Priority::Low => Priority::Medium,
            Priority::Medium => Priority::High,
            _ => Priority::Critical,
        }
    }

    pub fn lowered(self) -> Priority {
        match self {
            Priority::Critical => Priority::High,
            Priority::High => Priority::Medium,
            _ => Priority::Low,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stride {
    Spoofing,
    Tampering,
    Repudiation,
    InformationDisclosure,
    DenialOfService,
    ElevationOfPrivilege,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    DataProtection,
    Network,
    Access,
    Logging,
    Resilience,
    Governance,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlDef {
    pub id: String,
    pub title: String,
    pub rationale: String,
    pub category: Category,
    pub stride: Vec<Stride>,
    #[serde(default)]
    pub requires: Vec<String>,
    pub priority: Priority,
    #[serde(default)]
    pub escalates_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudformation: Option<CfnPart>,
    #[serde(default)]
    pub terraform: Vec<TerraformPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detective: Option<Detective>,
    #[serde(default)]
    pub security_hub: Vec<String>,
    #[serde(default)]
    pub checkov: Vec<String>,
    #[serde(default)]
    pub prowler: Vec<String>,
    /// An SCP statement (IAM policy grammar), without Sid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preventive: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responsive: Option<Responsive>,
    /// Why no template property expresses the check (a detective-only control on a
    /// resource the template creates): reviewed text shown with the Security Hub coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_expressible: Option<String>,
    /// Set by seccfg, never written in a file: the model that proposed a control the
    /// advisor verified (`source: advisor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisor_model: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CfnPart {
    pub resource: String,
    pub settings: Vec<Setting>,
    /// Further resources (ids) the same settings configure: one control for a setting every
    /// deployed type shares (the derived classification tag), not one copy per type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<String>,
}

impl CfnPart {
    /// Every resource the settings configure, `resource` first.
    pub fn resources(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.resource).chain(&self.also)
    }

    pub fn applies_to(&self, resource_id: &str) -> bool {
        self.resources().any(|r| r == resource_id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Equals,
    Exists,
    AtLeast,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setting {
    pub path: String,
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckKind>,
}

impl Setting {
    /// The Guard clause kind: explicit, else `equals` for scalars and `exists` for the rest.
    pub fn check_kind(&self) -> CheckKind {
        self.check.unwrap_or(match self.value {
            Value::String(_) | Value::Bool(_) | Value::Number(_) => CheckKind::Equals,
            _ => CheckKind::Exists,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerraformPart {
    /// Companion resource type; `None` = the control's own resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    pub settings: Vec<Setting>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detective {
    pub config_rule: String,
    #[serde(default)]
    pub parameters: BTreeMap<String, Value>,
    /// The resource (id) whose AWS Config type the rule evaluates, when it is not the
    /// resource the control's settings configure (a bucket policy's rule reports on the bucket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// An AWS Config type the rule evaluates that the template creates only indirectly
    /// (EBS volumes of an instance's block device mappings). Overrides `resource`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluates: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responsive {
    pub events: Vec<String>,
    pub remediation: String,
}

impl ServiceControls {
    pub fn empty() -> ServiceControls {
        ServiceControls {
            service: String::new(),
            parameters: vec![],
            resources: vec![],
            controls: vec![],
            kms_key_principals: vec![],
            derived: false,
            derivation: None,
        }
    }

    pub fn resource(&self, id: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.id == id)
    }

    pub fn control(&self, id: &str) -> Option<&ControlDef> {
        self.controls.iter().find(|c| c.id == id)
    }
}
