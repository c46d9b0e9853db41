//! The CloudFormation templates: the service's core resources configured by the
//! selected controls, and the detective/responsive controls as resources.

use serde_json::{Map, Value, json};

use super::detective::{ConfigRuleSpec, EventRuleSpec};
use super::values::{self, DATA_KEY};
use crate::knowledge::path::{Segment, segments};
use crate::knowledge::{ControlDef, ResourceDef, ServiceControls};

/// Resources deployed for the selection: unconditional ones plus companions of selected controls.
pub fn deployed<'a>(sc: &'a ServiceControls, controls: &[&ControlDef]) -> Vec<&'a ResourceDef> {
    sc.resources
        .iter()
        .filter(|r| r.with_control.as_ref().is_none_or(|c| controls.iter().any(|x| &x.id == c)))
        .collect()
}

/// Properties of one resource: base properties, then each control's settings in order.
pub fn properties(resource: &ResourceDef, controls: &[&ControlDef]) -> Map<String, Value> {
    let mut props: Map<String, Value> = resource.properties.iter().map(|(k, v)| (k.clone(), values::cfn(v))).collect();
    for control in controls {
        let Some(cfn) = control.cloudformation.as_ref().filter(|c| c.applies_to(&resource.id)) else { continue };
        for setting in &cfn.settings {
            set_path(&mut props, &setting.path, values::cfn(&setting.value));
        }
    }
    props
}

/// Writes `value` at `path`, creating objects and list elements on the way.
pub fn set_path(root: &mut Map<String, Value>, path: &str, value: Value) {
    let segs = segments(path);
    let mut slot: &mut Value = match segs.first() {
        Some(Segment::Key(k)) => root.entry(k.clone()).or_insert(Value::Null),
        _ => return,
    };
    for seg in &segs[1..] {
        slot = match seg {
            Segment::Key(k) => {
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                slot.as_object_mut().expect("object").entry(k.clone()).or_insert(Value::Null)
            }
            Segment::Index(i) => {
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let list = slot.as_array_mut().expect("array");
                while list.len() <= *i {
                    list.push(Value::Null);
                }
                &mut list[*i]
            }
            Segment::Select { key, value: wanted } => {
                if !slot.is_array() {
                    *slot = Value::Array(Vec::new());
                }
                let list = slot.as_array_mut().expect("array");
                let i = match list.iter().position(|e| e[key.as_str()] == *wanted.as_str()) {
                    Some(i) => i,
                    None => {
                        list.push(json!({ key.as_str(): wanted }));
                        list.len() - 1
                    }
                };
                &mut list[i]
            }
        };
    }
    *slot = value;
}

/// Removes the value at `path` (used to prove a Guard rule fails without its control).
pub fn remove_path(root: &mut Map<String, Value>, path: &str) {
    let segs = segments(path);
    let Some((last, parents)) = segs.split_last() else { return };
    let mut node: Option<&mut Value> = None;
    let mut first = true;
    for seg in parents {
        let next = match (first, seg, node) {
            (true, Segment::Key(k), _) => root.get_mut(k),
            (false, Segment::Key(k), Some(n)) => n.get_mut(k.as_str()),
            (false, Segment::Index(i), Some(n)) => n.get_mut(*i),
            (false, Segment::Select { key, value }, Some(n)) => {
                n.as_array_mut().and_then(|a| a.iter_mut().find(|e| e[key.as_str()] == *value.as_str()))
            }
            _ => None,
        };
        first = false;
        let Some(n) = next else { return };
        node = Some(n);
    }
    match (node, last) {
        (None, Segment::Key(k)) => {
            root.remove(k);
        }
        (Some(Value::Object(m)), Segment::Key(k)) => {
            m.remove(k);
        }
        (Some(Value::Array(a)), Segment::Index(i)) if *i < a.len() => {
            a.remove(*i);
        }
        _ => {}
    }
}

pub fn core_template(sc: &ServiceControls, controls: &[&ControlDef], description: &str) -> Value {
    let mut resources = Map::new();
    let mut referenced = Vec::new();
    let mut needs_key = false;
    for resource in deployed(sc, controls) {
        let props = properties(resource, controls);
        let raw = resource_raw(resource, controls);
        values::collect_refs(&raw, &mut referenced);
        needs_key |= values::uses_kms_key(&raw);
        resources.insert(resource.id.clone(), json!({ "Type": resource.kind, "Properties": props }));
    }
    if needs_key {
        resources.insert(DATA_KEY.into(), data_key(&sc.kms_key_principals));
    }
    for (earlier, later) in required_before(sc, controls) {
        if let Some(Value::Object(r)) = resources.get_mut(&later) {
            let list = r.entry("DependsOn").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(ids) = list {
                ids.push(Value::String(earlier));
            }
        }
    }
    let parameters = parameters(sc, &referenced);
    let outputs: Map<String, Value> = resources
        .keys()
        .map(|id| (format!("{id}Ref"), json!({ "Description": format!("Identifier of {id}"), "Value": { "Ref": id } })))
        .collect();
    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": description,
        "Resources": resources,
        "Outputs": outputs,
    });
    if !parameters.is_empty() {
        template["Parameters"] = Value::Object(parameters);
    }
    template
}

/// (earlier, later) resource ids of deployed resources that must be created in that order
/// and that no reference orders already (`required_by`).
pub fn required_before(sc: &ServiceControls, controls: &[&ControlDef]) -> Vec<(String, String)> {
    let ids: Vec<&str> = deployed(sc, controls).iter().map(|r| r.id.as_str()).collect();
    deployed(sc, controls)
        .into_iter()
        .filter_map(|r| r.required_by.as_ref().filter(|l| ids.contains(&l.as_str())).map(|l| (r.id.clone(), l.clone())))
        .collect()
}

/// The untranslated values a resource is built from (for reference scanning): its
/// properties with the controls' settings applied, so a required value a control replaces
/// (a subnet list parameter replaced by the organisation's subnets) asks for no parameter.
fn resource_raw(resource: &ResourceDef, controls: &[&ControlDef]) -> Value {
    let mut merged: Map<String, Value> = resource.properties.clone().into_iter().collect();
    for c in controls {
        if let Some(cfn) = c.cloudformation.as_ref().filter(|cfn| cfn.applies_to(&resource.id)) {
            for s in &cfn.settings {
                set_path(&mut merged, &s.path, s.value.clone());
            }
        }
    }
    Value::Object(merged)
}

fn parameters(sc: &ServiceControls, referenced: &[String]) -> Map<String, Value> {
    sc.parameters
        .iter()
        .filter(|p| referenced.contains(&p.name))
        .map(|p| {
            let mut spec = json!({ "Type": p.kind, "Description": p.description });
            if let Some(default) = &p.default {
                spec["Default"] = default.clone();
            }
            if p.no_echo {
                spec["NoEcho"] = json!(true);
            }
            if let Some(pattern) = p.cloudformation_pattern() {
                spec["AllowedPattern"] = json!(pattern);
            }
            if let Some(min) = p.min_value {
                spec["MinValue"] = json!(min);
            }
            if !p.allowed_values.is_empty() {
                spec["AllowedValues"] = json!(p.allowed_values);
            }
            if let Some(c) = &p.constraint {
                spec["ConstraintDescription"] = json!(c);
            }
            (p.name.clone(), spec)
        })
        .collect()
}

/// A customer managed key with rotation, administered by the account (IAM policies decide who uses it).
fn data_key(principals: &[String]) -> Value {
    json!({
        "Type": "AWS::KMS::Key",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "Description": "Customer managed key for the service's data (seccfg)",
            "EnableKeyRotation": true,
            "PendingWindowInDays": 30,
            "KeyPolicy": values::cfn(&values::data_key_policy(principals)),
        }
    })
}

/// Config rules (detective) and EventBridge rules (responsive) as one template.
pub fn controls_template(service: &str, config: &[ConfigRuleSpec], events: &[EventRuleSpec]) -> Value {
    let mut resources = Map::new();
    for rule in config {
        let mut props = json!({
            "ConfigRuleName": rule.name,
            "Description": format!("seccfg control {}", rule.control_id),
            "Source": { "Owner": "AWS", "SourceIdentifier": rule.source_identifier },
        });
        if !rule.input_parameters.is_empty() {
            props["InputParameters"] = Value::Object(rule.input_parameters.clone());
        }
        if !rule.scope.is_empty() {
            props["Scope"] = json!({ "ComplianceResourceTypes": rule.scope });
        }
        resources.insert(
            logical_id("ConfigRule", &rule.control_id),
            json!({ "Type": "AWS::Config::ConfigRule", "Properties": props }),
        );
    }
    for rule in events {
        resources.insert(
            logical_id("DriftRule", &rule.control_id),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": rule.name,
                    "Description": format!("seccfg control {}: changes that undo it", rule.control_id),
                    "EventPattern": rule.event_pattern,
                    "State": "ENABLED",
                    "Targets": [{ "Arn": { "Ref": "AlertTopicArn" }, "Id": "SecurityAlerts" }]
                }
            }),
        );
    }
    let mut template = json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("seccfg detective and responsive controls for {service}"),
        "Resources": resources,
    });
    if !events.is_empty() {
        template["Parameters"] = json!({
            "AlertTopicArn": { "Type": "String", "Description": "SNS topic that receives security alerts." }
        });
    }
    template
}

/// A template as YAML text, date-like scalars (`2010-09-09`) quoted: YAML 1.1
/// loaders, cfn-lint's among them, would read them as dates, and CloudFormation's
/// version fields must be strings.
pub fn yaml(template: &Value) -> Result<String, String> {
    let body = yaml_serde::to_string(template).map_err(|e| e.to_string())?;
    let date = regex::Regex::new(r"(?m)^(\s*(?:- )?[A-Za-z0-9_:]+: )(\d{4}-\d{2}-\d{2})$").expect("valid regex");
    let body = date.replace_all(&body, "$1'$2'");
    // YAML 1.1 readers (cfn-lint, CloudFormation) take these plain words for booleans.
    let words = regex::Regex::new(
        r"(?m)^(\s*(?:- )?(?:[A-Za-z0-9_:]+: )?)(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$",
    )
    .expect("valid regex");
    Ok(words.replace_all(&body, "$1'$2'").into_owned())
}

/// `ConfigRule` + `S3-01` → `ConfigRuleS301` (logical ids are alphanumeric).
fn logical_id(prefix: &str, control_id: &str) -> String {
    format!("{prefix}{}", control_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_quotes_words_yaml_1_1_reads_as_booleans() {
        let body = yaml(&json!({"Mfa": "ON", "List": ["off", "Yes"], "Name": "ONE", "Flag": true})).unwrap();
        assert!(body.contains("Mfa: 'ON'") && body.contains("- 'off'") && body.contains("- 'Yes'"), "{body}");
        assert!(body.contains("Name: ONE") && body.contains("Flag: true"), "{body}");
    }

    #[test]
    fn set_and_remove_paths() {
        let mut m = Map::new();
        set_path(&mut m, "A.B[0].C", json!(1));
        set_path(&mut m, "A.B[0].D", json!(2));
        assert_eq!(Value::Object(m.clone()), json!({"A": {"B": [{"C": 1, "D": 2}]}}));
        remove_path(&mut m, "A.B[0].C");
        assert_eq!(Value::Object(m), json!({"A": {"B": [{"D": 2}]}}));
    }
}
