//! `analysis.md`: the analysis for a human reviewer.

use std::fmt::Write;

use super::Analysis;

pub(crate) fn markdown(a: &Analysis) -> String {
    let mut md = format!(
        "# Security analysis: {}\n\nProfile `{}` · catalog `{}` · controls: {}\n\n",
        a.service, a.profile_id, a.catalog_version, a.controls_source
    );
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
    if !a.not_selected.is_empty() {
        md.push_str("\n## Not selected for this profile\n\n");
        for n in &a.not_selected {
            let _ = writeln!(md, "- {} {} (profile does not state: {})", n.control_id, n.title, n.missing.join(", "));
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
