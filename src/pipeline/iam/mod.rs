//! `iam`: the IAM model of the service — five least-privilege personas, SCP guardrails
//! tuned by the profile, and the deployer permissions the generated templates need —
//! every document verified against the catalog before it is published.

mod arn;
mod classify;
mod deployer;
mod guardrails;
mod model;
mod names;
mod personas;
mod policy;
mod render;
mod service_roles;
mod verify;

pub use classify::{Classification, RiskFlags};
pub use policy::{MANAGED_POLICY_LIMIT, PolicyDocument, SCP_LIMIT, Statement};

use std::collections::BTreeSet;

use super::contracts::{IacOutput, IamOutput, PersonaOutput, PolicyDocRef};
use super::{Artifact, StageError, StageInput, StageOutput};
use crate::catalog::{Catalog, IamService};
use crate::knowledge::iam::IamKnowledge;
use model::{DeployerSummary, DocumentSummary, GuardrailSummary, IamModel, PersonaSummary};
use personas::Persona;
use verify::{Subject, Verifier};

/// Every action of the service, classified.
pub fn classify_service(prefix: &str, iam: &IamService, knowledge: &IamKnowledge) -> Vec<Classification> {
    iam.actions.iter().map(|(name, a)| classify::classify(prefix, name, a, &knowledge.data_read)).collect()
}

/// The iac stage's types (when it ran), else the reviewed primary types, else every
/// type of the namespace.
fn deployed_types(input: &StageInput<'_>, knowledge: &IamKnowledge) -> Result<(Vec<String>, &'static str), StageError> {
    if let Some(iac) = input.read_optional::<IacOutput>()? {
        return Ok((iac.resource_types, "iac"));
    }
    if let Some(types) = knowledge.deployer.primary_resource_types.get(input.service_id) {
        return Ok((types.clone(), "catalog (reviewed primary types)"));
    }
    let catalog = input.catalog();
    let service = catalog.service(input.service_id);
    let all = service.map(|s| catalog.resource_types_of(s).map(|(n, _)| n.clone()).collect()).unwrap_or_default();
    Ok((all, "catalog (every type of the service's namespaces)"))
}

/// The combined size of a role's inline policies IAM accepts (10,240 characters).
const ROLE_INLINE_LIMIT: usize = 10_240;

/// One persona's artifacts: `iam-policy-<name>.json`, then `-2`, `-3` … when split.
fn artifact_names(stem: &str, count: usize) -> Vec<String> {
    (0..count).map(|i| if i == 0 { format!("{stem}.json") } else { format!("{stem}-{}.json", i + 1) }).collect()
}

struct Emitted {
    summaries: Vec<DocumentSummary>,
    artifacts: Vec<Artifact>,
}

fn emit(stem: &str, statements: Vec<Statement>, limit: usize, verifier: &mut Verifier<'_>) -> Emitted {
    let docs = policy::split(statements, limit);
    let names = artifact_names(stem, docs.len());
    let mut out = Emitted { summaries: Vec::new(), artifacts: Vec::new() };
    for (doc, name) in docs.iter().zip(names) {
        verifier.document(&Subject { artifact: &name, document: doc, limit });
        out.summaries.push(DocumentSummary {
            artifact: name.clone(),
            size: doc.size(),
            limit,
            statements: doc.statement.len(),
        });
        out.artifacts.push(Artifact::json(&name, doc));
    }
    out
}

fn persona_summary(catalog: &Catalog, persona: &Persona, documents: Vec<DocumentSummary>) -> PersonaSummary {
    let wildcard_resource_actions =
        persona.actions.iter().filter(|a| arn::catalog_arns(catalog, a).is_empty()).cloned().collect();
    PersonaSummary {
        attachment_note: model::attachment_note(documents.len()),
        name: persona.name,
        scope: persona.scope.clone(),
        action_count: persona.actions.len(),
        documents,
        actions: persona.actions.iter().cloned().collect(),
        wildcard_resource_actions,
    }
}

fn parameter_names<'a>(statements: impl Iterator<Item = &'a Statement>) -> BTreeSet<String> {
    statements
        .flat_map(|s| {
            let text = serde_json::to_string(s).unwrap_or_default();
            arn::parameters(&text)
        })
        .collect()
}

pub fn run(input: &StageInput<'_>) -> Result<StageOutput, StageError> {
    let catalog = input.catalog();
    let id = input.service_id;
    let service =
        catalog.service(id).ok_or_else(|| StageError::Permanent(format!("service '{id}' is not in the catalog")))?;
    let prefix = service.iam_prefix.as_str();
    let iam =
        catalog.iam(prefix).ok_or_else(|| StageError::Permanent(format!("no IAM facts for prefix '{prefix}'")))?;
    let knowledge = input.knowledge.iam();

    let classes = classify_service(prefix, iam, knowledge);
    let (types, types_source) = deployed_types(input, knowledge)?;
    let handlers = deployer::handler_permissions(catalog, &types, &knowledge.deployer);
    let partition = arn::profile_partition(input.profile);
    let personas = [
        personas::administrator(catalog, &classes, input.profile, partition),
        personas::deployer(catalog, &handlers, partition),
        personas::operator(catalog, &classes, partition),
        personas::auditor(catalog, &classes, partition),
        personas::workload(catalog, &classes, knowledge.workload.services.get(id), partition),
    ];
    let guardrails =
        guardrails::build(prefix, &classes, input.profile, &knowledge.guardrails, partition.unwrap_or("${Partition}"));

    let mut verifier = Verifier::new(catalog, partition);
    let mut artifacts = Vec::new();
    let mut persona_summaries = Vec::new();
    for persona in &personas {
        if persona.statements.is_empty() {
            continue;
        }
        let stem = format!("iam-policy-{}", persona.name);
        let emitted = emit(&stem, persona.statements.clone(), MANAGED_POLICY_LIMIT, &mut verifier);
        artifacts.extend(emitted.artifacts);
        persona_summaries.push(persona_summary(catalog, persona, emitted.summaries));
    }
    let mut guardrail_docs = emit("iam-guardrails", guardrails.scp.clone(), SCP_LIMIT, &mut verifier);
    if !guardrails.rcp.is_empty() {
        let rcp = emit("iam-guardrails-rcp", guardrails.rcp.clone(), SCP_LIMIT, &mut verifier);
        guardrail_docs.summaries.extend(rcp.summaries);
        guardrail_docs.artifacts.extend(rcp.artifacts);
    }
    artifacts.extend(guardrail_docs.artifacts);
    let roles = input.read_optional::<IacOutput>()?.map(|i| i.service_roles).unwrap_or_default();
    let mut role_summaries = Vec::new();
    let mut role_statements = Vec::new();
    for role in roles {
        let (statements, unplaced) = service_roles::statements(catalog, &role, partition);
        let stem = service_roles::stem(&role);
        let doc = PolicyDocument::new(statements.clone());
        let name = format!("{stem}.json");
        verifier.service_role(
            &Subject { artifact: &name, document: &doc, limit: ROLE_INLINE_LIMIT },
            &role.assumed_by,
            &unplaced,
        );
        let mut actions: Vec<String> = statements.iter().flat_map(|s| s.action.iter().cloned()).collect();
        actions.sort();
        actions.dedup();
        role_summaries.push(service_roles::ServiceRoleSummary {
            documents: vec![DocumentSummary {
                artifact: name.clone(),
                size: doc.size(),
                limit: ROLE_INLINE_LIMIT,
                statements: doc.statement.len(),
            }],
            logical_id: role.logical_id,
            assumed_by: role.assumed_by,
            used_by: role.used_by,
            policies: role.policies,
            actions,
            unplaced,
        });
        artifacts.push(Artifact::json(&name, &doc));
        role_statements.extend(statements);
    }
    for t in &handlers.unknown_types {
        verifier.unknown_type(t);
    }
    let checks = verifier.finish();

    let statements = personas
        .iter()
        .flat_map(|p| p.statements.iter())
        .chain(&guardrails.scp)
        .chain(&guardrails.rcp)
        .chain(&role_statements);
    let parameters = arn::describe(&parameter_names(statements), input.profile);
    let model = IamModel {
        catalog_version: catalog.version(),
        service: id,
        personas: persona_summaries,
        classification_counts: model::classification_counts(&classes),
        classification: &classes,
        deployer: DeployerSummary { resource_types: &types, resource_types_source: types_source, handlers: &handlers },
        guardrails: GuardrailSummary { documents: guardrail_docs.summaries, omitted: guardrails.omitted.clone() },
        service_roles: role_summaries,
        parameters,
        notes: model::NOTES.to_vec(),
    };
    artifacts.push(Artifact::json("iam-model.json", &model));
    artifacts.push(Artifact::markdown("iam-model.md", render::markdown(&model)));
    checks.ensure_passed("iam")?;

    let output = IamOutput {
        personas: model
            .personas
            .iter()
            .map(|p| PersonaOutput {
                name: p.name.to_string(),
                actions: p.action_count,
                documents: p
                    .documents
                    .iter()
                    .map(|d| PolicyDocRef { artifact: d.artifact.clone(), size: d.size })
                    .collect(),
            })
            .collect(),
        guardrails: model.guardrails.documents.iter().map(|d| d.artifact.clone()).collect(),
        deployer_resource_types: types.clone(),
        dropped_handler_permissions: handlers.dropped.len(),
        parameters: model.parameters.iter().map(|p| p.name.clone()).collect(),
        service_roles: model
            .service_roles
            .iter()
            .flat_map(|r| r.documents.iter().map(|d| d.artifact.clone()))
            .collect(),
        checks,
    };
    Ok(StageOutput::new(&output, artifacts))
}
