//! In-run verification of the generated templates: every CloudFormation property
//! exists in its resource schema, every Terraform argument in the provider schema,
//! and every Guard rule passes on the template and fails once its control is removed.

use serde_json::{Map, Value};

use crate::catalog::{Catalog, CfnResourceType};
use crate::knowledge::{ControlDef, ServiceControls};
use crate::pipeline::checks::Checks;
use crate::render::cloudformation::remove_path;
use crate::render::guard::{self, rule_name};
use crate::render::guard_eval::evaluate;
use crate::render::terraform::TfResource;
use crate::render::terraform_checks::{Step, TerraformChecks, path_text};

/// Every property the template sets, walked against the resource schema.
pub fn cfn_properties(catalog: &Catalog, template: &Value, checks: &mut Checks) {
    for (id, resource) in template["Resources"].as_object().into_iter().flatten() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        let Some(schema) = catalog.resource_type(kind) else {
            checks.fail("cfn_resource_type_exists", format!("{id} {kind}"), "not in catalog");
            continue;
        };
        checks.pass("cfn_resource_type_exists", format!("{id} {kind}"));
        let props = resource["Properties"].as_object().cloned().unwrap_or_default();
        for required in &schema.required {
            let ok = props.contains_key(required);
            checks.record(
                "cfn_required_property_set",
                format!("{kind}.{required}"),
                ok,
                if ok { "" } else { "missing" },
            );
        }
        for (name, value) in &props {
            let mut errors = Vec::new();
            match schema.properties.get(name) {
                Some(node) => walk(schema, node, value, name, &mut errors),
                None => errors.push(format!("{name} is not a property")),
            }
            let subject = format!("{kind}.{name}");
            checks.record("cfn_property_exists", subject, errors.is_empty(), errors.join("; "));
        }
    }
}

fn is_intrinsic(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.len() == 1 && m.keys().all(|k| k == "Ref" || k.starts_with("Fn::")))
}

fn walk(schema: &CfnResourceType, node: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    if is_intrinsic(value) {
        return;
    }
    let node = resolve(schema, node);
    if let Some(allowed) = node["enum"].as_array()
        && !allowed.contains(value)
    {
        errors.push(format!("{path}: {value} is not one of the allowed values"));
    }
    match value {
        Value::Object(map) => {
            if let Some(props) = node["properties"].as_object() {
                for (k, v) in map {
                    match props.get(k) {
                        Some(child) => walk(schema, child, v, &format!("{path}.{k}"), errors),
                        None => errors.push(format!("{path}.{k} is not in the schema")),
                    }
                }
            } else if let Some(child) = node.get("map_values") {
                for (k, v) in map {
                    walk(schema, child, v, &format!("{path}.{k}"), errors);
                }
            }
        }
        Value::Array(items) => {
            if let Some(child) = node.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(schema, child, v, &format!("{path}[{i}]"), errors);
                }
            }
        }
        _ => {}
    }
}

fn resolve<'a>(schema: &'a CfnResourceType, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..8 {
        match node["ref"].as_str().and_then(|r| schema.definitions.get(r)) {
            Some(def) => node = def,
            None => break,
        }
    }
    node
}

/// Terraform resource types and argument paths against the provider schema.
pub fn terraform(catalog: &Catalog, resources: &[TfResource], checks: &mut Checks) {
    for r in resources {
        let Some(schema) = catalog.terraform_resource(&r.kind) else {
            checks.fail("terraform_resource_exists", &r.kind, "not in the provider schema");
            continue;
        };
        checks.pass("terraform_resource_exists", &r.kind);
        // `depends_on` is a meta-argument of every resource, not in any provider schema.
        for path in r.paths.iter().filter(|p| p.as_slice() != ["depends_on"]) {
            let parts: Vec<&str> = path.iter().map(String::as_str).collect();
            let ok = schema.has_path(&parts);
            let subject = format!("{}.{}", r.kind, path.join("."));
            checks.record("terraform_argument_exists", subject, ok, if ok { "" } else { "not an argument" });
        }
    }
}

/// Each control's rule passes on the template and fails when its settings are removed.
pub fn guard(sc: &ServiceControls, controls: &[&ControlDef], template: &Value, rules: &str, checks: &mut Checks) {
    if !controls.iter().any(|c| c.cloudformation.is_some()) {
        return; // no proactive control: rules.guard has no rule to evaluate
    }
    let results = match evaluate(template, rules) {
        Ok(r) => r,
        Err(e) => {
            checks.fail("guard_rules_evaluate", "rules.guard", e);
            return;
        }
    };
    for control in controls.iter().filter(|c| c.cloudformation.is_some()) {
        let name = rule_name(&control.id);
        let passed = results.get(&name).copied().flatten() == Some(true);
        checks.record(
            "guard_rule_passes",
            &name,
            passed,
            if passed { "" } else { "rule did not pass on the template" },
        );
        // Removing the settings from any one resource the control configures must fail the rule.
        let own_rule = guard::rules_file(sc, &[*control]);
        let mut held = Vec::new();
        for resource in control.cloudformation.iter().flat_map(|c| c.resources()) {
            let mutated = without_control(sc, control, resource, template);
            let outcome = evaluate(&mutated, &own_rule).map(|r| r.get(&name).copied().flatten());
            if !matches!(outcome, Ok(Some(false))) {
                held.push(format!("outcome without the control on {resource}: {outcome:?}"));
            }
        }
        checks.record("guard_rule_fails_without_control", &name, held.is_empty(), held.join("; "));
    }
}

/// A copy of the template with the control's settings removed from `resource` (a companion
/// resource dropped).
fn without_control(sc: &ServiceControls, control: &ControlDef, resource: &str, template: &Value) -> Value {
    let mut copy = template.clone();
    let Some(cfn) = &control.cloudformation else { return copy };
    let companion = sc.resource(resource).is_some_and(|r| r.with_control.is_some());
    let Some(resources) = copy["Resources"].as_object_mut() else { return copy };
    if companion {
        resources.remove(resource);
        return copy;
    }
    if let Some(props) = resources.get_mut(resource).and_then(|r| r["Properties"].as_object_mut()) {
        for setting in &cfn.settings {
            remove_path(props, &setting.path);
        }
        prune_empty(props);
    }
    copy
}

/// Drops objects and lists left empty by removals, as an author would.
fn prune_empty(map: &mut Map<String, Value>) {
    map.retain(|_, v| {
        prune_value(v);
        !matches!(v, Value::Object(m) if m.is_empty()) && !matches!(v, Value::Array(a) if a.is_empty())
    });
}

fn prune_value(v: &mut Value) {
    match v {
        Value::Object(m) => prune_empty(m),
        Value::Array(a) => {
            a.iter_mut().for_each(prune_value);
            a.retain(|x| !matches!(x, Value::Object(m) if m.is_empty()));
        }
        _ => {}
    }
}

/// Every requirement of `terraform-checks.json` names a type `main.tf` deploys and an
/// argument path the provider schema has, so the gate never checks a plan for an
/// argument that cannot exist.
pub fn terraform_checks(catalog: &Catalog, tf: &TerraformChecks, checks: &mut Checks) {
    for control in &tf.controls {
        for r in &control.requirements {
            let keys: Vec<&str> = r
                .path
                .iter()
                .map_while(|s| match s {
                    Step::Key(k) => Some(Some(k.as_str())),
                    Step::Each => Some(None),
                    Step::Json => None,
                })
                .flatten()
                .collect();
            let deployed = tf.deployed_types.contains(&r.resource_type);
            let in_schema = catalog.terraform_resource(&r.resource_type).is_some_and(|s| argument_path(s, &keys));
            let subject = format!("{} {}.{}", control.control_id, r.resource_type, path_text(&r.path));
            let detail = match (deployed, in_schema) {
                (true, true) => "",
                (false, _) => "main.tf does not deploy the type",
                (true, false) => "not an argument of the type",
            };
            checks.record("terraform_check_argument_exists", subject, detail.is_empty(), detail);
        }
    }
}

/// Whether the keys lead through nested blocks to an argument (keys past it are map keys).
fn argument_path(block: &crate::catalog::TerraformBlock, keys: &[&str]) -> bool {
    match keys.split_first() {
        None => false,
        Some((k, rest)) => match block.blocks.get(*k) {
            Some(inner) => rest.is_empty() || argument_path(inner, rest),
            None => block.arguments.iter().any(|a| a == k),
        },
    }
}
