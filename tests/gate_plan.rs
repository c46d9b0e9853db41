//! The CI gate on Terraform plans, through the real `seccfg check` process: the
//! project's own S3, Lambda and RDS bundles (generated here for fin-prod), a plan built
//! from each bundle's own `main.tf` (`common::tfplan`; no real `terraform plan`, the
//! provider cannot be downloaded here) and mutated copies of it. Each mutation fails
//! exactly the controls it should at the right argument path; a value known only after
//! apply is undetermined, never a pass; what a plan cannot decide is `not_decidable`
//! with the bundle's reason; exit codes are 0 / 1 / 2; SARIF points at the plan.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use seccfg::input::Profile;
use seccfg::pipeline::run_all;
use serde_json::{Value, json};

const PROFILE: &str = "FIN-PROD-001";

/// Bundle directories for s3, lambda and rds, once per binary.
fn bundles() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let knowledge = common::knowledge();
        let profile = Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0;
        for service in ["s3", "lambda", "rds"] {
            let outputs =
                run_all(&knowledge, &profile, service).unwrap_or_else(|(s, e)| panic!("{service}: {s:?}: {e}"));
            let out = dir.join(service);
            std::fs::create_dir_all(&out).unwrap();
            for artifact in outputs.iter().flat_map(|(_, o)| &o.artifacts) {
                std::fs::write(out.join(&artifact.name), &artifact.bytes).unwrap();
            }
        }
        dir
    })
}

/// The plan of the bundle's own `main.tf`.
fn plan(service: &str) -> Value {
    let main_tf = std::fs::read_to_string(bundles().join(service).join("main.tf")).unwrap();
    common::tfplan::plan_from_main_tf(&main_tf, &BTreeMap::new())
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `seccfg check PLAN --bundle <service>` (plus optional extra arguments).
fn check(text: &str, service: &str, format: &str, extra: &[&str]) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.json");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seccfg"));
    cmd.arg("check").arg(&path).args(["--profile", PROFILE, "--format", format, "--bundle"]);
    cmd.arg(bundles().join(service)).args(extra).current_dir(env!("CARGO_MANIFEST_DIR"));
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run_json(doc: &Value, service: &str) -> (i32, Value) {
    let out = check(&doc.to_string(), service, "json", &[]);
    let report = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    (out.code, report)
}

fn findings(report: &Value) -> Vec<Value> {
    report["inputs"][0]["findings"].as_array().unwrap().clone()
}

/// Control ids with the given outcome.
fn with_outcome(report: &Value, outcome: &str) -> Vec<String> {
    let mut ids: Vec<String> = findings(report)
        .iter()
        .filter(|f| f["outcome"] == outcome)
        .map(|f| f["control_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn finding(report: &Value, control: &str) -> Value {
    findings(report).into_iter().find(|f| f["control_id"] == control).unwrap()
}

/// The paths of a finding with the given outcome.
fn paths(f: &Value, outcome: &str) -> Vec<String> {
    f["paths"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["outcome"] == outcome)
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect()
}

/// The `after` (and `after_unknown`) of a resource change, by address.
fn change<'a>(plan: &'a mut Value, address: &str) -> &'a mut Value {
    let changes = plan["resource_changes"].as_array_mut().unwrap();
    &mut changes.iter_mut().find(|c| c["address"] == address).unwrap()["change"]
}

/// The configuration expressions of a resource, by address.
fn expressions<'a>(plan: &'a mut Value, address: &str) -> &'a mut Value {
    let config = plan["configuration"]["root_module"]["resources"].as_array_mut().unwrap();
    &mut config.iter_mut().find(|r| r["address"] == address).unwrap()["expressions"]
}

/// Removes a top-level argument from the plan, as if `main.tf` no longer set it.
fn unset(plan: &mut Value, address: &str, argument: &str) {
    let c = change(plan, address);
    c["after"].as_object_mut().unwrap().remove(argument);
    c["after_unknown"].as_object_mut().unwrap().remove(argument);
    expressions(plan, address).as_object_mut().unwrap().remove(argument);
}

fn remove(plan: &mut Value, address: &str) {
    plan["resource_changes"].as_array_mut().unwrap().retain(|c| c["address"] != address);
}

/// What a fresh plan of each bundle cannot pass: (not decidable, undetermined).
fn expected_open(service: &str) -> (Vec<&'static str>, Vec<&'static str>) {
    match service {
        // The bucket policy's document contains the bucket's ARN, known after apply.
        "s3" => (vec![], vec!["S3-03"]),
        // The runtime update mode has no Terraform argument on the function (the key, code
        // signing configuration and dead-letter queue are decided from the configuration).
        "lambda" => (vec!["LAMBDA-07"], vec![]),
        // The key and the parameter group (which forces TLS) are decided from the configuration.
        "rds" => (vec![], vec![]),
        _ => unreachable!(),
    }
}

#[test]
fn the_projects_own_plans_pass_every_decidable_control() {
    for service in ["s3", "lambda", "rds"] {
        let (code, report) = run_json(&plan(service), service);
        assert_eq!(report["inputs"][0]["kind"], "terraform_plan");
        let (open, unknown) = expected_open(service);
        assert!(with_outcome(&report, "fail").is_empty(), "{service}: {report:#}");
        assert_eq!(with_outcome(&report, "not_decidable"), open, "{service}: {report:#}");
        assert_eq!(with_outcome(&report, "undetermined"), unknown, "{service}: {report:#}");
        assert!(report["inputs"][0]["not_approved"].as_array().unwrap().is_empty(), "{service}: {report:#}");
        let passed = with_outcome(&report, "pass");
        assert!(passed.len() >= 3, "{service}: {passed:?}");
        assert_eq!(code, if open.is_empty() && unknown.is_empty() { 0 } else { 1 }, "{service}");
        for id in open {
            let f = finding(&report, id);
            let reason = f["paths"].as_array().unwrap().iter().find(|p| p["outcome"] == "not_decidable").unwrap();
            let message = reason["message"].as_str().unwrap();
            assert!(message.contains("after apply") || message.contains("no Terraform argument"), "{reason:#}");
        }
    }
}

#[test]
fn waivers_let_the_open_controls_through() {
    let (open, unknown) = expected_open("s3");
    let waivers: Vec<Value> = open
        .iter()
        .chain(&unknown)
        .map(|c| json!({"control_id": c, "reason": "checked by the Config rule after apply", "expires_at": "2999-01-01"}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("waivers.json");
    std::fs::write(&file, json!({ "waivers": waivers }).to_string()).unwrap();
    let out = check(&plan("s3").to_string(), "s3", "json", &["--waivers", file.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(out.code, 0, "{report:#}\n{}", out.stderr);
    assert_eq!(report["verdict"], "pass");
    assert_eq!(with_outcome(&report, "waived"), ["S3-03"]);
}

#[test]
fn kms_removed_fails_the_encryption_controls() {
    let mut doc = plan("s3");
    remove(&mut doc, "aws_s3_bucket_server_side_encryption_configuration.bucket");
    remove(&mut doc, "aws_kms_key.data_key");
    let (code, report) = run_json(&doc, "s3");
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-01", "S3-02", "S3-KEY"]);
    let f = finding(&report, "S3-01");
    assert_eq!(f["resource"], "aws_s3_bucket.bucket");
    assert_eq!(paths(&f, "fail"), ["aws_s3_bucket_server_side_encryption_configuration"]);

    // The configuration kept, its algorithm changed to AES256: S3-01 fails at the argument.
    let mut doc = plan("s3");
    let sse = change(&mut doc, "aws_s3_bucket_server_side_encryption_configuration.bucket");
    sse["after"]["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"] = json!("AES256");
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-01"]);
    let f = finding(&report, "S3-01");
    assert_eq!(
        paths(&f, "fail"),
        [
            "aws_s3_bucket_server_side_encryption_configuration.bucket.rule[0].apply_server_side_encryption_by_default[0].sse_algorithm"
        ]
    );
    let pointer = f["paths"][0]["pointer"].as_str().unwrap();
    assert!(
        pointer.ends_with("/change/after/rule/0/apply_server_side_encryption_by_default/0/sse_algorithm"),
        "{pointer}"
    );

    // RDS: storage encryption off and the key removed.
    let mut doc = plan("rds");
    change(&mut doc, "aws_db_instance.database")["after"]["storage_encrypted"] = json!(false);
    unset(&mut doc, "aws_db_instance.database", "kms_key_id");
    let (code, report) = run_json(&doc, "rds");
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["RDS-01", "RDS-02", "RDS-KEY"]);
    assert_eq!(paths(&finding(&report, "RDS-01"), "fail"), ["aws_db_instance.database.storage_encrypted"]);
    assert_eq!(paths(&finding(&report, "RDS-02"), "fail"), ["aws_db_instance.database.kms_key_id"]);

    // Lambda: the function's environment no longer encrypted with the key.
    let mut doc = plan("lambda");
    unset(&mut doc, "aws_lambda_function.function", "kms_key_arn");
    let (code, report) = run_json(&doc, "lambda");
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["LAMBDA-01", "LAMBDA-KEY"]);
    assert_eq!(paths(&finding(&report, "LAMBDA-01"), "fail"), ["aws_lambda_function.function.kms_key_arn"]);
}

#[test]
fn public_access_block_off_fails_the_public_access_controls() {
    let mut doc = plan("s3");
    change(&mut doc, "aws_s3_bucket_public_access_block.bucket")["after"]["block_public_acls"] = json!(false);
    let (code, report) = run_json(&doc, "s3");
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-04", "S3-10"]);
    let f = finding(&report, "S3-10");
    assert_eq!(paths(&f, "fail"), ["aws_s3_bucket_public_access_block.bucket.block_public_acls"]);

    change(&mut doc, "aws_s3_bucket_public_access_block.bucket")["after"]["block_public_policy"] = json!(false);
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-04", "S3-10", "S3-11"]);

    // A public access block for another bucket does not count for this one.
    let mut doc = plan("s3");
    let config = doc["configuration"]["root_module"]["resources"].as_array_mut().unwrap();
    let pab = config.iter_mut().find(|r| r["address"] == "aws_s3_bucket_public_access_block.bucket").unwrap();
    pab["expressions"]["bucket"] = json!({ "references": ["aws_s3_bucket.other.id", "aws_s3_bucket.other"] });
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-04", "S3-10", "S3-11"]);
    assert_eq!(paths(&finding(&report, "S3-04"), "fail"), ["aws_s3_bucket_public_access_block"]);
}

#[test]
fn tls_policy_removed_fails_only_the_tls_control() {
    let mut doc = plan("s3");
    remove(&mut doc, "aws_s3_bucket_policy.bucket_policy");
    let (code, report) = run_json(&doc, "s3");
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-03"]);
    assert_eq!(paths(&finding(&report, "S3-03"), "fail"), ["aws_s3_bucket_policy"]);

    // An existing bucket (its policy known) whose policy allows plain HTTP fails at the condition.
    let mut doc = plan("s3");
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny",
        "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]});
    let p = change(&mut doc, "aws_s3_bucket_policy.bucket_policy");
    p["after"]["policy"] = json!(policy.to_string());
    p["after_unknown"].as_object_mut().unwrap().remove("policy");
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-03"]);
    assert_eq!(
        paths(&finding(&report, "S3-03"), "fail"),
        ["aws_s3_bucket_policy.bucket_policy.policy.Statement[0].Condition.Bool[\"aws:SecureTransport\"]"]
    );
    // The same policy denying plain HTTP passes.
    let ok = policy.to_string().replace("\"aws:SecureTransport\":\"true\"", "\"aws:SecureTransport\":\"false\"");
    change(&mut doc, "aws_s3_bucket_policy.bucket_policy")["after"]["policy"] = json!(ok);
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(finding(&report, "S3-03")["outcome"], "pass");

    // RDS: the instance without its parameter group (the one that forces TLS).
    let mut doc = plan("rds");
    unset(&mut doc, "aws_db_instance.database", "parameter_group_name");
    let (_, report) = run_json(&doc, "rds");
    assert_eq!(with_outcome(&report, "fail"), ["RDS-03"]);
    assert_eq!(paths(&finding(&report, "RDS-03"), "fail"), ["aws_db_instance.database.parameter_group_name"]);
}

#[test]
fn a_value_known_only_after_apply_is_undetermined_never_a_pass() {
    let mut doc = plan("s3");
    let v = change(&mut doc, "aws_s3_bucket_versioning.bucket");
    v["after"]["versioning_configuration"][0].as_object_mut().unwrap().remove("status");
    v["after_unknown"]["versioning_configuration"][0]["status"] = json!(true);
    let (code, report) = run_json(&doc, "s3");
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "undetermined"), ["S3-03", "S3-07"]);
    assert!(with_outcome(&report, "fail").is_empty());
    assert_eq!(
        paths(&finding(&report, "S3-07"), "undetermined"),
        ["aws_s3_bucket_versioning.bucket.versioning_configuration[0].status"]
    );
}

#[test]
fn bad_plans_exit_2_with_the_pointer() {
    let out = check("{\"format_version\": \"1.2\", ", "s3", "text", &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("line 1"), "{}", out.stderr);

    let out = check("{\"format_version\": \"1.2\"}", "s3", "text", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/resource_changes"), "{}", out.stderr);

    let mut doc = plan("s3");
    doc["resource_changes"][1]["type"] = json!("aws_s3_buckett");
    let out = check(&doc.to_string(), "s3", "text", &[]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/resource_changes/1/type"), "{}", out.stderr);
}

#[test]
fn sarif_and_junit_point_at_the_plan_and_the_address() {
    let mut doc = plan("s3");
    change(&mut doc, "aws_s3_bucket_public_access_block.bucket")["after"]["block_public_acls"] = json!(false);
    let out = check(&doc.to_string(), "s3", "sarif", &[]);
    assert_eq!(out.code, 1);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let s3_10 = results.iter().find(|r| r["ruleId"] == "S3-10").unwrap();
    let location = &s3_10["locations"][0];
    assert!(location["physicalLocation"]["artifactLocation"]["uri"].as_str().unwrap().ends_with("plan.json"));
    assert_eq!(location["logicalLocations"][0]["name"], "aws_s3_bucket.bucket");
    let pointer = s3_10["properties"]["pointer"].as_str().unwrap();
    assert!(pointer.ends_with("/change/after/block_public_acls"), "{pointer}");

    let out = check(&doc.to_string(), "s3", "junit", &[]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("name=\"aws_s3_bucket.bucket S3-10\""), "{}", out.stdout);
}

const SSE: &str = "aws_s3_bucket_server_side_encryption_configuration.bucket";

/// Sets the bucket's SSE key argument: `after` (known when literal) and its configuration expression.
fn sse_key(plan: &mut Value, after: Value, expression: Value) {
    let known = !after.is_null();
    let c = change(plan, SSE);
    c["after"]["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"] = after;
    c["after_unknown"]["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"] = json!(!known);
    expressions(plan, SSE)["rule"][0]["apply_server_side_encryption_by_default"][0]["kms_master_key_id"] = expression;
}

fn message(f: &Value, outcome: &str) -> String {
    let p = f["paths"].as_array().unwrap().iter().find(|p| p["outcome"] == outcome).unwrap();
    p["message"].as_str().unwrap().to_string()
}

#[test]
fn a_key_reference_is_decided_from_the_configuration() {
    // An AWS managed key, by alias or by alias ARN: a literal, not the bundle's key.
    for literal in ["alias/aws/s3", "arn:aws:kms:eu-west-1:111122223333:alias/aws/s3"] {
        let mut doc = plan("s3");
        sse_key(&mut doc, json!(literal), json!({ "constant_value": literal }));
        let (code, report) = run_json(&doc, "s3");
        assert_eq!(code, 1);
        assert_eq!(with_outcome(&report, "fail"), ["S3-02", "S3-KEY"], "{report:#}");
        let f = finding(&report, "S3-02");
        assert_eq!(
            paths(&f, "fail"),
            [format!("{SSE}.rule[*].apply_server_side_encryption_by_default[*].kms_master_key_id")]
        );
        assert!(message(&f, "fail").contains(literal), "{f:#}");
    }

    // Another customer managed key of the plan, rotated: passes.
    let mut doc = plan("s3");
    let mut other = doc["resource_changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["address"] == "aws_kms_key.data_key")
        .unwrap()
        .clone();
    other["address"] = json!("aws_kms_key.other");
    other["name"] = json!("other");
    doc["resource_changes"].as_array_mut().unwrap().push(other);
    let mut config = doc["configuration"]["root_module"]["resources"][0].clone();
    config["address"] = json!("aws_kms_key.other");
    doc["configuration"]["root_module"]["resources"].as_array_mut().unwrap().push(config);
    sse_key(&mut doc, Value::Null, json!({ "references": ["aws_kms_key.other.arn", "aws_kms_key.other"] }));
    let (_, report) = run_json(&doc, "s3");
    assert!(with_outcome(&report, "fail").is_empty(), "{report:#}");
    assert_eq!(finding(&report, "S3-02")["outcome"], "pass");
    assert_eq!(finding(&report, "S3-KEY")["outcome"], "pass");
    // ... but not rotated: the key control fails on that key.
    change(&mut doc, "aws_kms_key.other")["after"]["enable_key_rotation"] = json!(false);
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-KEY"]);
    assert_eq!(paths(&finding(&report, "S3-KEY"), "fail"), ["aws_kms_key.other.enable_key_rotation"]);

    // A resource of another type: fails, naming it.
    let mut doc = plan("s3");
    sse_key(&mut doc, Value::Null, json!({ "references": ["aws_sqs_queue.q.arn", "aws_sqs_queue.q"] }));
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-02", "S3-KEY"]);
    assert!(message(&finding(&report, "S3-02"), "fail").contains("aws_sqs_queue.q, a aws_sqs_queue"));

    // A variable: whoever sets it decides which key; undetermined, never a pass.
    let mut doc = plan("s3");
    sse_key(&mut doc, Value::Null, json!({ "references": ["var.kms_key_arn"] }));
    let (_, report) = run_json(&doc, "s3");
    assert!(with_outcome(&report, "fail").is_empty());
    assert_eq!(with_outcome(&report, "undetermined"), ["S3-02", "S3-03", "S3-KEY"]);

    // The bundle's own key with rotation off: only the key control fails.
    let mut doc = plan("s3");
    change(&mut doc, "aws_kms_key.data_key")["after"]["enable_key_rotation"] = json!(false);
    let (_, report) = run_json(&doc, "s3");
    assert_eq!(with_outcome(&report, "fail"), ["S3-KEY"]);
    assert_eq!(paths(&finding(&report, "S3-KEY"), "fail"), ["aws_kms_key.data_key.enable_key_rotation"]);

    // Without a configuration section nothing says which key: not decidable, as before.
    let mut doc = plan("s3");
    doc.as_object_mut().unwrap().remove("configuration");
    let (_, report) = run_json(&doc, "s3");
    assert!(with_outcome(&report, "not_decidable").contains(&"S3-02".to_string()), "{report:#}");
    assert!(message(&finding(&report, "S3-02"), "not_decidable").contains("configuration"));
}

#[test]
fn a_parameter_group_without_the_tls_parameter_fails_rds_03() {
    let group = "aws_db_parameter_group.parameter_group";
    for parameter in
        [json!([{ "name": "log_connections", "value": "1" }]), json!([{ "name": "rds.force_ssl", "value": "0" }])]
    {
        let mut doc = plan("rds");
        change(&mut doc, group)["after"]["parameter"] = parameter;
        let (code, report) = run_json(&doc, "rds");
        assert_eq!(code, 1);
        assert_eq!(with_outcome(&report, "fail"), ["RDS-03"], "{report:#}");
        assert_eq!(paths(&finding(&report, "RDS-03"), "fail"), [format!("{group}.parameter[0]")]);
    }
    // The TLS parameter among others: passes.
    let mut doc = plan("rds");
    change(&mut doc, group)["after"]["parameter"] =
        json!([{ "name": "log_connections", "value": "1" }, { "name": "rds.force_ssl", "value": "1" }]);
    let (code, report) = run_json(&doc, "rds");
    assert_eq!(code, 0, "{report:#}");
}
