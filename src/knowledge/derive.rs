//! Controls derived from CloudFormation resource schemas, for services the team has
//! not reviewed. The reviewed rule library (`knowledge/semantics.yaml`) recognises
//! security-relevant properties; each match on a primary resource type becomes one
//! control per (resource, rule) carrying the template setting, the Terraform argument
//! from the provider schema, the Config rules and Security Hub controls of the type and
//! an SCP where a condition key of the service enforces the setting. Every match that
//! does not become a control is listed with its reason; a service without
//! CloudFormation types gets its detective controls and says what cannot be enforced.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::model::*;
use super::primary::{self, Candidate, Primary, short, squash};
use super::semantics::{PropertyKind, SemanticLibrary, SemanticRule};
use crate::catalog::{Catalog, CfnResourceType, ServiceIdentity};

/// A property of a resource schema that a rule recognises.
struct Match<'a> {
    /// `Name` or `Parent.Name`.
    path: String,
    rule: &'a SemanticRule,
    /// Why it cannot be a control, when it cannot.
    blocked: Option<String>,
    /// Required members beside it that the rule fills (path, value).
    fills: Vec<(String, Value)>,
    /// Required plain members beside it that no rule recognises: the user gives them as
    /// parameters (`VpcSettings.VpcId` beside `VpcSettings.SubnetIds`).
    asks: Vec<String>,
}

/// The service's derived control set (never `None`: a service without anything
/// derivable still gets its facts, detective controls and the reasons).
pub fn derive(catalog: &Catalog, library: &SemanticLibrary, service: &ServiceIdentity) -> ServiceControls {
    let mut out = ServiceControls::empty();
    out.service = service.id.clone();
    out.derived = true;
    let mut derivation = Derivation::default();
    let types: Vec<(&String, &CfnResourceType)> = catalog.resource_types_of(service).collect();
    let matches: Vec<(&String, &CfnResourceType, Vec<Match>)> =
        types.iter().map(|(t, s)| (*t, *s, matches(library, s))).collect();
    let candidates: Vec<Candidate> = matches
        .iter()
        .map(|(t, s, m)| Candidate {
            name: t.as_str(),
            schema: s,
            settings: m.iter().filter(|m| !m.path.contains('.')).map(|m| m.path.as_str()).collect(),
            has_security_setting: m.iter().any(|m| m.rule.kind != PropertyKind::Tags),
            launchable: launchable(s),
        })
        .collect();
    let Primary { primary, secondary } = primary::primary_types(catalog, service, &candidates);
    derivation.primary_types = primary.iter().map(|t| t.to_string()).collect();
    derivation.secondary_types = secondary;
    let mut claimed_rules = BTreeSet::new();
    let mut tagged: Vec<(&str, String, &Match)> = Vec::new();
    for (type_name, schema, found) in &matches {
        if !primary.contains(&type_name.as_str()) {
            let why = match derivation.secondary_types.iter().find(|s| &s.resource_type == *type_name) {
                Some(s) => format!("not a primary resource type of the service: {}", s.basis),
                None => {
                    "not a primary resource type of the service: deploy and review it with the type that uses it".into()
                }
            };
            for m in found {
                derivation.not_derived.push(not_derived(type_name, m, why.clone()));
            }
            continue;
        }
        if schema.required.is_empty() && found.is_empty() {
            derivation
                .limits
                .push(format!("{type_name} is not deployed: it has nothing a template must or should set"));
            continue;
        }
        let listed = library.not_deployable.get(type_name.as_str());
        let Some((resource, params)) =
            deployable(catalog, service, type_name, schema, &out).filter(|_| listed.is_none())
        else {
            let why = format!(
                "the template cannot deploy {type_name}: {}",
                listed.cloned().unwrap_or_else(|| undeployable_reason(schema))
            );
            derivation.limits.push(why.clone());
            for m in found {
                derivation.not_derived.push(not_derived(type_name, m, why.clone()));
            }
            continue;
        };
        let rid = resource.id.clone();
        add_parameters(&mut out, params);
        derivation.deployed_types.push(type_name.to_string());
        out.resources.push(resource);
        let mut by_rule: BTreeMap<&str, Vec<&Match>> = BTreeMap::new();
        for m in found {
            if let Some(why) = &m.blocked {
                derivation.not_derived.push(not_derived(type_name, m, why.clone()));
            } else {
                by_rule.entry(m.rule.id.as_str()).or_default().push(m);
            }
        }
        for rule in &library.rules {
            let Some(ms) = by_rule.get(rule.id.as_str()) else { continue };
            if rule.kind == PropertyKind::Tags {
                // One classification control for every deployed type, not a copy per type.
                tagged.extend(ms.iter().map(|m| (type_name.as_str(), rid.clone(), *m)));
                continue;
            }
            let control = control(catalog, service, &mut out, type_name, &rid, rule, ms, &mut claimed_rules);
            out.controls.push(control);
        }
    }
    wire_references(catalog, &mut out, &mut derivation);
    if let Some(control) = tag_control(catalog, service, &mut out, &tagged, &mut claimed_rules) {
        out.controls.push(control);
    }
    if out.resources.is_empty() {
        fallback_resource(catalog, library, service, &types, &mut out, &mut derivation);
    }
    detective_only(catalog, service, &mut out, &claimed_rules);
    if types.is_empty() {
        derivation.limits.push(format!(
            "No CloudFormation resource type belongs to '{}', so nothing can be enforced at deployment: there is no \
             template setting to make and no Guard rule to check. Enforce access through the IAM model and SCPs, \
             and watch the service with the detective controls listed here.",
            service.id
        ));
    } else if out.controls.iter().all(|c| c.cloudformation.is_none()) {
        derivation.limits.push(format!(
            "None of the {} CloudFormation types of '{}' has a property the semantic library recognises as a \
             security setting (encryption, public exposure, network placement, logging, deletion protection, backups, \
             versioning or a classification tag), so no proactive control can be derived.",
            types.len(),
            service.id
        ));
    }
    out.derivation = Some(derivation);
    out
}

fn not_derived(type_name: &str, m: &Match, reason: String) -> NotDerived {
    NotDerived { resource_type: type_name.to_string(), property: m.path.clone(), rule: m.rule.id.clone(), reason }
}

/// Top-level properties and those one level down in an object, with the rule recognising each.
fn matches<'a>(library: &'a SemanticLibrary, schema: &CfnResourceType) -> Vec<Match<'a>> {
    let read_only: BTreeSet<String> =
        schema.read_only.iter().filter_map(|p| p.strip_prefix("/properties/")).map(|p| p.replace('/', ".")).collect();
    let mut out = Vec::new();
    for (name, node) in &schema.properties {
        if let Some(rule) = rule_for(library, name, node, schema) {
            let blocked = read_only.contains(name).then(|| "read-only: the service sets it, a template cannot".into());
            out.push(Match { path: name.clone(), rule, blocked, fills: Vec::new(), asks: Vec::new() });
        }
        let Some(object) = object_node(schema, node) else { continue };
        let required: Vec<&str> =
            object["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        for (child, child_node) in object["properties"].as_object().into_iter().flatten() {
            let path = format!("{name}.{child}");
            let Some(rule) = rule_for(library, &path, child_node, schema) else { continue };
            let mut fills = Vec::new();
            let mut asks = Vec::new();
            let mut others = Vec::new();
            // A required object is deployed with its required members filled (`deployable`).
            let parent_required = schema.required.iter().any(|r| r == name);
            for other in required.iter().copied().filter(|r| r != child) {
                let other_node = &object["properties"][other];
                let other_path = format!("{name}.{other}");
                match rule.fills.value_for(other, resolve(schema, other_node)) {
                    Some(v) => fills.push((other_path, v)),
                    None if parent_required && fillable_node(schema, other_node, 1) => {}
                    None if fillable_node(schema, other_node, 0)
                        && rule_for(library, &other_path, other_node, schema).is_none() =>
                    {
                        asks.push(other_path)
                    }
                    None => others.push(other),
                }
            }
            let blocked = if read_only.contains(&path) || read_only.contains(name) {
                Some("read-only: the service sets it, a template cannot".to_string())
            } else if has_alternatives(object) {
                Some(format!("{name} requires a choice between alternative members (oneOf/anyOf)"))
            } else if !others.is_empty() {
                Some(format!("{name} also needs {} , which no profile fact supplies", others.join(", ")))
            } else {
                None
            };
            out.push(Match { path, rule, blocked, fills, asks });
        }
    }
    out
}

/// The required members beside a match that the user gives, each as its own parameter.
fn asked_values(
    catalog: &Catalog,
    sc: &mut ServiceControls,
    type_name: &str,
    resource_id: &str,
    m: &Match,
) -> Vec<(String, Value)> {
    let Some(schema) = catalog.resource_type(type_name) else { return Vec::new() };
    let mut params = Vec::new();
    let mut out = Vec::new();
    for ask in &m.asks {
        if let Some(node) = node_at(schema, ask) {
            out.push((ask.clone(), fill(schema, resource_id, &ask.replace('.', ""), node, type_name, &mut params)));
        }
    }
    add_parameters(sc, params);
    out
}

/// The schema node at `Name` or `Parent.Name`.
fn node_at<'a>(schema: &'a CfnResourceType, path: &str) -> Option<&'a Value> {
    let (parent, child) = path.split_once('.')?;
    let object = object_node(schema, schema.properties.get(parent)?)?;
    object["properties"].get(child)
}

/// The object a property holds (inline or through a definition), if it is one.
fn object_node<'a>(schema: &'a CfnResourceType, node: &'a Value) -> Option<&'a Value> {
    if node["properties"].is_object() {
        return Some(node);
    }
    let def = schema.definitions.get(node["ref"].as_str()?)?;
    def["properties"].is_object().then_some(def)
}

fn rule_for<'a>(
    library: &'a SemanticLibrary,
    path: &str,
    node: &Value,
    schema: &CfnResourceType,
) -> Option<&'a SemanticRule> {
    // Only the resource's own tag list carries its classification (not a nested CdcSpecification.Tags).
    library.rules.iter().find(|r| {
        r.matches_path(path) && kind_fits(r, node, schema) && !(r.kind == PropertyKind::Tags && path.contains('.'))
    })
}

/// A list of text, its items given inline or through a definition (`items: {ref: SubnetId}`).
fn string_list(schema: &CfnResourceType, node: &Value) -> bool {
    node["type"] == "array" && resolve(schema, &node["items"])["type"] == "string"
}

/// A schema node, through its definition when it is a `ref` to one (`ScanOnPush: {ref: ScanOnPush}`).
fn resolve<'a>(schema: &'a CfnResourceType, node: &'a Value) -> &'a Value {
    let mut node = node;
    for _ in 0..4 {
        match node["ref"].as_str().and_then(|r| schema.definitions.get(r)) {
            Some(def) => node = def,
            None => break,
        }
    }
    node
}

fn kind_fits(rule: &SemanticRule, node: &Value, schema: &CfnResourceType) -> bool {
    let node = resolve(schema, node);
    let t = node["type"].as_str();
    match rule.kind {
        PropertyKind::Boolean => t == Some("boolean"),
        PropertyKind::String => t == Some("string"),
        PropertyKind::Integer => matches!(t, Some("integer") | Some("number")),
        PropertyKind::Array => string_list(schema, node),
        PropertyKind::Enum => node["enum"].as_array().is_some_and(|e| e.contains(&rule.value)),
        PropertyKind::Tags => {
            let item = node["items"]["ref"].as_str().and_then(|r| schema.definitions.get(r));
            let only_key_value =
                |d: &Value| d["required"].as_array().is_none_or(|r| r.iter().all(|k| k == "Key" || k == "Value"));
            t == Some("array")
                && item.is_some_and(|d| {
                    d["properties"]["Key"].is_object() && d["properties"]["Value"].is_object() && only_key_value(d)
                })
        }
    }
}

fn fillable(schema: &CfnResourceType, name: &str) -> bool {
    schema.properties.get(name).is_some_and(|n| fillable_node(schema, n, 1))
}

/// Scalars, string lists, and (`depth` levels down) objects whose required members are fillable.
fn fillable_node(schema: &CfnResourceType, n: &Value, depth: u8) -> bool {
    // A `$ref` to a scalar definition (`BackupVaultName: {ref: BackupVaultNamePattern}`) is that scalar.
    let n = resolve(schema, n);
    if n["enum"].as_array().is_some_and(|e| !e.is_empty())
        || matches!(n["type"].as_str(), Some("string" | "integer" | "number" | "boolean"))
        || string_list(schema, n)
    {
        return true;
    }
    if n["type"] == "array" && depth > 0 {
        return n["items"].is_object() && fillable_node(schema, &n["items"], depth);
    }
    let Some(object) = (depth > 0).then(|| object_node(schema, n)).flatten() else { return false };
    if has_alternatives(object) {
        return false;
    }
    let required: Vec<&str> = object["required"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    !required.is_empty()
        && required.iter().all(|r| object["properties"].get(*r).is_some_and(|c| fillable_node(schema, c, depth - 1)))
}

/// The value of a required property: first allowed value, `false`, a parameter, or an
/// object of its required members filled the same way.
fn fill(
    schema: &CfnResourceType,
    id: &str,
    path: &str,
    node: &Value,
    type_name: &str,
    params: &mut Vec<Parameter>,
) -> Value {
    let node = resolve(schema, node);
    if let Some(allowed) = node["enum"].as_array().filter(|e| e.len() > 1 && e.iter().all(Value::is_string)) {
        let param = format!("{id}{path}");
        let values: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        // A choice the user makes (a language, an engine): no default, so nobody deploys the
        // schema's first value by accident; the allowed values are enforced in both templates.
        params.push(Parameter {
            name: param.clone(),
            kind: "String".into(),
            description: format!("{path} of the {type_name}."),
            allowed_values: values.iter().map(|v| v.to_string()).collect(),
            constraint: Some(format!("{path} must be one of the values the {type_name} schema allows.")),
            ..Parameter::default()
        });
        return json!({ "Ref": param });
    }
    if let Some(first) = node["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    if node["type"] == "boolean" {
        return json!(false);
    }
    if node["type"] == "array" && !string_list(schema, node) {
        // as many elements as the schema's minimum (at least one), their required members
        // filled the same way, each from its own parameters
        let n = node["min_items"].as_u64().unwrap_or(1).max(1);
        let element = |i: u64| if i == 1 { path.to_string() } else { format!("{path}{i}") };
        return Value::Array(
            (1..=n).map(|i| fill(schema, id, &element(i), &node["items"], type_name, params)).collect(),
        );
    }
    if let Some(object) = object_node(schema, node).filter(|_| node["type"].as_str().is_none_or(|t| t == "object")) {
        let mut out = serde_json::Map::new();
        for r in object["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let child = &object["properties"][r];
            out.insert(r.to_string(), fill(schema, id, &format!("{path}{r}"), child, type_name, params));
        }
        return Value::Object(out);
    }
    let kind = match node["type"].as_str() {
        Some("integer" | "number") => "Number",
        Some("array") => "CommaDelimitedList",
        _ => "String",
    };
    let param = format!("{id}{path}");
    params.push(Parameter {
        name: param.clone(),
        kind: kind.into(),
        description: format!("{path} of the {type_name}."),
        default: None,
        ..Parameter::default()
    });
    json!({ "Ref": param })
}

fn undeployable_reason(schema: &CfnResourceType) -> String {
    if schema.lifecycle.as_deref() == Some("shutdown") {
        return "AWS has shut its service down".into();
    }
    if schema.combinators.is_some() {
        return "its schema requires a choice between alternative properties (oneOf/anyOf) that no profile fact makes"
            .into();
    }
    let hard: Vec<&str> = schema.required.iter().filter(|r| !fillable(schema, r)).map(String::as_str).collect();
    format!(
        "its required properties {} are not plain values (text, number, list of text) a parameter can give",
        hard.join(", ")
    )
}

/// A resource whose required properties are scalars or string lists, filled from
/// parameters (or the first allowed value for enums).
fn deployable(
    catalog: &Catalog,
    service: &ServiceIdentity,
    type_name: &str,
    schema: &CfnResourceType,
    sc: &ServiceControls,
) -> Option<(ResourceDef, Vec<Parameter>)> {
    if !launchable(schema) {
        return None;
    }
    let id = resource_id(type_name, sc);
    let tf = terraform_type(catalog, service, type_name);
    let tf_schema = tf.as_deref().and_then(|t| catalog.terraform_resource(t));
    let mut properties = BTreeMap::new();
    let mut arguments = BTreeMap::new();
    let mut params = Vec::new();
    for name in &schema.required {
        if !fillable(schema, name) {
            return None;
        }
        let node = &schema.properties[name];
        let value = fill(schema, &id, name, node, type_name, &mut params);
        if let Some(arg) = tf_schema
            .and_then(|s| tf_name(s, &[name.as_str()]))
            .filter(|_| !(value.is_object() || value.is_array()) || value.get("Ref").is_some())
        {
            arguments.insert(arg.join("."), terraform_value(&value));
        }
        properties.insert(name.clone(), value);
    }
    let terraform = tf.map(|kind| TerraformResourceDef { kind, arguments });
    Some((
        ResourceDef { id, kind: type_name.to_string(), with_control: None, required_by: None, properties, terraform },
        params,
    ))
}

/// Template values become Terraform values (`Ref` to a parameter becomes `var`).
fn terraform_value(v: &Value) -> Value {
    match v.get("Ref").and_then(Value::as_str) {
        Some(name) => json!({ "var": name }),
        None => v.clone(),
    }
}

/// `ApiCache`, or `OpenSearchServiceDomain` when another resource already took `Domain`.
fn resource_id(type_name: &str, sc: &ServiceControls) -> String {
    let name = short(type_name).to_string();
    if sc.resource(&name).is_none() {
        return name;
    }
    type_name.trim_start_matches("AWS::").replace("::", "")
}

/// The Terraform resource type for a CloudFormation type: same name (namespace + type)
/// among the provider's types, else among the service's linked types one ending in the type name.
fn terraform_type(catalog: &Catalog, service: &ServiceIdentity, type_name: &str) -> Option<String> {
    let full = squash(&type_name.trim_start_matches("AWS::").replace("::", ""));
    let name = squash(short(type_name));
    let linked: Vec<&String> = catalog.terraform_resources_of(service).collect();
    let exact = linked.iter().find(|t| squash(t.trim_start_matches("aws_")) == full);
    let exact = exact.map(|t| t.to_string()).or_else(|| {
        let candidate = format!("aws_{}", snake_case(&type_name.trim_start_matches("AWS::").replace("::", "")));
        catalog.terraform_resource(&candidate).map(|_| candidate)
    });
    exact
        .or_else(|| linked.iter().filter(|t| squash(t).ends_with(&name)).min_by_key(|t| t.len()).map(|t| t.to_string()))
}

/// The Terraform path of a CloudFormation path, when the provider schema has it.
fn tf_name(schema: &crate::catalog::TerraformBlock, path: &[&str]) -> Option<Vec<String>> {
    let snake: Vec<String> = path.iter().map(|p| snake_case(p)).collect();
    let refs: Vec<&str> = snake.iter().map(String::as_str).collect();
    schema.has_path(&refs).then_some(snake)
}

fn add_parameters(sc: &mut ServiceControls, params: Vec<Parameter>) {
    for p in params {
        if !sc.parameters.iter().any(|q| q.name == p.name) {
            sc.parameters.push(p);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn control(
    catalog: &Catalog,
    service: &ServiceIdentity,
    sc: &mut ServiceControls,
    type_name: &str,
    resource_id: &str,
    rule: &SemanticRule,
    found: &[&Match],
    claimed_rules: &mut BTreeSet<String>,
) -> ControlDef {
    let mut settings = Vec::new();
    let mut tf_settings = Vec::new();
    let tf_kind = sc.resource(resource_id).and_then(|r| r.terraform.as_ref()).map(|t| t.kind.clone());
    let tf_schema = tf_kind.as_deref().and_then(|k| catalog.terraform_resource(k));
    for m in found {
        let (path, value) = setting_for(sc, rule, &m.path);
        let segments: Vec<&str> = m.path.split('.').collect();
        if let Some(tf_path) = tf_schema.and_then(|s| tf_name(s, &segments)) {
            let tf_value = if rule.kind == PropertyKind::Tags {
                json!({ "data-classification": { "var": "DataClassification" } })
            } else {
                terraform_value(&value)
            };
            tf_settings.push(Setting { path: tf_path.join("."), value: tf_value, check: None });
        }
        settings.push(Setting { path, value, check: rule.check });
        let asked = asked_values(catalog, sc, type_name, resource_id, m);
        for (path, value) in m.fills.iter().chain(&asked) {
            let segments: Vec<&str> = path.split('.').collect();
            if let Some(tf_path) = tf_schema.and_then(|s| tf_name(s, &segments)) {
                tf_settings.push(Setting { path: tf_path.join("."), value: value.clone(), check: None });
            }
            settings.push(Setting { path: path.clone(), value: value.clone(), check: None });
        }
    }
    let paths: Vec<&str> = found.iter().map(|m| m.path.as_str()).collect();
    let config_type = catalog.config_resource_type(type_name).unwrap_or(type_name).to_string();
    let detective = detective_rule(catalog, service, rule, &config_type);
    if let Some(d) = &detective {
        claimed_rules.insert(d.config_rule.clone());
    }
    let (security_hub, prowler) = security_hub_for(catalog, service, rule, type_name);
    let n = sc.controls.len() + 1;
    ControlDef {
        id: format!("{}-D{n:02}", service.id.to_ascii_uppercase()),
        title: format!("{}: {}", short(type_name), rule.title),
        rationale: format!(
            "{} Derived from the {type_name} schema: {} ({} rule of knowledge/semantics.yaml).",
            rule.rationale,
            paths.join(", "),
            rule.id
        ),
        category: rule.category,
        stride: rule.stride.clone(),
        requires: rule.requires.clone(),
        priority: rule.priority,
        escalates_on: rule.escalates_on.clone(),
        cloudformation: Some(CfnPart { resource: resource_id.to_string(), settings, also: Vec::new() }),
        terraform: if tf_settings.is_empty() {
            Vec::new()
        } else {
            vec![TerraformPart { resource: None, link: None, settings: tf_settings }]
        },
        detective,
        security_hub,
        checkov: Vec::new(),
        prowler,
        preventive: preventive(catalog, service, rule, &paths),
        responsive: None,
        not_expressible: None,
        advisor_model: None,
    }
}

/// The classification tag as one control over every deployed type that takes it. Its main
/// resource is one whose Config type the tag rule evaluates, when there is one.
fn tag_control(
    catalog: &Catalog,
    service: &ServiceIdentity,
    sc: &mut ServiceControls,
    tagged: &[(&str, String, &Match)],
    claimed_rules: &mut BTreeSet<String>,
) -> Option<ControlDef> {
    let rule = tagged.first()?.2.rule;
    let evaluated = |t: &str| {
        catalog
            .config_rule("REQUIRED_TAGS")
            .is_some_and(|r| r.resource_types.iter().any(|c| c == catalog.config_type_of(t)))
    };
    let main = tagged.iter().position(|(t, _, _)| evaluated(t)).unwrap_or(0);
    let (type_name, rid, m) = &tagged[main];
    let mut c = control(catalog, service, sc, type_name, rid, rule, &[*m], claimed_rules);
    let others: Vec<&(&str, String, &Match)> =
        tagged.iter().enumerate().filter(|(i, _)| *i != main).map(|(_, t)| t).collect();
    if others.is_empty() {
        return Some(c);
    }
    let types: Vec<&str> = std::iter::once(*type_name).chain(others.iter().map(|(t, _, _)| *t)).collect();
    c.title = format!("Every deployed resource: {}", rule.title);
    c.rationale = format!(
        "{} Derived from the Tags property of {} ({} rule of knowledge/semantics.yaml): one control, one setting per resource.",
        rule.rationale,
        types.join(", "),
        rule.id
    );
    if let Some(cfn) = c.cloudformation.as_mut() {
        cfn.also = others.iter().map(|(_, r, _)| r.clone()).collect();
    }
    Some(c)
}

/// The template path and value a rule gives a matched property.
fn setting_for(sc: &mut ServiceControls, rule: &SemanticRule, path: &str) -> (String, Value) {
    match (&rule.kind, rule.value.get("parameter").and_then(Value::as_str)) {
        (PropertyKind::Tags, _) => {
            let default = rule.value.get("data_classification").cloned().unwrap_or(json!("confidential"));
            add_parameters(
                sc,
                vec![Parameter {
                    name: "DataClassification".into(),
                    kind: "String".into(),
                    description: "Classification of the data the resources hold (tag data-classification).".into(),
                    default: Some(json!({ "data_classification": default })),
                    ..Parameter::default()
                }],
            );
            (format!("{path}[Key=data-classification].Value"), json!({ "Ref": "DataClassification" }))
        }
        (_, Some(param)) => {
            add_parameters(
                sc,
                vec![Parameter {
                    name: param.to_string(),
                    kind: "CommaDelimitedList".into(),
                    description: format!("The organisation's {} for the service's resources.", words(param)),
                    default: None,
                    ..Parameter::default()
                }],
            );
            (path.to_string(), json!({ "Ref": param }))
        }
        _ => (path.to_string(), rule.value.clone()),
    }
}

/// The first linked Config rule about the same setting that evaluates the type.
fn detective_rule(
    catalog: &Catalog,
    service: &ServiceIdentity,
    rule: &SemanticRule,
    config_type: &str,
) -> Option<Detective> {
    // Only rules whose reviewed scope evaluates the type: a wrong scope would never report
    // and fails the bundle's verification (pipeline/controls/verify.rs).
    let deployable =
        |r: &&crate::catalog::ConfigRule| r.reviewed() && r.resource_types.iter().any(|t| t == config_type);
    if rule.kind == PropertyKind::Tags {
        return catalog.config_rule("REQUIRED_TAGS").filter(deployable).map(|r| Detective {
            config_rule: r.id.clone(),
            parameters: BTreeMap::from([("tag1Key".into(), json!("data-classification"))]),
            resource: None,
            evaluates: None,
        });
    }
    catalog
        .config_rules_for_service(service)
        .into_iter()
        .find(|r| deployable(r) && rule.keyword_in(&r.id))
        .map(|r| Detective { config_rule: r.id.clone(), parameters: BTreeMap::new(), resource: None, evaluates: None })
}

/// Security Hub controls of the service whose prowler checks concern the setting on this type.
fn security_hub_for(
    catalog: &Catalog,
    service: &ServiceIdentity,
    rule: &SemanticRule,
    type_name: &str,
) -> (Vec<String>, Vec<String>) {
    let asff = squash(&format!("Aws{}", type_name.trim_start_matches("AWS::").replace("::", "")));
    let mut ids = Vec::new();
    let mut checks = BTreeSet::new();
    for c in catalog.security_hub_controls_for_service(service) {
        let on_type = c.resource_types.is_empty() || c.resource_types.iter().any(|r| squash(r) == asff);
        let about: Vec<&String> = c.prowler_checks.iter().filter(|p| rule.keyword_in(p)).collect();
        if on_type && !about.is_empty() && rule.kind != PropertyKind::Tags {
            ids.push(c.id.clone());
            checks.extend(about.into_iter().cloned());
        }
    }
    (ids, checks.into_iter().collect())
}

/// An SCP statement when the service has a condition key named like the property: a Bool
/// key denies requests that set the other value; a key for the KMS key denies requests without one.
fn preventive(catalog: &Catalog, service: &ServiceIdentity, rule: &SemanticRule, paths: &[&str]) -> Option<Value> {
    let iam = catalog.iam(&service.iam_prefix)?;
    for path in paths {
        let name = squash(path.rsplit('.').next().unwrap_or(path));
        let Some((key, kind)) = iam.condition_keys.iter().find(|(k, _)| {
            k.split_once(':').is_some_and(|(_, rest)| squash(rest) == name || squash(rest) == format!("{name}s"))
        }) else {
            continue;
        };
        let condition = match (rule.value.as_bool(), kind.as_str()) {
            (Some(v), "Bool") => json!({ "Bool": { key.clone(): (!v).to_string() } }),
            (None, "String" | "ARN") if rule.id == "kms-key" => json!({ "Null": { key.clone(): "true" } }),
            _ => continue,
        };
        let actions: Vec<String> = iam
            .actions
            .iter()
            .filter(|(_, a)| a.access_level == "Write" && a.condition_keys.iter().any(|k| k == key))
            .map(|(n, _)| format!("{}:{n}", service.iam_prefix))
            .take(10)
            .collect();
        if actions.is_empty() {
            continue;
        }
        return Some(json!({ "Effect": "Deny", "Action": actions, "Resource": "*", "Condition": condition }));
    }
    None
}

/// Config rules linked to the service that no derived control claims: detective-only controls.
fn detective_only(catalog: &Catalog, service: &ServiceIdentity, sc: &mut ServiceControls, claimed: &BTreeSet<String>) {
    for rule in catalog.config_rules_for_service(service) {
        if claimed.contains(&rule.id) {
            continue;
        }
        let n = sc.controls.len() + 1;
        let name = rule.name.clone().unwrap_or_else(|| rule.id.to_ascii_lowercase().replace('_', "-"));
        let prowler: Vec<String> = Vec::new();
        sc.controls.push(ControlDef {
            id: format!("{}-D{n:02}", service.id.to_ascii_uppercase()),
            title: format!("Detect with the AWS Config rule {name}"),
            rationale: format!(
                "AWS Config evaluates the service's resources with the managed rule {} and reports those out of \
                 compliance; it detects, it does not prevent.",
                rule.id
            ),
            category: Category::Governance,
            stride: vec![Stride::Tampering],
            requires: vec![],
            priority: Priority::Low,
            escalates_on: vec!["monitoring.alerting".into()],
            cloudformation: None,
            terraform: Vec::new(),
            detective: Some(Detective {
                config_rule: rule.id.clone(),
                parameters: BTreeMap::new(),
                resource: None,
                evaluates: None,
            }),
            security_hub: Vec::new(),
            checkov: Vec::new(),
            prowler,
            preventive: None,
            responsive: None,
            not_expressible: None,
            advisor_model: None,
        });
    }
}

/// `KMSKeyArn` → `kms_key_arn`, `SubnetIds` → `subnet_ids`.
fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// `PrivateSubnetIds` → `private subnet ids`.
fn words(s: &str) -> String {
    snake_case(s).replace('_', " ")
}

/// When no primary type can be deployed, the linked type with fewest required properties
/// that can, so every service with CloudFormation types gets a template to start from.
fn fallback_resource(
    catalog: &Catalog,
    library: &SemanticLibrary,
    service: &ServiceIdentity,
    types: &[(&String, &CfnResourceType)],
    out: &mut ServiceControls,
    derivation: &mut Derivation,
) {
    let candidate = types
        .iter()
        .filter(|(t, s)| launchable(s) && !library.not_deployable.contains_key(t.as_str()))
        .min_by_key(|(t, s)| (s.required.len(), t.len()));
    let Some((type_name, schema)) = candidate else { return };
    let Some((resource, params)) = deployable(catalog, service, type_name, schema, out) else { return };
    add_parameters(out, params);
    derivation.deployed_types.push(type_name.to_string());
    derivation.limits.push(format!(
        "The template deploys {type_name} as a starting point: it is not one of the service's primary types, or none of \
         those can be deployed from parameters alone."
    ));
    out.resources.push(resource);
}

fn has_alternatives(object: &Value) -> bool {
    ["one_of", "any_of", "all_of"].iter().any(|k| object.get(*k).is_some())
}

/// Whether a template can deploy the type from parameters alone.
fn launchable(schema: &CfnResourceType) -> bool {
    schema.combinators.is_none()
        && schema.lifecycle.as_deref() != Some("shutdown")
        && schema.required.iter().all(|r| fillable(schema, r))
}

/// Every property of the schema (top level and one level down) that a rule recognises,
/// as (path, rule id): what the derivation must turn into a control or list with a reason.
pub fn recognised(library: &SemanticLibrary, schema: &CfnResourceType) -> Vec<(String, String)> {
    matches(library, schema).into_iter().map(|m| (m.path, m.rule.id.clone())).collect()
}

/// Wires the deployed resources to each other: a property that names another deployed
/// resource of the service (memorydb `Cluster.ACLName` → the `ACL`, `SubnetGroupName` → the
/// `SubnetGroup`) gets `Ref` (the other's identifier) or `GetAtt …Arn` instead of a
/// parameter nobody would fill with the resource next to it. Never both ways (no cycles).
fn wire_references(catalog: &Catalog, sc: &mut ServiceControls, derivation: &mut Derivation) {
    let deployed: Vec<(String, String)> = sc.resources.iter().map(|r| (r.id.clone(), r.kind.clone())).collect();
    let mut edges: Vec<(String, String)> = Vec::new();
    let mut replaced = Vec::new();
    for (id, kind) in &deployed {
        let Some(schema) = catalog.resource_type(kind) else { continue };
        let read_only = read_only_top(schema);
        for (property, node) in &schema.properties {
            let node = resolve(schema, node);
            // `UserNames: [..]` names several: it gets a one-element list.
            let list = string_list(schema, node);
            if read_only.contains(property.as_str())
                || !(node["type"] == "string" || list)
                || primary::identifier(schema) == Some(property.as_str())
            {
                continue;
            }
            let singular = match (list, property.strip_suffix('s')) {
                (false, _) => property.as_str(),
                (true, Some(one)) => one,
                (true, None) => continue,
            };
            let Some((target, value)) = deployed
                .iter()
                .filter(|(other, _)| other != id)
                .find_map(|(other, other_kind)| reference_to(catalog, singular, other, other_kind))
            else {
                continue;
            };
            let value = if list { json!([value]) } else { value };
            let has_tf = |rid: &str| sc.resource(rid).is_some_and(|r| r.terraform.is_some());
            // main.tf must be able to name the target too, or it keeps the parameter
            if reaches(&edges, &target, id) || (has_tf(id) && !has_tf(&target)) {
                continue;
            }
            edges.push((id.clone(), target.clone()));
            let resource = sc.resources.iter_mut().find(|r| &r.id == id).expect("deployed");
            if let Some(old) = resource.properties.insert(property.clone(), value.clone()) {
                let mut names = Vec::new();
                crate::render::values::collect_refs(&old, &mut names);
                replaced.extend(names);
            }
            if let Some(tf) = resource.terraform.as_mut()
                && let Some(arg) = catalog.terraform_resource(&tf.kind).and_then(|s| tf_name(s, &[property.as_str()]))
            {
                tf.arguments.insert(arg.join("."), value.clone());
            }
            derivation.wiring.push(format!("{kind}.{property} refers to the deployed {target}"));
        }
    }
    let mut used = Vec::new();
    for r in &sc.resources {
        r.properties.values().for_each(|v| crate::render::values::collect_refs(v, &mut used));
    }
    for c in sc.controls.iter().filter_map(|c| c.cloudformation.as_ref()) {
        c.settings.iter().for_each(|s| crate::render::values::collect_refs(&s.value, &mut used));
    }
    sc.parameters.retain(|p| !replaced.contains(&p.name) || used.contains(&p.name));
}

/// The value that makes `property` name the deployed resource `other` (of type `kind`):
/// `Ref` when the property is that type's single identifier (what `Ref` returns),
/// `GetAtt [other, Arn]` when it is `<Type>Arn` and the type has a read-only ARN.
fn reference_to(catalog: &Catalog, property: &str, other: &str, kind: &str) -> Option<(String, Value)> {
    let schema = catalog.resource_type(kind)?;
    let type_short = short(kind);
    if let Some(ident) = primary::identifier(schema) {
        // `ACLName` is the ACL's identifier; `FirewallRuleGroupId` names a type identified by `Id`
        let own = ident == property && property.starts_with(type_short);
        let prefixed =
            ["Id", "Name", "Arn", "Identifier"].contains(&ident) && property == format!("{type_short}{ident}");
        if own || prefixed {
            return Some((other.to_string(), json!({ "Ref": other })));
        }
    }
    let arn = ["Arn", "ARN"].into_iter().find(|a| read_only_top(schema).contains(a))?;
    ["Arn", "ARN"]
        .iter()
        .any(|s| property == format!("{type_short}{s}"))
        .then(|| (other.to_string(), json!({ "GetAtt": [other, arn] })))
}

fn read_only_top(schema: &CfnResourceType) -> BTreeSet<&str> {
    schema.read_only.iter().filter_map(|p| p.strip_prefix("/properties/")).filter(|p| !p.contains('/')).collect()
}

/// Whether `from` already depends on `to` through the wired references.
fn reaches(edges: &[(String, String)], from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(n) = stack.pop() {
        if n == to {
            return true;
        }
        if seen.insert(n.clone()) {
            stack.extend(edges.iter().filter(|(a, _)| *a == n).map(|(_, b)| b.clone()));
        }
    }
    false
}
