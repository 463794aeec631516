//! The orchestrator's metrics, next to the platform's on the same `/metrics` endpoint: sagas
//! started, completed, compensated and parked per flow, the sagas waiting for an operator now,
//! step latency, and the timers that are due.

use aftersales_platform::metrics::register;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::sync::LazyLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FlowLabels {
    pub flow: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub flow: String,
    pub step: String,
    /// `command`, `compensation`, `wait`, ...
    pub kind: String,
}

pub struct SagaMetrics {
    pub started: Family<FlowLabels, Counter>,
    pub completed: Family<FlowLabels, Counter>,
    pub compensated: Family<FlowLabels, Counter>,
    pub parked: Family<FlowLabels, Counter>,
    pub needing_attention: Family<FlowLabels, Gauge>,
    pub step_duration: Family<StepLabels, Histogram, fn() -> Histogram>,
    pub timers_due: Gauge,
}

static METRICS: LazyLock<SagaMetrics> = LazyLock::new(|| {
    let m = SagaMetrics {
        started: Family::default(),
        completed: Family::default(),
        compensated: Family::default(),
        parked: Family::default(),
        needing_attention: Family::default(),
        step_duration: Family::new_with_constructor(step_histogram),
        timers_due: Gauge::default(),
    };
    register("sagas_started", "Sagas started, by flow", m.started.clone());
    register(
        "sagas_completed",
        "Sagas that ended COMPLETED, by flow",
        m.completed.clone(),
    );
    register(
        "sagas_compensated",
        "Sagas that ended COMPENSATED, by flow",
        m.compensated.clone(),
    );
    register(
        "sagas_parked",
        "Times a saga was parked for an operator (NEEDS_ATTENTION), by flow",
        m.parked.clone(),
    );
    register(
        "sagas_needing_attention",
        "Sagas parked now, waiting for an operator, by flow",
        m.needing_attention.clone(),
    );
    register(
        "saga_step_duration_seconds",
        "Time from a step's first command (or the start of a wait) to its outcome",
        m.step_duration.clone(),
    );
    register(
        "saga_timers_due",
        "Saga timers whose due time has passed and that have not fired yet",
        m.timers_due.clone(),
    );
    m
});

/// Steps last from milliseconds (a command) to days (a wait for the buyer or a partner): buckets
/// from 10 ms to 14 days.
fn step_histogram() -> Histogram {
    Histogram::new([
        0.01,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
        15.0,
        60.0,
        300.0,
        1800.0,
        3600.0,
        6.0 * 3600.0,
        86_400.0,
        3.0 * 86_400.0,
        7.0 * 86_400.0,
        14.0 * 86_400.0,
    ])
}

pub fn get() -> &'static SagaMetrics {
    &METRICS
}

/// Counts a saga's lifecycle change (`started`, `completed`, `compensated`, `parked`).
pub fn lifecycle(flow: &str, what: &str) {
    let m = get();
    let family = match what {
        "started" => &m.started,
        "completed" => &m.completed,
        "compensated" => &m.compensated,
        "parked" => &m.parked,
        _ => return,
    };
    family
        .get_or_create(&FlowLabels {
            flow: flow.to_owned(),
        })
        .inc();
}

/// Observes how long a step took to reach `outcome` (only outcomes that end a step's attempt).
pub fn step_outcome(flow: &str, step: &str, kind: &str, outcome: &str, elapsed_ms: u64) {
    if step.is_empty()
        || !matches!(
            outcome,
            "succeeded" | "business_failure" | "event_received" | "deadline_passed"
        )
    {
        return;
    }
    #[allow(clippy::cast_precision_loss)]
    let seconds = elapsed_ms as f64 / 1000.0;
    get()
        .step_duration
        .get_or_create(&StepLabels {
            flow: flow.to_owned(),
            step: step.to_owned(),
            kind: kind.to_owned(),
        })
        .observe(seconds);
}
