//! AWS Config rule scopes mean what they say: every rule a bundle deploys is scoped to AWS
//! Config resource types (botocore's ResourceType enum) that the rule evaluates and that
//! include the type of the resource its control checks — over every control of every
//! reviewed service, over every catalog service's bundle, and with known answers for the
//! rules that were once scoped wrongly. A wrong scope must fail verification.

mod common;

use seccfg::catalog::Catalog;
use seccfg::input::Profile;
use seccfg::knowledge::{ControlDef, Knowledge, ServiceControls};
use seccfg::pipeline::checks::Checks;
use seccfg::pipeline::controls::verify;
use seccfg::pipeline::{StageName, run_all};
use seccfg::render::detective::{self, ConfigRuleSpec};
use serde_json::Value;

fn all_rules(catalog: &Catalog, service: &ServiceControls) -> Vec<ConfigRuleSpec> {
    let controls: Vec<&ControlDef> = service.controls.iter().collect();
    detective::config_rules(catalog, service, &controls)
}

fn failures(catalog: &Catalog, rules: &[ConfigRuleSpec]) -> Vec<String> {
    let mut checks = Checks::default();
    verify::scopes(catalog, rules, &mut checks);
    checks.failed().map(|c| format!("{} {}: {}", c.check, c.subject, c.detail)).collect()
}

#[test]
fn every_reviewed_control_deploys_a_config_rule_whose_scope_is_verified() {
    let knowledge = common::knowledge();
    let catalog = knowledge.catalog();
    let mut deployed = 0;
    let mut failed = Vec::new();
    for service in knowledge.controls().services() {
        let rules = all_rules(catalog, service);
        deployed += rules.len();
        failed.extend(failures(catalog, &rules));
        for rule in &rules {
            for t in &rule.scope {
                assert!(catalog.config_resource_type_supported(t), "{} scoped to {t}", rule.control_id);
            }
            if let Some(t) = &rule.evaluates {
                let periodic = rule.trigger.as_deref() == Some("periodic");
                assert!(periodic || rule.scope.contains(t), "{}: scope {:?} misses {t}", rule.control_id, rule.scope);
            }
        }
    }
    assert!(deployed > 80, "only {deployed} Config rules over all reviewed controls");
    assert!(failed.is_empty(), "{} wrong scopes:\n{}", failed.len(), failed.join("\n"));
}

#[test]
fn every_catalog_service_bundle_passes_the_scope_checks() {
    let knowledge = common::knowledge();
    let catalog = knowledge.catalog();
    let profile = Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0;
    let mut rules = 0;
    for identity in catalog.services() {
        // Scopes are verified in the controls stage; a service whose bundle stops earlier
        // (nothing to derive controls from) deploys no rule.
        let outputs = match run_all(&knowledge, &profile, &identity.id) {
            Ok(outputs) => outputs,
            Err((StageName::Collect | StageName::Analyze, _)) => continue,
            Err((stage, e)) => panic!("{}: stage {stage:?} failed: {e}", identity.id),
        };
        let controls = outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == "controls.json").unwrap();
        let doc: Value = serde_json::from_slice(&controls.bytes).unwrap();
        for rule in doc["config_rules"].as_array().unwrap() {
            rules += 1;
            for t in rule["scope"].as_array().unwrap() {
                assert!(catalog.config_resource_type_supported(t.as_str().unwrap()), "{}: {rule}", identity.id);
            }
        }
        let verification = outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == "verification.json");
        let verification: Value = serde_json::from_slice(&verification.unwrap().bytes).unwrap();
        let text = verification.to_string();
        let scope_checks =
            text.matches("config_rule_scope_reviewed").count() + text.matches("config_rule_unscoped").count();
        assert!(
            scope_checks >= doc["config_rules"].as_array().unwrap().len(),
            "{}: scope checks recorded",
            identity.id
        );
    }
    assert!(rules > 0);
}

fn deployed_scope(knowledge: &Knowledge, service: &str, rule: &str) -> Vec<String> {
    let catalog = knowledge.catalog();
    let controls = knowledge.controls().service(service).unwrap();
    let spec = all_rules(catalog, controls).into_iter().find(|r| r.source_identifier == rule);
    spec.unwrap_or_else(|| panic!("{service} deploys no {rule}")).scope
}

#[test]
fn rules_once_scoped_to_what_they_never_evaluate_are_scoped_to_the_checked_resource() {
    let knowledge = common::knowledge();
    let expected = [
        ("s3", "S3_BUCKET_SSL_REQUESTS_ONLY", "AWS::S3::Bucket"),
        ("apigateway", "API_GW_ASSOCIATED_WITH_WAF", "AWS::ApiGateway::Stage"),
        ("elasticloadbalancing", "ALB_WAF_ENABLED", "AWS::ElasticLoadBalancingV2::LoadBalancer"),
        ("es", "OPENSEARCH_ENCRYPTED_AT_REST", "AWS::OpenSearch::Domain"),
        ("es", "OPENSEARCH_IN_VPC_ONLY", "AWS::OpenSearch::Domain"),
        ("ecs", "ECS_CONTAINERS_NONPRIVILEGED", "AWS::ECS::TaskDefinition"),
        ("lambda", "LAMBDA_FUNCTION_PUBLIC_ACCESS_PROHIBITED", "AWS::Lambda::Function"),
        ("ec2", "ENCRYPTED_VOLUMES", "AWS::EC2::Volume"),
    ];
    for (service, rule, scope) in expected {
        assert_eq!(deployed_scope(&knowledge, service, rule), vec![scope.to_string()], "{service} {rule}");
    }
    // Periodic rules take no scope.
    assert!(deployed_scope(&knowledge, "kms", "KMS_CMK_NOT_SCHEDULED_FOR_DELETION").is_empty());
    assert!(deployed_scope(&knowledge, "cloudtrail", "MULTI_REGION_CLOUD_TRAIL_ENABLED").is_empty());
}

#[test]
fn a_rule_checking_a_resource_it_cannot_evaluate_fails_verification() {
    let knowledge = common::knowledge();
    let catalog = knowledge.catalog();
    let mut s3 = knowledge.controls().service("s3").unwrap().clone();
    // Without `detective.resource: Bucket` the SSL rule would check the bucket policy.
    let ssl = s3.controls.iter_mut().find(|c| c.id == "S3-03").unwrap();
    ssl.detective.as_mut().unwrap().resource = None;
    let failed = failures(catalog, &all_rules(catalog, &s3));
    assert!(failed.iter().any(|f| f.contains("S3-03") && f.contains("AWS::S3::BucketPolicy")), "{failed:?}");

    // A rule scoped to a CloudFormation-only name fails, as does one without a reviewed scope.
    let mut rules = all_rules(catalog, knowledge.controls().service("es").unwrap());
    rules[0].scope = vec!["AWS::OpenSearchService::Domain".into()];
    assert!(!failures(catalog, &rules).is_empty());
    let mut rules = all_rules(catalog, knowledge.controls().service("s3").unwrap());
    rules[0].source_identifier = "S3_BUCKET_PUBLIC_READ_PROHIBITED_UNREVIEWED".into();
    rules[1].source_identifier =
        catalog.config_rules().find(|r| !r.reviewed() && !r.resource_types.is_empty()).map(|r| r.id.clone()).unwrap();
    let failed = failures(catalog, &rules);
    assert!(failed.iter().any(|f| f.starts_with("config_rule_scope_reviewed")), "{failed:?}");
}

#[test]
fn catalog_scopes_are_config_types_with_a_basis() {
    let knowledge = common::knowledge();
    let catalog = knowledge.catalog();
    for rule in catalog.config_rules() {
        if rule.resource_types.is_empty() {
            assert!(rule.resource_types_basis.is_none(), "{}", rule.id);
            continue;
        }
        assert!(rule.resource_types_basis.is_some(), "{} has types without a basis", rule.id);
        if !rule.periodic() {
            for t in &rule.resource_types {
                assert!(catalog.config_resource_type_supported(t), "{}: {t} is not a Config type", rule.id);
            }
        }
    }
    // cdk-nag's inspected CloudFormation types are kept as hints, never as the scope.
    let ssl = catalog.config_rule("S3_BUCKET_SSL_REQUESTS_ONLY").unwrap();
    assert!(ssl.inspected_cloudformation_types.contains(&"AWS::S3::BucketPolicy".to_string()));
    assert_eq!(ssl.resource_types, vec!["AWS::S3::Bucket".to_string()]);
    // A documentation link copied from another rule no longer names the rule.
    let ecs = catalog.config_rule("ECS_CONTAINERS_NONPRIVILEGED").unwrap();
    assert_ne!(ecs.name.as_deref(), Some("ec2-instances-in-vpc"));
    assert_eq!(catalog.config_type_of("AWS::OpenSearchService::Domain"), "AWS::OpenSearch::Domain");
}

#[test]
fn every_bundle_that_creates_a_kms_key_rotates_it_guards_it_and_watches_for_its_deletion() {
    let knowledge = common::knowledge();
    let mut with_key = 0;
    for name in ["fin-prod", "startup-dev"] {
        let profile = Profile::from_slice(&common::example(&format!("profiles/{name}.json"))).unwrap().0;
        for identity in knowledge.catalog().services() {
            let Ok(outputs) = run_all(&knowledge, &profile, &identity.id) else { continue };
            let artifact = |n: &str| outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == n).unwrap();
            let Some(template) = outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == "template.yaml")
            else {
                continue;
            };
            let template: Value = yaml_serde::from_slice(&template.bytes).unwrap();
            let keys: Vec<(&String, &Value)> = template["Resources"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(_, r)| r["Type"] == "AWS::KMS::Key")
                .collect();
            if keys.is_empty() {
                continue;
            }
            with_key += 1;
            let subject = format!("{} with {name}", identity.id);
            for (id, key) in &keys {
                assert_eq!(key["Properties"]["EnableKeyRotation"], true, "{subject}: {id}");
                assert!(key["Properties"]["PendingWindowInDays"].as_u64().is_some_and(|d| d >= 7), "{subject}: {id}");
            }
            let controls: Value = serde_json::from_slice(&artifact("controls.json").bytes).unwrap();
            let watching: Vec<&Value> = controls["config_rules"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["source_identifier"] == "KMS_CMK_NOT_SCHEDULED_FOR_DELETION")
                .collect();
            assert!(!watching.is_empty(), "{subject}: no KMS_CMK_NOT_SCHEDULED_FOR_DELETION");
            let guard = String::from_utf8(artifact("rules.guard").bytes.clone()).unwrap();
            assert!(guard.contains("AWS::KMS::Key") && guard.contains("EnableKeyRotation"), "{subject}: no Guard rule");
            let tf = String::from_utf8(artifact("main.tf").bytes.clone()).unwrap();
            assert!(!tf.contains("aws_kms_key") || tf.contains("enable_key_rotation"), "{subject}: Terraform key");
        }
    }
    assert!(with_key > 20, "only {with_key} bundles create a key");
}
