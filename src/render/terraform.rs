//! Terraform (HCL, written with hcl-rs) equivalent to the CloudFormation template:
//! the same resources and the same control settings, with companion resources
//! where the AWS provider splits a setting out of the main resource.

use std::collections::BTreeMap;

use hcl::expr::Expression;
use hcl::{Block, Body};
use serde_json::Value;

use super::detective::{ConfigRuleSpec, EventRuleSpec};
use super::values::{self, snake};
use crate::catalog::{Catalog, TerraformBlock};
use crate::knowledge::path::{Segment, segments};
use crate::knowledge::{ControlDef, Parameter, ResourceDef, ServiceControls, Setting};

/// A resource block being assembled: attributes and nested blocks (a block name may
/// repeat, as Terraform allows).
#[derive(Default)]
struct Node {
    attributes: BTreeMap<String, Expression>,
    blocks: Vec<(String, Node)>,
}

impl Node {
    /// Sets an attribute at `path`; leading segments name the first block of that name.
    fn set(&mut self, path: &[String], value: Expression) {
        match path {
            [] => {}
            [last] => {
                self.attributes.insert(last.clone(), value);
            }
            [first, rest @ ..] => self.block(first).set(rest, value),
        }
    }

    fn block(&mut self, name: &str) -> &mut Node {
        match self.blocks.iter().position(|(n, _)| n == name) {
            Some(i) => &mut self.blocks[i].1,
            None => {
                self.blocks.push((name.to_string(), Node::default()));
                &mut self.blocks.last_mut().expect("just pushed").1
            }
        }
    }

    /// Writes a definition value: maps and lists of maps become nested blocks where the
    /// provider schema says the name is a block, everything else an attribute.
    fn put(&mut self, sc: &ServiceControls, schema: Option<&TerraformBlock>, path: &[String], value: &Value) {
        let Some((last, parents)) = path.split_last() else { return };
        let mut node = self;
        let mut block_schema = schema;
        for p in parents {
            block_schema = block_schema.and_then(|b| b.blocks.get(p));
            node = node.block(p);
        }
        let child = block_schema.and_then(|b| b.blocks.get(last));
        match (child, value) {
            (Some(child), Value::Object(map)) if !values::is_reference(value) => {
                let inner = node.block(last);
                for (k, v) in map {
                    inner.put(sc, Some(child), std::slice::from_ref(k), v);
                }
            }
            (Some(child), Value::Array(items)) if items.iter().all(Value::is_object) => {
                for item in items {
                    let mut inner = Node::default();
                    for (k, v) in item.as_object().into_iter().flatten() {
                        inner.put(sc, Some(child), std::slice::from_ref(k), v);
                    }
                    node.blocks.push((last.clone(), inner));
                }
            }
            _ => node.set(std::slice::from_ref(last), values::terraform(sc, value)),
        }
    }

    fn into_block(self, ident: &str, labels: &[&str]) -> Block {
        let mut builder = Block::builder(ident);
        for l in labels {
            builder = builder.add_label(*l);
        }
        for (k, v) in self.attributes {
            builder = builder.add_attribute((k, v));
        }
        for (k, node) in self.blocks {
            builder = builder.add_block(node.into_block(&k, &[]));
        }
        builder.build()
    }

    /// Argument paths of the block, for checking against the provider schema.
    fn paths(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for k in self.attributes.keys() {
            let mut p = prefix.clone();
            p.push(k.clone());
            out.push(p);
        }
        for (k, node) in &self.blocks {
            prefix.push(k.clone());
            if node.attributes.is_empty() && node.blocks.is_empty() {
                out.push(prefix.clone());
            }
            node.paths(prefix, out);
            prefix.pop();
        }
    }
}

/// One generated Terraform resource: type, name and the argument paths it sets.
pub struct TfResource {
    pub kind: String,
    pub name: String,
    pub paths: Vec<Vec<String>>,
}

pub struct Module {
    pub text: String,
    pub resources: Vec<TfResource>,
}

fn path_of(setting: &Setting) -> Vec<String> {
    segments(&setting.path)
        .into_iter()
        .filter_map(|s| match s {
            Segment::Key(k) => Some(k),
            Segment::Index(_) | Segment::Select { .. } => None,
        })
        .collect()
}

/// The core module: resources, companions, the KMS key when used, variables, outputs.
pub fn core_module(
    catalog: &Catalog,
    sc: &ServiceControls,
    deployed: &[&ResourceDef],
    controls: &[&ControlDef],
) -> Module {
    let provider = catalog.terraform_provider_version();
    let main_id = deployed.iter().find(|r| r.with_control.is_none()).map(|r| r.id.clone());
    let mut nodes: BTreeMap<(String, String), Node> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    let mut raw_values: Vec<Value> = Vec::new();
    for resource in deployed {
        let Some(tf) = &resource.terraform else { continue };
        let key = (tf.kind.clone(), snake(&resource.id));
        let node = nodes.entry(key.clone()).or_default();
        order.push(key);
        let schema = catalog.terraform_resource(&tf.kind);
        for (arg, v) in &tf.arguments {
            node.put(sc, schema, std::slice::from_ref(arg), v);
        }
        // Arguments a control's setting replaces reference nothing (no variable for them).
        let mut replaced = std::collections::BTreeSet::new();
        for control in controls {
            // A control's Terraform settings follow its CloudFormation resource, or the
            // service's main resource when it configures no CloudFormation property.
            let applies = match &control.cloudformation {
                Some(cfn) => cfn.applies_to(&resource.id),
                None => main_id.as_deref() == Some(resource.id.as_str()),
            };
            if !applies {
                continue;
            }
            // On a further resource of a shared setting, only arguments its provider schema has.
            let shared = control.cloudformation.as_ref().is_some_and(|c| c.resource != resource.id);
            for part in &control.terraform {
                let key = match &part.resource {
                    Some(kind) => (kind.clone(), snake(&resource.id)),
                    None => (tf.kind.clone(), snake(&resource.id)),
                };
                if !order.contains(&key) {
                    order.push(key.clone());
                }
                let part_schema = catalog.terraform_resource(&key.0);
                let node = nodes.entry(key).or_default();
                if let Some(link) = &part.link {
                    let address = format!("{}.{}.id", tf.kind, snake(&resource.id));
                    node.set(std::slice::from_ref(link), reference(&address));
                }
                for setting in &part.settings {
                    let path = path_of(setting);
                    if shared
                        && !part_schema
                            .is_some_and(|s| s.has_path(&path.iter().map(String::as_str).collect::<Vec<_>>()))
                    {
                        continue;
                    }
                    node.put(sc, part_schema, &path, &setting.value);
                    raw_values.push(setting.value.clone());
                    if part.resource.is_none() {
                        replaced.insert(setting.path.clone());
                    }
                }
            }
        }
        raw_values.extend(tf.arguments.iter().filter(|(a, _)| !replaced.contains(*a)).map(|(_, v)| v.clone()));
    }
    let all = Value::Array(raw_values);
    let mut body = Body::builder().add_block(terraform_block(provider));
    body = body.add_block(provider_block());
    let mut referenced = Vec::new();
    values::collect_refs(&all, &mut referenced);
    body = body.add_block(variable_block("region", "string", "AWS region to deploy into.", None));
    for p in sc.parameters.iter().filter(|p| referenced.contains(&p.name)) {
        let kind = match p.kind.as_str() {
            "Number" => "number",
            "CommaDelimitedList" | "List<String>" => "list(string)",
            _ => "string",
        };
        body =
            body.add_block(constrained(variable_block(&snake(&p.name), kind, &p.description, p.default.as_ref()), p));
    }
    let mut resources = Vec::new();
    if values::uses_kms_key(&all) {
        let mut key = Node::default();
        key.set(
            &["description".into()],
            Expression::String("Customer managed key for the service's data (seccfg)".into()),
        );
        key.set(&["enable_key_rotation".into()], Expression::Bool(true));
        key.set(&["deletion_window_in_days".into()], Expression::Number(30.into()));
        let policy = serde_json::json!({ "jsonencode": values::data_key_policy(&sc.kms_key_principals) });
        key.set(&["policy".into()], values::terraform(sc, &policy));
        order.insert(0, ("aws_kms_key".into(), "data_key".into()));
        nodes.insert(("aws_kms_key".into(), "data_key".into()), key);
    }
    for (earlier, later) in super::cloudformation::required_before(sc, controls) {
        let address = |id: &str| {
            let r = deployed.iter().find(|r| r.id == id)?;
            Some(format!("{}.{}", r.terraform.as_ref()?.kind, snake(id)))
        };
        let (Some(earlier), Some(later)) = (address(&earlier), address(&later)) else { continue };
        let Some((kind, name)) = later.split_once('.') else { continue };
        if let Some(node) = nodes.get_mut(&(kind.to_string(), name.to_string())) {
            let mut list = match node.attributes.remove("depends_on") {
                Some(Expression::Array(items)) => items,
                _ => Vec::new(),
            };
            list.push(reference(&earlier));
            node.set(&["depends_on".into()], Expression::Array(list));
        }
    }
    for key in &order {
        let Some(node) = nodes.remove(key) else { continue };
        let mut paths = Vec::new();
        node.paths(&mut Vec::new(), &mut paths);
        resources.push(TfResource { kind: key.0.clone(), name: key.1.clone(), paths });
        body = body.add_block(node.into_block("resource", &[&key.0, &key.1]));
    }
    for r in
        resources.iter().filter(|r| deployed.iter().any(|d| d.terraform.as_ref().is_some_and(|t| t.kind == r.kind)))
    {
        let output = Block::builder("output")
            .add_label(format!("{}_id", r.name))
            .add_attribute(("value", reference(&format!("{}.{}.id", r.kind, r.name))))
            .build();
        body = body.add_block(output);
    }
    let mut text = hcl::format::to_string(&body.build()).unwrap_or_default();
    text.push_str(&data_sources(&text));
    Module { text, resources }
}

/// Declares the data sources that `${AWS::…}` substitutions refer to.
fn data_sources(text: &str) -> String {
    ["aws_partition", "aws_caller_identity", "aws_region"]
        .iter()
        .filter(|d| text.contains(&format!("data.{d}.current")))
        .map(|d| format!("\ndata \"{d}\" \"current\" {{}}\n"))
        .collect()
}

pub fn controls_module(config: &[ConfigRuleSpec], events: &[EventRuleSpec]) -> Module {
    let mut body = Body::builder();
    let mut resources = Vec::new();
    for rule in config {
        let name = snake(&rule.control_id.replace('-', "_")).to_ascii_lowercase();
        let mut node = Node::default();
        node.set(&["name".into()], Expression::String(rule.name.clone()));
        node.set(&["source".into(), "owner".into()], Expression::String("AWS".into()));
        node.set(&["source".into(), "source_identifier".into()], Expression::String(rule.source_identifier.clone()));
        if !rule.input_parameters.is_empty() {
            let json = serde_json::to_string(&rule.input_parameters).unwrap_or_default();
            node.set(&["input_parameters".into()], Expression::String(json));
        }
        if !rule.scope.is_empty() {
            let types = rule.scope.iter().map(|t| Expression::String(t.clone())).collect();
            node.set(&["scope".into(), "compliance_resource_types".into()], Expression::Array(types));
        }
        let mut paths = Vec::new();
        node.paths(&mut Vec::new(), &mut paths);
        resources.push(TfResource { kind: "aws_config_config_rule".into(), name: name.clone(), paths });
        body = body.add_block(node.into_block("resource", &["aws_config_config_rule", &name]));
    }
    if !events.is_empty() {
        body = body.add_block(variable_block(
            "alert_topic_arn",
            "string",
            "SNS topic that receives security alerts.",
            None,
        ));
    }
    for rule in events {
        let name = format!("{}_drift", rule.control_id.replace('-', "_").to_ascii_lowercase());
        let mut node = Node::default();
        node.set(&["name".into()], Expression::String(rule.name.clone()));
        node.set(&["event_pattern".into()], Expression::String(rule.event_pattern.to_string()));
        let mut target = Node::default();
        target.set(&["rule".into()], reference(&format!("aws_cloudwatch_event_rule.{name}.name")));
        target.set(&["arn".into()], reference("var.alert_topic_arn"));
        let mut paths = Vec::new();
        node.paths(&mut Vec::new(), &mut paths);
        resources.push(TfResource { kind: "aws_cloudwatch_event_rule".into(), name: name.clone(), paths });
        let mut tpaths = Vec::new();
        target.paths(&mut Vec::new(), &mut tpaths);
        resources.push(TfResource { kind: "aws_cloudwatch_event_target".into(), name: name.clone(), paths: tpaths });
        body = body.add_block(node.into_block("resource", &["aws_cloudwatch_event_rule", &name]));
        body = body.add_block(target.into_block("resource", &["aws_cloudwatch_event_target", &name]));
    }
    Module { text: hcl::format::to_string(&body.build()).unwrap_or_default(), resources }
}

fn reference(address: &str) -> Expression {
    values::traversal(address)
}

fn terraform_block(provider: &str) -> Block {
    let mut aws = hcl::Object::new();
    aws.insert(hcl::ObjectKey::from("source"), Expression::String("hashicorp/aws".into()));
    aws.insert(hcl::ObjectKey::from("version"), Expression::String(format!("= {provider}")));
    Block::builder("terraform")
        .add_attribute(("required_version", ">= 1.5.0"))
        .add_block(Block::builder("required_providers").add_attribute(("aws", Expression::Object(aws))).build())
        .build()
}

fn provider_block() -> Block {
    Block::builder("provider").add_label("aws").add_attribute(("region", reference("var.region"))).build()
}

/// A parameter's constraints as Terraform sees them: `sensitive` for NoEcho values, and one
/// `validation` block for the pattern, the refused values and the minimum together.
fn constrained(mut block: Block, p: &Parameter) -> Block {
    let var = format!("var.{}", snake(&p.name));
    let mut conditions = Vec::new();
    if let Some(pattern) = &p.allowed_pattern {
        let pattern = format!("^(?:{})$", pattern.trim_start_matches('^').trim_end_matches('$'));
        conditions.push(format!("can(regex({}, {var}))", hcl_string(&pattern)));
    }
    if !p.refused_values.is_empty() {
        let refused: Vec<String> = p.refused_values.iter().map(|v| hcl_string(&v.to_ascii_lowercase())).collect();
        conditions.push(format!("!contains([{}], lower({var}))", refused.join(", ")));
    }
    if let Some(min) = p.min_value {
        conditions.push(format!("{var} >= {min}"));
    }
    if !p.allowed_values.is_empty() {
        let allowed: Vec<String> = p.allowed_values.iter().map(|v| hcl_string(v)).collect();
        conditions.push(format!("contains([{}], {var})", allowed.join(", ")));
    }
    if p.no_echo {
        block.body = std::mem::take(&mut block.body)
            .into_iter()
            .chain([hcl::Structure::Attribute(hcl::Attribute::new("sensitive", true))])
            .collect();
    }
    if conditions.is_empty() {
        return block;
    }
    let source = format!("condition = {}", conditions.join(" && "));
    let Ok(parsed) = hcl::parse(&source) else { return block };
    let Some(condition) = parsed.attributes().next().map(|a| a.expr.clone()) else { return block };
    let message = p.constraint.clone().unwrap_or_else(|| format!("{} is outside the accepted values.", p.name));
    let validation = Block::builder("validation")
        .add_attribute(("condition", condition))
        .add_attribute(("error_message", message))
        .build();
    block.body = std::mem::take(&mut block.body).into_iter().chain([hcl::Structure::Block(validation)]).collect();
    block
}

/// A quoted HCL string literal (backslashes, quotes and interpolation starts escaped).
fn hcl_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"").replace("${", "$${"))
}

fn variable_block(name: &str, kind: &str, description: &str, default: Option<&Value>) -> Block {
    let mut b = Block::builder("variable")
        .add_label(name)
        .add_attribute(("type", reference(kind)))
        .add_attribute(("description", description));
    if let Some(d) = default {
        b = b.add_attribute(("default", values::terraform(&ServiceControls::empty(), d)));
    }
    b.build()
}

/// Aligns the `=` of consecutive one-line attributes at the same indentation, as
/// `terraform fmt` does, so the generated files pass `terraform fmt -check`.
pub fn align_equals(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::with_capacity(lines.len());
    let mut i = 0;
    while i < lines.len() {
        let Some((indent, _)) = attribute(lines[i]) else {
            out.push(lines[i].to_string());
            i += 1;
            continue;
        };
        let mut j = i;
        while j < lines.len() && attribute(lines[j]).is_some_and(|(ind, _)| ind == indent) {
            j += 1;
        }
        let width = lines[i..j].iter().filter_map(|l| attribute(l)).map(|(_, key)| key.len()).max().unwrap_or(0);
        for line in &lines[i..j] {
            let (ind, key) = attribute(line).expect("attribute line");
            let value = line[ind + key.len()..].trim_start().trim_start_matches('=').trim_start();
            out.push(format!("{}{key:<width$} = {value}", " ".repeat(ind)));
        }
        i = j;
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// `(indent, key)` of a single-line `key = value` attribute; multi-line values end a run.
fn attribute(line: &str) -> Option<(usize, &str)> {
    let indent = line.len() - line.trim_start().len();
    let rest = line.trim_start();
    let (key, value) = rest.split_once(" = ")?;
    let simple_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || "_-\"".contains(c));
    let opens_block =
        value.trim_end().ends_with('{') || value.trim_end().ends_with('[') || value.trim_end().ends_with('(');
    (simple_key && !opens_block).then_some((indent, key))
}
