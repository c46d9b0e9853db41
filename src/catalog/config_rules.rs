//! AWS Config managed rules (identifiers and the resource types they evaluate) and
//! the resource types AWS Config records.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{Catalog, ServiceIdentity};

/// One AWS Config managed rule. `id` is the identifier a rule's `SourceIdentifier` takes.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct ConfigRule {
    #[serde(default)]
    pub id: String,
    /// The rule's documented (kebab-case) name, when a source gives it.
    pub name: Option<String>,
    /// CloudFormation / Config resource types the rule evaluates.
    #[serde(default)]
    pub resource_types: Vec<String>,
    /// Where `resource_types` came from: "cdk-nag" (a rule implementation inspects those
    /// types) or "name" (the rule id names a recorded type, e.g. S3_BUCKET_… → AWS::S3::Bucket).
    pub resource_types_basis: Option<String>,
    /// Registry packages that list the rule.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// `data/config.json`.
#[derive(Deserialize)]
pub(crate) struct ConfigFacts {
    pub rules: BTreeMap<String, ConfigRule>,
    pub recorded_resource_types: BTreeSet<String>,
}

impl ConfigFacts {
    pub(crate) fn with_ids(mut self) -> Self {
        for (id, rule) in &mut self.rules {
            rule.id = id.clone();
        }
        self
    }
}

/// The service a rule id's prefix names: the longest team-listed prefix, else `<SERVICE ID>_`.
/// Only used for rules whose resource types no source gives.
pub(crate) fn service_by_prefix<'a>(
    rule_id: &str,
    prefixes: &'a BTreeMap<String, String>,
    service_ids: impl Iterator<Item = &'a String>,
) -> Option<&'a str> {
    let listed = prefixes
        .iter()
        .filter(|(prefix, _)| rule_id.starts_with(prefix.as_str()))
        .max_by_key(|(prefix, _)| prefix.len())
        .map(|(_, service)| service.as_str());
    listed.or_else(|| {
        service_ids
            .filter(|id| {
                rule_id.len() > id.len()
                    && rule_id[..id.len()].eq_ignore_ascii_case(id)
                    && rule_id.as_bytes()[id.len()] == b'_'
            })
            .max_by_key(|id| id.len())
            .map(String::as_str)
    })
}

impl Catalog {
    pub fn config_rule(&self, id: &str) -> Option<&ConfigRule> {
        self.config.rules.get(id)
    }

    pub fn config_rules(&self) -> impl Iterator<Item = &ConfigRule> {
        self.config.rules.values()
    }

    /// Rules that evaluate a resource type in the service's CloudFormation namespaces, or,
    /// for rules without known resource types, whose id prefix names the service. Sorted by id.
    pub fn config_rules_for_service(&self, service: &ServiceIdentity) -> Vec<&ConfigRule> {
        self.config
            .rules
            .values()
            .filter(|rule| {
                if rule.resource_types.is_empty() {
                    self.config_rule_service.get(&rule.id).is_some_and(|s| s == &service.id)
                } else {
                    rule.resource_types.iter().any(|t| service.owns_cloudformation_type(t))
                }
            })
            .collect()
    }

    /// Whether AWS Config records (and so rules can evaluate) this resource type.
    pub fn config_resource_type_supported(&self, cfn_type: &str) -> bool {
        self.config.recorded_resource_types.contains(cfn_type)
    }
}
