//! The `profile` stage: for fin-prod, every priority service and a dozen derived
//! services get a service security profile in which every question is answered
//! from sourced facts or marked "not established from the catalog" with what to
//! check — and the facts say what the catalog and the bundle actually hold.

mod common;

use seccfg::input::Profile;
use seccfg::knowledge::Knowledge;
use seccfg::pipeline::profile::{NOT_ESTABLISHED, ServiceProfile, SourceKind, Status};
use seccfg::pipeline::{StageName, run_all};

/// The first dozen services (by id) without reviewed controls whose controls can be
/// derived from their resource schemas.
fn derived_services(knowledge: &Knowledge) -> Vec<String> {
    knowledge
        .catalog()
        .services()
        .filter(|s| knowledge.controls().service(&s.id).is_none())
        .filter(|s| knowledge.for_service(s).is_some_and(|c| c.derived))
        .map(|s| s.id.clone())
        .take(12)
        .collect()
}

fn fin_prod() -> Profile {
    Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0
}

fn service_profile(knowledge: &Knowledge, profile: &Profile, service: &str) -> (ServiceProfile, String) {
    let outputs = run_all(knowledge, profile, service).unwrap_or_else(|(s, e)| panic!("{service}: {s:?}: {e}"));
    let (_, out) = outputs.iter().find(|(s, _)| *s == StageName::Profile).expect("profile stage ran");
    let json = out.artifacts.iter().find(|a| a.name == "service-profile.json").expect("json");
    let md = out.artifacts.iter().find(|a| a.name == "service-profile.md").expect("markdown");
    (serde_json::from_slice(&json.bytes).unwrap(), String::from_utf8(md.bytes.clone()).unwrap())
}

/// Every answer has a sourced fact or is marked not established with a check; every section is there.
fn assert_every_answer_sourced(service: &str, p: &ServiceProfile) {
    let answers = p.answers();
    let sections: std::collections::BTreeSet<&str> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(sections.len(), 10, "{service}: every pilot and production section has questions");
    assert!(!p.description.facts.is_empty() && !p.findings.is_empty(), "{service}: description and findings");
    for (section, a) in answers {
        let at = format!("{service} {section}.{}", a.id);
        for f in &a.facts {
            assert!(!f.fact.is_empty() && !f.source.reference.is_empty(), "{at}: a fact without a source");
        }
        match a.status {
            Status::Answered => assert!(!a.facts.is_empty(), "{at}: answered without a fact"),
            Status::NotEstablished => {
                assert_eq!(a.answer, NOT_ESTABLISHED, "{at}");
                assert!(a.check.as_deref().is_some_and(|c| c.len() > 20), "{at}: says what to check");
            }
        }
    }
}

/// Catalog property facts name properties the service's CloudFormation types really have,
/// and of the kind the question asks about.
fn assert_property_facts_are_true(knowledge: &Knowledge, service: &str, p: &ServiceProfile) {
    let catalog = knowledge.catalog();
    for (_, a) in p.answers() {
        for f in a.facts.iter().filter(|f| f.source.kind == SourceKind::Catalog && f.fact.contains(" properties: ")) {
            let type_name = f.source.reference.strip_prefix("cfn.json ").expect("cfn reference");
            let rt =
                catalog.resource_type(type_name).unwrap_or_else(|| panic!("{service}: {type_name} not in catalog"));
            let paths = f.fact.split(" properties: ").nth(1).unwrap();
            for path in paths.split(", ").map(|p| p.split(" and ").next().unwrap()) {
                let top = path.split(['.', '[']).next().unwrap();
                assert!(rt.properties.contains_key(top), "{service}: {type_name} has no property {top} ({})", a.id);
                let leaf = path.rsplit('.').next().unwrap().trim_end_matches("[]").to_ascii_lowercase();
                if a.id == "encryption_at_rest" {
                    assert!(leaf.contains("kms") || leaf.contains("key"), "{service}: {path} is not a key property");
                }
                if a.id == "vpc_integration" {
                    assert!(["vpc", "subnet", "securitygroup", "network"].iter().any(|k| leaf.contains(k)), "{path}");
                }
            }
        }
    }
}

/// The resource-level share is the catalog's own count.
fn assert_resource_level_share(knowledge: &Knowledge, service: &str, p: &ServiceProfile) {
    let identity = knowledge.catalog().service(service).unwrap();
    let Some(iam) = knowledge.catalog().iam(&identity.iam_prefix) else { return };
    let with = iam.actions.values().filter(|a| !a.resource_types.is_empty()).count();
    let a = p.pilot.access.iter().find(|a| a.id == "resource_level_permissions").unwrap();
    assert!(a.answer.starts_with(&format!("{with} of {} actions", iam.actions.len())), "{service}: {}", a.answer);
}

#[test]
fn every_priority_and_derived_service_has_a_sourced_profile() {
    let knowledge = common::knowledge();
    let profile = fin_prod();
    let derived = derived_services(&knowledge);
    assert_eq!(derived.len(), 12);
    println!("derived services covered: {}", derived.join(", "));
    let mut derived_seen = 0;
    for service in common::PRIORITY.iter().copied().chain(derived.iter().map(String::as_str)) {
        let (p, md) = service_profile(&knowledge, &profile, service);
        assert_eq!(p.service, service);
        assert_every_answer_sourced(service, &p);
        assert_property_facts_are_true(&knowledge, service, &p);
        assert_resource_level_share(&knowledge, service, &p);
        assert!(md.contains("## Questions to enable a pilot") && md.contains("## Questions to enable production"));
        if derived.iter().any(|d| d == service) {
            assert_eq!(p.controls_source, "derived", "{service} has no reviewed controls");
            derived_seen += 1;
        }
    }
    assert!(derived_seen >= 10);
}

#[test]
fn s3_profile_states_what_the_catalog_and_bundle_hold() {
    let knowledge = common::knowledge();
    let (p, md) = service_profile(&knowledge, &fin_prod(), "s3");
    let find = |id: &str| p.answers().into_iter().map(|(_, a)| a).find(|a| a.id == id).unwrap().clone();
    let at_rest = find("encryption_at_rest");
    assert_eq!(at_rest.status, Status::Answered);
    assert!(at_rest.facts.iter().any(|f| f.fact.contains("ServerSideEncryptionByDefault.KMSMasterKeyID")));
    assert!(at_rest.facts.iter().any(|f| f.source.reference == "controls S3-02"), "the bundle's CMK control");
    let in_transit = find("encryption_in_transit");
    assert!(in_transit.answer.contains("aws:SecureTransport is enforced"), "{}", in_transit.answer);
    assert!(in_transit.facts.iter().any(|f| f.source.reference == "controls S3-03"));
    let abac = find("abac");
    assert!(abac.answer.starts_with("Yes"), "{}", abac.answer);
    let policies = find("resource_policies");
    assert!(policies.facts.iter().any(|f| f.source.reference == "cfn.json AWS::S3::BucketPolicy"));
    assert_eq!(find("service_quotas").status, Status::NotEstablished);
    assert_eq!(find("private_endpoints").status, Status::NotEstablished, "the catalog has no endpoint names");
    let residency = find("data_residency");
    assert!(residency.facts.iter().any(|f| f.fact.contains("us-east-1, us-west-2")), "fin-prod's regions");
    let coverage = find("framework_coverage");
    assert!(coverage.facts.iter().all(|f| f.source.kind == SourceKind::Analysis));
    assert!(coverage.facts.len() >= 2, "fin-prod names NIST 800-53, PCI DSS and ISO 27001");
    assert!(md.contains("*Not established from the catalog.* To check:"));
}

#[test]
fn a_service_without_vpc_properties_says_so_instead_of_inventing() {
    let knowledge = common::knowledge();
    // SNS has no VPC placement property in its CloudFormation schemas.
    let (p, _) = service_profile(&knowledge, &fin_prod(), "sns");
    let vpc = p.pilot.network.iter().find(|a| a.id == "vpc_integration").unwrap();
    let catalog = knowledge.catalog();
    let has_vpc_property = catalog
        .resource_types_of(catalog.service("sns").unwrap())
        .any(|(_, rt)| rt.properties.keys().any(|k| k.to_ascii_lowercase().contains("vpc")));
    assert_eq!(vpc.status == Status::Answered, has_vpc_property);
}
