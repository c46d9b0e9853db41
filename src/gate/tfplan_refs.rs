//! `references` requirements: an argument whose required value is another deployed
//! resource's attribute (the bundle's key ARN, its parameter group's name) is known
//! only after apply, so `after` cannot decide it; the plan's `configuration` can. The
//! argument passes when every resource its expression refers to is of the required
//! Terraform type, through the required attribute, and each such resource's planned
//! values meet the settings the bundle deploys it with. A literal, or a reference to a
//! resource of another type, fails; an expression that also depends on variables,
//! locals, data sources or module outputs is undetermined (whoever sets them decides);
//! a plan without a `configuration` section cannot decide it at all.

use std::collections::BTreeMap;

use super::report::{Outcome, PathResult};
use super::tfplan::{Change, Expr, Plan, child, config_address};
use crate::render::terraform_checks::{Reference, Requirement, Step, path_text};

/// The requirement `r` (with `r.references`) on `change`: `None` when it passes.
pub fn judge(plan: &Plan, change: &Change, r: &Requirement, target: &Reference) -> Option<PathResult> {
    let path = format!("{}.{}", change.address, path_text(&r.path));
    let result = |outcome, message: String| {
        Some(PathResult { path: path.clone(), outcome, pointer: child(&change.pointer, "change"), line: None, message })
    };
    let wanted = wanted(target);
    if !plan.has_configuration {
        return Some(without_configuration(change, r, target));
    }
    let refs = match plan.expression(&change.address, &r.path) {
        Expr::NoResource => {
            return result(Outcome::Undetermined, format!("{} is not in the plan's configuration", change.address));
        }
        Expr::Absent => return result(Outcome::Fail, format!("{path} is not set; required: {wanted}")),
        Expr::Constant => {
            let value = value_at(change, r).map_or_else(|| "a literal".to_string(), |v| v.to_string());
            return result(Outcome::Fail, format!("{path} is {value}, not a reference; required: {wanted}"));
        }
        Expr::References(refs) => refs,
    };
    let (resources, inputs) = split(&refs);
    if let Some((address, (kind, _))) = resources.iter().find(|(_, (kind, _))| *kind != target.resource_type) {
        return result(Outcome::Fail, format!("{path} refers to {address}, a {kind}; required: {wanted}"));
    }
    if let Some((address, _)) = resources.iter().find(|(_, (_, attrs))| !attrs.contains(&target.attribute)) {
        return result(Outcome::Fail, format!("{path} refers to {address} but not to its {}", target.attribute));
    }
    if let Some(input) = inputs.first() {
        return result(Outcome::Undetermined, format!("{path} depends on {input}, whose value decides the resource"));
    }
    resources.keys().find_map(|address| targets(plan, address, target, &path))
}

fn wanted(target: &Reference) -> String {
    format!("a {}'s {} (as {})", target.resource_type, target.attribute, target.expression)
}

/// A plan without a `configuration` section cannot say which resource a value known
/// only after apply comes from: not decidable, reported on the anchor.
pub fn without_configuration(anchor: &Change, r: &Requirement, target: &Reference) -> PathResult {
    let path = format!("{}.{}", r.resource_type, path_text(&r.path));
    let message = format!(
        "{path} must be {}: known only after apply, and without the plan's configuration section nothing \
         says which resource it comes from",
        wanted(target)
    );
    PathResult { path, outcome: Outcome::NotDecidable, pointer: anchor.pointer.clone(), line: None, message }
}

/// Referenced resources: configuration address → (type, attributes named).
type Resources = BTreeMap<String, (String, Vec<String>)>;

/// Resource references and the other references (variables, locals, data sources,
/// module outputs).
fn split(refs: &[String]) -> (Resources, Vec<String>) {
    let (mut resources, mut inputs) = (Resources::new(), Vec::new());
    for r in refs {
        let plain = config_address(r);
        let mut parts: Vec<&str> = plain.split('.').collect();
        let mut module = String::new();
        while parts.first() == Some(&"module") && parts.len() > 2 {
            module.push_str(&format!("module.{}.", parts[1]));
            parts.drain(..2);
        }
        match parts.as_slice() {
            [root, ..] if matches!(*root, "var" | "local" | "data" | "each" | "count" | "path" | "self" | "module") => {
                inputs.push(r.clone())
            }
            [kind, name, rest @ ..] => {
                let entry =
                    resources.entry(format!("{module}{kind}.{name}")).or_insert_with(|| (kind.to_string(), vec![]));
                entry.1.extend(rest.first().map(|a| a.to_string()));
            }
            _ => inputs.push(r.clone()),
        }
    }
    (resources, inputs)
}

/// The referenced resource's instances in the plan must meet the chained settings.
fn targets(plan: &Plan, address: &str, target: &Reference, path: &str) -> Option<PathResult> {
    let instances: Vec<&Change> = plan.changes.iter().filter(|c| config_address(&c.address) == address).collect();
    if instances.is_empty() {
        return Some(PathResult {
            path: path.to_string(),
            outcome: Outcome::Undetermined,
            pointer: String::new(),
            line: None,
            message: format!("{path} refers to {address}, which the plan does not create or keep"),
        });
    }
    instances.iter().find_map(|c| target.requires.iter().find_map(|r| super::tfplan_eval::judge(plan, c, r)))
}

/// The planned value at a requirement's path, when it is known and single.
fn value_at<'a>(change: &'a Change, r: &Requirement) -> Option<&'a serde_json::Value> {
    r.path.iter().try_fold(&change.after, |v, s| match s {
        Step::Key(k) => v.get(k),
        Step::Each => v.get(0),
        Step::Json => None,
    })
}
