//! A Terraform plan as `terraform show -json PLANFILE` writes it, read for the gate:
//! the resource changes that will exist after apply (`change.after` with its
//! `after_unknown` marks) and, from the plan's `configuration`, which argument of
//! which resource refers to which other resource — the only way a plan says that an
//! encryption configuration belongs to a bucket whose id is not known yet.
//!
//! Delete-only changes are skipped (the resource will not exist); no-op changes are
//! kept, because an unchanged resource is still part of what the pipeline deploys.

use std::collections::BTreeMap;

use serde_json::Value;

use super::GateError;
use super::template::escape;
use crate::render::terraform_checks::Step;

/// One managed resource of the plan that exists after apply.
#[derive(Debug, Clone)]
pub struct Change {
    /// JSON pointer of the change in the plan (`/resource_changes/3`).
    pub pointer: String,
    pub address: String,
    pub kind: String,
    /// `registry.terraform.io/hashicorp/aws` for AWS resources.
    pub provider: String,
    pub after: Value,
    pub after_unknown: Value,
}

/// A parsed plan.
#[derive(Debug)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Configuration address → its `expressions`, with the module prefix of its references.
    expressions: BTreeMap<String, (String, Value)>,
    /// Whether the plan has a `configuration` section at all.
    pub has_configuration: bool,
}

/// Whether an input is a Terraform plan rather than a template: a JSON object with
/// `format_version` or `resource_changes` (CloudFormation has neither).
pub fn is_plan(text: &str) -> bool {
    text.trim_start().starts_with('{')
        && serde_json::from_str::<Value>(text)
            .is_ok_and(|v| v.get("format_version").is_some() || v.get("resource_changes").is_some())
}

impl Plan {
    /// Parses a plan; errors carry the JSON pointer (or the line of a syntax error).
    pub fn parse(text: &str) -> Result<Plan, GateError> {
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| GateError::Syntax { line: Some(e.line()), message: format!("not valid JSON: {e}") })?;
        let bad = |pointer: String, message: &str| GateError::Input { pointer, line: None, message: message.into() };
        if !doc.is_object() {
            return Err(bad(String::new(), "a Terraform plan (terraform show -json) is a JSON object"));
        }
        let Some(items) = doc.get("resource_changes").and_then(Value::as_array) else {
            return Err(bad("/resource_changes".into(), "a Terraform plan needs resource_changes (an array)"));
        };
        let mut changes = Vec::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(change) = change(item, &format!("/resource_changes/{i}"))? {
                changes.push(change);
            }
        }
        let mut expressions = BTreeMap::new();
        let root = doc.pointer("/configuration/root_module");
        if let Some(root) = root {
            collect_expressions(root, "", &mut expressions);
        }
        Ok(Plan { changes, expressions, has_configuration: root.is_some() })
    }

    /// The references of a resource's top-level argument, from the configuration.
    pub fn references(&self, address: &str, argument: &str) -> Vec<String> {
        match self.expression(address, &[Step::Key(argument.to_string())]) {
            Expr::References(refs) => refs,
            _ => Vec::new(),
        }
    }

    /// The configuration's expression of a resource instance's argument at `path`
    /// (nested blocks are lists of expression maps; the references of all are joined).
    pub fn expression(&self, address: &str, path: &[Step]) -> Expr {
        let Some((prefix, exprs)) = self.expressions.get(&config_address(address)) else {
            return Expr::NoResource;
        };
        let mut nodes = vec![exprs];
        for step in path {
            nodes = match step {
                Step::Key(k) => nodes.iter().filter_map(|n| n.get(k)).collect(),
                Step::Each => nodes.iter().flat_map(|n| n.as_array().into_iter().flatten()).collect(),
                Step::Json => break,
            };
        }
        let refs: Vec<String> = nodes
            .iter()
            .flat_map(|n| n["references"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .map(|r| format!("{prefix}{r}"))
            .collect();
        match (nodes.is_empty(), refs.is_empty()) {
            (true, _) => Expr::Absent,
            (false, false) => Expr::References(refs),
            (false, true) => Expr::Constant,
        }
    }
}

/// What the configuration says about an argument.
#[derive(Debug, PartialEq)]
pub enum Expr {
    /// The resource is not in the configuration.
    NoResource,
    /// The argument is not written.
    Absent,
    /// A literal (`constant_value`) or an expression without references.
    Constant,
    /// The references of the expression, module-prefixed (`aws_kms_key.k.arn`, `aws_kms_key.k`).
    References(Vec<String>),
}

/// One entry of `resource_changes`: `None` for data sources and deletions.
fn change(item: &Value, pointer: &str) -> Result<Option<Change>, GateError> {
    let field = |name: &str| {
        item.get(name).and_then(Value::as_str).map(str::to_string).ok_or_else(|| GateError::Input {
            pointer: format!("{pointer}/{name}"),
            line: None,
            message: format!("{name} must be a string"),
        })
    };
    let (address, kind) = (field("address")?, field("type")?);
    if item.get("mode").and_then(Value::as_str).is_some_and(|m| m != "managed") {
        return Ok(None);
    }
    let Some(actions) = item.pointer("/change/actions").and_then(Value::as_array) else {
        return Err(GateError::Input {
            pointer: format!("{pointer}/change/actions"),
            line: None,
            message: "change.actions must be an array".into(),
        });
    };
    let after = item.pointer("/change/after").cloned().unwrap_or(Value::Null);
    if actions.iter().all(|a| a == "delete") || after.is_null() {
        return Ok(None);
    }
    let after_unknown = item.pointer("/change/after_unknown").cloned().unwrap_or(Value::Null);
    let provider = item.get("provider_name").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(Some(Change { pointer: pointer.to_string(), address, kind, provider, after, after_unknown }))
}

/// Walks a configuration module and its module calls, prefixing addresses.
fn collect_expressions(module: &Value, prefix: &str, out: &mut BTreeMap<String, (String, Value)>) {
    for r in module["resources"].as_array().into_iter().flatten() {
        let Some(address) = r["address"].as_str() else { continue };
        let exprs = r.get("expressions").cloned().unwrap_or_else(|| Value::Object(Default::default()));
        out.insert(format!("{prefix}{address}"), (prefix.to_string(), exprs));
    }
    for (name, call) in module["module_calls"].as_object().into_iter().flatten() {
        collect_expressions(&call["module"], &format!("{prefix}module.{name}."), out);
    }
}

/// A resource instance's address in the configuration: instance keys removed
/// (`module.a["x"].aws_s3_bucket.b[0]` → `module.a.aws_s3_bucket.b`).
pub fn config_address(address: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut quoted = false;
    for c in address.chars() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => depth += 1,
            ']' if !quoted => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

impl Change {
    /// Whether the resource belongs to the AWS provider (the only one the catalog describes).
    pub fn is_aws(&self) -> bool {
        if self.provider.is_empty() { self.kind.starts_with("aws_") } else { self.provider.ends_with("hashicorp/aws") }
    }
}

/// Whether an instance address carries an instance key (`count` or `for_each`).
pub fn has_instance_key(address: &str) -> bool {
    config_address(address) != address
}

/// The pointer of a key under `base`.
pub fn child(base: &str, key: &str) -> String {
    format!("{base}/{}", escape(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_keys_are_removed_for_the_configuration() {
        assert_eq!(config_address("module.a[\"x]\"].aws_s3_bucket.b[0]"), "module.a.aws_s3_bucket.b");
        assert!(!has_instance_key("aws_s3_bucket.b"));
    }

    #[test]
    fn a_plan_needs_resource_changes() {
        let e = Plan::parse(r#"{"format_version": "1.2"}"#).unwrap_err();
        assert!(matches!(e, GateError::Input { ref pointer, .. } if pointer == "/resource_changes"), "{e:?}");
        assert!(matches!(Plan::parse("{").unwrap_err(), GateError::Syntax { line: Some(1), .. }));
        assert!(is_plan(r#"{"format_version": "1.2", "resource_changes": []}"#));
        assert!(!is_plan(r#"{"Resources": {}}"#));
    }
}
