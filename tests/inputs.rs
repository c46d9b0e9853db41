//! The accepted input formats: every valid example parses, every bad one is
//! rejected with the offending field named by JSON pointer.

mod common;

use seccfg::input::{Framework, InputError, Profile, RiskLevel, ServiceRequest};
use serde_json::json;

fn pointers(e: InputError) -> Vec<String> {
    match e {
        InputError::Fields(fields) => fields.into_iter().map(|f| f.pointer).collect(),
        other => panic!("expected field errors, got {other}"),
    }
}

#[test]
fn example_profiles_parse_with_the_facts_stages_use() {
    let (fin, warnings) = Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(fin.profile_id, "FIN-PROD-001");
    assert_eq!(fin.frameworks(), vec![Framework::Nist80053, Framework::PciDss, Framework::Iso27001]);
    assert!(fin.encryption.customer_managed_keys && fin.encryption.key_rotation);
    assert!(fin.access.mfa && fin.access.ip_restrictions);
    assert_eq!(fin.risk_level, RiskLevel::High);
    assert_eq!(fin.monitoring.log_retention_days, Some(400));
    assert_eq!(fin.regulatory_regions, vec!["us-east-1", "us-west-2"]);

    let (dev, _) = Profile::from_slice(&common::example("profiles/startup-dev.json")).unwrap();
    assert!(!dev.encryption.customer_managed_keys, "AWS managed keys are not customer managed");
    assert!(!dev.access.mfa);
    assert_eq!(dev.risk_level, RiskLevel::Low);
    assert_eq!(dev.frameworks(), vec![Framework::Cis]);

    let (hipaa, _) = Profile::from_slice(&common::example("profiles/health-hipaa.json")).unwrap();
    assert_eq!(hipaa.frameworks(), vec![Framework::Hipaa, Framework::Soc2]);
}

#[test]
fn example_requests_parse_and_malformed_is_rejected() {
    for (file, services) in
        [("s3.json", 1), ("sns.json", 1), ("bedrock.json", 1), ("data-platform.json", 4), ("typo-service.json", 1)]
    {
        let (req, warnings) = ServiceRequest::from_slice(&common::example(&format!("requests/{file}"))).unwrap();
        assert_eq!(req.services.len(), services, "{file}");
        assert!(warnings.is_empty(), "{file}: {warnings:?}");
    }
    let err = ServiceRequest::from_slice(&common::example("requests/malformed.json")).unwrap_err();
    assert!(matches!(err, InputError::Syntax { .. }), "{err}");
}

#[test]
fn wrong_types_are_named_by_pointer() {
    let doc = json!({ "requestId": 42, "services": { "serviceName": "Amazon SQS" } });
    let err = ServiceRequest::from_value(&doc).unwrap_err();
    assert_eq!(pointers(err), vec!["/requestId", "/services"]);

    let doc = json!({ "requestId": "R", "services": [{ "serviceName": "" }, {}, "s3"], "timestamp": "yesterday" });
    let err = ServiceRequest::from_value(&doc).unwrap_err();
    assert_eq!(pointers(err), vec!["/timestamp", "/services/0/serviceName", "/services/1/serviceName", "/services/2"]);

    let doc = json!({ "requestId": "R", "services": [] });
    assert_eq!(pointers(ServiceRequest::from_value(&doc).unwrap_err()), vec!["/services"]);
}

#[test]
fn profile_required_fields_enums_and_bounds() {
    let err = Profile::from_value(json!({})).unwrap_err();
    assert_eq!(pointers(err), vec!["/profile_id", "/security_requirements", "/compliance_requirements"]);

    let mut doc = common::example_json("profiles/fin-prod.json");
    doc["compliance_requirements"]["additional_frameworks"] = json!(["PCI-DSS", 7]);
    doc["compliance_requirements"]["requirements"]["regulatory_regions"] = json!(["us-east-1", "Europe"]);
    doc["threat_model"]["risk_level"] = json!(["high"]);
    doc["security_operations"]["logging"]["log_retention_period"] = json!(-5);
    doc["security_requirements"]["access_requirements"]["mfa"] = json!("yes");
    let err = Profile::from_value(doc).unwrap_err();
    let mut got = pointers(err);
    got.sort();
    assert_eq!(
        got,
        vec![
            "/compliance_requirements/additional_frameworks/1",
            "/compliance_requirements/requirements/regulatory_regions/1",
            "/security_operations/logging/log_retention_period",
            "/security_requirements/access_requirements/mfa",
            "/threat_model/risk_level",
        ]
    );
}

#[test]
fn unknown_fields_are_tolerated_as_warnings() {
    let mut doc = common::example_json("profiles/startup-dev.json");
    doc["cost_centre"] = json!("CC-1");
    let (_, warnings) = Profile::from_value(doc).unwrap();
    assert_eq!(warnings.len(), 1);
    assert_eq!(warnings[0].pointer, "/cost_centre");
}

#[test]
fn content_hash_ignores_key_order_and_spacing() {
    let a = Profile::from_slice(
        br#"{"profile_id":"X","security_requirements":{},"compliance_requirements":{"primary_framework":"CIS"}}"#,
    )
    .unwrap()
    .0;
    let b = Profile::from_slice(b"{ \"compliance_requirements\": {\"primary_framework\": \"CIS\"},\n \"security_requirements\": {}, \"profile_id\": \"X\" }").unwrap().0;
    assert_eq!(a.content_hash(), b.content_hash());
    let c = Profile::from_slice(
        br#"{"profile_id":"X","security_requirements":{},"compliance_requirements":{"primary_framework":"HIPAA"}}"#,
    )
    .unwrap()
    .0;
    assert_ne!(a.content_hash(), c.content_hash());
}

#[test]
fn contradicting_access_requirements_are_rejected_on_both_fields() {
    let err = Profile::from_slice(&common::example("profiles/bad-mfa-contradiction.json")).unwrap_err();
    let mut got = pointers(err);
    got.sort();
    assert_eq!(
        got,
        vec!["/security_operations/access_management/mfa_required", "/security_requirements/access_requirements/mfa"]
    );

    let mut doc = common::example_json("profiles/startup-dev.json");
    doc["security_operations"] = json!({ "access_management": { "ip_restrictions": true } });
    let err = Profile::from_value(doc).unwrap_err();
    assert_eq!(
        pointers(err),
        vec![
            "/security_operations/access_management/ip_restrictions",
            "/security_requirements/access_requirements/ip_restrictions"
        ]
    );
}

fn warning_for<'a>(warnings: &'a [seccfg::input::Warning], pointer: &str) -> &'a str {
    warnings
        .iter()
        .find(|w| w.pointer == pointer)
        .map(|w| w.detail.as_str())
        .unwrap_or_else(|| panic!("no warning at {pointer}: {warnings:?}"))
}

#[test]
fn reference_design_vocabulary_is_accepted_with_warnings_saying_how_it_was_read() {
    use seccfg::input::{DataClassification, Framework, RiskLevel};
    let (profile, warnings) = Profile::from_slice(&common::example("profiles/reference-design.json")).unwrap();
    assert_eq!(profile.data_classification, Some(DataClassification::Restricted), "strictest non-regulated class");
    let dc = warning_for(&warnings, "/compliance_requirements/requirements/data_classification");
    assert!(dc.contains("'sensitive'") && dc.contains("'restricted'"), "{dc}");
    assert!(profile.aws_accounts.is_empty(), "a placeholder account is never offered as a value");
    let acct = warning_for(&warnings, "/organization_details/aws_accounts/0");
    assert!(acct.contains("'320'") && acct.contains("${Account}"), "{acct}");
    assert_eq!(profile.warnings, warnings, "the profile carries its warnings into every bundle");

    let mut doc = common::example_json("profiles/fin-prod.json");
    doc["compliance_requirements"]["primary_framework"] = json!("NIST-9000");
    doc["compliance_requirements"]["additional_frameworks"] = json!(["PCI-DSS", "DORA"]);
    doc["threat_model"]["framework"] = json!("PASTA");
    doc["threat_model"]["risk_level"] = json!("extreme");
    doc["threat_model"]["threat_vectors"] = json!(["Data Exfiltration", "quantum"]);
    let (profile, warnings) = Profile::from_value(doc).unwrap();
    assert_eq!(profile.primary_framework, Framework::Nist80053);
    assert!(warning_for(&warnings, "/compliance_requirements/primary_framework").contains("NIST-800-53"));
    assert_eq!(profile.additional_frameworks, vec![Framework::PciDss]);
    assert!(warning_for(&warnings, "/compliance_requirements/additional_frameworks/1").contains("no coverage"));
    assert!(warning_for(&warnings, "/threat_model/framework").contains("STRIDE"));
    assert_eq!(profile.risk_level, RiskLevel::Critical);
    assert!(warning_for(&warnings, "/threat_model/risk_level").contains("'critical'"));
    assert_eq!(profile.threat_vectors, vec!["data_exfiltration".to_string(), "quantum".to_string()]);
    assert!(warning_for(&warnings, "/threat_model/threat_vectors/1").contains("no control"));

    let mut doc = common::example_json("profiles/fin-prod.json");
    doc["threat_model"]["risk_level"] = json!("unknowable");
    doc["compliance_requirements"]["requirements"]["data_classification"] = json!("top secret");
    let (profile, warnings) = Profile::from_value(doc).unwrap();
    assert_eq!(profile.risk_level, RiskLevel::High, "unknown risk is read protectively");
    assert_eq!(profile.data_classification, Some(DataClassification::Restricted));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
}
