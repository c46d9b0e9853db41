//! Field-level validation helpers that collect every error with its JSON pointer.

use serde::Serialize;
use serde_json::{Map, Value};

/// One invalid field, named by its RFC 6901 JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
}

/// A tolerated oddity (for example an unknown field) reported back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    pub pointer: String,
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the body is not valid JSON (line {line}, column {column}): {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("{} field(s) are invalid", .0.len())]
    Fields(Vec<FieldError>),
}

/// Walks a JSON document, collecting errors and warnings as it goes.
#[derive(Default)]
pub(crate) struct Checker {
    pub errors: Vec<FieldError>,
    pub warnings: Vec<Warning>,
}

pub(crate) fn pointer(parent: &str, key: &str) -> String {
    let escaped = key.replace('~', "~0").replace('/', "~1");
    format!("{parent}/{escaped}")
}

impl Checker {
    pub fn error(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        self.errors.push(FieldError { pointer: pointer.into(), detail: detail.into() });
    }

    /// A value outside a vocabulary, accepted: `detail` says how it was read.
    pub fn warn(&mut self, pointer: impl Into<String>, detail: impl Into<String>) {
        self.warnings.push(Warning { pointer: pointer.into(), detail: detail.into() });
    }

    pub fn finish<T>(self, value: T) -> Result<(T, Vec<Warning>), InputError> {
        if self.errors.is_empty() { Ok((value, self.warnings)) } else { Err(InputError::Fields(self.errors)) }
    }

    /// Reports fields outside `known` as warnings: tolerated for compatibility.
    pub fn unknown_fields(&mut self, at: &str, obj: &Map<String, Value>, known: &[&str]) {
        for key in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            self.warnings.push(Warning { pointer: pointer(at, key), detail: "unknown field, ignored".into() });
        }
    }

    pub fn object<'a>(&mut self, at: &str, v: Option<&'a Value>, required: bool) -> Option<&'a Map<String, Value>> {
        match v {
            None | Some(Value::Null) => {
                if required {
                    self.error(at, "is required");
                }
                None
            }
            Some(Value::Object(m)) => Some(m),
            Some(other) => {
                self.error(at, format!("must be an object, found {}", kind(other)));
                None
            }
        }
    }

    /// A non-empty, trimmed string of at most `max` characters.
    pub fn string(&mut self, at: &str, v: Option<&Value>, required: bool, max: usize) -> Option<String> {
        match v {
            None | Some(Value::Null) => {
                if required {
                    self.error(at, "is required");
                }
                None
            }
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    self.error(at, "must not be empty");
                    None
                } else if s.chars().count() > max {
                    self.error(at, format!("must be at most {max} characters"));
                    None
                } else if s.chars().any(|ch| ch.is_control() && !matches!(ch, '\t' | '\n' | '\r')) {
                    self.error(at, "must not contain NUL or other control characters");
                    None
                } else {
                    Some(s.to_string())
                }
            }
            Some(other) => {
                self.error(at, format!("must be a string, found {}", kind(other)));
                None
            }
        }
    }

    /// A name or identifier: a [`string`](Self::string) with no control characters at all.
    pub fn name(&mut self, at: &str, v: Option<&Value>, required: bool, max: usize) -> Option<String> {
        let s = self.string(at, v, required, max)?;
        if s.chars().any(char::is_control) {
            self.error(at, "must not contain control characters");
            return None;
        }
        Some(s)
    }

    pub fn boolean(&mut self, at: &str, v: Option<&Value>) -> Option<bool> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                self.error(at, format!("must be a boolean, found {}", kind(other)));
                None
            }
        }
    }

    pub fn integer(&mut self, at: &str, v: Option<&Value>, min: i64, max: i64) -> Option<i64> {
        match v {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) if (min..=max).contains(&i) => Some(i),
                _ => {
                    self.error(at, format!("must be an integer from {min} to {max}"));
                    None
                }
            },
            Some(other) => {
                self.error(at, format!("must be an integer, found {}", kind(other)));
                None
            }
        }
    }

    /// An array of strings, each at most `max` characters, at most `max_items` items.
    pub fn strings(&mut self, at: &str, v: Option<&Value>, max_items: usize, max: usize) -> Vec<String> {
        match v {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > max_items {
                    self.error(at, format!("must have at most {max_items} items"));
                    return Vec::new();
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| self.string(&format!("{at}/{i}"), Some(item), true, max))
                    .collect()
            }
            Some(other) => {
                self.error(at, format!("must be an array, found {}", kind(other)));
                Vec::new()
            }
        }
    }
}

pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
