//! Everything the pipeline knows, in one [`Knowledge`] value: the catalog of AWS
//! facts, the team's reviewed control knowledge (`knowledge/controls/*.yaml`) with
//! the controls derived from resource schemas for every other service, and the
//! reviewed IAM knowledge (`knowledge/iam/*.yaml`). The catalog knows nothing of
//! controls; this module depends on the catalog, never the reverse.
//!
//! Files are checked for shape at load (known requirement keys, unique ids,
//! resources that exist); facts they reference are checked against the catalog by
//! the pipeline's verification and by `tests/controls_knowledge.rs`.

pub mod data_key;
pub mod derive;
pub mod iam;
pub mod model;
pub mod path;
pub mod primary;
pub mod profile_values;
pub mod requirements;
pub mod semantics;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::catalog::{Catalog, CatalogError, ServiceIdentity};

pub use model::*;

#[derive(Debug, thiserror::Error)]
#[error("control file {path}: {message}")]
pub struct KnowledgeError {
    pub path: PathBuf,
    pub message: String,
}

/// A failure to load the catalog or the knowledge checked against it.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Knowledge(#[from] KnowledgeError),
}

/// The catalog plus the team's control and IAM knowledge. Immutable after load;
/// share it behind an `Arc`.
pub struct Knowledge {
    catalog: Arc<Catalog>,
    controls: ControlLibrary,
    semantics: semantics::SemanticLibrary,
    iam: iam::IamKnowledge,
    security_hub_reasons: BTreeMap<String, SecurityHubReason>,
}

/// Why a Security Hub control is not implemented by any bundle
/// (`knowledge/security-hub-reasons.yaml`, reviewed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityHubReason {
    pub reason: ReasonKind,
    /// What is needed instead (the account or organisation setup, or why no deployment can).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReasonKind {
    /// The profile does not call for it (the control depends on a choice the profile does not make).
    Profile,
    /// It needs account- or organisation-level setup outside a service bundle.
    AccountSetup,
    /// A deployment cannot express it (runtime state, resources other teams create later).
    NotDeployable,
    /// It checks a different kind of the service's main resource than the bundle deploys
    /// (an application-load-balancer check in a network load balancer bundle).
    Variant,
}

impl Knowledge {
    /// Loads `knowledge_dir/controls` and the compiled-in IAM knowledge on top of a
    /// loaded catalog; every reviewed service must be a catalog service.
    pub fn new(catalog: Arc<Catalog>, knowledge_dir: &Path) -> Result<Knowledge, KnowledgeError> {
        let dir = knowledge_dir.join("controls");
        let controls = ControlLibrary::load(&dir)?;
        for service in controls.services() {
            if catalog.service(&service.service).is_none() {
                return Err(KnowledgeError {
                    path: dir.join(format!("{}.yaml", service.service)),
                    message: format!("service '{}' is not in the catalog", service.service),
                });
            }
        }
        let iam = iam::load().map_err(|message| KnowledgeError { path: knowledge_dir.join("iam"), message })?;
        let semantics = semantics::SemanticLibrary::load(&knowledge_dir.join("semantics.yaml"))?;
        let security_hub_reasons = load_reasons(&catalog, &knowledge_dir.join("security-hub-reasons.yaml"))?;
        Ok(Knowledge { catalog, controls, semantics, iam, security_hub_reasons })
    }

    /// Loads the catalog from `data_dir` and the knowledge from `knowledge_dir`.
    pub fn load(data_dir: &Path, knowledge_dir: &Path) -> Result<Knowledge, LoadError> {
        let catalog = Arc::new(Catalog::load(data_dir, knowledge_dir)?);
        Ok(Knowledge::new(catalog, knowledge_dir)?)
    }

    /// Loads from `SECCFG_CATALOG_DIR` / `SECCFG_KNOWLEDGE_DIR`, defaulting to the repo layout.
    pub fn load_default() -> Result<Knowledge, LoadError> {
        let catalog = Arc::new(Catalog::load_default()?);
        let dir = std::env::var("SECCFG_KNOWLEDGE_DIR").unwrap_or_else(|_| crate::catalog::default_dir("knowledge"));
        Ok(Knowledge::new(catalog, Path::new(&dir))?)
    }

    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    pub fn controls(&self) -> &ControlLibrary {
        &self.controls
    }

    pub fn iam(&self) -> &iam::IamKnowledge {
        &self.iam
    }

    /// The reviewed reason a Security Hub control is not implemented, if there is one.
    pub fn security_hub_reason(&self, id: &str) -> Option<&SecurityHubReason> {
        self.security_hub_reasons.get(id)
    }

    pub fn security_hub_reasons(&self) -> &BTreeMap<String, SecurityHubReason> {
        &self.security_hub_reasons
    }

    /// The reviewed library of property semantics that derives controls.
    pub fn semantics(&self) -> &semantics::SemanticLibrary {
        &self.semantics
    }

    /// The controls that apply to a service: the reviewed file, else controls derived
    /// from its resource schemas (possibly none, with the reasons in `derivation`).
    pub fn for_service(&self, service: &ServiceIdentity) -> Option<std::borrow::Cow<'_, ServiceControls>> {
        use std::borrow::Cow;
        match self.controls.service(&service.id) {
            Some(reviewed) => Some(Cow::Borrowed(reviewed)),
            None => Some(Cow::Owned(derive::derive(&self.catalog, &self.semantics, service))),
        }
    }
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
    check_variants(&controls).map_err(fail)?;
    Ok(controls)
}

/// Every variant must name only controls of the file and give a control set that passes
/// [`check_shape`] once applied.
fn check_variants(sc: &ServiceControls) -> Result<(), String> {
    for v in &sc.variants {
        let unknown =
            v.not_applicable.keys().chain(v.controls.iter().map(|c| &c.id)).find(|id| sc.control(id).is_none());
        if let Some(id) = unknown {
            return Err(format!("variant {}: '{id}' is not a control of this file", v.id));
        }
        if v.names.is_empty() {
            return Err(format!("variant {}: names no request name", v.id));
        }
        let mut applied = sc.clone();
        applied.apply_variant(Some(&v.id));
        check_shape(&applied).map_err(|e| format!("variant {}: {e}", v.id))?;
    }
    Ok(())
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
        if let Some(missing) =
            c.cloudformation.iter().flat_map(|cfn| cfn.resources()).find(|r| !resource_ids.contains(r.as_str()))
        {
            return Err(format!("control {}: resource '{missing}' is not in resources", c.id));
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
        if let Some(later) = &r.required_by
            && !resource_ids.contains(later.as_str())
        {
            return Err(format!("resource {}: required_by '{later}' is not in resources", r.id));
        }
    }
    Ok(())
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

/// Reviewed reasons by Security Hub control id; every id must be in the catalog. A missing
/// file is an empty table.
fn load_reasons(catalog: &Catalog, path: &Path) -> Result<BTreeMap<String, SecurityHubReason>, KnowledgeError> {
    let err = |message: String| KnowledgeError { path: path.to_path_buf(), message };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(err(e.to_string())),
    };
    let reasons: BTreeMap<String, SecurityHubReason> = yaml_serde::from_str(&text).map_err(|e| err(e.to_string()))?;
    if let Some(unknown) = reasons.keys().find(|id| catalog.security_hub_control(id).is_none()) {
        return Err(err(format!("Security Hub control '{unknown}' is not in the catalog")));
    }
    Ok(reasons)
}
