//! Prometheus metrics through the `metrics` facade and its Prometheus exporter.
//!
//! Every metric name and label lives here so label cardinality stays bounded:
//! labels are route templates, methods, status codes, stage names, outcomes and
//! run statuses — never run ids, raw paths or user input. Other modules (the
//! worker, the HTTP layer, the advisor) call the functions below; the recorder
//! is process-global and installed once by [`handle`].

use std::sync::OnceLock;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::QueueSnapshot;

pub const HTTP_REQUESTS: &str = "seccfg_http_requests_total";
pub const HTTP_DURATION: &str = "seccfg_http_request_duration_seconds";
pub const RUNS: &str = "seccfg_runs";
pub const STAGE_DURATION: &str = "seccfg_stage_duration_seconds";
pub const STAGE_CLAIMS: &str = "seccfg_stage_claims_total";
pub const QUEUE_DEPTH: &str = "seccfg_queue_depth";
pub const QUEUE_OLDEST_AGE: &str = "seccfg_queue_oldest_age_seconds";
pub const STAGES_RUNNING: &str = "seccfg_stages_running";
pub const LEASE_EXPIRIES: &str = "seccfg_lease_expiries_total";
pub const STAGE_RETRIES: &str = "seccfg_stage_retries_total";
pub const STAGE_FAILURES: &str = "seccfg_stage_failures_total";
pub const ADVISOR_TOKENS: &str = "seccfg_advisor_tokens_total";
pub const WORKERS: &str = "seccfg_workers";
pub const STORE_UP: &str = "seccfg_store_up";
pub const BUILD_INFO: &str = "seccfg_build_info";
pub const CATALOG_INFO: &str = "seccfg_catalog_info";

/// Run statuses the job table uses; each is always exported (0 when absent) so
/// queries over them return data on an idle instance.
pub const RUN_STATUSES: [&str; 4] = ["queued", "running", "succeeded", "failed"];

const HTTP_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const STAGE_BUCKETS: &[f64] =
    &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The process-wide Prometheus recorder, installed on first use. If another
/// recorder was installed first (a test harness), metrics render empty rather
/// than failing the process.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full(STAGE_DURATION.into()), STAGE_BUCKETS))
            .expect("bucket lists are non-empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics serves this exporter's view only");
        }
        describe();
        handle
    })
}

fn describe() {
    describe_counter!(HTTP_REQUESTS, "HTTP requests by route template, method and status.");
    describe_histogram!(HTTP_DURATION, metrics::Unit::Seconds, "HTTP request latency by route template and method.");
    describe_gauge!(RUNS, "Runs in the job table by status (read from the store at scrape time).");
    describe_histogram!(STAGE_DURATION, metrics::Unit::Seconds, "Stage attempt duration by stage and outcome.");
    describe_counter!(STAGE_CLAIMS, "Stage attempts claimed by this process's workers, by stage.");
    describe_gauge!(QUEUE_DEPTH, "Stages queued (due now or waiting for a retry back-off).");
    describe_gauge!(QUEUE_OLDEST_AGE, metrics::Unit::Seconds, "How long the oldest due queued stage has waited.");
    describe_gauge!(STAGES_RUNNING, "Stages currently leased by some worker (any instance).");
    describe_counter!(LEASE_EXPIRIES, "Stages claimed again after their previous attempt's lease expired, by stage.");
    describe_counter!(STAGE_RETRIES, "Transient stage failures re-queued with back-off, by stage.");
    describe_counter!(STAGE_FAILURES, "Stage attempts that failed the run (permanent or out of attempts), by stage.");
    describe_counter!(ADVISOR_TOKENS, "Language-model advisor tokens by direction (input, output).");
    describe_gauge!(WORKERS, "Stage workers running in this process.");
    describe_gauge!(STORE_UP, "1 when the last scrape-time store query succeeded, else 0.");
    describe_gauge!(BUILD_INFO, "Build information; the value is always 1.");
    describe_gauge!(CATALOG_INFO, "Knowledge catalog version loaded; the value is always 1.");
}

/// Whether the HTTP middleware counts requests: always, except with
/// `SECCFG_HTTP_METRICS=off`, a switch for `benches/telemetry_overhead.rs` only.
pub fn http_enabled() -> bool {
    std::env::var("SECCFG_HTTP_METRICS").map_or(true, |v| v != "off")
}

/// Bounded HTTP method label: the standard methods, anything else is `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

pub fn http_request(route: &str, method: &'static str, status: u16, seconds: f64) {
    let route = route.to_string();
    counter!(HTTP_REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string()).increment(1);
    histogram!(HTTP_DURATION, "route" => route, "method" => method).record(seconds);
}

pub fn stage_claimed(stage: &str, lease_expired: bool) {
    counter!(STAGE_CLAIMS, "stage" => stage.to_string()).increment(1);
    if lease_expired {
        counter!(LEASE_EXPIRIES, "stage" => stage.to_string()).increment(1);
    }
}

/// Outcome labels: `succeeded`, `retry`, `failed`, `lease_lost`.
pub fn stage_finished(stage: &str, outcome: &'static str, seconds: f64) {
    histogram!(STAGE_DURATION, "stage" => stage.to_string(), "outcome" => outcome).record(seconds);
    match outcome {
        "retry" => counter!(STAGE_RETRIES, "stage" => stage.to_string()).increment(1),
        "failed" => counter!(STAGE_FAILURES, "stage" => stage.to_string()).increment(1),
        _ => {}
    }
}

/// For the advisor: tokens consumed, `direction` is `input` or `output`.
pub fn advisor_tokens(direction: &'static str, tokens: u64) {
    counter!(ADVISOR_TOKENS, "direction" => direction).increment(tokens);
}

/// Installs the recorder (serve calls this before the router exists) and sets the worker count.
pub fn workers(n: usize) {
    handle();
    gauge!(WORKERS).set(n as f64);
}

/// Installs the recorder and sets build and catalog identity (at router start-up).
pub fn info(catalog_version: &str) {
    handle();
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "service" => "seccfg").set(1.0);
    gauge!(CATALOG_INFO, "version" => catalog_version.to_string()).set(1.0);
    // Zero-valued series so rate() queries and dashboards have data before the first event.
    for direction in ["input", "output"] {
        counter!(ADVISOR_TOKENS, "direction" => direction).increment(0);
    }
    for stage in crate::pipeline::StageName::PIPELINE {
        let stage = stage.as_str();
        counter!(STAGE_CLAIMS, "stage" => stage).increment(0);
        counter!(LEASE_EXPIRIES, "stage" => stage).increment(0);
        counter!(STAGE_RETRIES, "stage" => stage).increment(0);
        counter!(STAGE_FAILURES, "stage" => stage).increment(0);
    }
}

pub fn queue(snapshot: &QueueSnapshot) {
    gauge!(QUEUE_DEPTH).set(snapshot.queued as f64);
    gauge!(STAGES_RUNNING).set(snapshot.running as f64);
    gauge!(QUEUE_OLDEST_AGE).set(snapshot.oldest_due_ms.max(0) as f64 / 1000.0);
    for status in RUN_STATUSES {
        let n = snapshot.runs_by_status.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        gauge!(RUNS, "status" => status).set(n as f64);
    }
}

pub fn store_up(up: bool) {
    gauge!(STORE_UP).set(if up { 1.0 } else { 0.0 });
}
