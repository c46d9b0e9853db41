//! `verify`: the bundle's record of what was checked. Gathers every stage's checks
//! into `verification.json` and writes `bundle.json`, which names the catalog
//! version, profile and stages the bundle was built from. Stages have already
//! refused to publish anything that failed; this stage fails if any check did, and
//! fails closed if any earlier stage's output is missing or has lost its checks.

use serde_json::{Value, json};

use super::checks::Checks;
use super::contracts::{Verified, checks_of};
use super::{Artifact, StageError, StageInput, StageName, StageOutput};

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let mut all = Checks::default();
    let mut by_stage = serde_json::Map::new();
    for &stage in StageName::PIPELINE.iter().filter(|s| **s != StageName::Verify) {
        let output = input.previous(stage).ok_or_else(|| {
            StageError::Permanent(format!("verify: the {} stage's output is missing", stage.as_str()))
        })?;
        let checks = checks_of(stage, output)?.0;
        let failed = checks.iter().filter(|c| !c.passed).count();
        by_stage.insert(stage.as_str().into(), json!({ "checks": checks.len(), "failed": failed }));
        all.0.extend(checks);
    }
    let advised = input.read_optional::<super::advise::Advised>()?;
    if let Some(a) = &advised {
        all.0.extend(a.checks.0.iter().cloned());
    }
    let failed = all.failed().count();
    let mut verification = json!({
        "catalog_version": input.catalog().version(),
        "service": input.service_id,
        "passed": failed == 0,
        "total": all.0.len(),
        "failed": failed,
        "by_stage": by_stage,
        "by_check": summary(&all),
        "checks": all.0,
    });
    if let Some(a) = &advised {
        // What the model proposed: accepted ones are controls of this bundle, rejected
        // ones never reached a template or policy.
        verification["advisor"] = json!({
            "model_id": a.model_id, "asked": a.asked, "accepted": a.accepted, "rejected": a.rejected,
        });
    }
    let mut bundle = json!({
        "service": input.service_id,
        "catalog_version": input.catalog().version(),
        "catalog_sources": input.catalog().manifest.sources,
        "profile_id": input.profile.profile_id,
        "profile_hash": input.profile.content_hash(),
        // Values the profile gave outside a vocabulary and how this bundle read them.
        "profile_warnings": input.profile.warnings,
        "stages": input.previous.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
        "verification": { "total": all.0.len(), "failed": failed },
    });
    // The kind of main resource the requested name chose (load balancers).
    if let Some(variant) = input.plan().ok().and_then(|p| p.controls.variant) {
        bundle["variant"] = json!(variant);
        bundle["requested_name"] = json!(input.service_name);
    }
    all.ensure_passed("verify")?;
    let output = Verified { verified: true, checks_total: all.0.len(), checks: Checks::default() };
    let artifacts = vec![Artifact::json("verification.json", &verification), Artifact::json("bundle.json", &bundle)];
    Ok(StageOutput::new(&output, artifacts))
}

fn summary(all: &Checks) -> Value {
    let mut out = std::collections::BTreeMap::<&str, (usize, usize)>::new();
    for c in &all.0 {
        let e = out.entry(c.check.as_str()).or_default();
        e.0 += 1;
        if !c.passed {
            e.1 += 1;
        }
    }
    json!(
        out.into_iter()
            .map(|(k, (n, f))| (k.to_string(), json!({ "total": n, "failed": f })))
            .collect::<serde_json::Map<_, _>>()
    )
}
