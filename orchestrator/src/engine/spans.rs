//! One trace per saga. The saga's root context is stored with the instance when it starts (a
//! child of the trigger event's trace, so the trace begins at the call that caused it). Every
//! later transition — a reply, an event, a timer firing, an operator action — runs in a span
//! whose parent is that stored context, so it joins the same trace however late it comes; an
//! input that arrived in another trace (a courier's scan days later) is linked to it. Inside a
//! transition each command sent and each timeline entry (a step done, failed, waited for,
//! compensated) is a span, and the command's context travels with it to the service.

use super::instance::{Entry, Instance};
use super::machine::Input;
use aftersales_platform::trace::{self, Headers};
use opentelemetry::trace::TraceContextExt as _;
use serde_json::Value;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// What an input is, for span names.
pub fn input_label(input: &Input<'_>) -> String {
    match input {
        Input::Reply { .. } => "reply".into(),
        Input::Event(e) => format!("event {}", e.name),
        Input::Timer(_) => "timer".into(),
        Input::Operator(a) => format!("operator {}", a.as_str()),
    }
}

/// The span of one transition of `inst`: a child of the saga's `root` context when there is
/// one (else of the current span), linked to the current span when that is another trace.
pub fn transition(inst: &Instance, step: &str, what: &str, root: &Headers) -> Span {
    let span = tracing::info_span!(
        "saga",
        otel.name = %format!("saga {} {what}", inst.flow),
        otel.kind = "internal",
        otel.status_code = tracing::field::Empty,
        aftersales.saga_id = %inst.id,
        aftersales.flow = %inst.flow,
        aftersales.business_key = %inst.business_key,
        aftersales.step = %step,
        aftersales.case_id = tracing::field::Empty,
        aftersales.order_id = tracing::field::Empty,
    );
    for (key, field) in [
        ("case_id", "aftersales.case_id"),
        ("order_id", "aftersales.order_id"),
    ] {
        if let Some(v) = inst
            .data
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
        {
            span.record(field, v);
        }
    }
    let root = trace::extract(root);
    let root_sc = root.span().span_context().clone();
    if root_sc.is_valid() {
        let incoming = Span::current().context().span().span_context().clone();
        let _ = span.set_parent(root);
        if incoming.is_valid() && incoming.trace_id() != root_sc.trace_id() {
            span.add_link(incoming);
        }
    }
    span
}

/// The span of a command the saga sends (`kind` is `command` or `compensation`); its context
/// goes with the message.
pub fn command(
    inst: &Instance,
    step: &str,
    kind: &str,
    service: &str,
    message_type: &str,
    attempt: u32,
) -> Span {
    tracing::info_span!(
        "saga.command",
        otel.name = %format!("{kind} {step}"),
        otel.kind = "producer",
        aftersales.saga_id = %inst.id,
        aftersales.flow = %inst.flow,
        aftersales.step = %step,
        aftersales.kind = %kind,
        aftersales.attempt = attempt,
        aftersales.service = %service,
        aftersales.message_type = %message_type,
    )
}

/// A span for one timeline entry (a step's outcome: done, failed, event received, deadline
/// passed, compensated, parked...). Failures set the error status.
pub fn entry(inst: &Instance, e: &Entry) {
    let step = if e.step.is_empty() {
        "saga"
    } else {
        e.step.as_str()
    };
    let span = tracing::info_span!(
        "saga.step",
        otel.name = %format!("{} {step} {}", e.kind, e.outcome),
        otel.kind = "internal",
        otel.status_code = tracing::field::Empty,
        otel.status_description = tracing::field::Empty,
        aftersales.saga_id = %inst.id,
        aftersales.flow = %inst.flow,
        aftersales.step = %step,
        aftersales.kind = %e.kind,
        aftersales.outcome = %e.outcome,
        aftersales.attempt = e.attempt,
        aftersales.elapsed_ms = e.elapsed_ms,
    );
    if matches!(
        e.outcome,
        "business_failure" | "retryable_failure" | "failed_result" | "timed_out" | "parked"
    ) {
        span.record("otel.status_code", "ERROR");
        span.record("otel.status_description", e.detail.as_str());
    }
    drop(span);
}
