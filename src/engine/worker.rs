//! One worker loop: claim → run → record, until shutdown.
//!
//! Finishing a stage claims the run's next stage for the same worker in the same
//! transaction, so a run's stages follow one another on one worker; that worker
//! keeps the run's parsed profile and earlier stage outputs in memory between
//! them ([`RunCache`]), while every output is still recorded in the store.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{Instrument, info, info_span, warn};

use crate::advisor::Advisor;
use crate::input::Profile;
use crate::knowledge::Knowledge;
use crate::pipeline::{self, Artifact, StageError, StageInput, StageName};
use crate::store::{ArtifactStore, BundleRef, ClaimedStage, NewArtifact, StageOutcome, Store, StoreError, now_ms};
use crate::telemetry::{metrics, trace};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claim is valid without a heartbeat.
    pub lease: Duration,
    /// Sleep between polls when nothing is claimable.
    pub poll_interval: Duration,
    /// First retry delay for transient errors; doubles per attempt (in SQL).
    pub backoff_base: Duration,
    /// Fault injection for durability tests: each stage sleeps this long first.
    pub stage_delay: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(200),
            backoff_base: Duration::from_secs(2),
            stage_delay: Duration::ZERO,
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    pub id: String,
    store: Arc<dyn Store>,
    artifacts: Arc<dyn ArtifactStore>,
    knowledge: Arc<Knowledge>,
    config: WorkerConfig,
    /// The model behind the `advise` stage, when configured.
    advisor: Option<Arc<Advisor>>,
    /// The stage claimed when the previous one finished, run by the next [`Worker::step`].
    chained: Arc<Mutex<Option<ClaimedStage>>>,
    /// The last run this worker advanced.
    cache: Arc<Mutex<Option<RunCache>>>,
}

/// What a worker keeps of the run it is advancing: the parsed profile and the
/// outputs of the stages it ran, exactly as recorded (recorded outputs never change).
struct RunCache {
    run_id: String,
    profile: Arc<Profile>,
    /// (position, stage, output) of every succeeded stage before `next_position`.
    previous: Vec<(StageName, Value)>,
    /// The position whose inputs `previous` holds in full.
    next_position: i64,
}

/// A stage's inputs: the run's profile and earlier outputs.
struct StageInputs {
    profile: Arc<Profile>,
    previous: Vec<(StageName, Value)>,
}

impl Worker {
    pub fn new(
        id: String,
        store: Arc<dyn Store>,
        artifacts: Arc<dyn ArtifactStore>,
        knowledge: Arc<Knowledge>,
        config: WorkerConfig,
    ) -> Worker {
        Worker {
            id,
            store,
            artifacts,
            knowledge,
            config,
            advisor: None,
            chained: Arc::default(),
            cache: Arc::default(),
        }
    }

    /// Runs `advise` stages with this advisor.
    pub fn with_advisor(mut self, advisor: Option<Arc<Advisor>>) -> Worker {
        self.advisor = advisor;
        self
    }

    /// Runs until `shutdown` turns true, then hands back any lease it holds.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => warn!(worker = %self.id, error = %e, "worker step failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
        match self.store.release_leases(&self.id, now_ms()).await {
            Ok(n) if n > 0 => info!(worker = %self.id, released = n, "released leases on shutdown"),
            Ok(_) => {}
            Err(e) => warn!(worker = %self.id, error = %e, "could not release leases"),
        }
    }

    /// Claims and runs one stage. Returns false when nothing was claimable.
    pub async fn step(&self) -> anyhow::Result<bool> {
        let lease_ms = self.config.lease.as_millis() as i64;
        let chained = self.chained.lock().expect("chained stage lock").take();
        let stage = match chained {
            Some(stage) => stage,
            None => match self.store.claim_stage(&self.id, now_ms(), lease_ms).await? {
                Some(stage) => stage,
                None => return Ok(false),
            },
        };
        metrics::stage_claimed(&stage.name, stage.lease_expired);
        if stage.lease_expired {
            warn!(run_id = %stage.run_id, stage = %stage.name, attempt = stage.attempt, "previous attempt's lease expired");
        }
        let span = info_span!("stage", run_id = %stage.run_id, stage = %stage.name, attempt = stage.attempt,
            otel.name = tracing::field::Empty, otel.kind = "consumer");
        if trace::enabled() {
            span.record("otel.name", format!("stage {}", stage.name));
            trace::link(&span, stage.traceparent.as_deref());
        }
        self.execute(stage).instrument(span).await?;
        Ok(true)
    }

    async fn execute(&self, stage: ClaimedStage) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let heartbeat = self.heartbeat(stage.clone());
        let (mut outcome, artifacts, output) = self.outcome(&stage).await;
        heartbeat.abort();
        if matches!(outcome, StageOutcome::Succeeded { .. }) {
            // Fencing: the stage's artifacts (held in memory) are published only while
            // its lease is still held (re-checked and extended right now); a worker
            // that lost the lease, e.g. after a long pause, abandons its attempt and
            // writes nothing.
            let lease_ms = self.config.lease.as_millis() as i64;
            if !self.store.extend_lease(&stage, &self.id, now_ms(), lease_ms).await? {
                self.store.abandon_attempt(&stage, &self.id, now_ms()).await?;
                metrics::stage_finished(&stage.name, "lease_lost", started.elapsed().as_secs_f64());
                warn!("lease lost while the stage ran; attempt abandoned, nothing published");
                return Ok(());
            }
            if let Some(failed) = self.publish_whole(&stage, &artifacts).await {
                outcome = failed;
            }
        }
        let lease_ms = self.config.lease.as_millis() as i64;
        let (recorded, next) = self.store.finish_and_claim_next(&stage, &self.id, &outcome, now_ms(), lease_ms).await?;
        if !recorded {
            self.store.abandon_attempt(&stage, &self.id, now_ms()).await?;
        }
        self.remember(&stage, recorded.then_some(&outcome).zip(output));
        *self.chained.lock().expect("chained stage lock") = next;
        let elapsed = started.elapsed().as_secs_f64();
        metrics::stage_finished(&stage.name, outcome_label(&outcome, recorded, &stage), elapsed);
        let elapsed_ms = elapsed * 1000.0;
        match (&outcome, recorded) {
            (_, false) => warn!("lease lost before the outcome was recorded; another worker owns the stage"),
            (StageOutcome::Succeeded { .. }, true) => info!(elapsed_ms, "stage succeeded"),
            (StageOutcome::Transient { error, .. }, true) => warn!(elapsed_ms, %error, "stage failed, will retry"),
            (StageOutcome::Permanent { error }, true) => warn!(elapsed_ms, %error, "stage failed permanently"),
        }
        Ok(())
    }

    /// Extends the lease at a third of its length while the stage runs.
    fn heartbeat(&self, stage: ClaimedStage) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let worker = self.id.clone();
        let lease = self.config.lease;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store.extend_lease(&stage, &worker, now_ms(), lease.as_millis() as i64).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => warn!(error = %e, "lease extension failed"),
                }
            }
        })
    }

    /// Keeps the run's inputs for its next stage when this one's output was recorded.
    fn remember(&self, stage: &ClaimedStage, recorded: Option<(&StageOutcome, (StageInputs, Value))>) {
        let mut cache = self.cache.lock().expect("run cache lock");
        *cache = match (recorded, StageName::parse(&stage.name)) {
            (Some((StageOutcome::Succeeded { .. }, (mut inputs, output))), Some(name)) => {
                inputs.previous.push((name, output));
                Some(RunCache {
                    run_id: stage.run_id.clone(),
                    profile: inputs.profile,
                    previous: inputs.previous,
                    next_position: stage.position + 1,
                })
            }
            _ => None,
        };
    }

    async fn outcome(&self, stage: &ClaimedStage) -> (StageOutcome, Vec<Artifact>, Option<(StageInputs, Value)>) {
        let backoff_base_ms = self.config.backoff_base.as_millis() as i64;
        if !self.config.stage_delay.is_zero() {
            tokio::time::sleep(self.config.stage_delay).await;
        }
        match self.run_stage(stage).await {
            Ok((inputs, output, artifacts)) => {
                (StageOutcome::Succeeded { output: output.to_string() }, artifacts, Some((inputs, output)))
            }
            Err(StageError::Transient(error)) => (StageOutcome::Transient { error, backoff_base_ms }, Vec::new(), None),
            Err(StageError::Permanent(error)) => (StageOutcome::Permanent { error }, Vec::new(), None),
        }
    }

    /// Publishes every file of the stage, or none ([`ArtifactStore::put_all`]); a
    /// publish that fails fails the stage (transiently, unless an immutable name
    /// already holds different bytes, which no retry can change).
    async fn publish_whole(&self, stage: &ClaimedStage, artifacts: &[Artifact]) -> Option<StageOutcome> {
        let files: Vec<NewArtifact> = artifacts
            .iter()
            .map(|a| NewArtifact { name: &a.name, content_type: a.content_type, bytes: &a.bytes })
            .collect();
        let e = self.artifacts.put_all(&bundle_of(stage), &files).await.err()?;
        let error = format!("publishing artifacts: {e}");
        Some(match e {
            StoreError::ArtifactExists(_) => StageOutcome::Permanent { error },
            _ => StageOutcome::Transient { error, backoff_base_ms: self.config.backoff_base.as_millis() as i64 },
        })
    }

    /// The run's profile and earlier outputs: from memory when this worker ran the
    /// stage before, else read and parsed from the store.
    async fn inputs(&self, stage: &ClaimedStage) -> Result<StageInputs, StageError> {
        let cached = self.cache.lock().expect("run cache lock").take();
        if let Some(c) = cached.filter(|c| c.run_id == stage.run_id && c.next_position == stage.position) {
            return Ok(StageInputs { profile: c.profile, previous: c.previous });
        }
        let transient = |e: &dyn std::fmt::Display| StageError::Transient(e.to_string());
        let stored = self
            .store
            .profile(&stage.profile_id, Some(stage.profile_version))
            .await
            .map_err(|e| transient(&e))?
            .ok_or_else(|| StageError::Permanent("the run's profile version no longer exists".into()))?;
        let document: serde_json::Value = serde_json::from_str(&stored.document)
            .map_err(|e| StageError::Permanent(format!("stored profile: {e}")))?;
        let (profile, _) = Profile::from_value(document)
            .map_err(|e| StageError::Permanent(format!("stored profile no longer validates: {e}")))?;
        let mut previous = Vec::new();
        for (stage_name, output) in self.store.stage_outputs(&stage.run_id).await.map_err(|e| transient(&e))? {
            if let Some(n) = StageName::parse(&stage_name) {
                let value = serde_json::from_str(&output).map_err(|e| StageError::Permanent(e.to_string()))?;
                previous.push((n, value));
            }
        }
        Ok(StageInputs { profile: Arc::new(profile), previous })
    }

    async fn run_stage(&self, stage: &ClaimedStage) -> Result<(StageInputs, Value, Vec<Artifact>), StageError> {
        let transient = |e: &dyn std::fmt::Display| StageError::Transient(e.to_string());
        let name = StageName::parse(&stage.name)
            .ok_or_else(|| StageError::Permanent(format!("unknown stage '{}'", stage.name)))?;
        let inputs = self.inputs(stage).await?;
        let knowledge = self.knowledge.clone();
        let service_id = stage.service_id.clone();
        let service_name = stage.service_name.clone();
        let (inputs, result) = if name == StageName::Advise {
            // The one stage that waits on the network (the model), so it runs here.
            let advisor = self.advisor.clone().ok_or_else(|| {
                StageError::Permanent("the advise stage needs a model (SECCFG_BEDROCK_MODEL_ID)".into())
            })?;
            let result = advisor.run(knowledge, (*inputs.profile).clone(), service_id, inputs.previous.clone()).await?;
            (inputs, result)
        } else {
            // Stages are CPU-bound and synchronous: keep them off the async reactor.
            let (inputs, result) = tokio::task::spawn_blocking(move || {
                let input = StageInput {
                    knowledge: &knowledge,
                    profile: &inputs.profile,
                    service_id: &service_id,
                    service_name: &service_name,
                    previous: &inputs.previous,
                };
                let result = pipeline::run_stage(name, &input);
                (inputs, result)
            })
            .await
            .map_err(|e| StageError::Permanent(format!("stage panicked: {e}")))?;
            (inputs, result?)
        };
        let mut artifacts = result.artifacts;
        if StageName::PIPELINE.last() == Some(&name) {
            // The run is about to become a succeeded bundle version: compare it with the previous one.
            let diff =
                crate::versions::diff_for_finishing_run(&*self.store, &*self.artifacts, &stage.run_id, &artifacts)
                    .await
                    .map_err(|e| transient(&e))?;
            artifacts.extend(diff);
        }
        // Kept in memory; published only on a lease-checked finish.
        Ok((inputs, result.output, artifacts))
    }
}

/// The run's bundle, where published artifacts live.
fn bundle_of(stage: &ClaimedStage) -> BundleRef {
    BundleRef {
        run_id: stage.run_id.clone(),
        profile_id: stage.profile_id.clone(),
        service_id: stage.service_id.clone(),
        bundle_version: stage.bundle_version,
    }
}

/// The metrics outcome label; mirrors the SQL in `finish_stage` (a transient
/// error is retried while `attempts < max_attempts`, else the run fails).
fn outcome_label(outcome: &StageOutcome, recorded: bool, stage: &ClaimedStage) -> &'static str {
    match outcome {
        _ if !recorded => "lease_lost",
        StageOutcome::Succeeded { .. } => "succeeded",
        StageOutcome::Transient { .. } if stage.attempt < stage.max_attempts => "retry",
        StageOutcome::Transient { .. } | StageOutcome::Permanent { .. } => "failed",
    }
}
