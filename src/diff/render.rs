//! `diff.md`: the diff for a reviewer, cause first.

use std::fmt::Write;

use serde_json::Value;

use super::{BundleDiff, FieldChange};

fn show(v: &Value) -> String {
    match v {
        Value::Null => "—".into(),
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

fn fields(out: &mut String, indent: &str, changes: &[FieldChange]) {
    for c in changes {
        let _ = writeln!(out, "{indent}- `{}`: {} → {}", c.pointer, show(&c.before), show(&c.after));
    }
}

fn side(s: &super::Side) -> String {
    match (s.bundle_version, &s.run_id) {
        (Some(v), Some(r)) => format!("bundle version {v} (run {r})"),
        _ => s.label.clone(),
    }
}

pub fn markdown(d: &BundleDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Changes to the {} bundle\n", d.service);
    let _ = writeln!(out, "From {} to {}.\n", side(&d.from), side(&d.to));
    if !d.differs {
        out.push_str("The bundles are the same.\n");
        return out;
    }
    out.push_str("## Profile fields that changed (the cause)\n\n");
    if d.profile_unknown {
        out.push_str("The profile of one side is not available; compare the profiles directly.\n\n");
    } else if d.profile.is_empty() {
        out.push_str("None: the profile is the same (the catalog or the control knowledge changed).\n\n");
    } else {
        fields(&mut out, "", &d.profile);
        out.push('\n');
    }
    out.push_str("## Controls\n\n");
    let c = &d.controls;
    if c.is_empty() {
        out.push_str("No change.\n");
    }
    for id in &c.added {
        let _ = writeln!(out, "- added {id}");
    }
    for id in &c.removed {
        let _ = writeln!(out, "- removed {id}");
    }
    for ch in &c.changed {
        let _ = writeln!(out, "- changed {}:", ch.control_id);
        fields(&mut out, "  ", &ch.fields);
    }
    out.push_str("\n## Templates\n\n");
    if d.templates.is_empty() {
        out.push_str("No change.\n");
    }
    for t in &d.templates {
        let _ = writeln!(out, "### {}\n", t.file);
        for r in &t.added {
            let _ = writeln!(out, "- added resource `{r}`");
        }
        for r in &t.removed {
            let _ = writeln!(out, "- removed resource `{r}`");
        }
        for r in &t.changed {
            let _ = writeln!(out, "- `{}`:", r.resource);
            fields(&mut out, "  ", &r.properties);
        }
        out.push('\n');
    }
    out.push_str("\n## IAM per persona\n\n");
    if d.iam.is_empty() {
        out.push_str("No change.\n");
    }
    for p in &d.iam {
        let _ = writeln!(out, "### {}\n", p.persona);
        for a in &p.actions_added {
            let _ = writeln!(out, "- action added `{a}`");
        }
        for a in &p.actions_removed {
            let _ = writeln!(out, "- action removed `{a}`");
        }
        statements(&mut out, &p.statements);
        out.push('\n');
    }
    out.push_str("\n## SCP and guardrail statements\n\n");
    if d.scp_statements.is_empty() {
        out.push_str("No change.\n");
    }
    statements(&mut out, &d.scp_statements);
    out.push_str("\n## Guard rules\n\n");
    if d.guard_rules.is_empty() {
        out.push_str("No change.\n");
    }
    for r in &d.guard_rules {
        let _ = writeln!(out, "- {} `{}`", r.change, r.rule);
        for l in &r.lines_removed {
            let _ = writeln!(out, "  - `- {}`", l.trim());
        }
        for l in &r.lines_added {
            let _ = writeln!(out, "  - `+ {}`", l.trim());
        }
    }
    out.push_str("\n## Framework coverage\n\n");
    if d.framework_coverage.is_empty() {
        out.push_str("No change.\n");
    }
    for f in &d.framework_coverage {
        let _ = writeln!(out, "- {}: {} → {}", f.framework, show(&f.before), show(&f.after));
    }
    out
}

fn statements(out: &mut String, list: &[super::StatementChange]) {
    for s in list {
        let _ = writeln!(out, "- statement {} `{}` ({})", s.change, s.sid, s.document);
        fields(out, "  ", &s.fields);
    }
}
