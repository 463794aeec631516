//! Trace context propagation: the one injector/extractor pair every hop uses, so that a saga is
//! one distributed trace across gRPC, RabbitMQ and the outbox.
//!
//! The carrier is always W3C Trace Context (`traceparent`, `tracestate`), through the global
//! propagator [`crate::telemetry::init`] installs:
//! - gRPC: the server span of every call takes its parent from the request metadata
//!   ([`server_span`]); clients add the current context with [`inject_grpc`];
//! - the outbox: a message stores the context of the span that wrote it ([`current`]) in its
//!   row's headers, so a message the relay publishes after a crash still joins its trace;
//! - AMQP: the relay's publish span sends its context as message headers, and every consumer's
//!   process span takes its parent from them ([`extract_amqp`]).

use lapin::types::{AMQPValue, FieldTable};
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry::{Context, global};
use std::collections::BTreeMap;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// Trace context headers (`traceparent`, `tracestate`) as text.
pub type Headers = BTreeMap<String, String>;

struct MapCarrier<'a>(&'a mut Headers);

impl Injector for MapCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapReader<'a>(&'a Headers);

impl Extractor for MapReader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// `cx` as headers; empty when it holds no valid span.
pub fn inject(cx: &Context) -> Headers {
    let mut headers = Headers::new();
    if cx.span().span_context().is_valid() {
        global::get_text_map_propagator(|p| p.inject_context(cx, &mut MapCarrier(&mut headers)));
    }
    headers
}

/// The current span's context as headers.
pub fn current() -> Headers {
    inject(&tracing::Span::current().context())
}

/// The context `headers` carry (an empty context when they carry none).
pub fn extract(headers: &Headers) -> Context {
    global::get_text_map_propagator(|p| p.extract(&MapReader(headers)))
}

/// The trace id of `headers` (32 hex digits), or empty.
pub fn trace_id(headers: &Headers) -> String {
    let cx = extract(headers);
    let sc = cx.span().span_context().clone();
    if sc.is_valid() {
        sc.trace_id().to_string()
    } else {
        String::new()
    }
}

/// The trace context of an AMQP message's headers.
pub fn extract_amqp(table: Option<&FieldTable>) -> Context {
    let mut headers = Headers::new();
    if let Some(table) = table {
        for key in ["traceparent", "tracestate"] {
            let value = match table.inner().get(key) {
                Some(AMQPValue::LongString(s)) => Some(s.to_string()),
                Some(AMQPValue::ShortString(s)) => Some(s.to_string()),
                _ => None,
            };
            if let Some(v) = value {
                headers.insert(key.to_owned(), v);
            }
        }
    }
    extract(&headers)
}

struct MetadataCarrier<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataCarrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value.as_str()),
        ) {
            self.0.insert(k, v);
        }
    }
}

struct HttpHeaders<'a>(&'a http::HeaderMap);

impl Extractor for HttpHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// A tonic client interceptor that sends the current context with the call.
pub fn inject_grpc(mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let cx = tracing::Span::current().context();
    if cx.span().span_context().is_valid() {
        global::get_text_map_propagator(|p| {
            p.inject_context(&cx, &mut MetadataCarrier(request.metadata_mut()));
        });
    }
    Ok(request)
}

/// The server span of one gRPC call (`rpc.*` semantic conventions), a child of the caller's
/// context when the request carries one. The API records `rpc.grpc.status_code` and the error
/// status when it answers with an error (see [`crate::error`]).
pub fn server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (service, method) = path.split_once('/').unwrap_or((path, ""));
    let span = tracing::info_span!(
        "grpc",
        otel.name = %path,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = 0_i64,
    );
    let parent = global::get_text_map_propagator(|p| p.extract(&HttpHeaders(request.headers())));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

/// Records the gRPC status `code` an error answers with on the current span, and marks the span
/// failed when the code is a server fault (semantic conventions for gRPC servers: a caller's
/// mistake such as INVALID_ARGUMENT leaves the status unset).
pub fn record_error(code: tonic::Code, message: &str) {
    use tonic::Code as C;
    let span = tracing::Span::current();
    span.record("rpc.grpc.status_code", code as i64);
    if matches!(
        code,
        C::Unknown
            | C::DeadlineExceeded
            | C::Unimplemented
            | C::Internal
            | C::Unavailable
            | C::DataLoss
    ) {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", message);
    }
}

/// The consumer span of one AMQP delivery (`messaging.*` semantic conventions), a child of the
/// publisher's context carried in the message headers.
pub fn process_span(
    queue: &str,
    exchange: &str,
    routing_key: &str,
    message_id: &str,
    redelivered: bool,
    headers: Option<&FieldTable>,
) -> tracing::Span {
    let span = tracing::info_span!(
        "amqp.process",
        otel.name = %format!("process {queue}"),
        otel.kind = "consumer",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %exchange,
        messaging.consumer.group.name = %queue,
        messaging.rabbitmq.destination.routing_key = %routing_key,
        messaging.message.id = %message_id,
        aftersales.redelivered = redelivered,
    );
    let parent = extract_amqp(headers);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

/// The producer span of the relay publishing one outbox row, a child of the context stored with
/// the row (the span that wrote it, possibly before a crash).
pub fn publish_span(
    exchange: &str,
    routing_key: &str,
    message_id: &str,
    stored: &Headers,
) -> tracing::Span {
    let span = tracing::info_span!(
        "amqp.publish",
        otel.name = %format!("publish {exchange}"),
        otel.kind = "producer",
        otel.status_code = tracing::field::Empty,
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = %exchange,
        messaging.rabbitmq.destination.routing_key = %routing_key,
        messaging.message.id = %message_id,
    );
    let parent = extract(stored);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

/// A span of one database transaction (`db.*` semantic conventions).
pub fn db_span(namespace: &str) -> tracing::Span {
    tracing::info_span!(
        "db.transaction",
        otel.name = %format!("TRANSACTION {namespace}"),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        db.system.name = "postgresql",
        db.namespace = %namespace,
        db.operation.name = "TRANSACTION",
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn context() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        ))
    }

    #[test]
    fn headers_round_trip_through_every_carrier() {
        global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
        let headers = inject(&context());
        assert_eq!(
            headers.get("traceparent").map(String::as_str),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert_eq!(trace_id(&headers), "4bf92f3577b34da6a3ce929d0e0e4736");
        // AMQP headers, as the outbox relay sets them from a stored row.
        let stored = serde_json::to_value(&headers).unwrap();
        let props = crate::outbox::properties(&Default::default(), &stored);
        let back = extract_amqp(props.headers().as_ref());
        assert_eq!(
            back.span().span_context().span_id(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap()
        );
        // Nothing in, nothing out.
        assert!(inject(&Context::new()).is_empty());
        assert_eq!(trace_id(&Headers::new()), "");
        assert!(!extract_amqp(None).span().span_context().is_valid());
    }
}
