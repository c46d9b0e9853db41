//! Command-line interface. Every command goes through the same domain core as the API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, Subcommand};
use seccfg::app::{App, AppError, ProfileRef};
use seccfg::catalog::{Catalog, Resolution};
use seccfg::config::{ServeConfig, StoreConfig};
use seccfg::engine::{Worker, WorkerConfig};
use seccfg::input::InputError;
use seccfg::knowledge::Knowledge;
use seccfg::store::{self, BundleRef, RunRecord};

#[derive(Parser)]
#[command(name = "seccfg", version, about = "Security profile + AWS service request in, verified security bundle out.")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
// Parsed once at start-up: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Command {
    /// Serve the HTTP API and run stage workers.
    Serve(ServeConfig),
    /// Run the whole pipeline once, in-process, and write the bundles to a directory.
    Run {
        /// Security profile (JSON).
        #[arg(long)]
        profile: PathBuf,
        /// Service request (JSON); each service becomes its own run.
        #[arg(long)]
        request: PathBuf,
        /// Output directory: one subdirectory per service.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        store: StoreConfig,
    },
    /// Probe a running server's /healthz (or /readyz) on its bound port; exit 0 when it answers 200.
    /// Used by the container HEALTHCHECK and the ECS health check (the image has no curl).
    Healthcheck {
        /// The server's listen address (a wildcard address is probed on loopback).
        #[arg(long, env = "SECCFG_BIND", default_value = "127.0.0.1:8080")]
        bind: std::net::SocketAddr,
        /// Probe readiness (database and catalog) instead of liveness.
        #[arg(long)]
        ready: bool,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3)]
        timeout: u64,
    },
    /// Compare two bundle directories of one service (written by `run`): exit 0 when
    /// they are the same, 1 when they differ, 2 when they cannot be compared.
    Diff {
        /// The earlier bundle directory (e.g. out-v1/s3).
        before: PathBuf,
        /// The later bundle directory.
        after: PathBuf,
        /// Print the diff as JSON instead of Markdown.
        #[arg(long)]
        json: bool,
    },
    /// Check CloudFormation templates against a profile's approved controls (the CI
    /// gate): exit 0 when they pass, 1 on a failure, 2 on bad input.
    Check(crate::check_cmd::CheckArgs),
    /// Apply database migrations and exit.
    Migrate(StoreConfig),
    /// Manage API keys (stored as SHA-256 hashes; a key is printed once).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        #[command(flatten)]
        store: StoreConfig,
    },
    /// Inspect the knowledge catalog.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Create a key and print it once.
    Create {
        /// Who the key is for (recorded in the audit log as `key:<name>`).
        #[arg(long)]
        name: String,
        /// reader, submitter, approver or admin.
        #[arg(long)]
        role: String,
    },
    /// List keys (id, name, role, created, revoked) as JSON lines.
    List,
    /// Revoke a key by id; it stops working at once.
    Revoke { id: String },
}

#[derive(Subcommand)]
enum CatalogCommand {
    /// Print the canonical service id for a name; exit 1 with suggestions if it does not resolve.
    Resolve { name: String },
    /// Print a service's identity and fact counts as JSON.
    Show { service: String },
}

pub async fn execute(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(config) => {
            init_logging(true)?;
            let app = open(&config.store, false).await?;
            let served = seccfg::server::serve(app, config).await;
            seccfg::telemetry::trace::shutdown();
            served?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { profile, request, out, store } => {
            init_logging(false)?;
            run(&profile, &request, &out, &store).await
        }
        Command::Migrate(config) => {
            init_logging(false)?;
            connect(&config).await?.migrate().await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command, store } => {
            init_logging(false)?;
            keys(command, &store).await
        }
        Command::Catalog { command } => catalog(command),
        Command::Healthcheck { bind, ready, timeout } => {
            let path = if ready { "/readyz" } else { "/healthz" };
            let addr = seccfg::healthcheck::target(bind);
            match seccfg::healthcheck::probe(addr, path, Duration::from_secs(timeout)).await {
                Ok(200) => Ok(ExitCode::SUCCESS),
                Ok(code) => {
                    eprintln!("{addr}{path} answered {code}");
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => {
                    eprintln!("{addr}{path}: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Diff { before, after, json } => diff_dirs(&before, &after, json),
        Command::Check(args) => crate::check_cmd::run(args).await,
    }
}

async fn keys(command: KeysCommand, config: &StoreConfig) -> anyhow::Result<ExitCode> {
    let store = connect(config).await?;
    if config.migrate {
        store.migrate().await?;
    }
    match command {
        KeysCommand::Create { name, role } => {
            let Some(role) = seccfg::auth::Role::parse(&role) else {
                eprintln!("--role must be reader, submitter, approver or admin");
                return Ok(ExitCode::from(2));
            };
            if name.is_empty() || name.len() > 128 || name.chars().any(char::is_control) {
                eprintln!("--name must be 1-128 printable characters");
                return Ok(ExitCode::from(2));
            }
            let key = seccfg::auth::keys::generate();
            let record = seccfg::store::ApiKeyRecord {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                role: role.as_str().into(),
                key_hash: seccfg::auth::keys::hash(&key),
                created_at: store::now_ms(),
                revoked_at: None,
            };
            store.create_api_key(&record).await?;
            eprintln!("key {} created; it is shown only now:", record.id);
            println!("{key}");
        }
        KeysCommand::List => {
            for key in store.api_keys().await? {
                println!("{}", serde_json::to_string(&key)?);
            }
        }
        KeysCommand::Revoke { id } => {
            if !store.revoke_api_key(&id, store::now_ms()).await? {
                eprintln!("no active key with id {id}");
                return Ok(ExitCode::from(1));
            }
            eprintln!("key {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Human logs for the CLI; JSON logs for `serve`, plus OpenTelemetry traces when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set (see `telemetry::trace`).
fn init_logging(json: bool) -> anyhow::Result<()> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("SECCFG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if json { "info" } else { "warn" }));
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    if json {
        // SECCFG_LOG filters the logs only: request and stage spans (INFO) are traced
        // whatever the log level.
        let logs = fmt.json().flatten_event(true).with_current_span(true).with_filter(filter);
        let registry = tracing_subscriber::registry().with(logs);
        let otel =
            seccfg::telemetry::trace::layer()?.map(|l| l.with_filter(tracing_subscriber::filter::LevelFilter::INFO));
        registry.with(otel).init();
    } else {
        tracing_subscriber::registry().with(fmt.with_filter(filter)).init();
    }
    Ok(())
}

/// Opens the app; `bulk` schedules what it submits as bulk work (the one-shot CLI).
async fn open(config: &StoreConfig, bulk: bool) -> anyhow::Result<Arc<App>> {
    let knowledge = Arc::new(Knowledge::load_default()?);
    let store = connect(config).await?;
    if config.migrate {
        store.migrate().await?;
    }
    let artifacts = store::artifacts::open(config).await.map_err(|e| anyhow::anyhow!("SECCFG_ARTIFACT_URL: {e}"))?;
    let mut app = App::new(store, artifacts, knowledge);
    if bulk {
        app = app.submitting_bulk();
    }
    if let Some(url) = &config.library_url {
        let table = seccfg::library::DynamoLibrary::table_from_url(url)
            .map_err(|e| anyhow::anyhow!("SECCFG_LIBRARY_URL: {e}"))?;
        let sdk = seccfg::aws::sdk_config(&config.aws).await;
        let client = aws_sdk_dynamodb::Client::new(&sdk);
        app = app.with_library(Arc::new(seccfg::library::DynamoLibrary::new(client, table)));
    }
    let advisor = seccfg::advisor::Advisor::from_settings(&config.advisor, &config.aws, app.store.clone()).await;
    Ok(Arc::new(app.with_advisor(advisor.map(Arc::new))))
}

/// The configured store, logging in with RDS IAM tokens when asked.
async fn connect(config: &StoreConfig) -> anyhow::Result<Arc<dyn store::Store>> {
    let iam = if config.database_iam_auth {
        let sdk = seccfg::aws::sdk_config(&config.aws).await;
        let credentials =
            sdk.credentials_provider().context("SECCFG_DATABASE_IAM_AUTH: no AWS credentials provider")?;
        let region = sdk.region().map(ToString::to_string).unwrap_or_default();
        Some(store::rds_iam::IamLogin { region, credentials })
    } else {
        None
    };
    store::connect_with(&config.database_url, iam)
        .await
        .with_context(|| format!("cannot open database {}", redact(&config.database_url)))
}

/// Hides the password in a database URL before it is printed.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

fn read_json(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Prints an input error naming each field, the way the API's problem document does.
fn report_input_error(file: &Path, e: &AppError) {
    eprintln!("error: {} was rejected: {e}", file.display());
    match e {
        AppError::Input(InputError::Fields(fields)) => {
            for f in fields {
                eprintln!("  {}: {}", if f.pointer.is_empty() { "/" } else { &f.pointer }, f.detail);
            }
        }
        AppError::UnresolvedServices(services) => {
            for s in services {
                let alternatives: Vec<&str> = if s.ambiguous.is_empty() {
                    s.suggestions.iter().map(|x| x.id.as_str()).collect()
                } else {
                    s.ambiguous.iter().map(String::as_str).collect()
                };
                eprintln!("  {}: '{}' does not resolve; did you mean: {}", s.pointer, s.name, alternatives.join(", "));
            }
        }
        _ => {}
    }
}

async fn run(profile: &Path, request: &Path, out: &Path, config: &StoreConfig) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let app = open(config, true).await?;
    let profile_doc = match seccfg::input::parse_json(&read_json(profile)?) {
        Ok(v) => v,
        Err(e) => {
            report_input_error(profile, &e.into());
            return Ok(ExitCode::from(2));
        }
    };
    let request_doc = match seccfg::input::parse_json(&read_json(request)?) {
        Ok(v) => v,
        Err(e) => {
            report_input_error(request, &e.into());
            return Ok(ExitCode::from(2));
        }
    };
    if let Err(e) = app.submit_profile(profile_doc.clone()).await {
        report_input_error(profile, &e);
        return Ok(ExitCode::from(2));
    }
    let accepted = match app.submit_request(&request_doc, ProfileRef::Embedded(profile_doc)).await {
        Ok(a) => a,
        Err(e) => {
            report_input_error(request, &e);
            return Ok(ExitCode::from(2));
        }
    };
    for w in &accepted.warnings {
        eprintln!("warning: {}: {}", w.pointer, w.detail);
    }
    println!(
        "request {} · profile {} v{} · catalog {} · {} run(s)",
        accepted.request_id,
        accepted.profile_id,
        accepted.profile_version,
        app.catalog.version(),
        accepted.runs.len()
    );
    let run_ids: Vec<String> = accepted.runs.iter().map(|r| r.run_id.clone()).collect();
    let runs = drive(&app, &run_ids).await?;
    write_bundles(&app, &runs, out).await?;
    for run in &runs {
        println!("{}", summary_line(&app, run).await?);
    }
    let failed = runs.iter().filter(|r| r.status != "succeeded").count();
    println!(
        "{} of {} run(s) succeeded in {:.0} ms; bundles in {}",
        runs.len() - failed,
        runs.len(),
        started.elapsed().as_secs_f64() * 1000.0,
        out.display()
    );
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// One line per run: bundle version, controls, service-profile answers, and the diff against the previous version.
async fn summary_line(app: &App, run: &RunRecord) -> anyhow::Result<String> {
    use seccfg::pipeline::contracts::{Analyzed, ProfileOutput, parse};
    let outputs = app.store.stage_outputs(&run.id).await?;
    let output = |stage: &str| outputs.iter().find(|(s, _)| s == stage).and_then(|(_, o)| serde_json::from_str(o).ok());
    let mut line = format!("  {:<22} v{:<3} {:<9}", run.service_id, run.bundle_version, run.status);
    if let Some(plan) = output("analyze").and_then(|v: serde_json::Value| parse::<Analyzed>(&v).ok()).map(|a| a.plan) {
        let critical = plan.selected.iter().filter(|c| c.priority == seccfg::knowledge::Priority::Critical).count();
        let source = if plan.derived() { "derived" } else { "reviewed" };
        line.push_str(&format!(" controls {} ({critical} critical, {source})", plan.selected.len()));
    }
    if let Some(p) = output("profile").and_then(|v: serde_json::Value| parse::<ProfileOutput>(&v).ok()) {
        line.push_str(&format!(" · profile {} answered, {} to check", p.answered, p.not_established));
    }
    if let Some((_, bytes)) = app.artifact(&run.id, "diff.json").await? {
        let d: serde_json::Value = serde_json::from_slice(&bytes)?;
        let n = |k: &str| d[k].as_array().map_or(0, Vec::len);
        let controls = ["added", "removed", "changed"]
            .iter()
            .map(|k| d["controls"][k].as_array().map_or(0, Vec::len))
            .sum::<usize>();
        line.push_str(&format!(
            " · diff vs v{}: {} profile field(s), {controls} control(s), {} template file(s), {} persona(s), {} SCP statement(s)",
            d["from"]["bundle_version"],
            n("profile"),
            n("templates"),
            n("iam"),
            n("scp_statements")
        ));
    } else if run.bundle_version > 1 && run.status == "succeeded" {
        line.push_str(" · no earlier succeeded version to diff");
    }
    Ok(line)
}

/// Runs an in-process worker until every run has finished, printing each stage as it ends.
async fn drive(app: &Arc<App>, run_ids: &[String]) -> anyhow::Result<Vec<RunRecord>> {
    let worker = Worker::new(
        format!("cli-{}", std::process::id()),
        app.store.clone(),
        app.artifacts.clone(),
        app.knowledge.clone(),
        WorkerConfig { backoff_base: Duration::from_millis(200), ..WorkerConfig::default() },
    )
    .with_advisor(app.advisor.clone());
    let mut reported = std::collections::HashSet::new();
    loop {
        let worked = worker.step().await?;
        let mut runs = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            runs.push(app.store.run(id).await?.context("run vanished")?);
        }
        for run in &runs {
            for stage in &run.stages {
                if matches!(stage.status.as_str(), "succeeded" | "failed")
                    && reported.insert((run.id.clone(), stage.position))
                {
                    let ms = match (stage.started_at, stage.finished_at) {
                        (Some(a), Some(b)) => format!("{} ms", b - a),
                        _ => String::new(),
                    };
                    let error = stage.error.as_deref().map(|e| format!(" — {e}")).unwrap_or_default();
                    println!("  {:<22} {:<9} {:<10} {ms}{error}", run.service_id, stage.name, stage.status);
                }
            }
        }
        if runs.iter().all(|r| matches!(r.status.as_str(), "succeeded" | "failed")) {
            return Ok(runs);
        }
        if !worked {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn write_bundles(app: &App, runs: &[RunRecord], out: &Path) -> anyhow::Result<()> {
    for run in runs {
        let dir = out.join(&run.service_id);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let bundle = BundleRef::from(run);
        for info in app.artifacts.list(&bundle).await? {
            if let Some((_, body)) = app.artifacts.get(&bundle, &info.name).await? {
                std::fs::write(dir.join(&info.name), store::read_body(body).await?)?;
            }
        }
        // The profile the bundle was built from, so `seccfg diff` can name the fields that changed.
        if let Some(p) = app.store.profile(&run.profile_id, Some(run.profile_version)).await? {
            let doc: serde_json::Value = serde_json::from_str(&p.document)?;
            std::fs::write(dir.join("profile.json"), serde_json::to_vec_pretty(&doc)?)?;
        }
        let mut summary = serde_json::to_vec_pretty(run)?;
        summary.push(b'\n');
        std::fs::write(dir.join("run.json"), summary)?;
    }
    Ok(())
}

fn diff_dirs(before: &Path, after: &Path, json: bool) -> anyhow::Result<ExitCode> {
    use seccfg::diff::{self, Side, load};
    let side = |p: &Path| Side { label: p.display().to_string(), ..Side::default() };
    let a = load::from_dir(before).with_context(|| format!("cannot read {}", before.display()))?;
    let b = load::from_dir(after).with_context(|| format!("cannot read {}", after.display()))?;
    match diff::diff(&a, &b, side(before), side(after)) {
        Ok(d) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else {
                print!("{}", d.markdown());
            }
            Ok(if d.differs { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

fn catalog(command: CatalogCommand) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::load_default()?;
    match command {
        CatalogCommand::Resolve { name } => match catalog.resolve(&name) {
            Resolution::Resolved(id) => {
                println!("{id}");
                Ok(ExitCode::SUCCESS)
            }
            Resolution::Ambiguous(ids) => {
                eprintln!("'{name}' names several services: {}", ids.join(", "));
                Ok(ExitCode::FAILURE)
            }
            Resolution::Unknown(suggestions) => {
                let ids: Vec<&str> = suggestions.iter().map(|s| s.id.as_str()).collect();
                eprintln!("'{name}' is not a known AWS service; did you mean: {}", ids.join(", "));
                Ok(ExitCode::FAILURE)
            }
        },
        CatalogCommand::Show { service } => {
            let id = match catalog.resolve(&service) {
                Resolution::Resolved(id) => id,
                _ => {
                    eprintln!("'{service}' does not resolve; try `seccfg catalog resolve`");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let identity = catalog.service(&id).context("resolved service missing")?;
            let iam = catalog.iam(&identity.iam_prefix);
            let config_rules: BTreeMap<&str, &Vec<String>> = catalog
                .config_rules_for_service(identity)
                .into_iter()
                .map(|r| (r.id.as_str(), &r.resource_types))
                .collect();
            let controls: Vec<serde_json::Value> = catalog
                .security_hub_controls_for_service(identity)
                .into_iter()
                .map(|c| serde_json::json!({ "id": c.id, "severity": c.severity, "prowler_checks": c.prowler_checks }))
                .collect();
            let doc = serde_json::json!({
                "catalog_version": catalog.version(),
                "service": identity,
                "actions": iam.map(|s| s.actions.len()),
                "resource_types": iam.map(|s| s.resource_types.keys().collect::<Vec<_>>()),
                "config_rules": config_rules,
                "security_hub_controls": controls,
                "terraform_provider_version": catalog.terraform_provider_version(),
                "terraform_resources": catalog.terraform_resources_of(identity).collect::<Vec<_>>(),
            });
            println!("{}", serde_json::to_string_pretty(&doc)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}
