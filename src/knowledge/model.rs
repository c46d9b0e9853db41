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
    /// Kinds of the main resource a request can name (load balancers: application,
    /// network, gateway); the first is the default. Emptied once one is applied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// The variant applied (see [`ServiceControls::apply_variant`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Controls of the file the applied variant leaves out, with the reason.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_applicable: Vec<NotApplicable>,
    /// Security Hub controls that do not apply to the applied variant, with the reason.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub security_hub_not_applicable: BTreeMap<String, String>,
}

/// One kind of the service's main resource: what it changes in the control set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub id: String,
    /// Request service names that choose it (compared without case, spaces, punctuation
    /// or a leading "Amazon"/"AWS").
    pub names: Vec<String>,
    /// Parameters added, or replacing the one of the same name.
    #[serde(default)]
    pub parameters: Vec<Parameter>,
    /// Resources replacing the one of the same id, or added.
    #[serde(default)]
    pub resources: Vec<ResourceDef>,
    /// Resources (ids) of the file this variant does not deploy.
    #[serde(default)]
    pub remove_resources: Vec<String>,
    /// Controls replacing the one of the same id (its settings for this variant).
    #[serde(default)]
    pub controls: Vec<ControlDef>,
    /// Control id → why it does not apply to this variant.
    #[serde(default)]
    pub not_applicable: BTreeMap<String, String>,
    /// Security Hub control id → why it does not apply, for ids the file's controls name
    /// but the variant's replacement does not (ELB.5 checks only application and classic
    /// load balancers' logs).
    #[serde(default)]
    pub security_hub_not_applicable: BTreeMap<String, String>,
}

/// A control a variant leaves out, kept so analysis can say why (and which Security Hub
/// controls it would have implemented).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotApplicable {
    pub control_id: String,
    pub title: String,
    pub reason: String,
    #[serde(default)]
    pub security_hub: Vec<String>,
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
    /// A resource (id) that must be created after this one when both are deployed
    /// (CloudFormation `DependsOn`, Terraform `depends_on`): Lambda checks its execution
    /// role's permissions (dead-letter queue, VPC) when the function is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_by: Option<String>,
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
            variants: vec![],
            variant: None,
            not_applicable: vec![],
            security_hub_not_applicable: BTreeMap::new(),
        }
    }

    pub fn resource(&self, id: &str) -> Option<&ResourceDef> {
        self.resources.iter().find(|r| r.id == id)
    }

    pub fn control(&self, id: &str) -> Option<&ControlDef> {
        self.controls.iter().find(|c| c.id == id)
    }

    /// The variant a requested service name chooses, if any names it.
    pub fn variant_named(&self, requested: &str) -> Option<&str> {
        let wanted = variant_key(requested);
        self.variants.iter().find(|v| v.names.iter().any(|n| variant_key(n) == wanted)).map(|v| v.id.as_str())
    }

    /// Applies variant `id` (the first when `None` or unknown): its parameters, resources
    /// and controls replace those of the same name, its not-applicable controls (and the
    /// resources deployed only for them) leave the set and are listed with the reason.
    /// A file without variants is unchanged.
    pub fn apply_variant(&mut self, id: Option<&str>) {
        let variants = std::mem::take(&mut self.variants);
        let Some(v) = variants.iter().find(|v| Some(v.id.as_str()) == id).or(variants.first()) else { return };
        for p in &v.parameters {
            replace_or_push(&mut self.parameters, p.clone(), |x| x.name == p.name);
        }
        for r in &v.resources {
            replace_or_push(&mut self.resources, r.clone(), |x| x.id == r.id);
        }
        self.resources.retain(|r| !v.remove_resources.contains(&r.id));
        self.security_hub_not_applicable = v.security_hub_not_applicable.clone();
        for c in &v.controls {
            replace_or_push(&mut self.controls, c.clone(), |x| x.id == c.id);
        }
        let (gone, kept): (Vec<ControlDef>, Vec<ControlDef>) =
            std::mem::take(&mut self.controls).into_iter().partition(|c| v.not_applicable.contains_key(&c.id));
        self.controls = kept;
        self.resources.retain(|r| r.with_control.as_ref().is_none_or(|c| !v.not_applicable.contains_key(c)));
        self.not_applicable = gone
            .into_iter()
            .map(|c| NotApplicable {
                reason: v.not_applicable[&c.id].clone(),
                control_id: c.id,
                title: c.title,
                security_hub: c.security_hub,
            })
            .collect();
        self.variant = Some(v.id.clone());
    }
}

/// A name as variants compare it: lowercase letters and digits, without "amazon"/"aws" in front.
fn variant_key(name: &str) -> String {
    let key: String = name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    let key = key.strip_prefix("amazon").unwrap_or(&key);
    key.strip_prefix("aws").unwrap_or(key).to_string()
}

fn replace_or_push<T>(items: &mut Vec<T>, item: T, same: impl Fn(&T) -> bool) {
    match items.iter_mut().find(|x| same(x)) {
        Some(slot) => *slot = item,
        None => items.push(item),
    }
}
