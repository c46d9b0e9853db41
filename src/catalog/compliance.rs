//! Compliance facts: AWS Config rules, Security Hub controls, prowler checks and
//! framework requirements. Interface used by the pipeline; the data arrives with
//! the catalog refresh that extracts these sources (until then every lookup is empty).

use crate::input::Framework;

use super::{Catalog, ServiceIdentity};

#[derive(Debug, Clone, serde::Serialize)]
pub struct ConfigRule {
    pub id: String,
    pub resource_types: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct SecurityHubControl {
    pub id: String,
    pub service: String,
    pub severity: Option<String>,
    pub config_rule: Option<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ProwlerCheck {
    pub id: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckovCheck {
    pub id: String,
    pub frameworks: Vec<String>,
    pub resource_types: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FrameworkFacts {
    pub requirements: Vec<String>,
}

impl Catalog {
    pub fn config_rule(&self, _id: &str) -> Option<&ConfigRule> {
        None
    }

    pub fn config_rules_for_service(&self, _service: &ServiceIdentity) -> Vec<&ConfigRule> {
        Vec::new()
    }

    pub fn security_hub_control(&self, _id: &str) -> Option<&SecurityHubControl> {
        None
    }

    pub fn security_hub_controls_for_service(&self, _service: &ServiceIdentity) -> Vec<&SecurityHubControl> {
        Vec::new()
    }

    pub fn prowler_check(&self, _id: &str) -> Option<&ProwlerCheck> {
        None
    }

    pub fn checkov_check(&self, _id: &str) -> Option<&CheckovCheck> {
        None
    }

    pub fn framework(&self, _framework: Framework) -> Option<&FrameworkFacts> {
        None
    }

    pub fn framework_requirements_for_check(&self, _framework: Framework, _check: &str) -> Vec<&str> {
        Vec::new()
    }
}

impl Catalog {
    /// False until the catalog carries compliance sources; checks that need them are skipped, with a note.
    pub fn has_compliance_data(&self) -> bool {
        false
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TerraformResource {
    pub arguments: Vec<String>,
}

impl TerraformResource {
    pub fn has_path(&self, path: &[&str]) -> bool {
        path.first().is_some_and(|p| self.arguments.iter().any(|a| a == p))
    }
}

impl Catalog {
    pub fn terraform_resource(&self, _type_name: &str) -> Option<&TerraformResource> {
        None
    }

    pub fn terraform_provider_version(&self) -> &str {
        "6.0.0"
    }
}
