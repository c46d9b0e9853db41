//! `iac`: CloudFormation (YAML) and Terraform (HCL) for the service's core
//! resources configured to satisfy the selected controls, plus templates that
//! deploy the detective and responsive controls. The plan comes from `analyze`,
//! the Config, EventBridge and Guard rules from `controls` (never rendered twice).
//! Nothing is published unless the templates pass the in-run verification (`verify.rs`).

mod roles;
mod verify;

use serde_json::Value;

use super::checks::Checks;
use super::contracts::{ControlsOutput, IacOutput};
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::render::{cloudformation, terraform, terraform_checks};

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let identity = input.service()?;
    let plan = input.plan()?;
    let rendered = input.read::<ControlsOutput>()?;
    let service = &plan.controls;
    let controls = plan.selected_controls();
    let catalog = input.catalog();
    let description = format!(
        "seccfg: {} core resources for profile {} (catalog {})",
        identity.id,
        input.profile.profile_id,
        catalog.version()
    );
    let template = cloudformation::core_template(service, &controls, &description);
    let (config_rules, event_rules) = (&rendered.config_rules, &rendered.event_rules);
    let controls_template = cloudformation::controls_template(&identity.id, config_rules, event_rules);
    let deployed = cloudformation::deployed(service, &controls);
    let core_tf = terraform::core_module(catalog, service, &deployed, &controls);
    let controls_tf = terraform::controls_module(config_rules, event_rules);
    let tf_types: Vec<String> = core_tf.resources.iter().map(|r| r.kind.clone()).collect();
    let mut deployed_types = tf_types.clone();
    deployed_types.sort();
    deployed_types.dedup();
    let tf_checks = terraform_checks::checks(catalog, service, &deployed, &controls, deployed_types);

    let mut checks = Checks::default();
    verify::cfn_properties(catalog, &template, &mut checks);
    verify::cfn_properties(catalog, &controls_template, &mut checks);
    verify::terraform(catalog, &core_tf.resources, &mut checks);
    verify::terraform(catalog, &controls_tf.resources, &mut checks);
    verify::guard(service, &controls, &template, &rendered.guard_rules, &mut checks);
    verify::terraform_checks(catalog, &tf_checks, &mut checks);
    checks.ensure_passed("iac")?;

    let resource_types: Vec<String> = template["Resources"]
        .as_object()
        .into_iter()
        .flat_map(|r| r.values())
        .filter_map(|r| r["Type"].as_str().map(String::from))
        .collect();
    // A service with nothing to deploy (no CloudFormation type, or no Config/EventBridge
    // rule) gets no empty template: analysis.md says why instead.
    let mut artifacts = Vec::new();
    if !deployed.is_empty() {
        artifacts.push(yaml("template.yaml", &template)?);
        artifacts.push(text("main.tf", terraform::align_equals(&core_tf.text)));
        artifacts.push(Artifact::json("terraform-checks.json", &tf_checks));
    }
    if !config_rules.is_empty() || !event_rules.is_empty() {
        artifacts.push(yaml("controls-template.yaml", &controls_template)?);
        artifacts.push(text("controls.tf", terraform::align_equals(&controls_tf.text)));
    }
    let output = IacOutput {
        resource_types,
        terraform_resource_types: tf_types,
        service_roles: roles::service_roles(&template),
        checks,
    };
    Ok(StageOutput::new(&output, artifacts))
}

fn yaml(name: &str, value: &Value) -> Result<Artifact, StageError> {
    let body = cloudformation::yaml(value).map_err(|e| StageError::Permanent(format!("{name}: {e}")))?;
    Ok(Artifact { name: name.into(), content_type: "application/yaml", bytes: body.into_bytes() })
}

fn text(name: &str, body: String) -> Artifact {
    Artifact { name: name.into(), content_type: "text/plain; charset=utf-8", bytes: body.into_bytes() }
}
