//! The knowledge catalog: AWS facts extracted by `scripts/refresh-catalog` from
//! pinned registry packages into `data/`, loaded once into indexed memory.
//!
//! Stages reference nothing that is not here; that is what makes a bundle checkable.

mod checkov;
mod compliance;
mod config_rules;
mod global_keys;
mod lazy;
mod links;
mod load;
mod resolve;
mod security_hub;
mod terraform;

pub use checkov::CheckovCheck;
pub use compliance::{FrameworkFacts, ProwlerCheck};
pub use config_rules::ConfigRule;
pub use global_keys::{GLOBAL_CONDITION_KEYS, is_global_condition_key};
pub use links::{ConfigTypeLink, ServiceLinks};
pub use load::CatalogError;
pub(crate) use load::default_dir;
pub use resolve::{Resolution, Suggestion};
pub use security_hub::SecurityHubControl;
pub use terraform::{TerraformBlock, TerraformResource, terraform_prefix_matches};

use std::collections::{BTreeMap, HashMap};

use crate::input::Framework;

use serde::{Deserialize, Serialize};

/// The five IAM access levels.
pub const ACCESS_LEVELS: [&str; 5] = ["List", "Read", "Write", "Permissions management", "Tagging"];

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Action {
    pub access_level: String,
    #[serde(default)]
    pub resource_types: Vec<String>,
    #[serde(default)]
    pub condition_keys: Vec<String>,
    #[serde(default)]
    pub dependent_actions: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ResourceType {
    pub arn: String,
    #[serde(default)]
    pub condition_keys: Vec<String>,
}

/// One IAM service prefix and everything IAM knows about it.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct IamService {
    pub service_name: String,
    pub actions: BTreeMap<String, Action>,
    pub resource_types: BTreeMap<String, ResourceType>,
    #[serde(default)]
    pub condition_keys: BTreeMap<String, String>,
}

impl IamService {
    /// Action names grouped by access level; every level is present, names sorted.
    pub fn actions_by_access_level(&self) -> BTreeMap<&'static str, Vec<&str>> {
        let mut by_level: BTreeMap<&'static str, Vec<&str>> =
            ACCESS_LEVELS.iter().map(|level| (*level, Vec::new())).collect();
        for (name, action) in &self.actions {
            if let Some(list) = by_level.get_mut(action.access_level.as_str()) {
                list.push(name);
            }
        }
        by_level
    }
}

/// Service metadata from the AWS SDK models (identifiers only).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct SdkService {
    pub sdk_id: Option<String>,
    pub endpoint_prefix: Option<String>,
    pub signing_name: Option<String>,
    pub full_name: Option<String>,
    pub abbreviation: Option<String>,
    pub protocol: Option<String>,
}

/// A CloudFormation resource type's schema facts (us-east-1), as extracted.
/// Property nodes stay JSON: they are walked, not computed on.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct CfnResourceType {
    #[serde(default)]
    pub properties: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub definitions: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub primary_identifier: Vec<String>,
    #[serde(default)]
    pub create_only: Vec<String>,
    #[serde(default)]
    pub read_only: Vec<String>,
    #[serde(default)]
    pub write_only: Vec<String>,
    pub taggable: Option<bool>,
    pub tag_property: Option<String>,
    /// Handler (create/read/update/delete/list) → IAM actions it needs.
    #[serde(default)]
    pub handlers: BTreeMap<String, Vec<String>>,
    /// Top-level oneOf/anyOf/allOf (properties required together or instead of each other).
    #[serde(default)]
    pub combinators: Option<serde_json::Value>,
    /// cfn-lint's lifecycle status of the type's service (`shutdown`, `sunset`, `maintenance`).
    #[serde(default)]
    pub lifecycle: Option<String>,
}

/// The canonical identity of a service: its IAM prefix and the names it goes by.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceIdentity {
    pub id: String,
    pub iam_prefix: String,
    pub display_names: Vec<String>,
    pub sdk_ids: Vec<String>,
    /// Namespaces of the CloudFormation types linked to the service (data/links.json).
    pub cloudformation_namespaces: Vec<String>,
    /// Terraform resource type prefixes (aws_s3_; aws_lb, aws_alb, aws_elb for load balancing).
    pub terraform_prefixes: Vec<String>,
}

impl ServiceIdentity {}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Manifest {
    pub catalog_version: String,
    #[serde(default)]
    pub sources: Vec<serde_json::Value>,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

/// The loaded, indexed catalog. Immutable after load; share it behind an `Arc`.
pub struct Catalog {
    pub manifest: Manifest,
    /// Where the data files were read from (for errors found by [`Catalog::parse_all`]).
    data_dir: std::path::PathBuf,
    iam: BTreeMap<String, lazy::Lazy<IamService>>,
    cfn: BTreeMap<String, lazy::Lazy<CfnResourceType>>,
    identities: BTreeMap<String, ServiceIdentity>,
    /// Normalised name → canonical ids it denotes (more than one means ambiguous).
    names: HashMap<String, Vec<String>>,
    config: config_rules::ConfigFacts,
    security_hub: security_hub::SecurityHubFacts,
    /// Each service's CloudFormation/Terraform types, Config types, rules and controls.
    links: links::Links,
    prowler_checks: BTreeMap<String, ProwlerCheck>,
    frameworks: BTreeMap<Framework, FrameworkFacts>,
    requirements_by_check: compliance::RequirementsByCheck,
    checkov: BTreeMap<String, CheckovCheck>,
    terraform: terraform::TerraformFacts,
}

impl Catalog {
    pub fn version(&self) -> &str {
        &self.manifest.catalog_version
    }

    pub fn services(&self) -> impl Iterator<Item = &ServiceIdentity> {
        self.identities.values()
    }

    pub fn service(&self, id: &str) -> Option<&ServiceIdentity> {
        self.identities.get(id)
    }

    pub fn iam(&self, prefix: &str) -> Option<&IamService> {
        self.iam.get(prefix).map(lazy::Lazy::get)
    }

    pub fn resource_type(&self, type_name: &str) -> Option<&CfnResourceType> {
        self.cfn.get(type_name).map(lazy::Lazy::get)
    }

    /// Parses every IAM service and CloudFormation schema now (the one-shot CLI parses
    /// only those a run uses); the first entry that does not parse is an error naming its file.
    pub fn parse_all(&self) -> Result<(), CatalogError> {
        let invalid = |file: &str, key: &str, e: serde_json::Error| CatalogError::Invalid {
            path: self.data_dir.join(file),
            message: format!("entry '{key}': {e}"),
        };
        for (prefix, entry) in &self.iam {
            entry.parse().map_err(|e| invalid("iam.json", prefix, e))?;
        }
        for (type_name, entry) in &self.cfn {
            entry.parse().map_err(|e| invalid("cfn.json", type_name, e))?;
        }
        Ok(())
    }

    /// Looks up `prefix:Action` (IAM action names are case-insensitive).
    pub fn action(&self, qualified: &str) -> Option<(&str, &Action)> {
        let (prefix, name) = qualified.split_once(':')?;
        let svc = self.iam(&prefix.to_ascii_lowercase())?;
        svc.actions.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(n, a)| (n.as_str(), a))
    }

    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts = BTreeMap::new();
        counts.insert("services", self.identities.len());
        let iam = || self.iam.values().map(lazy::Lazy::get);
        counts.insert("actions", iam().map(|s| s.actions.len()).sum());
        counts.insert("iam_resource_types", iam().map(|s| s.resource_types.len()).sum());
        counts.insert("condition_keys", iam().map(|s| s.condition_keys.len()).sum());
        counts.insert("cloudformation_resource_types", self.cfn.len());
        counts.insert("services_linked_to_cloudformation", self.services_linked_to_cloudformation());
        counts.insert("config_rules", self.config.rules.len());
        counts.insert("config_recorded_resource_types", self.config.recorded_resource_types.len());
        counts.insert("security_hub_controls", self.security_hub.controls.len());
        counts.insert("prowler_checks", self.prowler_checks.len());
        counts.insert("frameworks", self.frameworks.len());
        counts.insert("framework_requirements", self.frameworks.values().map(FrameworkFacts::requirement_count).sum());
        counts.insert("checkov_checks", self.checkov.len());
        counts.insert("terraform_resources", self.terraform.resources.len());
        counts
    }
}
