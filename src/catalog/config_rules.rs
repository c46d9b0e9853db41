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

impl Catalog {
    pub fn config_rule(&self, id: &str) -> Option<&ConfigRule> {
        self.config.rules.get(id)
    }

    pub fn config_rules(&self) -> impl Iterator<Item = &ConfigRule> {
        self.config.rules.values()
    }

    /// Rules linked to the service (data/links.json): they evaluate one of its resource types,
    /// or, for rules without known resource types, their id names it. Sorted by id.
    pub fn config_rules_for_service(&self, service: &ServiceIdentity) -> Vec<&ConfigRule> {
        self.links(service).config_rules.keys().filter_map(|id| self.config.rules.get(id)).collect()
    }

    /// Whether AWS Config records (and so rules can evaluate) this resource type.
    pub fn config_resource_type_supported(&self, cfn_type: &str) -> bool {
        self.config.recorded_resource_types.contains(cfn_type)
    }
}
