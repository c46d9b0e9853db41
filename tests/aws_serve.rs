//! `seccfg serve` on its AWS stores end to end: the real binary with S3 artifacts
//! and the DynamoDB library on moto, and the advisor on the Converse test server.
//! fin-prod with a reviewed service (s3) and a derived one (appsync) is submitted
//! over HTTP, runs to the end, lands in S3 under the documented keys with SSE-KMS,
//! is approved into DynamoDB and read back from the library; approving twice, also
//! concurrently, is a 409 through DynamoDB's conditional transaction.

mod common;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::converse::{Converse, Reply};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use seccfg::library::DynamoLibrary;
use serde_json::{Value, json};

const MODEL: &str = "anthropic.test-model-v1";
const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
const PREFIX: &str = "seccfg/test";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Http {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let body = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call("GET", path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }
}

fn serve(db: &str, bucket: &str, table: &str, moto: &str, converse: &str) -> (Server, SocketAddr) {
    let port = common::moto::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .env("SECCFG_DATABASE_URL", db)
        .env("SECCFG_ARTIFACT_URL", format!("s3://{bucket}/{PREFIX}"))
        .env("SECCFG_ARTIFACT_KMS_KEY_ID", KMS_KEY)
        .env("SECCFG_LIBRARY_URL", format!("dynamodb://{table}"))
        .env("SECCFG_AWS_ENDPOINT_URL", moto)
        .env("SECCFG_BEDROCK_MODEL_ID", MODEL)
        .env("SECCFG_BEDROCK_ENDPOINT_URL", converse)
        .env("SECCFG_BIND", format!("127.0.0.1:{port}"))
        .env("SECCFG_WORKERS", "2")
        .env("SECCFG_LOG", "warn")
        // Test credentials, and nothing from this machine's AWS configuration.
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("seccfg binary starts");
    (Server(child), SocketAddr::from(([127, 0, 0, 1], port)))
}

async fn until<T>(what: &str, timeout: Duration, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn approve() -> Value {
    json!({ "decision": "approve", "reviewer": "ciso@example.com", "comment": "pilot approved" })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_s3_dynamodb_and_the_advisor_runs_approves_and_reads_the_library() {
    let moto = common::moto::moto();
    let s3 = common::moto::s3_client(&common::moto::settings(&moto.endpoint)).await;
    let bucket = common::moto::bucket(&s3).await;
    let dynamodb =
        aws_sdk_dynamodb::Client::new(&common::moto::sdk_config(&common::moto::settings(&moto.endpoint)).await);
    let table = format!("seccfg-library-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    DynamoLibrary::new(dynamodb.clone(), table.clone()).create_table().await.expect("create table");
    let proposals = json!({ "controls": [
        { "id": "APPSYNC-X1", "title": "Publish cache health metrics",
          "rationale": "Cache health metrics show evictions and errors before they become an outage.",
          "category": "logging", "stride": ["denial_of_service"], "requires": [], "priority": "medium",
          "cloudformation": { "resource": "ApiCache", "settings": [ { "path": "HealthMetricsConfig", "value": "ENABLED" } ] } },
        { "id": "APPSYNC-X2", "title": "Encrypt everything", "rationale": "Invented property.",
          "category": "data_protection", "stride": ["information_disclosure"], "priority": "high",
          "cloudformation": { "resource": "ApiCache", "settings": [ { "path": "EncryptEverythingEverywhere", "value": true } ] } }
    ], "narrative": "AppSync caches GraphQL responses; keep the cache encrypted and observable." });
    let converse = Converse::start(vec![Reply::Throttle, Reply::Tool(proposals)]).await;
    let db = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", db.path().join("seccfg.db").display());
    let (_server, addr) = serve(&url, &bucket, &table, &moto.endpoint, &converse.endpoint);
    let http = Http { addr, client: Client::builder(TokioExecutor::new()).build_http() };
    until("the server to be ready", Duration::from_secs(60), async || {
        let request = hyper::Request::get(format!("http://{addr}/readyz")).body(Full::new(Bytes::new())).unwrap();
        http.client.request(request).await.ok().filter(|r| r.status() == 200)
    })
    .await;

    // Submit → run.
    let profile = common::example_json("profiles/fin-prod.json");
    let request = json!({ "profile": profile, "requestId": "REQ-AWS-E2E",
        "services": [ { "serviceName": "s3" }, { "serviceName": "appsync" } ] });
    let (status, accepted) = http.call("POST", "/v1/requests", Some(&request)).await;
    assert_eq!(status, 202, "{accepted}");
    let runs: Vec<String> =
        accepted["runs"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap().to_string()).collect();
    let (s3_run, appsync_run) = (&runs[0], &runs[1]);
    for run in &runs {
        let done = until("the run to finish", Duration::from_secs(300), async || {
            let run = http.get(&format!("/v1/runs/{run}")).await;
            matches!(run["status"].as_str(), Some("succeeded" | "failed")).then_some(run)
        })
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");
    }

    // The bundle is in S3 under {prefix}/{profile}/{service}/v{version}/, SSE-KMS, with content types.
    let listed = http.get(&format!("/v1/runs/{s3_run}/artifacts")).await;
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"template.yaml") && names.contains(&"verification.json"), "{names:?}");
    for name in &names {
        let key = format!("{PREFIX}/FIN-PROD-001/s3/v1/{name}");
        let head = s3.head_object().bucket(&bucket).key(&key).send().await.unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(head.server_side_encryption().map(|s| s.as_str()), Some("aws:kms"), "{key}");
        assert_eq!(head.ssekms_key_id(), Some(KMS_KEY), "{key}");
        let expected = if name.ends_with(".json") { "application/json" } else { "" };
        assert!(head.content_type().unwrap_or_default().starts_with(expected), "{key}");
    }

    // Attempt copies (lease fencing) are deleted once each attempt is over.
    let attempts = s3.list_objects_v2().bucket(&bucket).prefix(format!("{PREFIX}/attempts/")).send().await.unwrap();
    assert_eq!(attempts.key_count(), Some(0), "{:?}", attempts.contents());

    // The advisor: throttled once (retried by the engine), one verified control, one rejected.
    let controls = http.get(&format!("/v1/runs/{appsync_run}/artifacts/controls.json")).await;
    let advised: Vec<&Value> =
        controls["controls"].as_array().unwrap().iter().filter(|c| c["source"] == "advisor").collect();
    assert_eq!(advised.len(), 1, "{controls}");
    assert_eq!(advised[0]["model_id"], MODEL);
    let verification = http.get(&format!("/v1/runs/{appsync_run}/artifacts/verification.json")).await;
    assert_eq!(verification["advisor"]["rejected"][0]["proposed_id"], "APPSYNC-X2", "{verification}");
    assert_eq!(converse.received().len(), 2, "a 429, then the answer; s3 has reviewed controls and asks nothing");
    // The run record shows what the model cost; the reviewed service cost nothing.
    let advisor = &http.get(&format!("/v1/runs/{appsync_run}")).await["advisor"];
    assert_eq!(advisor["model_id"], MODEL);
    let tokens = (&advisor["input_tokens"], &advisor["output_tokens"], &advisor["total_tokens"]);
    assert_eq!(tokens, (&json!(1200), &json!(300), &json!(1500)), "{advisor}");
    let advisor = &http.get(&format!("/v1/runs/{s3_run}")).await["advisor"];
    assert_eq!((&advisor["asked"], &advisor["total_tokens"]), (&json!(false), &json!(0)), "{advisor}");
    // The model's narrative is in the service profile, marked as model-written.
    let profile = http.get(&format!("/v1/runs/{appsync_run}/artifacts/service-profile.json")).await;
    assert_eq!(profile["model_narrative"]["model_written"], true, "{}", profile["model_narrative"]);
    assert!(profile["model_narrative"]["text"].as_str().unwrap().starts_with("AppSync caches"));

    // Approve → library reads, from DynamoDB.
    let (status, decided) = http.call("POST", &format!("/v1/runs/{s3_run}/approval"), Some(&approve())).await;
    assert_eq!(status, 201, "{decided}");
    let (status, again) = http.call("POST", &format!("/v1/runs/{s3_run}/approval"), Some(&approve())).await;
    assert_eq!((status, again["type"].as_str().unwrap().ends_with("already-decided")), (409, true), "{again}");
    // Concurrent approvals of the other run: DynamoDB's conditional transaction lets one win.
    let uri = format!("/v1/runs/{appsync_run}/approval");
    let body = approve();
    let racing = (0..6).map(|_| http.call("POST", &uri, Some(&body)));
    let mut statuses: Vec<u16> = futures::future::join_all(racing).await.into_iter().map(|(s, _)| s).collect();
    statuses.sort();
    assert_eq!(statuses, [201, 409, 409, 409, 409, 409]);

    let services = http.get("/v1/library/services?profile=FIN-PROD-001").await;
    let approved: Vec<&str> = services.as_array().unwrap().iter().map(|s| s["service_id"].as_str().unwrap()).collect();
    assert_eq!(approved, ["appsync", "s3"], "{services}");
    let library = http.get("/v1/library/controls?service=appsync&profile=FIN-PROD-001").await;
    assert!(library.to_string().contains("APPSYNC-A01"), "the advisor's verified control is in the library: {library}");
    let decision = http.get(&format!("/v1/runs/{s3_run}/approval")).await;
    assert_eq!(decision["reviewer"], "ciso@example.com");

    // It is DynamoDB that holds the decisions: the table has items for both runs.
    let scan = dynamodb.scan().table_name(&table).send().await.unwrap();
    let items = format!("{:?}", scan.items());
    assert!(items.contains(s3_run.as_str()) && items.contains(appsync_run.as_str()), "{} items", scan.count());
}
