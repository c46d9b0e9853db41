//! Golden snapshots: the bundle files of a few services, committed under
//! `tests/golden/<profile>/<service>/`, so that every change to generated output is
//! reviewed in a diff. Regenerate with `UPDATE_GOLDEN=1 cargo test --test golden`.

mod common;

use std::path::PathBuf;

use seccfg::input::Profile;
use seccfg::pipeline::run_all;

const FILES: &[&str] = &[
    "analysis.md",
    "controls.json",
    "rules.guard",
    "template.yaml",
    "controls-template.yaml",
    "main.tf",
    "controls.tf",
    "terraform-checks.json",
];

fn check(profile_name: &str, service: &str) -> Vec<String> {
    let catalog = common::knowledge();
    let profile = Profile::from_slice(&common::example(&format!("profiles/{profile_name}.json"))).unwrap().0;
    let outputs = run_all(&catalog, &profile, service).unwrap_or_else(|(s, e)| panic!("{service}: {s:?}: {e}"));
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(profile_name).join(service);
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut differ = Vec::new();
    for name in FILES {
        let Some(artifact) = outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == *name) else {
            continue;
        };
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &artifact.bytes).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&artifact.bytes[..]) {
            differ.push(format!("{}", path.display()));
        }
    }
    differ
}

#[test]
fn bundles_match_the_reviewed_snapshots() {
    let mut differ = Vec::new();
    for (profile, service) in [
        ("fin-prod", "s3"),
        ("startup-dev", "s3"),
        ("fin-prod", "sns"),
        ("fin-prod", "bedrock"),
        ("fin-prod", "appsync"),
    ] {
        differ.extend(check(profile, service));
    }
    assert!(differ.is_empty(), "generated output changed; review and run UPDATE_GOLDEN=1: {differ:#?}");
}
