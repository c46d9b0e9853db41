//! `POST /v1/checks` on SQLite and PostgreSQL: real runs through the pipeline and real
//! approvals, then checks of the approved S3 template and mutated copies against the
//! library: services without an approved bundle are "not approved", an approval
//! changes the library version (the cached rules are replaced), waivers apply while
//! in force and stop applying when they expire, bad input is 422 with pointers; a
//! Terraform plan given as `plan` is checked against the approved `terraform-checks.json`.

mod common;

use axum::http::StatusCode;
use common::api::{Api, api};
use seccfg::gate::library::{CheckRequest, RuleCache, check_at};
use serde_json::{Value, json};

const PROFILE: &str = "FIN-PROD-001";

fn approve(waivers: Value) -> Value {
    json!({ "decision": "approve", "reviewer": "ciso@example.com", "waivers": waivers })
}

async fn check(api: &Api, template: &str) -> (StatusCode, Value) {
    api.call("POST", "/v1/checks", Some(&json!({ "template": template, "profile_id": PROFILE }))).await
}

fn outcomes(report: &Value, outcome: &str) -> Vec<String> {
    let mut ids: Vec<String> = report["inputs"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["outcome"] == outcome)
        .map(|f| f["control_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

fn not_approved_services(report: &Value) -> Vec<String> {
    let mut s: Vec<String> = report["inputs"][0]["not_approved"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["service"].as_str().unwrap().to_string())
        .collect();
    s.dedup();
    s
}

async fn approved_template(api: &Api, service: &str) -> String {
    let (status, bundle) = api.call("GET", &format!("/v1/library/services/{service}?profile={PROFILE}"), None).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    bundle["templates"]["template.yaml"].as_str().unwrap().to_string()
}

async fn gate_flow(api: Api) {
    let runs = api.submit(&["s3", "sns"]).await;
    api.drain().await;
    let (s3_run, sns_run) = (&runs[0], &runs[1]);
    let (_, s3_template) = api.call("GET", &format!("/v1/runs/{s3_run}/artifacts/template.yaml"), None).await;
    let s3_template = s3_template.as_str().unwrap().to_string();

    // Nothing approved yet: every resource is "not approved", the verdict fails.
    let (status, report) = check(&api, &s3_template).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["verdict"], "fail");
    assert!(not_approved_services(&report).contains(&"s3".to_string()), "{report:#}");

    // S3 approved with a waiver on the access-logging control.
    let waiver =
        json!([{ "control_id": "S3-06", "reason": "central log bucket arrives in Q3", "expires_at": "2999-01-31" }]);
    let (status, decided) = api.call("POST", &format!("/v1/runs/{s3_run}/approval"), Some(&approve(waiver))).await;
    assert_eq!(status, StatusCode::CREATED, "{decided}");
    assert_eq!(approved_template(&api, "s3").await, s3_template);

    let (status, report) = check(&api, &s3_template).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["verdict"], "pass", "{report:#}");
    assert!(outcomes(&report, "fail").is_empty());
    assert_eq!(report["sources"][0]["service"], "s3");
    assert_eq!(report["sources"][0]["bundle_version"], 1);
    let version_s3 = report["library_version"].as_str().unwrap().to_string();

    // Mutations fail exactly their controls.
    let public = s3_template.replace("BlockPublicAcls: true", "BlockPublicAcls: false");
    let (_, report) = check(&api, &public).await;
    assert_eq!(report["verdict"], "fail");
    assert_eq!(outcomes(&report, "fail"), ["S3-04", "S3-10"]);
    let unresolved =
        s3_template.replace("Status: Enabled\n      OwnershipControls", "Status: !Ref V\n      OwnershipControls");
    let (_, report) = check(&api, &unresolved).await;
    assert_eq!(outcomes(&report, "undetermined"), ["S3-07"]);
    assert_eq!(report["verdict"], "fail");

    // The waiver turns the logging failure into "waived" while it is in force.
    let mut doc: Value = yaml_serde::from_str(&s3_template).unwrap();
    doc["Resources"]["Bucket"]["Properties"].as_object_mut().unwrap().remove("LoggingConfiguration");
    let no_logging = yaml_serde::to_string(&doc).unwrap();
    let (_, report) = check(&api, &no_logging).await;
    assert_eq!(outcomes(&report, "waived"), ["S3-06"]);
    assert_eq!(report["verdict"], "pass");
    let waived =
        report["inputs"][0]["findings"].as_array().unwrap().iter().find(|f| f["control_id"] == "S3-06").unwrap();
    assert_eq!(waived["waiver"]["reason"], "central log bucket arrives in Q3");
    assert_eq!(waived["waiver"]["expires_at"], "2999-01-31T00:00:00.000Z");
    // After the expiry, the same template fails that control.
    let after_expiry = chrono::DateTime::parse_from_rfc3339("2999-02-01T00:00:00Z").unwrap().timestamp_millis();
    let request = CheckRequest {
        template: Some(no_logging.clone()),
        plan: None,
        profile_id: PROFILE.into(),
        profile_version: None,
    };
    let report = check_at(&api.app, &RuleCache::default(), &request, after_expiry).await.unwrap();
    let report = serde_json::to_value(report).unwrap();
    assert_eq!(outcomes(&report, "fail"), ["S3-06"]);
    assert!(outcomes(&report, "waived").is_empty());

    // SNS is not approved yet; approving it changes the library version and its rules apply.
    let (_, sns_template) = api.call("GET", &format!("/v1/runs/{sns_run}/artifacts/template.yaml"), None).await;
    let sns_template = sns_template.as_str().unwrap().to_string();
    let (_, report) = check(&api, &sns_template).await;
    assert!(not_approved_services(&report).contains(&"sns".to_string()), "{report:#}");
    let (status, _) = api.call("POST", &format!("/v1/runs/{sns_run}/approval"), Some(&approve(json!([])))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, report) = check(&api, &sns_template).await;
    assert!(!not_approved_services(&report).contains(&"sns".to_string()), "{report:#}");
    assert_ne!(report["library_version"].as_str().unwrap(), version_s3, "an approval changes the library version");
    assert!(report["inputs"][0]["findings"].as_array().unwrap().iter().any(|f| f["service"] == "sns"));

    bad_input(&api, &s3_template).await;
    plans(&api, s3_run).await;
    cli_against_the_server(&api, &s3_template).await;
}

/// A Terraform plan (built from the approved run's own `main.tf`) checked as `plan`.
async fn plans(api: &Api, s3_run: &str) {
    let (_, main_tf) = api.call("GET", &format!("/v1/runs/{s3_run}/artifacts/main.tf"), None).await;
    let plan = common::tfplan::plan_from_main_tf(main_tf.as_str().unwrap(), &Default::default());
    let call = |plan: String| async move {
        api.call("POST", "/v1/checks", Some(&json!({ "plan": plan, "profile_id": PROFILE }))).await
    };
    let (status, report) = call(plan.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["inputs"][0]["kind"], "terraform_plan");
    assert_eq!(report["inputs"][0]["name"], "plan");
    assert!(outcomes(&report, "fail").is_empty(), "{report:#}");
    // The key references are decided from the plan's configuration; only the bucket
    // policy (its document holds the bucket ARN, known after apply) stays open.
    assert!(outcomes(&report, "not_decidable").is_empty(), "{report:#}");
    assert_eq!(outcomes(&report, "undetermined"), ["S3-03"]);
    assert_eq!(report["verdict"], "fail");

    let public = plan.to_string().replace("\"block_public_acls\":true", "\"block_public_acls\":false");
    let (_, report) = call(public).await;
    assert_eq!(outcomes(&report, "fail"), ["S3-04", "S3-10"]);

    let expect = |body: &Value, pointer: &str| {
        assert_eq!(body["status"], 422, "{body}");
        assert_eq!(body["errors"][0]["pointer"], pointer, "{body}");
    };
    let (_, body) = call("{\"format_version\": ".into()).await;
    expect(&body, "/plan");
    let mut unknown = plan.clone();
    unknown["resource_changes"][1]["type"] = json!("aws_s3_buckett");
    let (_, body) = call(unknown.to_string()).await;
    expect(&body, "/plan/resource_changes/1/type");
    let both = json!({ "plan": plan.to_string(), "template": "Resources: {}", "profile_id": PROFILE });
    let (_, body) = api.call("POST", "/v1/checks", Some(&both)).await;
    expect(&body, "/plan");
}

/// `seccfg check --server`: the same verdicts through the real CLI process; exit 0 / 1 / 2.
async fn cli_against_the_server(api: &Api, s3_template: &str) {
    let addr = api.serve().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_seccfg"));
        cmd.arg("check").arg(&path).args(["--profile", PROFILE, "--format", "json", "--server"]);
        cmd.arg(format!("http://{addr}"));
        cmd
    };
    let outputs = tokio::task::spawn_blocking({
        let pass = run("pass.yaml", s3_template);
        let fail = run("fail.yaml", &s3_template.replace("BlockPublicAcls: true", "BlockPublicAcls: false"));
        let bad = run("bad.yaml", "Resources:\n  B:\n    Type: AWS::S3::Buckett\n");
        let plan = run("plan.json", "{\"format_version\": \"1.2\", \"resource_changes\": []}");
        move || [pass, fail, bad, plan].map(|mut c| c.output().unwrap())
    })
    .await
    .unwrap();
    let [pass, fail, bad, plan] = outputs;
    assert_eq!(plan.status.code(), Some(0), "an empty plan passes: {}", String::from_utf8_lossy(&plan.stderr));
    let report: Value = serde_json::from_slice(&plan.stdout).unwrap();
    assert_eq!(report["inputs"][0]["kind"], "terraform_plan");
    assert_eq!(pass.status.code(), Some(0), "{}", String::from_utf8_lossy(&pass.stderr));
    let report: Value = serde_json::from_slice(&pass.stdout).unwrap();
    assert!(report["inputs"][0]["name"].as_str().unwrap().ends_with("pass.yaml"));
    assert_eq!(report["sources"][0]["bundle_version"], 1);
    assert_eq!(fail.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&fail.stdout).unwrap();
    assert_eq!(outcomes(&report, "fail"), ["S3-04", "S3-10"]);
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("/template/Resources/B/Type") && stderr.contains("line 3"), "{stderr}");
}

async fn bad_input(api: &Api, s3_template: &str) {
    let expect = |body: &Value, pointer: &str, line: Option<u64>| {
        assert_eq!(body["status"], 422, "{body}");
        assert_eq!(body["errors"][0]["pointer"], pointer, "{body}");
        if let Some(line) = line {
            assert_eq!(body["errors"][0]["line"], line, "{body}");
        }
    };
    let (status, body) = check(api, "Resources:\n  B:\n    Type: [unclosed\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    expect(&body, "/template", None);
    assert!(body["errors"][0]["line"].is_u64(), "{body}");
    let (_, body) = check(api, "{\n\"Resources\": {\"B\": }\n}").await;
    expect(&body, "/template", Some(2));
    let (_, body) = check(api, "Description: nothing\n").await;
    expect(&body, "/template/Resources", None);
    let (_, body) = check(api, "Resources:\n  B:\n    Type: AWS::S3::Buckett\n").await;
    expect(&body, "/template/Resources/B/Type", Some(3));
    let (_, body) = api
        .call("POST", "/v1/checks", Some(&json!({ "template": s3_template, "profile_id": "NO-SUCH-PROFILE" })))
        .await;
    expect(&body, "/profile_id", None);
    let (_, body) = api.call("POST", "/v1/checks", Some(&json!({ "profile_id": PROFILE }))).await;
    expect(&body, "/template", None);
    let (_, body) = api
        .call(
            "POST",
            "/v1/checks",
            Some(&json!({ "template": s3_template, "profile_id": PROFILE, "profile_version": 99 })),
        )
        .await;
    expect(&body, "/profile_version", None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_on_sqlite() {
    let (store, _, dir) = common::fresh_sqlite().await;
    gate_flow(api(store, vec![dir]).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gate_on_postgres() {
    let (store, _) = common::fresh_postgres().await;
    gate_flow(api(store, vec![]).await).await;
}
