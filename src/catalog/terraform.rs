//! Terraform AWS provider resource types with their argument and nested block names,
//! and the Terraform name prefixes that belong to each service.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Catalog, ServiceIdentity};

/// A resource's schema or one nested block in it.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct TerraformBlock {
    #[serde(default)]
    pub arguments: Vec<String>,
    #[serde(default)]
    pub blocks: BTreeMap<String, TerraformBlock>,
}

/// A Terraform resource type (e.g. aws_s3_bucket): its top-level block.
pub type TerraformResource = TerraformBlock;

impl TerraformBlock {
    /// Whether `path` names an argument or a nested block, e.g.
    /// `["rule", "apply_server_side_encryption_by_default", "sse_algorithm"]`.
    pub fn has_path(&self, path: &[&str]) -> bool {
        match path {
            [] => false,
            [last] => self.blocks.contains_key(*last) || self.arguments.iter().any(|a| a == last),
            [first, rest @ ..] => self.blocks.get(*first).is_some_and(|block| block.has_path(rest)),
        }
    }
}

/// `data/terraform.json`.
#[derive(Deserialize)]
pub(crate) struct TerraformFacts {
    pub provider: String,
    pub provider_version: String,
    pub resources: BTreeMap<String, TerraformResource>,
}

/// A prefix ending in `_` matches by starts-with; any other matches the name itself or `name_…`,
/// so `aws_lb` takes aws_lb_listener but not aws_lbx, and `aws_route` not aws_route53_zone.
pub fn terraform_prefix_matches(prefix: &str, type_name: &str) -> bool {
    if prefix.ends_with('_') {
        type_name.starts_with(prefix)
    } else {
        type_name.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    }
}

/// `CloudFront` → `cloud_front`, for namespaces Terraform spells with underscores (`ApiGateway`).
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut previous_upper = true; // no underscore before the first letter
    for c in name.chars() {
        if c.is_ascii_uppercase() && !previous_upper {
            out.push('_');
        }
        previous_upper = c.is_ascii_uppercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Prefixes for a service: the team's list when it has one (knowledge/aliases.json), else
/// `aws_<id>_` and `aws_<namespace>_` (lowercase and snake_case) for each CloudFormation
/// namespace, kept only when some provider resource type has them.
pub(crate) fn derive_prefixes<'a>(
    identity: &ServiceIdentity,
    listed: Option<&Vec<String>>,
    type_names: impl Iterator<Item = &'a String> + Clone,
) -> Vec<String> {
    if let Some(listed) = listed {
        return listed.clone();
    }
    let mut candidates = vec![format!("aws_{}_", identity.id)];
    for namespace in &identity.cloudformation_namespaces {
        let short = namespace.trim_start_matches("AWS::");
        candidates.push(format!("aws_{}_", short.to_ascii_lowercase()));
        candidates.push(format!("aws_{}_", snake(short)));
    }
    candidates.sort();
    candidates.dedup();
    candidates.retain(|p| type_names.clone().any(|t| terraform_prefix_matches(p, t)));
    candidates
}

impl Catalog {
    pub fn terraform_resource(&self, type_name: &str) -> Option<&TerraformResource> {
        self.terraform.resources.get(type_name)
    }

    /// The hashicorp/aws provider version the resource schemas were generated from.
    pub fn terraform_provider_version(&self) -> &str {
        &self.terraform.provider_version
    }

    /// The provider's registry address, e.g. registry.terraform.io/hashicorp/aws.
    pub fn terraform_provider(&self) -> &str {
        &self.terraform.provider
    }

    /// Terraform resource types linked to the service (data/links.json), sorted.
    pub fn terraform_resources_of<'a>(&'a self, service: &'a ServiceIdentity) -> impl Iterator<Item = &'a String> {
        self.links(service).terraform_types.keys().filter(|name| self.terraform.resources.contains_key(*name))
    }
}
