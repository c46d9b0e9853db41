//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set.
//!
//! Off means no cost: without the variable no exporter, no OpenTelemetry layer
//! and no header parsing exist, and every function here returns at its first
//! line. On, the `tracing` spans the service already makes (one per HTTP request,
//! one per stage attempt) become OpenTelemetry spans: an incoming W3C
//! `traceparent` becomes the request span's parent (an unparseable one is
//! ignored), the request span's context is stored with the request, and each
//! stage attempt's span carries a link to it. The exporter uses the hyper
//! client the server already depends on, with hyper-rustls (rustls on ring, the
//! TLS stack sqlx, the AWS SDK and the OIDC client share) so an `https://`
//! endpoint works: the server is verified against the system roots plus the PEM
//! file named by `OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE` or
//! `OTEL_EXPORTER_OTLP_CERTIFICATE` (the OpenTelemetry variables for a private CA).
//! Resource attributes follow the semantic conventions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

static ENABLED: AtomicBool = AtomicBool::new(false);
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Whether traces are being exported.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

fn configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

/// The OpenTelemetry layer, or `None` when no endpoint is configured. Must be
/// called inside the Tokio runtime (the batch exporter runs on it).
pub fn layer<S>() -> anyhow::Result<Option<impl tracing_subscriber::Layer<S>>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    if !configured() {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(https_client()?)
        .with_protocol(Protocol::HttpBinary)
        .build()?;
    let processor = opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
        exporter,
        opentelemetry_sdk::runtime::Tokio,
    )
    .build();
    let provider = SdkTracerProvider::builder().with_span_processor(processor).with_resource(resource()).build();
    let tracer = provider.tracer("seccfg");
    let _ = PROVIDER.set(provider);
    ENABLED.store(true, Ordering::Relaxed);
    Ok(Some(tracing_opentelemetry::layer().with_tracer(tracer)))
}

/// The exporter's HTTP client: plain HTTP or TLS (1.2+, rustls on ring), verifying
/// the collector against the system roots and the configured extra CA file. The
/// export timeout is `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` (ms, default 10 s), as the
/// exporter's own client would use.
fn https_client() -> anyhow::Result<opentelemetry_http::hyper::HyperClient<HttpsConnector<HttpConnector>>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(root_store()?)
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http().enable_http1().build();
    let timeout = first_env(&["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"])
        .and_then(|ms| ms.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis);
    Ok(opentelemetry_http::hyper::HyperClient::new(https, timeout, None))
}

/// System roots (none is fine: a private CA file may be all there is) plus every
/// certificate of the configured CA file, which must parse.
fn root_store() -> anyhow::Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = first_env(&["OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "OTEL_EXPORTER_OTLP_CERTIFICATE"]) {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(&path).map_err(|e| anyhow::anyhow!("OTLP CA file {path}: {e}"))? {
            roots.add(cert.map_err(|e| anyhow::anyhow!("OTLP CA file {path}: {e}"))?)?;
            added += 1;
        }
        anyhow::ensure!(added > 0, "OTLP CA file {path} holds no certificate");
    }
    Ok(roots)
}

/// The first of `names` that is set and not blank.
fn first_env(names: &[&str]) -> Option<String> {
    names.iter().find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
}

/// Semantic-convention resource: `service.*`, `host.name`, `process.pid`, plus
/// whatever `OTEL_RESOURCE_ATTRIBUTES` adds (e.g. `deployment.environment.name`).
pub fn resource() -> Resource {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "unknown".into());
    let instance = format!("{host}-{}-{}", std::process::id(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let builder = Resource::builder().with_attributes([
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new("service.namespace", "seccfg"),
        KeyValue::new("service.instance.id", instance),
        KeyValue::new("host.name", host),
        KeyValue::new("process.pid", i64::from(std::process::id())),
        KeyValue::new("process.runtime.name", "rust"),
    ]);
    if std::env::var("OTEL_SERVICE_NAME").is_ok() {
        builder.build()
    } else {
        builder.with_service_name("seccfg").build()
    }
}

/// Flushes and stops the exporter (at shutdown).
pub fn shutdown() {
    if let Some(provider) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        tracing::warn!(error = %e, "trace exporter shutdown");
    }
}

/// Makes an incoming W3C `traceparent` the parent of `span`; a missing or
/// unparseable header leaves the span a new root.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if !enabled() {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
    if cx.span().span_context().is_remote() && cx.span().span_context().is_valid() {
        let _ = span.set_parent(cx);
    }
}

/// The current span's context as a W3C `traceparent`, to store with a request.
pub fn current_traceparent() -> Option<String> {
    if !enabled() {
        return None;
    }
    let cx = tracing::Span::current().context();
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// Links a stage attempt's span to the request span stored as `traceparent`.
pub fn link(span: &tracing::Span, traceparent: Option<&str>) {
    let (true, Some(traceparent)) = (enabled(), traceparent) else { return };
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    let cx: Context = TraceContextPropagator::new().extract(&carrier);
    let linked = cx.span().span_context().clone();
    if linked.is_valid() {
        span.add_link(linked);
    }
}
