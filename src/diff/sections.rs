//! One comparison per kind of bundle content.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::Bundle;
use super::json::{self, FieldChange};

#[derive(Debug, Clone, Serialize, Default, utoipa::ToSchema)]
pub struct ControlsDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ControlChange>,
}

impl ControlsDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// A control present in both versions with different fields (its entry in
/// `controls.json` plus its Config rule parameters).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ControlChange {
    pub control_id: String,
    pub fields: Vec<FieldChange>,
}

/// Resources of one template file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TemplateDiff {
    pub file: String,
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<ResourceChange>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ResourceChange {
    /// CloudFormation logical id, or Terraform `type.name`.
    pub resource: String,
    /// Pointers relative to the resource.
    pub properties: Vec<FieldChange>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PersonaDiff {
    pub persona: String,
    pub actions_added: Vec<String>,
    pub actions_removed: Vec<String>,
    /// Statements of the persona's policy documents, by Sid.
    pub statements: Vec<StatementChange>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatementChange {
    pub sid: String,
    /// added, removed or changed
    pub change: &'static str,
    /// The artifact the statement is in (the later version's when it exists).
    pub document: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement: Option<Value>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleChange {
    pub rule: String,
    pub change: &'static str,
    pub lines_removed: Vec<String>,
    pub lines_added: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FrameworkChange {
    pub framework: String,
    pub before: Value,
    pub after: Value,
}

fn by_key<'a>(items: impl Iterator<Item = &'a Value>, key: &str) -> BTreeMap<String, Value> {
    items.filter_map(|v| Some((v[key].as_str()?.to_string(), v.clone()))).collect()
}

/// Keys added, keys removed, and the field changes of keys in both.
type Keyed = (Vec<String>, Vec<String>, Vec<(String, Vec<FieldChange>)>);

fn keyed_diff(a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) -> Keyed {
    let added = b.keys().filter(|k| !a.contains_key(*k)).cloned().collect();
    let removed = a.keys().filter(|k| !b.contains_key(*k)).cloned().collect();
    let changed = a
        .iter()
        .filter_map(|(k, va)| {
            let fields = json::diff(va, b.get(k)?);
            (!fields.is_empty()).then(|| (k.clone(), fields))
        })
        .collect();
    (added, removed, changed)
}

/// Each control's entry, with its Config rule parameters folded in (they carry
/// profile values such as the log retention period).
fn control_entries(bundle: &Bundle) -> BTreeMap<String, Value> {
    let Some(controls) = bundle.json("controls.json") else { return BTreeMap::new() };
    let mut entries = by_key(controls["controls"].as_array().into_iter().flatten(), "id");
    for rule in controls["config_rules"].as_array().into_iter().flatten() {
        if let Some(id) = rule["control_id"].as_str()
            && let Some(Value::Object(e)) = entries.get_mut(id)
        {
            e.insert("config_rule_parameters".into(), rule["input_parameters"].clone());
        }
    }
    entries
}

pub fn controls(a: &Bundle, b: &Bundle) -> ControlsDiff {
    let (added, removed, changed) = keyed_diff(&control_entries(a), &control_entries(b));
    ControlsDiff {
        added,
        removed,
        changed: changed.into_iter().map(|(control_id, fields)| ControlChange { control_id, fields }).collect(),
    }
}

/// Resources of a template file: CloudFormation `Resources`, Terraform `resource.<type>.<name>`.
fn resources(bundle: &Bundle, file: &str) -> Option<BTreeMap<String, Value>> {
    let text = bundle.text(file)?;
    if file.ends_with(".yaml") {
        let doc: Value = yaml_serde::from_str(&text).ok()?;
        return Some(doc["Resources"].as_object().map(|m| m.clone().into_iter().collect()).unwrap_or_default());
    }
    let doc: Value = hcl::from_str(&text).ok()?;
    let mut out = BTreeMap::new();
    for (kind, named) in doc["resource"].as_object().into_iter().flatten() {
        for (name, body) in named.as_object().into_iter().flatten() {
            out.insert(format!("{kind}.{name}"), body.clone());
        }
    }
    Some(out)
}

pub fn templates(a: &Bundle, b: &Bundle) -> Vec<TemplateDiff> {
    let files: BTreeSet<&String> = a
        .files
        .keys()
        .chain(b.files.keys())
        .filter(|f| (f.ends_with(".yaml") || f.ends_with(".tf")) && !f.starts_with('.'))
        .collect();
    files
        .into_iter()
        .filter_map(|file| {
            let ra = resources(a, file).unwrap_or_default();
            let rb = resources(b, file).unwrap_or_default();
            let (added, removed, changed) = keyed_diff(&ra, &rb);
            let changed: Vec<ResourceChange> =
                changed.into_iter().map(|(resource, properties)| ResourceChange { resource, properties }).collect();
            (!(added.is_empty() && removed.is_empty() && changed.is_empty())).then(|| TemplateDiff {
                file: file.clone(),
                added,
                removed,
                changed,
            })
        })
        .collect()
}

/// `iam-policy-administrator-2.json` → `administrator`.
fn persona_of(file: &str) -> Option<String> {
    let stem = file.strip_prefix("iam-policy-")?.strip_suffix(".json")?;
    let base = match stem.rsplit_once('-') {
        Some((base, n)) if n.chars().all(|c| c.is_ascii_digit()) => base,
        _ => stem,
    };
    Some(base.to_string())
}

/// Statements of the named documents, keyed by Sid (or by content when a statement has none).
fn statements<'a>(bundle: &Bundle, files: impl Iterator<Item = &'a String>) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for file in files {
        let Some(doc) = bundle.json(file) else { continue };
        for s in doc["Statement"].as_array().into_iter().flatten() {
            let sid = s["Sid"].as_str().map(String::from).unwrap_or_else(|| s.to_string());
            out.insert(sid, (file.clone(), s.clone()));
        }
    }
    out
}

fn statement_changes(
    a: &BTreeMap<String, (String, Value)>,
    b: &BTreeMap<String, (String, Value)>,
) -> Vec<StatementChange> {
    let mut out = Vec::new();
    for (sid, (doc, s)) in a {
        match b.get(sid) {
            None => out.push(StatementChange {
                sid: sid.clone(),
                change: "removed",
                document: doc.clone(),
                fields: vec![],
                statement: Some(s.clone()),
            }),
            Some((doc_b, sb)) => {
                let fields = json::diff(s, sb);
                if !fields.is_empty() {
                    out.push(StatementChange {
                        sid: sid.clone(),
                        change: "changed",
                        document: doc_b.clone(),
                        fields,
                        statement: None,
                    });
                }
            }
        }
    }
    for (sid, (doc, s)) in b.iter().filter(|(sid, _)| !a.contains_key(*sid)) {
        out.push(StatementChange {
            sid: sid.clone(),
            change: "added",
            document: doc.clone(),
            fields: vec![],
            statement: Some(s.clone()),
        });
    }
    out
}

fn persona_actions(bundle: &Bundle) -> BTreeMap<String, BTreeSet<String>> {
    let Some(model) = bundle.json("iam-model.json") else { return BTreeMap::new() };
    model["personas"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let actions = p["actions"].as_array()?.iter().filter_map(|a| a.as_str().map(String::from)).collect();
            Some((p["name"].as_str()?.to_string(), actions))
        })
        .collect()
}

pub fn iam(a: &Bundle, b: &Bundle) -> Vec<PersonaDiff> {
    let (pa, pb) = (persona_actions(a), persona_actions(b));
    let mut personas: BTreeSet<String> = pa.keys().chain(pb.keys()).cloned().collect();
    personas.extend(a.files.keys().chain(b.files.keys()).filter_map(|f| persona_of(f)));
    let empty = BTreeSet::new();
    personas
        .into_iter()
        .filter_map(|persona| {
            let (xa, xb) = (pa.get(&persona).unwrap_or(&empty), pb.get(&persona).unwrap_or(&empty));
            let docs = |bundle: &Bundle| {
                let names: Vec<String> =
                    bundle.files.keys().filter(|f| persona_of(f).as_deref() == Some(&persona)).cloned().collect();
                statements(bundle, names.iter())
            };
            let d = PersonaDiff {
                actions_added: xb.difference(xa).cloned().collect(),
                actions_removed: xa.difference(xb).cloned().collect(),
                statements: statement_changes(&docs(a), &docs(b)),
                persona,
            };
            (!(d.actions_added.is_empty() && d.actions_removed.is_empty() && d.statements.is_empty())).then_some(d)
        })
        .collect()
}

fn is_scp(file: &str) -> bool {
    file.ends_with(".json") && (file.starts_with("scp-") || file.starts_with("iam-guardrails"))
}

pub fn scp_statements(a: &Bundle, b: &Bundle) -> Vec<StatementChange> {
    statement_changes(
        &statements(a, a.files.keys().filter(|f| is_scp(f))),
        &statements(b, b.files.keys().filter(|f| is_scp(f))),
    )
}

/// Guard rules by name: each `rule NAME …` block up to the next rule or comment line.
fn guard(bundle: &Bundle) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in bundle.text("rules.guard").unwrap_or_default().lines() {
        if let Some(rest) = line.strip_prefix("rule ") {
            let name = rest.split_whitespace().next().unwrap_or_default().to_string();
            current = Some(name.clone());
            out.entry(name).or_default();
        } else if line.starts_with('#') || line.starts_with("let ") {
            current = None;
            continue;
        }
        if let Some(name) = &current
            && !line.trim().is_empty()
        {
            out.entry(name.clone()).or_default().push(line.to_string());
        }
    }
    out
}

pub fn guard_rules(a: &Bundle, b: &Bundle) -> Vec<RuleChange> {
    let (ga, gb) = (guard(a), guard(b));
    let names: BTreeSet<&String> = ga.keys().chain(gb.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let (la, lb) = (ga.get(name), gb.get(name));
            let change = match (la, lb) {
                (Some(x), Some(y)) if x == y => return None,
                (Some(_), Some(_)) => "changed",
                (None, _) => "added",
                (_, None) => "removed",
            };
            let (la, lb) = (la.cloned().unwrap_or_default(), lb.cloned().unwrap_or_default());
            Some(RuleChange {
                rule: name.clone(),
                change,
                lines_removed: la.iter().filter(|l| !lb.contains(l)).cloned().collect(),
                lines_added: lb.iter().filter(|l| !la.contains(l)).cloned().collect(),
            })
        })
        .collect()
}

pub fn framework_coverage(a: &Bundle, b: &Bundle) -> Vec<FrameworkChange> {
    let cov = |bundle: &Bundle| -> BTreeMap<String, Value> {
        bundle
            .json("analysis.json")
            .and_then(|v| v["framework_coverage"].as_object().cloned())
            .map(|m| m.into_iter().collect())
            .unwrap_or_default()
    };
    let (ca, cb) = (cov(a), cov(b));
    let names: BTreeSet<&String> = ca.keys().chain(cb.keys()).collect();
    names
        .into_iter()
        .filter_map(|f| {
            let (before, after) =
                (ca.get(f).cloned().unwrap_or(Value::Null), cb.get(f).cloned().unwrap_or(Value::Null));
            (before != after).then(|| FrameworkChange { framework: f.clone(), before, after })
        })
        .collect()
}
