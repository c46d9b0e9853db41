//! Evaluation: each control's rule re-scoped to each resource and clause, evaluated
//! in-process with cfn-guard (`render::guard_eval`, one run per resource), then put
//! back together as one finding per resource × control. A clause that fails on a
//! path holding an unresolved intrinsic is `undetermined`, never a pass; a failure
//! with a waiver in force is `waived`.
//!
//! A rule whose clauses check a companion resource (the bucket policy of a bucket,
//! the key of a bucket) is decided per anchor resource: it passes when some
//! companion linked to it (either refers to the other by `Ref`, `Fn::GetAtt` or
//! `Fn::Sub`) passes every clause.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde_json::Value;

use super::GateError;
use super::path::{Walk, walk};
use super::report::{Finding, Outcome, PathResult};
use super::rules::{Clause, ControlRule, ServiceRules};
use super::template::{Template, escape};
use super::waivers::Waivers;
use crate::library::Waiver;

/// The clauses to evaluate, deduplicated by (resource, clause text) → rule index, with
/// the rules text of each resource kept apart.
///
/// Each resource's rules are evaluated on a document that holds only that resource:
/// a rule `Resources.<id> { clause }` reads nothing else, so the outcome is the same,
/// and cfn-guard copies the value at every step of a query (`Resources` first), which
/// on the whole template made each rule cost as much as the template is large
/// (93% of a 51-resource check's instructions, measured with callgrind).
#[derive(Default)]
struct Batch {
    index: BTreeMap<(String, String), usize>,
    rules: BTreeMap<String, String>,
}

impl Batch {
    fn add(&mut self, resource: &str, clause: &Clause) -> usize {
        let next = self.index.len();
        let rules = &mut self.rules;
        *self.index.entry((resource.to_string(), clause.text.clone())).or_insert_with(|| {
            let _ = write!(
                rules.entry(resource.to_string()).or_default(),
                "rule G{next} {{\n    Resources.{} {{\n        {}\n    }}\n}}\n",
                guard_key(resource),
                clause.text
            );
            next
        })
    }

    /// Rule name → status, one cfn-guard run per resource on that resource alone.
    fn run(&self, template: &Template) -> Result<BTreeMap<String, Option<bool>>, GateError> {
        let mut results = BTreeMap::new();
        for (resource, rules) in &self.rules {
            let mut only = serde_json::Map::new();
            only.insert(resource.clone(), template.value["Resources"][resource.as_str()].clone());
            let data = serde_json::json!({ "Resources": only });
            results.extend(crate::render::guard_eval::evaluate(&data, rules).map_err(GateError::Guard)?);
        }
        Ok(results)
    }
}

/// A logical id as a Guard query key, quoted unless it is a plain identifier.
fn guard_key(id: &str) -> String {
    if id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        id.to_string()
    } else {
        format!("\"{}\"", id.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The outcomes of one rule on one candidate (target) resource, clause by clause.
type Planned<'a> = (&'a ControlRule, String, Vec<(String, Vec<usize>)>);

/// Evaluates every service's rules on the template's resources.
pub fn evaluate(template: &Template, services: &[&ServiceRules], waivers: &Waivers) -> Result<Vec<Finding>, GateError> {
    let by_type = resources_by_type(template);
    let mut batch = Batch::default();
    let mut planned: Vec<(&str, Planned)> = Vec::new();
    for service in services {
        for rule in &service.rules {
            for anchor in by_type.get(rule.anchor_type.as_str()).into_iter().flatten() {
                let candidates = candidates(template, &by_type, rule, anchor);
                let ids = candidates
                    .into_iter()
                    .map(|c| (c.to_string(), rule.clauses.iter().map(|cl| batch.add(c, cl)).collect()))
                    .collect();
                planned.push((service.service.as_str(), (rule, anchor.to_string(), ids)));
            }
        }
    }
    if planned.is_empty() {
        return Ok(Vec::new());
    }
    let results = batch.run(template)?;
    let status = |i: usize| results.get(&format!("G{i}")).copied().flatten();
    Ok(planned
        .into_iter()
        .map(|(service, (rule, anchor, ids))| {
            let waiver = waivers
                .get(service)
                .and_then(|ws| ws.iter().find(|w| w.covers(&rule.control_id, &anchor)))
                .map(|w| &w.waiver);
            finding(template, service, rule, &anchor, &ids, &status, waiver)
        })
        .collect())
}

fn resources_by_type(template: &Template) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, r) in template.resources() {
        out.entry(r["Type"].as_str().unwrap_or_default()).or_default().push(id);
    }
    out
}

/// The resources a rule's clauses are checked on, for one anchor resource.
fn candidates<'a>(
    template: &Template,
    by_type: &BTreeMap<&str, Vec<&'a str>>,
    rule: &ControlRule,
    anchor: &'a str,
) -> Vec<&'a str> {
    if rule.anchor_type == rule.target_type {
        return vec![anchor];
    }
    let res = |id: &str| &template.value["Resources"][id];
    by_type
        .get(rule.target_type.as_str())
        .into_iter()
        .flatten()
        .copied()
        .filter(|c| refers_to(res(c), anchor) || refers_to(res(anchor), c))
        .collect()
}

/// Whether a value refers to a logical id through `Ref`, `Fn::GetAtt` or `Fn::Sub`.
pub fn refers_to(value: &Value, id: &str) -> bool {
    match value {
        Value::Object(m) => m.iter().any(|(k, v)| match (k.as_str(), v) {
            ("Ref", Value::String(s)) => s == id,
            ("Fn::GetAtt", Value::Array(a)) => a.first().and_then(Value::as_str) == Some(id) || refers_to(v, id),
            ("Fn::GetAtt", Value::String(s)) => s.split('.').next() == Some(id),
            ("Fn::Sub", Value::String(s)) => sub_names(s, id),
            ("Fn::Sub", Value::Array(a)) => {
                a.first().and_then(Value::as_str).is_some_and(|s| sub_names(s, id)) || refers_to(v, id)
            }
            _ => refers_to(v, id),
        }),
        Value::Array(a) => a.iter().any(|v| refers_to(v, id)),
        _ => false,
    }
}

fn sub_names(s: &str, id: &str) -> bool {
    s.contains(&format!("${{{id}}}")) || s.contains(&format!("${{{id}."))
}

fn finding(
    template: &Template,
    service: &str,
    rule: &ControlRule,
    anchor: &str,
    ids: &[(String, Vec<usize>)],
    status: &dyn Fn(usize) -> Option<bool>,
    waiver: Option<&Waiver>,
) -> Finding {
    let anchor_ptr = format!("/Resources/{}", escape(anchor));
    // Each candidate's unmet paths; the best candidate decides (a pass if any passes).
    let mut best: Option<(Outcome, Vec<PathResult>)> = None;
    for (candidate, clause_ids) in ids {
        let paths = unmet(template, candidate, &rule.clauses, clause_ids, status);
        let outcome = paths.iter().map(|p| p.outcome).max().unwrap_or(Outcome::Pass);
        if best.as_ref().is_none_or(|(o, _)| outcome < *o) {
            best = Some((outcome, paths));
        }
    }
    let (mut outcome, paths) = best.unwrap_or_else(|| {
        let message = format!("no {} in the template refers to {anchor} or is referred to by it", rule.target_type);
        let missing = PathResult {
            path: format!("Resources[Type == {}]", rule.target_type),
            outcome: Outcome::Fail,
            line: template.line(&anchor_ptr),
            pointer: anchor_ptr.clone(),
            message,
        };
        (Outcome::Fail, vec![missing])
    });
    let waiver = waiver.filter(|_| !outcome.passes()).cloned();
    if waiver.is_some() {
        outcome = Outcome::Waived;
    }
    Finding {
        resource: anchor.to_string(),
        resource_type: rule.anchor_type.clone(),
        service: service.to_string(),
        control_id: rule.control_id.clone(),
        title: rule.title.clone(),
        severity: rule.severity.clone(),
        outcome,
        line: paths.first().and_then(|p| p.line).or(template.line(&anchor_ptr)),
        paths,
        waiver,
    }
}

/// The clauses of one candidate that did not pass, with where and why.
fn unmet(
    template: &Template,
    candidate: &str,
    clauses: &[Clause],
    ids: &[usize],
    status: &dyn Fn(usize) -> Option<bool>,
) -> Vec<PathResult> {
    let base = format!("/Resources/{}", escape(candidate));
    let resource = &template.value["Resources"][candidate];
    clauses
        .iter()
        .zip(ids)
        .filter_map(|(clause, &i)| {
            let passed = status(i);
            if passed == Some(true) {
                return None;
            }
            let Walk { intrinsic, pointer } = walk(resource, &clause.path, &base);
            let (outcome, message) = if intrinsic {
                (Outcome::Undetermined, format!("{candidate}: the value is an unresolved intrinsic"))
            } else if passed.is_none() {
                (Outcome::Undetermined, format!("{candidate}: Guard could not decide `{}`", clause.text))
            } else {
                (Outcome::Fail, format!("{candidate}: `{}` does not hold", clause.text))
            };
            Some(PathResult { path: clause.path.clone(), outcome, line: template.line(&pointer), pointer, message })
        })
        .collect()
}
