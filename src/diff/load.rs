//! Where bundles come from: a directory written by `seccfg run`, or a run in the stores.

use std::path::Path;

use serde_json::Value;

use super::Bundle;
use crate::store::{ArtifactStore, BundleRef, RunRecord, Store, StoreError, read_body};

/// Files the diff itself wrote; never part of what is compared.
const OWN: [&str; 2] = ["diff.json", "diff.md"];

/// Every file of a bundle directory; `profile.json` (written by `seccfg run`) is the profile.
pub fn from_dir(dir: &Path) -> std::io::Result<Bundle> {
    let mut bundle = Bundle::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.file_type()?.is_file() || OWN.contains(&name.as_str()) || name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        if name == "profile.json" {
            bundle.profile = serde_json::from_slice(&bytes).ok();
        } else {
            bundle.files.insert(name, bytes);
        }
    }
    Ok(bundle)
}

/// A run's artifacts and the profile version it used.
pub async fn from_run(store: &dyn Store, artifacts: &dyn ArtifactStore, run: &RunRecord) -> Result<Bundle, StoreError> {
    let mut bundle = Bundle::default();
    let at = BundleRef::from(run);
    for info in artifacts.list(&at).await? {
        if OWN.contains(&info.name.as_str()) {
            continue;
        }
        if let Some((_, body)) = artifacts.get(&at, &info.name).await? {
            bundle.files.insert(info.name, read_body(body).await?);
        }
    }
    bundle.profile = store
        .profile(&run.profile_id, Some(run.profile_version))
        .await?
        .and_then(|p| serde_json::from_str::<Value>(&p.document).ok());
    Ok(bundle)
}
