//! The CI gate: does an application's CloudFormation template (or Terraform plan)
//! respect the controls the organisation approved for the services it uses?
//!
//! It reads bundles — a bundle directory offline, or the control library's latest
//! approved bundles through the API — and evaluates their Guard rules in-process,
//! re-scoped per resource and clause, into one [`Report`]. The gate reads what the
//! pipeline produced; the pipeline never imports it.
//!
//! One concern per file: `template` (parsing with a line map), `services` (resource
//! type → service through the catalog), `rules` (reading `rules.guard`), `path`
//! (Guard paths over a resource), `evaluate` (one cfn-guard run → findings),
//! `report` (the model), `format` (text, JSON, SARIF, JUnit), `library` (the
//! approved bundles of a profile, `POST /v1/checks`, the rule cache), `tfplan`
//! (reading `terraform show -json` output) and `tfplan_eval` (a plan against the
//! bundles' `terraform-checks.json`).

pub mod evaluate;
pub mod format;
pub mod library;
mod path;
pub mod report;
pub mod rules;
pub mod services;
pub mod template;
pub mod tfplan;
mod tfplan_eval;
mod tfplan_refs;
pub mod waivers;

use std::path::PathBuf;

pub use report::{Finding, InputReport, Outcome, Report, Verdict};
pub use rules::ServiceRules;
pub use template::Template;
pub use waivers::{ScopedWaiver, Waivers};

use crate::catalog::Catalog;
use crate::library::Waiver;

/// Why a check could not be made. Everything but `Guard` is the caller's input.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{message}")]
    Syntax { line: Option<usize>, message: String },
    #[error("{pointer}: {message}")]
    Input { pointer: String, line: Option<usize>, message: String },
    #[error("unknown profile '{0}'")]
    UnknownProfile(String),
    #[error("bundle: {0}")]
    Bundle(String),
    #[error("guard evaluation failed: {0}")]
    Guard(String),
}

impl GateError {
    /// The error with the input it concerns named first.
    pub fn in_input(self, name: &str) -> GateError {
        match self {
            GateError::Syntax { line, message } => GateError::Syntax { line, message: format!("{name}: {message}") },
            GateError::Input { pointer, line, message } => {
                GateError::Input { pointer, line, message: format!("{name}: {message}") }
            }
            other => other,
        }
    }
}

/// A template (or plan) to check: its name and text.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub text: String,
}

/// Parses and checks one CloudFormation template against the given rules.
pub fn check_template(
    catalog: &Catalog,
    input: &Input,
    rules: &[&ServiceRules],
    waivers: &Waivers,
) -> Result<InputReport, GateError> {
    let template = Template::parse(&input.text).map_err(|e| e.in_input(&input.name))?;
    let types = services::services_of(catalog, &template).map_err(|e| e.in_input(&input.name))?;
    let used: Vec<&ServiceRules> = rules.iter().copied().filter(|r| types.values().any(|s| *s == r.service)).collect();
    Ok(InputReport {
        name: input.name.clone(),
        kind: "cloudformation".into(),
        findings: evaluate::evaluate(&template, &used, waivers)?,
        not_approved: services::not_approved(&template, &types, rules),
    })
}

/// Parses and checks one Terraform plan (`terraform show -json`) against the bundles'
/// Terraform checks. A bundle without `terraform-checks.json` cannot check a plan.
pub fn check_plan(
    catalog: &Catalog,
    input: &Input,
    rules: &[&ServiceRules],
    waivers: &Waivers,
) -> Result<InputReport, GateError> {
    let plan = tfplan::Plan::parse(&input.text).map_err(|e| e.in_input(&input.name))?;
    let types = services::terraform_services_of(catalog, &plan).map_err(|e| e.in_input(&input.name))?;
    let used: Vec<&ServiceRules> = rules.iter().copied().filter(|r| types.values().any(|s| *s == r.service)).collect();
    if let Some(old) = used.iter().find(|r| r.terraform.is_none()) {
        return Err(GateError::Bundle(format!(
            "the {} bundle ({}) has no terraform-checks.json: it was generated before plans could be checked",
            old.service, old.source
        )));
    }
    Ok(InputReport {
        name: input.name.clone(),
        kind: "terraform_plan".into(),
        findings: tfplan_eval::evaluate(&plan, &used, waivers),
        not_approved: services::plan_not_approved(&plan, &types, rules),
    })
}

/// Checks one input as what it is: a Terraform plan (a JSON object with
/// `format_version` or `resource_changes`) or a CloudFormation template.
pub fn check_input(
    catalog: &Catalog,
    input: &Input,
    rules: &[&ServiceRules],
    waivers: &Waivers,
) -> Result<InputReport, GateError> {
    if tfplan::is_plan(&input.text) {
        check_plan(catalog, input, rules, waivers)
    } else {
        check_template(catalog, input, rules, waivers)
    }
}

/// The offline gate: templates checked against bundle directories written by `seccfg run`,
/// with the waivers of a waivers file (`waivers::read`) in force at `now`. Every
/// bundle must have been generated for `profile_id`. Returns the report and the
/// waivers of the file that had expired (read, not applied).
pub fn check_bundle_dirs(
    catalog: &Catalog,
    profile_id: &str,
    inputs: &[Input],
    bundle_dirs: &[PathBuf],
    waivers_file: Option<&str>,
    now: i64,
) -> Result<(Report, Vec<Waiver>), GateError> {
    let mut loaded = Vec::new();
    for dir in bundle_dirs {
        let bundle_profile = rules::bundle_profile(dir)?;
        if bundle_profile != profile_id {
            return Err(GateError::Bundle(format!(
                "{} was generated for profile '{bundle_profile}', not '{profile_id}'",
                dir.display()
            )));
        }
        loaded.push(rules::load_bundle_dir(dir)?);
    }
    let (in_force, expired) = match waivers_file {
        Some(text) => waivers::read(text, &loaded, now).map_err(|e| e.in_input("waivers"))?,
        None => (Waivers::new(), Vec::new()),
    };
    let rules: Vec<&ServiceRules> = loaded.iter().collect();
    let reports = inputs.iter().map(|i| check_input(catalog, i, &rules, &in_force)).collect::<Result<Vec<_>, _>>()?;
    let sources = loaded
        .iter()
        .map(|r| report::RuleSource { service: r.service.clone(), source: r.source.clone(), bundle_version: None })
        .collect();
    Ok((Report::new(profile_id, sources, reports), expired))
}
