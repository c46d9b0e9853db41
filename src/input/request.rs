//! A request to approve one or more AWS services, in the reference design's format.

use serde::Serialize;
use serde_json::Value;

use super::validate::{Checker, InputError, Warning};

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRequestItem {
    /// The name as the requestor wrote it; resolved against the catalog later.
    pub service_name: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceRequest {
    pub request_id: String,
    pub service_id: Option<String>,
    pub timestamp: Option<String>,
    pub requestor: Option<Value>,
    pub services: Vec<ServiceRequestItem>,
}

/// One request fans out to at most this many runs.
pub const MAX_SERVICES: usize = 50;

impl ServiceRequest {
    pub fn from_slice(bytes: &[u8]) -> Result<(ServiceRequest, Vec<Warning>), InputError> {
        ServiceRequest::from_value(&super::parse_json(bytes)?)
    }

    pub fn from_value(doc: &Value) -> Result<(ServiceRequest, Vec<Warning>), InputError> {
        let mut c = Checker::default();
        let Some(root) = c.object("", Some(doc), true) else {
            return Err(InputError::Fields(c.errors));
        };
        c.unknown_fields("", root, &["requestId", "serviceId", "timestamp", "requestor", "services"]);
        let request_id = c.name("/requestId", root.get("requestId"), true, 128);
        let service_id = c.name("/serviceId", root.get("serviceId"), false, 128);
        let timestamp = c.string("/timestamp", root.get("timestamp"), false, 64);
        if let Some(ts) = &timestamp
            && chrono::DateTime::parse_from_rfc3339(ts).is_err()
        {
            c.error("/timestamp", "must be an RFC 3339 date-time such as 2026-11-02T09:30:00Z");
        }
        let requestor = c.object("/requestor", root.get("requestor"), false).map(|r| {
            c.unknown_fields("/requestor", r, &["id", "role", "team"]);
            for key in ["id", "role", "team"] {
                c.string(&format!("/requestor/{key}"), r.get(key), false, 256);
            }
            Value::Object(r.clone())
        });
        let services = services(&mut c, root.get("services"));
        let request =
            ServiceRequest { request_id: request_id.unwrap_or_default(), service_id, timestamp, requestor, services };
        c.finish(request)
    }
}

fn services(c: &mut Checker, v: Option<&Value>) -> Vec<ServiceRequestItem> {
    let items = match v {
        None | Some(Value::Null) => {
            c.error("/services", "is required");
            return Vec::new();
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            c.error("/services", format!("must be an array, found {}", super::validate::kind(other)));
            return Vec::new();
        }
    };
    if items.is_empty() {
        c.error("/services", "must name at least one service");
    }
    if items.len() > MAX_SERVICES {
        c.error("/services", format!("must name at most {MAX_SERVICES} services"));
        return Vec::new();
    }
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| {
            let at = format!("/services/{i}");
            let obj = c.object(&at, Some(item), true)?;
            c.unknown_fields(&at, obj, &["serviceName"]);
            let name = c.name(&format!("{at}/serviceName"), obj.get("serviceName"), true, 128)?;
            Some(ServiceRequestItem { service_name: name })
        })
        .collect()
}
