//! Template parsing for the gate: a CloudFormation template (JSON or YAML) becomes a
//! JSON value with every short-form intrinsic (`!Ref`, `!Sub`, `!GetAtt a.b`, …) in
//! its long form, as cfn-guard reads it, plus a map from JSON pointer to the line the
//! node starts on. YAML is read event by event (`yaml-rust2`) so every node keeps
//! its position; JSON is a subset of YAML and gets its lines the same way, after
//! `serde_json` has checked its syntax (so a JSON error reports JSON's line).

use std::collections::HashMap;

use serde_json::{Map, Number, Value};
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use super::GateError;

/// A parsed template and where each of its nodes starts.
#[derive(Debug, Clone)]
pub struct Template {
    pub value: Value,
    lines: HashMap<String, usize>,
}

impl Template {
    /// Parses JSON (when the text starts with `{`) or YAML; a document without a
    /// `Resources` mapping is refused.
    pub fn parse(text: &str) -> Result<Template, GateError> {
        if text.trim_start().starts_with('{') {
            serde_json::from_str::<Value>(text)
                .map_err(|e| GateError::Syntax { line: Some(e.line()), message: format!("invalid JSON: {e}") })?;
        }
        let mut builder = Builder::default();
        Parser::new_from_str(text).load(&mut builder, false).map_err(|e| GateError::Syntax {
            line: Some(e.marker().line()),
            message: format!("invalid YAML: {}", e.info()),
        })?;
        if let Some((line, message)) = builder.error {
            return Err(GateError::Syntax { line: Some(line), message });
        }
        let value = builder.root.unwrap_or(Value::Null);
        let template = Template { value, lines: builder.lines };
        template.check_resources()?;
        Ok(template)
    }

    fn check_resources(&self) -> Result<(), GateError> {
        match self.value.get("Resources") {
            Some(Value::Object(m)) if !m.is_empty() => {}
            Some(_) => {
                return Err(GateError::Input {
                    pointer: "/Resources".into(),
                    line: self.line("/Resources"),
                    message: "Resources must be a non-empty mapping".into(),
                });
            }
            None => {
                return Err(GateError::Input {
                    pointer: "/Resources".into(),
                    line: None,
                    message: "the template has no Resources".into(),
                });
            }
        }
        for (id, resource) in self.resources() {
            if resource.get("Type").and_then(Value::as_str).is_none() {
                let pointer = format!("/Resources/{}", escape(id));
                return Err(GateError::Input {
                    line: self.line(&pointer),
                    pointer: format!("{pointer}/Type"),
                    message: format!("resource {id} has no Type"),
                });
            }
        }
        Ok(())
    }

    /// Logical id → resource, in template order.
    pub fn resources(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.value["Resources"].as_object().into_iter().flatten()
    }

    /// The line (1-based) a node starts on, by JSON pointer.
    pub fn line(&self, pointer: &str) -> Option<usize> {
        self.lines.get(pointer).copied()
    }
}

/// Escapes a key for a JSON pointer (RFC 6901).
pub fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// An intrinsic function in long form: a one-key object `Ref` or `Fn::*`/`Condition`.
pub fn is_intrinsic(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.len() == 1 && m.keys().all(|k| k == "Ref" || k.starts_with("Fn::")))
}

enum Frame {
    Map { map: Map<String, Value>, key: Option<String>, pointer: String, tag: Option<String> },
    Seq { items: Vec<Value>, pointer: String, tag: Option<String> },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    anchors: HashMap<usize, Value>,
    lines: HashMap<String, usize>,
    error: Option<(usize, String)>,
}

impl Builder {
    /// The pointer of the node about to be read, or `None` when it is a mapping key.
    fn next_pointer(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Map { key: None, .. }) => None,
            Some(Frame::Map { key: Some(k), pointer, .. }) => Some(format!("{pointer}/{}", escape(k))),
            Some(Frame::Seq { items, pointer, .. }) => Some(format!("{pointer}/{}", items.len())),
        }
    }

    fn push_value(&mut self, value: Value, anchor: usize, line: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, pointer, .. }) => match key.take() {
                Some(k) => {
                    map.insert(k, value);
                }
                None => {
                    let k = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        _ => return self.error = Some((line, "a mapping key must be a scalar".into())),
                    };
                    // A node's line is its key's line.
                    self.lines.entry(format!("{pointer}/{}", escape(&k))).or_insert(line);
                    *key = Some(k);
                }
            },
        }
    }

    fn start(&mut self, frame: Frame, line: usize) {
        let pointer = match &frame {
            Frame::Map { pointer, .. } | Frame::Seq { pointer, .. } => pointer.clone(),
        };
        self.lines.entry(pointer).or_insert(line);
        self.stack.push(frame);
    }

    fn end(&mut self, anchor_line: usize) {
        let (value, tag) = match self.stack.pop() {
            Some(Frame::Map { map, tag, .. }) => (Value::Object(map), tag),
            Some(Frame::Seq { items, tag, .. }) => (Value::Array(items), tag),
            None => return,
        };
        let value = match tag {
            Some(t) => intrinsic(&t, value),
            None => value,
        };
        self.push_value(value, 0, anchor_line);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let line = mark.line();
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                if let Some(p) = self.next_pointer() {
                    self.lines.entry(p).or_insert(line);
                }
                let value = scalar(text, style, tag.as_ref());
                self.push_value(value, anchor, line);
            }
            Event::SequenceStart(_, tag) => {
                let pointer = self.next_pointer().unwrap_or_default();
                self.start(Frame::Seq { items: Vec::new(), pointer, tag: short_tag(tag.as_ref()) }, line);
            }
            Event::MappingStart(_, tag) => {
                let pointer = self.next_pointer().unwrap_or_default();
                self.start(Frame::Map { map: Map::new(), key: None, pointer, tag: short_tag(tag.as_ref()) }, line);
            }
            Event::SequenceEnd | Event::MappingEnd => self.end(line),
            Event::Alias(id) => {
                let value = self.anchors.get(&id).cloned().unwrap_or(Value::Null);
                self.push_value(value, 0, line);
            }
            _ => {}
        }
    }
}

/// A CloudFormation short-form tag (`!Ref`) as its intrinsic name; other tags are ignored.
fn short_tag(tag: Option<&Tag>) -> Option<String> {
    tag.filter(|t| t.handle == "!").map(|t| t.suffix.clone())
}

/// `!Ref x` → `{"Ref": x}`, `!GetAtt a.b` → `{"Fn::GetAtt": ["a", "b"]}`, `!Sub s` → `{"Fn::Sub": s}`.
fn intrinsic(name: &str, value: Value) -> Value {
    let value = match (name, value) {
        ("GetAtt", Value::String(s)) => match s.split_once('.') {
            Some((a, b)) => Value::Array(vec![a.into(), b.into()]),
            None => Value::String(s),
        },
        (_, v) => v,
    };
    let key = match name {
        "Ref" | "Condition" => name.to_string(),
        other => format!("Fn::{other}"),
    };
    Value::Object(Map::from_iter([(key, value)]))
}

fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(name) = short_tag(tag) {
        return intrinsic(&name, Value::String(text));
    }
    let is_str_tag = tag.is_some_and(|t| t.suffix == "str");
    if style != TScalarStyle::Plain || is_str_tag {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => number(&text).unwrap_or(Value::String(text)),
    }
}

fn number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::Number(i.into()));
    }
    let looks_numeric = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && text.chars().any(|c| c.is_ascii_digit());
    if looks_numeric {
        return text.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_become_long_forms_with_lines() {
        let t = Template::parse(
            "Resources:\n  B:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Ref Name\n      X: !GetAtt K.Arn\n      Y: !Sub\n        - a\n        - {}\n",
        )
        .unwrap();
        let props = &t.value["Resources"]["B"]["Properties"];
        assert_eq!(props["BucketName"], serde_json::json!({"Ref": "Name"}));
        assert_eq!(props["X"], serde_json::json!({"Fn::GetAtt": ["K", "Arn"]}));
        assert_eq!(props["Y"], serde_json::json!({"Fn::Sub": ["a", {}]}));
        assert_eq!(t.line("/Resources/B"), Some(2));
        assert_eq!(t.line("/Resources/B/Properties/BucketName"), Some(5));
        assert_eq!(t.line("/Resources/B/Properties/Y"), Some(7));
    }

    #[test]
    fn json_lines_and_errors() {
        let t = Template::parse("{\n \"Resources\": {\n  \"B\": {\"Type\": \"AWS::S3::Bucket\"}\n }\n}").unwrap();
        assert_eq!(t.line("/Resources/B/Type"), Some(3));
        let e = Template::parse("{\n \"Resources\": {\n  \"B\": \n}").unwrap_err();
        assert!(matches!(e, GateError::Syntax { line: Some(4), .. }), "{e:?}");
        let e = Template::parse("Description: x\n").unwrap_err();
        assert!(matches!(e, GateError::Input { ref pointer, .. } if pointer == "/Resources"), "{e:?}");
    }
}
