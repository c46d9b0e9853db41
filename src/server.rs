//! `seccfg serve`: the API plus stage workers, with graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use crate::app::App;
use crate::auth::Authenticator;
use crate::auth::oidc::OidcVerifier;
use crate::config::ServeConfig;
use crate::engine::{Worker, WorkerConfig};
use crate::http::{HttpConfig, router_with_auth};
use crate::intake::S3Intake;

pub async fn serve(app: Arc<App>, config: ServeConfig) -> anyhow::Result<()> {
    // A long-running server parses the whole catalog before it takes any work.
    app.catalog.parse_all()?;
    let authenticator = authenticator(&app, &config).await?;
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let worker_config = WorkerConfig {
        lease: Duration::from_secs(config.lease_seconds),
        stage_delay: Duration::from_millis(config.fault_stage_delay_ms),
        ..WorkerConfig::default()
    };
    crate::telemetry::metrics::workers(config.workers);
    let host = hostname();
    let workers: Vec<_> = (0..config.workers)
        .map(|i| {
            let id = format!("{host}-{}-{i}-{}", std::process::id(), &uuid::Uuid::new_v4().to_string()[..8]);
            let worker =
                Worker::new(id, app.store.clone(), app.artifacts.clone(), app.knowledge.clone(), worker_config.clone())
                    .with_advisor(app.advisor.clone());
            tokio::spawn(worker.run(shutdown_rx.clone()))
        })
        .collect();

    let http = HttpConfig {
        body_limit: config.body_limit,
        request_timeout: Duration::from_secs(config.request_timeout_seconds),
    };
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    info!(addr = %listener.local_addr()?, workers = config.workers, catalog = app.catalog.version(), "listening");
    let limits = ConnectionLimits {
        header_read: Duration::from_secs(config.header_read_timeout_seconds),
        shutdown_grace: Duration::from_secs(config.shutdown_grace_seconds),
    };
    let mut routes = router_with_auth(app, &http, authenticator);
    if let Some(intake) = intake(&config).await {
        routes = routes.layer(axum::Extension(intake));
    }
    serve_http(listener, routes, &limits, signal(shutdown_tx)).await;
    // Workers finish their current stage and release leases; bounded like the connections.
    let drain = async {
        for w in workers {
            let _ = w.await;
        }
    };
    if tokio::time::timeout(limits.shutdown_grace, drain).await.is_err() {
        warn!("workers still busy after the shutdown grace period; their leases will expire");
    }
    info!("stopped");
    Ok(())
}

/// Authentication is off only when asked for, or by default on loopback (the
/// embedded single-machine set-up); any other address needs `SECCFG_AUTH`.
async fn authenticator(app: &App, config: &ServeConfig) -> anyhow::Result<Authenticator> {
    let oidc = oidc_verifier(config).await?;
    match (config.auth.as_deref(), oidc) {
        (Some("none"), Some(_)) => anyhow::bail!("SECCFG_AUTH=none contradicts SECCFG_OIDC_ISSUER: unset one of them"),
        (_, Some(verifier)) => Ok(Authenticator::required(app.store.clone())
            .with_oidc(verifier)
            .with_rate_limit(config.rate_limit_per_second)),
        _ => keys_only(app, config),
    }
}

fn keys_only(app: &App, config: &ServeConfig) -> anyhow::Result<Authenticator> {
    match config.auth.as_deref() {
        Some("required") => {
            Ok(Authenticator::required(app.store.clone()).with_rate_limit(config.rate_limit_per_second))
        }
        Some(_) => Ok(Authenticator::none()),
        None if config.bind.ip().is_loopback() => Ok(Authenticator::none()),
        None => anyhow::bail!(
            "refusing to listen on {} without authentication: set SECCFG_AUTH=required (API keys from \
             `seccfg keys create`) or SECCFG_AUTH=none to run open on purpose",
            config.bind
        ),
    }
}

/// The OIDC verifier when an issuer is configured; a JWKS file must be readable at
/// start-up, a JWKS URL that cannot be reached yet is retried on the first token.
async fn oidc_verifier(config: &ServeConfig) -> anyhow::Result<Option<Arc<OidcVerifier>>> {
    use crate::auth::Role;
    use crate::auth::oidc::{JwksSource, OidcConfig};
    let Some(issuer) = config.oidc_issuer.clone() else { return Ok(None) };
    let audience = config.oidc_audience.clone().ok_or_else(|| anyhow::anyhow!("SECCFG_OIDC_AUDIENCE is required"))?;
    let jwks = match (&config.oidc_jwks_url, &config.oidc_jwks_file) {
        (Some(url), _) => JwksSource::Url(url.clone()),
        (None, Some(file)) => JwksSource::File(file.clone()),
        (None, None) => anyhow::bail!("set SECCFG_OIDC_JWKS_URL or SECCFG_OIDC_JWKS_FILE with SECCFG_OIDC_ISSUER"),
    };
    let mut role_map = std::collections::BTreeMap::new();
    for entry in config.oidc_role_map.iter().filter(|e| !e.trim().is_empty()) {
        let (value, role) = entry
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("SECCFG_OIDC_ROLE_MAP entry '{entry}' is not value=role"))?;
        let role =
            Role::parse(role.trim()).ok_or_else(|| anyhow::anyhow!("SECCFG_OIDC_ROLE_MAP: '{role}' is not a role"))?;
        role_map.insert(value.trim().to_string(), role);
    }
    let file_source = matches!(jwks, JwksSource::File(_));
    let verifier = OidcVerifier::new(OidcConfig {
        issuer,
        audience,
        jwks,
        role_claim: config.oidc_role_claim.clone(),
        role_map,
        leeway: Duration::from_secs(config.oidc_leeway_seconds),
        refresh_interval: Duration::from_secs(config.oidc_jwks_refresh_seconds),
    })?;
    match verifier.load().await {
        Ok(()) => {}
        Err(e) if file_source => return Err(e.into()),
        Err(e) => warn!(error = %e, "JWKS not loaded at start-up; it is fetched with the first token"),
    }
    Ok(Some(Arc::new(verifier)))
}

struct ConnectionLimits {
    /// A connection must send a complete request head within this time.
    header_read: Duration,
    /// After SIGTERM, open connections get this long before they are dropped.
    shutdown_grace: Duration,
}

/// Accepts connections until `shutdown` completes, then drains them for at most
/// the grace period. Unlike `axum::serve`, half-sent request heads time out, so
/// slow clients can neither hold connections open nor block shutdown.
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: &ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .max_headers(2 * crate::http::contract::MAX_HEADERS);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(limits.header_read));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Out of descriptors and the like: back off instead of spinning.
                        warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = TowerToHyperService::new(app.clone());
                let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
        warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Waits for SIGTERM or Ctrl-C, then tells the workers to finish and release leases.
async fn signal(shutdown: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    info!("shutdown requested");
    let _ = shutdown.send(true);
}

/// The S3 intake when buckets are configured.
async fn intake(config: &ServeConfig) -> Option<Arc<S3Intake>> {
    let buckets: Vec<String> = config.intake_buckets.iter().filter(|b| !b.is_empty()).cloned().collect();
    if buckets.is_empty() {
        return None;
    }
    let sdk = crate::aws::sdk_config(&config.store.aws).await;
    let client = crate::aws::s3_client(&sdk, &config.store.aws);
    info!(buckets = ?buckets, "S3 intake enabled");
    Some(Arc::new(S3Intake::new(client, buckets, config.intake_max_bytes)))
}

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "seccfg".into())
}
