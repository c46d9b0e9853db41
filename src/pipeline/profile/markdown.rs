//! `service-profile.md`: the profile for people, each answer followed by its sources.

use std::fmt::Write;

use super::{Answer, Fact, ServiceProfile, Status};

fn facts(out: &mut String, facts: &[Fact]) {
    for f in facts {
        let kind =
            serde_json::to_value(f.source.kind).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let _ = writeln!(out, "  - {} — *{kind}: {}*", f.fact, f.source.reference);
    }
}

fn answer(out: &mut String, a: &Answer) {
    let _ = writeln!(out, "**{}**\n", a.question);
    match a.status {
        Status::Answered => {
            let _ = writeln!(out, "{}\n", a.answer);
        }
        Status::NotEstablished => {
            let _ =
                writeln!(out, "*Not established from the catalog.* To check: {}\n", a.check.as_deref().unwrap_or(""));
        }
    }
    if !a.facts.is_empty() {
        out.push_str("Facts:\n\n");
        facts(out, &a.facts);
        out.push('\n');
    }
}

fn section(out: &mut String, title: &str, answers: &[Answer]) {
    let _ = writeln!(out, "### {title}\n");
    for a in answers {
        answer(out, a);
    }
}

pub fn render(p: &ServiceProfile) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Service security profile: {}\n", p.service);
    let _ = writeln!(
        out,
        "Profile `{}` · catalog `{}` · controls {}. Every answer lists the facts it rests on and their source.\n",
        p.profile_id, p.catalog_version, p.controls_source
    );
    out.push_str("## Service description\n\n");
    let _ = writeln!(out, "{}\n", p.description.text);
    facts(&mut out, &p.description.facts);
    if let Some(n) = &p.model_narrative {
        let _ = writeln!(
            out,
            "\n> **Model-written summary** (advisor, model `{}`; not established from the catalog): {}",
            n.model_id, n.text
        );
    }
    out.push_str("\n## Major findings\n\n");
    for f in &p.findings {
        let _ = writeln!(out, "- {}", f.finding);
    }
    out.push_str("\n## Questions to enable a pilot\n\n");
    section(&mut out, "Data protection", &p.pilot.data_protection);
    section(&mut out, "Network", &p.pilot.network);
    section(&mut out, "Access", &p.pilot.access);
    out.push_str("## Questions to enable production\n\n");
    let q = &p.production;
    section(&mut out, "Data residency", &q.residency);
    section(&mut out, "Data lifecycle", &q.lifecycle);
    section(&mut out, "Access logging and audit", &q.logging_audit);
    section(&mut out, "Multi-tenancy and resource isolation", &q.isolation);
    section(&mut out, "Monitoring", &q.monitoring);
    section(&mut out, "Compliance", &q.compliance);
    section(&mut out, "Quotas", &q.quotas);
    out
}
