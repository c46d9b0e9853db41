//! Real facts from the catalog, and resolution that never guesses.

mod common;

use seccfg::catalog::{ACCESS_LEVELS, Resolution};

const PRIORITY: [&str; 30] = [
    "s3",
    "dynamodb",
    "lambda",
    "ec2",
    "rds",
    "sns",
    "sqs",
    "kms",
    "iam",
    "bedrock",
    "ecs",
    "eks",
    "apigateway",
    "cloudfront",
    "secretsmanager",
    "logs",
    "cloudwatch",
    "elasticloadbalancing",
    "states",
    "events",
    "glue",
    "athena",
    "kinesis",
    "sagemaker",
    "elasticache",
    "elasticfilesystem",
    "es",
    "cloudtrail",
    "config",
    "guardduty",
];

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
