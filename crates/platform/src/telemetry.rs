//! Telemetry, started once per process: logs (readable text in a terminal, JSON lines with
//! `trace_id` and `span_id` when configured), OpenTelemetry spans for every hop (see
//! [`crate::trace`]) and, when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, their OTLP/gRPC export.

use crate::config::{LogFormat, TelemetrySettings};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{EnvFilter, Layer, layer::SubscriberExt, util::SubscriberInitExt};

/// Flushes and shuts down exporters when dropped: keep it alive for the life of the process.
#[must_use = "dropping the guard shuts telemetry down"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(err) = provider.shutdown()
        {
            eprintln!("telemetry shutdown failed: {err}");
        }
    }
}

/// Noise that drowns the signal at `info`.
const QUIET: &str =
    "sqlx=warn,sea_orm=warn,sea_orm_migration=warn,lapin=warn,h2=warn,tower=warn,hyper=warn";

/// Installs the global subscriber. Safe to call more than once (later calls only return a guard).
///
/// Spans are always recorded with OpenTelemetry contexts, so trace context propagates through
/// this process and every log line inside a span carries its `trace_id` and `span_id`; they are
/// exported only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
pub fn init(service_name: &str, settings: &TelemetrySettings) -> TelemetryGuard {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{},{QUIET}", settings.log_filter)));

    let provider = tracer_provider(service_name);
    // Spans are traced at `info` whatever the log filter says: quieter logs must not break the
    // traces (a disabled span has no context to propagate).
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(service_name.to_owned()))
        .with_error_records_to_exceptions(true)
        .with_filter(EnvFilter::new(format!("info,{QUIET}")));
    let fmt_layer = match settings.log_format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(JsonLines)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_target(true)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
    };
    let installed = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer)
        .try_init()
        .is_ok();
    if installed {
        opentelemetry::global::set_tracer_provider(provider.clone());
    }
    TelemetryGuard {
        provider: installed.then_some(provider),
    }
}

/// The tracer provider: with the OTLP/gRPC exporter (`OTEL_EXPORTER_OTLP_*`, batch settings from
/// `OTEL_BSP_*`) when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, otherwise recording without export.
/// The resource honours `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`.
fn tracer_provider(service_name: &str) -> SdkTracerProvider {
    let mut resource = Resource::builder();
    if std::env::var("OTEL_SERVICE_NAME").is_err() {
        resource = resource.with_service_name(service_name.to_owned());
    }
    let mut builder = SdkTracerProvider::builder().with_resource(resource.build());
    let endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = endpoint {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .build()
        {
            Ok(exporter) => builder = builder.with_batch_exporter(exporter),
            Err(err) => eprintln!("otlp exporter for {endpoint} not started: {err}"),
        }
    }
    builder.build()
}

/// Log lines as JSON objects: time, level, target, the event's fields, the current span's name,
/// and the `trace_id` / `span_id` of the current span when there is one.
struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let meta = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        line.insert("level".into(), meta.level().as_str().into());
        line.insert("target".into(), meta.target().into());
        event.record(&mut JsonFields(&mut line));
        // The current span even when the log filter hides it: its trace ids still belong here.
        let current = tracing::Span::current();
        if let Some(meta) = current.metadata() {
            line.insert("span".into(), meta.name().into());
            let sc = current.context().span().span_context().clone();
            if sc.is_valid() {
                line.insert("trace_id".into(), sc.trace_id().to_string().into());
                line.insert("span_id".into(), sc.span_id().to_string().into());
            }
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// Collects an event's fields into a JSON object.
struct JsonFields<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
}
