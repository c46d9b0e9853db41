//! Guard property paths as the rules state them (`Properties.A.B[*].C`,
//! `Tags[ Key == "x" ].Value`, `Condition.Bool."aws:SecureTransport"`): read into
//! segments and walked over a resource to find where a failing clause points (the
//! deepest node present, for its line) and whether an unresolved intrinsic stands
//! on the way (which makes the clause undetermined rather than failed).

use serde_json::Value;

use super::template::{escape, is_intrinsic};

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    All,
    Select(String, String),
}

/// Splits a Guard path into keys, `[*]` and `[ key == "value" ]` filters.
fn segments(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    let mut chars = path.chars().peekable();
    let mut key = String::new();
    let flush = |key: &mut String, out: &mut Vec<Seg>| {
        if !key.is_empty() {
            out.push(Seg::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut key, &mut out),
            '"' => {
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    key.push(c);
                }
            }
            '[' => {
                flush(&mut key, &mut out);
                let inner: String = chars.by_ref().take_while(|&c| c != ']').collect();
                out.push(bracket(inner.trim()));
            }
            c => key.push(c),
        }
    }
    flush(&mut key, &mut out);
    out
}

fn bracket(inner: &str) -> Seg {
    match inner.split_once("==") {
        Some((k, v)) => Seg::Select(k.trim().to_string(), v.trim().trim_matches('"').to_string()),
        None => Seg::All,
    }
}

/// What walking a path over a resource found.
#[derive(Debug, Clone, PartialEq)]
pub struct Walk {
    /// An unresolved intrinsic stands on the path (or is its value).
    pub intrinsic: bool,
    /// JSON pointer of the deepest node of the path that is present.
    pub pointer: String,
}

/// Walks `path` over `resource` (whose pointer is `base`).
pub fn walk(resource: &Value, path: &str, base: &str) -> Walk {
    let segs = segments(path);
    let mut state = State { intrinsic: false, deepest: (0, base.to_string()) };
    step(resource, &segs, 0, base, &mut state);
    Walk { intrinsic: state.intrinsic, pointer: state.deepest.1 }
}

struct State {
    intrinsic: bool,
    deepest: (usize, String),
}

fn step(value: &Value, segs: &[Seg], depth: usize, pointer: &str, state: &mut State) {
    if depth > state.deepest.0 {
        state.deepest = (depth, pointer.to_string());
    }
    if is_intrinsic(value) {
        state.intrinsic = true;
        return;
    }
    let Some((seg, rest)) = segs.split_first() else { return };
    match (seg, value) {
        (Seg::Key(k), Value::Object(m)) => {
            if let Some(v) = m.get(k) {
                step(v, rest, depth + 1, &format!("{pointer}/{}", escape(k)), state);
            }
        }
        (Seg::All, Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                step(v, rest, depth + 1, &format!("{pointer}/{i}"), state);
            }
        }
        (Seg::Select(k, want), Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                let have = &v[k.as_str()];
                if is_intrinsic(have) {
                    state.intrinsic = true;
                } else if have.as_str() == Some(want.as_str()) {
                    step(v, rest, depth + 1, &format!("{pointer}/{i}"), state);
                }
            }
        }
        // Guard reads a single value where a list is expected as a list of one.
        (Seg::All, v) => step(v, rest, depth + 1, pointer, state),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn segments_of_guard_paths() {
        assert_eq!(
            segments(r#"Properties.A[*].B."c:d"[ Key == "x" ].V"#),
            vec![
                Seg::Key("Properties".into()),
                Seg::Key("A".into()),
                Seg::All,
                Seg::Key("B".into()),
                Seg::Key("c:d".into()),
                Seg::Select("Key".into(), "x".into()),
                Seg::Key("V".into()),
            ]
        );
    }

    #[test]
    fn walks_to_the_deepest_node_and_sees_intrinsics() {
        let r = json!({"Properties": {"A": [{"B": {"Ref": "P"}}], "C": {"D": 1}}});
        let w = walk(&r, "Properties.A[*].B.X", "/Resources/R");
        assert_eq!(w, Walk { intrinsic: true, pointer: "/Resources/R/Properties/A/0/B".into() });
        let w = walk(&r, "Properties.C.E", "/Resources/R");
        assert_eq!(w, Walk { intrinsic: false, pointer: "/Resources/R/Properties/C".into() });
    }
}
