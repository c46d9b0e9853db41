//! `seccfg serve`: the API plus stage workers, with graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::app::App;
use crate::config::ServeConfig;
use crate::engine::{Worker, WorkerConfig};
use crate::http::{HttpConfig, router};

pub async fn serve(app: Arc<App>, config: ServeConfig) -> anyhow::Result<()> {
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
                Worker::new(id, app.store.clone(), app.artifacts.clone(), app.knowledge.clone(), worker_config.clone());
            tokio::spawn(worker.run(shutdown_rx.clone()))
        })
        .collect();

    let http = HttpConfig {
        body_limit: config.body_limit,
        request_timeout: Duration::from_secs(config.request_timeout_seconds),
    };
    let listener = tokio::net::TcpListener::bind(config.bind).await?;
    info!(addr = %listener.local_addr()?, workers = config.workers, catalog = app.catalog.version(), "listening");
    axum::serve(listener, router(app, &http)).with_graceful_shutdown(signal(shutdown_tx)).await?;
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

fn hostname() -> String {
    std::env::var("HOSTNAME").unwrap_or_else(|_| "seccfg".into())
}
