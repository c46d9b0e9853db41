//! Real facts from the catalog, and resolution that never guesses.

mod common;

use seccfg::catalog::{ACCESS_LEVELS, Resolution};
use sha2::Digest;

use common::PRIORITY;

fn resolves(name: &str) -> String {
    match common::catalog().resolve(name) {
        Resolution::Resolved(id) => id,
        other => panic!("'{name}' should resolve, got {other:?}"),
    }
}

#[test]
fn priority_services_resolve_with_actions_and_resource_types() {
    let catalog = common::catalog();
    for id in PRIORITY {
        assert_eq!(resolves(id), id);
        let iam = catalog.iam(id).unwrap_or_else(|| panic!("{id} has IAM facts"));
        assert!(!iam.actions.is_empty(), "{id} has actions");
        assert!(!iam.resource_types.is_empty(), "{id} has resource types");
    }
}

#[test]
fn names_people_use_resolve_to_the_right_service() {
    for (name, id) in [
        ("Amazon SES", "ses"),
        ("Amazon Q", "q"),
        ("Amazon SNS", "sns"),
        ("Amazon S3", "s3"),
        ("Amazon Simple Storage Service", "s3"),
        ("s3", "s3"),
        ("  amazon   s3 ", "s3"),
        ("EventBridge", "events"),
        ("Gateway Load Balancer", "elasticloadbalancing"),
        ("Application Load Balancer", "elasticloadbalancing"),
        ("ELB", "elasticloadbalancing"),
        ("Step Functions", "states"),
        ("KMS", "kms"),
        ("Lambda Functions", "lambda"),
        ("AWS Lambda", "lambda"),
        ("DynamoDB", "dynamodb"),
        ("OpenSearch", "es"),
        ("Amazon Bedrock", "bedrock"),
    ] {
        assert_eq!(resolves(name), id, "{name}");
    }
}

#[test]
fn near_misses_are_rejected_with_suggestions() {
    let catalog = common::catalog();
    for name in ["Amazon S4", "Dynamo", "Lamda", "Simple Storage", "EventBridges"] {
        match catalog.resolve(name) {
            Resolution::Unknown(suggestions) => {
                assert!(!suggestions.is_empty() && suggestions.len() <= 5, "{name}: {suggestions:?}");
                assert!(suggestions.windows(2).all(|w| w[0].score >= w[1].score), "ranked");
            }
            other => panic!("'{name}' must not resolve, got {other:?}"),
        }
    }
    let Resolution::Unknown(s) = catalog.resolve("Amazon S4") else { unreachable!() };
    assert!(s.iter().any(|x| x.id == "s3"), "{s:?}");
}

#[test]
fn access_levels_and_catalog_version_are_well_formed() {
    let catalog = common::catalog();
    assert_eq!(catalog.version().len(), 16);
    let mut actions = 0;
    for svc in catalog.services() {
        if let Some(iam) = catalog.iam(&svc.iam_prefix) {
            for (name, action) in &iam.actions {
                assert!(
                    ACCESS_LEVELS.contains(&action.access_level.as_str()),
                    "{}:{name} {}",
                    svc.id,
                    action.access_level
                );
                actions += 1;
            }
        }
    }
    assert!(actions > 10_000, "{actions} actions");
    assert!(catalog.action("s3:GetObject").is_some());
    assert!(catalog.action("S3:getobject").is_some(), "IAM action names are case-insensitive");
    assert!(catalog.action("s3:GetObjects").is_none());
}

#[test]
fn every_iam_service_and_cloudformation_schema_parses() {
    // Entries are parsed on first use; `serve` parses them all at start.
    common::catalog().parse_all().expect("every entry of iam.json and cfn.json parses");
}

#[test]
fn a_tampered_data_file_fails_loading_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["manifest.json", "iam.json", "services.json", "cfn.json"] {
        std::fs::copy(common::repo("data").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("services.json"), b"{}").unwrap();
    let err = seccfg::catalog::Catalog::load(dir.path(), &common::repo("knowledge")).err().expect("must fail");
    assert!(err.to_string().contains("services.json"), "{err}");
    std::fs::remove_file(dir.path().join("iam.json")).unwrap();
    let err = seccfg::catalog::Catalog::load(dir.path(), &common::repo("knowledge")).err().expect("must fail");
    assert!(err.to_string().contains("iam.json"), "{err}");
}

#[test]
fn cloudformation_schemas_are_loaded_and_linked_to_services() {
    let catalog = common::catalog();
    let bucket = catalog.resource_type("AWS::S3::Bucket").expect("S3 bucket schema");
    assert!(bucket.properties.contains_key("BucketEncryption"));
    assert_eq!(bucket.taggable, Some(true));
    assert!(bucket.handlers["create"].iter().any(|a| a == "s3:CreateBucket"));
    // Schemas name some API operations that are not IAM actions (e.g. s3:PutBucketReplication,
    // whose IAM action is s3:PutReplicationConfiguration); the iam stage must drop and report those.
    let (known, unknown): (Vec<&String>, Vec<&String>) =
        bucket.handlers.values().flatten().filter(|a| a.starts_with("s3:")).partition(|a| catalog.action(a).is_some());
    assert!(unknown.iter().any(|a| *a == "s3:PutBucketReplication"), "{unknown:?}");
    assert!(known.len() >= 3 * unknown.len(), "most handler permissions are IAM actions: {unknown:?}");
    let s3 = catalog.service("s3").unwrap();
    let types: Vec<&String> = catalog.resource_types_of(s3).map(|(n, _)| n).collect();
    assert!(types.contains(&&"AWS::S3::Bucket".to_string()));
    assert!(types.iter().all(|t| t.starts_with("AWS::S3::")), "no S3Express/S3Outposts leakage: {types:?}");
    let elb = catalog.service("elasticloadbalancing").unwrap();
    assert!(catalog.resource_types_of(elb).any(|(n, _)| n == "AWS::ElasticLoadBalancingV2::LoadBalancer"));
    assert!(catalog.resource_type("AWS::S3::Bucket2").is_none());
}

#[test]
fn config_rules_are_unique_upper_snake_case_and_mapped_to_resource_types() {
    let catalog = common::catalog();
    let rules: Vec<_> = catalog.config_rules().collect();
    assert!(rules.len() > 250, "{} rules", rules.len());
    for rule in &rules {
        assert!(
            !rule.id.is_empty() && rule.id.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{}",
            rule.id
        );
    }
    let ids: std::collections::BTreeSet<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids.len(), rules.len(), "ids are unique");
    let sse = catalog.config_rule("S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED").expect("rule exists");
    assert!(sse.resource_types.iter().any(|t| t == "AWS::S3::Bucket"), "{sse:?}");
    let ssl = catalog.config_rule("S3_BUCKET_SSL_REQUESTS_ONLY").expect("rule exists");
    assert_eq!(ssl.resource_types_basis.as_deref(), Some("reviewed"));
    assert_eq!(ssl.resource_types, vec!["AWS::S3::Bucket".to_string()], "Config evaluates the bucket, not its policy");
    assert!(catalog.config_rule("S3_BUCKET_SERVER_SIDE_ENCRYPTION").is_none());
    assert!(catalog.config_resource_type_supported("AWS::S3::Bucket"));
    assert!(!catalog.config_resource_type_supported("AWS::S3::Bucket2"));
}

#[test]
fn config_rules_and_security_hub_controls_are_found_per_service() {
    let catalog = common::catalog();
    let s3 = catalog.service("s3").unwrap();
    let rules = catalog.config_rules_for_service(s3);
    assert!(rules.iter().any(|r| r.id == "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED"));
    // Rules of one service, and the cross-service tag rule, which evaluates buckets too.
    assert!(
        rules.iter().all(|r| r.id.starts_with("S3_") || r.id == "REQUIRED_TAGS"),
        "{:?}",
        rules.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    let elb = catalog.service("elasticloadbalancing").unwrap();
    assert!(catalog.config_rules_for_service(elb).iter().any(|r| r.id == "ELB_LOGGING_ENABLED"));
    let controls = catalog.security_hub_controls_for_service(elb);
    assert!(controls.iter().any(|c| c.id.starts_with("ELB.")), "ELB family maps to elasticloadbalancing");
    let s3_controls = catalog.security_hub_controls_for_service(s3);
    assert!(s3_controls.iter().all(|c| c.id.starts_with("S3.")));
    let position = |id: &str| s3_controls.iter().position(|c| c.id == id);
    assert!(position("S3.9") < position("S3.10"), "controls sort by number");
    for id in ["S3.1", "KMS.4"] {
        let control = catalog.security_hub_control(id).unwrap_or_else(|| panic!("{id} exists"));
        assert!(control.severity.is_some(), "{id} has a severity");
        assert!(!control.prowler_checks.is_empty(), "{id} has prowler checks");
    }
    assert!(catalog.security_hub_control("S3.999").is_none());
}

#[test]
fn every_framework_has_requirements_mapped_to_prowler_checks() {
    use seccfg::input::Framework;
    let catalog = common::catalog();
    let check = catalog.prowler_check("s3_bucket_default_encryption").expect("prowler check");
    assert_eq!((check.service.as_str(), check.resource_type.as_deref()), ("s3", Some("AwsS3Bucket")));
    for framework in Framework::ALL {
        let facts = catalog.framework(framework).unwrap_or_else(|| panic!("{framework:?} loaded"));
        assert!(facts.requirement_count() > 10, "{framework:?}: {}", facts.requirement_count());
        let s3_requirement = facts.requirements.iter().find(|(_, checks)| checks.iter().any(|c| c.starts_with("s3_")));
        let (requirement, checks) = s3_requirement.unwrap_or_else(|| panic!("{framework:?} maps an S3 check"));
        let s3_check = checks.iter().find(|c| c.starts_with("s3_")).unwrap();
        assert!(catalog.framework_requirements_for_check(framework, s3_check).contains(&requirement.as_str()));
    }
    assert!(catalog.framework_requirements_for_check(Framework::Hipaa, "no_such_check").is_empty());
}

#[test]
fn checkov_checks_name_their_frameworks_and_resource_types() {
    let catalog = common::catalog();
    let check = catalog.checkov_check("CKV_AWS_19").expect("CKV_AWS_19");
    assert_eq!(check.frameworks, ["cloudformation", "terraform"]);
    assert!(check.resource_types.iter().any(|t| t == "aws_s3_bucket"));
    assert!(check.resource_types.iter().any(|t| t == "AWS::S3::Bucket"));
    let graph = catalog.checkov_check("CKV2_AWS_6").expect("graph check");
    assert!(graph.resource_types.iter().any(|t| t == "aws_s3_bucket_public_access_block"));
    assert!(catalog.checkov_check("CKV_AWS_0").is_none());
}

#[test]
fn terraform_resources_have_argument_and_nested_block_paths() {
    let catalog = common::catalog();
    assert!(catalog.terraform_provider_version().starts_with("6."));
    let sse = catalog.terraform_resource("aws_s3_bucket_server_side_encryption_configuration").expect("resource");
    assert!(sse.has_path(&["rule", "apply_server_side_encryption_by_default", "sse_algorithm"]));
    assert!(sse.has_path(&["rule"]));
    assert!(sse.has_path(&["bucket"]));
    assert!(!sse.has_path(&["rule", "sse_algorithm"]));
    assert!(!sse.has_path(&[]));
    assert!(catalog.terraform_resource("aws_s3_bucket").unwrap().has_path(&["versioning", "enabled"]));
    let prefixes = |id: &str| catalog.service(id).unwrap().terraform_prefixes.clone();
    assert_eq!(prefixes("s3"), ["aws_s3_"]);
    assert!(["aws_lb", "aws_alb", "aws_elb"].iter().all(|p| prefixes("elasticloadbalancing").contains(&p.to_string())));
    assert!(prefixes("dynamodb").contains(&"aws_dynamodb_".to_string()));
    let elb = catalog.service("elasticloadbalancing").unwrap();
    let elb_types: Vec<&String> = catalog.terraform_resources_of(elb).collect();
    assert!(elb_types.iter().any(|t| *t == "aws_lb_listener"));
    let logs = catalog.service("logs").unwrap();
    assert!(catalog.terraform_resources_of(logs).any(|t| t == "aws_cloudwatch_log_group"));
    let cloudwatch = catalog.service("cloudwatch").unwrap();
    assert!(catalog.terraform_resources_of(cloudwatch).all(|t| !t.starts_with("aws_cloudwatch_log_")));
}

#[test]
fn a_missing_or_corrupt_new_data_file_fails_loading_with_its_name() {
    for name in ["config.json", "securityhub.json", "compliance.json", "checkov.json", "terraform.json"] {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(common::repo("data")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
        std::fs::write(dir.path().join(name), b"{\"corrupt\":").unwrap();
        let err = seccfg::catalog::Catalog::load(dir.path(), &common::repo("knowledge")).err().expect("must fail");
        assert!(err.to_string().contains(name), "{err}");
        std::fs::remove_file(dir.path().join(name)).unwrap();
        let err = seccfg::catalog::Catalog::load(dir.path(), &common::repo("knowledge")).err().expect("must fail");
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn services_are_linked_from_data_with_the_basis_of_every_link() {
    let catalog = common::catalog();
    // Handler permissions and namespaces link most prefixes to CloudFormation types.
    assert!(catalog.services_linked_to_cloudformation() >= 280, "{}", catalog.services_linked_to_cloudformation());
    let es = catalog.service("es").unwrap();
    let links = catalog.links(es);
    assert!(links.cloudformation_types["AWS::OpenSearchService::Domain"].starts_with("handler"));
    // Config records the OpenSearch Service domain under another name.
    assert_eq!(catalog.config_resource_type("AWS::OpenSearchService::Domain"), Some("AWS::OpenSearch::Domain"));
    assert_eq!(catalog.config_resource_type("AWS::S3::Bucket"), Some("AWS::S3::Bucket"));
    assert!(catalog.terraform_resources_of(es).any(|t| t == "aws_opensearch_domain"));
    let rules = catalog.config_rules_for_service(es);
    assert!(rules.iter().any(|r| r.id == "OPENSEARCH_ENCRYPTED_AT_REST"), "{rules:?}");
    assert!(catalog.security_hub_controls_for_service(es).iter().any(|c| c.id.starts_with("OpenSearch.")));
    // A service outside the reviewed 30 gets the same links from data alone.
    let cognito = catalog.service("cognito-idp").unwrap();
    assert!(catalog.resource_types_of(cognito).any(|(t, _)| t == "AWS::Cognito::UserPool"));
    assert!(catalog.terraform_resources_of(cognito).any(|t| t == "aws_cognito_user_pool"));
    assert_eq!(catalog.service_of_resource_type("AWS::Cognito::IdentityPool").unwrap().id, "cognito-identity");
    // Every link has a basis, and only types of the IAM catalog's prefixes are linked.
    for service in catalog.services() {
        let l = catalog.links(service);
        let bases = l.cloudformation_types.values().chain(l.terraform_types.values()).chain(l.config_rules.values());
        for basis in bases.chain(l.security_hub_controls.values()) {
            assert!(!basis.is_empty(), "{}", service.id);
        }
        for t in l.cloudformation_types.keys() {
            assert!(catalog.resource_type(t).is_some(), "{t}");
        }
    }
    // Types no prefix owns are reported with the reason, not silently dropped.
    assert!(catalog.unlinked_resource_types().values().all(|why| !why.is_empty()));
}

#[test]
fn a_catalog_id_always_resolves_to_itself() {
    let catalog = common::catalog();
    for id in ["resource-explorer", "resource-explorer-2", "opensearch", "es", "execute-api", "apigateway"] {
        assert_eq!(resolves(id), id);
    }
    for service in catalog.services() {
        assert_eq!(catalog.resolve(&service.id), Resolution::Resolved(service.id.clone()));
    }
}

#[test]
fn the_links_were_refreshed_after_the_last_change_to_the_exceptions() {
    // scripts/refresh-catalog records the hash of knowledge/aliases.json it applied.
    let catalog = common::catalog();
    let aliases = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/knowledge/aliases.json")).unwrap();
    let actual = hex::encode(sha2::Sha256::digest(&aliases));
    let recorded = catalog
        .manifest
        .sources
        .iter()
        .find(|s| s["package"] == "knowledge/aliases.json")
        .map(|s| s["files"]["knowledge/aliases.json"]["sha256"].clone());
    assert_eq!(recorded, Some(serde_json::json!(actual)), "run scripts/refresh-catalog");
    let text: serde_json::Value = serde_json::from_slice(&aliases).unwrap();
    for (section, entries) in text.as_object().unwrap().iter().filter(|(k, _)| !k.starts_with('_')) {
        for (key, entry) in entries.as_object().unwrap() {
            let reason = entry["reason"].as_str().unwrap_or_default();
            assert!(reason.len() > 10, "{section}.{key} needs a one-line reason");
        }
    }
}
