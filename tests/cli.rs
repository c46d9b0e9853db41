//! The one-shot CLI as a user runs it: a reference-design profile with vocabulary seccfg
//! does not use is accepted, the warnings are printed, and the bundle records them.

mod common;

use std::process::Command;

#[test]
fn run_accepts_a_reference_design_profile_and_prints_how_values_were_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let result = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("run")
        .arg("--profile")
        .arg(common::repo("examples/profiles/reference-design.json"))
        .arg("--request")
        .arg(common::repo("examples/requests/s3.json"))
        .arg("--out")
        .arg(&out)
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.path().join("cli.db").display()))
        .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "exit {:?}: {stderr}", result.status.code());
    assert!(
        stderr.contains("warning: /profile/compliance_requirements/requirements/data_classification: 'sensitive'"),
        "{stderr}"
    );
    assert!(stderr.contains("warning: /profile/organization_details/aws_accounts/0: '320'"), "{stderr}");
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("s3/bundle.json")).unwrap()).unwrap();
    assert_eq!(bundle["profile_warnings"].as_array().unwrap().len(), 2, "{bundle}");
}

/// A request that names a gateway load balancer gets one, through the real binary.
#[test]
fn run_gives_the_load_balancer_variant_the_request_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let request = dir.path().join("request.json");
    std::fs::write(
        &request,
        r#"{ "requestId": "GWLB-1", "services": [ { "serviceName": "Gateway Load Balancer" } ] }"#,
    )
    .unwrap();
    let result = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("run")
        .arg("--profile")
        .arg(common::repo("examples/profiles/fin-prod.json"))
        .arg("--request")
        .arg(&request)
        .arg("--out")
        .arg(&out)
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.path().join("cli.db").display()))
        .env("SECCFG_ARTIFACT_DIR", dir.path().join("artifacts"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "exit {:?}: {stderr}", result.status.code());
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("elasticloadbalancing/bundle.json")).unwrap()).unwrap();
    assert_eq!(bundle["variant"], "gateway", "{bundle}");
    assert_eq!(bundle["requested_name"], "Gateway Load Balancer");
    let template = std::fs::read_to_string(out.join("elasticloadbalancing/template.yaml")).unwrap();
    assert!(template.contains("Type: gateway") && template.contains("Protocol: GENEVE"), "{template}");
}
