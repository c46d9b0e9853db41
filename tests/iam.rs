//! The `iam` stage: least-privilege personas, guardrails and their verification, on the
//! example profiles and every priority service.

mod common;

use std::collections::BTreeSet;

use seccfg::catalog::Catalog;
use seccfg::input::Profile;
use seccfg::knowledge::iam::IamKnowledge;
use seccfg::pipeline::contracts::IacOutput;
use seccfg::pipeline::{Artifact, StageInput, StageName, StageOutput, run_stage};
use serde_json::{Value, json};

use common::PRIORITY;

fn iam_knowledge() -> &'static IamKnowledge {
    static K: std::sync::OnceLock<std::sync::Arc<seccfg::knowledge::Knowledge>> = std::sync::OnceLock::new();
    K.get_or_init(common::knowledge).iam()
}

fn profile(name: &str) -> Profile {
    Profile::from_slice(&common::example(&format!("profiles/{name}.json"))).unwrap().0
}

fn run_with(service: &str, profile: &Profile, previous: &[(StageName, Value)]) -> StageOutput {
    let knowledge = common::knowledge();
    let input = StageInput { knowledge: &knowledge, profile, service_id: service, service_name: service, previous };
    run_stage(StageName::Iam, &input).unwrap_or_else(|e| panic!("{service}: {e}"))
}

fn run(service: &str, profile_name: &str) -> StageOutput {
    run_with(service, &profile(profile_name), &[])
}

fn artifact(out: &StageOutput, name: &str) -> Value {
    let a = out.artifacts.iter().find(|a| a.name == name).unwrap_or_else(|| panic!("no artifact {name}"));
    serde_json::from_slice(&a.bytes).unwrap()
}

/// Every document of one persona (or the guardrails), split parts included.
fn documents<'a>(out: &'a StageOutput, stem: &str) -> Vec<&'a Artifact> {
    out.artifacts
        .iter()
        .filter(|a| {
            a.name == format!("{stem}.json")
                || a.name
                    .strip_prefix(&format!("{stem}-"))
                    .is_some_and(|r| r.trim_end_matches(".json").parse::<u32>().is_ok())
        })
        .collect()
}

fn statements(out: &StageOutput, stem: &str) -> Vec<Value> {
    documents(out, stem)
        .into_iter()
        .flat_map(|a| serde_json::from_slice::<Value>(&a.bytes).unwrap()["Statement"].as_array().unwrap().clone())
        .collect()
}

fn actions(out: &StageOutput, stem: &str) -> BTreeSet<String> {
    statements(out, stem)
        .iter()
        .flat_map(|s| {
            s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn s3_deployer_has_exactly_the_iam_valid_handler_permissions_of_the_templates_types() {
    let catalog = common::catalog();
    let types = ["AWS::S3::Bucket", "AWS::S3::BucketPolicy", "AWS::KMS::Key"];
    let iac = IacOutput {
        resource_types: types.iter().map(|t| t.to_string()).collect(),
        terraform_resource_types: vec![],
        service_roles: vec![],
        checks: Default::default(),
    };
    let previous = vec![(StageName::Iac, serde_json::to_value(&iac).unwrap())];
    let out = run_with("s3", &profile("fin-prod"), &previous);
    let granted = actions(&out, "iam-policy-deployer");

    let documented = &iam_knowledge().deployer.cross_service;
    let mut expected = BTreeSet::new();
    for t in types {
        let rt = catalog.resource_type(t).unwrap();
        for handler in ["create", "read", "update", "delete"] {
            for p in rt.handlers.get(handler).into_iter().flatten() {
                let Some((name, _)) = catalog.action(p) else { continue };
                let prefix = p.split_once(':').unwrap().0.to_ascii_lowercase();
                let own = prefix == "s3" || prefix == "kms";
                if own
                    || documented.actions.contains_key(&format!("{prefix}:{name}"))
                    || documented.prefixes.contains_key(&prefix)
                {
                    expected.insert(format!("{prefix}:{name}"));
                }
            }
        }
    }
    assert_eq!(granted, expected);
    assert!(
        granted.contains("iam:PassRole") && granted.contains("s3:CreateBucket") && granted.contains("kms:CreateKey")
    );
    assert!(!granted.contains("s3:PutBucketReplication"), "an API name, not an IAM action");
    assert!(granted.iter().all(|a| ["s3:", "kms:", "iam:PassRole"].iter().any(|ok| a.starts_with(ok))), "{granted:?}");

    let model = artifact(&out, "iam-model.json");
    let dropped: Vec<&str> = model["deployer"]["handlers"]["dropped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["permission"].as_str().unwrap())
        .collect();
    assert!(dropped.contains(&"s3:PutBucketReplication"), "{dropped:?}");
    assert!(dropped.iter().any(|d| d.starts_with("s3tables:")), "undeployed service's actions are reported");
    assert_eq!(model["deployer"]["resource_types_source"], "iac");

    let pass_role =
        statements(&out, "iam-policy-deployer").into_iter().find(|s| s["Action"] == json!(["iam:PassRole"])).unwrap();
    assert_eq!(pass_role["Condition"]["StringEquals"]["iam:PassedToService"], json!(["s3.amazonaws.com"]));
    assert_ne!(pass_role["Resource"], json!(["*"]));
}

#[test]
fn auditor_and_operator_never_read_stored_data() {
    for (service, data) in [
        ("s3", vec!["s3:GetObject", "s3:GetObjectVersion"]),
        ("dynamodb", vec!["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:BatchGetItem"]),
        ("secretsmanager", vec!["secretsmanager:GetSecretValue"]),
        ("sqs", vec!["sqs:ReceiveMessage"]),
        ("kms", vec!["kms:Decrypt"]),
        ("kinesis", vec!["kinesis:GetRecords"]),
        ("logs", vec!["logs:GetLogEvents", "logs:FilterLogEvents"]),
    ] {
        let out = run(service, "fin-prod");
        for persona in ["auditor", "operator"] {
            let granted = actions(&out, &format!("iam-policy-{persona}"));
            for a in &data {
                assert!(!granted.contains(*a), "{persona} of {service} has {a}");
            }
        }
    }
    let auditor = actions(&run("s3", "fin-prod"), "iam-policy-auditor");
    assert!(auditor.contains("s3:GetBucketPolicy") && auditor.contains("s3:ListAllMyBuckets"));
    assert!(!auditor.iter().any(|a| a.starts_with("s3:Put") || a.starts_with("s3:Delete")));
}

fn break_glass(out: &StageOutput) -> Vec<Value> {
    statements(out, "iam-policy-administrator")
        .into_iter()
        .filter(|s| s["Condition"]["Bool"]["aws:MultiFactorAuthPresent"] == "true")
        .collect()
}

#[test]
fn mfa_break_glass_follows_the_profile() {
    let fin = run("s3", "fin-prod");
    let glass = break_glass(&fin);
    assert!(!glass.is_empty(), "fin-prod requires MFA");
    let glass_actions: BTreeSet<&str> =
        glass.iter().flat_map(|s| s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap())).collect();
    assert!(glass_actions.contains("s3:PutBucketPolicy") && glass_actions.contains("s3:DeleteBucket"));
    // Outside break-glass, the administrator has no permissions management.
    let unguarded: BTreeSet<String> = statements(&fin, "iam-policy-administrator")
        .iter()
        .filter(|s| s["Condition"].is_null())
        .flat_map(|s| {
            s["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect::<Vec<_>>()
        })
        .collect();
    assert!(!unguarded.contains("s3:PutBucketPolicy") && !unguarded.contains("s3:GetObject"));
    assert!(unguarded.contains("s3:PutBucketVersioning"));

    assert!(break_glass(&run("s3", "startup-dev")).is_empty(), "startup-dev does not require MFA");
}

#[test]
fn guardrails_follow_the_profile() {
    let fin = run("s3", "fin-prod");
    let scp = statements(&fin, "iam-guardrails");
    let sid = |name: &str| scp.iter().find(|s| s["Sid"] == name).cloned();
    let region = sid("DenyOutsideRegulatoryRegions").unwrap();
    assert_eq!(region["Condition"]["StringNotEquals"]["aws:RequestedRegion"], json!(["us-east-1", "us-west-2"]));
    assert_eq!(sid("DenyInsecureTransport").unwrap()["Condition"]["Bool"]["aws:SecureTransport"], "false");
    assert_eq!(
        sid("DenyOutsideAllowedNetworks").unwrap()["Condition"]["NotIpAddress"]["aws:SourceIp"],
        "${AllowedSourceIpRanges}"
    );
    assert!(sid("RequireMfaForSensitiveActions").is_some());
    let rcp = statements(&fin, "iam-guardrails-rcp");
    assert_eq!(rcp[0]["Condition"]["StringNotEqualsIfExists"]["aws:PrincipalOrgID"], "${OrganizationId}");

    let dev = statements(&run("s3", "startup-dev"), "iam-guardrails");
    let sids: Vec<&str> = dev.iter().map(|s| s["Sid"].as_str().unwrap()).collect();
    assert!(
        !sids.contains(&"RequireMfaForSensitiveActions") && !sids.contains(&"DenyOutsideAllowedNetworks"),
        "{sids:?}"
    );
    assert_eq!(dev[0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"], json!(["eu-west-1"]));

    let trail = statements(&run("cloudtrail", "fin-prod"), "iam-guardrails");
    let protected = trail.iter().find(|s| s["Sid"] == "ProtectLoggingAndEncryption").unwrap();
    let denied: Vec<&str> = protected["Action"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(denied.contains(&"cloudtrail:StopLogging") && denied.contains(&"cloudtrail:DeleteTrail"), "{denied:?}");
}

/// Every document of every priority service passes verification; sizes fit the quotas.
#[test]
fn every_priority_service_succeeds_with_verified_documents() {
    for service in PRIORITY {
        let out = run(service, "fin-prod");
        let checks = out.output["checks"].as_array().unwrap();
        assert!(checks.iter().all(|c| c["passed"] == true), "{service}");
        for kind in ["iam_action_exists", "iam_condition_key_valid", "iam_policy_size", "iam_no_wildcard"] {
            assert!(checks.iter().any(|c| c["check"] == kind), "{service} has no {kind} check");
        }
        for persona in ["administrator", "deployer", "operator", "auditor", "workload"] {
            assert!(!documents(&out, &format!("iam-policy-{persona}")).is_empty(), "{service}: no {persona} policy");
        }
        for a in &out.artifacts {
            if a.name.starts_with("iam-policy-") || a.name.starts_with("iam-guardrails") {
                let size = a.bytes.iter().filter(|b| !b.is_ascii_whitespace()).count();
                let limit = if a.name.starts_with("iam-policy-") { 6_144 } else { 5_120 };
                assert!(size <= limit, "{service} {}: {size}", a.name);
            }
        }
    }
}

#[test]
fn every_action_and_condition_key_in_the_documents_is_in_the_catalog() {
    let catalog = common::catalog();
    for service in ["s3", "ec2", "bedrock", "iam", "rds"] {
        let out = run(service, "fin-prod");
        for a in
            out.artifacts.iter().filter(|a| a.name.starts_with("iam-policy-") || a.name.starts_with("iam-guardrails"))
        {
            let doc: Value = serde_json::from_slice(&a.bytes).unwrap();
            for s in doc["Statement"].as_array().unwrap() {
                let acts: Vec<&str> = s["Action"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
                for act in &acts {
                    match act.strip_suffix(":*") {
                        Some(prefix) => assert!(catalog.iam(prefix).is_some() && s["Effect"] == "Deny", "{act}"),
                        None => assert!(catalog.action(act).is_some(), "{service} {}: {act}", a.name),
                    }
                }
                if s["Effect"] == "Allow" && s["Resource"] == json!(["*"]) {
                    for act in &acts {
                        assert!(catalog.action(act).unwrap().1.resource_types.is_empty(), "{act} takes ARNs");
                    }
                }
                for keys in s["Condition"].as_object().into_iter().flat_map(|c| c.values()) {
                    for key in keys.as_object().unwrap().keys() {
                        assert!(key.starts_with("aws:") || key_valid(&catalog, &acts, key), "{service}: {key}");
                    }
                }
            }
        }
    }
}

fn key_valid(catalog: &Catalog, actions: &[&str], key: &str) -> bool {
    actions.iter().all(|a| {
        let (prefix, _) = a.split_once(':').unwrap();
        let (_, action) = catalog.action(a).unwrap();
        let svc = catalog.iam(prefix).unwrap();
        action.condition_keys.iter().any(|k| k == key)
            || action.resource_types.iter().any(|rt| svc.resource_types[rt].condition_keys.iter().any(|k| k == key))
    })
}

#[test]
fn reviewed_knowledge_names_only_catalog_facts() {
    let catalog = common::catalog();
    let k = iam_knowledge();
    for (service, entry) in &k.workload.services {
        assert!(PRIORITY.contains(&service.as_str()), "{service} is not a priority service");
        let mut types = BTreeSet::new();
        for a in &entry.actions {
            let (_, action) = catalog.action(a).unwrap_or_else(|| panic!("workload {service}: {a}"));
            types.extend(action.resource_types.iter().cloned());
        }
        for rt in &entry.resource_types {
            assert!(types.contains(rt), "workload {service}: {rt} is no resource type of its actions");
        }
    }
    assert_eq!(k.workload.services.len(), 30);
    for (service, types) in &k.deployer.primary_resource_types {
        assert!(catalog.service(service).is_some(), "{service}");
        for t in types {
            assert!(catalog.resource_type(t).is_some(), "{service}: {t}");
        }
    }
    for a in k.data_read.add.iter().chain(&k.data_read.remove).chain(k.deployer.cross_service.actions.keys()) {
        assert!(catalog.action(a).is_some(), "{a}");
    }
    for p in k
        .guardrails
        .secure_transport
        .iter()
        .chain(&k.guardrails.resource_control_policy)
        .chain(k.deployer.cross_service.prefixes.keys())
    {
        assert!(catalog.iam(p).is_some(), "{p}");
    }
}

#[test]
fn workload_is_scoped_to_resource_arn_patterns() {
    let out = run("s3", "fin-prod");
    let workload = statements(&out, "iam-policy-workload");
    let get = workload.iter().find(|s| s["Action"].as_array().unwrap().contains(&json!("s3:GetObject"))).unwrap();
    assert_eq!(
        get["Resource"],
        json!(["arn:aws:s3:::${BucketName}/${ObjectName}"]),
        "fin-prod regions are all in the aws partition"
    );
    let model = artifact(&out, "iam-model.json");
    let params: Vec<&str> =
        model["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(params.contains(&"BucketName") && params.contains(&"OrganizationId"), "{params:?}");
    let region = model["parameters"].as_array().unwrap().iter().find(|p| p["name"] == "Region");
    if let Some(region) = region {
        assert_eq!(region["allowed_values"], json!(["us-east-1", "us-west-2"]));
    }
}

/// Prints persona sizes for the report: `cargo test --test iam -- --ignored --nocapture`.
#[test]
#[ignore]
fn report_sizes() {
    for service in ["s3", "bedrock", "ec2"] {
        let out = run(service, "fin-prod");
        for p in out.output["personas"].as_array().unwrap() {
            let sizes: Vec<String> = p["documents"].as_array().unwrap().iter().map(|d| d["size"].to_string()).collect();
            println!(
                "{service} {} actions={} documents={} sizes={}",
                p["name"],
                p["actions"],
                sizes.len(),
                sizes.join("/")
            );
        }
        println!("{service} guardrails={}", out.output["guardrails"]);
    }
}

/// The template's role policies, read back from template.yaml as published: action →
/// resources, per statement.
fn template_role_statements(template: &Value) -> Vec<Value> {
    let resources = template["Resources"].as_object().unwrap();
    let mut out = Vec::new();
    for (_, r) in resources {
        match r["Type"].as_str() {
            Some("AWS::IAM::Role") => {
                for p in r["Properties"]["Policies"].as_array().into_iter().flatten() {
                    out.extend(p["PolicyDocument"]["Statement"].as_array().unwrap().iter().cloned());
                }
            }
            Some("AWS::IAM::RolePolicy") => {
                out.extend(r["Properties"]["PolicyDocument"]["Statement"].as_array().unwrap().iter().cloned())
            }
            _ => {}
        }
    }
    out
}

fn action_set(statements: &[Value]) -> BTreeSet<String> {
    statements
        .iter()
        .flat_map(|s| match &s["Action"] {
            Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_string()).collect::<Vec<_>>(),
            x => vec![x.as_str().unwrap().to_string()],
        })
        .collect()
}

/// The Lambda bundle creates its execution role; the IAM model shows it with exactly the
/// template's statements, and its verified document grants exactly the template's actions.
#[test]
fn lambda_execution_role_in_the_iam_model_is_the_templates() {
    let knowledge = common::knowledge();
    for (name, dlq, xray, vpc) in [("fin-prod", true, true, true), ("startup-dev", true, true, false)] {
        let outputs = seccfg::pipeline::run_all(&knowledge, &profile(name), "lambda")
            .unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
        let file =
            |n: &str| outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == n).unwrap().bytes.clone();
        let template: Value = yaml_serde::from_slice(&file("template.yaml")).unwrap();
        let model: Value = serde_json::from_slice(&file("iam-model.json")).unwrap();
        let document: Value = serde_json::from_slice(&file("iam-policy-service-role-execution-role.json")).unwrap();

        assert_eq!(
            template["Resources"]["Function"]["Properties"]["Role"],
            json!({ "Fn::GetAtt": ["ExecutionRole", "Arn"] })
        );
        let roles = model["service_roles"].as_array().unwrap();
        assert_eq!(roles.len(), 1, "{name}");
        let role = &roles[0];
        assert_eq!(role["logical_id"], "ExecutionRole");
        assert_eq!(role["assumed_by"], json!(["lambda.amazonaws.com"]));
        assert_eq!(role["used_by"], json!(["Function"]));

        let in_template = template_role_statements(&template);
        let in_model: Vec<Value> = role["policies"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["statements"].as_array().unwrap().clone())
            .collect();
        assert_eq!(in_model.len(), in_template.len(), "{name}");
        for s in &in_template {
            assert!(in_model.contains(s), "{name}: {s} is not in the model");
        }
        let granted = action_set(document["Statement"].as_array().unwrap());
        assert_eq!(granted, action_set(&in_template), "{name}");
        assert_eq!(role["actions"], json!(granted), "{name}");

        assert_eq!(granted.contains("sqs:SendMessage") && granted.contains("kms:GenerateDataKey"), dlq, "{name}");
        assert_eq!(granted.contains("xray:PutTraceSegments"), xray, "{name}");
        assert_eq!(granted.contains("ec2:CreateNetworkInterface"), vpc, "{name}");
        assert!(granted.contains("logs:PutLogEvents"));
        // Lambda checks the dead-letter queue and VPC permissions when it creates the function.
        let depends: Vec<&str> = template["Resources"]["Function"]["DependsOn"]
            .as_array()
            .map(|d| d.iter().map(|x| x.as_str().unwrap()).collect())
            .unwrap_or_default();
        assert_eq!(depends.contains(&"DeadLetterQueuePolicy"), dlq, "{name}: {depends:?}");
        assert_eq!(depends.contains(&"VpcAccessPolicy"), vpc, "{name}: {depends:?}");
        let main_tf = String::from_utf8(file("main.tf")).unwrap();
        assert!(main_tf.contains("aws_iam_role_policy.dead_letter_queue_policy"), "{main_tf}");

        // The document names template resources by catalog ARN formats; the DLQ is a queue.
        let send = document["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Action"] == json!(["sqs:SendMessage"]))
            .unwrap();
        assert_eq!(send["Resource"], json!(["arn:aws:sqs:${Region}:${Account}:${QueueName}"]), "{name}");
        let checks = outputs.iter().find(|(s, _)| *s == StageName::Iam).unwrap().1.output["checks"].clone();
        let checks = checks.as_array().unwrap();
        assert!(checks.iter().any(|c| c["check"] == "service_role_resource_arn" && c["passed"] == true));
        assert!(checks.iter().all(|c| c["passed"] == true));
    }
}

/// A role statement with a misspelt action, a wildcard on an action that takes ARNs, or a
/// resource of another service fails the iam stage.
#[test]
fn a_wrong_service_role_fails_verification() {
    let knowledge = common::knowledge();
    let fin = profile("fin-prod");
    let outputs = seccfg::pipeline::run_all(&knowledge, &fin, "lambda").unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
    let iac = outputs.iter().find(|(s, _)| *s == StageName::Iac).unwrap().1.output.clone();
    let wrong = [
        (json!({ "Effect": "Allow", "Action": ["sqs:SendMesage"], "Resource": "*" }), "iam_action_exists"),
        (json!({ "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": "*" }), "iam_no_wildcard"),
        (
            json!({ "Effect": "Allow", "Action": ["sqs:SendMessage"],
                "Resource": { "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:topic" } }),
            "service_role_resource_arn",
        ),
        (
            json!({ "Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": { "Fn::GetAtt": ["Nowhere", "Arn"] } }),
            "service_role_resource_arn",
        ),
    ];
    for (statement, check) in wrong {
        let mut bad = iac.clone();
        bad["service_roles"][0]["policies"][0]["statements"].as_array_mut().unwrap().push(statement.clone());
        let previous: Vec<(StageName, Value)> = outputs
            .iter()
            .filter(|(s, _)| matches!(s, StageName::Collect | StageName::Analyze | StageName::Controls))
            .map(|(s, o)| (*s, o.output.clone()))
            .chain([(StageName::Iac, bad)])
            .collect();
        let input = StageInput {
            knowledge: &knowledge,
            profile: &fin,
            service_id: "lambda",
            service_name: "lambda",
            previous: &previous,
        };
        let Err(e) = run_stage(StageName::Iam, &input) else { panic!("{statement} passed") };
        assert!(e.to_string().contains(check), "{statement}: {e}");
    }
}
