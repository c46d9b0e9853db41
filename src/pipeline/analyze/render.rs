//! `analysis.md`: the analysis for a human reviewer.

use std::fmt::Write;

use super::Analysis;

pub(crate) fn markdown(a: &Analysis) -> String {
    let mut md = format!(
        "# Security analysis: {}\n\nProfile `{}` · catalog `{}` · controls: {}\n\n",
        a.service, a.profile_id, a.catalog_version, a.controls_source
    );
    if let (Some(v), Some(name)) = (&a.variant, &a.requested_name) {
        let _ = writeln!(md, "Variant: **{v}** (requested as \"{name}\").\n");
    }
    let counts: Vec<String> = a.priorities.iter().map(|(p, n)| format!("{n} {p}")).collect();
    let _ = writeln!(md, "{} recommendations ({}).\n", a.recommendations.len(), counts.join(", "));
    md.push_str("| id | priority | recommendation | STRIDE | triggered by |\n|---|---|---|---|---|\n");
    for r in &a.recommendations {
        let stride: Vec<String> = r.stride.iter().map(|s| format!("{s:?}")).collect();
        let keys: Vec<&str> = r.triggered_by.iter().map(|t| t.key.as_str()).collect();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            r.control_id,
            r.priority.as_str(),
            r.title,
            stride.join(", "),
            if keys.is_empty() { "baseline".to_string() } else { keys.join(", ") }
        );
    }
    md.push_str("\n## Rationale\n\n");
    for r in &a.recommendations {
        let _ = writeln!(md, "- **{}** {}", r.control_id, r.rationale);
    }
    md.push_str("\n## Framework coverage\n\n| framework | requirements covered | in framework | controls mapped |\n|---|---|---|---|\n");
    for (f, c) in &a.framework_coverage {
        let _ = writeln!(
            md,
            "| {f} | {} | {} | {} |",
            c.requirements_covered, c.requirements_in_framework, c.controls_mapped
        );
    }
    security_hub(&mut md, a);
    if let Some(d) = &a.derivation {
        derivation(&mut md, d);
    }
    if a.not_selected.iter().any(|n| n.not_applicable.is_none()) {
        md.push_str("\n## Not selected for this profile\n\n");
        for n in a.not_selected.iter().filter(|n| n.not_applicable.is_none()) {
            let _ = writeln!(md, "- {} {} (profile does not state: {})", n.control_id, n.title, n.missing.join(", "));
        }
    }
    if a.not_selected.iter().any(|n| n.not_applicable.is_some()) {
        md.push_str("\n## Not applicable to this variant\n\n");
        for n in &a.not_selected {
            if let Some(why) = &n.not_applicable {
                let _ = writeln!(md, "- {} {}: {why}", n.control_id, n.title);
            }
        }
    }
    md
}

fn security_hub(md: &mut String, a: &Analysis) {
    let c = &a.security_hub_coverage;
    let _ = writeln!(
        md,
        "\n## Security Hub coverage\n\n{} of {} implemented ({}%); {} not selected with a reason; {} unaccounted \
         ({}% implemented or reasoned).\n",
        c.implemented, c.total, c.implemented_percent, c.reasoned, c.unaccounted, c.implemented_or_reasoned_percent
    );
    if c.controls.is_empty() {
        return;
    }
    md.push_str("| control | status | by | detective / proactive, or reason |\n|---|---|---|---|\n");
    for e in &c.controls {
        let status = serde_json::to_value(e.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let how = match (&e.reason, &e.detail) {
            (Some(r), Some(d)) => {
                let kind = serde_json::to_value(r).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
                format!("{kind}: {d}")
            }
            _ => {
                let parts: Vec<&str> = [e.detective.as_deref(), e.proactive.as_deref(), e.detail.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect();
                parts.join("; ")
            }
        };
        let _ = writeln!(md, "| {} | {} | {} | {} |", e.id, status, e.controls.join(", "), how);
    }
}

/// What the derivation could not turn into controls, said plainly.
fn derivation(md: &mut String, d: &crate::knowledge::Derivation) {
    md.push_str("\n## Derived from resource schemas\n\n");
    if d.primary_types.is_empty() {
        md.push_str("The service has no primary CloudFormation resource type.\n");
    } else {
        let _ = writeln!(md, "Primary resource types: {}.", d.primary_types.join(", "));
        let deployed = if d.deployed_types.is_empty() { "none".to_string() } else { d.deployed_types.join(", ") };
        let _ = writeln!(md, "The template deploys: {deployed}.");
        if !d.wiring.is_empty() {
            let _ = writeln!(md, "Wired to each other: {}.", d.wiring.join("; "));
        }
    }
    if !d.limits.is_empty() {
        md.push_str("\n### What cannot be enforced at deployment\n\n");
        for limit in &d.limits {
            let _ = writeln!(md, "- {limit}");
        }
    }
    if !d.not_derived.is_empty() {
        md.push_str("\n### Recognised settings that are not controls\n\n| resource type | property | rule | reason |\n|---|---|---|---|\n");
        for n in &d.not_derived {
            let _ = writeln!(md, "| {} | {} | {} | {} |", n.resource_type, n.property, n.rule, n.reason);
        }
    }
}
