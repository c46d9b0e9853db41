//! The gate against the control library (`POST /v1/checks`): the latest approved
//! bundle of each service for a profile, its waivers in force, and a cache of the
//! rules read from those bundles per (profile, library version).
//!
//! The library version of a profile is a digest of its approved entries (service,
//! run, bundle version): an approval changes it, so the next check reads the new
//! bundles and the old entry is dropped. Waivers are read with every check (they
//! expire with time, not with a library change).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::report::{Report, RuleSource};
use super::rules::ServiceRules;
use super::{GateError, Input, check_plan, check_template};
use crate::app::App;
use crate::library::{ApprovedService, LibraryError, Waiver};
use crate::store::now_ms;

/// The body of `POST /v1/checks`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The CloudFormation template as text (JSON or YAML), up to the body limit. Give
    /// either `template` or `plan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub template: Option<String>,
    /// A Terraform plan as text: the output of `terraform show -json PLANFILE`. Its
    /// `resource_changes` are checked against the bundles' `terraform-checks.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub plan: Option<String>,
    /// The security profile whose approved controls apply.
    pub profile_id: String,
    /// Only bundles approved for this profile version (default: the latest approved, whatever its profile version).
    pub profile_version: Option<i64>,
}

/// The compiled rules of one profile's library at one version.
#[derive(Debug)]
pub struct CompiledLibrary {
    pub version: String,
    /// Service id → (its approved entry when compiled, its rules).
    pub services: BTreeMap<String, (ApprovedService, ServiceRules)>,
}

/// Compiled rules per profile, valid for one library version each.
#[derive(Default)]
pub struct RuleCache {
    entries: Mutex<HashMap<String, Arc<CompiledLibrary>>>,
}

impl RuleCache {
    fn get(&self, profile_id: &str, version: &str) -> Option<Arc<CompiledLibrary>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(profile_id).filter(|c| c.version == version).cloned()
    }

    fn put(&self, profile_id: &str, compiled: Arc<CompiledLibrary>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(profile_id.to_string(), compiled);
    }

    /// How many profiles have compiled rules in memory.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a library check failed: bad input (422) or the library (500).
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error(transparent)]
    App(#[from] crate::app::AppError),
}

impl From<LibraryError> for CheckError {
    fn from(e: LibraryError) -> Self {
        CheckError::App(e.into())
    }
}

/// The digest naming a profile's library state.
pub fn library_version(services: &[ApprovedService]) -> String {
    let mut h = Sha256::new();
    for s in services {
        h.update(format!("{}\0{}\0{}\n", s.service_id, s.run_id, s.bundle_version));
    }
    hex::encode(&h.finalize()[..8])
}

/// Checks a template against the latest approved bundles of a profile, now.
pub async fn check(app: &App, cache: &RuleCache, request: &CheckRequest) -> Result<Report, CheckError> {
    check_at(app, cache, request, now_ms()).await
}

/// [`check`] with the waivers in force at `now` (ms since the epoch).
pub async fn check_at(app: &App, cache: &RuleCache, request: &CheckRequest, now: i64) -> Result<Report, CheckError> {
    match app.profile(&request.profile_id, request.profile_version).await {
        Ok(_) => {}
        Err(crate::app::AppError::ProfileNotFound(_)) => {
            return Err(GateError::UnknownProfile(request.profile_id.clone()).into());
        }
        Err(crate::app::AppError::ProfileVersionNotFound(id, v)) => {
            return Err(GateError::Input {
                pointer: "/profile_version".into(),
                line: None,
                message: format!("profile '{id}' has no version {v}"),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    }
    let approved = app.library.services(Some(&request.profile_id), now).await?;
    let compiled = compiled(app, cache, &request.profile_id, &approved, now).await?;
    let pinned = |s: &ApprovedService| request.profile_version.is_none_or(|v| v == s.profile_version);
    let in_force: Vec<&(ApprovedService, ServiceRules)> =
        compiled.services.values().filter(|(s, _)| pinned(s)).collect();
    let waivers: BTreeMap<String, Vec<Waiver>> =
        approved.iter().filter(|s| pinned(s)).map(|s| (s.service_id.clone(), s.waivers.clone())).collect();
    let rules: Vec<&ServiceRules> = in_force.iter().map(|(_, r)| r).collect();
    let waivers = super::waivers::everywhere(waivers);
    let report = match (&request.template, &request.plan) {
        (_, Some(plan)) => {
            let input = Input { name: "plan".into(), text: plan.clone() };
            check_plan(&app.catalog, &input, &rules, &waivers).map_err(|e| in_field("/plan", e))?
        }
        (template, None) => {
            let input = Input { name: "template".into(), text: template.clone().unwrap_or_default() };
            check_template(&app.catalog, &input, &rules, &waivers).map_err(|e| in_field("/template", e))?
        }
    };
    let sources = in_force
        .iter()
        .map(|(s, _)| RuleSource {
            service: s.service_id.clone(),
            source: format!("library: run {}", s.run_id),
            bundle_version: Some(s.bundle_version),
        })
        .collect();
    let mut report = Report::new(&request.profile_id, sources, vec![report]);
    report.library_version = Some(compiled.version.clone());
    Ok(report)
}

/// The profile's compiled rules for the library as it is now (cached per version).
async fn compiled(
    app: &App,
    cache: &RuleCache,
    profile_id: &str,
    approved: &[ApprovedService],
    now: i64,
) -> Result<Arc<CompiledLibrary>, CheckError> {
    let version = library_version(approved);
    if let Some(hit) = cache.get(profile_id, &version) {
        return Ok(hit);
    }
    let mut services = BTreeMap::new();
    for s in approved {
        let Some(bundle) = app.library.service(profile_id, &s.service_id, now).await? else { continue };
        let meta = bundle
            .controls
            .iter()
            .map(|c| (c.control.control_id.clone(), (c.control.title.clone(), c.control.priority.clone())))
            .collect();
        let text = bundle.templates.get("rules.guard").map(String::as_str).unwrap_or_default();
        let template = bundle.templates.get("template.yaml").map(String::as_str);
        let source = format!("library: run {}", s.run_id);
        let terraform = bundle.templates.get("terraform-checks.json").map(String::as_str);
        let rules = ServiceRules::from_bundle(&s.service_id, source, text, template, &meta)
            .and_then(|r| r.with_terraform(terraform))
            .map_err(|e| CheckError::App(crate::app::AppError::BundleIncomplete(s.run_id.clone(), e)))?;
        services.insert(s.service_id.clone(), (s.clone(), rules));
    }
    let compiled = Arc::new(CompiledLibrary { version, services });
    cache.put(profile_id, compiled.clone());
    Ok(compiled)
}

/// The JSON body of a check request, checked field by field (pointer per field).
pub fn parse_request(body: &Value) -> Result<CheckRequest, GateError> {
    let bad = |pointer: &str, message: &str| GateError::Input {
        pointer: pointer.into(),
        line: None,
        message: message.into(),
    };
    let Some(fields) = body.as_object() else { return Err(bad("", "the body must be a JSON object")) };
    let known = ["template", "plan", "profile_id", "profile_version"];
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(&format!("/{unknown}"), "unknown field"));
    }
    let text = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(bad(&format!("/{name}"), "must be a non-empty string")),
        None => Err(bad(&format!("/{name}"), "is required")),
    };
    let profile_version = match fields.get("profile_version") {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(v.as_i64().filter(|v| *v >= 1).ok_or_else(|| bad("/profile_version", "must be an integer >= 1"))?)
        }
    };
    let (template, plan) = match (fields.contains_key("template"), fields.contains_key("plan")) {
        (true, true) => return Err(bad("/plan", "give either template or plan, not both")),
        (false, true) => (None, Some(text("plan")?)),
        _ => (Some(text("template")?), None),
    };
    Ok(CheckRequest { template, plan, profile_id: text("profile_id")?, profile_version })
}

/// Input errors point into the request body's `template` or `plan` (`field`).
fn in_field(field: &str, e: GateError) -> GateError {
    match e {
        GateError::Syntax { line, message } => GateError::Input { pointer: field.into(), line, message },
        GateError::Input { pointer, line, message } => {
            GateError::Input { pointer: format!("{field}{pointer}"), line, message }
        }
        other => other,
    }
}
