//! `iac`: CloudFormation (YAML) and Terraform (HCL) for the service's core
//! resources configured to satisfy the selected controls, plus templates that
//! deploy the detective and responsive controls. Nothing is published unless the
//! templates pass the in-run verification (`verify.rs`).

pub mod cloudformation;
pub mod terraform;
pub mod values;
mod verify;

use serde_json::{Value, json};

use super::checks::Checks;
use super::controls::{detective, guard};
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::knowledge::ControlDef;

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let identity = input.service()?;
    let (service, selected) = input.selected_controls()?;
    let controls: Vec<&ControlDef> = selected.iter().filter_map(|(id, _)| service.control(id)).collect();
    let description = format!(
        "seccfg: {} core resources for profile {} (catalog {})",
        identity.id,
        input.profile.profile_id,
        input.catalog.version()
    );
    let template = cloudformation::core_template(&service, &controls, &description);
    let config_rules = detective::config_rules(input.catalog, &service, &controls);
    let event_rules = detective::event_rules(identity, &controls);
    let controls_template = cloudformation::controls_template(&identity.id, &config_rules, &event_rules);
    let deployed = cloudformation::deployed(&service, &controls);
    let provider = input.catalog.terraform_provider_version();
    let core_tf = terraform::core_module(&service, &deployed, &controls, provider);
    let controls_tf = terraform::controls_module(&config_rules, &event_rules);
    let rules = guard::rules_file(&service, &controls);

    let mut checks = Checks::default();
    verify::cfn_properties(input.catalog, &template, &mut checks);
    verify::cfn_properties(input.catalog, &controls_template, &mut checks);
    verify::terraform(input.catalog, &core_tf.resources, &mut checks);
    verify::terraform(input.catalog, &controls_tf.resources, &mut checks);
    verify::guard(&service, &controls, &template, &rules, &mut checks);
    checks.ensure_passed("iac")?;

    let resource_types: Vec<&str> = template["Resources"]
        .as_object()
        .into_iter()
        .flat_map(|r| r.values())
        .filter_map(|r| r["Type"].as_str())
        .collect();
    let artifacts = vec![
        yaml("template.yaml", &template)?,
        yaml("controls-template.yaml", &controls_template)?,
        text("main.tf", terraform::align_equals(&core_tf.text)),
        text("controls.tf", terraform::align_equals(&controls_tf.text)),
    ];
    let output = json!({
        "checks": checks.0,
        "resource_types": resource_types,
        "terraform_resource_types": core_tf.resources.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
    });
    Ok(StageOutput { output, artifacts })
}

fn yaml(name: &str, value: &Value) -> Result<Artifact, StageError> {
    let body = yaml_serde::to_string(value).map_err(|e| StageError::Permanent(format!("{name}: {e}")))?;
    Ok(Artifact { name: name.into(), content_type: "application/yaml", bytes: quote_dates(&body).into_bytes() })
}

/// Quotes date-like scalars (`2010-09-09`): YAML 1.1 loaders, cfn-lint's among them,
/// would read them as dates, and CloudFormation's version fields must be strings.
fn quote_dates(yaml: &str) -> String {
    let date = regex::Regex::new(r"(?m)^(\s*(?:- )?[A-Za-z0-9_:]+: )(\d{4}-\d{2}-\d{2})$").expect("valid regex");
    date.replace_all(yaml, "$1'$2'").into_owned()
}

fn text(name: &str, body: String) -> Artifact {
    Artifact { name: name.into(), content_type: "text/plain; charset=utf-8", bytes: body.into_bytes() }
}
