//! One contract suite for the relational store, run against SQLite and PostgreSQL.

mod common;

use std::sync::Arc;

use seccfg::store::{NewRequest, Priority, RunFilter, StageOutcome, Store};

fn request(services: &[&str], stages: &[&'static str]) -> NewRequest {
    NewRequest {
        traceparent: None,
        priority: Priority::Interactive,
        id: uuid::Uuid::new_v4().to_string(),
        request_id: "REQ-1".into(),
        document: "{}".into(),
        profile_id: "P-1".into(),
        profile_version: 1,
        runs: services.iter().map(|s| (s.to_string(), s.to_uppercase(), uuid::Uuid::new_v4().to_string())).collect(),
        stages: stages.to_vec(),
        max_attempts: 3,
    }
}

async fn with_profile(store: &Arc<dyn Store>) {
    store.save_profile("P-1", "hash-a", "{\"a\":1}", 1).await.unwrap();
}

async fn profile_versions(store: Arc<dyn Store>) {
    let (v1, created) = store.save_profile("P-1", "hash-a", "{\"a\":1}", 10).await.unwrap();
    assert!(created);
    assert_eq!(v1.version, 1);
    let (again, created) = store.save_profile("P-1", "hash-a", "{\"a\":1}", 11).await.unwrap();
    assert!(!created, "identical content keeps its version");
    assert_eq!(again.version, 1);
    let (v2, created) = store.save_profile("P-1", "hash-b", "{\"a\":2}", 12).await.unwrap();
    assert!(created);
    assert_eq!(v2.version, 2);
    let (other, _) = store.save_profile("P-2", "hash-a", "{\"a\":1}", 13).await.unwrap();
    assert_eq!(other.version, 1, "versions are per profile id");
    assert_eq!(store.profile("P-1", None).await.unwrap().unwrap().version, 2);
    assert_eq!(store.profile("P-1", Some(1)).await.unwrap().unwrap().document, "{\"a\":1}");
    assert!(store.profile("P-1", Some(3)).await.unwrap().is_none());
    assert!(store.profile("nope", None).await.unwrap().is_none());
}

async fn stages_run_in_order(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let req = request(&["s3"], &["collect", "analyze"]);
    store.create_request(&req, 100).await.unwrap();
    let run_id = &req.runs[0].2;

    let first = store.claim_stage("w1", 100, 1000).await.unwrap().expect("first stage claimable");
    assert_eq!((first.name.as_str(), first.attempt), ("collect", 1));
    assert!(store.claim_stage("w2", 100, 1000).await.unwrap().is_none(), "later stages wait for earlier ones");
    let run = store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "running");

    let ok = StageOutcome::Succeeded { output: "{\"n\":1}".into() };
    assert!(store.finish_stage(&first, "w1", &ok, 150).await.unwrap());
    let second = store.claim_stage("w2", 150, 1000).await.unwrap().expect("next stage queued");
    assert_eq!(second.name, "analyze");
    assert_eq!(store.stage_outputs(run_id).await.unwrap(), vec![("collect".into(), "{\"n\":1}".into())]);
    assert!(store.finish_stage(&second, "w2", &ok, 200).await.unwrap());

    let run = store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "succeeded");
    assert_eq!(run.bundle_version, 1);
    assert!(run.stages.iter().all(|s| s.status == "succeeded" && s.attempts == 1));
    assert_eq!(store.latest_bundle_version("s3", "P-1").await.unwrap(), 1);

    let again = request(&["s3"], &["collect"]);
    store.create_request(&again, 300).await.unwrap();
    assert_eq!(
        store.run(&again.runs[0].2).await.unwrap().unwrap().bundle_version,
        2,
        "re-running gives a new bundle version"
    );
}

async fn expired_lease_is_reclaimed(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let req = request(&["sns"], &["collect"]);
    store.create_request(&req, 0).await.unwrap();
    let lost = store.claim_stage("dead", 0, 1000).await.unwrap().unwrap();
    assert!(store.claim_stage("alive", 999, 1000).await.unwrap().is_none(), "lease still valid");
    let taken = store.claim_stage("alive", 1001, 1000).await.unwrap().expect("expired lease is claimable");
    assert_eq!(taken.attempt, 2);
    let ok = StageOutcome::Succeeded { output: "{}".into() };
    assert!(!store.finish_stage(&lost, "dead", &ok, 1002).await.unwrap(), "the old owner can no longer record");
    assert!(!store.extend_lease(&lost, "dead", 1002, 1000).await.unwrap());
    assert!(store.extend_lease(&taken, "alive", 1002, 1000).await.unwrap());
    assert!(store.finish_stage(&taken, "alive", &ok, 1003).await.unwrap());
    let attempts = store.stage_attempts(&req.runs[0].2).await.unwrap();
    assert_eq!(attempts.len(), 2);
}

async fn transient_errors_back_off_then_fail(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let req = request(&["sqs"], &["collect"]);
    store.create_request(&req, 0).await.unwrap();
    let run_id = &req.runs[0].2;
    let transient = StageOutcome::Transient { error: "throttled".into(), backoff_base_ms: 100 };

    let a1 = store.claim_stage("w", 0, 1000).await.unwrap().unwrap();
    assert!(store.finish_stage(&a1, "w", &transient, 10).await.unwrap());
    assert!(store.claim_stage("w", 109, 1000).await.unwrap().is_none(), "first back-off is 100 ms");
    let a2 = store.claim_stage("w", 110, 1000).await.unwrap().unwrap();
    assert!(store.finish_stage(&a2, "w", &transient, 120).await.unwrap());
    assert!(store.claim_stage("w", 319, 1000).await.unwrap().is_none(), "second back-off is 200 ms");
    let a3 = store.claim_stage("w", 320, 1000).await.unwrap().unwrap();
    assert_eq!(a3.attempt, 3);
    assert!(store.finish_stage(&a3, "w", &transient, 330).await.unwrap());
    let run = store.run(run_id).await.unwrap().unwrap();
    assert_eq!(run.status, "failed", "attempts exhausted");
    assert!(run.error.as_deref().unwrap().contains("throttled"));
    assert!(store.claim_stage("w", 10_000, 1000).await.unwrap().is_none());

    assert!(store.retry_run(run_id, 20_000).await.unwrap());
    assert!(!store.retry_run(run_id, 20_000).await.unwrap(), "only failed runs are retried");
    let again = store.claim_stage("w", 20_000, 1000).await.unwrap().expect("retry re-queues the failed stage");
    assert_eq!(again.attempt, 1);
    assert!(store.finish_stage(&again, "w", &StageOutcome::Succeeded { output: "{}".into() }, 20_001).await.unwrap());
    assert_eq!(store.run(run_id).await.unwrap().unwrap().status, "succeeded");
}

async fn permanent_error_fails_run(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let req = request(&["kms"], &["collect", "analyze"]);
    store.create_request(&req, 0).await.unwrap();
    let s = store.claim_stage("w", 0, 1000).await.unwrap().unwrap();
    let bad = StageOutcome::Permanent { error: "no such service".into() };
    assert!(store.finish_stage(&s, "w", &bad, 5).await.unwrap());
    let run = store.run(&req.runs[0].2).await.unwrap().unwrap();
    assert_eq!(run.status, "failed");
    assert_eq!(run.stages[0].status, "failed");
    assert_eq!(run.stages[1].status, "pending");
    assert_eq!(run.stages[0].error.as_deref(), Some("no such service"));
}

async fn finishing_claims_the_next_stage_for_the_same_worker(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let req = request(&["s3"], &["collect", "analyze", "iac"]);
    store.create_request(&req, 0).await.unwrap();
    let run_id = &req.runs[0].2;
    let ok = StageOutcome::Succeeded { output: "{}".into() };

    let first = store.claim_stage("w1", 0, 1000).await.unwrap().unwrap();
    let (recorded, next) = store.finish_and_claim_next(&first, "w1", &ok, 10, 1000).await.unwrap();
    let second = next.expect("the next stage comes with the finish");
    assert!(recorded);
    assert_eq!((second.name.as_str(), second.position, second.attempt), ("analyze", 1, 1));
    assert_eq!((second.service_id.as_str(), second.bundle_version), ("s3", first.bundle_version));
    assert!(store.claim_stage("w2", 10, 1000).await.unwrap().is_none(), "w1 holds the next stage");
    let run = store.run(run_id).await.unwrap().unwrap();
    assert_eq!((run.status.as_str(), run.stages[1].status.as_str()), ("running", "running"));
    let attempts = store.stage_attempts(run_id).await.unwrap();
    assert!(attempts.iter().any(|a| (a.0, a.1, a.2.as_str(), a.4) == (1, 1, "w1", None)), "{attempts:?}");

    // The chained claim is a lease like any other: it expires if w1 dies holding it.
    let taken = store.claim_stage("w2", 1011, 1000).await.unwrap().expect("expired chained lease is claimable");
    assert_eq!((taken.name.as_str(), taken.attempt, taken.lease_expired), ("analyze", 2, true));
    let (recorded, next) = store.finish_and_claim_next(&second, "w1", &ok, 1012, 1000).await.unwrap();
    assert!(!recorded && next.is_none(), "the old owner records nothing and claims nothing");
    let (_, third) = store.finish_and_claim_next(&taken, "w2", &ok, 1013, 1000).await.unwrap();
    let third = third.expect("iac chained to w2");
    let failed = StageOutcome::Permanent { error: "no".into() };
    let (recorded, next) = store.finish_and_claim_next(&third, "w2", &failed, 1014, 1000).await.unwrap();
    assert!(recorded && next.is_none(), "a failed stage claims nothing");
    assert_eq!(store.run(run_id).await.unwrap().unwrap().status, "failed");
}

async fn the_last_stage_claims_nothing_and_the_run_succeeds(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let req = request(&["sqs"], &["collect"]);
    store.create_request(&req, 0).await.unwrap();
    let only = store.claim_stage("w", 0, 1000).await.unwrap().unwrap();
    let ok = StageOutcome::Succeeded { output: "{}".into() };
    let (recorded, next) = store.finish_and_claim_next(&only, "w", &ok, 5, 1000).await.unwrap();
    assert!(recorded && next.is_none());
    assert_eq!(store.run(&req.runs[0].2).await.unwrap().unwrap().status, "succeeded");
}

fn with_priority(mut r: NewRequest, priority: Priority) -> NewRequest {
    r.priority = priority;
    r
}

/// The service of the run whose stage `worker` claims at `now` (with a lease that outlasts the test).
async fn claim_service(store: &Arc<dyn Store>, worker: &str, now: i64) -> String {
    store.claim_stage(worker, now, 1_000_000).await.unwrap().expect("a claimable stage").service_id
}

async fn started_runs_finish_before_new_ones_start(store: Arc<dyn Store>) {
    with_profile(&store).await;
    store.create_request(&request(&["s3"], &["collect", "analyze"]), 0).await.unwrap();
    store.create_request(&request(&["sns"], &["collect", "analyze"]), 10).await.unwrap();
    let first = store.claim_stage("w1", 20, 1000).await.unwrap().unwrap();
    assert_eq!(first.service_id, "s3");
    let ok = StageOutcome::Succeeded { output: "{}".into() };
    assert!(store.finish_stage(&first, "w1", &ok, 30).await.unwrap());
    // The older run's second stage comes before the newer run's first.
    let next = store.claim_stage("w2", 30, 1000).await.unwrap().unwrap();
    assert_eq!((next.service_id.as_str(), next.name.as_str()), ("s3", "analyze"));
    assert_eq!(claim_service(&store, "w3", 30).await, "sns");
}

async fn interactive_overtakes_recent_bulk_work_which_never_starves(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let stages = ["collect"];
    store.create_request(&with_priority(request(&["ec2"], &stages), Priority::Bulk), 0).await.unwrap();
    store.create_request(&with_priority(request(&["rds"], &stages), Priority::Bulk), 1).await.unwrap();
    store.create_request(&request(&["s3"], &stages), 60_000).await.unwrap();
    // Submitted a minute after the bulk work, the interactive request goes first…
    assert_eq!(claim_service(&store, "w", 60_001).await, "s3");
    // …bulk work keeps its order…
    assert_eq!(claim_service(&store, "w", 60_002).await, "ec2");
    // …and interactive work submitted more than the bulk offset later waits behind it.
    store.create_request(&request(&["sqs"], &stages), 1 + seccfg::store::BULK_OFFSET_MS + 1).await.unwrap();
    assert_eq!(claim_service(&store, "w", 200_000).await, "rds");
    assert_eq!(claim_service(&store, "w", 200_001).await, "sqs");
}

async fn expired_leases_are_claimed_before_queued_stages(store: Arc<dyn Store>) {
    with_profile(&store).await;
    let stages = ["collect"];
    store.create_request(&with_priority(request(&["ec2"], &stages), Priority::Bulk), 0).await.unwrap();
    store.claim_stage("dead", 0, 10).await.unwrap().unwrap();
    store.create_request(&request(&["s3"], &stages), 5).await.unwrap();
    let taken = store.claim_stage("alive", 20, 1000).await.unwrap().unwrap();
    assert_eq!((taken.service_id.as_str(), taken.lease_expired), ("ec2", true), "the started run comes first");
    assert_eq!(claim_service(&store, "alive", 21).await, "s3");
}

async fn release_on_shutdown(store: Arc<dyn Store>) {
    with_profile(&store).await;
    store.create_request(&request(&["ec2"], &["collect"]), 0).await.unwrap();
    store.claim_stage("leaving", 0, 60_000).await.unwrap().unwrap();
    assert_eq!(store.release_leases("leaving", 1).await.unwrap(), 1);
    assert!(store.claim_stage("staying", 1, 60_000).await.unwrap().is_some(), "released stage is claimable at once");
}

async fn list_and_paginate(store: Arc<dyn Store>) {
    with_profile(&store).await;
    store.create_request(&request(&["s3", "sns", "sqs"], &["collect"]), 0).await.unwrap();
    store.create_request(&request(&["s3"], &["collect"]), 1).await.unwrap();
    let all = store.runs(&RunFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 4);
    let s3 = store.runs(&RunFilter { service_id: Some("s3".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(s3.len(), 2);
    let page1 = store.runs(&RunFilter { limit: 2, ..Default::default() }).await.unwrap();
    let last = page1.last().unwrap();
    let page2 = store
        .runs(&RunFilter { limit: 10, after: Some((last.created_at, last.id.clone())), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(page1.len() + page2.len(), 4);
    assert!(page2.iter().all(|r| page1.iter().all(|p| p.id != r.id)));
    let queued =
        store.runs(&RunFilter { status: Some("queued".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(queued.len(), 4);
    let none =
        store.runs(&RunFilter { profile_id: Some("other".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert!(none.is_empty());
}

/// The runs page reads each run's stage summary, kept by triggers (migration 1403):
/// after every kind of stage write it must equal the stages `run` reads from the table.
async fn listed_stages_follow_every_stage_write(store: Arc<dyn Store>) {
    async fn assert_listed_as_stored(store: &Arc<dyn Store>, step: &str) {
        let page = store.runs(&RunFilter { limit: 10, ..Default::default() }).await.unwrap();
        assert!(!page.is_empty());
        for listed in &page {
            let stored = store.run(&listed.id).await.unwrap().unwrap();
            assert_eq!(
                serde_json::to_value(&listed.stages).unwrap(),
                serde_json::to_value(&stored.stages).unwrap(),
                "after {step}"
            );
        }
    }
    with_profile(&store).await;
    let req = request(&["s3", "sns"], &["collect", "analyze", "iac"]);
    store.create_request(&req, 0).await.unwrap();
    assert_listed_as_stored(&store, "create").await;
    let first = store.claim_stage("w1", 0, 1000).await.unwrap().unwrap();
    assert_listed_as_stored(&store, "claim").await;
    assert!(store.extend_lease(&first, "w1", 5, 1000).await.unwrap());
    let transient = StageOutcome::Transient { error: "throttled".into(), backoff_base_ms: 1 };
    assert!(store.finish_stage(&first, "w1", &transient, 10).await.unwrap());
    assert_listed_as_stored(&store, "transient failure").await;
    let again = store.claim_stage("w1", 20, 1000).await.unwrap().unwrap();
    let ok = StageOutcome::Succeeded { output: "{}".into() };
    let (_, next) = store.finish_and_claim_next(&again, "w1", &ok, 30, 1000).await.unwrap();
    assert_listed_as_stored(&store, "finish and claim next").await;
    let lost = next.unwrap();
    let taken = store.claim_stage("w2", 2000, 1000).await.unwrap().unwrap();
    assert!(taken.lease_expired || taken.run_id != lost.run_id);
    assert_listed_as_stored(&store, "expired lease reclaimed").await;
    let failed = StageOutcome::Permanent { error: "no \"such\" service\n".into() };
    assert!(store.finish_stage(&taken, "w2", &failed, 2001).await.unwrap());
    assert_listed_as_stored(&store, "permanent failure").await;
    assert!(store.retry_run(&taken.run_id, 3000).await.unwrap());
    assert_listed_as_stored(&store, "retry").await;
    store.claim_stage("leaving", 3000, 60_000).await.unwrap().unwrap();
    assert_eq!(store.release_leases("leaving", 3001).await.unwrap(), 1);
    assert_listed_as_stored(&store, "release on shutdown").await;
}

macro_rules! contract {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $case() { let (s, _, _d) = crate::common::fresh_sqlite().await; super::$case(s).await; })*
        }
        mod postgres {
            $(#[tokio::test] async fn $case() { let (s, _) = crate::common::fresh_postgres().await; super::$case(s).await; })*
        }
    };
}

contract!(
    profile_versions,
    stages_run_in_order,
    expired_lease_is_reclaimed,
    transient_errors_back_off_then_fail,
    permanent_error_fails_run,
    release_on_shutdown,
    list_and_paginate,
    listed_stages_follow_every_stage_write,
    finishing_claims_the_next_stage_for_the_same_worker,
    the_last_stage_claims_nothing_and_the_run_succeeds,
    started_runs_finish_before_new_ones_start,
    interactive_overtakes_recent_bulk_work_which_never_starves,
    expired_leases_are_claimed_before_queued_stages,
);
