//! Every catalog service gets a bundle, and the derived control sets are complete: each
//! property of a primary type that the semantic library recognises becomes a control or is
//! listed with its reason. Nothing is skipped silently.

mod common;

use std::collections::BTreeSet;

use seccfg::input::Profile;
use seccfg::pipeline::{StageName, run_all};

fn fin_prod() -> Profile {
    Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0
}

#[test]
fn every_service_in_the_catalog_gets_a_verified_bundle() {
    let knowledge = common::knowledge();
    let profile = fin_prod();
    let mut failed = Vec::new();
    let mut without_template = Vec::new();
    for service in knowledge.catalog().services() {
        match run_all(&knowledge, &profile, &service.id) {
            Ok(outputs) => {
                let names: BTreeSet<&str> =
                    outputs.iter().flat_map(|(_, o)| o.artifacts.iter().map(|a| a.name.as_str())).collect();
                assert!(names.contains("analysis.md") && names.contains("iam-model.json"), "{}", service.id);
                let linked = knowledge.catalog().resource_types_of(service).next().is_some();
                if linked && !(names.contains("template.yaml") && names.contains("main.tf")) {
                    without_template.push(service.id.clone());
                }
                assert_eq!(outputs.last().map(|(s, _)| *s), Some(StageName::Verify));
            }
            Err((stage, e)) => failed.push(format!("{}: {stage:?}: {e}", service.id)),
        }
    }
    assert!(failed.is_empty(), "{} services failed: {failed:?}", failed.len());
    // A linked service whose types all need structures no profile fact supplies says so instead.
    for id in &without_template {
        let service = knowledge.catalog().service(id).unwrap();
        let derivation = knowledge.for_service(service).unwrap().derivation.clone().unwrap();
        assert!(!derivation.limits.is_empty(), "{id} has no template and does not say why");
    }
}

#[test]
fn every_recognised_property_becomes_a_control_or_is_listed_with_its_reason() {
    let knowledge = common::knowledge();
    let library = knowledge.semantics();
    for service in knowledge.catalog().services() {
        if knowledge.controls().service(&service.id).is_some() {
            continue;
        }
        let controls = knowledge.for_service(service).unwrap();
        let derivation = controls.derivation.as_ref().expect("derived sets explain themselves");
        let listed: BTreeSet<(&str, &str)> =
            derivation.not_derived.iter().map(|n| (n.resource_type.as_str(), n.property.as_str())).collect();
        for type_name in &derivation.primary_types {
            let schema = knowledge.catalog().resource_type(type_name).unwrap();
            let resource = controls.resources.iter().find(|r| &r.kind == type_name);
            for (path, rule) in seccfg::knowledge::derive::recognised(library, schema) {
                let controlled = resource.is_some_and(|r| {
                    controls.controls.iter().any(|c| {
                        c.cloudformation.as_ref().is_some_and(|cfn| {
                            cfn.resource == r.id && cfn.settings.iter().any(|s| s.path.starts_with(&path))
                        })
                    })
                });
                let why = listed.contains(&(type_name.as_str(), path.as_str()));
                assert!(
                    controlled ^ why,
                    "{}: {type_name} {path} ({rule}) controlled={controlled} listed={why}",
                    service.id
                );
            }
        }
        for n in &derivation.not_derived {
            assert!(!n.reason.is_empty(), "{}: {} {} has no reason", service.id, n.resource_type, n.property);
        }
    }
}

#[test]
fn services_without_cloudformation_types_say_what_cannot_be_enforced() {
    let knowledge = common::knowledge();
    let profile = fin_prod();
    let service = knowledge
        .catalog()
        .services()
        .find(|s| knowledge.catalog().resource_types_of(s).next().is_none() && s.id == "a4b")
        .or_else(|| knowledge.catalog().services().find(|s| knowledge.catalog().resource_types_of(s).next().is_none()))
        .expect("a service without CloudFormation types");
    let outputs = run_all(&knowledge, &profile, &service.id).unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
    let md = outputs
        .iter()
        .flat_map(|(_, o)| &o.artifacts)
        .find(|a| a.name == "analysis.md")
        .map(|a| String::from_utf8_lossy(&a.bytes).to_string())
        .unwrap();
    assert!(md.contains("What cannot be enforced at deployment"), "{md}");
    assert!(md.contains("nothing can be enforced at deployment"), "{md}");
    assert!(outputs.iter().flat_map(|(_, o)| &o.artifacts).all(|a| a.name != "template.yaml"));
}

#[test]
fn derived_controls_carry_terraform_config_and_framework_mappings() {
    let knowledge = common::knowledge();
    let service = knowledge.catalog().service("docdb-elastic").or_else(|| knowledge.catalog().service("memorydb"));
    let service = service.expect("a derived service with encryption properties");
    let controls = knowledge.for_service(service).unwrap();
    assert!(controls.derived);
    let kms = controls.controls.iter().find(|c| c.title.contains("customer managed key")).expect("a KMS control");
    assert!(kms.requires.contains(&"encryption.at_rest".to_string()));
    assert!(!kms.terraform.is_empty(), "the provider schema names the argument: {kms:?}");
    let tag = controls.controls.iter().find(|c| c.title.contains("classification")).expect("a classification tag");
    assert_eq!(tag.detective.as_ref().map(|d| d.config_rule.as_str()), Some("REQUIRED_TAGS"));
}
