//! `profile`: the service security profile a security architect reads before a
//! pilot and before production (`service-profile.json`, `service-profile.md`).
//! Every answer is built from facts that name their source — the catalog, this
//! bundle's controls and templates, the IAM model, the framework mappings — or
//! says "not established from the catalog" and what to check. Nothing is
//! invented: a check fails the stage if an answer has no source.

mod facts;
mod markdown;
mod questions;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

pub use facts::{Fact, Source, SourceKind};
pub use questions::{Answer, NOT_ESTABLISHED, Status};

use super::checks::Checks;
use super::contracts::{IamOutput, ProfileOutput};
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::knowledge::Priority;

/// Questions to answer before a pilot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pilot {
    pub data_protection: Vec<Answer>,
    pub network: Vec<Answer>,
    pub access: Vec<Answer>,
}

/// Questions to answer before production.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Production {
    pub residency: Vec<Answer>,
    pub lifecycle: Vec<Answer>,
    pub logging_audit: Vec<Answer>,
    pub isolation: Vec<Answer>,
    pub monitoring: Vec<Answer>,
    pub compliance: Vec<Answer>,
    pub quotas: Vec<Answer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    pub finding: String,
    pub facts: Vec<Fact>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Description {
    pub text: String,
    pub facts: Vec<Fact>,
}

/// The advisor's short summary of the service: written by a model, not established
/// from the catalog, and marked so wherever it appears.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelNarrative {
    pub text: String,
    pub model_id: String,
    pub model_written: bool,
}

/// `service-profile.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceProfile {
    pub catalog_version: String,
    pub service: String,
    pub profile_id: String,
    /// `reviewed` or `derived` controls.
    pub controls_source: String,
    pub description: Description,
    /// Present only when the advisor ran and the model wrote a narrative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_narrative: Option<ModelNarrative>,
    pub findings: Vec<Finding>,
    pub pilot: Pilot,
    pub production: Production,
}

impl ServiceProfile {
    /// Every answer with the section it belongs to.
    pub fn answers(&self) -> Vec<(&'static str, &Answer)> {
        let p = &self.pilot;
        let q = &self.production;
        let sections: [(&'static str, &Vec<Answer>); 10] = [
            ("pilot.data_protection", &p.data_protection),
            ("pilot.network", &p.network),
            ("pilot.access", &p.access),
            ("production.residency", &q.residency),
            ("production.lifecycle", &q.lifecycle),
            ("production.logging_audit", &q.logging_audit),
            ("production.isolation", &q.isolation),
            ("production.monitoring", &q.monitoring),
            ("production.compliance", &q.compliance),
            ("production.quotas", &q.quotas),
        ];
        sections.into_iter().flat_map(|(s, list)| list.iter().map(move |a| (s, a))).collect()
    }
}

/// The narrative `advise` received from the model, if any.
fn model_narrative(input: &StageInput<'_>) -> Result<Option<ModelNarrative>, StageError> {
    let Some(advised) = input.read_optional::<super::advise::Advised>()? else { return Ok(None) };
    Ok(advised.narrative.filter(|t| !t.trim().is_empty()).map(|text| ModelNarrative {
        text,
        model_id: advised.model_id,
        model_written: true,
    }))
}

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let service = input.service()?;
    let plan = input.plan()?;
    let iam_out = input.read::<IamOutput>()?;
    let cx = questions::Context {
        knowledge: input.knowledge,
        profile: input.profile,
        service,
        plan: &plan,
        iam: input.catalog().iam(&service.iam_prefix).map(|i| facts::iam_stats(i, &service.iam_prefix)),
        guardrail_documents: iam_out.guardrails.clone(),
        personas: iam_out.personas.iter().map(|p| (p.name.clone(), p.actions)).collect(),
    };
    let coverage = framework_coverage(input, &plan);
    let pilot = Pilot {
        data_protection: questions::data_protection(&cx),
        network: questions::network(&cx),
        access: questions::access(&cx),
    };
    let production = Production {
        residency: questions::residency(&cx),
        lifecycle: questions::lifecycle(&cx),
        logging_audit: questions::logging(&cx),
        isolation: questions::isolation(&cx),
        monitoring: questions::monitoring(&cx),
        compliance: questions::compliance(coverage),
        quotas: questions::quotas(&cx),
    };
    let mut doc = ServiceProfile {
        catalog_version: input.catalog().version().to_string(),
        service: service.id.clone(),
        profile_id: input.profile.profile_id.clone(),
        controls_source: if plan.derived() { "derived" } else { "reviewed" }.into(),
        description: description(&cx),
        model_narrative: model_narrative(input)?,
        findings: Vec::new(),
        pilot,
        production,
    };
    doc.findings = findings(&doc, &plan);
    let checks = check(&doc);
    checks.ensure_passed("profile")?;
    let answers = doc.answers();
    let output = ProfileOutput {
        answered: answers.iter().filter(|(_, a)| a.status == Status::Answered).count(),
        not_established: answers.iter().filter(|(_, a)| a.status == Status::NotEstablished).count(),
        checks,
    };
    let markdown = markdown::render(&doc);
    Ok(StageOutput::new(
        &output,
        vec![Artifact::json("service-profile.json", &doc), Artifact::markdown("service-profile.md", markdown)],
    ))
}

/// Every answer rests on sourced facts, or says it is not established and what to check.
fn check(doc: &ServiceProfile) -> Checks {
    let mut checks = Checks::default();
    for (section, a) in doc.answers() {
        let subject = format!("{section}.{}", a.id);
        let sourced = a.facts.iter().all(|f| !f.source.reference.is_empty() && !f.fact.is_empty());
        let ok = match a.status {
            Status::Answered => !a.facts.is_empty() && sourced,
            Status::NotEstablished => {
                a.answer == NOT_ESTABLISHED && a.check.as_deref().is_some_and(|c| !c.is_empty()) && sourced
            }
        };
        if ok {
            checks.pass("profile_answer_sourced", subject);
        } else {
            checks.fail("profile_answer_sourced", subject, "an answer without a sourced fact or a check");
        }
    }
    checks
}

fn description(cx: &questions::Context<'_>) -> Description {
    let s = cx.service;
    let catalog = cx.catalog();
    let types: Vec<String> = catalog.resource_types_of(s).map(|(n, _)| n.clone()).collect();
    let name = s.display_names.first().cloned().unwrap_or_else(|| s.id.clone());
    let mut facts = vec![Fact::new(
        SourceKind::Catalog,
        "services.json",
        format!(
            "{name}: IAM prefix `{}`, SDK id(s) {}",
            s.iam_prefix,
            if s.sdk_ids.is_empty() { "none".into() } else { s.sdk_ids.join(", ") }
        ),
    )];
    if let Some(st) = &cx.iam {
        facts.push(Fact::new(
            SourceKind::Catalog,
            format!("iam.json {}", s.iam_prefix),
            format!(
                "{} IAM actions, {} IAM resource types, {} service condition keys",
                st.actions,
                st.resource_types,
                st.service_keys.len()
            ),
        ));
    }
    facts.push(Fact::new(
        SourceKind::Catalog,
        "cfn.json",
        format!(
            "{} CloudFormation resource type(s): {}",
            types.len(),
            if types.is_empty() { "none".into() } else { facts::list(&types, 8) }
        ),
    ));
    let text = format!(
        "{name} (`{}`): {} CloudFormation resource type(s), {} IAM action(s); controls are {} ({} selected for this profile).",
        s.id,
        types.len(),
        cx.iam.as_ref().map_or(0, |st| st.actions),
        if cx.plan.derived() { "derived from resource schemas" } else { "reviewed" },
        cx.plan.selected.len()
    );
    Description { text, facts }
}

fn framework_coverage(input: &StageInput<'_>, plan: &crate::plan::Plan) -> Vec<Fact> {
    let controls = plan.selected_controls();
    input
        .profile
        .frameworks()
        .into_iter()
        .filter_map(|fw| {
            let id = fw.id().to_string();
            let mut covered = BTreeSet::new();
            let mut mapped = 0;
            for c in &controls {
                let reqs = super::analyze::frameworks::for_control(input, c).remove(&id).unwrap_or_default();
                mapped += usize::from(!reqs.is_empty());
                covered.extend(reqs);
            }
            let total = input.catalog().framework(fw).map_or(0, |f| f.requirement_count());
            (total > 0).then(|| {
                Fact::new(
                    SourceKind::Analysis,
                    format!("analysis.json framework_coverage.{id}"),
                    format!("{id}: {} of {total} requirements covered by {mapped} selected control(s)", covered.len()),
                )
            })
        })
        .collect()
}

fn findings(doc: &ServiceProfile, plan: &crate::plan::Plan) -> Vec<Finding> {
    let mut out = Vec::new();
    let critical = plan.selected.iter().filter(|s| s.priority == Priority::Critical).count();
    out.push(Finding {
        finding: format!(
            "Controls are {}: {} of {} selected for this profile, {critical} critical.",
            doc.controls_source,
            plan.selected.len(),
            plan.controls.controls.len()
        ),
        facts: vec![Fact::new(
            SourceKind::Controls,
            "controls.json",
            format!("{} selected control(s)", plan.selected.len()),
        )],
    });
    for (_, a) in doc.answers() {
        let notable = match (a.id.as_str(), a.status) {
            ("encryption_at_rest" | "vpc_integration" | "encryption_in_transit", Status::NotEstablished) => true,
            ("resource_level_permissions", _) => a.answer.contains('(') && percent(&a.answer).is_some_and(|p| p < 50),
            _ => false,
        };
        if notable {
            out.push(Finding {
                finding: format!("{}: {}", a.question, a.check.clone().unwrap_or_else(|| a.answer.clone())),
                facts: a.facts.clone(),
            });
        }
    }
    let open: Vec<String> = doc
        .answers()
        .into_iter()
        .filter(|(_, a)| a.status == Status::NotEstablished)
        .map(|(s, a)| format!("{s}.{}", a.id))
        .collect();
    if !open.is_empty() {
        out.push(Finding {
            finding: format!(
                "{} question(s) are not established from the catalog and need checking: {}.",
                open.len(),
                open.join(", ")
            ),
            facts: vec![Fact::new(
                SourceKind::Catalog,
                format!("catalog {}", doc.catalog_version),
                "the catalog version the answers were built from",
            )],
        });
    }
    out
}

/// `… (37%) …` → 37.
fn percent(text: &str) -> Option<u32> {
    let start = text.find('(')? + 1;
    let end = text[start..].find('%')? + start;
    text[start..end].parse().ok()
}
