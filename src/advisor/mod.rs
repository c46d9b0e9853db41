//! The Bedrock advisor (off unless `SECCFG_BEDROCK_MODEL_ID` is set): the `advise`
//! stage's model exchange. For a service without reviewed controls it asks the model
//! for additional controls through tool use, answers from the store's cache when the
//! same (model, prompt) was asked before, hands every proposal to the pipeline's
//! verification (`pipeline::advise`) and records each exchange in `advisor-log.json`.
//! Prompts are redacted before they are hashed, logged or sent.

pub mod converse;
pub mod prompt;
pub mod redact;

use std::sync::Arc;

use clap::Args;
use serde_json::{Value, json};

use crate::input::Profile;
use crate::knowledge::Knowledge;
use crate::pipeline::advise::{Advised, TokenUsage, review};
use crate::pipeline::checks::Checks;
use crate::pipeline::contracts::Analyzed;
use crate::pipeline::{Artifact, StageError, StageInput, StageName, StageOutput};
use crate::store::{Store, now_ms};
use converse::{Answer, BedrockModel, ModelError, ToolDef};

#[derive(Debug, Clone, Args, Default)]
pub struct AdvisorSettings {
    /// Bedrock model id (or inference profile) for the advisor; unset = no model, deterministic bundles.
    #[arg(long, env = "SECCFG_BEDROCK_MODEL_ID")]
    pub bedrock_model_id: Option<String>,

    /// Endpoint for Bedrock Runtime instead of the regional one (tests, VPC endpoints).
    #[arg(long, env = "SECCFG_BEDROCK_ENDPOINT_URL")]
    pub bedrock_endpoint_url: Option<String>,

    /// Output token limit of one model answer (one continuation is asked when it is hit).
    #[arg(long, env = "SECCFG_BEDROCK_MAX_TOKENS", default_value_t = 4096)]
    pub bedrock_max_tokens: i32,
}

pub struct Advisor {
    model: BedrockModel,
    store: Arc<dyn Store>,
}

impl Advisor {
    /// `None` when no model id is configured.
    pub async fn from_settings(
        settings: &AdvisorSettings,
        aws: &crate::aws::AwsSettings,
        store: Arc<dyn Store>,
    ) -> Option<Advisor> {
        let model_id = settings.bedrock_model_id.clone().filter(|m| !m.is_empty())?;
        let sdk = crate::aws::sdk_config(aws).await;
        let mut config = aws_sdk_bedrockruntime::config::Builder::from(&sdk);
        if let Some(url) = &settings.bedrock_endpoint_url {
            config = config.endpoint_url(url);
        }
        let client = aws_sdk_bedrockruntime::Client::from_conf(config.build());
        Some(Advisor::new(BedrockModel::new(client, model_id, settings.bedrock_max_tokens), store))
    }

    pub fn new(model: BedrockModel, store: Arc<dyn Store>) -> Advisor {
        Advisor { model, store }
    }

    pub fn model_id(&self) -> &str {
        &self.model.model_id
    }

    /// The `advise` stage.
    pub async fn run(
        &self,
        knowledge: Arc<Knowledge>,
        profile: Profile,
        service_id: String,
        previous: Vec<(StageName, Value)>,
    ) -> Result<StageOutput, StageError> {
        let input = StageInput {
            knowledge: &knowledge,
            profile: &profile,
            service_id: &service_id,
            service_name: &service_id,
            previous: &previous,
        };
        let plan = input.read::<Analyzed>()?.plan;
        let model_id = self.model.model_id.clone();
        if !plan.derived() {
            let advised = Advised {
                plan,
                model_id: model_id.clone(),
                asked: false,
                cache_hit: false,
                accepted: vec![],
                rejected: vec![],
                narrative: None,
                usage: TokenUsage::default(),
                checks: Checks::default(),
            };
            let log = json!({ "model_id": model_id, "asked": false,
                "reason": "the service has reviewed controls", "exchanges": [], "usage": TokenUsage::default() });
            return Ok(StageOutput::new(&advised, vec![Artifact::json("advisor-log.json", &log)]));
        }
        let accounts = profile.aws_accounts.clone();
        let text = prompt::question(&knowledge, &profile, &plan);
        let question = redact::redact(&text, profile.organization.as_deref(), &accounts);
        let (answer, cache_hit) = self.answer(&question).await?;
        let (tool_input, narrative) = split(&answer);
        let reviewed = {
            let (knowledge, profile, previous, model_id) =
                (knowledge.clone(), profile.clone(), previous.clone(), model_id.clone());
            tokio::task::spawn_blocking(move || {
                let input = StageInput {
                    knowledge: &knowledge,
                    profile: &profile,
                    service_id: &service_id,
                    service_name: &service_id,
                    previous: &previous,
                };
                review(&input, tool_input.as_ref(), &model_id)
            })
            .await
            .map_err(|e| StageError::Permanent(format!("advise panicked: {e}")))??
        };
        let (plan, accepted, rejected) = reviewed;
        let mut checks = Checks::default();
        for a in &accepted {
            checks.pass("advisor_proposal_verified", a.id.clone());
        }
        let usage = if cache_hit { TokenUsage::default() } else { tokens(&answer) };
        let log = json!({
            "model_id": model_id,
            "asked": true,
            "exchanges": [{
                "prompt": { "system": prompt::SYSTEM, "user": question },
                "response": answer,
                "cached": cache_hit,
                "usage": tokens(&answer),
            }],
            "usage": usage,
            "narrative": narrative.as_ref().map(|n| json!({ "text": n, "model_written": true })),
            "accepted": accepted,
            "rejected": rejected,
        });
        let advised = Advised { plan, model_id, asked: true, cache_hit, accepted, rejected, narrative, usage, checks };
        Ok(StageOutput::new(&advised, vec![Artifact::json("advisor-log.json", &log)]))
    }

    /// The cached answer for this exact question, else the model's (then cached).
    async fn answer(&self, question: &str) -> Result<(Answer, bool), StageError> {
        let key = cache_key(&self.model.model_id, question);
        let transient = |e: &dyn std::fmt::Display| StageError::Transient(e.to_string());
        if let Some(text) = self.store.advisor_cached(&key).await.map_err(|e| transient(&e))?
            && let Ok(answer) = serde_json::from_str::<Answer>(&text)
        {
            return Ok((answer, true));
        }
        let tool =
            ToolDef { name: prompt::TOOL_NAME, description: prompt::TOOL_DESCRIPTION, schema: prompt::tool_schema() };
        let answer = self.model.ask(prompt::SYSTEM, question, &tool).await.map_err(|e| match e {
            ModelError::Transient(m) => StageError::Transient(format!("advisor: {m}")),
            ModelError::Permanent(m) => StageError::Permanent(format!("advisor: {m}")),
        })?;
        let text = serde_json::to_string(&answer).expect("answer serialises");
        self.store.advisor_cache(&key, &self.model.model_id, &text, now_ms()).await.map_err(|e| transient(&e))?;
        Ok((answer, false))
    }
}

/// Hash of (model id, system prompt, redacted question).
pub fn cache_key(model_id: &str, question: &str) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for part in [model_id, prompt::SYSTEM, question] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

fn tokens(a: &Answer) -> TokenUsage {
    TokenUsage {
        input_tokens: a.usage.input_tokens,
        output_tokens: a.usage.output_tokens,
        total_tokens: a.usage.total_tokens,
    }
}

/// The tool input, and the narrative if the model wrote one.
fn split(answer: &Answer) -> (Option<Value>, Option<String>) {
    let narrative = answer
        .tool_input
        .as_ref()
        .and_then(|v| v.get("narrative"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .filter(|s| !s.trim().is_empty());
    (answer.tool_input.clone(), narrative)
}
