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
    /// AWS Config resource types the rule evaluates ([`ACCOUNT`] for periodic checks of the
    /// account as a whole).
    #[serde(default)]
    pub resource_types: Vec<String>,
    /// Where `resource_types` came from: "reviewed" (the team's table, cross-checked against
    /// the packages; the only basis the pipeline deploys), "cdk-nag" (Config-recorded types
    /// cdk-nag's implementation inspects) or "name" (the rule id names a recorded type).
    pub resource_types_basis: Option<String>,
    /// "configuration_change" or "periodic"; known for reviewed rules only.
    #[serde(default)]
    pub trigger: Option<String>,
    /// CloudFormation types cdk-nag's implementation of the rule inspects (a hint, not a scope).
    #[serde(default)]
    pub inspected_cloudformation_types: Vec<String>,
    /// Registry packages that list the rule.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// The pseudo resource type of periodic rules that evaluate the account as a whole.
pub const ACCOUNT: &str = "AWS::::Account";

impl ConfigRule {
    pub fn reviewed(&self) -> bool {
        self.resource_types_basis.as_deref() == Some("reviewed")
    }

    pub fn periodic(&self) -> bool {
        self.trigger.as_deref() == Some("periodic")
    }

    pub fn evaluates_account(&self) -> bool {
        self.resource_types.iter().any(|t| t == ACCOUNT)
    }
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

    /// Whether AWS Config records this resource type (a change-triggered rule can be scoped to it).
    pub fn config_resource_type_supported(&self, config_type: &str) -> bool {
        self.config.recorded_resource_types.contains(config_type)
    }

    /// The AWS Config name of a CloudFormation resource type: the service links' mapping
    /// (data/links.json, one source with its basis: AWS::OpenSearchService::Domain →
    /// AWS::OpenSearch::Domain), else the same name.
    pub fn config_type_of<'a>(&'a self, cfn_type: &'a str) -> &'a str {
        self.config_resource_type(cfn_type).unwrap_or(cfn_type)
    }
}
