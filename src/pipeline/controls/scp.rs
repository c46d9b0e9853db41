//! Service control policies from the controls' preventive statements, packed into
//! as few documents as the 5,120-character SCP limit allows.

use serde_json::{Value, json};

use crate::catalog::Catalog;
use crate::knowledge::ControlDef;
use crate::pipeline::checks::Checks;

pub const SCP_MAX_CHARS: usize = 5_120;

/// Statements with a Sid derived from the control id, in control order.
pub fn statements(controls: &[&ControlDef]) -> Vec<Value> {
    controls
        .iter()
        .filter_map(|c| {
            let mut statement = c.preventive.clone()?;
            statement.as_object_mut()?.insert("Sid".into(), json!(sid(&c.id)));
            Some(statement)
        })
        .collect()
}

/// Statement id of a control's SCP statement (`S3-04` → `SeccfgS304`; Sids are alphanumeric).
pub fn sid(control_id: &str) -> String {
    format!("Seccfg{}", control_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
}

/// Greedy packing in order; a statement larger than the limit on its own is left in
/// a document of its own and fails the size check.
pub fn documents(statements: Vec<Value>) -> Vec<Value> {
    let mut docs: Vec<Vec<Value>> = Vec::new();
    for statement in statements {
        let fits = docs.last().is_some_and(|d| {
            let mut candidate = d.clone();
            candidate.push(statement.clone());
            size(&document(candidate)) <= SCP_MAX_CHARS
        });
        match docs.last_mut() {
            Some(d) if fits => d.push(statement),
            _ => docs.push(vec![statement]),
        }
    }
    docs.into_iter().map(document).collect()
}

fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Size as AWS counts it for a minified document.
pub fn size(doc: &Value) -> usize {
    serde_json::to_string(doc).map_or(usize::MAX, |s| s.chars().count())
}

/// Actions exist (a wildcard must match at least one action of its prefix) and
/// condition keys are global or defined by the action's service.
pub fn verify(catalog: &Catalog, docs: &[Value], checks: &mut Checks) {
    for (i, doc) in docs.iter().enumerate() {
        let name = format!("scp-{}.json", i + 1);
        let len = size(doc);
        checks.record("scp_size", &name, len <= SCP_MAX_CHARS, format!("{len} of {SCP_MAX_CHARS} characters"));
        for statement in doc["Statement"].as_array().into_iter().flatten() {
            let sid = statement["Sid"].as_str().unwrap_or_default();
            let actions = strings(&statement["Action"]).chain(strings(&statement["NotAction"]));
            for action in actions {
                let ok = action_exists(catalog, &action);
                checks.record(
                    "iam_action_exists",
                    format!("{sid} {action}"),
                    ok,
                    if ok { "" } else { "not in catalog" },
                );
            }
            for key in condition_keys(&statement["Condition"]) {
                let ok = condition_key_valid(catalog, &key);
                checks.record("condition_key_valid", format!("{sid} {key}"), ok, if ok { "" } else { "unknown key" });
            }
        }
    }
}

fn strings(v: &Value) -> impl Iterator<Item = String> + '_ {
    let list: Vec<String> = match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}

pub fn action_exists(catalog: &Catalog, action: &str) -> bool {
    let Some((prefix, name)) = action.split_once(':') else { return action == "*" };
    if !name.contains('*') {
        return catalog.action(action).is_some();
    }
    let pattern = regex::Regex::new(&format!("(?i)^{}$", regex::escape(name).replace("\\*", ".*")));
    match (catalog.iam(&prefix.to_ascii_lowercase()), pattern) {
        (Some(svc), Ok(re)) => svc.actions.keys().any(|a| re.is_match(a)),
        _ => false,
    }
}

fn condition_keys(condition: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    for operands in condition.as_object().into_iter().flat_map(|o| o.values()) {
        keys.extend(operands.as_object().into_iter().flat_map(|o| o.keys().cloned()));
    }
    keys
}

/// Global `aws:` keys (tag-style keys with a `/` suffix allowed) or a key the service defines.
pub fn condition_key_valid(catalog: &Catalog, key: &str) -> bool {
    let Some((prefix, _)) = key.split_once(':') else { return false };
    let base = key.split('/').next().unwrap_or(key);
    let lower = prefix.to_ascii_lowercase();
    if lower == "aws" {
        return crate::catalog::is_global_condition_key(key);
    }
    catalog.iam(&lower).is_some_and(|svc| {
        svc.condition_keys.keys().any(|k| {
            k.eq_ignore_ascii_case(key)
                || k.eq_ignore_ascii_case(base)
                || k.split('/').next().is_some_and(|b| b.eq_ignore_ascii_case(base))
        })
    })
}
