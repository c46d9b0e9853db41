//! The team's reviewed control knowledge (`knowledge/controls/*.yaml`) and the
//! controls derived from resource schemas for every other service.
//!
//! Files are checked for shape at load (known requirement keys, unique ids,
//! resources that exist); facts they reference are checked against the catalog by
//! the pipeline's verification and by `tests/controls_knowledge.rs`.

pub mod derive;
pub mod model;
pub mod path;
pub mod profile_values;
pub mod requirements;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub use model::*;

#[derive(Debug, thiserror::Error)]
#[error("control file {path}: {message}")]
pub struct KnowledgeError {
    pub path: PathBuf,
    pub message: String,
}

/// Reviewed controls by canonical service id.
#[derive(Debug, Default)]
pub struct ControlLibrary {
    services: BTreeMap<String, ServiceControls>,
}

impl ControlLibrary {
    /// Loads every `*.yaml` in `dir`; a missing directory is an empty library.
    pub fn load(dir: &Path) -> Result<ControlLibrary, KnowledgeError> {
        let mut services = BTreeMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(ControlLibrary::default());
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        paths.sort();
        for path in paths {
            let controls = load_file(&path)?;
            services.insert(controls.service.clone(), controls);
        }
        Ok(ControlLibrary { services })
    }

    pub fn service(&self, id: &str) -> Option<&ServiceControls> {
        self.services.get(id)
    }

    pub fn services(&self) -> impl Iterator<Item = &ServiceControls> {
        self.services.values()
    }
}

fn load_file(path: &Path) -> Result<ServiceControls, KnowledgeError> {
    let fail = |message: String| KnowledgeError { path: path.to_path_buf(), message };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let controls: ServiceControls = yaml_serde::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    if controls.service != stem {
        return Err(fail(format!("service '{}' does not match the file name", controls.service)));
    }
    check_shape(&controls).map_err(fail)?;
    Ok(controls)
}

/// Structural rules a reviewer should never have to check by eye.
pub fn check_shape(sc: &ServiceControls) -> Result<(), String> {
    let prefix = format!("{}-", sc.service.to_ascii_uppercase());
    let mut ids = BTreeSet::new();
    let resource_ids: BTreeSet<&str> = sc.resources.iter().map(|r| r.id.as_str()).collect();
    if resource_ids.len() != sc.resources.len() {
        return Err("resource ids must be unique".into());
    }
    for c in &sc.controls {
        if !c.id.starts_with(&prefix) || !ids.insert(c.id.as_str()) {
            return Err(format!("control id '{}' must be unique and start with '{prefix}'", c.id));
        }
        for key in c.requires.iter().chain(&c.escalates_on) {
            if !requirements::is_known(key) {
                return Err(format!("control {}: unknown requirement key '{key}' (see docs/CONTROLS.md)", c.id));
            }
        }
        if let Some(cfn) = &c.cloudformation
            && !resource_ids.contains(cfn.resource.as_str())
        {
            return Err(format!("control {}: resource '{}' is not in resources", c.id, cfn.resource));
        }
        if c.stride.is_empty() {
            return Err(format!("control {}: stride must name at least one category", c.id));
        }
    }
    for r in &sc.resources {
        if let Some(ctl) = &r.with_control
            && !ids.contains(ctl.as_str())
        {
            return Err(format!("resource {}: with_control '{ctl}' is not a control of this file", r.id));
        }
    }
    Ok(())
}

/// The controls that apply to a service: the reviewed file, else controls derived
/// from its resource schemas, else `None` (nothing verifiable can be said).
pub fn for_service<'a>(
    catalog: &'a crate::catalog::Catalog,
    service: &crate::catalog::ServiceIdentity,
) -> Option<std::borrow::Cow<'a, ServiceControls>> {
    use std::borrow::Cow;
    match catalog.controls().service(&service.id) {
        Some(reviewed) => Some(Cow::Borrowed(reviewed)),
        None => derive::derive(catalog, service).map(Cow::Owned),
    }
}

/// A control chosen for a profile, with the priority the profile gives it.
#[derive(Debug, Clone)]
pub struct Selected<'a> {
    pub control: &'a ControlDef,
    pub priority: Priority,
    /// Requirement keys that hold and led to the choice or raised the priority.
    pub triggered_by: Vec<&'a str>,
}

/// Chooses and prioritises controls: a control is selected when every `requires`
/// key holds; each `escalates_on` key that holds raises it a level; a low-risk
/// profile lowers every control a level.
pub fn select<'a>(sc: &'a ServiceControls, profile: &crate::input::Profile) -> Vec<Selected<'a>> {
    use crate::input::RiskLevel;
    sc.controls
        .iter()
        .filter(|c| c.requires.iter().all(|k| requirements::holds(profile, k)))
        .map(|control| {
            let mut priority = control.priority;
            let mut triggered_by: Vec<&str> = control.requires.iter().map(String::as_str).collect();
            for key in control.escalates_on.iter().filter(|k| requirements::holds(profile, k)) {
                priority = priority.raised();
                triggered_by.push(key);
            }
            if profile.risk_level == RiskLevel::Low {
                priority = priority.lowered();
            }
            Selected { control, priority, triggered_by }
        })
        .collect()
}
