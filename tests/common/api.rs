//! An in-process API over a given store, with a worker to drain runs.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use seccfg::app::App;
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::http::{HttpConfig, router};
use seccfg::store::{LocalArtifactStore, Store};
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct Api {
    pub app: Arc<App>,
    router: axum::Router,
    _dirs: Vec<tempfile::TempDir>,
}

pub async fn api(store: Arc<dyn Store>, mut dirs: Vec<tempfile::TempDir>) -> Api {
    let artifact_dir = tempfile::tempdir().unwrap();
    let app =
        Arc::new(App::new(store, Arc::new(LocalArtifactStore::new(artifact_dir.path())), crate::common::knowledge()));
    dirs.push(artifact_dir);
    let config = HttpConfig { body_limit: 256 * 1024, request_timeout: Duration::from_secs(30) };
    Api { router: router(app.clone(), &config), app, _dirs: dirs }
}

impl Api {
    /// Serves the router on a loopback port (for real clients such as `seccfg check --server`).
    pub async fn serve(&self) -> std::net::SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        addr
    }

    pub async fn call(&self, method: &str, uri: &str, body: Option<&Value>) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if body.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map(|b| Body::from(serde_json::to_vec(b).unwrap())).unwrap_or_else(Body::empty);
        let res = self.router.clone().oneshot(req.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    pub async fn drain(&self) {
        let worker = Worker::new(
            "test".into(),
            self.app.store.clone(),
            self.app.artifacts.clone(),
            self.app.knowledge.clone(),
            WorkerConfig::default(),
        );
        while worker.step().await.unwrap() {}
    }

    /// Submits fin-prod and a request for `services`; returns the run ids in order.
    pub async fn submit(&self, services: &[&str]) -> Vec<String> {
        self.submit_with(&crate::common::example_json("profiles/fin-prod.json"), services).await
    }

    /// Submits `profile` and a request for `services`; returns the run ids in order.
    pub async fn submit_with(&self, profile: &Value, services: &[&str]) -> Vec<String> {
        let (status, _) = self.call("POST", "/v1/profiles", Some(profile)).await;
        assert!(status.is_success());
        let request = json!({
            "profile_id": profile["profile_id"],
            "requestId": "REQ-APPROVAL",
            "services": services.iter().map(|s| json!({ "serviceName": s })).collect::<Vec<_>>(),
        });
        let (status, accepted) = self.call("POST", "/v1/requests", Some(&request)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        accepted["runs"].as_array().unwrap().iter().map(|r| r["run_id"].as_str().unwrap().to_string()).collect()
    }

    pub async fn nothing_stored(&self, run_id: &str) {
        assert!(self.app.library.decision(run_id).await.unwrap().is_none(), "no decision stored");
        assert!(self.app.library.audit(Some(run_id)).await.unwrap().is_empty(), "no audit entry");
    }
}
