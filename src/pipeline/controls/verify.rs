//! Checks on the generated SCPs: size within the quota, actions in the catalog (a
//! wildcard must match at least one action of its prefix), condition keys global or
//! defined by the action's service.

use serde_json::Value;

use crate::catalog::Catalog;
use crate::knowledge::ControlDef;
use crate::pipeline::checks::Checks;
use crate::render::scp::{SCP_MAX_CHARS, size};

/// Actions exist (a wildcard must match at least one action of its prefix) and
/// condition keys are global or defined by the action's service.
pub fn scps(catalog: &Catalog, docs: &[Value], checks: &mut Checks) {
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

/// Every Config rule, Security Hub control, checkov and prowler check id exists.
pub fn ids(catalog: &Catalog, controls: &[&ControlDef], checks: &mut Checks) {
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
