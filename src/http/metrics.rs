//! `GET /metrics` (Prometheus text format) and the middleware that counts and
//! times every HTTP request by its route template.
//!
//! Job-table gauges are refreshed from the store at scrape time, at most once a
//! second and with a short timeout: a slow or broken database leaves the last
//! values in place and sets `seccfg_store_up` to 0 — a scrape never fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::store::now_ms;
use crate::telemetry::metrics;

const REFRESH_EVERY_MS: i64 = 1000;
const STORE_TIMEOUT: Duration = Duration::from_secs(2);

/// Prometheus metrics: HTTP, runs, stages, queue, leases, advisor, build and catalog info.
#[utoipa::path(get, path = "/metrics", tag = "health", operation_id = "getMetrics",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", content_type = "text/plain", body = String)))]
pub async fn scrape(State(app): State<Arc<App>>) -> Response {
    refresh(&app).await;
    let body = metrics::handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

async fn refresh(app: &App) {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = now_ms();
    let last = LAST.load(Ordering::Relaxed);
    if now - last < REFRESH_EVERY_MS || LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
    {
        return;
    }
    match tokio::time::timeout(STORE_TIMEOUT, app.store.queue_snapshot(now)).await {
        Ok(Ok(snapshot)) => {
            metrics::queue(&snapshot);
            metrics::store_up(true);
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "metrics: job-table query failed");
            metrics::store_up(false);
        }
        Err(_) => {
            tracing::warn!("metrics: job-table query timed out");
            metrics::store_up(false);
        }
    }
}

/// Counts and times the request under its route template (never the raw path).
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = metrics::method_label(request.method());
    let response = next.run(request).await;
    let route = route.as_deref().unwrap_or("unmatched");
    metrics::http_request(route, method, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}
