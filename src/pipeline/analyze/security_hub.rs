//! Security Hub as the completeness yardstick. For each Security Hub control the catalog
//! lists for the service, the bundle either implements it — a selected control names it,
//! with a detective (its AWS Config rule, else Security Hub's own check of the deployed
//! resource) and a proactive Guard rule wherever a template property expresses it — or
//! says why not: the profile does not call for it, it needs account or organisation setup,
//! or a deployment cannot express it (`knowledge/security-hub-reasons.yaml`).

use std::collections::BTreeSet;

use serde::Serialize;

use crate::input::Profile;
use crate::knowledge::{ControlDef, Knowledge, ReasonKind, requirements};
use crate::plan::Plan;

#[derive(Debug, Clone, Serialize)]
pub struct Coverage {
    pub total: usize,
    pub implemented: usize,
    /// Not implemented, with a valid reason.
    pub reasoned: usize,
    /// Neither implemented nor reasoned (including partial implementations).
    pub unaccounted: usize,
    pub implemented_percent: f64,
    pub implemented_or_reasoned_percent: f64,
    pub controls: Vec<Entry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Implemented,
    NotSelected,
    Partial,
    Unaccounted,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub severity: Option<String>,
    pub status: Status,
    /// The bundle's controls that name it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detective: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proactive: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<ReasonKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

pub fn coverage(knowledge: &Knowledge, profile: &Profile, plan: &Plan, service_id: &str) -> Coverage {
    let catalog = knowledge.catalog();
    let Some(identity) = catalog.service(service_id) else { return summarize(Vec::new()) };
    let deployed = deployed_config_types(knowledge, plan);
    let selected = plan.selected_controls();
    let entries = catalog
        .security_hub_controls_for_service(identity)
        .into_iter()
        .map(|sh| {
            let naming: Vec<&ControlDef> =
                selected.iter().copied().filter(|c| c.security_hub.contains(&sh.id)).collect();
            let mut entry = Entry {
                id: sh.id.clone(),
                severity: sh.severity.clone(),
                status: Status::Unaccounted,
                controls: naming.iter().map(|c| c.id.clone()).collect(),
                detective: None,
                proactive: None,
                reason: None,
                detail: None,
            };
            if !naming.is_empty() {
                judge(knowledge, &deployed, &naming, &mut entry);
            } else if let Some(c) = plan.controls.controls.iter().find(|c| c.security_hub.contains(&sh.id)) {
                let missing: Vec<&str> =
                    c.requires.iter().filter(|k| !requirements::holds(profile, k)).map(String::as_str).collect();
                entry.status = Status::NotSelected;
                entry.reason = Some(ReasonKind::Profile);
                entry.controls = vec![c.id.clone()];
                entry.detail =
                    Some(format!("{} is not selected: the profile does not state {}", c.id, missing.join(", ")));
            } else if let Some(why) = plan.controls.security_hub_not_applicable.get(&sh.id) {
                entry.status = Status::NotSelected;
                entry.reason = Some(ReasonKind::Variant);
                entry.detail = Some(why.clone());
            } else if let Some(n) = plan.controls.not_applicable.iter().find(|n| n.security_hub.contains(&sh.id)) {
                entry.status = Status::NotSelected;
                entry.reason = Some(ReasonKind::Variant);
                entry.controls = vec![n.control_id.clone()];
                entry.detail = Some(format!("{} does not apply: {}", n.control_id, n.reason));
            } else if let Some(r) = knowledge.security_hub_reason(&sh.id) {
                entry.status = Status::NotSelected;
                entry.reason = Some(r.reason);
                entry.detail = Some(r.detail.clone());
            }
            entry
        })
        .collect();
    summarize(entries)
}

/// The best of the selected controls naming the Security Hub control.
fn judge(knowledge: &Knowledge, deployed: &BTreeSet<String>, naming: &[&ControlDef], entry: &mut Entry) {
    let mut best: Option<(bool, Option<String>, Option<String>)> = None;
    for c in naming {
        let detective = match (&c.detective, &c.cloudformation) {
            (Some(d), _) => Some(format!("AWS Config rule {}", d.config_rule)),
            (None, Some(_)) => Some("Security Hub's own check of the deployed resource".to_string()),
            (None, None) => None,
        };
        let proactive = if c.cloudformation.is_some() {
            Some(format!("Guard rule of {}", c.id))
        } else if let Some(why) = &c.not_expressible {
            Some(format!("no template property expresses it: {why}"))
        } else {
            untemplated(knowledge, deployed, c)
        };
        let ok = detective.is_some() && proactive.is_some();
        if best.as_ref().is_none_or(|(b, _, _)| ok && !b) {
            best = Some((ok, detective, proactive));
        }
    }
    let Some((ok, detective, proactive)) = best else { return };
    entry.status = if ok { Status::Implemented } else { Status::Partial };
    if !ok {
        entry.detail = Some(if detective.is_none() {
            "named by a control without a detective rule".into()
        } else {
            "detective only, though the template creates the resource it checks".into()
        });
    }
    entry.detective = detective;
    entry.proactive = proactive;
}

/// A detective-only control whose rule evaluates nothing the template creates (or the
/// account) needs no Guard rule: there is no template property to check.
fn untemplated(knowledge: &Knowledge, deployed: &BTreeSet<String>, c: &ControlDef) -> Option<String> {
    let rule = knowledge.catalog().config_rule(&c.detective.as_ref()?.config_rule)?;
    if rule.resource_types.is_empty() || rule.resource_types.iter().any(|t| deployed.contains(t)) {
        return None;
    }
    Some(format!("the template creates no {}", rule.resource_types.join(" or ")))
}

/// AWS Config types of the resources the plan deploys.
fn deployed_config_types(knowledge: &Knowledge, plan: &Plan) -> BTreeSet<String> {
    let selected: BTreeSet<&str> = plan.selected.iter().map(|s| s.id.as_str()).collect();
    plan.controls
        .resources
        .iter()
        .filter(|r| r.with_control.as_deref().is_none_or(|c| selected.contains(c)))
        .map(|r| knowledge.catalog().config_type_of(&r.kind).to_string())
        .collect()
}

fn summarize(controls: Vec<Entry>) -> Coverage {
    let total = controls.len();
    let implemented = controls.iter().filter(|e| e.status == Status::Implemented).count();
    let reasoned = controls.iter().filter(|e| e.status == Status::NotSelected).count();
    let percent = |n: usize| if total == 0 { 100.0 } else { (1000.0 * n as f64 / total as f64).round() / 10.0 };
    Coverage {
        total,
        implemented,
        reasoned,
        unaccounted: total - implemented - reasoned,
        implemented_percent: percent(implemented),
        implemented_or_reasoned_percent: percent(implemented + reasoned),
        controls,
    }
}
