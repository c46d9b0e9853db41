//! What each selected control requires in Terraform, written machine-readably as
//! `terraform-checks.json` so that the CI gate can check a Terraform plan's
//! `resource_changes` against the same control definition that renders `main.tf`,
//! rather than against a second, hand-kept mapping. A value that is another deployed
//! resource's attribute (the bundle's key ARN, its parameter group) is known only
//! after apply, but the plan's `configuration` shows which resource the argument
//! refers to: such a setting becomes a `references` requirement (the target's
//! Terraform type and attribute), chained to the settings the bundle deploys that
//! target with. Where a plan cannot show a setting soundly (it lives on a resource
//! the plan does not link), the control says so with the reason instead of a
//! requirement. Pure: plan and catalog in, a struct out.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::values;
use crate::catalog::{Catalog, TerraformBlock};
use crate::knowledge::path::{Segment, segments};
use crate::knowledge::{CheckKind, ControlDef, ResourceDef, ServiceControls, Setting, TerraformPart};

/// `terraform-checks.json`: every selected control with a Guard rule or Terraform settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TerraformChecks {
    pub service: String,
    /// Terraform types `main.tf` deploys: approved with the bundle, never "not approved".
    pub deployed_types: Vec<String>,
    pub controls: Vec<ControlCheck>,
}

/// One control in Terraform terms.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlCheck {
    pub control_id: String,
    pub title: String,
    /// The type a finding is made for (the service's main resource), one per resource of it.
    pub anchor_type: String,
    pub requirements: Vec<Requirement>,
    /// The settings a plan cannot decide, with why (empty: the control is fully checkable).
    pub not_checkable: Vec<NotCheckable>,
}

/// A setting of the control that a plan cannot decide soundly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotCheckable {
    /// `type.argument.path` as the definition states it.
    pub path: String,
    pub reason: String,
}

/// Which resources of `resource_type` a requirement is checked on, for one anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scope {
    /// The anchor resource itself.
    Anchor,
    /// A companion whose argument `link` refers to the anchor; some linked one must pass.
    Linked { link: String },
    /// Every resource of the type in the plan.
    Every,
}

/// One argument the control requires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Requirement {
    pub resource_type: String,
    pub scope: Scope,
    /// Steps from the resource's `after` object to the value.
    pub path: Vec<Step>,
    pub check: CheckKind,
    /// The required value (`equals`; for an object, the fields some element must have)
    /// or minimum (`at_least`); none for `exists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
    /// The argument must refer to another resource (decided from the plan's `configuration`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Reference>,
}

/// What a reference argument must name: an attribute of a resource of `resource_type`
/// (the one type whose instances are, by definition, what the control asks for: an
/// `aws_kms_key` is a customer managed key), whose own planned values meet `requires`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    pub resource_type: String,
    /// `arn`, `id`, `key_id`… as the definition's value names it.
    pub attribute: String,
    /// `main.tf`'s expression, for messages (`aws_kms_key.data_key.arn`).
    pub expression: String,
    /// Settings the bundle deploys the target with for this control, checked on the target.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requires: Vec<Requirement>,
}

/// One step of a requirement's path through a plan's `after` value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// An argument, a nested block or a key of a map.
    Key(String),
    /// Some element of a list (nested blocks are lists in a plan).
    Each,
    /// The string holds a JSON document (`jsonencode`); the rest of the path is inside it.
    Json,
}

/// Renders a path as `rule[*].apply_server_side_encryption_by_default[*].sse_algorithm`.
pub fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) if out.is_empty() => out.push_str(k),
            Step::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Step::Each => out.push_str("[*]"),
            Step::Json => out.push_str("(json)"),
        }
    }
    out
}

/// A requirement's path, check, value and reference target.
type Checked = (Vec<Step>, CheckKind, Option<Value>, Option<Reference>);

/// What a definition leaf becomes: a requirement or the reason it cannot be one.
type Leaf = Result<Checked, NotCheckable>;

struct Ctx<'a> {
    catalog: &'a Catalog,
    sc: &'a ServiceControls,
    deployed: &'a [&'a ResourceDef],
    main: &'a ResourceDef,
    anchor_type: String,
}

/// The Terraform requirements of the selected controls; `deployed_types` are the
/// types `main.tf` declares. Empty when the service's main resource has no Terraform type.
pub fn checks(
    catalog: &Catalog,
    sc: &ServiceControls,
    deployed: &[&ResourceDef],
    controls: &[&ControlDef],
    deployed_types: Vec<String>,
) -> TerraformChecks {
    let main = deployed.iter().copied().find(|r| r.with_control.is_none());
    let anchor = main.and_then(|m| Some((m, m.terraform.as_ref()?.kind.clone())));
    let controls = match anchor {
        Some((main, anchor_type)) => {
            let ctx = Ctx { catalog, sc, deployed, main, anchor_type };
            let selected: Vec<&ControlDef> =
                controls.iter().copied().filter(|c| c.cloudformation.is_some() || !c.terraform.is_empty()).collect();
            let mut checks: Vec<ControlCheck> = selected.iter().map(|c| control(&ctx, c)).collect();
            for (i, c) in selected.iter().enumerate() {
                if c.cloudformation.as_ref().is_some_and(|cfn| cfn.resource == values::DATA_KEY) {
                    checks[i] = key_control(&checks, &checks[i], c);
                }
            }
            checks
        }
        None => Vec::new(),
    };
    TerraformChecks { service: sc.service.clone(), deployed_types, controls }
}

fn control(ctx: &Ctx, c: &ControlDef) -> ControlCheck {
    let mut leaves = Vec::new();
    if c.terraform.is_empty() {
        from_resource_arguments(ctx, c, &mut leaves);
    } else {
        for resource in ctx.deployed.iter().filter(|r| applies(ctx, c, r)) {
            let shared = c.cloudformation.as_ref().is_some_and(|cfn| cfn.resource != resource.id);
            for part in &c.terraform {
                from_part(ctx, resource, part, shared, &mut leaves);
            }
        }
    }
    let (mut requirements, mut not_checkable) = (Vec::new(), Vec::new());
    for (resource_type, scope, leaf) in leaves {
        match leaf {
            Ok((path, check, value, references)) => {
                requirements.push(Requirement { resource_type, scope, path, check, value, references })
            }
            Err(n) => not_checkable.push(n),
        }
    }
    ControlCheck {
        control_id: c.id.clone(),
        title: c.title.clone(),
        anchor_type: ctx.anchor_type.clone(),
        requirements,
        not_checkable,
    }
}

/// Whether `main.tf` puts the control's Terraform settings on this resource (as `core_module` decides).
fn applies(ctx: &Ctx, c: &ControlDef, resource: &ResourceDef) -> bool {
    resource.terraform.is_some()
        && match &c.cloudformation {
            Some(cfn) => cfn.applies_to(&resource.id),
            None => resource.id == ctx.main.id,
        }
}

/// The scope of a resource of the bundle relative to the anchor: itself, a companion
/// whose argument refers to the main resource, or (no such argument) every one of its type.
fn scope_of(ctx: &Ctx, resource: &ResourceDef) -> Scope {
    if resource.id == ctx.main.id {
        return Scope::Anchor;
    }
    let arguments = resource.terraform.iter().flat_map(|t| &t.arguments);
    let link = arguments.filter(|(_, v)| refers_to_main(ctx, v)).map(|(k, _)| k.clone()).next();
    link.map_or(Scope::Every, |link| Scope::Linked { link })
}

fn refers_to_main(ctx: &Ctx, v: &Value) -> bool {
    match values::reference(v) {
        Some(("Ref", Value::String(id))) => *id == ctx.main.id,
        Some(("GetAtt", Value::Array(a))) => a.first().and_then(Value::as_str) == Some(ctx.main.id.as_str()),
        _ => false,
    }
}

type Scoped = (String, Scope, Leaf);

/// The settings of one Terraform part of a control, on one resource it applies to.
fn from_part(ctx: &Ctx, resource: &ResourceDef, part: &TerraformPart, shared: bool, out: &mut Vec<Scoped>) {
    let Some(tf) = &resource.terraform else { return };
    let (kind, scope) = match (&part.resource, &part.link) {
        (None, _) => (tf.kind.clone(), scope_of(ctx, resource)),
        (Some(kind), Some(link)) if resource.id == ctx.main.id => (kind.clone(), Scope::Linked { link: link.clone() }),
        (Some(kind), _) => {
            let reason = format!(
                "the settings live on a separate {kind} that is not linked to {} by an argument a plan shows",
                ctx.anchor_type
            );
            out.push((kind.clone(), Scope::Every, Err(NotCheckable { path: kind.clone(), reason })));
            return;
        }
    };
    let schema = ctx.catalog.terraform_resource(&kind);
    for setting in &part.settings {
        let keys = keys_of(setting);
        if shared && !schema.is_some_and(|s| s.has_path(&keys.iter().map(String::as_str).collect::<Vec<_>>())) {
            continue; // main.tf leaves it out too
        }
        let mut leaves = Vec::new();
        expand(ctx, &kind, schema, Vec::new(), &keys, &setting.value, setting.check_kind(), &mut leaves);
        out.extend(leaves.into_iter().map(|l| (kind.clone(), scope.clone(), l)));
    }
}

/// A setting's path without list positions or selectors (as `main.tf` writes it).
fn keys_of(setting: &Setting) -> Vec<String> {
    segments(&setting.path)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k),
            Segment::Index(_) | Segment::Select { .. } => None,
        })
        .collect()
}

/// Walks a setting's keys through the provider schema (nested blocks are lists in a
/// plan) and turns its value into leaves: maps of blocks and attribute maps key by key.
#[allow(clippy::too_many_arguments)]
fn expand(
    ctx: &Ctx,
    kind: &str,
    schema: Option<&TerraformBlock>,
    mut steps: Vec<Step>,
    keys: &[String],
    value: &Value,
    check: CheckKind,
    out: &mut Vec<Leaf>,
) {
    let Some((first, rest)) = keys.split_first() else {
        return leaf(ctx, kind, steps, value, check, out);
    };
    steps.push(Step::Key(first.clone()));
    let Some(block) = schema.and_then(|s| s.blocks.get(first)) else {
        return expand(ctx, kind, None, steps, rest, value, check, out);
    };
    steps.push(Step::Each);
    match (rest.is_empty(), value) {
        (true, Value::Object(map)) if !values::is_reference(value) => {
            for (k, v) in map {
                let kind_of_v = Setting { path: k.clone(), value: v.clone(), check: None }.check_kind();
                expand(ctx, kind, Some(block), steps.clone(), std::slice::from_ref(k), v, kind_of_v, out);
            }
        }
        (true, _) => leaf(ctx, kind, steps[..steps.len() - 1].to_vec(), value, check, out),
        (false, _) => expand(ctx, kind, Some(block), steps, rest, value, check, out),
    }
}

/// One value of the definition at `steps`: a literal to compare, a parameter to require,
/// or a reference to another deployed resource's attribute, which the plan's
/// configuration decides.
fn leaf(ctx: &Ctx, kind: &str, steps: Vec<Step>, value: &Value, check: CheckKind, out: &mut Vec<Leaf>) {
    let exists = |steps: Vec<Step>| Ok((steps, CheckKind::Exists, None, None));
    match values::reference(value) {
        None => literal(ctx, kind, steps, value, check, out),
        Some(("var", _)) | Some(("jsonencode", _)) => out.push(exists(steps)),
        Some(("Ref", Value::String(name))) if ctx.sc.resource(name).is_none() => out.push(exists(steps)),
        Some(("Sub", Value::String(s))) if sub_is_known(ctx, s) => out.push(exists(steps)),
        Some((form, target)) => {
            let expr = values::tf_ref_text(ctx.sc, form, target);
            match target_of(ctx, form, target) {
                Some((resource_type, attribute, resource)) => {
                    let requires = resource.map(|r| chained(ctx, r, out)).unwrap_or_default();
                    let reference = Reference { resource_type, attribute, expression: expr, requires };
                    out.push(Ok((steps, CheckKind::Exists, None, Some(reference))));
                }
                None => {
                    let path = format!("{kind}.{}", path_text(&steps));
                    let reason = format!(
                        "the value must be {expr}, built from other resources' attributes: a plan shows it only \
                         as known after apply, and its configuration names the resources but not the result"
                    );
                    out.push(Err(NotCheckable { path, reason }));
                    out.push(exists(steps));
                }
            }
        }
    }
}

/// A literal of the definition: maps key by key; a list of blocks element by element
/// (some element must have all of its fields); other lists and null must be set.
fn literal(ctx: &Ctx, kind: &str, steps: Vec<Step>, value: &Value, check: CheckKind, out: &mut Vec<Leaf>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let mut inner = steps.clone();
                inner.push(Step::Key(k.clone()));
                let kind_of_v = Setting { path: k.clone(), value: v.clone(), check: None }.check_kind();
                leaf(ctx, kind, inner, v, kind_of_v, out);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(is_literal_object) => {
            let mut each = steps;
            each.push(Step::Each);
            out.extend(items.iter().map(|i| Ok((each.clone(), CheckKind::Equals, Some(i.clone()), None))));
        }
        Value::Array(_) | Value::Null => out.push(Ok((steps, CheckKind::Exists, None, None))),
        scalar => match check {
            CheckKind::Exists => out.push(Ok((steps, check, None, None))),
            _ => out.push(Ok((steps, check, Some(scalar.clone()), None))),
        },
    }
}

/// A map of scalars (a nested block written out in full, such as a parameter).
fn is_literal_object(v: &Value) -> bool {
    v.as_object().is_some_and(|m| !values::is_reference(v) && m.values().all(|x| !x.is_object() && !x.is_array()))
}

/// The Terraform type and attribute a reference names, and the bundle's definition of
/// that resource when it has one (the customer managed key is generated, not defined).
fn target_of<'a>(ctx: &Ctx<'a>, form: &str, target: &Value) -> Option<(String, String, Option<&'a ResourceDef>)> {
    let (id, attribute) = match (form, target) {
        ("kms_key", k) if k == "KeyId" => return Some(("aws_kms_key".into(), "key_id".into(), None)),
        ("kms_key", _) => return Some(("aws_kms_key".into(), "arn".into(), None)),
        ("GetAtt", Value::Array(a)) => (a.first()?.as_str()?, values::snake(a.get(1)?.as_str()?)),
        ("Ref", Value::String(id)) => (id.as_str(), "id".to_string()),
        _ => return None,
    };
    let resource = ctx.deployed.iter().copied().find(|r| r.id == id)?;
    Some((resource.terraform.as_ref()?.kind.clone(), attribute, Some(resource)))
}

/// The settings a referenced resource is deployed with, as requirements on it, when the
/// bundle deploys it for a control (a parameter group that forces TLS, a dead-letter
/// queue encrypted with the key); its own not checkable settings go to `out`.
fn chained(ctx: &Ctx, resource: &ResourceDef, out: &mut Vec<Leaf>) -> Vec<Requirement> {
    let Some(tf) = resource.terraform.as_ref().filter(|_| resource.with_control.is_some()) else {
        return Vec::new();
    };
    let schema = ctx.catalog.terraform_resource(&tf.kind);
    let mut leaves = Vec::new();
    for (argument, value) in &tf.arguments {
        let check = Setting { path: argument.clone(), value: value.clone(), check: None }.check_kind();
        expand(ctx, &tf.kind, schema, Vec::new(), std::slice::from_ref(argument), value, check, &mut leaves);
    }
    let mut requires = Vec::new();
    for l in leaves {
        match l {
            Ok((path, check, value, references)) => requires.push(Requirement {
                resource_type: tf.kind.clone(),
                scope: Scope::Anchor,
                path,
                check,
                value,
                references,
            }),
            Err(n) => out.push(Err(n)),
        }
    }
    requires
}

/// The customer managed key's control: the key is linked to the anchor by the arguments
/// other controls require to refer to an `aws_kms_key`, so the control requires those
/// same references, with the key's own settings on each key they name. Without such an
/// argument the control stays not checkable.
fn key_control(all: &[ControlCheck], own: &ControlCheck, c: &ControlDef) -> ControlCheck {
    let Some(cfn) = &c.cloudformation else { return own.clone() };
    let mut requires = Vec::new();
    let mut not_checkable = Vec::new();
    for setting in &cfn.settings {
        let Some(argument) = crate::knowledge::data_key::terraform_argument(&setting.path) else {
            let reason = format!("no argument of aws_kms_key carries {}", setting.path);
            not_checkable.push(NotCheckable { path: format!("aws_kms_key.data_key.{}", setting.path), reason });
            continue;
        };
        let check = setting.check_kind();
        requires.push(Requirement {
            resource_type: crate::knowledge::data_key::TERRAFORM_TYPE.into(),
            scope: Scope::Anchor,
            path: vec![Step::Key(argument.into())],
            check,
            value: (check != CheckKind::Exists).then(|| setting.value.clone()),
            references: None,
        });
    }
    let mut requirements: Vec<Requirement> = Vec::new();
    let to_key = all.iter().flat_map(|c| &c.requirements).filter(|r| {
        r.references.as_ref().is_some_and(|t| t.resource_type == crate::knowledge::data_key::TERRAFORM_TYPE)
    });
    for r in to_key {
        if requirements.iter().any(|x| x.resource_type == r.resource_type && x.scope == r.scope && x.path == r.path) {
            continue;
        }
        let mut r = r.clone();
        if let Some(t) = r.references.as_mut() {
            t.requires = requires.clone();
        }
        requirements.push(r);
    }
    if requirements.is_empty() {
        return own.clone();
    }
    ControlCheck { requirements, not_checkable, ..own.clone() }
}

/// Whether a `Sub` names only parameters and pseudo parameters (all known when planning).
fn sub_is_known(ctx: &Ctx, s: &str) -> bool {
    let mut names = Vec::new();
    values::collect_refs(&serde_json::json!({ "Sub": s }), &mut names);
    names.iter().all(|n| n.starts_with("AWS::") || ctx.sc.resource(n).is_none())
}

/// A control without Terraform settings: its CloudFormation settings are found in the
/// Terraform arguments of the resource deployed for it (a bucket policy's `policy`
/// document), matched by value, or the control says why a plan cannot show them.
fn from_resource_arguments(ctx: &Ctx, c: &ControlDef, out: &mut Vec<Scoped>) {
    let Some(cfn) = &c.cloudformation else { return };
    let resource = ctx.sc.resource(&cfn.resource);
    let Some((resource, tf)) = resource.and_then(|r| Some((r, r.terraform.as_ref()?))) else {
        let reason = if cfn.resource == values::DATA_KEY {
            format!(
                "the settings are on the customer managed key, which a plan links to {} only through \
                 another resource's key ARN, known only after apply",
                ctx.anchor_type
            )
        } else {
            format!("{} has no Terraform definition", cfn.resource)
        };
        let path = values::tf_address(ctx.sc, &cfn.resource).unwrap_or_else(|| cfn.resource.clone());
        out.push((String::new(), Scope::Every, Err(NotCheckable { path, reason })));
        return;
    };
    let scope = scope_of(ctx, resource);
    for setting in &cfn.settings {
        let found = argument_for(&tf.arguments, setting);
        let leaf = found.ok_or_else(|| NotCheckable {
            path: format!("{}.{}", tf.kind, setting.path),
            reason: format!(
                "no Terraform argument of {} carries {} (the definition sets it in CloudFormation only)",
                tf.kind, setting.path
            ),
        });
        out.push((tf.kind.clone(), scope.clone(), leaf));
    }
}

/// The Terraform argument holding a CloudFormation setting's value: the argument whose
/// definition value (inside `jsonencode` for documents) has the setting's value at the
/// rest of its path.
fn argument_for(arguments: &std::collections::BTreeMap<String, Value>, setting: &Setting) -> Option<Checked> {
    let segs = segments(&setting.path);
    let rest = segs.get(1..)?;
    arguments.iter().find_map(|(name, value)| {
        let (doc, json) = match values::reference(value) {
            Some(("jsonencode", inner)) => (inner, true),
            Some(_) => return None,
            None => (value, false),
        };
        let found = lookup(doc, rest)?;
        let check = setting.check_kind();
        (check != CheckKind::Equals || *found == setting.value).then_some(())?;
        let mut steps = vec![Step::Key(name.clone())];
        if json {
            steps.push(Step::Json);
        }
        for s in rest {
            match s {
                Segment::Key(k) => steps.push(Step::Key(k.clone())),
                Segment::Index(_) => steps.push(Step::Each),
                Segment::Select { .. } => return None,
            }
        }
        let value = (check != CheckKind::Exists).then(|| setting.value.clone());
        Some((steps, check, value, None))
    })
}

fn lookup<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, s| match s {
        Segment::Key(k) => v.get(k),
        Segment::Index(i) => v.get(i),
        Segment::Select { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_read_as_the_plan_nests_them() {
        let path = [Step::Key("rule".into()), Step::Each, Step::Key("sse".into()), Step::Each, Step::Key("a".into())];
        assert_eq!(path_text(&path), "rule[*].sse[*].a");
        assert_eq!(
            path_text(&[Step::Key("policy".into()), Step::Json, Step::Key("Statement".into())]),
            "policy(json).Statement"
        );
    }
}
