//! The team's reviewed IAM knowledge (`knowledge/iam/*.yaml`): the lists the name-based
//! rules cannot derive. Compiled into the binary so a deployed stage never runs without
//! them; tests/iam.rs checks every entry against the catalog.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct DataReadOverrides {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct WorkloadEntry {
    /// Fully qualified actions (`prefix:Action`).
    pub actions: Vec<String>,
    /// IAM resource type names the statements are scoped to (empty: the action's own types).
    pub resource_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct Workload {
    pub services: BTreeMap<String, WorkloadEntry>,
}

#[derive(Debug, Deserialize)]
pub struct CrossService {
    /// Prefix → why its actions may appear in another service's deployer policy.
    pub prefixes: BTreeMap<String, String>,
    /// `prefix:Action` → why.
    pub actions: BTreeMap<String, String>,
    /// Prefix → verb whose actions only read (e.g. `ec2` → `Describe`).
    pub read_only_verbs: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
pub struct Deployer {
    pub primary_resource_types: BTreeMap<String, Vec<String>>,
    pub cross_service: CrossService,
}

#[derive(Debug, Deserialize)]
pub struct Guardrails {
    pub secure_transport: Vec<String>,
    pub resource_control_policy: Vec<String>,
    pub global_services: Vec<String>,
}

#[derive(Debug)]
pub struct IamKnowledge {
    pub data_read: DataReadOverrides,
    pub workload: Workload,
    pub deployer: Deployer,
    pub guardrails: Guardrails,
}

const DATA_READ: &str = include_str!("../../knowledge/iam/data-read.yaml");
const WORKLOAD: &str = include_str!("../../knowledge/iam/workload.yaml");
const DEPLOYER: &str = include_str!("../../knowledge/iam/deployer.yaml");
const GUARDRAILS: &str = include_str!("../../knowledge/iam/guardrails.yaml");

fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, String> {
    yaml_serde::from_str(text).map_err(|e| format!("knowledge/iam/{file} is invalid: {e}"))
}

/// Parses the compiled-in files; an invalid file is an error naming it.
pub fn load() -> Result<IamKnowledge, String> {
    Ok(IamKnowledge {
        data_read: parse("data-read.yaml", DATA_READ)?,
        workload: parse("workload.yaml", WORKLOAD)?,
        deployer: parse("deployer.yaml", DEPLOYER)?,
        guardrails: parse("guardrails.yaml", GUARDRAILS)?,
    })
}
