//! `seccfg serve`: the API plus stage workers, with graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::app::App;
use crate::config::ServeConfig;
use crate::engine::{Worker, WorkerConfig};
use crate::http::{HttpConfig, router};
use crate::intake::S3Intake;

pub async fn serve(app: Arc<App>, config: ServeConfig) -> anyhow::Result<()> {
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let worker_config = WorkerConfig {
        lease: Duration::from_secs(config.lease_seconds),
        stage_delay: Duration::from_millis(config.fault_stage_delay_ms),
        ..WorkerConfig::default()
    };
    let host = hostname();
    let workers: Vec<_> = (0..config.workers)
        .map(|i| {
            let id = format!("{host}-{}-{i}-{}", std::process::id(), &uuid::Uuid::new_v4().to_string()[..8]);
            let worker =
                Worker::new(id, app.store.clone(), app.artifacts.clone(), app.catalog.clone(), worker_config.clone());
            tokio::spawn(worker.run(shutdown_rx.clone()))
        })
        .collect();

    let http = HttpConfig {
        body_limit: config.body_limit,
        request_timeout: Duration::from_secs(config.request_timeout_seconds),
    };
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    info!(addr = %listener.local_addr()?, workers = config.workers, catalog = app.catalog.version(), "listening");
    let mut routes = router(app, &http);
    if let Some(intake) = intake(&config).await {
        routes = routes.layer(axum::Extension(intake));
    }
    axum::serve(listener, routes).with_graceful_shutdown(signal(shutdown_tx)).await?;
    for w in workers {
        let _ = w.await;
    }
    info!("stopped");
    Ok(())
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
