//! A Terraform plan in the `terraform show -json` shape, built from a bundle's own
//! `main.tf` (parsed with hcl-rs) so the gate's plan tests check what the bundle
//! deploys. The `terraform` binary cannot download the AWS provider here (no registry
//! access), so no real `terraform plan` runs; this builder does what a plan of a new
//! stack shows: literal arguments and variables are known in `after`, anything that
//! refers to another resource or a data source (ids, ARNs, `jsonencode` documents that
//! contain them) is `true` in `after_unknown`, every resource's `id` and `arn` are
//! unknown, and `configuration` lists each argument's references (nested blocks as
//! lists of expression maps) or its `constant_value`, as Terraform writes them.

use std::collections::BTreeMap;

use hcl::Body;
use hcl::expr::{Expression, ObjectKey, TraversalOperator};
use serde_json::{Map, Value, json};

/// The plan of `main.tf` with the given variable values (others: their default, or a placeholder).
pub fn plan_from_main_tf(main_tf: &str, vars: &BTreeMap<String, Value>) -> Value {
    let body = hcl::parse(main_tf).expect("main.tf parses");
    let vars = variables(&body, vars);
    let mut changes = Vec::new();
    let mut config = Vec::new();
    for block in body.blocks().filter(|b| b.identifier.as_str() == "resource") {
        let (kind, name) = (block.labels[0].as_str(), block.labels[1].as_str());
        let (after, mut unknown) = object(&block.body, &vars);
        unknown.insert("id".into(), Value::Bool(true));
        unknown.insert("arn".into(), Value::Bool(true));
        changes.push(json!({
            "address": format!("{kind}.{name}"), "mode": "managed", "type": kind, "name": name,
            "provider_name": "registry.terraform.io/hashicorp/aws",
            "change": { "actions": ["create"], "before": null, "after": after, "after_unknown": unknown }
        }));
        config.push(json!({ "address": format!("{kind}.{name}"), "mode": "managed", "type": kind, "name": name,
            "expressions": expressions(&block.body) }));
    }
    json!({
        "format_version": "1.2", "terraform_version": "1.11.0",
        "resource_changes": changes,
        "configuration": { "root_module": { "resources": config } }
    })
}

/// Variable values: given, else the default, else a placeholder of the declared type.
fn variables(body: &Body, given: &BTreeMap<String, Value>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for block in body.blocks().filter(|b| b.identifier.as_str() == "variable") {
        let name = block.labels[0].as_str().to_string();
        let attr = |k: &str| block.body.attributes().find(|a| a.key.as_str() == k).map(|a| a.expr.clone());
        let default = attr("default").map(|e| value(&e, &BTreeMap::new()).0);
        let kind = attr("type").map(|t| t.to_string()).unwrap_or_default();
        let placeholder = match kind.as_str() {
            "number" => json!(7),
            k if k.starts_with("list") => json!([format!("test-{name}")]),
            _ => json!(format!("test-{name}")),
        };
        let v = given.get(&name).cloned().or(default).unwrap_or(placeholder);
        out.insert(name, v);
    }
    out
}

/// A block body as `after` and its `after_unknown` mirror (nested blocks are lists).
fn object(body: &Body, vars: &BTreeMap<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let (mut after, mut unknown) = (Map::new(), Map::new());
    for attr in body.attributes().filter(|a| a.key.as_str() != "depends_on") {
        let (v, u) = value(&attr.expr, vars);
        after.insert(attr.key.to_string(), v);
        if u != Value::Bool(false) {
            unknown.insert(attr.key.to_string(), u);
        }
    }
    for block in body.blocks() {
        let (v, u) = object(&block.body, vars);
        let key = block.identifier.to_string();
        after.entry(key.clone()).or_insert_with(|| json!([])).as_array_mut().unwrap().push(Value::Object(v));
        unknown.entry(key).or_insert_with(|| json!([])).as_array_mut().unwrap().push(Value::Object(u));
    }
    (after, unknown)
}

/// An expression's planned value and unknown mark (`true`, `false` or a mirror).
fn value(expr: &Expression, vars: &BTreeMap<String, Value>) -> (Value, Value) {
    match expr {
        Expression::Null => (Value::Null, Value::Bool(false)),
        Expression::Bool(b) => (Value::Bool(*b), Value::Bool(false)),
        Expression::Number(n) => (serde_json::to_value(n).unwrap(), Value::Bool(false)),
        Expression::String(s) => (Value::String(s.clone()), Value::Bool(false)),
        Expression::Array(items) => {
            let (vs, us): (Vec<Value>, Vec<Value>) = items.iter().map(|e| value(e, vars)).unzip();
            let any = us.iter().any(|u| *u != Value::Bool(false));
            (Value::Array(vs), if any { Value::Array(us) } else { Value::Bool(false) })
        }
        Expression::Object(map) => {
            let (mut vs, mut us) = (Map::new(), Map::new());
            for (k, e) in map {
                let key = match k {
                    ObjectKey::Identifier(i) => i.to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    other => other.to_string(),
                };
                let (v, u) = value(e, vars);
                vs.insert(key.clone(), v);
                if u != Value::Bool(false) {
                    us.insert(key, u);
                }
            }
            (Value::Object(vs), if us.is_empty() { Value::Bool(false) } else { Value::Object(us) })
        }
        Expression::Traversal(t) => match (&t.expr, t.operators.as_slice()) {
            (Expression::Variable(v), [TraversalOperator::GetAttr(name)]) if v.as_str() == "var" => {
                (vars.get(name.as_str()).cloned().unwrap_or(Value::Null), Value::Bool(false))
            }
            _ => (Value::Null, Value::Bool(true)),
        },
        Expression::FuncCall(f) if f.name.name.as_str() == "jsonencode" && f.args.len() == 1 => {
            match value(&f.args[0], vars) {
                (doc, Value::Bool(false)) => (Value::String(doc.to_string()), Value::Bool(false)),
                _ => (Value::Null, Value::Bool(true)),
            }
        }
        _ => (Value::Null, Value::Bool(true)),
    }
}

/// `configuration` expressions: each argument's references or constant value, and
/// each nested block as a list of such maps.
fn expressions(body: &Body) -> Value {
    let mut out = Map::new();
    for attr in body.attributes().filter(|a| a.key.as_str() != "depends_on") {
        let mut refs = Vec::new();
        references(&attr.expr, &mut refs);
        let entry = if refs.is_empty() {
            json!({ "constant_value": value(&attr.expr, &BTreeMap::new()).0 })
        } else {
            json!({ "references": refs })
        };
        out.insert(attr.key.to_string(), entry);
    }
    for block in body.blocks() {
        let list = out.entry(block.identifier.to_string()).or_insert_with(|| json!([]));
        list.as_array_mut().unwrap().push(expressions(&block.body));
    }
    Value::Object(out)
}

/// `aws_s3_bucket.bucket.id` → `["aws_s3_bucket.bucket.id", "aws_s3_bucket.bucket"]`, as Terraform lists them.
fn references(expr: &Expression, out: &mut Vec<String>) {
    match expr {
        Expression::Traversal(t) => {
            let Expression::Variable(root) = &t.expr else { return };
            let names: Vec<String> = t
                .operators
                .iter()
                .map_while(|o| match o {
                    TraversalOperator::GetAttr(i) => Some(i.to_string()),
                    _ => None,
                })
                .collect();
            let mut full = vec![root.to_string()];
            full.extend(names);
            out.push(full.join("."));
            if full.len() > 2 && !matches!(full[0].as_str(), "var" | "local") {
                out.push(full[..2].join("."));
            }
        }
        Expression::Array(items) => items.iter().for_each(|e| references(e, out)),
        Expression::Object(map) => map.values().for_each(|e| references(e, out)),
        Expression::FuncCall(f) => f.args.iter().for_each(|e| references(e, out)),
        _ => {}
    }
}
