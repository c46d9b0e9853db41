//! `controls`: the selected controls as deployable artifacts, grouped by type —
//! detective (AWS Config rules, Security Hub controls), preventive (SCPs),
//! proactive (CloudFormation Guard rules) and responsive (EventBridge rules with
//! remediation). The plan comes from `analyze`; the renderers produce the rules;
//! this stage checks every identifier against the catalog and hands the rendered
//! rules to `iac` in its output.

mod render;
pub mod verify;

use std::collections::BTreeMap;

use serde::Serialize;

use super::checks::Checks;
use super::contracts::ControlsOutput;
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::knowledge::{ControlDef, Priority};
use crate::render::{detective, guard, scp};

#[derive(Serialize)]
pub(crate) struct ControlEntry {
    id: String,
    title: String,
    priority: Priority,
    category: crate::knowledge::Category,
    derived: bool,
    /// `advisor` for a model's proposal that passed verification; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_id: Option<String>,
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
    let plan = input.plan()?;
    let service = &plan.controls;
    let controls = plan.selected_controls();

    let config_rules = detective::config_rules(input.catalog(), service, &controls);
    let event_rules = detective::event_rules(identity, &controls);
    let scps = scp::documents(scp::statements(&controls));
    let rules = guard::rules_file(service, &controls);

    let mut checks = Checks::default();
    verify::ids(input.catalog(), &controls, &mut checks);
    verify::scopes(input.catalog(), &config_rules, &mut checks);
    verify::scps(input.catalog(), &scps, &mut checks);
    checks.ensure_passed("controls")?;

    let entries: Vec<ControlEntry> = plan
        .selected
        .iter()
        .filter_map(|s| service.control(&s.id).map(|c| entry(c, s.priority, service.derived)))
        .collect();
    let doc = ControlsDoc {
        catalog_version: input.catalog().version().into(),
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
        Artifact {
            name: "rules.guard".into(),
            content_type: "text/plain; charset=utf-8",
            bytes: rules.clone().into_bytes(),
        },
    ];
    for (i, scp) in scps.iter().enumerate() {
        artifacts.push(Artifact::json(&format!("scp-{}.json", i + 1), scp));
    }
    let output = ControlsOutput {
        counts: doc.by_type.iter().map(|(k, v)| (k.to_string(), v.len())).collect(),
        config_rules: doc.config_rules,
        event_rules: doc.event_rules,
        guard_rules: rules,
        checks,
    };
    Ok(StageOutput::new(&output, artifacts))
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
        source: c.advisor_model.as_ref().map(|_| "advisor"),
        model_id: c.advisor_model.clone(),
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
