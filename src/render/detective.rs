//! AWS Config rules and EventBridge rules from control definitions.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::catalog::{Catalog, ServiceIdentity};
use crate::knowledge::{ControlDef, ServiceControls};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigRuleSpec {
    pub control_id: String,
    pub name: String,
    pub source_identifier: String,
    pub input_parameters: serde_json::Map<String, Value>,
    /// AWS Config resource types the rule is scoped to; empty for periodic rules (Config
    /// scopes only change-triggered rules).
    pub scope: Vec<String>,
    /// The AWS Config type of the resource the control checks, if it checks one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evaluates: Option<String>,
    /// "configuration_change" or "periodic" (from the catalog).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
    /// Where the catalog's scope for this rule came from ("reviewed" is the only one deployed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope_basis: Option<String>,
}

pub fn config_rules(catalog: &Catalog, service: &ServiceControls, controls: &[&ControlDef]) -> Vec<ConfigRuleSpec> {
    controls
        .iter()
        .filter_map(|c| {
            let d = c.detective.as_ref()?;
            let rule = catalog.config_rule(&d.config_rule);
            let evaluates = checked_config_type(catalog, service, c);
            // Change-triggered rules are scoped to the checked resource's Config type (or the
            // rule's own types when the control checks no template resource); periodic rules
            // take no scope. pipeline::controls::verify::scopes fails the bundle when the rule cannot evaluate it.
            let scope = match (rule, &evaluates) {
                (Some(r), _) if r.periodic() => Vec::new(),
                (Some(r), Some(t)) => {
                    let mut scope = vec![t.clone()];
                    scope.extend(further_types(catalog, service, c).filter(|f| f != t && r.resource_types.contains(f)));
                    scope
                }
                // Without a reviewed scope a rule that checks nothing in the template is
                // deployed unscoped: Config then evaluates every type the managed rule supports.
                (Some(r), None) if r.reviewed() => r.resource_types.clone(),
                (Some(_), None) => Vec::new(),
                (None, _) => Vec::new(),
            };
            let input_parameters =
                d.parameters.iter().map(|(k, v)| (k.clone(), Value::String(scalar_string(v)))).collect();
            Some(ConfigRuleSpec {
                control_id: c.id.clone(),
                name: format!("seccfg-{}", c.id.to_ascii_lowercase()),
                source_identifier: d.config_rule.clone(),
                input_parameters,
                scope,
                evaluates,
                trigger: rule.and_then(|r| r.trigger.clone()),
                scope_basis: rule.and_then(|r| r.resource_types_basis.clone()),
            })
        })
        .collect()
}

/// The AWS Config type of what the control checks: `detective.evaluates`, else the type of
/// `detective.resource`, else of the resource its settings configure.
fn checked_config_type(catalog: &Catalog, service: &ServiceControls, c: &ControlDef) -> Option<String> {
    let d = c.detective.as_ref()?;
    if let Some(t) = &d.evaluates {
        return Some(t.clone());
    }
    let id = d.resource.as_ref().or(c.cloudformation.as_ref().map(|cfn| &cfn.resource))?;
    service.resource(id).map(|r| catalog.config_type_of(&r.kind).to_string())
}

/// Config types of the further resources a shared setting configures (`cloudformation.also`),
/// when the detective names no resource of its own.
fn further_types<'a>(
    catalog: &'a Catalog,
    service: &'a ServiceControls,
    c: &'a ControlDef,
) -> impl Iterator<Item = String> + 'a {
    let own = c.detective.as_ref().is_some_and(|d| d.evaluates.is_some() || d.resource.is_some());
    c.cloudformation
        .iter()
        .filter(move |_| !own)
        .flat_map(|cfn| &cfn.also)
        .filter_map(|id| service.resource(id))
        .map(|r| catalog.config_type_of(&r.kind).to_string())
}

/// Config takes every input parameter as a string.
fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventRuleSpec {
    pub control_id: String,
    pub name: String,
    pub event_pattern: Value,
    pub remediation: String,
}

/// Name of the EventBridge rule that watches for changes undoing a control.
pub fn event_rule_name(control_id: &str) -> String {
    format!("seccfg-{}-drift", control_id.to_ascii_lowercase())
}

/// EventBridge rules matching the CloudTrail events that undo a control.
pub fn event_rules(identity: &ServiceIdentity, controls: &[&ControlDef]) -> Vec<EventRuleSpec> {
    let source = event_source(identity);
    controls
        .iter()
        .filter_map(|c| {
            let r = c.responsive.as_ref()?;
            Some(EventRuleSpec {
                control_id: c.id.clone(),
                name: event_rule_name(&c.id),
                event_pattern: json!({
                    "detail-type": ["AWS API Call via CloudTrail"],
                    "detail": { "eventSource": [source], "eventName": r.events },
                }),
                remediation: r.remediation.clone(),
            })
        })
        .collect()
}

/// CloudTrail's `eventSource` host; the IAM prefix except where the API host differs.
fn event_source(identity: &ServiceIdentity) -> String {
    let host = match identity.id.as_str() {
        "cloudwatch" => "monitoring",
        "elasticfilesystem" => "elasticfilesystem",
        other => other,
    };
    format!("{host}.amazonaws.com")
}
