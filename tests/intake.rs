//! `POST /v1/intake/s3-event` over moto's S3: uploads become profiles and requests,
//! the same object version twice creates nothing new, and every bad input is a 4xx
//! problem that stores nothing.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seccfg::app::App;
use seccfg::http::{HttpConfig, router};
use seccfg::intake::S3Intake;
use seccfg::store::{LocalArtifactStore, RunFilter};
use serde_json::{Value, json};
use tower::ServiceExt;

const LIMIT: u64 = 64 * 1024;

struct Intake {
    app: Arc<App>,
    router: axum::Router,
    s3: aws_sdk_s3::Client,
    bucket: String,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn intake() -> Intake {
    let settings = common::moto::settings(&common::moto::moto().endpoint);
    let s3 = common::moto::s3_client(&settings).await;
    let bucket = common::moto::bucket(&s3).await;
    let versioning = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(versioning).send().await.unwrap();
    let (store, _, db_dir) = common::fresh_sqlite().await;
    let artifact_dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), common::knowledge()));
    let config = HttpConfig { body_limit: 64 * 1024, request_timeout: Duration::from_secs(10) };
    let intake = Arc::new(S3Intake::new(s3.clone(), vec![bucket.clone()], LIMIT));
    let router = router(app.clone(), &config).layer(axum::Extension(intake));
    Intake { app, router, s3, bucket, _dirs: (db_dir, artifact_dir) }
}

fn event(bucket: &str, key: &str, version: Option<&str>, size: usize) -> Value {
    json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "Object Created",
        "source": "aws.s3", "account": "111122223333", "time": "2026-12-01T00:00:00Z", "region": "us-east-1",
        "resources": [format!("arn:aws:s3:::{bucket}")],
        "detail": { "version": "0", "bucket": { "name": bucket },
            "object": { "key": key, "size": size, "version-id": version, "etag": "x", "sequencer": "1" },
            "request-id": "R", "requester": "111122223333", "reason": "PutObject" }
    })
}

impl Intake {
    /// Uploads `bytes` and returns the event S3 would send for it.
    async fn upload(&self, key: &str, bytes: Vec<u8>) -> Value {
        let size = bytes.len();
        let out = self.s3.put_object().bucket(&self.bucket).key(key).body(bytes.into()).send().await.expect("upload");
        event(&self.bucket, key, out.version_id(), size)
    }

    async fn post(&self, event: &Value) -> (StatusCode, axum::http::HeaderMap, Value) {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/intake/s3-event")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(serde_json::to_vec(event).unwrap()))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.headers, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Everything the store holds that an intake could create: runs and profiles.
    async fn stored(&self) -> (usize, Option<i64>) {
        let runs = self.app.store.runs(&RunFilter { limit: 1000, ..Default::default() }).await.unwrap().len();
        let profile = self.app.store.profile("FIN-PROD-001", None).await.unwrap().map(|p| p.version);
        (runs, profile)
    }
}

fn request_with_profile_id(path: &str) -> Vec<u8> {
    let mut request = common::example_json(path);
    request["profile_id"] = json!("FIN-PROD-001");
    serde_json::to_vec(&request).unwrap()
}

#[tokio::test]
async fn uploads_become_profiles_and_requests_once_per_object_version() {
    let t = intake().await;
    let profile_event = t.upload("profiles/fin-prod.json", common::example("profiles/fin-prod.json")).await;
    let (status, headers, body) = t.post(&profile_event).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["kind"].as_str(), body["created"].as_bool()), (Some("profile"), Some(true)));
    assert_eq!(headers[header::LOCATION], "/v1/profiles/FIN-PROD-001/versions/1");
    let (status, _, body) = t.post(&profile_event).await;
    assert_eq!((status, body["created"].as_bool()), (StatusCode::OK, Some(false)));

    let request_event = t.upload("requests/s3.json", request_with_profile_id("requests/s3.json")).await;
    let (status, headers, body) = t.post(&request_event).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let request = &body["request"];
    let run_id = request["runs"][0]["run_id"].as_str().unwrap().to_string();
    assert_eq!(headers[header::LOCATION], format!("/v1/runs/{run_id}"));
    assert_eq!(request["profile_id"], "FIN-PROD-001");
    assert_eq!(body["source"]["key"], "requests/s3.json");
    let committed = t.app.store.run(&run_id).await.unwrap().expect("the named run is committed");
    assert_eq!(committed.request_id, request["id"].as_str().unwrap());
    let before = t.stored().await;

    // The same delivery again (EventBridge delivers at least once): the same request, nothing new.
    let (status, _, again) = t.post(&request_event).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["created"], false);
    assert_eq!(again["request"]["id"], request["id"]);
    assert_eq!(again["request"]["runs"][0]["run_id"], run_id.as_str());
    assert_eq!(t.stored().await, before);

    // A new version of the object is a new upload.
    let newer = t.upload("requests/s3.json", request_with_profile_id("requests/s3.json")).await;
    let (status, _, body) = t.post(&newer).await;
    assert_eq!((status, body["created"].as_bool()), (StatusCode::ACCEPTED, Some(true)));
    assert_ne!(body["request"]["id"], request["id"]);
    assert_eq!(t.stored().await.0, before.0 + 1);
}

#[tokio::test]
async fn bad_uploads_are_problems_and_store_nothing() {
    let t = intake().await;
    let before = t.stored().await;
    let expect = |status: StatusCode, slug: &str, (got, headers, body): (StatusCode, axum::http::HeaderMap, Value)| {
        assert_eq!(got, status, "{body}");
        assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
        assert_eq!(body["type"], format!("https://seccfg.dev/problems/{slug}"), "{body}");
        body
    };

    // Not JSON.
    let e = t.upload("bad/not-json.json", b"{ not json".to_vec()).await;
    expect(StatusCode::BAD_REQUEST, "malformed-json", t.post(&e).await);

    // Fails validation exactly like the API: the unknown service named by pointer.
    let e = t.upload("bad/typo.json", request_with_profile_id("requests/typo-service.json")).await;
    let body = expect(StatusCode::UNPROCESSABLE_ENTITY, "unknown-service", t.post(&e).await);
    assert_eq!(body["errors"][0]["pointer"], "/services/0/serviceName");
    let e = t.upload("bad/profile.json", br#"{"profile_id": "X"}"#.to_vec()).await;
    let body = expect(StatusCode::UNPROCESSABLE_ENTITY, "invalid-fields", t.post(&e).await);
    assert!(body["errors"].as_array().unwrap().iter().any(|f| f["pointer"] == "/security_requirements"), "{body}");

    // A bucket that is not an intake bucket, and an object that does not exist.
    let e = event("someone-elses-bucket", "profiles/fin-prod.json", None, 10);
    let body = expect(StatusCode::UNPROCESSABLE_ENTITY, "unknown-bucket", t.post(&e).await);
    assert_eq!(body["errors"][0]["pointer"], "/detail/bucket/name");
    let e = event(&t.bucket, "profiles/missing.json", None, 10);
    expect(StatusCode::UNPROCESSABLE_ENTITY, "unknown-object", t.post(&e).await);

    // Oversized: refused from the event's size, and from the object's own length
    // when the event understates it.
    let big = vec![b' '; LIMIT as usize + 1];
    let e = t.upload("bad/big.json", big).await;
    expect(StatusCode::PAYLOAD_TOO_LARGE, "object-too-large", t.post(&e).await);
    let mut lying = e.clone();
    lying["detail"]["object"]["size"] = json!(10);
    expect(StatusCode::PAYLOAD_TOO_LARGE, "object-too-large", t.post(&lying).await);

    // Not an S3 Object Created event.
    let body = expect(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-fields",
        t.post(&json!({"source": "aws.ec2", "detail": {}})).await,
    );
    assert!(body["errors"].as_array().unwrap().iter().any(|f| f["pointer"] == "/detail/object/key"));

    assert_eq!(t.stored().await, before, "nothing was stored");
}

#[tokio::test]
async fn intake_without_configuration_is_not_found() {
    let (store, _, _db) = common::fresh_sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(dir.path())), common::knowledge()));
    let config = HttpConfig { body_limit: 64 * 1024, request_timeout: Duration::from_secs(10) };
    let req = Request::builder()
        .method("POST")
        .uri("/v1/intake/s3-event")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(&event("b", "k", None, 1)).unwrap()))
        .unwrap();
    let res = router(app, &config).oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
