//! Resource types → services through the catalog (`Catalog::service_of_resource_type`,
//! `Catalog::service_of_terraform_type` for plans), and which resources no given or
//! approved bundle covers ("not approved").

use std::collections::{BTreeMap, BTreeSet};

use super::GateError;
use super::report::NotApproved;
use super::rules::ServiceRules;
use super::template::{Template, escape};
use super::tfplan::Plan;
use crate::catalog::Catalog;

/// The catalog's name for a type: custom resources (`Custom::*`) are `AWS::CloudFormation::CustomResource`.
fn catalog_type(kind: &str) -> &str {
    if kind.starts_with("Custom::") { "AWS::CloudFormation::CustomResource" } else { kind }
}

/// Each resource type of the template → its service id (empty when no IAM prefix owns
/// the type); a type the catalog does not know is bad input, with its pointer and line.
pub fn services_of(catalog: &Catalog, template: &Template) -> Result<BTreeMap<String, String>, GateError> {
    let mut out = BTreeMap::new();
    for (id, resource) in template.resources() {
        let kind = resource["Type"].as_str().unwrap_or_default();
        if out.contains_key(kind) {
            continue;
        }
        let lookup = catalog_type(kind);
        if catalog.resource_type(lookup).is_none() {
            let pointer = format!("/Resources/{}/Type", escape(id));
            return Err(GateError::Input {
                line: template.line(&pointer),
                pointer,
                message: format!("resource type {kind} is not in the catalog"),
            });
        }
        let service = catalog.service_of_resource_type(lookup).map(|s| s.id.clone()).unwrap_or_default();
        out.insert(kind.to_string(), service);
    }
    Ok(out)
}

/// Resources whose service has no rules here and whose type no rules name as a companion.
pub fn not_approved(
    template: &Template,
    types: &BTreeMap<String, String>,
    rules: &[&ServiceRules],
) -> Vec<NotApproved> {
    let services: BTreeSet<&str> = rules.iter().map(|r| r.service.as_str()).collect();
    let covered: BTreeSet<&str> = rules.iter().flat_map(|r| r.types()).collect();
    template
        .resources()
        .filter_map(|(id, resource)| {
            let kind = resource["Type"].as_str().unwrap_or_default();
            let service = types.get(kind).cloned().unwrap_or_default();
            let ok = services.contains(service.as_str()) || covered.contains(kind);
            (!ok).then(|| NotApproved {
                resource: id.clone(),
                resource_type: kind.to_string(),
                service,
                line: template.line(&format!("/Resources/{}", escape(id))),
            })
        })
        .collect()
}

/// Each AWS Terraform type of the plan → its service id (empty when no IAM prefix owns
/// it); an AWS type the catalog does not know is bad input, with its pointer. Resources
/// of other providers (`random_id`) have no service and are not checked.
pub fn terraform_services_of(catalog: &Catalog, plan: &Plan) -> Result<BTreeMap<String, String>, GateError> {
    let mut out = BTreeMap::new();
    for change in plan.changes.iter().filter(|c| c.is_aws()) {
        if out.contains_key(&change.kind) {
            continue;
        }
        if catalog.terraform_resource(&change.kind).is_none() {
            return Err(GateError::Input {
                pointer: format!("{}/type", change.pointer),
                line: None,
                message: format!(
                    "resource type {} is not in the catalog (hashicorp/aws {})",
                    change.kind,
                    catalog.terraform_provider_version()
                ),
            });
        }
        let service = catalog.service_of_terraform_type(&change.kind).map(|s| s.id.clone()).unwrap_or_default();
        out.insert(change.kind.clone(), service);
    }
    Ok(out)
}

/// AWS resources of the plan whose service has no rules here and whose type no bundle's
/// Terraform checks name or deploy.
pub fn plan_not_approved(plan: &Plan, types: &BTreeMap<String, String>, rules: &[&ServiceRules]) -> Vec<NotApproved> {
    let services: BTreeSet<&str> = rules.iter().map(|r| r.service.as_str()).collect();
    let covered: BTreeSet<&str> = rules.iter().flat_map(|r| r.terraform_types()).collect();
    plan.changes
        .iter()
        .filter(|c| c.is_aws())
        .filter_map(|c| {
            let service = types.get(&c.kind).cloned().unwrap_or_default();
            let ok = services.contains(service.as_str()) || covered.contains(c.kind.as_str());
            (!ok).then(|| NotApproved {
                resource: c.address.clone(),
                resource_type: c.kind.clone(),
                service,
                line: None,
            })
        })
        .collect()
}
