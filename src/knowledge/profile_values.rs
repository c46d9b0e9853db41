//! Values a control definition takes from the profile rather than from the file.
//!
//! `{ retention_days: 365 }` is the profile's log retention, rounded up to a period
//! CloudWatch Logs accepts (the `AWS::Logs::LogGroup` schema's enum), or the given
//! default when the profile states none. `{ data_classification: confidential }` is the
//! profile's data classification as a tag value, or the given default.

use serde_json::{Value, json};

use super::ServiceControls;
use crate::catalog::Catalog;
use crate::input::Profile;

/// Replaces every profile-dependent value in the definitions with its value for `profile`.
pub fn apply(sc: &mut ServiceControls, profile: &Profile, catalog: &Catalog) {
    let allowed = retention_periods(catalog);
    let mut fix = |v: &mut Value| resolve(v, profile, &allowed);
    sc.parameters.iter_mut().filter_map(|p| p.default.as_mut()).for_each(&mut fix);
    for r in &mut sc.resources {
        r.properties.values_mut().for_each(&mut fix);
        if let Some(tf) = &mut r.terraform {
            tf.arguments.values_mut().for_each(&mut fix);
        }
    }
    for c in &mut sc.controls {
        if let Some(cfn) = &mut c.cloudformation {
            cfn.settings.iter_mut().for_each(|s| fix(&mut s.value));
        }
        if let Some(d) = &mut c.detective {
            d.parameters.values_mut().for_each(&mut fix);
        }
        for part in &mut c.terraform {
            part.settings.iter_mut().for_each(|s| fix(&mut s.value));
        }
    }
}

fn retention_periods(catalog: &Catalog) -> Vec<i64> {
    let node = catalog.resource_type("AWS::Logs::LogGroup").and_then(|t| t.properties.get("RetentionInDays"));
    let mut periods: Vec<i64> = node
        .and_then(|n| n["enum"].as_array())
        .map(|e| e.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default();
    periods.sort_unstable();
    periods
}

fn resolve(v: &mut Value, profile: &Profile, allowed: &[i64]) {
    match v {
        Value::Object(m) if m.len() == 1 && m.contains_key("retention_days") => {
            let default = m["retention_days"].as_i64().unwrap_or(365);
            let wanted = profile.monitoring.log_retention_days.unwrap_or(default);
            let days = allowed.iter().copied().find(|p| *p >= wanted).or(allowed.last().copied()).unwrap_or(wanted);
            *v = json!(days);
        }
        Value::Object(m) if m.len() == 1 && m.contains_key("data_classification") => {
            let stated = profile.data_classification.map(|c| classification_tag(c).to_string());
            *v = stated.map(Value::String).unwrap_or_else(|| m["data_classification"].clone());
        }
        Value::Object(m) => m.values_mut().for_each(|x| resolve(x, profile, allowed)),
        Value::Array(a) => a.iter_mut().for_each(|x| resolve(x, profile, allowed)),
        _ => {}
    }
}

fn classification_tag(c: crate::input::DataClassification) -> &'static str {
    use crate::input::DataClassification::*;
    match c {
        Public => "public",
        Internal => "internal",
        Confidential => "confidential",
        Restricted => "restricted",
        Phi => "phi",
        Pci => "pci",
    }
}
