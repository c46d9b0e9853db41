//! checkov's AWS checks: which IaC frameworks and resource types each covers.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Catalog;

#[derive(Debug, Clone, Serialize)]
pub struct CheckovCheck {
    pub id: String,
    /// "cloudformation" and/or "terraform".
    pub frameworks: Vec<String>,
    /// Resource types over all frameworks: Terraform (aws_…) and CloudFormation (AWS::…) names.
    pub resource_types: Vec<String>,
    /// The same, per framework.
    pub resource_types_by_framework: BTreeMap<String, Vec<String>>,
}

/// `data/checkov.json`: check id → framework → resource types.
#[derive(serde::Deserialize)]
pub(crate) struct CheckovFacts {
    pub checks: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl CheckovFacts {
    pub(crate) fn into_checks(self) -> BTreeMap<String, CheckovCheck> {
        self.checks
            .into_iter()
            .map(|(id, by_framework)| {
                let mut resource_types: Vec<String> = by_framework.values().flatten().cloned().collect();
                resource_types.sort();
                resource_types.dedup();
                let check = CheckovCheck {
                    id: id.clone(),
                    frameworks: by_framework.keys().cloned().collect(),
                    resource_types,
                    resource_types_by_framework: by_framework,
                };
                (id, check)
            })
            .collect()
    }
}

impl Catalog {
    pub fn checkov_check(&self, id: &str) -> Option<&CheckovCheck> {
        self.checkov.get(id)
    }
}
