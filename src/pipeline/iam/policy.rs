//! IAM policy documents, their size as AWS counts it, and splitting into documents that
//! fit a quota (managed policies 6,144 characters, SCPs 5,120, whitespace not counted).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

pub const MANAGED_POLICY_LIMIT: usize = 6_144;
pub const SCP_LIMIT: usize = 5_120;

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Statement {
    pub sid: String,
    pub effect: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<Value>,
    pub action: Vec<String>,
    pub resource: Vec<String>,
    /// Operator → key → value(s).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub condition: BTreeMap<String, BTreeMap<String, Value>>,
}

impl Statement {
    pub fn allow(sid: impl Into<String>, action: Vec<String>, resource: Vec<String>) -> Statement {
        Statement { sid: sid.into(), effect: "Allow", principal: None, action, resource, condition: BTreeMap::new() }
    }

    pub fn deny(sid: impl Into<String>, action: Vec<String>) -> Statement {
        Statement {
            sid: sid.into(),
            effect: "Deny",
            principal: None,
            action,
            resource: vec!["*".into()],
            condition: BTreeMap::new(),
        }
    }

    pub fn when(mut self, operator: &str, key: &str, value: Value) -> Statement {
        self.condition.entry(operator.into()).or_default().insert(key.into(), value);
        self
    }

    pub fn is_allow(&self) -> bool {
        self.effect == "Allow"
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    pub version: &'static str,
    pub statement: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument { version: "2012-10-17", statement }
    }

    /// Characters AWS counts against the quota: the JSON without whitespace.
    pub fn size(&self) -> usize {
        size_of(self)
    }

    pub fn actions(&self) -> impl Iterator<Item = &String> {
        self.statement.iter().flat_map(|s| s.action.iter())
    }
}

fn size_of(value: &impl Serialize) -> usize {
    serde_json::to_string(value).unwrap_or_default().chars().filter(|c| !c.is_whitespace()).count()
}

/// Chunks `items` so that `base` plus each chunk's cost (item length + quotes + comma) fits.
fn chunk(items: &[String], base: usize, limit: usize) -> Vec<Vec<String>> {
    let mut chunks: Vec<Vec<String>> = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut used = base;
    for item in items {
        let cost = item.len() + 3;
        if used + cost > limit && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
            used = base;
        }
        used += cost;
        current.push(item.clone());
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// Splits a statement that alone would not fit: by resources when the resource list is
/// the problem (e.g. `ec2:RunInstances` on 15 ARN formats), then by actions; Sids numbered.
/// Allow statements are a union, so the parts grant exactly what the whole did.
fn split_statement(statement: Statement, limit: usize) -> Vec<Statement> {
    if PolicyDocument::new(vec![statement.clone()]).size() <= limit {
        return vec![statement];
    }
    let bare = Statement { action: Vec::new(), resource: Vec::new(), ..statement.clone() };
    let bare_size = PolicyDocument::new(vec![bare]).size() + 8;
    let half = limit / 2;
    let resource_chunks = chunk(&statement.resource, bare_size, half);
    let mut parts = Vec::new();
    for resources in resource_chunks {
        let with_resources = Statement { action: Vec::new(), resource: resources, ..statement.clone() };
        let base = PolicyDocument::new(vec![with_resources.clone()]).size() + 4;
        for actions in chunk(&statement.action, base, limit) {
            parts.push(Statement { action: actions, ..with_resources.clone() });
        }
    }
    for (i, part) in parts.iter_mut().enumerate() {
        part.sid = format!("{}Part{}", statement.sid, i + 1);
    }
    parts
}

/// Packs statements, in order, into as few documents under `limit` as a first-fit pass gives.
pub fn split(statements: Vec<Statement>, limit: usize) -> Vec<PolicyDocument> {
    let empty = PolicyDocument::new(Vec::new()).size();
    let mut docs: Vec<PolicyDocument> = Vec::new();
    let mut used = Vec::new();
    for statement in statements.into_iter().flat_map(|s| split_statement(s, limit)) {
        let cost = size_of(&statement) + 1;
        match used.iter().position(|u| u + cost <= limit) {
            Some(i) => {
                used[i] += cost;
                docs[i].statement.push(statement);
            }
            None => {
                used.push(empty + cost);
                docs.push(PolicyDocument::new(vec![statement]));
            }
        }
    }
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_every_action_and_respects_the_limit() {
        let actions: Vec<String> = (0..400).map(|i| format!("ec2:DescribeSomethingLong{i}")).collect();
        let statement = Statement::allow("Big", actions.clone(), vec!["*".into()]);
        let docs = split(vec![statement], MANAGED_POLICY_LIMIT);
        assert!(docs.len() > 1);
        assert!(docs.iter().all(|d| d.size() <= MANAGED_POLICY_LIMIT), "{:?}", docs.iter().map(|d| d.size()));
        let back: Vec<String> = docs.iter().flat_map(|d| d.actions().cloned()).collect();
        assert_eq!(back, actions);
    }
}
