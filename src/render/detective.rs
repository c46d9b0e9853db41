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
    /// Resource types the rule is scoped to; empty for rules that evaluate the account.
    pub scope: Vec<String>,
}

pub fn config_rules(catalog: &Catalog, service: &ServiceControls, controls: &[&ControlDef]) -> Vec<ConfigRuleSpec> {
    controls
        .iter()
        .filter_map(|c| {
            let d = c.detective.as_ref()?;
            let resource_type =
                c.cloudformation.as_ref().and_then(|cfn| service.resource(&cfn.resource)).map(|r| &r.kind);
            // Scope only to types the rule is known to evaluate and Config records.
            let scope = match (catalog.config_rule(&d.config_rule), resource_type) {
                (Some(rule), Some(t)) if rule.resource_types.contains(t) => vec![t.clone()],
                (Some(rule), _) => rule.resource_types.clone(),
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
            })
        })
        .collect()
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
