//! `iam-model.md`: the model as tables a reviewer reads top to bottom.

use std::fmt::Write;

use super::model::{DocumentSummary, IamModel};

fn documents_table(out: &mut String, docs: &[DocumentSummary]) {
    out.push_str("| document | statements | size | quota |\n|---|---:|---:|---:|\n");
    for d in docs {
        let _ = writeln!(out, "| `{}` | {} | {} | {} |", d.artifact, d.statements, d.size, d.limit);
    }
    out.push('\n');
}

fn code_list(items: &[String]) -> String {
    if items.is_empty() { "none".into() } else { items.iter().map(|a| format!("`{a}`")).collect::<Vec<_>>().join(", ") }
}

/// Roles the template creates, each statement as the template grants it.
fn service_roles(out: &mut String, roles: &[super::service_roles::ServiceRoleSummary]) {
    if roles.is_empty() {
        return;
    }
    out.push_str("## Service roles (created by template.yaml)\n\n");
    for r in roles {
        let _ = writeln!(
            out,
            "### {}\n\nAssumed by {}; used by {}.\n",
            r.logical_id,
            code_list(&r.assumed_by),
            code_list(&r.used_by)
        );
        out.push_str("| policy | defined in | actions | resources |\n|---|---|---|---|\n");
        for p in &r.policies {
            for s in &p.statements {
                let actions: Vec<String> = list(&s["Action"]);
                let resources: Vec<String> = list(&s["Resource"]);
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} |",
                    p.name,
                    p.defined_in,
                    code_list(&actions),
                    code_list(&resources)
                );
            }
        }
        out.push('\n');
        documents_table(out, &r.documents);
    }
}

/// Strings of a policy field, intrinsics as their JSON text.
fn list(v: &serde_json::Value) -> Vec<String> {
    let items = match v {
        serde_json::Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    items.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), String::from)).collect()
}

pub fn markdown(model: &IamModel<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# IAM model: {}\n\nCatalog version `{}`.\n", model.service, model.catalog_version);
    out.push_str("## Personas\n\n| persona | actions | documents | scope |\n|---|---:|---:|---|\n");
    for p in &model.personas {
        let _ = writeln!(out, "| {} | {} | {} | {} |", p.name, p.action_count, p.documents.len(), p.scope);
    }
    out.push('\n');
    for p in &model.personas {
        let _ = writeln!(out, "### {}\n\n{}\n", p.name, p.scope);
        if let Some(note) = &p.attachment_note {
            let _ = writeln!(out, "**Attachment quota:** {note}.\n");
        }
        documents_table(&mut out, &p.documents);
        let _ = writeln!(out, "Actions: {}\n", code_list(&p.actions));
        let _ = writeln!(
            out,
            "Wildcard resource (these actions accept no resource ARN): {}\n",
            code_list(&p.wildcard_resource_actions)
        );
    }
    out.push_str("## Classification\n\n| class | actions |\n|---|---:|\n");
    for (class, count) in &model.classification_counts {
        let _ = writeln!(out, "| {class} | {count} |");
    }
    out.push_str("\nPer-action classes are in `iam-model.json` (`classification`).\n\n");

    let d = &model.deployer;
    let _ = writeln!(
        out,
        "## Deployer: handler permissions\n\nResource types ({}): {}\n",
        d.resource_types_source,
        code_list(d.resource_types)
    );
    if !d.handlers.cross_service.is_empty() {
        out.push_str("| kept action of another service | why |\n|---|---|\n");
        for (action, why) in &d.handlers.cross_service {
            let _ = writeln!(out, "| `{action}` | {why} |");
        }
        out.push('\n');
    }
    out.push_str("| dropped handler permission | resource type | handlers | reason |\n|---|---|---|---|\n");
    for x in &d.handlers.dropped {
        let _ =
            writeln!(out, "| `{}` | {} | {} | {} |", x.permission, x.resource_type, x.handlers.join(", "), x.reason);
    }
    out.push('\n');

    service_roles(&mut out, &model.service_roles);
    out.push_str("## Guardrails\n\n");
    documents_table(&mut out, &model.guardrails.documents);
    for o in &model.guardrails.omitted {
        let _ = writeln!(out, "- not emitted: {o}");
    }
    out.push_str("\n## Parameters\n\n| parameter | meaning | allowed values |\n|---|---|---|\n");
    for p in &model.parameters {
        let _ = writeln!(out, "| `${{{}}}` | {} | {} |", p.name, p.meaning, p.allowed_values.join(", "));
    }
    out.push_str("\n## Notes\n\n");
    for n in &model.notes {
        let _ = writeln!(out, "- {n}");
    }
    out
}
