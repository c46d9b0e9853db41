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
    for f in ["manifest.json", "iam.json", "services.json"] {
        std::fs::copy(common::repo("data").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("services.json"), b"{}").unwrap();
    let err = seccfg::catalog::Catalog::load(dir.path(), &common::repo("knowledge")).err().expect("must fail");
    assert!(err.to_string().contains("services.json"), "{err}");
    std::fs::remove_file(dir.path().join("iam.json")).unwrap();
    let err = seccfg::catalog::Catalog::load(dir.path(), &common::repo("knowledge")).err().expect("must fail");
    assert!(err.to_string().contains("iam.json"), "{err}");
}
