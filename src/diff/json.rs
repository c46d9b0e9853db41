//! Field-by-field comparison of two JSON values, reported by JSON pointer.

use serde::Serialize;
use serde_json::Value;

/// One leaf that differs: `before` is null when the field was added, `after`
/// null when it was removed.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub pointer: String,
    pub before: Value,
    pub after: Value,
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Every differing leaf under `at`. Objects are compared key by key; arrays
/// element by element when both have the same length, otherwise as one value.
pub fn changes(before: &Value, after: &Value, at: &str, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let here = format!("{at}/{}", escape(k));
                changes(a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), &here, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                changes(x, y, &format!("{at}/{i}"), out);
            }
        }
        _ if before != after => {
            out.push(FieldChange { pointer: at.to_string(), before: before.clone(), after: after.clone() })
        }
        _ => {}
    }
}

pub fn diff(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    changes(before, after, "", &mut out);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn names_each_changed_leaf() {
        let a = json!({"a": {"b": 1, "c": [1, 2]}, "gone": true});
        let b = json!({"a": {"b": 2, "c": [1, 3]}, "new/key": "x"});
        let ptrs: Vec<String> = super::diff(&a, &b).into_iter().map(|c| c.pointer).collect();
        assert_eq!(ptrs, ["/a/b", "/a/c/1", "/gone", "/new~1key"]);
        assert!(super::diff(&a, &a).is_empty());
    }
}
