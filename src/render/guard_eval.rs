//! In-process evaluation of Guard rules with the `cfn-guard` crate: rule name →
//! pass, fail or not applicable. Shared by the pipeline's verification (each rule
//! passes on the bundle's template and fails without its control) and the gate.

use std::collections::BTreeMap;

use serde_json::Value;

/// Outcome of evaluating a rules file: rule name → passed (`None` = not applicable).
///
/// The summary report is small and cheap; the crate's summary writer keeps only the
/// last 8 KiB of a long report, so when it does not parse, the full evaluation
/// record (`verbose`) is read instead.
pub fn evaluate(template: &Value, rules: &str) -> Result<BTreeMap<String, Option<bool>>, String> {
    let data = serde_json::to_string(template).map_err(|e| e.to_string())?;
    let run = |verbose| {
        cfn_guard::run_checks(
            cfn_guard::ValidateInput { content: &data, file_name: "template.yaml" },
            cfn_guard::ValidateInput { content: rules, file_name: "rules.guard" },
            verbose,
        )
        .map_err(|e| e.to_string())
    };
    let mut out = BTreeMap::new();
    if let Ok(report) = serde_json::from_str::<Value>(&run(false)?) {
        let names = |key: &str| report[key].as_array().cloned().unwrap_or_default();
        for name in names("compliant").iter().filter_map(Value::as_str) {
            out.insert(name.to_string(), Some(true));
        }
        for name in names("not_applicable").iter().filter_map(Value::as_str) {
            out.insert(name.to_string(), None);
        }
        for entry in names("not_compliant") {
            if let Some(name) = entry["Rule"]["name"].as_str() {
                out.insert(name.to_string(), Some(false));
            }
        }
        return Ok(out);
    }
    let record: Value = serde_json::from_str(&run(true)?).map_err(|e| format!("guard record: {e}"))?;
    collect_rule_status(&record, &mut out);
    Ok(out)
}

fn collect_rule_status(node: &Value, out: &mut BTreeMap<String, Option<bool>>) {
    match node {
        Value::Object(map) => {
            if let Some(rule) = map.get("RuleCheck")
                && let (Some(name), Some(status)) = (rule["name"].as_str(), rule["status"].as_str())
            {
                let outcome = match status {
                    "PASS" => Some(true),
                    "FAIL" => Some(false),
                    _ => None,
                };
                out.insert(name.to_string(), outcome);
            }
            map.values().for_each(|v| collect_rule_status(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_rule_status(v, out)),
        _ => {}
    }
}
