//! Authentication and roles: the full role × endpoint matrix (every operation of
//! the OpenAPI document must be in it), the profile-replacement attack, the
//! audit log, `seccfg keys`, and `serve` refusing an open non-loopback bind.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seccfg::app::App;
use seccfg::auth::{Authenticator, Role, keys};
use seccfg::http::auth::{Access, access};
use seccfg::http::{HttpConfig, router_with_auth};
use seccfg::store::{ApiKeyRecord, LocalArtifactStore, Store, now_ms};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Api {
    app: Arc<App>,
    router: axum::Router,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn api() -> Api {
    let (store, _, db_dir) = common::fresh_sqlite().await;
    let artifact_dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), common::knowledge()));
    let config = HttpConfig { body_limit: 256 * 1024, request_timeout: Duration::from_secs(30) };
    let router = router_with_auth(app.clone(), &config, Authenticator::required(app.store.clone()));
    Api { router, app, _dirs: (db_dir, artifact_dir) }
}

async fn new_key(store: &Arc<dyn Store>, name: &str, role: Role) -> (String, String) {
    let key = keys::generate();
    let id = uuid::Uuid::new_v4().to_string();
    let record = ApiKeyRecord {
        id: id.clone(),
        name: name.into(),
        role: role.as_str().into(),
        key_hash: keys::hash(&key),
        created_at: now_ms(),
        revoked_at: None,
    };
    store.create_api_key(&record).await.unwrap();
    (key, id)
}

async fn call(
    api: &Api,
    method: &str,
    uri: &str,
    key: Option<&str>,
    body: Option<&Value>,
) -> (StatusCode, String, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(body.map(|b| Body::from(serde_json::to_vec(b).unwrap())).unwrap_or_else(Body::empty)).unwrap();
    let res = api.router.clone().oneshot(req).await.unwrap();
    let content_type =
        res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn profile(id: &str, mfa: bool) -> Value {
    let mut doc = common::example_json("profiles/fin-prod.json");
    doc["profile_id"] = json!(id);
    doc["organization_details"]["name"] = json!(if mfa { "Northwind" } else { "Northwind (weakened)" });
    doc["security_operations"]["access_management"]["mfa_required"] = json!(mfa);
    doc["security_requirements"]["access_requirements"]["mfa"] = json!(mfa);
    doc
}

/// One call per operation: (method, OpenAPI path, concrete URI, body).
fn operations(run_id: &str) -> Vec<(&'static str, &'static str, String, Option<Value>)> {
    let request = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-M", "services": [{"serviceName": "sqs"}]});
    let decision = json!({"decision": "reject", "reviewer": "matrix", "comment": "no"});
    vec![
        ("GET", "/healthz", "/healthz".into(), None),
        ("GET", "/readyz", "/readyz".into(), None),
        ("GET", "/metrics", "/metrics".into(), None),
        ("POST", "/v1/profiles", "/v1/profiles".into(), Some(profile("MATRIX-1", true))),
        ("GET", "/v1/profiles/{profile_id}", "/v1/profiles/FIN-PROD-001".into(), None),
        ("GET", "/v1/profiles/{profile_id}/versions/{version}", "/v1/profiles/FIN-PROD-001/versions/1".into(), None),
        ("POST", "/v1/requests", "/v1/requests".into(), Some(request)),
        ("POST", "/v1/intake/s3-event", "/v1/intake/s3-event".into(), Some(json!({"source": "aws.s3"}))),
        ("GET", "/v1/runs", "/v1/runs".into(), None),
        ("GET", "/v1/runs/{run_id}", format!("/v1/runs/{run_id}"), None),
        ("POST", "/v1/runs/{run_id}/retry", format!("/v1/runs/{run_id}/retry"), None),
        ("GET", "/v1/runs/{run_id}/artifacts", format!("/v1/runs/{run_id}/artifacts"), None),
        ("GET", "/v1/runs/{run_id}/artifacts/{name}", format!("/v1/runs/{run_id}/artifacts/facts.json"), None),
        ("POST", "/v1/runs/{run_id}/approval", format!("/v1/runs/{run_id}/approval"), Some(decision)),
        ("GET", "/v1/runs/{run_id}/approval", format!("/v1/runs/{run_id}/approval"), None),
        ("GET", "/v1/runs/{run_id}/diff", format!("/v1/runs/{run_id}/diff"), None),
        ("GET", "/v1/library/services", "/v1/library/services".into(), None),
        ("GET", "/v1/library/services/{service_id}", "/v1/library/services/s3".into(), None),
        ("GET", "/v1/library/controls", "/v1/library/controls".into(), None),
        ("GET", "/v1/catalog", "/v1/catalog".into(), None),
        ("GET", "/v1/catalog/services", "/v1/catalog/services?query=s3".into(), None),
        ("GET", "/v1/catalog/services/{id}", "/v1/catalog/services/s3".into(), None),
        ("GET", "/v1/catalog/resource-types/{type_name}", "/v1/catalog/resource-types/AWS::S3::Bucket".into(), None),
        ("GET", "/v1/catalog/config-rules", "/v1/catalog/config-rules?service=s3".into(), None),
        ("GET", "/v1/audit", "/v1/audit".into(), None),
        (
            "POST",
            "/v1/checks",
            "/v1/checks".into(),
            Some(json!({"template": "Resources:\n  B:\n    Type: AWS::S3::Bucket\n", "profile_id": "FIN-PROD-001"})),
        ),
    ]
}

#[test]
fn the_matrix_covers_every_documented_operation() {
    let doc = seccfg::http::openapi_document();
    let listed: Vec<(String, String)> =
        operations("x").into_iter().map(|(m, p, _, _)| (m.to_string(), p.to_string())).collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in
            item.as_object().unwrap().keys().filter(|k| ["get", "post", "put", "patch", "delete"].contains(&k.as_str()))
        {
            let key = (method.to_uppercase(), path.clone());
            assert!(listed.contains(&key), "{key:?} is documented but missing from the authorisation matrix");
        }
    }
}

fn allowed(role: Role, access: Access) -> bool {
    match access {
        Access::Public => true,
        Access::Needs(needed) => role == Role::Admin || needed == Role::Reader || role == needed,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_gets_exactly_its_endpoints() {
    let api = api().await;
    let store = api.app.store.clone();
    let mut role_keys = Vec::new();
    for role in Role::ALL {
        role_keys.push((role, new_key(&store, role.as_str(), role).await.0));
    }
    let admin = &role_keys[3].1;
    let (status, _, _) = call(&api, "POST", "/v1/profiles", Some(admin), Some(&profile("FIN-PROD-001", true))).await;
    assert_eq!(status, StatusCode::CREATED);
    let request = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-1", "services": [{"serviceName": "s3"}]});
    let (status, _, accepted) = call(&api, "POST", "/v1/requests", Some(admin), Some(&request)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    let run_id = accepted["runs"][0]["run_id"].as_str().unwrap().to_string();
    let (revoked, revoked_id) = new_key(&store, "gone", Role::Admin).await;
    assert!(store.revoke_api_key(&revoked_id, now_ms()).await.unwrap());

    let mut checked = 0;
    for (method, path, uri, body) in operations(&run_id) {
        let needed = access(&method.parse().unwrap(), path);
        for (role, key) in &role_keys {
            let (status, _, problem) = call(&api, method, &uri, Some(key), body.as_ref()).await;
            if allowed(*role, needed) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{role:?} {method} {uri}: {status} {problem}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} {method} {uri}: {problem}");
            }
            checked += 1;
        }
        for credential in [None, Some("sck_not-a-real-key"), Some(revoked.as_str()), Some(&keys::generate())] {
            let (status, content_type, problem) = call(&api, method, &uri, credential, body.as_ref()).await;
            if needed == Access::Public {
                assert_eq!(status, StatusCode::OK, "{method} {uri} is public");
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{credential:?} {method} {uri}: {problem}");
                assert_eq!(content_type, "application/problem+json");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, operations(&run_id).len() * 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_failures_do_not_reveal_whether_a_resource_exists() {
    let api = api().await;
    let (admin, _) = new_key(&api.app.store, "admin", Role::Admin).await;
    let (reader, _) = new_key(&api.app.store, "reader", Role::Reader).await;
    call(&api, "POST", "/v1/profiles", Some(&admin), Some(&profile("FIN-PROD-001", true))).await;
    let request = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-1", "services": [{"serviceName": "s3"}]});
    let (_, _, accepted) = call(&api, "POST", "/v1/requests", Some(&admin), Some(&request)).await;
    let run_id = accepted["runs"][0]["run_id"].as_str().unwrap();
    let missing = uuid::Uuid::new_v4().to_string();
    for (method, key) in [("GET", None), ("POST", Some(reader.as_str()))] {
        let suffix = if method == "POST" { "/retry" } else { "" };
        let existing = call(&api, method, &format!("/v1/runs/{run_id}{suffix}"), key, None).await;
        let absent = call(&api, method, &format!("/v1/runs/{missing}{suffix}"), key, None).await;
        assert!(existing.0 == StatusCode::UNAUTHORIZED || existing.0 == StatusCode::FORBIDDEN);
        assert_eq!(existing, absent, "same answer whether the run exists or not");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submitter_cannot_replace_someone_elses_profile() {
    let api = api().await;
    let store = api.app.store.clone();
    let (owner, _) = new_key(&store, "payments-team", Role::Submitter).await;
    let (attacker, _) = new_key(&store, "other-team", Role::Submitter).await;
    let (admin, _) = new_key(&store, "security-admin", Role::Admin).await;

    let (status, _, _) = call(&api, "POST", "/v1/profiles", Some(&owner), Some(&profile("FIN-PROD-001", true))).await;
    assert_eq!(status, StatusCode::CREATED);
    // The attack: a weakened copy (MFA off) under the same id, directly or embedded in a request.
    let (status, content_type, problem) =
        call(&api, "POST", "/v1/profiles", Some(&attacker), Some(&profile("FIN-PROD-001", false))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    let embedded =
        json!({"requestId": "REQ-X", "services": [{"serviceName": "s3"}], "profile": profile("FIN-PROD-001", false)});
    let (status, _, problem) = call(&api, "POST", "/v1/requests", Some(&attacker), Some(&embedded)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let latest = store.profile("FIN-PROD-001", None).await.unwrap().unwrap();
    assert_eq!(latest.version, 1, "no new version was stored");

    // A legitimate request by profile id still runs against the owner's version.
    let request = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-1", "services": [{"serviceName": "s3"}]});
    let (status, _, accepted) = call(&api, "POST", "/v1/requests", Some(&attacker), Some(&request)).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(accepted["profile_version"], 1);

    // The owner and an admin may add versions; a request can pin one and the 202 echoes it.
    let (status, _, body) =
        call(&api, "POST", "/v1/profiles", Some(&owner), Some(&profile("FIN-PROD-001", false))).await;
    assert_eq!((status, body["version"].clone()), (StatusCode::CREATED, json!(2)));
    let mut third = profile("FIN-PROD-001", true);
    third["organization_details"]["name"] = json!("Northwind v3");
    let (status, _, body) = call(&api, "POST", "/v1/profiles", Some(&admin), Some(&third)).await;
    assert_eq!((status, body["version"].clone()), (StatusCode::CREATED, json!(3)));
    let pinned = json!({"profile_id": "FIN-PROD-001", "profile_version": 1, "requestId": "REQ-2", "services": [{"serviceName": "s3"}]});
    let (status, _, accepted) = call(&api, "POST", "/v1/requests", Some(&owner), Some(&pinned)).await;
    assert_eq!((status, accepted["profile_version"].clone()), (StatusCode::ACCEPTED, json!(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutating_calls_are_audited_for_admins() {
    let api = api().await;
    let (submitter, _) = new_key(&api.app.store, "ci", Role::Submitter).await;
    let (admin, _) = new_key(&api.app.store, "root", Role::Admin).await;
    call(&api, "POST", "/v1/profiles", Some(&submitter), Some(&profile("AUD-1", true))).await;
    let req = Request::builder()
        .method("POST")
        .uri("/v1/runs/nope/retry")
        .header(header::AUTHORIZATION, format!("Bearer {submitter}"))
        .header("x-request-id", "audit-test-1")
        .body(Body::empty())
        .unwrap();
    let res = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let (status, _, _) = call(&api, "GET", "/v1/audit", Some(&submitter), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = call(&api, "GET", "/v1/audit?limit=1", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let first = &page["entries"][0];
    assert_eq!(first["principal"], "key:ci");
    assert_eq!(first["action"], "POST /v1/profiles");
    assert_eq!(first["target"], "/v1/profiles");
    assert_eq!(first["status"], 201);
    assert!(first["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    let cursor = page["next_cursor"].as_str().expect("a second page");
    let (_, _, page) = call(&api, "GET", &format!("/v1/audit?cursor={cursor}"), Some(&admin), None).await;
    let second = &page["entries"][0];
    assert_eq!(second["action"], "POST /v1/runs/{run_id}/retry");
    assert_eq!(second["target"], "/v1/runs/nope/retry");
    assert_eq!(second["request_id"], "audit-test-1");
    assert_eq!(second["status"], 404);
    assert_eq!(page["entries"].as_array().unwrap().len(), 1, "reads are not audited");
}

#[test]
fn keys_cli_prints_a_key_once_and_stores_only_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("k.db").display());
    let seccfg = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_seccfg")).args(args).env("SECCFG_DATABASE_URL", &db).output().unwrap()
    };
    let created = seccfg(&["keys", "create", "--name", "ci", "--role", "submitter"]);
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key = String::from_utf8(created.stdout).unwrap().trim().to_string();
    assert!(keys::looks_like_key(&key), "{key}");
    let listed = String::from_utf8(seccfg(&["keys", "list"]).stdout).unwrap();
    assert!(!listed.contains(&key) && !listed.contains(&keys::hash(&key)), "{listed}");
    let entry: Value = serde_json::from_str(listed.lines().next().unwrap()).unwrap();
    assert_eq!((entry["name"].as_str(), entry["role"].as_str()), (Some("ci"), Some("submitter")));
    let raw = std::fs::read(dir.path().join("k.db")).unwrap();
    assert!(!raw.windows(key.len()).any(|w| w == key.as_bytes()), "the key itself is never stored");
    assert!(!seccfg(&["keys", "create", "--name", "x", "--role", "root"]).status.success());
    let id = entry["id"].as_str().unwrap();
    assert!(seccfg(&["keys", "revoke", id]).status.success());
    let listed: Value = serde_json::from_slice(&seccfg(&["keys", "list"]).stdout).unwrap();
    assert!(listed["revoked_at"].is_i64());
}

#[test]
fn serve_refuses_an_open_non_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_seccfg"))
        .arg("serve")
        .env("SECCFG_DATABASE_URL", format!("sqlite:{}", dir.path().join("s.db").display()))
        .env("SECCFG_ARTIFACT_DIR", dir.path().join("a"))
        .env("SECCFG_BIND", "0.0.0.0:0")
        .env("SECCFG_WORKERS", "0")
        .env_remove("SECCFG_AUTH")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SECCFG_AUTH"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_principal_is_rate_limited_with_retry_after() {
    let (store, _, _db) = common::fresh_sqlite().await;
    let artifacts = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifacts.path())), common::knowledge()));
    let config = HttpConfig { body_limit: 256 * 1024, request_timeout: Duration::from_secs(30) };
    let authenticator = Authenticator::required(app.store.clone()).with_rate_limit(1);
    let router = router_with_auth(app.clone(), &config, authenticator);
    let api = Api { router, app, _dirs: (tempfile::tempdir().unwrap(), artifacts) };
    let (busy, _) = new_key(&api.app.store, "busy", Role::Reader).await;
    let (calm, _) = new_key(&api.app.store, "calm", Role::Reader).await;
    // A burst of twice the rate passes, the next call does not.
    for _ in 0..2 {
        assert_eq!(call(&api, "GET", "/v1/runs", Some(&busy), None).await.0, StatusCode::OK);
    }
    let req = Request::builder()
        .uri("/v1/runs")
        .header(header::AUTHORIZATION, format!("Bearer {busy}"))
        .body(Body::empty())
        .unwrap();
    let res = api.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/problem+json");
    let retry_after: u64 = res.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    // Other principals and public endpoints are unaffected.
    assert_eq!(call(&api, "GET", "/v1/runs", Some(&calm), None).await.0, StatusCode::OK);
    assert_eq!(call(&api, "GET", "/healthz", Some(&busy), None).await.0, StatusCode::OK);
}

/// Issue 11 follow-up: with authentication on, the reviewer recorded is the caller.
/// A body `reviewer` naming anyone else is refused with 422 and nothing is stored;
/// omitting it (or repeating the caller's own name) records the principal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reviewer_recorded_is_the_authenticated_principal() {
    let api = api().await;
    let (admin, _) = new_key(&api.app.store, "admin", Role::Admin).await;
    let (approver, _) = new_key(&api.app.store, "bob", Role::Approver).await;
    call(&api, "POST", "/v1/profiles", Some(&admin), Some(&profile("FIN-PROD-001", true))).await;
    let request = json!({"profile_id": "FIN-PROD-001", "requestId": "REQ-R", "services": [{"serviceName": "sqs"}, {"serviceName": "sns"}]});
    let (_, _, accepted) = call(&api, "POST", "/v1/requests", Some(&admin), Some(&request)).await;
    let runs: Vec<String> =
        accepted["runs"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap().to_string()).collect();
    let worker = seccfg::engine::Worker::new(
        "test".into(),
        api.app.store.clone(),
        api.app.artifacts.clone(),
        api.app.knowledge.clone(),
        seccfg::engine::WorkerConfig::default(),
    );
    while worker.step().await.unwrap() {}

    let uri = format!("/v1/runs/{}/approval", runs[0]);
    let forged = json!({"decision": "approve", "reviewer": "mallory", "comment": "lgtm"});
    let (status, _, problem) = call(&api, "POST", &uri, Some(&approver), Some(&forged)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/reviewer");
    assert!(api.app.library.decision(&runs[0]).await.unwrap().is_none(), "nothing stored");

    let (status, _, decided) =
        call(&api, "POST", &uri, Some(&approver), Some(&json!({"decision": "approve", "comment": "lgtm"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{decided}");
    assert_eq!(decided["reviewer"], "key:bob");
    let stored = api.app.library.decision(&runs[0]).await.unwrap().unwrap();
    assert_eq!(stored.reviewer, "key:bob");

    let own_name = json!({"decision": "reject", "reviewer": "key:bob"});
    let uri = format!("/v1/runs/{}/approval", runs[1]);
    let (status, _, decided) = call(&api, "POST", &uri, Some(&approver), Some(&own_name)).await;
    assert_eq!(status, StatusCode::CREATED, "{decided}");
    assert_eq!(decided["reviewer"], "key:bob");
}
