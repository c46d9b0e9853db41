//! The IAM model (`iam-model.json`): everything a reviewer needs to approve the policies,
//! and what `render` turns into `iam-model.md`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::arn::Parameter;
use super::classify::Classification;
use super::deployer::HandlerPermissions;

#[derive(Debug, Serialize)]
pub struct DocumentSummary {
    pub artifact: String,
    /// Characters counted against the quota (whitespace excluded).
    pub size: usize,
    pub limit: usize,
    pub statements: usize,
}

#[derive(Debug, Serialize)]
pub struct PersonaSummary {
    pub name: &'static str,
    pub scope: String,
    pub action_count: usize,
    pub documents: Vec<DocumentSummary>,
    pub actions: Vec<String>,
    /// Actions granted on `Resource: "*"` because they accept no resource ARN.
    pub wildcard_resource_actions: Vec<String>,
    /// Set when the persona needs more managed policies than a role takes by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_note: Option<String>,
}

/// Managed policies a role may have attached without a quota increase (20 with one).
pub const DEFAULT_ATTACHED_POLICIES: usize = 10;

/// Why a persona split into more documents than a role takes by default, if it did.
pub fn attachment_note(documents: usize) -> Option<String> {
    (documents > DEFAULT_ATTACHED_POLICIES).then(|| {
        format!(
            "{documents} managed policies exceed the default {DEFAULT_ATTACHED_POLICIES} per role: request the quota increase (up to 20) or split the persona into several roles"
        )
    })
}

#[derive(Debug, Serialize)]
pub struct DeployerSummary<'a> {
    pub resource_types: &'a [String],
    /// `iac` when read from the iac stage's output, `catalog` for the primary-type fallback.
    pub resource_types_source: &'static str,
    pub handlers: &'a HandlerPermissions,
}

#[derive(Debug, Serialize)]
pub struct GuardrailSummary {
    pub documents: Vec<DocumentSummary>,
    pub omitted: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct IamModel<'a> {
    pub catalog_version: &'a str,
    pub service: &'a str,
    pub personas: Vec<PersonaSummary>,
    pub classification_counts: BTreeMap<String, usize>,
    pub classification: &'a [Classification],
    pub deployer: DeployerSummary<'a>,
    pub guardrails: GuardrailSummary,
    /// Roles `template.yaml` creates for the service itself, with exactly its policies.
    pub service_roles: Vec<super::service_roles::ServiceRoleSummary>,
    pub parameters: Vec<Parameter>,
    /// The rules behind the choices, stated once for reviewers.
    pub notes: Vec<&'static str>,
}

pub const NOTES: [&str; 6] = [
    "Resource ARNs are the catalog's ARN formats; ${Name} parts are template parameters (Fn::Sub / templatefile syntax) listed under parameters.",
    "An Allow statement uses Resource \"*\" only for actions that accept no resource ARN (wildcard_resource_actions); no Allow statement has a wildcard action.",
    "Guardrail Deny statements may name a whole service as prefix:* (regions, TLS, networks); a Deny wildcard removes permissions and never grants any.",
    "Data-read actions (stored content, not configuration) are classified by name rules plus knowledge/iam/data-read.yaml; auditors and operators never get them.",
    "Deployer permissions come from the CloudFormation handler permissions of the deployed types; entries that are not IAM actions or belong to undeployed services are listed as dropped.",
    "Service roles are read from template.yaml as rendered: the template's statements are shown as written; their document (iam-policy-service-role-*.json) names a template resource by its catalog ARN format, and each resource must be an instance of an ARN format of its actions. Resource \"*\" only for actions that take no resource ARN (X-Ray, Describe calls); the ENI actions are scoped to the account and region because Lambda creates the interfaces at run time.",
];

/// Counts per access level and per flag, for the summary table.
pub fn classification_counts(classes: &[Classification]) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    counts.insert("actions".into(), classes.len());
    for c in classes {
        *counts.entry(format!("level: {}", c.access_level)).or_default() += 1;
        let flags = [
            ("data_read", c.data_read),
            ("data_write", c.data_write),
            ("operate", c.operate),
            ("no_resource_level_permissions", c.no_resource_level_permissions),
            ("permissions_management", c.flags.permissions_management),
            ("data_exfiltration", c.flags.data_exfiltration),
            ("destructive", c.flags.destructive),
            ("disables_logging_or_encryption", c.flags.disables_logging_or_encryption),
        ];
        for (name, set) in flags {
            *counts.entry(name.into()).or_default() += usize::from(set);
        }
    }
    counts
}
