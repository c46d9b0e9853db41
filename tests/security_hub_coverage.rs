//! Security Hub as the completeness yardstick, catalog-wide: for fin-prod over the 30
//! priority services every Security Hub control the catalog lists is implemented by the
//! bundle or not selected with a valid reason; at least 80% are implemented and at least
//! 95% implemented or reasoned. `cargo test --test security_hub_coverage -- --nocapture`
//! prints the per-service table.

mod common;

use seccfg::input::Profile;
use seccfg::pipeline::run_all;
use serde_json::Value;

fn analysis(knowledge: &seccfg::knowledge::Knowledge, profile: &Profile, service: &str) -> Value {
    let outputs = run_all(knowledge, profile, service).unwrap_or_else(|(s, e)| panic!("{service}: {s:?}: {e}"));
    let a = outputs.iter().flat_map(|(_, o)| &o.artifacts).find(|a| a.name == "analysis.json").unwrap();
    serde_json::from_slice(&a.bytes).unwrap()
}

#[test]
fn fin_prod_implements_or_reasons_every_security_hub_control_of_the_priority_services() {
    let knowledge = common::knowledge();
    let profile = Profile::from_slice(&common::example("profiles/fin-prod.json")).unwrap().0;
    let (mut total, mut implemented, mut reasoned) = (0, 0, 0);
    let mut unaccounted = Vec::new();
    println!(
        "| service | Security Hub controls | implemented | not selected, reasoned | implemented % | implemented or reasoned % |"
    );
    println!("|---|---|---|---|---|---|");
    for service in common::PRIORITY {
        let c = &analysis(&knowledge, &profile, service)["security_hub_coverage"];
        let (t, i, r) =
            (c["total"].as_u64().unwrap(), c["implemented"].as_u64().unwrap(), c["reasoned"].as_u64().unwrap());
        println!(
            "| {service} | {t} | {i} | {r} | {} | {} |",
            c["implemented_percent"], c["implemented_or_reasoned_percent"]
        );
        for e in c["controls"].as_array().unwrap() {
            if e["status"] == "not_selected" {
                assert!(e["reason"].is_string() && e["detail"].as_str().is_some_and(|d| !d.is_empty()), "{e}");
            }
            if e["status"] == "unaccounted" || e["status"] == "partial" {
                unaccounted.push(format!("{service} {} ({})", e["id"], e["status"]));
            }
        }
        total += t;
        implemented += i;
        reasoned += r;
    }
    let pct = |n: u64| 100.0 * n as f64 / total as f64;
    println!(
        "| **all 30** | {total} | {implemented} | {reasoned} | {:.1} | {:.1} |",
        pct(implemented),
        pct(implemented + reasoned)
    );
    println!("unaccounted: {unaccounted:?}");
    assert!(pct(implemented) >= 80.0, "{implemented} of {total} implemented");
    assert!(pct(implemented + reasoned) >= 95.0, "{} of {total} implemented or reasoned", implemented + reasoned);
}

#[test]
fn reasons_are_only_given_for_controls_no_reviewed_control_names() {
    let knowledge = common::knowledge();
    for id in knowledge.security_hub_reasons().keys() {
        let named: Vec<String> = knowledge
            .controls()
            .services()
            .flat_map(|s| s.controls.iter())
            .filter(|c| c.security_hub.contains(id))
            .map(|c| c.id.clone())
            .collect();
        assert!(named.is_empty(), "{id} has a reason but {named:?} implement it");
    }
}
