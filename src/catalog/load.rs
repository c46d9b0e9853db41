//! Loading `data/` (generated facts) and `knowledge/` (the team's own aliases).
//!
//! Loading is all-or-nothing: a missing, corrupt or tampered file fails start-up
//! with the file named, so a half-loaded catalog can never serve a bundle.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::checkov::CheckovFacts;
use super::compliance::{ComplianceFacts, FrameworkFacts, requirements_by_check};
use super::config_rules::ConfigFacts;
use super::lazy::Lazy;
use super::links::{LinkFacts, Links};
use super::security_hub::SecurityHubFacts;
use super::terraform::{TerraformFacts, derive_prefixes};
use super::{Catalog, CfnResourceType, IamService, Manifest, SdkService, ServiceIdentity, resolve::normalize};
use crate::input::Framework;

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("catalog file {path} cannot be read: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("catalog file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// The team's exceptions (`knowledge/aliases.json`), each with its reason. The link
/// exceptions are applied by `scripts/refresh-catalog` into `data/links.json`; the loader
/// reads the names and the Terraform prefixes it reports, and checks every target exists.
#[derive(serde::Deserialize)]
struct Aliases {
    /// Service → names people use that no registry records.
    names: BTreeMap<String, NamesException>,
    /// Service → Terraform prefixes, for services whose names are not aws_<namespace>_.
    #[serde(default)]
    terraform_prefixes: BTreeMap<String, PrefixesException>,
    #[serde(default)]
    cloudformation_types: BTreeMap<String, ServiceException>,
    #[serde(default)]
    config_rule_prefixes: BTreeMap<String, ServiceException>,
    #[serde(default)]
    security_hub_families: BTreeMap<String, ServiceException>,
}

#[derive(serde::Deserialize)]
struct NamesException {
    names: Vec<String>,
    #[allow(dead_code)]
    reason: String,
}

#[derive(serde::Deserialize)]
struct PrefixesException {
    prefixes: Vec<String>,
    #[allow(dead_code)]
    reason: String,
}

#[derive(serde::Deserialize)]
struct ServiceException {
    service: String,
    #[allow(dead_code)]
    reason: String,
}

fn read(path: &Path) -> Result<Vec<u8>, CatalogError> {
    std::fs::read(path).map_err(|source| CatalogError::Read { path: path.to_path_buf(), source })
}

fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, CatalogError> {
    serde_json::from_slice(bytes)
        .map_err(|e| CatalogError::Invalid { path: path.to_path_buf(), message: e.to_string() })
}

/// Reads a generated file and checks it against the manifest's content hash.
fn read_verified<T: DeserializeOwned>(dir: &Path, name: &str, manifest: &Manifest) -> Result<T, CatalogError> {
    let path = dir.join(name);
    let bytes = read(&path)?;
    let expected = manifest
        .outputs
        .get(name)
        .ok_or_else(|| CatalogError::Invalid { path: path.clone(), message: "not listed in manifest.json".into() })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if &actual != expected {
        return Err(CatalogError::Invalid {
            path,
            message: format!(
                "content hash {actual} differs from the manifest's {expected}; run scripts/refresh-catalog"
            ),
        });
    }
    parse(&path, &bytes)
}

impl Catalog {
    /// Loads the catalog from a generated data directory and a knowledge directory.
    pub fn load(data_dir: &Path, knowledge_dir: &Path) -> Result<Catalog, CatalogError> {
        let manifest_path = data_dir.join("manifest.json");
        let manifest: Manifest = parse(&manifest_path, &read(&manifest_path)?)?;
        // The two big files (iam.json, cfn.json) parse on their own threads while this one
        // parses the rest; errors are still reported in a fixed order, iam.json first.
        let (iam, sdk, cfn, config, security_hub, compliance, checkov, terraform, links) =
            std::thread::scope(|scope| {
                let iam = scope
                    .spawn(|| read_verified::<BTreeMap<String, Lazy<IamService>>>(data_dir, "iam.json", &manifest));
                let cfn = scope.spawn(|| {
                    read_verified::<BTreeMap<String, Lazy<CfnResourceType>>>(data_dir, "cfn.json", &manifest)
                });
                let sdk = read_verified::<BTreeMap<String, SdkService>>(data_dir, "services.json", &manifest);
                let config = read_verified::<ConfigFacts>(data_dir, "config.json", &manifest);
                let security_hub = read_verified::<SecurityHubFacts>(data_dir, "securityhub.json", &manifest);
                let compliance = read_verified::<ComplianceFacts>(data_dir, "compliance.json", &manifest);
                let checkov = read_verified::<CheckovFacts>(data_dir, "checkov.json", &manifest);
                let terraform = read_verified::<TerraformFacts>(data_dir, "terraform.json", &manifest);
                let links = read_verified::<LinkFacts>(data_dir, "links.json", &manifest);
                (joined(iam), sdk, joined(cfn), config, security_hub, compliance, checkov, terraform, links)
            });
        let (iam, sdk, cfn) = (iam?, sdk?, cfn?);
        let (config, security_hub, compliance, checkov, terraform) =
            (config?, security_hub?, compliance?, checkov?, terraform?);
        let links = Links::from(links?);
        let aliases_path = knowledge_dir.join("aliases.json");
        let aliases: Aliases = parse(&aliases_path, &read(&aliases_path)?)?;

        let mut identities = identities(&iam, &sdk, &links)
            .map_err(|message| CatalogError::Invalid { path: data_dir.join("iam.json"), message })?;
        let known = |id: &String| identities.contains_key(id);
        let services = |m: &'_ BTreeMap<String, ServiceException>| {
            m.iter().map(|(k, e)| (k.clone(), e.service.clone())).collect::<Vec<_>>()
        };
        let targets = aliases
            .names
            .keys()
            .chain(aliases.terraform_prefixes.keys())
            .map(|k| (k.clone(), k.clone()))
            .chain(services(&aliases.cloudformation_types))
            .chain(services(&aliases.config_rule_prefixes))
            .chain(services(&aliases.security_hub_families));
        for (alias, target) in targets {
            if !known(&target) {
                return Err(CatalogError::Invalid {
                    path: aliases_path.clone(),
                    message: format!("alias '{alias}' names unknown service '{target}'"),
                });
            }
        }
        for identity in identities.values_mut() {
            let listed = aliases.terraform_prefixes.get(&identity.id).map(|e| &e.prefixes);
            identity.terraform_prefixes = derive_prefixes(identity, listed, terraform.resources.keys());
        }
        let names = name_index(&identities, &aliases.names);
        let config = config.with_ids();
        let frameworks = frameworks(compliance.frameworks, &data_dir.join("compliance.json"))?;
        let mut prowler_checks = compliance.checks;
        for (id, check) in &mut prowler_checks {
            check.id = id.clone();
        }
        Ok(Catalog {
            manifest,
            data_dir: data_dir.to_path_buf(),
            iam,
            cfn,
            identities,
            names,
            config,
            security_hub: security_hub.with_ids(),
            links,
            prowler_checks,
            requirements_by_check: requirements_by_check(&frameworks),
            frameworks,
            checkov: checkov.into_checks(),
            terraform,
        })
    }

    /// Loads from `SECCFG_CATALOG_DIR` / `SECCFG_KNOWLEDGE_DIR`, defaulting to the repo layout.
    pub fn load_default() -> Result<Catalog, CatalogError> {
        let data = std::env::var("SECCFG_CATALOG_DIR").unwrap_or_else(|_| default_dir("data"));
        let knowledge = std::env::var("SECCFG_KNOWLEDGE_DIR").unwrap_or_else(|_| default_dir("knowledge"));
        Catalog::load(Path::new(&data), Path::new(&knowledge))
    }
}

/// A loader thread's result; a panic there is re-raised here rather than hidden.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, T>) -> T {
    handle.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// Keys the extracted frameworks by the profile's framework names; each of them must be there.
fn frameworks(
    mut by_id: BTreeMap<String, FrameworkFacts>,
    path: &Path,
) -> Result<BTreeMap<Framework, FrameworkFacts>, CatalogError> {
    Framework::ALL
        .iter()
        .map(|f| {
            by_id.remove(f.id()).map(|facts| (*f, facts)).ok_or_else(|| CatalogError::Invalid {
                path: path.to_path_buf(),
                message: format!("framework {} is missing", f.id()),
            })
        })
        .collect()
}

/// `./<name>` when it exists (deployed layout), else the crate's own copy (tests, `cargo run`).
/// `name` in the working directory if it exists there, else in the source tree.
pub(crate) fn default_dir(name: &str) -> String {
    if Path::new(name).is_dir() { name.to_string() } else { format!("{}/{name}", env!("CARGO_MANIFEST_DIR")) }
}

/// Joins IAM prefixes with SDK metadata: the IAM prefix is the canonical id because
/// every artifact seccfg emits (policies, SCPs, ARNs) is keyed by it.
fn identities(
    iam: &BTreeMap<String, Lazy<IamService>>,
    sdk: &BTreeMap<String, SdkService>,
    links: &Links,
) -> Result<BTreeMap<String, ServiceIdentity>, String> {
    /// The one field of an IAM service that identities need, read without parsing the rest.
    #[derive(serde::Deserialize)]
    struct Named {
        service_name: String,
    }
    let mut out = BTreeMap::new();
    for (prefix, svc) in iam {
        let named: Named = svc.peek().map_err(|e| format!("entry '{prefix}': {e}"))?;
        let identity = ServiceIdentity {
            id: prefix.clone(),
            iam_prefix: prefix.clone(),
            display_names: vec![named.service_name],
            sdk_ids: Vec::new(),
            cloudformation_namespaces: Vec::new(),
            terraform_prefixes: Vec::new(),
        };
        out.insert(prefix.clone(), identity);
    }
    for meta in sdk.values() {
        let prefix = meta.signing_name.as_ref().or(meta.endpoint_prefix.as_ref());
        let Some(identity) = prefix.and_then(|p| out.get_mut(p)) else { continue };
        let names = [&meta.full_name, &meta.abbreviation].into_iter().flatten();
        for name in names {
            if !identity.display_names.contains(name) {
                identity.display_names.push(name.clone());
            }
        }
        if let Some(id) = &meta.sdk_id
            && !identity.sdk_ids.contains(id)
        {
            identity.sdk_ids.push(id.clone());
        }
    }
    for identity in out.values_mut() {
        identity.display_names.sort();
        identity.sdk_ids.sort();
        let types = links.services.get(&identity.id).map(|l| l.cloudformation_types.keys());
        let namespaces: BTreeSet<&str> =
            types.into_iter().flatten().filter_map(|t| t.rsplit_once("::").map(|(ns, _)| ns)).collect();
        identity.cloudformation_namespaces = namespaces.into_iter().map(str::to_string).collect();
    }
    Ok(out)
}

/// Every name a service goes by, normalised. Names shared by several services are
/// kept with all their owners so resolution can refuse them instead of guessing.
fn name_index(
    identities: &BTreeMap<String, ServiceIdentity>,
    aliases: &BTreeMap<String, NamesException>,
) -> HashMap<String, Vec<String>> {
    let mut index: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut add = |name: &str, id: &str| {
        let key = normalize(name);
        if !key.is_empty() {
            index.entry(key).or_default().insert(id.to_string());
        }
    };
    for identity in identities.values() {
        add(&identity.id, &identity.id);
        for name in identity.display_names.iter().chain(&identity.sdk_ids) {
            add(name, &identity.id);
        }
    }
    // Aliases are the team's deliberate choices: they override registry names.
    let mut index: HashMap<String, Vec<String>> =
        index.into_iter().map(|(k, v)| (k, v.into_iter().collect())).collect();
    for (id, exception) in aliases {
        for alias in &exception.names {
            index.insert(normalize(alias), vec![id.clone()]);
        }
    }
    index
}
