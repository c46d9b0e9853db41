//! Output formats of a [`Report`]: text for people, JSON (the API's body), SARIF
//! 2.1.0 for code-scanning tools (`serde-sarif`; rule ids are control ids, results
//! carry the file and line) and JUnit XML (`quick-junit`; one test case per
//! resource × control).

use std::collections::BTreeMap;
use std::fmt::Write;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde_sarif::sarif;

use super::report::{Finding, InputReport, NotApproved, Outcome, Report};

/// The rule id of a resource whose service has no approved bundle.
pub const NOT_APPROVED_RULE: &str = "SECCFG-NOT-APPROVED";

/// Human-readable: one line per finding, the unmet paths under it, then the verdict.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for input in &report.inputs {
        let _ = writeln!(out, "{} ({})", input.name, input.kind);
        for f in &input.findings {
            let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
            let _ = writeln!(
                out,
                "  {:<13} {:<10} {:<8} {}{line} {}: {}",
                f.outcome.as_str().to_uppercase(),
                f.control_id,
                f.severity,
                f.resource,
                f.resource_type,
                f.title
            );
            for p in &f.paths {
                let line = p.line.map(|l| format!(" (line {l})")).unwrap_or_default();
                let _ = writeln!(out, "                {}{line}: {}", p.path, p.message);
            }
            if let Some(w) = &f.waiver {
                let _ = writeln!(out, "                waived until {}: {}", rfc3339(w.expires_at), w.reason);
            }
        }
        for n in &input.not_approved {
            let line = n.line.map(|l| format!(":{l}")).unwrap_or_default();
            let _ = writeln!(out, "  NOT APPROVED  {}{line} {}: {}", n.resource, n.resource_type, no_bundle(n));
        }
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "verdict: {} ({} pass, {} waived, {} fail, {} undetermined, {} not decidable, {} not approved)",
        if report.verdict == super::Verdict::Pass { "PASS" } else { "FAIL" },
        s.pass,
        s.waived,
        s.fail,
        s.undetermined,
        s.not_decidable,
        s.not_approved
    );
    out
}

fn no_bundle(n: &NotApproved) -> String {
    match n.service.as_str() {
        "" => "no service owns this resource type, so no bundle covers it".into(),
        s => format!("service {s} has no approved bundle for this profile"),
    }
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.to_rfc3339()).unwrap_or_default()
}

/// The report as JSON (the API's response body).
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serialises")
}

/// SARIF 2.1.0: one rule per control, one result per finding that did not pass
/// (waived ones carry an external suppression) and per resource not approved.
pub fn sarif(report: &Report) -> String {
    let mut rules: BTreeMap<String, sarif::ReportingDescriptor> = BTreeMap::new();
    let mut results = Vec::new();
    for input in &report.inputs {
        for f in input.findings.iter().filter(|f| f.outcome != Outcome::Pass) {
            rules.entry(f.control_id.clone()).or_insert_with(|| descriptor(&f.control_id, &f.title, &f.severity));
            results.push(sarif_result(input, f));
        }
        for n in &input.not_approved {
            rules.entry(NOT_APPROVED_RULE.into()).or_insert_with(|| {
                descriptor(NOT_APPROVED_RULE, "The resource's service has no approved bundle", "high")
            });
            let message = format!("{} ({}): {}", n.resource, n.resource_type, no_bundle(n));
            let result = sarif::Result::builder()
                .rule_id(NOT_APPROVED_RULE)
                .kind(sarif::ResultKind::Fail)
                .level(sarif::ResultLevel::Error)
                .message(sarif::Message::builder().text(message).build())
                .locations(vec![location(&input.name, &n.resource, n.line)])
                .build();
            results.push(result);
        }
    }
    let driver = sarif::ToolComponent::builder()
        .name("seccfg")
        .version(env!("CARGO_PKG_VERSION"))
        .rules(rules.into_values().collect::<Vec<_>>())
        .build();
    let run = sarif::Run::builder().tool(sarif::Tool::builder().driver(driver).build()).results(results).build();
    let doc =
        sarif::Sarif::builder().schema(sarif::SCHEMA_URL).version(serde_json::json!("2.1.0")).runs(vec![run]).build();
    serde_json::to_string_pretty(&doc).expect("a SARIF log serialises")
}

fn level(severity: &str) -> sarif::ResultLevel {
    match severity {
        "critical" | "high" => sarif::ResultLevel::Error,
        "medium" => sarif::ResultLevel::Warning,
        _ => sarif::ResultLevel::Note,
    }
}

fn descriptor(id: &str, title: &str, severity: &str) -> sarif::ReportingDescriptor {
    let level = serde_json::to_value(level(severity)).expect("level serialises");
    sarif::ReportingDescriptor::builder()
        .id(id)
        .short_description(sarif::MultiformatMessageString::builder().text(title).build())
        .default_configuration(sarif::ReportingConfiguration::builder().level(level).build())
        .properties(
            sarif::PropertyBag::builder()
                .additional_properties(BTreeMap::from([("severity".to_string(), serde_json::json!(severity))]))
                .build(),
        )
        .build()
}

fn sarif_result(input: &InputReport, f: &Finding) -> sarif::Result {
    let mut message =
        format!("{} {} on {} ({}): {}", f.control_id, f.outcome.as_str(), f.resource, f.resource_type, f.title);
    for p in &f.paths {
        let _ = write!(message, "; {}: {}", p.path, p.message);
    }
    let (kind, level) = match f.outcome {
        Outcome::Undetermined | Outcome::NotDecidable => (sarif::ResultKind::Review, sarif::ResultLevel::Warning),
        _ => (sarif::ResultKind::Fail, level(&f.severity)),
    };
    let builder = sarif::Result::builder()
        .rule_id(f.control_id.clone())
        .kind(kind)
        .level(level)
        .message(sarif::Message::builder().text(message).build())
        .locations(vec![location(&input.name, &f.resource, f.line)]);
    let mut result = match &f.waiver {
        Some(w) => builder
            .suppressions(vec![
                sarif::Suppression::builder()
                    .kind(serde_json::json!("external"))
                    .justification(format!("{} (expires {})", w.reason, rfc3339(w.expires_at)))
                    .build(),
            ])
            .build(),
        None => builder.build(),
    };
    // Without lines (a Terraform plan), the JSON pointer of the first unmet path locates it.
    if let Some(p) = f.paths.first().filter(|_| f.line.is_none()) {
        let pointer = BTreeMap::from([("pointer".to_string(), serde_json::json!(p.pointer))]);
        result.properties = Some(sarif::PropertyBag::builder().additional_properties(pointer).build());
    }
    result
}

fn location(uri: &str, resource: &str, line: Option<usize>) -> sarif::Location {
    let physical =
        sarif::PhysicalLocation::builder().artifact_location(sarif::ArtifactLocation::builder().uri(uri).build());
    let physical = match line {
        Some(l) => physical.region(sarif::Region::builder().start_line(l as i64).build()).build(),
        None => physical.build(),
    };
    sarif::Location::builder()
        .physical_location(physical)
        .logical_locations(vec![sarif::LogicalLocation::builder().name(resource).kind("resource").build()])
        .build()
}

/// JUnit XML: one suite per input, one test case per resource × control (and per
/// resource not approved); waived cases are skipped with the waiver as the message.
pub fn junit(report: &Report) -> String {
    let mut junit = quick_junit::Report::new("seccfg check");
    for input in &report.inputs {
        let mut suite = TestSuite::new(input.name.clone());
        for f in &input.findings {
            suite.add_test_case(test_case(input, f));
        }
        for n in &input.not_approved {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(no_bundle(n)).set_type("not_approved");
            let mut case = TestCase::new(format!("{} {NOT_APPROVED_RULE}", n.resource), status);
            case.set_classname(format!("{}.{}", input.name, n.resource_type));
            suite.add_test_case(case);
        }
        junit.add_test_suite(suite);
    }
    junit.to_string().expect("a JUnit report serialises")
}

fn test_case(input: &InputReport, f: &Finding) -> TestCase {
    let mut status = match f.outcome {
        Outcome::Pass => TestCaseStatus::success(),
        Outcome::Waived => TestCaseStatus::skipped(),
        _ => TestCaseStatus::non_success(NonSuccessKind::Failure),
    };
    if f.outcome != Outcome::Pass {
        let detail: Vec<String> = f.paths.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
        let message = match &f.waiver {
            Some(w) => format!("waived until {}: {}", rfc3339(w.expires_at), w.reason),
            None => detail.join("; "),
        };
        status.set_message(message).set_type(f.outcome.as_str());
        if !detail.is_empty() {
            status.set_description(detail.join("\n"));
        }
    }
    let mut case = TestCase::new(format!("{} {}", f.resource, f.control_id), status);
    case.set_classname(format!("{}.{}", input.name, f.service));
    case
}
