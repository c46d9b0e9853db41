//! The reviewed library of property semantics (`knowledge/semantics.yaml`): rules that
//! recognise a security-relevant property in a resource schema by name and type and say
//! which value satisfies it. `derive.rs` applies them to every service without reviewed
//! controls.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::model::{Category, CheckKind, Priority, Stride};
use super::{KnowledgeError, requirements};

/// The type a matched property must have in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    Boolean,
    String,
    Integer,
    /// A list of strings (subnet or security group ids).
    Array,
    /// A string whose schema enum contains the value.
    Enum,
    /// A Key/Value tag list: the rule owns one entry.
    Tags,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticRule {
    pub id: String,
    pub title: String,
    pub rationale: String,
    pub category: Category,
    pub stride: Vec<Stride>,
    #[serde(default)]
    pub requires: Vec<String>,
    pub priority: Priority,
    #[serde(default)]
    pub escalates_on: Vec<String>,
    /// `Name` (top level or under any object) or `Parent.Name` (only under that parent).
    pub properties: Vec<String>,
    #[serde(rename = "type")]
    pub kind: PropertyKind,
    pub value: Value,
    #[serde(default)]
    pub check: Option<CheckKind>,
    /// Upper-case words that Config rule ids, prowler check ids and condition keys of the
    /// same setting contain.
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Required members of the same object the setting cannot go without, and the value
    /// that means the same setting (a customer managed key also needs `Type:
    /// CUSTOMER_MANAGED_KEY` or `UseAwsOwnedKey: false` beside it).
    #[serde(default)]
    pub fills: Fills,
}

/// How a rule fills the required members beside its property.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fills {
    /// An enum member takes the first of these values its schema allows.
    #[serde(default, rename = "enum")]
    pub enum_values: Vec<Value>,
    /// Boolean members, by name, that take `false`.
    #[serde(default)]
    pub off: Vec<String>,
}

impl Fills {
    /// The value that a required sibling `name` (schema `node`) takes with the rule's setting.
    pub fn value_for(&self, name: &str, node: &Value) -> Option<Value> {
        if node["type"] == "boolean" {
            return self.off.iter().any(|o| o == name).then_some(Value::Bool(false));
        }
        let allowed = node["enum"].as_array()?;
        self.enum_values.iter().find(|v| allowed.contains(v)).cloned()
    }
}

impl SemanticRule {
    /// Whether the property at `path` (`Name` or `Parent.Name`) is one this rule recognises.
    pub fn matches_path(&self, path: &str) -> bool {
        let name = path.rsplit('.').next().unwrap_or(path);
        self.properties.iter().any(|p| p == path || (!p.contains('.') && p == name))
    }

    /// Whether an identifier (Config rule id, prowler check, condition key) concerns this rule.
    pub fn keyword_in(&self, identifier: &str) -> bool {
        let upper = identifier.to_ascii_uppercase().replace(['-', ':'], "_");
        self.keywords.iter().any(|k| upper.contains(k.as_str()))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticLibrary {
    /// CloudFormation type → why a template cannot deploy it from parameters.
    #[serde(default)]
    pub not_deployable: std::collections::BTreeMap<String, String>,
    pub rules: Vec<SemanticRule>,
}

impl SemanticLibrary {
    /// Loads `knowledge/semantics.yaml`; a missing file is an empty library.
    pub fn load(path: &Path) -> Result<SemanticLibrary, KnowledgeError> {
        let fail = |message: String| KnowledgeError { path: path.to_path_buf(), message };
        let Ok(text) = std::fs::read_to_string(path) else {
            return Ok(SemanticLibrary::default());
        };
        let library: SemanticLibrary = yaml_serde::from_str(&text).map_err(|e| fail(e.to_string()))?;
        let mut ids = std::collections::BTreeSet::new();
        for rule in &library.rules {
            if !ids.insert(rule.id.as_str()) {
                return Err(fail(format!("rule id '{}' is not unique", rule.id)));
            }
            for key in rule.requires.iter().chain(&rule.escalates_on) {
                if !requirements::is_known(key) {
                    return Err(fail(format!("rule {}: unknown requirement key '{key}'", rule.id)));
                }
            }
            if rule.stride.is_empty() || rule.properties.is_empty() {
                return Err(fail(format!("rule {}: needs stride and properties", rule.id)));
            }
        }
        Ok(library)
    }

    /// The rule recognising the property at `path`, if any (first in file order).
    pub fn rule_for(&self, path: &str) -> Option<&SemanticRule> {
        self.rules.iter().find(|r| r.matches_path(path))
    }
}
