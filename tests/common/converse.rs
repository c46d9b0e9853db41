//! A Converse-protocol test server (axum on a free loopback port) standing in for
//! Bedrock Runtime: it answers `POST /model/{id}/converse` from a script of replies
//! (tool use, `max_tokens`, 429 throttling, 5xx, arbitrary tool input) and records
//! every request body it received.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub enum Reply {
    /// `stopReason: tool_use` with this tool input.
    Tool(Value),
    /// `stopReason: max_tokens` with a cut-off text.
    MaxTokens,
    /// 429 ThrottlingException.
    Throttle,
    /// 500 InternalServerException.
    ServerError,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Reply>,
    received: Vec<Value>,
}

#[derive(Clone)]
pub struct Converse {
    pub endpoint: String,
    script: Arc<Mutex<Script>>,
}

impl Converse {
    pub async fn start(replies: Vec<Reply>) -> Converse {
        let script = Arc::new(Mutex::new(Script { replies: replies.into(), received: Vec::new() }));
        let app = axum::Router::new().route("/model/{model}/converse", post(converse)).with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Converse { endpoint, script }
    }

    pub fn push(&self, reply: Reply) {
        self.script.lock().unwrap().replies.push_back(reply);
    }

    /// Request bodies received so far.
    pub fn received(&self) -> Vec<Value> {
        self.script.lock().unwrap().received.clone()
    }
}

fn error(status: StatusCode, kind: &str) -> Response {
    (status, [("x-amzn-errortype", kind)], Json(json!({ "message": format!("scripted {kind}") }))).into_response()
}

async fn converse(
    State(script): State<Arc<Mutex<Script>>>,
    Path(_model): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let reply = {
        let mut s = script.lock().unwrap();
        s.received.push(body);
        s.replies.pop_front()
    };
    let usage = json!({ "inputTokens": 1200, "outputTokens": 300, "totalTokens": 1500 });
    match reply {
        Some(Reply::Tool(input)) => Json(json!({
            "output": { "message": { "role": "assistant", "content": [
                { "toolUse": { "toolUseId": "tooluse-1", "name": "propose_controls", "input": input } } ] } },
            "stopReason": "tool_use", "usage": usage, "metrics": { "latencyMs": 5 }
        }))
        .into_response(),
        Some(Reply::MaxTokens) => Json(json!({
            "output": { "message": { "role": "assistant", "content": [ { "text": "Here are the contr" } ] } },
            "stopReason": "max_tokens", "usage": usage, "metrics": { "latencyMs": 5 }
        }))
        .into_response(),
        Some(Reply::Throttle) => error(StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
        Some(Reply::ServerError) | None => error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException"),
    }
}
