//! Evaluation of a Terraform plan against the bundles' `terraform-checks.json`: one
//! finding per resource of a control's anchor type × control, like the template gate.
//!
//! Each requirement is followed through `change.after` (nested blocks are lists, a
//! `jsonencode` document is parsed); a value marked in `after_unknown` is
//! `undetermined`, never a pass; an argument that is absent fails. A companion
//! (encryption configuration, public access block, bucket policy) counts for a bucket
//! only when the plan links them: its link argument's known value is the bucket's id,
//! or the plan's configuration shows the argument referring to the bucket. Settings
//! the bundle marks as not checkable make the control `not_decidable` unless a
//! checkable part already fails.

use std::collections::BTreeMap;

use serde_json::Value;

use super::report::{Finding, Outcome, PathResult};
use super::rules::ServiceRules;
use super::tfplan::{Change, Plan, child, config_address, has_instance_key};
use super::waivers::Waivers;
use crate::knowledge::CheckKind;
use crate::render::terraform_checks::{ControlCheck, Requirement, Scope, Step, path_text};

/// Every finding of the services' Terraform checks on the plan.
pub fn evaluate(plan: &Plan, services: &[&ServiceRules], waivers: &Waivers) -> Vec<Finding> {
    let mut out = Vec::new();
    for service in services {
        let Some(checks) = &service.terraform else { continue };
        for control in &checks.controls {
            for anchor in plan.changes.iter().filter(|c| c.kind == control.anchor_type) {
                let waiver = waivers
                    .get(&service.service)
                    .and_then(|ws| ws.iter().find(|w| w.covers(&control.control_id, &anchor.address)))
                    .map(|w| &w.waiver);
                let mut f = finding(plan, service, control, anchor);
                if !f.outcome.passes()
                    && let Some(w) = waiver
                {
                    f.outcome = Outcome::Waived;
                    f.waiver = Some(w.clone());
                }
                out.push(f);
            }
        }
    }
    out
}

fn finding(plan: &Plan, service: &ServiceRules, control: &ControlCheck, anchor: &Change) -> Finding {
    let mut paths = Vec::new();
    let mut linked: BTreeMap<(&str, &str), Vec<&Requirement>> = BTreeMap::new();
    for r in &control.requirements {
        if let Some(target) = r.references.as_ref().filter(|_| !plan.has_configuration) {
            paths.push(super::tfplan_refs::without_configuration(anchor, r, target));
            continue;
        }
        match &r.scope {
            Scope::Anchor => paths.extend(judge(plan, anchor, r)),
            Scope::Every => paths
                .extend(plan.changes.iter().filter(|c| c.kind == r.resource_type).filter_map(|c| judge(plan, c, r))),
            Scope::Linked { link } => linked.entry((r.resource_type.as_str(), link.as_str())).or_default().push(r),
        }
    }
    for ((kind, link), reqs) in linked {
        paths.extend(companions(plan, anchor, kind, link, &reqs));
    }
    paths.extend(control.not_checkable.iter().map(|n| PathResult {
        path: n.path.clone(),
        outcome: Outcome::NotDecidable,
        pointer: anchor.pointer.clone(),
        line: None,
        message: n.reason.clone(),
    }));
    paths.sort_by_key(|p| std::cmp::Reverse(p.outcome));
    let (title, severity) =
        service.controls.get(&control.control_id).cloned().unwrap_or_else(|| (control.title.clone(), String::new()));
    Finding {
        resource: anchor.address.clone(),
        resource_type: anchor.kind.clone(),
        service: service.service.clone(),
        control_id: control.control_id.clone(),
        title,
        severity,
        outcome: paths.iter().map(|p| p.outcome).max().unwrap_or(Outcome::Pass),
        line: None,
        paths,
        waiver: None,
    }
}

/// How a companion is linked to the anchor.
#[derive(PartialEq)]
enum Link {
    /// By a known value, or a configuration reference to the anchor's only instance.
    Certain,
    /// By a configuration reference to a resource with several instances (`count`, `for_each`).
    Uncertain,
}

fn link_of(plan: &Plan, companion: &Change, link: &str, anchor: &Change) -> Option<Link> {
    let known = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_string);
    if let (Some(value), Some(id)) = (known(&companion.after[link]), known(&anchor.after["id"]))
        && value == id
    {
        return Some(Link::Certain);
    }
    let base = config_address(&anchor.address);
    let refers =
        plan.references(&companion.address, link).iter().any(|r| *r == base || r.starts_with(&format!("{base}.")));
    refers.then(|| if has_instance_key(&anchor.address) { Link::Uncertain } else { Link::Certain })
}

/// The requirements on a companion type: decided by the best companion linked to the anchor.
fn companions(plan: &Plan, anchor: &Change, kind: &str, link: &str, reqs: &[&Requirement]) -> Vec<PathResult> {
    let mut best: Option<(Outcome, Vec<PathResult>)> = None;
    for c in plan.changes.iter().filter(|c| c.kind == kind) {
        let Some(how) = link_of(plan, c, link, anchor) else { continue };
        let mut paths: Vec<PathResult> = reqs.iter().filter_map(|r| judge(plan, c, r)).collect();
        if how == Link::Uncertain && paths.is_empty() {
            paths.push(PathResult {
                path: format!("{}.{link}", c.address),
                outcome: Outcome::Undetermined,
                pointer: child(&c.pointer, "change"),
                line: None,
                message: format!("{} refers to every instance of {}, not only to this one", c.address, anchor.address),
            });
        }
        let outcome = paths.iter().map(|p| p.outcome).max().unwrap_or(Outcome::Pass);
        if best.as_ref().is_none_or(|(o, _)| outcome < *o) {
            best = Some((outcome, paths));
        }
    }
    if let Some((_, paths)) = best {
        return paths;
    }
    let unlinkable = !plan.has_configuration && plan.changes.iter().any(|c| c.kind == kind);
    let (outcome, message) = if unlinkable {
        (
            Outcome::Undetermined,
            format!("the plan has no configuration section, so no {kind} can be linked to {}", anchor.address),
        )
    } else {
        (Outcome::Fail, format!("no {kind} in the plan refers to {} by `{link}`", anchor.address))
    };
    vec![PathResult { path: kind.to_string(), outcome, pointer: anchor.pointer.clone(), line: None, message }]
}

/// What the plan holds at the end of a path.
enum Found {
    Value(Value),
    Unknown,
    Missing,
}

struct Leaf {
    path: String,
    pointer: String,
    found: Found,
}

/// Where a walk is: the address-qualified path so far, and the JSON pointer of the
/// deepest node in the plan (it stops at a JSON-encoded string, which has no pointer inside).
#[derive(Clone)]
struct Cursor {
    path: String,
    pointer: String,
    in_json: bool,
}

impl Cursor {
    fn key(&self, k: &str) -> Cursor {
        let plain = k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        let path = if plain { format!("{}.{k}", self.path) } else { format!("{}[{k:?}]", self.path) };
        let pointer = if self.in_json { self.pointer.clone() } else { child(&self.pointer, k) };
        Cursor { path, pointer, in_json: self.in_json }
    }

    fn index(&self, i: usize) -> Cursor {
        let pointer = if self.in_json { self.pointer.clone() } else { format!("{}/{i}", self.pointer) };
        Cursor { path: format!("{}[{i}]", self.path), pointer, in_json: self.in_json }
    }

    fn leaf(&self, rest: &[Step], found: Found) -> Leaf {
        let tail = path_text(rest);
        let path = match rest.first() {
            None => self.path.clone(),
            Some(Step::Key(_)) => format!("{}.{tail}", self.path),
            Some(_) => format!("{}{tail}", self.path),
        };
        Leaf { path, pointer: self.pointer.clone(), found }
    }
}

fn walk(after: &Value, unknown: &Value, steps: &[Step], at: &Cursor, out: &mut Vec<Leaf>) {
    if *unknown == Value::Bool(true) {
        return out.push(at.leaf(steps, Found::Unknown));
    }
    let Some((step, rest)) = steps.split_first() else {
        let found = if after.is_null() { Found::Missing } else { Found::Value(after.clone()) };
        return out.push(at.leaf(&[], found));
    };
    match (step, after) {
        (Step::Key(k), Value::Object(map)) => match map.get(k) {
            Some(v) => walk(v, unknown.get(k).unwrap_or(&Value::Null), rest, &at.key(k), out),
            None if unknown.get(k) == Some(&Value::Bool(true)) => out.push(at.key(k).leaf(rest, Found::Unknown)),
            None => out.push(at.leaf(steps, Found::Missing)),
        },
        (Step::Each, Value::Array(items)) if !items.is_empty() => {
            for (i, item) in items.iter().enumerate() {
                walk(item, unknown.get(i).unwrap_or(&Value::Null), rest, &at.index(i), out);
            }
        }
        (Step::Json, Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(doc) => walk(&doc, &Value::Null, rest, &Cursor { in_json: true, ..at.clone() }, out),
            Err(_) => out.push(at.leaf(steps, Found::Missing)),
        },
        _ => out.push(at.leaf(steps, Found::Missing)),
    }
}

/// One requirement on one resource: `None` when some value on its path satisfies it
/// (some element of a list, as Guard's `some`), else the first undetermined or failing value.
/// A `references` requirement is decided from the plan's configuration instead.
pub(super) fn judge(plan: &Plan, change: &Change, r: &Requirement) -> Option<PathResult> {
    if let Some(target) = &r.references {
        return super::tfplan_refs::judge(plan, change, r, target);
    }
    let mut leaves = Vec::new();
    let start =
        Cursor { path: change.address.clone(), pointer: child(&change.pointer, "change") + "/after", in_json: false };
    walk(&change.after, &change.after_unknown, &r.path, &start, &mut leaves);
    let judged: Vec<(Outcome, Leaf)> = leaves.into_iter().map(|l| (outcome(&l.found, r), l)).collect();
    if judged.iter().any(|(o, _)| *o == Outcome::Pass) {
        return None;
    }
    let (outcome, leaf) = judged.into_iter().min_by_key(|(o, _)| *o)?;
    let message = match &leaf.found {
        Found::Unknown => format!("{} is known only after apply", leaf.path),
        Found::Missing => format!("{} is not set", leaf.path),
        Found::Value(v) => format!("{} is {v}; required: {}", leaf.path, expected(r)),
    };
    Some(PathResult { path: leaf.path, outcome, pointer: leaf.pointer, line: None, message })
}

fn outcome(found: &Found, r: &Requirement) -> Outcome {
    match found {
        Found::Unknown => Outcome::Undetermined,
        Found::Missing => Outcome::Fail,
        Found::Value(v) if satisfies(v, r) => Outcome::Pass,
        Found::Value(_) => Outcome::Fail,
    }
}

fn satisfies(v: &Value, r: &Requirement) -> bool {
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    match (r.check, &r.value) {
        (CheckKind::Exists, _) => !v.is_null(),
        (CheckKind::Equals, Some(Value::Object(fields))) => fields.iter().all(|(k, want)| v.get(k) == Some(want)),
        (CheckKind::Equals, Some(want)) => {
            v == want || matches!((v, want), (Value::Number(_), Value::Number(_)) if number(v) == number(want))
        }
        (CheckKind::AtLeast, Some(min)) => number(v).zip(number(min)).is_some_and(|(a, b)| a >= b),
        (_, None) => false,
    }
}

fn expected(r: &Requirement) -> String {
    match (r.check, &r.value) {
        (CheckKind::Equals, Some(v)) => v.to_string(),
        (CheckKind::AtLeast, Some(v)) => format!(">= {v}"),
        _ => "set".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::render::terraform_checks::TerraformChecks;

    /// One control: the bucket's public access block (linked by `bucket`) blocks ACLs.
    fn rules() -> ServiceRules {
        let checks: TerraformChecks = serde_json::from_value(json!({
            "service": "s3", "deployed_types": [],
            "controls": [{ "control_id": "S3-10", "title": "t", "anchor_type": "aws_s3_bucket", "not_checkable": [],
                "requirements": [{ "resource_type": "aws_s3_bucket_public_access_block",
                    "scope": { "kind": "linked", "link": "bucket" },
                    "path": [{ "key": "block_public_acls" }], "check": "equals", "value": true }] }]
        }))
        .unwrap();
        ServiceRules {
            service: "s3".into(),
            source: "test".into(),
            rules: vec![],
            deployed_types: Default::default(),
            controls: Default::default(),
            terraform: Some(checks),
        }
    }

    fn change(address: &str, kind: &str, after: Value) -> Value {
        json!({ "address": address, "type": kind, "change": { "actions": ["create"], "after": after,
            "after_unknown": { "id": true } } })
    }

    fn outcome(plan: Value) -> Vec<Outcome> {
        let plan = Plan::parse(&plan.to_string()).unwrap();
        evaluate(&plan, &[&rules()], &Waivers::new()).iter().map(|f| f.outcome).collect()
    }

    fn linked_by(address: &str, refs: &[&str]) -> Value {
        json!({ "root_module": { "resources": [{ "address": address, "expressions": { "bucket": { "references": refs } } }] } })
    }

    #[test]
    fn a_companion_counts_only_when_the_plan_links_it() {
        let pab = change(
            "aws_s3_bucket_public_access_block.p",
            "aws_s3_bucket_public_access_block",
            json!({ "block_public_acls": true }),
        );
        let bucket = change("aws_s3_bucket.b", "aws_s3_bucket", json!({}));
        let linked = json!({ "format_version": "1.2", "resource_changes": [bucket, pab],
            "configuration": linked_by("aws_s3_bucket_public_access_block.p", &["aws_s3_bucket.b.id", "aws_s3_bucket.b"]) });
        assert_eq!(outcome(linked), [Outcome::Pass]);
        let other = json!({ "format_version": "1.2", "resource_changes": [bucket, pab],
            "configuration": linked_by("aws_s3_bucket_public_access_block.p", &["aws_s3_bucket.c.id"]) });
        assert_eq!(outcome(other), [Outcome::Fail]);
        // Without a configuration section nothing can be linked: undetermined, not a guess.
        let bare = json!({ "format_version": "1.2", "resource_changes": [bucket, pab] });
        assert_eq!(outcome(bare), [Outcome::Undetermined]);
    }

    #[test]
    fn a_reference_to_every_instance_of_a_counted_bucket_is_undetermined() {
        let pab = change(
            "aws_s3_bucket_public_access_block.p[0]",
            "aws_s3_bucket_public_access_block",
            json!({ "block_public_acls": true }),
        );
        let bucket = change("aws_s3_bucket.b[0]", "aws_s3_bucket", json!({}));
        let plan = json!({ "format_version": "1.2", "resource_changes": [bucket, pab],
            "configuration": linked_by("aws_s3_bucket_public_access_block.p", &["aws_s3_bucket.b"]) });
        assert_eq!(outcome(plan), [Outcome::Undetermined]);
        // Linked by the known value of an existing bucket's id: decided.
        let mut pab = change(
            "aws_s3_bucket_public_access_block.p[0]",
            "aws_s3_bucket_public_access_block",
            json!({ "block_public_acls": true, "bucket": "data" }),
        );
        pab["change"]["after_unknown"] = json!({});
        let bucket = json!({ "address": "aws_s3_bucket.b[0]", "type": "aws_s3_bucket",
            "change": { "actions": ["no-op"], "after": { "id": "data" }, "after_unknown": {} } });
        assert_eq!(outcome(json!({ "format_version": "1.2", "resource_changes": [bucket, pab] })), [Outcome::Pass]);
    }

    #[test]
    fn deleted_resources_are_not_checked() {
        let bucket = json!({ "address": "aws_s3_bucket.b", "type": "aws_s3_bucket",
            "change": { "actions": ["delete"], "after": null } });
        assert!(outcome(json!({ "format_version": "1.2", "resource_changes": [bucket] })).is_empty());
    }
}
