//! One question to a Bedrock model through the Converse API, with tool use forcing
//! an answer in the control definition format. `stopReason` decides what happens:
//! `tool_use`/`end_turn` answer; `max_tokens` gets one continuation, then the stage
//! fails transiently; throttling, 5xx and network faults are transient (the SDK's
//! bounded retries, then the engine's back-off); other 4xx are permanent.

use std::collections::HashMap;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::error::DisplayErrorContext;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, InferenceConfiguration, Message, SpecificToolChoice, StopReason,
    SystemContentBlock, Tool, ToolChoice, ToolConfiguration, ToolInputSchema, ToolSpecification,
};
use aws_smithy_types::{Document, Number};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Tokens one exchange (or a whole run) used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, o: Usage) {
        self.input_tokens += o.input_tokens;
        self.output_tokens += o.output_tokens;
        self.total_tokens += o.total_tokens;
    }
}

/// The model's answer: the tool input if it used the tool, and any text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub tool_input: Option<Value>,
    pub text: String,
    pub stop_reason: String,
    pub usage: Usage,
    /// 1, or 2 when a `max_tokens` answer was continued.
    pub turns: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model call failed, will retry: {0}")]
    Transient(String),
    #[error("model call failed: {0}")]
    Permanent(String),
}

/// The tool the model must call.
pub struct ToolDef {
    pub name: &'static str,
    pub description: &'static str,
    pub schema: Value,
}

pub struct BedrockModel {
    client: Client,
    pub model_id: String,
    pub max_tokens: i32,
}

const CONTINUE: &str = "Your answer was cut off by the token limit. Continue exactly where you stopped.";

impl BedrockModel {
    pub fn new(client: Client, model_id: impl Into<String>, max_tokens: i32) -> BedrockModel {
        BedrockModel { client, model_id: model_id.into(), max_tokens }
    }

    pub async fn ask(&self, system: &str, prompt: &str, tool: &ToolDef) -> Result<Answer, ModelError> {
        let mut messages = vec![text_message(ConversationRole::User, prompt)];
        let mut usage = Usage::default();
        let mut text = String::new();
        for turn in 1..=2 {
            let out = self.call(system, &messages, tool).await?;
            if let Some(u) = out.usage() {
                usage += Usage {
                    input_tokens: u.input_tokens() as i64,
                    output_tokens: u.output_tokens() as i64,
                    total_tokens: u.total_tokens() as i64,
                };
            }
            let content = match out.output() {
                Some(aws_sdk_bedrockruntime::types::ConverseOutput::Message(m)) => m.content().to_vec(),
                _ => Vec::new(),
            };
            let mut tool_input = None;
            for block in &content {
                match block {
                    ContentBlock::Text(t) => text.push_str(t),
                    ContentBlock::ToolUse(u) if u.name() == tool.name => tool_input = Some(to_json(u.input())),
                    _ => {}
                }
            }
            let stop = out.stop_reason().clone();
            if stop == StopReason::MaxTokens {
                if turn == 2 {
                    break;
                }
                let partial = if text.is_empty() { "(cut off)".to_string() } else { text.clone() };
                messages.push(text_message(ConversationRole::Assistant, &partial));
                messages.push(text_message(ConversationRole::User, CONTINUE));
                continue;
            }
            return Ok(Answer { tool_input, text, stop_reason: stop.as_str().to_string(), usage, turns: turn });
        }
        Err(ModelError::Transient("the model's answer hit max_tokens twice (one continuation allowed)".into()))
    }

    async fn call(
        &self,
        system: &str,
        messages: &[Message],
        tool: &ToolDef,
    ) -> Result<aws_sdk_bedrockruntime::operation::converse::ConverseOutput, ModelError> {
        let spec = ToolSpecification::builder()
            .name(tool.name)
            .description(tool.description)
            .input_schema(ToolInputSchema::Json(to_document(&tool.schema)))
            .build()
            .map_err(|e| ModelError::Permanent(e.to_string()))?;
        let tools = ToolConfiguration::builder()
            .tools(Tool::ToolSpec(spec))
            .tool_choice(ToolChoice::Tool(
                SpecificToolChoice::builder()
                    .name(tool.name)
                    .build()
                    .map_err(|e| ModelError::Permanent(e.to_string()))?,
            ))
            .build()
            .map_err(|e| ModelError::Permanent(e.to_string()))?;
        let sent = self
            .client
            .converse()
            .model_id(&self.model_id)
            .system(SystemContentBlock::Text(system.to_string()))
            .set_messages(Some(messages.to_vec()))
            .tool_config(tools)
            .inference_config(InferenceConfiguration::builder().max_tokens(self.max_tokens).temperature(0.0).build())
            .send()
            .await;
        sent.map_err(|e| {
            let status = e.raw_response().map(|r| r.status().as_u16());
            let message = DisplayErrorContext(&e).to_string();
            match status {
                Some(s) if s != 429 && (400..500).contains(&s) => ModelError::Permanent(message),
                _ => ModelError::Transient(message),
            }
        })
    }
}

fn text_message(role: ConversationRole, text: &str) -> Message {
    Message::builder().role(role).content(ContentBlock::Text(text.to_string())).build().expect("role and content set")
}

pub fn to_document(v: &Value) -> Document {
    match v {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(if let Some(u) = n.as_u64() {
            Number::PosInt(u)
        } else if let Some(i) = n.as_i64() {
            Number::NegInt(i)
        } else {
            Number::Float(n.as_f64().unwrap_or(0.0))
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(a) => Document::Array(a.iter().map(to_document).collect()),
        Value::Object(o) => {
            Document::Object(o.iter().map(|(k, v)| (k.clone(), to_document(v))).collect::<HashMap<_, _>>())
        }
    }
}

pub fn to_json(d: &Document) -> Value {
    match d {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => {
            serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null)
        }
        Document::String(s) => Value::String(s.clone()),
        Document::Array(a) => Value::Array(a.iter().map(to_json).collect()),
        Document::Object(o) => {
            let sorted: std::collections::BTreeMap<_, _> = o.iter().map(|(k, v)| (k.clone(), to_json(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
    }
}
