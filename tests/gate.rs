//! The CI gate offline, through the real `seccfg check` process: the project's own
//! S3, Lambda and RDS bundles (generated here for the fin-prod profile) pass on their
//! templates; mutated copies fail exactly the controls they should, at the right
//! property path and line; unresolved intrinsics are undetermined; exit codes are
//! 0 / 1 / 2; SARIF and JUnit carry the findings.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use seccfg::input::Profile;
use seccfg::pipeline::run_all;
use serde_json::Value;

const PROFILE: &str = "FIN-PROD-001";

/// Bundle directories for s3, lambda and rds (and the services their templates use), once per binary.
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

fn template(service: &str) -> String {
    std::fs::read_to_string(bundles().join(service).join("template.yaml")).unwrap()
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `seccfg check` on one template text against the given bundles.
fn check(text: &str, services: &[&str], format: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seccfg"));
    cmd.arg("check").arg(&path).args(["--profile", PROFILE, "--format", format]);
    for s in services {
        cmd.arg("--bundle").arg(bundles().join(s));
    }
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    let out = cmd.output().unwrap();
    Outcome {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

fn run_json(text: &str, services: &[&str]) -> (i32, Value) {
    let out = check(text, services, "json");
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

fn finding(report: &Value, control: &str) -> Vec<Value> {
    findings(report).into_iter().filter(|f| f["control_id"] == control).collect()
}

/// 1-based line of the first line of `text` containing `needle` at or after line `after`.
fn line_of(text: &str, needle: &str, after: usize) -> usize {
    text.lines().enumerate().skip(after).find(|(_, l)| l.contains(needle)).map(|(i, _)| i + 1).unwrap()
}

#[test]
fn the_projects_own_templates_pass() {
    for service in ["s3", "lambda", "rds"] {
        let (code, report) = run_json(&template(service), &[service]);
        assert_eq!(report["verdict"], "pass", "{service}: {report:#}");
        assert_eq!(code, 0, "{service}");
        assert!(!findings(&report).is_empty(), "{service}: no control was evaluated");
        assert!(findings(&report).iter().all(|f| f["outcome"] == "pass"), "{service}");
    }
}

#[test]
fn kms_removed_fails_the_encryption_controls() {
    let mut doc: Value = yaml_serde::from_str(&template("s3")).unwrap();
    doc["Resources"]["Bucket"]["Properties"].as_object_mut().unwrap().remove("BucketEncryption");
    doc["Resources"].as_object_mut().unwrap().remove("DataKey");
    let text = yaml_serde::to_string(&doc).unwrap();
    let (code, report) = run_json(&text, &["s3"]);
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-01", "S3-02", "S3-KEY"]);
    let s3_01 = &finding(&report, "S3-01")[0];
    assert_eq!(s3_01["resource"], "Bucket");
    let paths: Vec<&str> = s3_01["paths"].as_array().unwrap().iter().map(|p| p["path"].as_str().unwrap()).collect();
    assert_eq!(
        paths,
        [
            "Properties.BucketEncryption.ServerSideEncryptionConfiguration[*].ServerSideEncryptionByDefault.SSEAlgorithm",
            "Properties.BucketEncryption.ServerSideEncryptionConfiguration[*].BucketKeyEnabled"
        ]
    );
    // Nothing of BucketEncryption is left: the path points at the bucket's Properties.
    let bucket = line_of(&text, "  Bucket:", 0);
    assert_eq!(s3_01["paths"][0]["pointer"], "/Resources/Bucket/Properties");
    assert_eq!(s3_01["paths"][0]["line"], line_of(&text, "Properties:", bucket));
    assert_eq!(finding(&report, "S3-KEY")[0]["paths"][0]["path"], "Resources[Type == AWS::KMS::Key]");
}

#[test]
fn public_access_block_off_fails_the_public_access_controls() {
    let text = template("s3").replace("BlockPublicAcls: true", "BlockPublicAcls: false");
    let (code, report) = run_json(&text, &["s3"]);
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-04", "S3-10"]);
    let f = &finding(&report, "S3-10")[0];
    assert_eq!(f["paths"].as_array().unwrap().len(), 1, "{f:#}");
    assert_eq!(f["paths"][0]["path"], "Properties.PublicAccessBlockConfiguration.BlockPublicAcls");
    assert_eq!(f["paths"][0]["line"], line_of(&text, "BlockPublicAcls: false", 0));
    assert_eq!(f["line"], line_of(&text, "BlockPublicAcls: false", 0));

    let text = text.replace("BlockPublicPolicy: true", "BlockPublicPolicy: false");
    let (_, report) = run_json(&text, &["s3"]);
    assert_eq!(with_outcome(&report, "fail"), ["S3-04", "S3-10", "S3-11"]);
}

#[test]
fn tls_policy_removed_fails_only_the_tls_control() {
    let mut doc: Value = yaml_serde::from_str(&template("s3")).unwrap();
    doc["Resources"].as_object_mut().unwrap().remove("BucketPolicy");
    let (code, report) = run_json(&yaml_serde::to_string(&doc).unwrap(), &["s3"]);
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-03"]);
    assert_eq!(finding(&report, "S3-03")[0]["paths"][0]["path"], "Resources[Type == AWS::S3::BucketPolicy]");

    // A policy without the TLS condition fails at the condition's path.
    let text = template("s3").replace("aws:SecureTransport: 'false'", "aws:SecureTransport: 'true'");
    let (_, report) = run_json(&text, &["s3"]);
    assert_eq!(with_outcome(&report, "fail"), ["S3-03"]);
    let f = &finding(&report, "S3-03")[0];
    assert_eq!(f["paths"][0]["path"], "Properties.PolicyDocument.Statement[*].Condition.Bool.\"aws:SecureTransport\"");
    assert_eq!(f["paths"][0]["line"], line_of(&text, "aws:SecureTransport: 'true'", 0));
}

#[test]
fn an_unresolved_ref_is_undetermined_never_a_pass() {
    let text = template("s3")
        .replace("Status: Enabled\n      OwnershipControls", "Status: !Ref Versioning\n      OwnershipControls");
    assert_ne!(text, template("s3"), "the mutation applies");
    let (code, report) = run_json(&text, &["s3"]);
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "undetermined"), ["S3-07"]);
    assert!(with_outcome(&report, "fail").is_empty());
    let f = &finding(&report, "S3-07")[0];
    assert_eq!(f["paths"][0]["line"], line_of(&text, "Status: !Ref Versioning", 0));
}

#[test]
fn a_service_without_a_bundle_is_not_approved() {
    let doc: Value = yaml_serde::from_str(&template("lambda")).unwrap();
    let mut s3: Value = yaml_serde::from_str(&template("s3")).unwrap();
    for (k, v) in doc["Resources"].as_object().unwrap() {
        s3["Resources"][k] = v.clone();
    }
    let (code, report) = run_json(&yaml_serde::to_string(&s3).unwrap(), &["s3"]);
    assert_eq!(code, 1);
    let not_approved = report["inputs"][0]["not_approved"].as_array().unwrap();
    assert!(not_approved.iter().any(|n| n["service"] == "lambda"), "{not_approved:#?}");
    assert!(with_outcome(&report, "fail").is_empty());
}

#[test]
fn bad_input_exits_2_with_the_line_or_pointer() {
    let out = check("Resources:\n  B:\n    Type: [unclosed\n", &["s3"], "text");
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("line"), "{}", out.stderr);

    let out = check("{\"Resources\": {\"B\": }}", &["s3"], "text");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("invalid JSON") && out.stderr.contains("line 1"), "{}", out.stderr);

    let out = check("Description: nothing\n", &["s3"], "text");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/Resources"), "{}", out.stderr);

    let out = check("Resources:\n  B:\n    Type: AWS::S3::Buckett\n", &["s3"], "text");
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("/Resources/B/Type") && out.stderr.contains("line 3"), "{}", out.stderr);

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_seccfg"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("t.yaml"), template("s3")).unwrap();
    let out = cmd
        .arg("check")
        .arg(dir.path().join("t.yaml"))
        .args(["--profile", "OTHER-PROFILE", "--bundle"])
        .arg(bundles().join("s3"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "a bundle of another profile is refused");
}

#[test]
fn sarif_names_controls_as_rules_with_lines() {
    let text = template("s3").replace("BlockPublicAcls: true", "BlockPublicAcls: false");
    let out = check(&text, &["s3"], "sarif");
    assert_eq!(out.code, 1);
    let sarif: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(sarif["version"], "2.1.0");
    let run = &sarif["runs"][0];
    let rules: Vec<&str> =
        run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rules, ["S3-04", "S3-10"]);
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let line = line_of(&text, "BlockPublicAcls: false", 0);
    for r in results {
        assert_eq!(r["locations"][0]["physicalLocation"]["region"]["startLine"], line);
        assert!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("template.yaml")
        );
    }
}

#[test]
fn junit_has_one_case_per_resource_and_control() {
    let text = template("s3").replace("BlockPublicAcls: true", "BlockPublicAcls: false");
    let (_, report) = run_json(&text, &["s3"]);
    let out = check(&text, &["s3"], "junit");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout.matches("<testcase ").count(), findings(&report).len());
    assert_eq!(out.stdout.matches("<failure").count(), 2, "{}", out.stdout);
    assert!(out.stdout.contains("name=\"Bucket S3-10\""));
}

/// Runs `seccfg check --bundle s3 --waivers FILE` on `text`.
fn run_with_waivers(text: &str, waivers: &str) -> (i32, Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let (template, file) = (dir.path().join("template.yaml"), dir.path().join("waivers.json"));
    std::fs::write(&template, text).unwrap();
    std::fs::write(&file, waivers).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("check")
        .arg(&template)
        .args(["--profile", PROFILE, "--format", "json", "--bundle"])
        .arg(bundles().join("s3"))
        .arg("--waivers")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    (out.status.code().unwrap(), report, stderr)
}

#[test]
fn offline_waivers_apply_until_they_expire() {
    let text = template("s3").replace("BlockPublicAcls: true", "BlockPublicAcls: false");
    let waiver = |control: &str, expires: &str, resource: Option<&str>| {
        let mut w = serde_json::json!({"control_id": control, "reason": "legacy ACL reader", "expires_at": expires});
        if let Some(r) = resource {
            w["resource"] = r.into();
        }
        w
    };
    // S3-10 waived until 2999, S3-04's waiver expired in 2020: S3-10 waived, S3-04 still fails.
    let file =
        serde_json::json!({"waivers": [waiver("S3-10", "2999-01-01", None), waiver("S3-04", "2020-01-01", None)]});
    let (code, report, stderr) = run_with_waivers(&text, &file.to_string());
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(with_outcome(&report, "waived"), ["S3-10"]);
    assert_eq!(with_outcome(&report, "fail"), ["S3-04"]);
    assert_eq!(finding(&report, "S3-10")[0]["waiver"]["reason"], "legacy ACL reader");
    assert!(stderr.contains("S3-04 expired"), "{stderr}");

    // Both in force: the gate passes; limited to another resource, a waiver does not apply.
    let both = serde_json::json!({"waivers": [waiver("S3-10", "2999-01-01", None), waiver("S3-04", "2999-01-01", Some("Bucket"))]});
    let (code, report, _) = run_with_waivers(&text, &both.to_string());
    assert_eq!((code, report["verdict"].as_str()), (0, Some("pass")));
    let elsewhere = serde_json::json!({"waivers": [waiver("S3-10", "2999-01-01", None), waiver("S3-04", "2999-01-01", Some("Other"))]});
    let (code, report, _) = run_with_waivers(&text, &elsewhere.to_string());
    assert_eq!(code, 1);
    assert_eq!(with_outcome(&report, "fail"), ["S3-04"]);

    // A control no bundle has is bad input.
    let unknown = serde_json::json!({"waivers": [waiver("S3-99", "2999-01-01", None)]});
    let (code, _, stderr) = {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w.json"), unknown.to_string()).unwrap();
        std::fs::write(dir.path().join("t.yaml"), &text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_seccfg"))
            .arg("check")
            .arg(dir.path().join("t.yaml"))
            .args(["--profile", PROFILE, "--bundle"])
            .arg(bundles().join("s3"))
            .arg("--waivers")
            .arg(dir.path().join("w.json"))
            .output()
            .unwrap();
        (out.status.code().unwrap(), (), String::from_utf8(out.stderr).unwrap())
    };
    assert_eq!(code, 2);
    assert!(stderr.contains("/waivers/0/control_id"), "{stderr}");
}
