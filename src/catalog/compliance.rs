//! prowler's checks and the compliance frameworks that map requirements onto them.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::Catalog;
use crate::input::Framework;

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ProwlerCheck {
    #[serde(default)]
    pub id: String,
    /// prowler's service name (its own naming, e.g. "s3", "awslambda").
    pub service: String,
    pub severity: Option<String>,
    /// Security Hub (ASFF) resource type, e.g. AwsS3Bucket.
    pub resource_type: Option<String>,
}

/// One framework as prowler ships it: requirement id → prowler check ids.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct FrameworkFacts {
    /// prowler's framework name, e.g. "NIST-800-53-Revision-5".
    pub name: String,
    pub version: Option<String>,
    /// The prowler compliance file it came from (says which edition was chosen).
    pub file: String,
    pub requirements: BTreeMap<String, Vec<String>>,
}

impl FrameworkFacts {
    pub fn requirement_count(&self) -> usize {
        self.requirements.len()
    }
}

/// `data/compliance.json`.
#[derive(Deserialize)]
pub(crate) struct ComplianceFacts {
    pub checks: BTreeMap<String, ProwlerCheck>,
    pub frameworks: BTreeMap<String, FrameworkFacts>,
}

/// Per framework: check id → requirement ids that list it (sorted), so a stage can
/// go from a control's checks to the requirements it satisfies without scanning.
pub(crate) type RequirementsByCheck = BTreeMap<Framework, HashMap<String, Vec<String>>>;

pub(crate) fn requirements_by_check(frameworks: &BTreeMap<Framework, FrameworkFacts>) -> RequirementsByCheck {
    frameworks
        .iter()
        .map(|(framework, facts)| {
            let mut index: HashMap<String, Vec<String>> = HashMap::new();
            for (requirement, checks) in &facts.requirements {
                for check in checks {
                    index.entry(check.clone()).or_default().push(requirement.clone());
                }
            }
            (*framework, index)
        })
        .collect()
}

impl Catalog {
    pub fn prowler_check(&self, id: &str) -> Option<&ProwlerCheck> {
        self.prowler_checks.get(id)
    }

    pub fn framework(&self, framework: Framework) -> Option<&FrameworkFacts> {
        self.frameworks.get(&framework)
    }

    /// Requirement ids of `framework` that list the prowler check, sorted.
    pub fn framework_requirements_for_check(&self, framework: Framework, check_id: &str) -> Vec<&str> {
        self.requirements_by_check
            .get(&framework)
            .and_then(|index| index.get(check_id))
            .map(|ids| ids.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
}
