//! `analyze`: which controls the profile calls for, how urgent each is, why (in
//! the profile's own facts), which STRIDE threats it mitigates, and which
//! requirements of the profile's frameworks it satisfies.

pub(crate) mod frameworks;
mod render;
pub mod security_hub;

use std::collections::BTreeMap;

use serde::Serialize;

use super::checks::Checks;
use super::contracts::Analyzed;
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::knowledge::{self, Priority, Stride, requirements};
use crate::plan::{Plan, PlannedControl};

#[derive(Serialize)]
pub(crate) struct Trigger {
    key: String,
    fact: String,
}

#[derive(Serialize)]
pub(crate) struct Recommendation {
    control_id: String,
    title: String,
    category: knowledge::Category,
    priority: Priority,
    rationale: String,
    triggered_by: Vec<Trigger>,
    stride: Vec<Stride>,
    /// Framework id → requirement ids, only for frameworks the profile names.
    frameworks: BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
pub(crate) struct NotSelected {
    control_id: String,
    title: String,
    /// Requirement keys the profile does not state.
    missing: Vec<String>,
    /// Set when the control does not apply to the variant the request named, with why.
    #[serde(skip_serializing_if = "Option::is_none")]
    not_applicable: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct Analysis {
    catalog_version: String,
    service: String,
    profile_id: String,
    controls_source: &'static str,
    /// The kind of the main resource (load balancers), chosen from the requested name.
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<String>,
    /// The service name the request gave, when it chose the variant.
    #[serde(skip_serializing_if = "Option::is_none")]
    requested_name: Option<String>,
    recommendations: Vec<Recommendation>,
    not_selected: Vec<NotSelected>,
    priorities: BTreeMap<&'static str, usize>,
    framework_coverage: BTreeMap<String, frameworks::Coverage>,
    stride_coverage: BTreeMap<String, Vec<String>>,
    /// Every Security Hub control the catalog lists for the service: implemented, or not
    /// selected with the reason.
    security_hub_coverage: security_hub::Coverage,
    /// Derived control sets only: primary types, every recognised property that is not a
    /// control with the reason, and what cannot be enforced at deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    derivation: Option<knowledge::Derivation>,
}

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let service = input.service()?;
    let Some(plan) = Plan::build_named(input.knowledge, input.profile, service, input.service_name) else {
        return Err(StageError::Permanent(format!(
            "no reviewed controls for '{}' and none can be derived from its CloudFormation schemas",
            service.id
        )));
    };
    // In definition order: the STRIDE coverage lists controls in that order.
    let recommendations: Vec<Recommendation> = plan
        .controls
        .controls
        .iter()
        .filter_map(|c| plan.selected.iter().find(|s| s.id == c.id).map(|s| recommendation(input, c, s)))
        .collect();
    let analysis = Analysis {
        catalog_version: input.catalog().version().to_string(),
        service: service.id.clone(),
        profile_id: input.profile.profile_id.clone(),
        controls_source: if plan.derived() { "derived" } else { "reviewed" },
        variant: plan.controls.variant.clone(),
        requested_name: plan.controls.variant.as_ref().map(|_| input.service_name.to_string()),
        not_selected: not_selected(input, &plan),
        priorities: count_priorities(&recommendations),
        framework_coverage: frameworks::coverage(input, &recommendations),
        stride_coverage: stride_coverage(&recommendations),
        security_hub_coverage: security_hub::coverage(input.knowledge, input.profile, &plan, &service.id),
        recommendations: sorted(recommendations),
        derivation: plan.controls.derivation.clone(),
    };
    let markdown = render::markdown(&analysis);
    let artifacts = vec![Artifact::json("analysis.json", &analysis), Artifact::markdown("analysis.md", markdown)];
    Ok(StageOutput::new(&Analyzed { plan, checks: Checks::default() }, artifacts))
}

fn recommendation(input: &StageInput<'_>, c: &knowledge::ControlDef, s: &PlannedControl) -> Recommendation {
    let triggered_by: Vec<Trigger> = s
        .triggered_by
        .iter()
        .map(|k| Trigger { key: k.to_string(), fact: requirements::describe(input.profile, k) })
        .collect();
    let rationale = if triggered_by.is_empty() {
        format!("{} Baseline for every profile.", c.rationale)
    } else {
        let facts: Vec<&str> = triggered_by.iter().map(|t| t.fact.as_str()).collect();
        format!("{} The profile states: {}.", c.rationale, facts.join("; "))
    };
    Recommendation {
        control_id: c.id.clone(),
        title: c.title.clone(),
        category: c.category,
        priority: s.priority,
        rationale,
        triggered_by,
        stride: c.stride.clone(),
        frameworks: frameworks::for_control(input, c),
    }
}

fn not_selected(input: &StageInput<'_>, plan: &Plan) -> Vec<NotSelected> {
    plan.controls
        .controls
        .iter()
        .filter(|c| !plan.selected.iter().any(|s| s.id == c.id))
        .map(|c| NotSelected {
            control_id: c.id.clone(),
            title: c.title.clone(),
            missing: c.requires.iter().filter(|k| !requirements::holds(input.profile, k)).cloned().collect(),
            not_applicable: None,
        })
        .chain(plan.controls.not_applicable.iter().map(|n| NotSelected {
            control_id: n.control_id.clone(),
            title: n.title.clone(),
            missing: Vec::new(),
            not_applicable: Some(n.reason.clone()),
        }))
        .collect()
}

fn sorted(mut recs: Vec<Recommendation>) -> Vec<Recommendation> {
    recs.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.control_id.cmp(&b.control_id)));
    recs
}

fn count_priorities(recs: &[Recommendation]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in recs {
        *out.entry(r.priority.as_str()).or_insert(0) += 1;
    }
    out
}

fn stride_coverage(recs: &[Recommendation]) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in recs {
        for s in &r.stride {
            let key = serde_json::to_value(s).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
            out.entry(key).or_default().push(r.control_id.clone());
        }
    }
    out
}
