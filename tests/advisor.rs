//! The Bedrock advisor against a Converse-protocol test server: proposals are
//! verified like reviewed controls (one accepted, the rest rejected with reasons and
//! absent from every template and policy), throttling, 5xx and `max_tokens` do not
//! lose the run, prompts are redacted, and a re-run is answered from the cache.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::converse::{Converse, Reply};
use seccfg::advisor::Advisor;
use seccfg::advisor::converse::BedrockModel;
use seccfg::app::{App, ProfileRef};
use seccfg::aws::AwsSettings;
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::store::LocalArtifactStore;
use serde_json::{Value, json};

const MODEL: &str = "anthropic.test-model-v1";

fn proposals() -> Value {
    json!({
        "controls": [
            { "id": "APPSYNC-X1", "title": "Publish cache health metrics",
              "rationale": "Cache health metrics show evictions and errors before they become an outage.",
              "category": "logging", "stride": ["denial_of_service"], "requires": [], "priority": "medium",
              "cloudformation": { "resource": "ApiCache",
                  "settings": [ { "path": "HealthMetricsConfig", "value": "ENABLED" } ] } },
            { "id": "APPSYNC-X2", "title": "Encrypt everything",
              "rationale": "Invented property.", "category": "data_protection", "stride": ["information_disclosure"],
              "priority": "high",
              "cloudformation": { "resource": "ApiCache",
                  "settings": [ { "path": "EncryptEverythingEverywhere", "value": true } ] } },
            { "id": "APPSYNC-X3", "title": "Invented Config rule",
              "rationale": "Names a rule that does not exist.", "category": "governance", "stride": ["tampering"],
              "priority": "low", "detective": { "config_rule": "APPSYNC_CACHE_IS_MAGIC" },
              "cloudformation": { "resource": "ApiCache",
                  "settings": [ { "path": "TransitEncryptionEnabled", "value": true } ] } },
            { "id": 7, "title": ["not", "a", "title"] }
        ],
        "narrative": "AppSync caches GraphQL responses; keep the cache encrypted and observable."
    })
}

struct Setup {
    app: Arc<App>,
    worker: Worker,
    server: Converse,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn setup(replies: Vec<Reply>) -> Setup {
    let server = Converse::start(replies).await;
    // One attempt per stage execution: throttling and 5xx go straight to the engine's back-off.
    let settings = AwsSettings {
        aws_endpoint_url: Some(server.endpoint.clone()),
        aws_max_attempts: 1,
        aws_attempt_timeout_ms: 5_000,
    };
    let client = aws_sdk_bedrockruntime::Client::new(&common::moto::sdk_config(&settings).await);
    let (store, _, db_dir) = common::fresh_sqlite().await;
    let artifact_dir = tempfile::tempdir().unwrap();
    let advisor = Arc::new(Advisor::new(BedrockModel::new(client, MODEL, 1024), store.clone()));
    let app = App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), common::knowledge())
        .with_advisor(Some(advisor.clone()));
    let app = Arc::new(app);
    let config = WorkerConfig { backoff_base: Duration::from_millis(20), ..WorkerConfig::default() };
    let worker = Worker::new("w".into(), app.store.clone(), app.artifacts.clone(), app.knowledge.clone(), config)
        .with_advisor(Some(advisor));
    Setup { app, worker, server, _dirs: (db_dir, artifact_dir) }
}

impl Setup {
    async fn submit(&self, services: &[&str]) -> Vec<String> {
        let request = json!({ "requestId": "REQ-ADV", "services": services.iter().map(|s| json!({ "serviceName": s })).collect::<Vec<_>>() });
        let profile = ProfileRef::Embedded(common::example_json("profiles/fin-prod.json"));
        let accepted = self.app.submit_request(&request, profile).await.unwrap();
        accepted.runs.into_iter().map(|r| r.run_id).collect()
    }

    /// Steps the worker until every run has finished (waiting out back-offs).
    async fn finish(&self, runs: &[String]) {
        for _ in 0..2000 {
            let mut done = true;
            for id in runs {
                let run = self.app.store.run(id).await.unwrap().unwrap();
                done &= matches!(run.status.as_str(), "succeeded" | "failed");
            }
            if done {
                return;
            }
            if !self.worker.step().await.unwrap() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        panic!("runs did not finish");
    }

    async fn json(&self, run: &str, name: &str) -> Value {
        let (_, bytes) = self.app.artifact(run, name).await.unwrap().unwrap_or_else(|| panic!("{run} has {name}"));
        serde_json::from_slice(&bytes).unwrap()
    }

    async fn text(&self, run: &str, name: &str) -> String {
        String::from_utf8(self.app.artifact(run, name).await.unwrap().unwrap().1).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proposals_are_verified_faults_are_retried_and_reruns_hit_the_cache() {
    let t = setup(vec![Reply::Throttle, Reply::ServerError, Reply::MaxTokens, Reply::Tool(proposals())]).await;
    let runs = t.submit(&["appsync", "s3"]).await;
    t.finish(&runs).await;
    let (appsync, s3) = (&runs[0], &runs[1]);

    let run = t.app.store.run(appsync).await.unwrap().unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.stages);
    let advise = run.stages.iter().find(|s| s.name == "advise").expect("advise stage");
    assert_eq!(advise.attempts, 3, "429 and 500 failed the stage transiently; the third attempt succeeded");

    // One verified control added, marked as the advisor's, in every artifact it drives.
    let controls = t.json(appsync, "controls.json").await;
    let added: Vec<&Value> =
        controls["controls"].as_array().unwrap().iter().filter(|c| c["source"] == "advisor").collect();
    assert_eq!(added.len(), 1, "{controls}");
    assert_eq!((added[0]["id"].as_str(), added[0]["model_id"].as_str()), (Some("APPSYNC-A01"), Some(MODEL)));
    assert!(t.text(appsync, "template.yaml").await.contains("HealthMetricsConfig: ENABLED"));
    assert!(t.text(appsync, "rules.guard").await.contains("APPSYNC_A01"));

    // The rest rejected with reasons, and nothing of them reached a template or policy.
    let verification = t.json(appsync, "verification.json").await;
    assert_eq!(verification["passed"], true);
    let advisor = &verification["advisor"];
    assert_eq!(advisor["accepted"][0]["proposed_id"], "APPSYNC-X1");
    let rejected = advisor["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3, "{advisor}");
    let reasons = |i: usize| {
        rejected[i]["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect::<Vec<_>>().join(" ")
    };
    assert_eq!(rejected[0]["proposed_id"], "APPSYNC-X2");
    assert!(reasons(0).contains("EncryptEverythingEverywhere"), "{}", reasons(0));
    assert_eq!(rejected[1]["proposed_id"], "APPSYNC-X3");
    assert!(reasons(1).contains("APPSYNC_CACHE_IS_MAGIC"), "{}", reasons(1));
    assert!(reasons(2).contains("malformed tool input"), "{}", reasons(2));
    // Every artifact the run wrote (a derived bundle may have no controls template when no
    // Config rule with a reviewed scope applies); template.yaml and rules.guard exist (above).
    for name in ["template.yaml", "controls-template.yaml", "rules.guard", "main.tf", "controls.json"] {
        let Some((_, bytes)) = t.app.artifact(appsync, name).await.unwrap() else { continue };
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("EncryptEverythingEverywhere") && !text.contains("APPSYNC_CACHE_IS_MAGIC"), "{name}");
    }

    // The exchange is logged with its token usage; the narrative is marked model-written.
    let log = t.json(appsync, "advisor-log.json").await;
    assert_eq!(log["exchanges"][0]["cached"], false);
    assert_eq!(log["usage"]["total_tokens"], 3000, "the answer and its continuation: {log}");
    assert_eq!(log["narrative"]["model_written"], true);
    // The narrative reaches the service profile, marked as the model's; the run record
    // carries the tokens the run paid for.
    let profile = t.json(appsync, "service-profile.json").await;
    assert_eq!(profile["model_narrative"]["model_id"], MODEL);
    assert_eq!(profile["model_narrative"]["model_written"], true);
    assert!(t.text(appsync, "service-profile.md").await.contains("**Model-written summary** (advisor, model"));
    assert!(t.json(s3, "service-profile.json").await.get("model_narrative").is_none());
    let usage = t.app.run_advisor(&run).await.unwrap().expect("an advise stage ran");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens, usage.cache_hit),
        (2400, 600, 3000, false)
    );

    // A reviewed service is not sent to the model.
    assert_eq!(t.json(s3, "advisor-log.json").await["asked"], false);

    // What the model saw: no organisation name, account ids or the profile's CIDRs.
    let received = t.server.received();
    assert_eq!(received.len(), 4, "429, 500, max_tokens, then the continuation that answered");
    let sent = serde_json::to_string(&received).unwrap();
    assert!(!sent.contains("Northwind") && !sent.contains("111122223333") && !sent.contains("444455556666"));
    assert!(sent.contains("[ORGANIZATION]"));

    // A re-run asks nothing: the answer comes from the store, with the same outcome.
    let again = t.submit(&["appsync"]).await;
    t.finish(&again).await;
    assert_eq!(t.server.received().len(), 4, "no new model calls");
    let log = t.json(&again[0], "advisor-log.json").await;
    assert_eq!(log["exchanges"][0]["cached"], true);
    assert_eq!(log["usage"]["total_tokens"], 0, "a cache hit costs no tokens");
    let rerun = t.app.store.run(&again[0]).await.unwrap().unwrap();
    let usage = t.app.run_advisor(&rerun).await.unwrap().unwrap();
    assert_eq!((usage.total_tokens, usage.cache_hit), (0, true));
    let controls = t.json(&again[0], "controls.json").await;
    assert!(controls["controls"].as_array().unwrap().iter().any(|c| c["id"] == "APPSYNC-A01"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_tokens_twice_is_a_transient_failure_and_garbage_rejects_without_failing() {
    let t = setup(vec![Reply::MaxTokens, Reply::MaxTokens, Reply::Tool(json!({ "controls": "none today" }))]).await;
    let runs = t.submit(&["appsync"]).await;
    t.finish(&runs).await;
    let run = t.app.store.run(&runs[0]).await.unwrap().unwrap();
    assert_eq!(run.status, "succeeded");
    let advise = run.stages.iter().find(|s| s.name == "advise").unwrap();
    assert_eq!(advise.attempts, 2, "two max_tokens answers in a row fail the attempt; the retry succeeds");
    let verification = t.json(&runs[0], "verification.json").await;
    assert_eq!(verification["advisor"]["accepted"], json!([]));
    let reasons = &verification["advisor"]["rejected"][0]["reasons"][0];
    assert!(reasons.as_str().unwrap().contains("malformed tool input"), "{reasons}");
}
