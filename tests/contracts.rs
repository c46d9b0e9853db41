//! Typed stage contracts: every stage's stored output parses as its contract, later
//! stages read the plan `analyze` built, and `verify` fails closed when an earlier
//! output is missing or has lost (or mangled) its checks.

mod common;

use seccfg::input::Profile;
use seccfg::pipeline::contracts::{Analyzed, ControlsOutput, IacOutput, checks_of};
use seccfg::pipeline::{StageError, StageInput, StageName, run_all, run_stage};
use serde_json::{Value, json};

fn profile() -> Profile {
    Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0
}

/// Every stage's output (as the job table stores it) for s3 with fin-prod.
fn outputs() -> Vec<(StageName, Value)> {
    let knowledge = common::knowledge();
    let outputs = run_all(&knowledge, &profile(), "s3").unwrap_or_else(|(s, e)| panic!("{s:?}: {e}"));
    outputs.into_iter().map(|(s, o)| (s, o.output)).collect()
}

fn run_verify(previous: &[(StageName, Value)]) -> Result<(), StageError> {
    let knowledge = common::knowledge();
    let profile = profile();
    let input = StageInput { knowledge: &knowledge, profile: &profile, service_id: "s3", service_name: "s3", previous };
    run_stage(StageName::Verify, &input).map(|_| ())
}

#[test]
fn every_output_parses_as_its_contract_and_carries_checks() {
    for (stage, value) in outputs() {
        let checks = checks_of(stage, &value).unwrap_or_else(|e| panic!("{stage:?}: {e}"));
        if matches!(stage, StageName::Controls | StageName::Iac | StageName::Iam) {
            assert!(!checks.0.is_empty(), "{stage:?} recorded no checks");
        }
    }
}

#[test]
fn the_plan_is_built_once_and_drives_the_rendered_rules() {
    let all = outputs();
    let get = |s: StageName| all.iter().find(|(n, _)| *n == s).unwrap().1.clone();
    let analyzed: Analyzed = serde_json::from_value(get(StageName::Analyze)).unwrap();
    let controls: ControlsOutput = serde_json::from_value(get(StageName::Controls)).unwrap();
    let iac: IacOutput = serde_json::from_value(get(StageName::Iac)).unwrap();
    let plan = &analyzed.plan;
    assert_eq!(plan.service, "s3");
    assert!(!plan.selected.is_empty());
    // Highest priority first, then by id.
    for w in plan.selected.windows(2) {
        assert!(w[0].priority > w[1].priority || (w[0].priority == w[1].priority && w[0].id < w[1].id));
    }
    // Every Guard rule and Config rule controls rendered is for a planned control.
    for rule in &controls.config_rules {
        assert!(plan.priority(&rule.control_id).is_some(), "{} not planned", rule.control_id);
    }
    for c in plan.selected_controls().iter().filter(|c| c.cloudformation.is_some()) {
        let name = seccfg::render::guard::rule_name(&c.id);
        assert!(controls.guard_rules.contains(&format!("rule {name} ")), "{name} missing from rules.guard");
    }
    assert!(iac.resource_types.iter().any(|t| t == "AWS::S3::Bucket"));

    // A later stage given a plan without some control renders without it: the plan,
    // not the knowledge, decides.
    let mut trimmed = analyzed.clone();
    let dropped = trimmed.plan.selected.remove(0).id;
    let knowledge = common::knowledge();
    let profile = profile();
    let previous = vec![
        (StageName::Collect, get(StageName::Collect)),
        (StageName::Analyze, serde_json::to_value(&trimmed).unwrap()),
    ];
    let input = StageInput {
        knowledge: &knowledge,
        profile: &profile,
        service_id: "s3",
        service_name: "s3",
        previous: &previous,
    };
    let out = run_stage(StageName::Controls, &input).unwrap();
    let doc: Value =
        serde_json::from_slice(&out.artifacts.iter().find(|a| a.name == "controls.json").unwrap().bytes).unwrap();
    assert!(doc["controls"].as_array().unwrap().iter().all(|c| c["id"] != dropped.as_str()));
}

#[test]
fn verify_passes_on_complete_outputs() {
    let mut previous = outputs();
    previous.retain(|(s, _)| *s != StageName::Verify);
    run_verify(&previous).expect("complete outputs verify");
}

#[test]
fn verify_fails_closed_when_checks_are_missing_or_malformed() {
    let mut base = outputs();
    base.retain(|(s, _)| *s != StageName::Verify);
    for stage in [StageName::Collect, StageName::Analyze, StageName::Controls, StageName::Iac, StageName::Iam] {
        for mangled in [None, Some(json!("none")), Some(json!([{ "check": "x" }])), Some(Value::Null)] {
            let mut previous = base.clone();
            let entry = previous.iter_mut().find(|(s, _)| *s == stage).unwrap();
            let obj = entry.1.as_object_mut().unwrap();
            match &mangled {
                None => {
                    obj.remove("checks");
                }
                Some(v) => {
                    obj.insert("checks".into(), v.clone());
                }
            }
            let err = run_verify(&previous).expect_err(&format!("{stage:?} with checks {mangled:?} must fail"));
            assert!(matches!(err, StageError::Permanent(_)));
            assert!(err.to_string().contains(stage.as_str()), "{err}");
        }
        let mut previous = base.clone();
        previous.retain(|(s, _)| *s != stage);
        let err = run_verify(&previous).expect_err("a missing stage output must fail");
        assert!(err.to_string().contains("missing"), "{err}");
    }
}

#[test]
fn a_failed_check_in_a_stored_output_fails_verify() {
    let mut previous = outputs();
    previous.retain(|(s, _)| *s != StageName::Verify);
    let iac = previous.iter_mut().find(|(s, _)| *s == StageName::Iac).unwrap();
    iac.1["checks"][0]["passed"] = json!(false);
    assert!(run_verify(&previous).is_err());
}
