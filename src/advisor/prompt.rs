//! The question put to the model and the tool it must answer with. The tool's input
//! schema is the control definition format of docs/CONTROLS.md (`ControlDef`), so an
//! answer is either a control the pipeline can verify or malformed.

use serde_json::{Value, json};

use crate::input::Profile;
use crate::knowledge::Knowledge;
use crate::plan::Plan;

pub const SYSTEM: &str = "You propose AWS security controls for a regulated organisation. Answer only by calling \
the propose_controls tool. Each control must configure a resource listed in the question through CloudFormation \
property paths of that resource type, and may name an AWS Config managed rule, Security Hub control ids and an \
SCP statement. Do not repeat controls that already exist. Every identifier you use is checked against the AWS \
catalog; anything invented is rejected.";

pub const TOOL_NAME: &str = "propose_controls";
pub const TOOL_DESCRIPTION: &str =
    "Additional security controls for the service, in the control definition format, and an optional short summary.";

fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

fn settings() -> Value {
    json!({ "type": "array", "items": { "type": "object", "additionalProperties": false,
        "required": ["path", "value"],
        "properties": { "path": { "type": "string" }, "value": {},
            "check": { "enum": ["equals", "exists", "at_least"] } } } })
}

/// JSON schema of one control definition (docs/CONTROLS.md, `knowledge::ControlDef`).
pub fn control_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "title", "rationale", "category", "stride", "priority"],
        "properties": {
            "id": { "type": "string" },
            "title": { "type": "string" },
            "rationale": { "type": "string" },
            "category": { "enum": ["data_protection", "network", "access", "logging", "resilience", "governance"] },
            "stride": { "type": "array", "items": { "enum": ["spoofing", "tampering", "repudiation",
                "information_disclosure", "denial_of_service", "elevation_of_privilege"] } },
            "requires": strings(),
            "priority": { "enum": ["low", "medium", "high", "critical"] },
            "escalates_on": strings(),
            "cloudformation": { "type": "object", "additionalProperties": false, "required": ["resource", "settings"],
                "properties": { "resource": { "type": "string" }, "settings": settings() } },
            "terraform": { "type": "array", "items": { "type": "object", "additionalProperties": false,
                "required": ["settings"], "properties": { "resource": { "type": "string" },
                    "link": { "type": "string" }, "settings": settings() } } },
            "detective": { "type": "object", "additionalProperties": false, "required": ["config_rule"],
                "properties": { "config_rule": { "type": "string" }, "parameters": { "type": "object" } } },
            "security_hub": strings(),
            "checkov": strings(),
            "prowler": strings(),
            "preventive": { "type": "object" },
            "responsive": { "type": "object", "additionalProperties": false, "required": ["events", "remediation"],
                "properties": { "events": strings(), "remediation": { "type": "string" } } }
        }
    })
}

pub fn tool_schema() -> Value {
    json!({
        "type": "object",
        "required": ["controls"],
        "properties": {
            "controls": { "type": "array", "items": control_schema() },
            "narrative": { "type": "string", "description": "At most three sentences for the service profile's summary." }
        }
    })
}

/// The question, before redaction: the service's resources with their property
/// names, the controls it already has, and what the profile requires.
pub fn question(knowledge: &Knowledge, profile: &Profile, plan: &Plan) -> String {
    let mut q = format!("Service: {}\n\nResources (id: CloudFormation type: properties):\n", plan.service);
    for r in &plan.controls.resources {
        let props: Vec<&str> = knowledge
            .catalog()
            .resource_type(&r.kind)
            .map(|t| t.properties.keys().map(String::as_str).collect())
            .unwrap_or_default();
        q.push_str(&format!("- {}: {}: {}\n", r.id, r.kind, props.join(", ")));
    }
    q.push_str("\nExisting controls (do not repeat):\n");
    for c in &plan.controls.controls {
        q.push_str(&format!("- {}: {}\n", c.id, c.title));
    }
    let frameworks: Vec<&str> = profile.frameworks().iter().map(|f| f.id()).collect();
    q.push_str(&format!(
        "\nProfile: frameworks {}; risk {:?}; data classification {:?}\n",
        frameworks.join(", "),
        profile.risk_level,
        profile.data_classification
    ));
    for key in ["organization_details", "security_requirements", "threat_model"] {
        if let Some(v) = profile.document.get(key) {
            q.push_str(&format!("{key}: {v}\n"));
        }
    }
    q.push_str(
        "\nAllowed requirement keys for requires/escalates_on: encryption.at_rest, encryption.in_transit, \
         encryption.customer_managed_keys, encryption.key_rotation, access.mfa, access.ip_restrictions, \
         access.least_privilege, monitoring.logging, monitoring.alerting, monitoring.audit_trail, data.sensitive, \
         risk.high, environment.production, threat.<vector>.\n",
    );
    q
}
