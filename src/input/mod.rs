//! Inputs accepted at the edge: security profiles and service requests.
//!
//! Both formats of the reference design are accepted verbatim. Parsing is done
//! in two steps — JSON syntax, then typed validation — so that every problem is
//! reported with the JSON pointer of the offending field, all at once.

mod approval;
mod profile;
mod request;
mod validate;

pub use approval::ApprovalRequest;
pub use profile::{DataClassification, Framework, Profile, RiskLevel, THREAT_VECTORS};
pub use request::{ServiceRequest, ServiceRequestItem};
pub use validate::{FieldError, InputError, Warning};

use serde_json::Value;

/// Parses raw bytes into JSON, mapping syntax errors to a field-less error.
pub fn parse_json(bytes: &[u8]) -> Result<Value, InputError> {
    serde_json::from_slice(bytes).map_err(|e| InputError::Syntax {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}
