//! Waivers for the offline gate (`seccfg check --bundle … --waivers FILE`): a bundle
//! directory carries none, so a pipeline that checks offline names them in a file
//! with the fields the approval's `waivers` have (control id, reason, expiry) and,
//! optionally, the one resource a waiver is limited to. A waiver applies until its
//! expiry, exactly as the library's do; an expired one is read but not applied.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{GateError, ServiceRules};
use crate::library::{Waiver, time};

/// A waiver as the gate applies it: to one control, on every resource or on one.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedWaiver {
    pub waiver: Waiver,
    /// The logical id it is limited to (`None`: every resource of the control).
    pub resource: Option<String>,
}

impl ScopedWaiver {
    /// A library waiver: every resource.
    pub fn everywhere(waiver: Waiver) -> ScopedWaiver {
        ScopedWaiver { waiver, resource: None }
    }

    /// Whether it covers `control_id` on `resource`.
    pub fn covers(&self, control_id: &str, resource: &str) -> bool {
        self.waiver.control_id == control_id && self.resource.as_deref().is_none_or(|r| r == resource)
    }
}

/// Service id → its waivers.
pub type Waivers = BTreeMap<String, Vec<ScopedWaiver>>;

/// The library's waivers of each service, each for every resource.
pub fn everywhere(by_service: BTreeMap<String, Vec<Waiver>>) -> Waivers {
    by_service.into_iter().map(|(s, ws)| (s, ws.into_iter().map(ScopedWaiver::everywhere).collect())).collect()
}

/// Reads a waivers file (JSON or YAML: `{"waivers": [{control_id, reason, expires_at, resource?}]}`)
/// against the loaded bundles; returns the waivers in force at `now` per service and
/// the ones that have expired. A control no bundle has is bad input, with its pointer.
pub fn read(text: &str, rules: &[ServiceRules], now: i64) -> Result<(Waivers, Vec<Waiver>), GateError> {
    let doc: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(_) => yaml_serde::from_str(text)
            .map_err(|e| GateError::Syntax { line: None, message: format!("not JSON or YAML: {e}") })?,
    };
    let bad = |pointer: String, message: String| GateError::Input { pointer, line: None, message };
    let items = doc["waivers"].as_array().ok_or_else(|| bad("/waivers".into(), "must be an array".into()))?;
    let mut in_force = Waivers::new();
    let mut expired = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let at = format!("/waivers/{i}");
        let fields = item.as_object().ok_or_else(|| bad(at.clone(), "must be an object".into()))?;
        if let Some(k) =
            fields.keys().find(|k| !["control_id", "reason", "expires_at", "resource"].contains(&k.as_str()))
        {
            return Err(bad(format!("{at}/{k}"), "unknown field".into()));
        }
        let text = |name: &str| match fields.get(name) {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            _ => Err(bad(format!("{at}/{name}"), "must be a non-empty string".into())),
        };
        let (control_id, reason, expiry) = (text("control_id")?, text("reason")?, text("expires_at")?);
        let resource = if fields.contains_key("resource") { Some(text("resource")?) } else { None };
        let expires_at = time::parse(&expiry).ok_or_else(|| {
            bad(format!("{at}/expires_at"), "must be an RFC 3339 date-time or a date, such as 2027-01-31".into())
        })?;
        let service = rules
            .iter()
            .find(|r| r.rules.iter().any(|c| c.control_id == control_id))
            .ok_or_else(|| bad(format!("{at}/control_id"), format!("no bundle given has control '{control_id}'")))?;
        let waiver = Waiver { control_id, reason, expires_at };
        if expires_at <= now {
            expired.push(waiver);
        } else {
            in_force.entry(service.service.clone()).or_default().push(ScopedWaiver { waiver, resource });
        }
    }
    Ok((in_force, expired))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gate::rules::ControlRule;

    fn s3() -> Vec<ServiceRules> {
        let rule = ControlRule {
            control_id: "S3-07".into(),
            rule_name: "S3_07".into(),
            title: "t".into(),
            severity: "low".into(),
            anchor_type: "AWS::S3::Bucket".into(),
            target_type: "AWS::S3::Bucket".into(),
            clauses: vec![],
        };
        vec![ServiceRules {
            service: "s3".into(),
            source: "d".into(),
            rules: vec![rule],
            deployed_types: Default::default(),
            controls: Default::default(),
            terraform: None,
        }]
    }

    #[test]
    fn splits_in_force_from_expired_and_refuses_unknown_controls() {
        let now = time::parse("2027-01-01").unwrap();
        let text = r#"{"waivers": [
            {"control_id": "S3-07", "reason": "r", "expires_at": "2027-02-01", "resource": "Logs"},
            {"control_id": "S3-07", "reason": "old", "expires_at": "2026-12-01"}]}"#;
        let (in_force, expired) = read(text, &s3(), now).unwrap();
        assert_eq!(in_force["s3"].len(), 1);
        assert!(in_force["s3"][0].covers("S3-07", "Logs") && !in_force["s3"][0].covers("S3-07", "Bucket"));
        assert_eq!(expired[0].reason, "old");
        let unknown = r#"{"waivers": [{"control_id": "S3-99", "reason": "r", "expires_at": "2027-02-01"}]}"#;
        assert!(
            matches!(read(unknown, &s3(), now), Err(GateError::Input { pointer, .. }) if pointer == "/waivers/0/control_id")
        );
    }
}
