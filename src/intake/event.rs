//! The S3 "Object Created" event as EventBridge delivers it, validated field by
//! field so a bad event is answered with the JSON pointer of each bad field.

use serde_json::Value;

use crate::input::{FieldError, InputError};

/// The object an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub bucket: String,
    pub key: String,
    /// Present when the bucket is versioned.
    pub version_id: Option<String>,
    pub etag: Option<String>,
    /// Size the event reports; the object's own length is checked again on read.
    pub size: Option<u64>,
}

impl ObjectRef {
    /// What makes two deliveries "the same upload": bucket, key and version (or ETag).
    pub fn identity(&self) -> String {
        let version = self.version_id.as_deref().or(self.etag.as_deref()).unwrap_or("");
        format!("s3://{}/{}?version={}", self.bucket, self.key, version.trim_matches('"'))
    }
}

fn text(event: &Value, pointer: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match event.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) => {
            errors.push(FieldError { pointer: pointer.into(), detail: "is required".into() });
            None
        }
        Some(_) => {
            errors.push(FieldError { pointer: pointer.into(), detail: "must be a non-empty string".into() });
            None
        }
    }
}

fn optional_text(event: &Value, pointer: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match event.pointer(pointer) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            errors.push(FieldError { pointer: pointer.into(), detail: "must be a string".into() });
            None
        }
    }
}

/// Checks the envelope (`source: aws.s3`, `detail-type: Object Created`) and reads
/// the object reference out of `detail`.
pub fn parse(event: &Value) -> Result<ObjectRef, InputError> {
    let mut errors = Vec::new();
    if !event.is_object() {
        return Err(InputError::Fields(vec![FieldError {
            pointer: String::new(),
            detail: "must be an object".into(),
        }]));
    }
    if let Some(source) = text(event, "/source", &mut errors)
        && source != "aws.s3"
    {
        errors.push(FieldError { pointer: "/source".into(), detail: "must be 'aws.s3'".into() });
    }
    if let Some(kind) = text(event, "/detail-type", &mut errors)
        && kind != "Object Created"
    {
        errors.push(FieldError { pointer: "/detail-type".into(), detail: "must be 'Object Created'".into() });
    }
    let bucket = text(event, "/detail/bucket/name", &mut errors);
    let key = text(event, "/detail/object/key", &mut errors);
    let version_id = optional_text(event, "/detail/object/version-id", &mut errors);
    let etag = optional_text(event, "/detail/object/etag", &mut errors);
    let size = match event.pointer("/detail/object/size") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64() {
            Some(n) => Some(n),
            None => {
                errors.push(FieldError {
                    pointer: "/detail/object/size".into(),
                    detail: "must be a non-negative integer".into(),
                });
                None
            }
        },
    };
    match (bucket, key) {
        (Some(bucket), Some(key)) if errors.is_empty() => Ok(ObjectRef { bucket, key, version_id, etag, size }),
        _ => Err(InputError::Fields(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_object_created_event() {
        let e = json!({"source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": "in"}, "object": {"key": "p.json", "size": 10, "version-id": "v1", "etag": "e"}}});
        let o = parse(&e).unwrap();
        assert_eq!((o.bucket.as_str(), o.key.as_str(), o.size), ("in", "p.json", Some(10)));
        assert_eq!(o.identity(), "s3://in/p.json?version=v1");
    }

    #[test]
    fn names_every_bad_field() {
        let e = json!({"source": "aws.ec2", "detail": {"bucket": {}, "object": {"key": 3, "size": -1}}});
        let Err(InputError::Fields(f)) = parse(&e) else { panic!() };
        let pointers: Vec<&str> = f.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/source", "/detail-type", "/detail/bucket/name", "/detail/object/key", "/detail/object/size"]
        );
    }
}
