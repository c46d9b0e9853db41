//! Service control policies from the controls' preventive statements, packed into
//! as few documents as the 5,120-character SCP limit allows.

use serde_json::{Value, json};

use crate::knowledge::ControlDef;

pub const SCP_MAX_CHARS: usize = 5_120;

/// Statements with a Sid derived from the control id, in control order.
pub fn statements(controls: &[&ControlDef]) -> Vec<Value> {
    controls
        .iter()
        .filter_map(|c| {
            let mut statement = c.preventive.clone()?;
            statement.as_object_mut()?.insert("Sid".into(), json!(sid(&c.id)));
            Some(statement)
        })
        .collect()
}

/// Statement id of a control's SCP statement (`S3-04` → `SeccfgS304`; Sids are alphanumeric).
pub fn sid(control_id: &str) -> String {
    format!("Seccfg{}", control_id.chars().filter(char::is_ascii_alphanumeric).collect::<String>())
}

/// Greedy packing in order; a statement larger than the limit on its own is left in
/// a document of its own and fails the size check.
pub fn documents(statements: Vec<Value>) -> Vec<Value> {
    let mut docs: Vec<Vec<Value>> = Vec::new();
    for statement in statements {
        let fits = docs.last().is_some_and(|d| {
            let mut candidate = d.clone();
            candidate.push(statement.clone());
            size(&document(candidate)) <= SCP_MAX_CHARS
        });
        match docs.last_mut() {
            Some(d) if fits => d.push(statement),
            _ => docs.push(vec![statement]),
        }
    }
    docs.into_iter().map(document).collect()
}

fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// Size as AWS counts it for a minified document.
pub fn size(doc: &Value) -> usize {
    serde_json::to_string(doc).map_or(usize::MAX, |s| s.chars().count())
}
