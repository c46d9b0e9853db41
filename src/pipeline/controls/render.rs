//! `controls.md`: controls grouped by type for a reviewer.

use std::fmt::Write;

use super::ControlsDoc;

pub(crate) fn markdown(doc: &ControlsDoc) -> String {
    let mut md = format!("# Controls: {}\n\nCatalog `{}`.\n\n", doc.service, doc.catalog_version);
    for (kind, ids) in &doc.by_type {
        let _ = writeln!(md, "## {} ({})\n", capitalise(kind), ids.len());
        if ids.is_empty() {
            md.push_str("None for this profile.\n\n");
            continue;
        }
        md.push_str("| id | priority | control | implementation |\n|---|---|---|---|\n");
        for c in doc.controls.iter().filter(|c| ids.contains(&c.id)) {
            let how = match *kind {
                "detective" => {
                    let mut parts: Vec<String> = c.config_rule.iter().map(|r| format!("Config `{r}`")).collect();
                    parts.extend(c.security_hub.iter().map(|s| format!("Security Hub `{s}`")));
                    parts.join(", ")
                }
                "preventive" => format!("SCP statement `{}`", c.scp_statement.as_deref().unwrap_or_default()),
                "proactive" => format!("Guard rule `{}`", c.guard_rule.as_deref().unwrap_or_default()),
                _ => format!("EventBridge rule `{}`", c.event_rule.as_deref().unwrap_or_default()),
            };
            let _ = writeln!(md, "| {} | {} | {} | {how} |", c.id, c.priority.as_str(), c.title);
        }
        md.push('\n');
    }
    if !doc.event_rules.is_empty() {
        md.push_str("## Remediation\n\n");
        for r in &doc.event_rules {
            let _ = writeln!(md, "- **{}**: {}", r.control_id, r.remediation);
        }
    }
    md
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}
