//! The customer managed key a bundle creates when a deployed value asks for it
//! (`{ kms_key: … }`). Like every other resource it gets a control: rotation on and a
//! deletion window of at least seven days (one Guard rule), and the AWS Config rule
//! KMS_CMK_NOT_SCHEDULED_FOR_DELETION, so no bundle creates a key that nothing watches.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{CfnPart, CheckKind, ControlDef, Detective, Priority, ResourceDef, ServiceControls, Setting, Stride};

/// Logical id of the key in both templates.
pub const DATA_KEY: &str = "DataKey";

/// The key's Terraform type in `main.tf`.
pub const TERRAFORM_TYPE: &str = "aws_kms_key";

/// The `aws_kms_key` argument that carries a CloudFormation setting of the key's control
/// (`main.tf` renders the key with these arguments).
pub fn terraform_argument(cfn_path: &str) -> Option<&'static str> {
    match cfn_path {
        "EnableKeyRotation" => Some("enable_key_rotation"),
        "PendingWindowInDays" => Some("deletion_window_in_days"),
        _ => None,
    }
}

/// True when the value (recursively) asks for the customer managed key.
pub fn uses_kms_key(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("kms_key") || m.values().any(uses_kms_key),
        Value::Array(a) => a.iter().any(uses_kms_key),
        _ => false,
    }
}

/// Whether the resources deployed for these selected controls, or their settings, use the key.
pub fn needed(sc: &ServiceControls, selected: &[&str]) -> bool {
    let deployed = sc.resources.iter().filter(|r| r.with_control.as_deref().is_none_or(|c| selected.contains(&c)));
    let in_resources = deployed.into_iter().any(|r| {
        r.properties.values().any(uses_kms_key)
            || r.terraform.as_ref().is_some_and(|t| t.arguments.values().any(uses_kms_key))
    });
    let in_controls = sc.controls.iter().filter(|c| selected.contains(&c.id.as_str())).any(|c| {
        c.cloudformation.iter().flat_map(|p| &p.settings).any(|s| uses_kms_key(&s.value))
            || c.terraform.iter().flat_map(|p| &p.settings).any(|s| uses_kms_key(&s.value))
    });
    in_resources || in_controls
}

/// `<PREFIX>-KEY`, with the prefix of the service's own control ids (`S3-01` → `S3-KEY`).
pub fn control_id(sc: &ServiceControls) -> String {
    let prefix = sc
        .controls
        .first()
        .and_then(|c| c.id.rsplit_once('-').map(|(p, _)| p.to_string()))
        .unwrap_or_else(|| sc.service.to_ascii_uppercase());
    format!("{prefix}-KEY")
}

/// Adds the key resource and its control to the service's control set; returns the control id.
pub fn add(sc: &mut ServiceControls) -> String {
    let id = control_id(sc);
    if sc.control(&id).is_some() {
        return id;
    }
    sc.resources.push(ResourceDef {
        id: DATA_KEY.into(),
        kind: "AWS::KMS::Key".into(),
        with_control: Some(id.clone()),
        required_by: None,
        properties: BTreeMap::new(),
        terraform: None,
    });
    sc.controls.push(control(&id));
    id
}

fn control(id: &str) -> ControlDef {
    ControlDef {
        id: id.into(),
        title: "Rotate the bundle's customer managed key and keep it from being deleted".into(),
        rationale: "The bundle creates the key that encrypts the service's data: yearly rotation limits what one key \
                    version protects, a deletion window leaves time to cancel a scheduled deletion, and the Config rule \
                    reports a key pending deletion before the data it protects becomes unreadable."
            .into(),
        category: super::Category::DataProtection,
        stride: vec![Stride::InformationDisclosure, Stride::DenialOfService],
        requires: vec![],
        priority: Priority::High,
        escalates_on: vec![],
        cloudformation: Some(CfnPart {
            resource: DATA_KEY.into(),
            settings: vec![
                Setting { path: "EnableKeyRotation".into(), value: json!(true), check: None },
                Setting { path: "PendingWindowInDays".into(), value: json!(7), check: Some(CheckKind::AtLeast) },
            ],
            also: vec![],
        }),
        terraform: vec![],
        detective: Some(Detective {
            config_rule: "KMS_CMK_NOT_SCHEDULED_FOR_DELETION".into(),
            parameters: BTreeMap::new(),
            resource: None,
            evaluates: None,
        }),
        security_hub: vec![],
        checkov: vec![],
        prowler: vec!["kms_cmk_rotation_enabled".into(), "kms_cmk_not_deleted_unintentionally".into()],
        preventive: None,
        responsive: None,
        not_expressible: None,
        advisor_model: None,
    }
}
