//! `collect`: the service's facts from the catalog, the ground truth every later
//! stage is checked against.

use std::collections::BTreeMap;

use serde::Serialize;

use super::checks::Checks;
use super::contracts::Collected;
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::catalog::ServiceIdentity;

#[derive(Serialize)]
struct ResourceTypeFacts<'a> {
    name: &'a str,
    arn: &'a str,
    condition_keys: &'a [String],
}

#[derive(Serialize)]
struct CfnTypeFacts<'a> {
    type_name: &'a str,
    primary_identifier: &'a [String],
    taggable: Option<bool>,
    properties: Vec<&'a str>,
    handler_permissions: &'a BTreeMap<String, Vec<String>>,
}

#[derive(Serialize)]
struct SecurityHubFacts<'a> {
    id: &'a str,
    severity: Option<&'a str>,
}

#[derive(Serialize)]
struct ServiceFacts<'a> {
    catalog_version: &'a str,
    service: &'a ServiceIdentity,
    /// Access level → action names, each list sorted.
    actions_by_access_level: BTreeMap<&'a str, Vec<&'a str>>,
    resource_types: Vec<ResourceTypeFacts<'a>>,
    condition_keys: &'a BTreeMap<String, String>,
    cloudformation_resource_types: Vec<CfnTypeFacts<'a>>,
    /// AWS Config managed rules that evaluate the service's resource types.
    config_rules: Vec<&'a str>,
    /// Security Hub controls of the service, with severity.
    security_hub_controls: Vec<SecurityHubFacts<'a>>,
    terraform_resource_types: Vec<&'a str>,
    counts: BTreeMap<&'static str, usize>,
}

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let catalog = input.catalog();
    let id = input.service_id;
    let service = catalog
        .service(id)
        .ok_or_else(|| StageError::Permanent(format!("service '{id}' is not in catalog {}", catalog.version())))?;
    let iam = catalog
        .iam(&service.iam_prefix)
        .ok_or_else(|| StageError::Permanent(format!("no IAM facts for prefix '{}'", service.iam_prefix)))?;

    let actions_by_access_level = iam.actions_by_access_level();
    let resource_types = iam
        .resource_types
        .iter()
        .map(|(name, rt)| ResourceTypeFacts { name, arn: &rt.arn, condition_keys: &rt.condition_keys })
        .collect::<Vec<_>>();
    let cloudformation_resource_types: Vec<CfnTypeFacts> = catalog
        .resource_types_of(service)
        .map(|(name, rt)| CfnTypeFacts {
            type_name: name,
            primary_identifier: &rt.primary_identifier,
            taggable: rt.taggable,
            properties: rt.properties.keys().map(String::as_str).collect(),
            handler_permissions: &rt.handlers,
        })
        .collect();
    let mut config_rules: Vec<&str> = catalog.config_rules_for_service(service).iter().map(|r| r.id.as_str()).collect();
    config_rules.sort_unstable();
    let mut security_hub_controls: Vec<SecurityHubFacts> = catalog
        .security_hub_controls_for_service(service)
        .iter()
        .map(|c| SecurityHubFacts { id: &c.id, severity: c.severity.as_deref() })
        .collect();
    security_hub_controls.sort_by(|a, b| a.id.cmp(b.id));
    let terraform_resource_types: Vec<&str> = catalog.terraform_resources_of(service).map(String::as_str).collect();
    let counts = BTreeMap::from([
        ("config_rules", config_rules.len()),
        ("security_hub_controls", security_hub_controls.len()),
        ("terraform_resource_types", terraform_resource_types.len()),
        ("actions", iam.actions.len()),
        ("resource_types", resource_types.len()),
        ("condition_keys", iam.condition_keys.len()),
        ("cloudformation_resource_types", cloudformation_resource_types.len()),
    ]);
    let facts = ServiceFacts {
        catalog_version: catalog.version(),
        service,
        actions_by_access_level,
        resource_types,
        condition_keys: &iam.condition_keys,
        cloudformation_resource_types,
        config_rules,
        security_hub_controls,
        terraform_resource_types,
        counts,
    };
    let output = Collected {
        service: service.clone(),
        counts: facts.counts.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        checks: Checks::default(),
    };
    Ok(StageOutput::new(&output, vec![Artifact::json("facts.json", &facts)]))
}
