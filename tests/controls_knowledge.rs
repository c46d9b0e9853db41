//! Reviewed control knowledge and the bundles built from it: every control file
//! loads, every priority service with a file produces a verified bundle for the
//! example profiles, and profiles change the selection the way they say.

mod common;

use std::sync::Arc;

use seccfg::input::Profile;
use seccfg::knowledge::Knowledge;
use seccfg::pipeline::{StageName, StageOutput, run_all};
use serde_json::Value;

fn profile(name: &str) -> Profile {
    Profile::from_slice(&common::example(&format!("profiles/{name}.json"))).unwrap().0
}

fn bundle(catalog: &Arc<Knowledge>, profile: &Profile, service: &str) -> Vec<(StageName, StageOutput)> {
    run_all(catalog, profile, service).unwrap_or_else(|(stage, e)| panic!("{service}: stage {stage:?} failed: {e}"))
}

fn artifact(outputs: &[(StageName, StageOutput)], name: &str) -> Vec<u8> {
    outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == name).unwrap().bytes.clone()
}

fn json_artifact(outputs: &[(StageName, StageOutput)], name: &str) -> Value {
    serde_json::from_slice(&artifact(outputs, name)).unwrap()
}

#[test]
fn every_reviewed_service_builds_a_verified_bundle_for_each_example_profile() {
    let catalog = common::knowledge();
    let services: Vec<String> = catalog.controls().services().map(|s| s.service.clone()).collect();
    for id in common::PRIORITY {
        assert!(services.iter().any(|s| s == id), "no reviewed controls for priority service {id}");
    }
    for name in ["fin-prod", "startup-dev", "health-hipaa"] {
        let profile = profile(name);
        for service in &services {
            let outputs = bundle(&catalog, &profile, service);
            let verification = json_artifact(&outputs, "verification.json");
            assert_eq!(verification["passed"], true, "{service} with {name}");
            assert!(verification["total"].as_u64().unwrap() > 0);
        }
    }
}

#[test]
fn guard_rules_are_proven_to_pass_and_to_fail_without_their_control() {
    let catalog = common::knowledge();
    let outputs = bundle(&catalog, &profile("fin-prod"), "s3");
    let verification = json_artifact(&outputs, "verification.json");
    let checks = verification["checks"].as_array().unwrap();
    let count = |kind: &str| checks.iter().filter(|c| c["check"] == kind && c["passed"] == true).count();
    let rules = String::from_utf8(artifact(&outputs, "rules.guard")).unwrap();
    let rule_count = rules.lines().filter(|l| l.starts_with("rule ")).count();
    assert!(rule_count >= 6, "{rules}");
    assert_eq!(count("guard_rule_passes"), rule_count);
    assert_eq!(count("guard_rule_fails_without_control"), rule_count);
    assert!(count("cfn_property_exists") > 10);
}

#[test]
fn fin_prod_gets_more_and_higher_priority_controls_than_startup_dev() {
    let catalog = common::knowledge();
    let prod = json_artifact(&bundle(&catalog, &profile("fin-prod"), "s3"), "analysis.json");
    let dev = json_artifact(&bundle(&catalog, &profile("startup-dev"), "s3"), "analysis.json");
    let ids = |a: &Value| -> Vec<String> {
        a["recommendations"].as_array().unwrap().iter().map(|r| r["control_id"].as_str().unwrap().to_string()).collect()
    };
    let (prod_ids, dev_ids) = (ids(&prod), ids(&dev));
    assert!(prod_ids.len() > dev_ids.len(), "{prod_ids:?} vs {dev_ids:?}");
    // Customer managed keys only when the profile asks for them.
    assert!(prod_ids.contains(&"S3-02".to_string()) && !dev_ids.contains(&"S3-02".to_string()));
    let dev_missing = dev["not_selected"].as_array().unwrap();
    assert!(dev_missing.iter().any(|n| n["control_id"] == "S3-02"
        && n["missing"].as_array().unwrap().contains(&"encryption.customer_managed_keys".into())));
    let priority = |a: &Value, id: &str| {
        a["recommendations"].as_array().unwrap().iter().find(|r| r["control_id"] == id).unwrap()["priority"].clone()
    };
    // Confidential data raises encryption; a low-risk profile lowers it.
    assert_eq!(priority(&prod, "S3-01"), "critical");
    assert_eq!(priority(&dev, "S3-01"), "medium");
    // Rationales quote the profile's own facts.
    let s3_02 = prod["recommendations"].as_array().unwrap().iter().find(|r| r["control_id"] == "S3-02").unwrap();
    assert!(s3_02["rationale"].as_str().unwrap().contains("customer managed keys"), "{s3_02}");
}

#[test]
fn templates_use_parameters_not_account_ids_or_regions() {
    let catalog = common::knowledge();
    let outputs = bundle(&catalog, &profile("fin-prod"), "s3");
    let template = String::from_utf8(artifact(&outputs, "template.yaml")).unwrap();
    for account in ["111122223333", "444455556666", "us-east-1", "us-west-2"] {
        assert!(!template.contains(account), "template hard-codes {account}");
    }
    assert!(template.contains("AWS::KMS::Key") && template.contains("EnableKeyRotation: true"));
    let tf = String::from_utf8(artifact(&outputs, "main.tf")).unwrap();
    assert!(tf.contains("resource \"aws_s3_bucket_versioning\" \"bucket\""), "{tf}");
    assert!(tf.contains("\"version\" = \"= "), "provider version is pinned: {tf}");
}

#[test]
fn a_service_without_reviewed_controls_gets_derived_controls_that_pass_the_same_checks() {
    let catalog = common::knowledge();
    assert!(catalog.controls().service("appsync").is_none());
    let outputs = bundle(&catalog, &profile("fin-prod"), "appsync");
    let analysis = json_artifact(&outputs, "analysis.json");
    assert_eq!(analysis["controls_source"], "derived");
    assert!(!analysis["recommendations"].as_array().unwrap().is_empty());
    assert_eq!(json_artifact(&outputs, "verification.json")["passed"], true);
}

#[test]
fn scps_are_valid_json_under_the_size_limit() {
    let catalog = common::knowledge();
    let outputs = bundle(&catalog, &profile("fin-prod"), "s3");
    let scp = json_artifact(&outputs, "scp-1.json");
    assert_eq!(scp["Version"], "2012-10-17");
    assert!(serde_json::to_string(&scp).unwrap().len() <= 5_120);
}

#[test]
fn log_retention_follows_the_profile_rounded_to_a_period_cloudwatch_accepts() {
    let catalog = common::knowledge();
    let template =
        |p: &str| String::from_utf8(artifact(&bundle(&catalog, &profile(p), "logs"), "template.yaml")).unwrap();
    // fin-prod keeps logs 400 days, an accepted period; startup-dev states none, so the file's default holds.
    assert!(template("fin-prod").contains("RetentionInDays: 400"));
    assert!(template("startup-dev").contains("RetentionInDays: 365"));
}
