//! `controls`: the selected controls as deployable artifacts, grouped by type —
//! detective (AWS Config rules, Security Hub controls), preventive (SCPs),
//! proactive (CloudFormation Guard rules) and responsive (EventBridge rules with
//! remediation). Every identifier is checked against the catalog.

pub mod detective;
pub mod guard;
mod render;
pub mod scp;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::json;

use super::checks::Checks;
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::catalog::Catalog;
use crate::knowledge::{ControlDef, Priority};

#[derive(Serialize)]
pub(crate) struct ControlEntry {
    id: String,
    title: String,
    priority: Priority,
    category: crate::knowledge::Category,
    derived: bool,
    /// detective / preventive / proactive / responsive
    types: Vec<&'static str>,
    config_rule: Option<String>,
    security_hub: Vec<String>,
    guard_rule: Option<String>,
    scp_statement: Option<String>,
    event_rule: Option<String>,
    checkov: Vec<String>,
}

#[derive(Serialize)]
pub(crate) struct ControlsDoc {
    catalog_version: String,
    service: String,
    controls: Vec<ControlEntry>,
    by_type: BTreeMap<&'static str, Vec<String>>,
    config_rules: Vec<detective::ConfigRuleSpec>,
    event_rules: Vec<detective::EventRuleSpec>,
    scp_documents: Vec<String>,
}

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let identity = input.service()?;
    let (service, selected) = input.selected_controls()?;
    let controls: Vec<&ControlDef> = selected.iter().filter_map(|(id, _)| service.control(id)).collect();
    let priorities: BTreeMap<&str, Priority> = selected.iter().map(|(id, p)| (id.as_str(), *p)).collect();

    let config_rules = detective::config_rules(input.catalog, &service, &controls);
    let event_rules = detective::event_rules(identity, &controls);
    let scps = scp::documents(scp::statements(&controls));
    let rules = guard::rules_file(&service, &controls);

    let mut checks = Checks::default();
    verify_ids(input.catalog, &controls, &mut checks);
    detective::verify_scopes(input.catalog, &config_rules, &mut checks);
    scp::verify(input.catalog, &scps, &mut checks);
    checks.ensure_passed("controls")?;

    let entries: Vec<ControlEntry> =
        controls.iter().map(|c| entry(c, priorities[c.id.as_str()], service.derived)).collect();
    let doc = ControlsDoc {
        catalog_version: input.catalog.version().into(),
        service: identity.id.clone(),
        by_type: by_type(&entries),
        controls: entries,
        config_rules,
        event_rules,
        scp_documents: (1..=scps.len()).map(|i| format!("scp-{i}.json")).collect(),
    };
    let mut artifacts = vec![
        Artifact::json("controls.json", &doc),
        Artifact::markdown("controls.md", render::markdown(&doc)),
        Artifact { name: "rules.guard".into(), content_type: "text/plain; charset=utf-8", bytes: rules.into_bytes() },
    ];
    for (i, scp) in scps.iter().enumerate() {
        artifacts.push(Artifact::json(&format!("scp-{}.json", i + 1), scp));
    }
    let output = json!({ "checks": checks.0, "counts": doc.by_type.iter().map(|(k, v)| (k.to_string(), v.len())).collect::<BTreeMap<_, _>>() });
    Ok(StageOutput { output, artifacts })
}

fn entry(c: &ControlDef, priority: Priority, derived: bool) -> ControlEntry {
    let guard_rule = c.cloudformation.as_ref().map(|_| guard::rule_name(&c.id));
    let mut types = Vec::new();
    if c.detective.is_some() || !c.security_hub.is_empty() {
        types.push("detective");
    }
    if c.preventive.is_some() {
        types.push("preventive");
    }
    if guard_rule.is_some() {
        types.push("proactive");
    }
    if c.responsive.is_some() {
        types.push("responsive");
    }
    ControlEntry {
        id: c.id.clone(),
        title: c.title.clone(),
        priority,
        category: c.category,
        derived,
        types,
        config_rule: c.detective.as_ref().map(|d| d.config_rule.clone()),
        security_hub: c.security_hub.clone(),
        guard_rule,
        scp_statement: c.preventive.as_ref().map(|_| scp::sid(&c.id)),
        event_rule: c.responsive.as_ref().map(|_| detective::event_rule_name(&c.id)),
        checkov: c.checkov.clone(),
    }
}

fn by_type(entries: &[ControlEntry]) -> BTreeMap<&'static str, Vec<String>> {
    let mut out: BTreeMap<&'static str, Vec<String>> =
        ["detective", "preventive", "proactive", "responsive"].into_iter().map(|t| (t, Vec::new())).collect();
    for e in entries {
        for t in &e.types {
            out.entry(t).or_default().push(e.id.clone());
        }
    }
    out
}

/// Every Config rule, Security Hub control, checkov and prowler check id exists.
fn verify_ids(catalog: &Catalog, controls: &[&ControlDef], checks: &mut Checks) {
    for c in controls {
        if let Some(d) = &c.detective {
            let ok = catalog.config_rule(&d.config_rule).is_some();
            checks.record("config_rule_exists", format!("{} {}", c.id, d.config_rule), ok, missing(ok));
        }
        for id in &c.security_hub {
            let ok = catalog.security_hub_control(id).is_some();
            checks.record("security_hub_control_exists", format!("{} {id}", c.id), ok, missing(ok));
        }
        for id in &c.checkov {
            let ok = catalog.checkov_check(id).is_some();
            checks.record("checkov_check_exists", format!("{} {id}", c.id), ok, missing(ok));
        }
        for id in &c.prowler {
            let ok = catalog.prowler_check(id).is_some();
            checks.record("prowler_check_exists", format!("{} {id}", c.id), ok, missing(ok));
        }
    }
}

fn missing(ok: bool) -> &'static str {
    if ok { "" } else { "not in catalog" }
}
