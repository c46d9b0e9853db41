//! Security Hub controls (AWS Foundational Security Best Practices), as prowler maps them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Catalog, ServiceIdentity};

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct SecurityHubControl {
    #[serde(default)]
    pub id: String,
    /// The control family: the id before the dot ("S3" for S3.1).
    pub service: String,
    pub severity: Option<String>,
    /// The AWS Config rule behind the control, when a source gives it (none of the pinned ones does yet).
    pub config_rule: Option<String>,
    /// prowler checks that implement the control.
    #[serde(default)]
    pub prowler_checks: Vec<String>,
    /// Security Hub (ASFF) resource types those checks report, e.g. AwsS3Bucket.
    #[serde(default)]
    pub resource_types: Vec<String>,
}

/// `data/securityhub.json`.
#[derive(Deserialize)]
pub(crate) struct SecurityHubFacts {
    pub controls: BTreeMap<String, SecurityHubControl>,
}

impl SecurityHubFacts {
    pub(crate) fn with_ids(mut self) -> Self {
        for (id, control) in &mut self.controls {
            control.id = id.clone();
        }
        self
    }
}

impl Catalog {
    pub fn security_hub_control(&self, id: &str) -> Option<&SecurityHubControl> {
        self.security_hub.controls.get(id)
    }

    /// Controls linked to the service (data/links.json): they report one of its resource types,
    /// or their family names it. Ordered as S3.1, S3.2, … S3.10.
    pub fn security_hub_controls_for_service(&self, service: &ServiceIdentity) -> Vec<&SecurityHubControl> {
        let mut controls: Vec<&SecurityHubControl> = self
            .links(service)
            .security_hub_controls
            .keys()
            .filter_map(|id| self.security_hub.controls.get(id))
            .collect();
        controls.sort_by_key(|c| control_order(&c.id));
        controls
    }
}

/// (family, number) so S3.10 sorts after S3.9.
fn control_order(id: &str) -> (String, u32) {
    let (family, number) = id.split_once('.').unwrap_or((id, ""));
    (family.to_string(), number.parse().unwrap_or(u32::MAX))
}
