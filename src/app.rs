//! The domain core shared by the HTTP API and the CLI: accept inputs, resolve
//! services, commit runs. Nothing here knows about HTTP.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::catalog::{Catalog, Resolution, Suggestion};
use crate::input::{FieldError, InputError, Profile, ServiceRequest, Warning};
use crate::knowledge::Knowledge;
use crate::library::{Library, LibraryError};
use crate::pipeline::StageName;
use crate::store::{
    ArtifactInfo, ArtifactStore, BundleRef, NewRequest, Priority, RunRecord, Store, StoreError, StoredProfile, now_ms,
    read_body,
};

/// Transient failures get this many attempts per stage before the run fails.
pub const MAX_ATTEMPTS: i64 = 5;
/// A request for more services than this is bulk work (see [`Priority`]).
pub const BULK_SERVICES: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("service names do not resolve")]
    UnresolvedServices(Vec<UnresolvedService>),
    #[error("profile '{0}' not found")]
    ProfileNotFound(String),
    #[error("profile '{0}' has no version {1}")]
    ProfileVersionNotFound(String, i64),
    #[error("{0}")]
    Forbidden(String),
    #[error("run '{0}' not found")]
    RunNotFound(String),
    #[error("run '{0}' is not failed, so it cannot be retried")]
    RunNotRetryable(String),
    #[error("run '{0}' is {1}; only a succeeded run can be decided")]
    RunNotSucceeded(String, String),
    #[error("run '{0}' has already been decided; a run is decided once")]
    AlreadyDecided(String),
    #[error("run '{0}' has no earlier succeeded version to compare with")]
    NoPreviousVersion(String),
    #[error("runs of different services cannot be compared ('{0}' and '{1}')")]
    DifferentServices(String, String),
    #[error("run '{0}' has no usable artifact '{1}'")]
    BundleIncomplete(String, String),
    #[error(transparent)]
    Library(crate::library::LibraryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LibraryError> for AppError {
    fn from(e: LibraryError) -> Self {
        match e {
            LibraryError::AlreadyDecided(run) => AppError::AlreadyDecided(run),
            other => AppError::Library(other),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UnresolvedService {
    pub pointer: String,
    pub name: String,
    /// Several services share the name; one must be named explicitly.
    pub ambiguous: Vec<String>,
    pub suggestions: Vec<Suggestion>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AcceptedRun {
    pub run_id: String,
    pub service_id: String,
    pub service_name: String,
}

/// A request accepted for processing: one queued run per service.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AcceptedRequest {
    pub id: String,
    pub request_id: String,
    pub profile_id: String,
    pub profile_version: i64,
    pub runs: Vec<AcceptedRun>,
    pub warnings: Vec<Warning>,
}

/// The advisor's part of a run: which model, whether it was asked (services with
/// reviewed controls are not), whether the answer came from the cache, and the
/// tokens this run paid for (0 on a cache hit).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunAdvisor {
    pub model_id: String,
    pub asked: bool,
    pub cache_hit: bool,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub total_tokens: i64,
}

/// Where a request's profile comes from.
pub enum ProfileRef {
    Stored { profile_id: String, version: Option<i64> },
    Embedded(Value),
}

pub struct App {
    pub store: Arc<dyn Store>,
    pub artifacts: Arc<dyn ArtifactStore>,
    /// The catalog part of `knowledge` (name resolution, catalog endpoints).
    pub catalog: Arc<Catalog>,
    pub knowledge: Arc<Knowledge>,
    /// Approved bundles and decisions; the relational store's own library unless replaced.
    pub library: Arc<dyn Library>,
    /// The model behind the `advise` stage; new runs include that stage when set.
    pub advisor: Option<Arc<crate::advisor::Advisor>>,
    /// Every request this app submits is bulk work (the one-shot CLI).
    pub bulk: bool,
}

impl App {
    pub fn new(store: Arc<dyn Store>, artifacts: Arc<dyn ArtifactStore>, knowledge: Arc<Knowledge>) -> App {
        let library = store.library();
        App { store, artifacts, catalog: knowledge.catalog().clone(), knowledge, library, advisor: None, bulk: false }
    }

    /// Keeps the control library elsewhere (for example DynamoDB).
    /// Turns the advisor on: new runs include the `advise` stage.
    pub fn with_advisor(mut self, advisor: Option<Arc<crate::advisor::Advisor>>) -> App {
        self.advisor = advisor;
        self
    }

    /// Schedules every request this app submits as bulk work (see [`Priority`]).
    pub fn submitting_bulk(mut self) -> App {
        self.bulk = true;
        self
    }

    pub fn with_library(mut self, library: Arc<dyn Library>) -> App {
        self.library = library;
        self
    }

    /// Validates and stores a profile; the same content twice gives the same version.
    pub async fn submit_profile(&self, document: Value) -> Result<(StoredProfile, bool, Vec<Warning>), AppError> {
        self.submit_profile_as(document, &Principal::anonymous()).await
    }

    /// [`submit_profile`](Self::submit_profile) on behalf of `principal`: the first
    /// writer of a profile id owns it; later versions need the owner or an admin.
    pub async fn submit_profile_as(
        &self,
        document: Value,
        principal: &Principal,
    ) -> Result<(StoredProfile, bool, Vec<Warning>), AppError> {
        let (profile, warnings) = Profile::from_value(document)?;
        self.check_profile_owner(&profile.profile_id, principal).await?;
        let (stored, created) = self
            .store
            .save_profile(&profile.profile_id, &profile.content_hash(), &profile.document.to_string(), now_ms())
            .await?;
        Ok((stored, created, warnings))
    }

    pub async fn profile(&self, profile_id: &str, version: Option<i64>) -> Result<StoredProfile, AppError> {
        if !is_lookup_key(profile_id) {
            return Err(AppError::ProfileNotFound(profile_id.escape_default().to_string()));
        }
        match self.store.profile(profile_id, version).await? {
            Some(p) => Ok(p),
            None => Err(match version {
                Some(v) if self.store.profile(profile_id, None).await?.is_some() => {
                    AppError::ProfileVersionNotFound(profile_id.into(), v)
                }
                _ => AppError::ProfileNotFound(profile_id.into()),
            }),
        }
    }

    /// Validates a service request, resolves every service, and commits one run
    /// per service before returning: an acknowledged request is never lost.
    pub async fn submit_request(&self, request: &Value, profile: ProfileRef) -> Result<AcceptedRequest, AppError> {
        self.submit_request_as(request, profile, &Principal::anonymous()).await
    }

    /// Refuses a non-admin who does not own an existing profile id (the
    /// profile-replacement attack: a weakened copy under someone else's id).
    async fn check_profile_owner(&self, profile_id: &str, principal: &Principal) -> Result<(), AppError> {
        let now = now_ms();
        let owner = match self.store.profile_owner(profile_id).await? {
            Some(owner) => owner,
            // Profiles stored before ownership existed belong to admins only.
            None if self.store.profile(profile_id, None).await?.is_some() => "admin".to_string(),
            None => self.store.claim_profile_owner(profile_id, &principal.name, now).await?,
        };
        if owner == principal.name || principal.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden(format!(
                "profile '{profile_id}' belongs to another principal; only its owner or an admin may add versions"
            )))
        }
    }

    pub async fn submit_request_as(
        &self,
        request: &Value,
        profile: ProfileRef,
        principal: &Principal,
    ) -> Result<AcceptedRequest, AppError> {
        self.submit_request_with_id(uuid::Uuid::new_v4().to_string(), request, profile, principal).await
    }

    /// Submits a request under an id derived from where it came from, once: a second
    /// submission with the same id returns the first one's runs (`false`) and creates
    /// nothing. The request is still validated first, exactly like a new one.
    pub async fn submit_request_once(
        &self,
        id: &str,
        request: &Value,
        profile: ProfileRef,
        principal: &Principal,
    ) -> Result<(AcceptedRequest, bool), AppError> {
        let (parsed, _) = ServiceRequest::from_value(request)?;
        self.resolve_services(&parsed)?;
        if let Some(existing) = self.existing_request(id, &parsed.request_id).await? {
            return Ok((existing, false));
        }
        match self.submit_request_with_id(id.to_string(), request, profile, principal).await {
            Ok(accepted) => Ok((accepted, true)),
            // A concurrent delivery committed it first.
            Err(AppError::Store(e)) if e.is_unique_violation() => {
                match self.existing_request(id, &parsed.request_id).await? {
                    Some(existing) => Ok((existing, false)),
                    None => Err(AppError::Store(e)),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn existing_request(&self, id: &str, request_id: &str) -> Result<Option<AcceptedRequest>, AppError> {
        let runs = self.store.request_runs(id).await?;
        let Some(first) = runs.first() else { return Ok(None) };
        Ok(Some(AcceptedRequest {
            id: id.to_string(),
            request_id: request_id.to_string(),
            profile_id: first.profile_id.clone(),
            profile_version: first.profile_version,
            runs: runs
                .iter()
                .map(|r| AcceptedRun {
                    run_id: r.id.clone(),
                    service_id: r.service_id.clone(),
                    service_name: r.service_name.clone(),
                })
                .collect(),
            warnings: Vec::new(),
        }))
    }

    async fn submit_request_with_id(
        &self,
        id: String,
        request: &Value,
        profile: ProfileRef,
        principal: &Principal,
    ) -> Result<AcceptedRequest, AppError> {
        let (parsed, mut warnings) = ServiceRequest::from_value(request)?;
        let services = self.resolve_services(&parsed)?;
        let stored = match profile {
            ProfileRef::Stored { profile_id, version } => self.profile(&profile_id, version).await?,
            ProfileRef::Embedded(doc) => {
                let (stored, _, profile_warnings) =
                    self.submit_profile_as(doc, principal).await.map_err(prefix_pointers("/profile"))?;
                warnings.extend(
                    profile_warnings.into_iter().map(|w| Warning { pointer: format!("/profile{}", w.pointer), ..w }),
                );
                stored
            }
        };
        let runs: Vec<AcceptedRun> = services
            .into_iter()
            .map(|(service_id, service_name)| AcceptedRun {
                run_id: uuid::Uuid::new_v4().to_string(),
                service_id,
                service_name,
            })
            .collect();
        let new = NewRequest {
            id,
            request_id: parsed.request_id.clone(),
            document: request.to_string(),
            profile_id: stored.profile_id.clone(),
            profile_version: stored.version,
            runs: runs.iter().map(|r| (r.service_id.clone(), r.service_name.clone(), r.run_id.clone())).collect(),
            stages: StageName::stages(self.advisor.is_some()).into_iter().map(|s| s.as_str()).collect(),
            max_attempts: MAX_ATTEMPTS,
            traceparent: crate::telemetry::trace::current_traceparent(),
            priority: if self.bulk || runs.len() > BULK_SERVICES { Priority::Bulk } else { Priority::Interactive },
        };
        self.store.create_request(&new, now_ms()).await?;
        Ok(AcceptedRequest {
            id: new.id,
            request_id: parsed.request_id,
            profile_id: stored.profile_id,
            profile_version: stored.version,
            runs,
            warnings,
        })
    }

    /// All names must resolve; one unresolved name rejects the whole request.
    fn resolve_services(&self, request: &ServiceRequest) -> Result<Vec<(String, String)>, AppError> {
        let mut resolved = Vec::new();
        let mut failed = Vec::new();
        for (i, item) in request.services.iter().enumerate() {
            let pointer = format!("/services/{i}/serviceName");
            match self.catalog.resolve(&item.service_name) {
                Resolution::Resolved(id) => resolved.push((id, item.service_name.clone())),
                Resolution::Ambiguous(ids) => failed.push(UnresolvedService {
                    pointer,
                    name: item.service_name.clone(),
                    ambiguous: ids,
                    suggestions: Vec::new(),
                }),
                Resolution::Unknown(suggestions) => failed.push(UnresolvedService {
                    pointer,
                    name: item.service_name.clone(),
                    ambiguous: Vec::new(),
                    suggestions,
                }),
            }
        }
        if failed.is_empty() { Ok(resolved) } else { Err(AppError::UnresolvedServices(failed)) }
    }

    /// One artifact of a run, read whole (the HTTP API streams instead).
    pub async fn artifact(&self, run_id: &str, name: &str) -> Result<Option<(ArtifactInfo, Vec<u8>)>, AppError> {
        let run = self.store.run(run_id).await?.ok_or_else(|| AppError::RunNotFound(run_id.into()))?;
        match self.artifacts.get(&BundleRef::from(&run), name).await? {
            Some((info, body)) => Ok(Some((info, read_body(body).await?))),
            None => Ok(None),
        }
    }

    /// The advisor's part of a run (model, cache, tokens), once its `advise` stage
    /// has succeeded; `None` for runs without one.
    pub async fn run_advisor(&self, run: &RunRecord) -> Result<Option<RunAdvisor>, AppError> {
        if !run.stages.iter().any(|s| s.name == "advise" && s.status == "succeeded") {
            return Ok(None);
        }
        let outputs = self.store.stage_outputs(&run.id).await?;
        let Some((_, output)) = outputs.iter().find(|(name, _)| name == "advise") else { return Ok(None) };
        let advised: crate::pipeline::advise::Advised =
            serde_json::from_str(output).map_err(|e| StoreError::Corrupt(format!("advise output: {e}")))?;
        Ok(Some(RunAdvisor {
            model_id: advised.model_id,
            asked: advised.asked,
            cache_hit: advised.cache_hit,
            input_tokens: advised.usage.input_tokens,
            output_tokens: advised.usage.output_tokens,
            total_tokens: advised.usage.total_tokens,
        }))
    }

    /// Every artifact of a run.
    pub async fn artifact_list(&self, run_id: &str) -> Result<Vec<ArtifactInfo>, AppError> {
        let run = self.store.run(run_id).await?.ok_or_else(|| AppError::RunNotFound(run_id.into()))?;
        Ok(self.artifacts.list(&BundleRef::from(&run)).await?)
    }

    pub async fn retry_run(&self, id: &str) -> Result<(), AppError> {
        if !is_lookup_key(id) {
            return Err(AppError::RunNotFound(id.escape_default().to_string()));
        }
        if self.store.retry_run(id, now_ms()).await? {
            return Ok(());
        }
        match self.store.run(id).await? {
            Some(_) => Err(AppError::RunNotRetryable(id.into())),
            None => Err(AppError::RunNotFound(id.into())),
        }
    }
}

/// Whether `key` could name a stored row: ids never hold control characters
/// (PostgreSQL rejects NUL outright), so such a key is simply not found.
pub fn is_lookup_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 512 && !key.chars().any(char::is_control)
}

/// Re-roots field pointers of an embedded document under `prefix`.
fn prefix_pointers(prefix: &'static str) -> impl Fn(AppError) -> AppError {
    move |e| match e {
        AppError::Input(InputError::Fields(fields)) => AppError::Input(InputError::Fields(
            fields.into_iter().map(|f| FieldError { pointer: format!("{prefix}{}", f.pointer), ..f }).collect(),
        )),
        other => other,
    }
}

/// Takes the profile reference out of a request body (`profile_id` [+
/// `profile_version`] or an embedded `profile`), leaving the verbatim request.
pub fn take_profile_ref(body: &mut Value) -> Result<ProfileRef, AppError> {
    let field = |pointer: &str, detail: &str| {
        AppError::Input(InputError::Fields(vec![FieldError { pointer: pointer.into(), detail: detail.into() }]))
    };
    let Some(obj) = body.as_object_mut() else {
        return Err(field("", "must be an object"));
    };
    let id = obj.remove("profile_id");
    let version = obj.remove("profile_version");
    let embedded = obj.remove("profile");
    match (id, embedded) {
        (Some(_), Some(_)) => Err(field("/profile", "give either profile_id or profile, not both")),
        (None, Some(doc)) => Ok(ProfileRef::Embedded(doc)),
        (Some(Value::String(profile_id)), None) => {
            if profile_id.is_empty()
                || profile_id.len() > 128
                || !profile_id.chars().all(|ch| ch.is_ascii_alphanumeric() || "-_.".contains(ch))
            {
                return Err(field("/profile_id", "must be 1–128 letters, digits, '-', '_' or '.'"));
            }
            let version = match version {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_i64()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| field("/profile_version", "must be an integer ≥ 1"))?,
                ),
            };
            Ok(ProfileRef::Stored { profile_id, version })
        }
        (Some(_), None) => Err(field("/profile_id", "must be a string")),
        (None, None) => Err(field("/profile_id", "is required (or embed the profile as /profile)")),
    }
}
