//! `seccfg check --server URL`: each template (or Terraform plan, as `plan`) is sent to `POST /v1/checks` with the
//! hyper client already in the dependency tree (rustls on ring, native roots for
//! https). A 422 is the template's fault (its problem's pointer and line are
//! printed); any other failure to get a report is reported as such.

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use seccfg::gate::{Input, Report};
use serde_json::{Value, json};

/// Why the server gave no report.
pub enum ServerError {
    /// The server refused the input (422): the problem's detail with pointer and line.
    Input(String),
    /// Anything else: connection, authentication, a server error.
    Other(String),
}

/// Checks each input on the server and merges the reports into one.
pub async fn check(
    server: &str,
    api_key: Option<&str>,
    profile: &str,
    profile_version: Option<i64>,
    inputs: &[Input],
) -> Result<Report, ServerError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| ServerError::Other(format!("TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
    let uri = format!("{}/v1/checks", server.trim_end_matches('/'));
    let mut reports = Vec::new();
    for input in inputs {
        let field = if seccfg::gate::tfplan::is_plan(&input.text) { "plan" } else { "template" };
        let body = json!({ field: input.text, "profile_id": profile, "profile_version": profile_version });
        let mut req = hyper::Request::post(&uri).header("content-type", "application/json");
        if let Some(key) = api_key {
            req = req.header("authorization", format!("Bearer {key}"));
        }
        let req = req
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| ServerError::Other(format!("{uri}: {e}")))?;
        let call = async {
            let res = client.request(req).await.map_err(|e| ServerError::Other(format!("{uri}: {e}")))?;
            let status = res.status();
            let bytes = res.into_body().collect().await.map_err(|e| ServerError::Other(format!("{uri}: {e}")))?;
            Ok::<_, ServerError>((status, bytes.to_bytes()))
        };
        let (status, bytes) = tokio::time::timeout(Duration::from_secs(60), call)
            .await
            .map_err(|_| ServerError::Other(format!("{uri}: no answer within 60 s")))??;
        let doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status.as_u16() {
            200 => {
                let mut report: Report = serde_json::from_value(doc)
                    .map_err(|e| ServerError::Other(format!("{uri}: unexpected report: {e}")))?;
                for i in &mut report.inputs {
                    i.name = input.name.clone();
                }
                reports.push(report);
            }
            422 => return Err(ServerError::Input(format!("{}: {}", input.name, problem(&doc)))),
            code => {
                return Err(ServerError::Other(format!(
                    "{uri} answered {code}: {}",
                    doc["detail"].as_str().unwrap_or("")
                )));
            }
        }
    }
    Ok(merge(profile, reports))
}

fn problem(doc: &Value) -> String {
    let field = &doc["errors"][0];
    let line = field["line"].as_u64().map(|l| format!(", line {l}")).unwrap_or_default();
    format!(
        "{} (at {}{line})",
        field["detail"].as_str().or(doc["detail"].as_str()).unwrap_or(""),
        field["pointer"].as_str().unwrap_or("")
    )
}

/// One report over every template: inputs in order, each source once.
fn merge(profile: &str, reports: Vec<Report>) -> Report {
    let mut sources = Vec::new();
    let mut inputs = Vec::new();
    let mut version = None;
    for r in reports {
        for s in r.sources {
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
        inputs.extend(r.inputs);
        version = version.or(r.library_version);
    }
    let mut report = Report::new(profile, sources, inputs);
    report.library_version = version;
    report
}
