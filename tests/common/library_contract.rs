//! The contract every [`Library`] implementation must satisfy, as plain async
//! functions of an `Arc<dyn Library>`, plus [`library_contract!`] to run all of
//! them as tests against one implementation:
//!
//! ```ignore
//! mod common;
//! seccfg_library_contract!(dynamodb, async { (Arc::new(MyLibrary::new(..).await) as Arc<dyn Library>, guard) });
//! ```
//!
//! The expression is evaluated once per test and yields the library and a value
//! kept alive for the test's duration (a temp dir, a server handle, or `()`).
//! Every case uses explicit times, never the wall clock.

use std::collections::BTreeMap;
use std::sync::Arc;

use seccfg::library::{
    ApprovedControl, ArtifactVersion, BundleContent, ControlFilter, DecisionRecord, Library, LibraryError, NewDecision,
    Verdict, Waiver,
};
use serde_json::json;

/// A control id, its category and the frameworks it maps to.
pub type Spec<'a> = (&'a str, &'a str, &'a [&'a str]);

pub fn control(id: &str, category: &str, frameworks: &[&str]) -> ApprovedControl {
    ApprovedControl {
        control_id: id.into(),
        title: format!("title of {id}"),
        category: category.into(),
        priority: "high".into(),
        frameworks: frameworks.iter().map(|f| (f.to_string(), vec![format!("{f}-req-1")])).collect(),
        definition: json!({ "id": id, "category": category, "config_rule": format!("RULE_{id}") }),
    }
}

pub struct Decision<'a> {
    pub run: &'a str,
    pub service: &'a str,
    pub profile: &'a str,
    pub version: i64,
    pub verdict: Verdict,
    pub at: i64,
    pub controls: &'a [Spec<'a>],
    pub waivers: Vec<Waiver>,
}

impl Decision<'_> {
    pub fn build(&self) -> NewDecision {
        let record = DecisionRecord {
            run_id: self.run.into(),
            service_id: self.service.into(),
            profile_id: self.profile.into(),
            profile_version: 1,
            bundle_version: self.version,
            decision: self.verdict,
            reviewer: "rev@example.com".into(),
            comment: Some(format!("decision on {}", self.run)),
            decided_at: self.at,
            waivers: self.waivers.clone(),
        };
        let bundle = (self.verdict == Verdict::Approve).then(|| BundleContent {
            controls: self.controls.iter().map(|(id, cat, fw)| control(id, cat, fw)).collect(),
            iam_model: json!({ "service": self.service, "personas": [{ "name": "auditor" }] }),
            templates: BTreeMap::from([
                ("template.yaml".to_string(), format!("Resources: # {}\n", self.run)),
                ("main.tf".to_string(), format!("# {}\n", self.run)),
            ]),
            artifacts: vec![ArtifactVersion { name: "controls.json".into(), version: format!("v-{}", self.run) }],
        });
        NewDecision { record, bundle }
    }
}

fn approve<'a>(
    run: &'a str,
    service: &'a str,
    profile: &'a str,
    version: i64,
    controls: &'a [Spec<'a>],
) -> Decision<'a> {
    Decision {
        run,
        service,
        profile,
        version,
        verdict: Verdict::Approve,
        at: 1000 * version,
        controls,
        waivers: vec![],
    }
}

fn waiver(control: &str, expires_at: i64) -> Waiver {
    Waiver { control_id: control.into(), reason: format!("{control} is handled elsewhere"), expires_at }
}

const S3: &[Spec] = &[
    ("S3-01", "data_protection", &["pci_dss_4.0", "nist_800_53_revision_5"]),
    ("S3-04", "access", &["pci_dss_4.0"]),
    ("S3-06", "logging", &[]),
];
const S3_V2: &[Spec] = &[("S3-01", "data_protection", &["pci_dss_4.0"]), ("S3-09", "resilience", &[])];
const SNS: &[Spec] = &[("SNS-01", "data_protection", &["nist_800_53_revision_5"]), ("SNS-02", "access", &[])];

pub async fn decided_once(lib: Arc<dyn Library>) {
    lib.decide(&approve("run-1", "s3", "P-1", 1, S3).build()).await.unwrap();
    let mut second = approve("run-1", "s3", "P-1", 1, S3_V2);
    second.verdict = Verdict::Reject;
    second.at = 5000;
    match lib.decide(&second.build()).await {
        Err(LibraryError::AlreadyDecided(run)) => assert_eq!(run, "run-1"),
        other => panic!("a second decision must be refused, got {other:?}"),
    }
    let again = lib.decide(&approve("run-1", "s3", "P-1", 1, S3_V2).build()).await;
    assert!(matches!(again, Err(LibraryError::AlreadyDecided(_))), "a second approval too");
    let d = lib.decision("run-1").await.unwrap().expect("decision stored");
    assert_eq!((d.decision, d.decided_at), (Verdict::Approve, 1000), "the first decision stands");
    assert_eq!(lib.audit(Some("run-1")).await.unwrap().len(), 1, "refused decisions leave no audit entry");
    let controls = lib.controls(&ControlFilter::default(), 0).await.unwrap();
    let ids: Vec<&str> = controls.iter().map(|c| c.control.control_id.as_str()).collect();
    assert_eq!(ids, ["S3-01", "S3-04", "S3-06"], "nothing from the refused decision reached the library");
    assert!(lib.decision("run-unknown").await.unwrap().is_none());
}

pub async fn concurrent_decisions_one_wins(lib: Arc<dyn Library>) {
    let attempts = (0..8).map(|i| {
        let lib = lib.clone();
        tokio::spawn(async move {
            let mut d = approve("run-c", "s3", "P-1", 1, S3);
            d.at = 100 + i;
            if i % 2 == 1 {
                d.verdict = Verdict::Reject;
            }
            lib.decide(&d.build()).await
        })
    });
    let mut won = 0;
    for handle in attempts.collect::<Vec<_>>() {
        match handle.await.unwrap() {
            Ok(()) => won += 1,
            Err(LibraryError::AlreadyDecided(_)) => {}
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    assert_eq!(won, 1, "exactly one concurrent decision is recorded");
    assert_eq!(lib.audit(Some("run-c")).await.unwrap().len(), 1);
}

pub async fn rejection_adds_nothing_to_library(lib: Arc<dyn Library>) {
    let mut d = approve("run-r", "sns", "P-1", 1, SNS);
    d.verdict = Verdict::Reject;
    lib.decide(&d.build()).await.unwrap();
    assert_eq!(lib.decision("run-r").await.unwrap().unwrap().decision, Verdict::Reject);
    assert!(lib.services(None, 0).await.unwrap().is_empty());
    assert!(lib.service("P-1", "sns", 0).await.unwrap().is_none());
    assert!(lib.controls(&ControlFilter::default(), 0).await.unwrap().is_empty());
    let audit = lib.audit(None).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!((audit[0].record.decision, audit[0].record.decided_at), (Verdict::Reject, 1000));
}

pub async fn latest_approved_version_is_the_library_entry(lib: Arc<dyn Library>) {
    lib.decide(&approve("run-v1", "s3", "P-1", 1, S3).build()).await.unwrap();
    lib.decide(&approve("run-v2", "s3", "P-1", 2, S3_V2).build()).await.unwrap();
    let mut v3 = approve("run-v3", "s3", "P-1", 3, S3);
    v3.verdict = Verdict::Reject;
    lib.decide(&v3.build()).await.unwrap();
    lib.decide(&approve("run-other", "s3", "P-2", 1, S3).build()).await.unwrap();
    lib.decide(&approve("run-sns", "sns", "P-1", 1, SNS).build()).await.unwrap();

    let all = lib.services(None, 0).await.unwrap();
    let keys: Vec<(&str, &str, i64)> =
        all.iter().map(|s| (s.profile_id.as_str(), s.service_id.as_str(), s.bundle_version)).collect();
    assert_eq!(keys, [("P-1", "s3", 2), ("P-1", "sns", 1), ("P-2", "s3", 1)], "latest approved, rejected ignored");
    assert_eq!(all[0].controls, 2);
    assert_eq!(all[0].run_id, "run-v2");
    assert_eq!(all[0].approved_at, 2000);
    let p2 = lib.services(Some("P-2"), 0).await.unwrap();
    assert_eq!(p2.len(), 1);
    assert_eq!(p2[0].run_id, "run-other");

    let bundle = lib.service("P-1", "s3", 0).await.unwrap().expect("approved");
    assert_eq!(bundle.service.run_id, "run-v2");
    let ids: Vec<&str> = bundle.controls.iter().map(|c| c.control.control_id.as_str()).collect();
    assert_eq!(ids, ["S3-01", "S3-09"]);
    assert_eq!(bundle.controls[0].control, control("S3-01", "data_protection", &["pci_dss_4.0"]));
    assert_eq!(bundle.iam_model, json!({ "service": "s3", "personas": [{ "name": "auditor" }] }));
    assert_eq!(bundle.templates["template.yaml"], "Resources: # run-v2\n");
    assert_eq!(bundle.artifacts, [ArtifactVersion { name: "controls.json".into(), version: "v-run-v2".into() }]);
    assert!(lib.service("P-3", "s3", 0).await.unwrap().is_none());
    assert!(lib.service("P-1", "kms", 0).await.unwrap().is_none());
}

pub async fn waivers_drop_out_when_expired(lib: Arc<dyn Library>) {
    let mut d = approve("run-w", "s3", "P-1", 1, S3);
    d.waivers = vec![waiver("S3-06", 10_000), waiver("S3-04", 20_000)];
    lib.decide(&d.build()).await.unwrap();

    let before = lib.service("P-1", "s3", 9_999).await.unwrap().unwrap();
    let waived: Vec<&str> = before.service.waivers.iter().map(|w| w.control_id.as_str()).collect();
    assert_eq!(waived, ["S3-04", "S3-06"]);
    let s3_06 = before.controls.iter().find(|c| c.control.control_id == "S3-06").unwrap();
    assert_eq!(s3_06.waiver.as_ref().map(|w| w.expires_at), Some(10_000));

    let later = lib.service("P-1", "s3", 10_000).await.unwrap().unwrap();
    let waived: Vec<&str> = later.service.waivers.iter().map(|w| w.control_id.as_str()).collect();
    assert_eq!(waived, ["S3-04"], "a waiver stops applying at its expiry instant");
    assert!(later.controls.iter().find(|c| c.control.control_id == "S3-06").unwrap().waiver.is_none());
    assert_eq!(later.controls.len(), 3, "the control itself stays in the library");

    let listed = lib.services(None, 30_000).await.unwrap();
    assert!(listed[0].waivers.is_empty());
    let controls = lib.controls(&ControlFilter::default(), 30_000).await.unwrap();
    assert!(controls.iter().all(|c| c.waiver.is_none()));
    let record = lib.decision("run-w").await.unwrap().unwrap();
    assert_eq!(record.waivers.len(), 2, "the decision keeps every waiver it granted");
}

pub async fn controls_filter_by_service_framework_category(lib: Arc<dyn Library>) {
    lib.decide(&approve("run-s3", "s3", "P-1", 1, S3).build()).await.unwrap();
    lib.decide(&approve("run-sns", "sns", "P-1", 1, SNS).build()).await.unwrap();
    lib.decide(&approve("run-p2", "sns", "P-2", 1, SNS).build()).await.unwrap();
    let ids = |cs: Vec<seccfg::library::LibraryControl>| -> Vec<String> {
        cs.into_iter().map(|c| format!("{}/{}", c.profile_id, c.control.control_id)).collect()
    };
    let f =
        |service: Option<&str>, framework: Option<&str>, category: Option<&str>, profile: Option<&str>| ControlFilter {
            service_id: service.map(Into::into),
            framework: framework.map(Into::into),
            category: category.map(Into::into),
            profile_id: profile.map(Into::into),
        };
    assert_eq!(ids(lib.controls(&f(None, None, None, None), 0).await.unwrap()).len(), 7);
    assert_eq!(
        ids(lib.controls(&f(Some("s3"), None, None, None), 0).await.unwrap()),
        ["P-1/S3-01", "P-1/S3-04", "P-1/S3-06"]
    );
    assert_eq!(
        ids(lib.controls(&f(None, Some("PCI_DSS_4.0"), None, None), 0).await.unwrap()),
        ["P-1/S3-01", "P-1/S3-04"],
        "framework matches case-insensitively"
    );
    assert_eq!(
        ids(lib.controls(&f(None, None, Some("data_protection"), None), 0).await.unwrap()),
        ["P-1/S3-01", "P-1/SNS-01", "P-2/SNS-01"]
    );
    assert_eq!(
        ids(lib
            .controls(&f(None, Some("nist_800_53_revision_5"), Some("data_protection"), Some("P-2")), 0)
            .await
            .unwrap()),
        ["P-2/SNS-01"]
    );
    assert!(lib.controls(&f(Some("kms"), None, None, None), 0).await.unwrap().is_empty());
}

pub async fn audit_records_every_decision_in_order(lib: Arc<dyn Library>) {
    let mut first = approve("run-a", "s3", "P-1", 1, S3);
    first.at = 300;
    let mut second = approve("run-b", "s3", "P-1", 2, S3);
    second.at = 100;
    second.verdict = Verdict::Reject;
    lib.decide(&first.build()).await.unwrap();
    lib.decide(&second.build()).await.unwrap();
    let audit = lib.audit(None).await.unwrap();
    let seen: Vec<(&str, Verdict, i64)> =
        audit.iter().map(|a| (a.record.run_id.as_str(), a.record.decision, a.record.decided_at)).collect();
    assert_eq!(seen, [("run-b", Verdict::Reject, 100), ("run-a", Verdict::Approve, 300)]);
    assert_eq!(audit[1].record.reviewer, "rev@example.com");
    assert_ne!(audit[0].id, audit[1].id);
}

/// Runs every contract case as a `#[tokio::test]` in module `$name`; `$make` is
/// an async expression yielding `(Arc<dyn Library>, guard)`.
#[macro_export]
macro_rules! seccfg_library_contract {
    ($name:ident, $make:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::seccfg_library_contract!(@cases $make;
                decided_once,
                concurrent_decisions_one_wins,
                rejection_adds_nothing_to_library,
                latest_approved_version_is_the_library_entry,
                waivers_drop_out_when_expired,
                controls_filter_by_service_framework_category,
                audit_records_every_decision_in_order,
            );
        }
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let (library, _guard) = $make.await;
                $crate::common::library_contract::$case(library).await;
            }
        )*
    };
}
