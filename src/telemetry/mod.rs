//! Operational telemetry: Prometheus metrics (the numbers Grafana dashboards and
//! alert rules read) and, when configured, OpenTelemetry traces. Everything here
//! is optional for the pipeline: without an installed recorder or exporter the
//! calls are no-ops, so the offline CLI pays nothing.

pub mod metrics;
pub mod trace;
