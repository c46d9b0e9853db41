//! Controls derived from CloudFormation resource schemas, for services the team has
//! not reviewed. Only top-level properties whose name and type leave no doubt about
//! the compliant value are used (a boolean `StorageEncrypted` must be true; a
//! boolean `PubliclyAccessible` must be false); everything derived is marked so.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::model::*;
use crate::catalog::{Catalog, CfnResourceType, ServiceIdentity};

/// A property rule: name test, compliant value, and the control it produces.
struct Rule {
    matches: fn(&str) -> bool,
    value: fn() -> Value,
    title: &'static str,
    category: Category,
    stride: &'static [Stride],
    requires: &'static [&'static str],
    priority: Priority,
}

const RULES: &[Rule] = &[
    Rule {
        matches: |n| {
            n == "StorageEncrypted" || n == "Encrypted" || n == "KMSEncrypted" || n == "AtRestEncryptionEnabled"
        },
        value: || json!(true),
        title: "Encrypt stored data",
        category: Category::DataProtection,
        stride: &[Stride::InformationDisclosure],
        requires: &["encryption.at_rest"],
        priority: Priority::High,
    },
    Rule {
        matches: |n| n == "TransitEncryptionEnabled" || n == "RequireEncryption",
        value: || json!(true),
        title: "Encrypt data in transit",
        category: Category::DataProtection,
        stride: &[Stride::InformationDisclosure, Stride::Tampering],
        requires: &["encryption.in_transit"],
        priority: Priority::High,
    },
    Rule {
        matches: |n| n == "DeletionProtection" || n == "DeletionProtectionEnabled",
        value: || json!(true),
        title: "Protect against deletion",
        category: Category::Resilience,
        stride: &[Stride::DenialOfService],
        requires: &[],
        priority: Priority::Medium,
    },
    Rule {
        matches: |n| n == "PubliclyAccessible" || n == "AssociatePublicIpAddress" || n == "MapPublicIpOnLaunch",
        value: || json!(false),
        title: "Keep off the public internet",
        category: Category::Network,
        stride: &[Stride::InformationDisclosure, Stride::Spoofing],
        requires: &[],
        priority: Priority::High,
    },
    Rule {
        matches: |n| n == "MultiAZ" || n == "MultiAZEnabled",
        value: || json!(true),
        title: "Run across availability zones",
        category: Category::Resilience,
        stride: &[Stride::DenialOfService],
        requires: &[],
        priority: Priority::Medium,
    },
    Rule {
        matches: |n| n == "EnableKeyRotation" || n == "AccessLoggingEnabled" || n == "IsLogging",
        value: || json!(true),
        title: "Turn on the built-in safeguard",
        category: Category::Logging,
        stride: &[Stride::Repudiation],
        requires: &[],
        priority: Priority::Medium,
    },
];

/// Derived controls for `service`, or `None` when no resource type of the service can
/// be deployed from parameters alone or none has a property the rules recognise.
pub fn derive(catalog: &Catalog, service: &ServiceIdentity) -> Option<ServiceControls> {
    let mut out = ServiceControls {
        service: service.id.clone(),
        parameters: Vec::new(),
        resources: Vec::new(),
        controls: Vec::new(),
        kms_key_principals: Vec::new(),
        derived: true,
    };
    for (type_name, schema) in catalog.resource_types_of(service) {
        let settings = matching_settings(schema);
        if settings.is_empty() {
            continue;
        }
        let Some((resource, params)) = deployable(type_name, schema) else { continue };
        if out.resource(&resource.id).is_some() {
            continue;
        }
        for (name, setting, rule) in settings {
            let n = out.controls.len() + 1;
            out.controls.push(ControlDef {
                id: format!("{}-D{n:02}", service.id.to_ascii_uppercase()),
                title: format!("{}: {} ({name})", short(type_name), rule.title),
                rationale: format!(
                    "Derived from the resource schema of {type_name}: the property {name} decides this safeguard; \
                     set it to {} so that the default can never be the insecure one.",
                    setting.value
                ),
                category: rule.category,
                stride: rule.stride.to_vec(),
                requires: rule.requires.iter().map(|s| s.to_string()).collect(),
                priority: rule.priority,
                escalates_on: vec!["data.sensitive".into()],
                cloudformation: Some(CfnPart { resource: resource.id.clone(), settings: vec![setting] }),
                terraform: Vec::new(),
                detective: None,
                security_hub: Vec::new(),
                checkov: Vec::new(),
                prowler: Vec::new(),
                preventive: None,
                responsive: None,
                advisor_model: None,
            });
        }
        out.parameters.extend(params);
        out.resources.push(resource);
    }
    (!out.controls.is_empty()).then_some(out)
}

fn matching_settings(schema: &CfnResourceType) -> Vec<(String, Setting, &'static Rule)> {
    let read_only: Vec<&str> = schema.read_only.iter().filter_map(|p| p.strip_prefix("/properties/")).collect();
    schema
        .properties
        .iter()
        .filter(|(name, node)| node["type"] == "boolean" && !read_only.contains(&name.as_str()))
        .filter_map(|(name, _)| {
            let rule = RULES.iter().find(|r| (r.matches)(name))?;
            Some((name.clone(), Setting { path: name.clone(), value: (rule.value)(), check: None }, rule))
        })
        .collect()
}

/// A resource whose required properties are all scalars, filled from parameters
/// (strings and numbers) or the first allowed value (enums).
fn deployable(type_name: &str, schema: &CfnResourceType) -> Option<(ResourceDef, Vec<Parameter>)> {
    let id = short(type_name).to_string();
    let mut properties = BTreeMap::new();
    let mut params = Vec::new();
    for name in &schema.required {
        let node = schema.properties.get(name)?;
        let value = if let Some(first) = node["enum"].as_array().and_then(|e| e.first()) {
            first.clone()
        } else {
            let kind = match node["type"].as_str()? {
                "string" => "String",
                "integer" | "number" => "Number",
                _ => return None,
            };
            let param = format!("{id}{name}");
            params.push(Parameter {
                name: param.clone(),
                kind: kind.into(),
                description: format!("{name} of the {type_name}."),
                default: None,
            });
            json!({ "Ref": param })
        };
        properties.insert(name.clone(), value);
    }
    let resource = ResourceDef { id, kind: type_name.to_string(), with_control: None, properties, terraform: None };
    Some((resource, params))
}

/// `AWS::AppSync::ApiCache` → `ApiCache`.
fn short(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}
