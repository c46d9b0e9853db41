//! OIDC bearer tokens against the real API router, with the issuer's JWKS served
//! over HTTP by a local axum server: a valid token's role works; expired, not yet
//! valid, wrong audience, wrong issuer, bad signature, `alg: none`, HS256 and
//! unknown-kid tokens all get the same 401 problem document; a key the issuer
//! rotates in is picked up on first sight of its kid, and unknown kids cannot
//! force more than one JWKS fetch per refresh interval.
//!
//! Keys: tests/fixtures/oidc (test-only, see its README).

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use seccfg::app::App;
use seccfg::auth::oidc::{JwksSource, OidcConfig, OidcVerifier};
use seccfg::auth::{Authenticator, Role};
use seccfg::http::{HttpConfig, router_with_auth};
use seccfg::store::LocalArtifactStore;
use serde_json::{Value, json};
use tokio::sync::RwLock;
use tower::ServiceExt;

const ISSUER: &str = "https://issuer.test.invalid";
const AUDIENCE: &str = "seccfg-api";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::repo(&format!("tests/fixtures/oidc/{name}"))).unwrap()
}

/// The issuer's JWKS endpoint: serves whichever document it holds, counting fetches.
struct Issuer {
    url: String,
    jwks: Arc<RwLock<Vec<u8>>>,
    fetches: Arc<AtomicUsize>,
}

async fn issuer(initial: &str) -> Issuer {
    let jwks = Arc::new(RwLock::new(fixture(initial)));
    let fetches = Arc::new(AtomicUsize::new(0));
    let (doc, count) = (jwks.clone(), fetches.clone());
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let (doc, count) = (doc.clone(), count.clone());
            async move {
                count.fetch_add(1, Ordering::SeqCst);
                ([(header::CONTENT_TYPE, "application/json")], doc.read().await.clone())
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Issuer { url, jwks, fetches }
}

struct Api {
    router: axum::Router,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn api(jwks: JwksSource, refresh_interval: Duration) -> Api {
    let (store, _, db_dir) = common::fresh_sqlite().await;
    let artifact_dir = tempfile::tempdir().unwrap();
    let app = Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), common::knowledge()));
    let verifier = OidcVerifier::new(OidcConfig {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        jwks,
        role_claim: "realm_access.roles".into(),
        role_map: BTreeMap::from([("sec-reviewers".to_string(), Role::Approver)]),
        leeway: Duration::from_secs(30),
        refresh_interval,
    })
    .unwrap();
    verifier.load().await.unwrap();
    let authenticator = Authenticator::required(app.store.clone()).with_oidc(Arc::new(verifier));
    let config = HttpConfig { body_limit: 256 * 1024, request_timeout: Duration::from_secs(30) };
    Api { router: router_with_auth(app, &config, authenticator), _dirs: (db_dir, artifact_dir) }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn claims(roles: &[&str]) -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now(), "nbf": now() - 5, "exp": now() + 300,
            "realm_access": { "roles": roles } })
}

fn sign(alg: Algorithm, kid: &str, key_file: &str, claims: &Value) -> String {
    let key = match alg {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&fixture(key_file)).unwrap(),
        Algorithm::ES256 => EncodingKey::from_ec_pem(&fixture(key_file)).unwrap(),
        _ => EncodingKey::from_secret(&fixture(key_file)).unwrap(),
    };
    let header = Header { kid: Some(kid.into()), ..Header::new(alg) };
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

fn rsa(claims: &Value) -> String {
    sign(Algorithm::RS256, "test-rsa-a", "rsa-a.pem", claims)
}

async fn call(api: &Api, method: &str, uri: &str, token: &str, body: Option<&Value>) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri).header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let req = req.body(body.map(|b| Body::from(serde_json::to_vec(b).unwrap())).unwrap_or_else(Body::empty)).unwrap();
    let res = api.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let ct = res.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_client_error() {
        assert_eq!(ct, "application/problem+json", "{status} {body}");
    }
    (status, body)
}

#[tokio::test]
async fn a_valid_token_carries_its_roles() {
    let issuer = issuer("jwks-a.json").await;
    let api = api(JwksSource::Url(issuer.url.clone()), Duration::from_secs(30)).await;

    let submitter = rsa(&claims(&["submitter"]));
    let (status, body) = call(&api, "GET", "/v1/runs", &submitter, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut profile = common::example_json("profiles/fin-prod.json");
    profile["profile_id"] = json!("OIDC-1");
    let (status, body) = call(&api, "POST", "/v1/profiles", &submitter, Some(&profile)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = call(&api, "GET", "/v1/audit", &submitter, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a submitter is not an admin");

    // A mapped claim value: sec-reviewers → approver, who may not submit.
    let reviewer = rsa(&claims(&["sec-reviewers"]));
    let (status, _) = call(&api, "POST", "/v1/profiles", &reviewer, Some(&profile)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // No role at all: authenticated, allowed nothing.
    let nobody = rsa(&claims(&["unrelated-group"]));
    let (status, _) = call(&api, "GET", "/v1/runs", &nobody, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The audit log names the token's subject.
    let admin = rsa(&claims(&["admin"]));
    let (status, audit) = call(&api, "GET", "/v1/audit", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    assert!(audit["entries"].as_array().unwrap().iter().any(|e| e["principal"] == "oidc:alice"), "{audit}");
}

#[tokio::test]
async fn bad_tokens_get_one_indistinguishable_401() {
    let issuer = issuer("jwks-a.json").await;
    let api = api(JwksSource::Url(issuer.url.clone()), Duration::from_secs(30)).await;
    let with = |key: &str, value: Value| {
        let mut c = claims(&["admin"]);
        c[key] = value;
        c
    };
    let none_header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"test-rsa-a"}"#);
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims(&["admin"]).to_string());
    let bad = [
        ("expired", rsa(&with("exp", json!(now() - 120)))),
        ("not yet valid", rsa(&with("nbf", json!(now() + 120)))),
        ("wrong audience", rsa(&with("aud", json!("another-api")))),
        ("wrong issuer", rsa(&with("iss", json!("https://evil.test.invalid")))),
        ("no subject", rsa(&with("sub", Value::Null))),
        ("bad signature", sign(Algorithm::RS256, "test-rsa-a", "rsa-rogue.pem", &claims(&["admin"]))),
        ("alg none", format!("{none_header}.{payload}.")),
        ("HS256", sign(Algorithm::HS256, "test-rsa-a", "jwks-a.json", &claims(&["admin"]))),
        ("unknown kid", sign(Algorithm::RS256, "no-such-kid", "rsa-rogue.pem", &claims(&["admin"]))),
        ("garbage", "not.a.jwt".to_string()),
    ];
    let mut bodies = Vec::new();
    for (case, token) in bad {
        let (status, body) = call(&api, "GET", "/v1/profiles/OIDC-1", &token, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "401 bodies differ: {bodies:?}");
    // Within the leeway an expired token is still accepted.
    let (status, _) = call(&api, "GET", "/v1/runs", &rsa(&with("exp", json!(now() - 5))), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_rotated_in_key_is_fetched_and_unknown_kids_are_rate_limited() {
    let issuer = issuer("jwks-a.json").await;
    let api = api(JwksSource::Url(issuer.url.clone()), Duration::ZERO).await;
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), 1, "loaded once at start-up");
    let ec = sign(Algorithm::ES256, "test-ec-b", "ec-b.pem", &claims(&["reader"]));
    let (status, _) = call(&api, "GET", "/v1/runs", &ec, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "not published yet");

    *issuer.jwks.write().await = fixture("jwks-ab.json");
    let (status, body) = call(&api, "GET", "/v1/runs", &ec, None).await;
    assert_eq!(status, StatusCode::OK, "the rotated-in ES256 key is fetched on first sight: {body}");
    let fetched = issuer.fetches.load(Ordering::SeqCst);
    let (status, _) = call(&api, "GET", "/v1/runs", &rsa(&claims(&["reader"])), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(issuer.fetches.load(Ordering::SeqCst), fetched, "known kids are served from the cache");

    // With a long refresh interval, a burst of unknown kids costs at most one fetch.
    let limited = issuer_limited().await;
    for i in 0..5 {
        let forged = sign(Algorithm::RS256, &format!("forged-{i}"), "rsa-rogue.pem", &claims(&["admin"]));
        let (status, _) = call(&limited.1, "GET", "/v1/runs", &forged, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(limited.0.fetches.load(Ordering::SeqCst), 2, "start-up load plus one refresh");
}

async fn issuer_limited() -> (Issuer, Api) {
    let issuer = issuer("jwks-a.json").await;
    let api = api(JwksSource::Url(issuer.url.clone()), Duration::from_secs(3600)).await;
    (issuer, api)
}

#[tokio::test]
async fn a_jwks_file_works_too() {
    let api = api(JwksSource::File(common::repo("tests/fixtures/oidc/jwks-ab.json")), Duration::from_secs(30)).await;
    let ec = sign(Algorithm::ES256, "test-ec-b", "ec-b.pem", &claims(&["reader"]));
    let (status, _) = call(&api, "GET", "/v1/runs", &ec, None).await;
    assert_eq!(status, StatusCode::OK);
}
