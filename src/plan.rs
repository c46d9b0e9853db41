//! The run's plan: which of the service's controls the profile selects, at which
//! priority and why, with every profile-dependent value already applied. `analyze`
//! builds it once and persists it in its output; `controls`, `iac` and `iam` read
//! it from there and never rebuild the control set.

use serde::{Deserialize, Serialize};

use crate::catalog::ServiceIdentity;
use crate::input::Profile;
use crate::knowledge::{self, ControlDef, Knowledge, Priority, ServiceControls};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub service: String,
    /// The service's control set (reviewed or derived), profile values applied.
    pub controls: ServiceControls,
    /// Selected controls, highest priority first, then by id: the order every
    /// renderer emits them in.
    pub selected: Vec<PlannedControl>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedControl {
    pub id: String,
    pub priority: Priority,
    /// Requirement keys that hold and led to the choice or raised the priority.
    pub triggered_by: Vec<String>,
}

impl Plan {
    /// `None` when the service has no reviewed controls and none can be derived.
    pub fn build(knowledge: &Knowledge, profile: &Profile, service: &ServiceIdentity) -> Option<Plan> {
        Plan::build_named(knowledge, profile, service, &service.id)
    }

    /// [`build`](Self::build) for a service the request named `requested`: a name that
    /// chooses a variant of the service's main resource ("Network Load Balancer") gets
    /// that variant's resources and controls; any other name gets the first variant.
    pub fn build_named(
        knowledge: &Knowledge,
        profile: &Profile,
        service: &ServiceIdentity,
        requested: &str,
    ) -> Option<Plan> {
        let mut controls = knowledge.for_service(service)?.into_owned();
        let variant = controls.variant_named(requested).map(String::from);
        controls.apply_variant(variant.as_deref());
        let mut selected: Vec<PlannedControl> = knowledge::select(&controls, profile)
            .into_iter()
            .map(|s| PlannedControl {
                id: s.control.id.clone(),
                priority: s.priority,
                triggered_by: s.triggered_by.iter().map(|k| k.to_string()).collect(),
            })
            .collect();
        let ids: Vec<&str> = selected.iter().map(|s| s.id.as_str()).collect();
        if knowledge::data_key::needed(&controls, &ids) {
            // The key the bundle creates is watched like any other resource.
            let id = knowledge::data_key::add(&mut controls);
            selected.push(PlannedControl { id, priority: Priority::High, triggered_by: Vec::new() });
        }
        selected.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        knowledge::profile_values::apply(&mut controls, profile, knowledge.catalog());
        Some(Plan { service: service.id.clone(), controls, selected })
    }

    /// True when the controls were derived from resource schemas rather than reviewed.
    pub fn derived(&self) -> bool {
        self.controls.derived
    }

    /// The selected control definitions, in plan order.
    pub fn selected_controls(&self) -> Vec<&ControlDef> {
        self.selected.iter().filter_map(|s| self.controls.control(&s.id)).collect()
    }

    pub fn priority(&self, control_id: &str) -> Option<Priority> {
        self.selected.iter().find(|s| s.id == control_id).map(|s| s.priority)
    }
}
