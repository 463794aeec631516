//! Prometheus metrics of every process, served as OpenMetrics text on `GET /metrics` at
//! `metrics.addr` (ports 9550–9556 by default).
//!
//! The platform records what every process shares: RED metrics of each RPC (a tower layer on the
//! gRPC server), messages published, consumed, retried, redelivered and dead-lettered per queue,
//! and the outbox backlog and the age of its oldest row. A process registers its own metrics
//! (the orchestrator's sagas, complaints' SLA breaches) with [`register`]. Every label value is
//! bounded: queue and exchange names, flow and step names, RPC methods of the served API (an
//! unknown method is counted as `unknown`), gRPC code names.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Metric, Registry};
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Latency buckets from 1 ms to about 65 s.
pub fn latency_buckets() -> impl Iterator<Item = f64> {
    exponential_buckets(0.001, 2.0, 17)
}

/// A histogram with [`latency_buckets`].
pub fn latency_histogram() -> Histogram {
    Histogram::new(latency_buckets())
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub rpc_service: String,
    pub rpc_method: String,
    pub grpc_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLatencyLabels {
    pub rpc_service: String,
    pub rpc_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ExchangeLabels {
    pub exchange: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConsumedLabels {
    pub queue: String,
    /// `processed`, `duplicate` or `dead_lettered`.
    pub outcome: &'static str,
}

type LatencyFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// The metrics every process records.
pub struct Core {
    pub rpc_requests: Family<RpcLabels, Counter>,
    pub rpc_duration: LatencyFamily<RpcLatencyLabels>,
    pub published: Family<ExchangeLabels, Counter>,
    pub consumed: Family<ConsumedLabels, Counter>,
    pub redelivered: Family<QueueLabels, Counter>,
    pub retried: Family<QueueLabels, Counter>,
    pub dead_lettered: Family<QueueLabels, Counter>,
    pub outbox_backlog: Gauge,
    pub outbox_oldest_age: Gauge<f64, AtomicU64>,
}

struct State {
    registry: Mutex<Registry>,
    core: Core,
}

static STATE: LazyLock<State> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("aftersales");
    let core = Core {
        rpc_requests: Family::default(),
        rpc_duration: Family::new_with_constructor(latency_histogram),
        published: Family::default(),
        consumed: Family::default(),
        redelivered: Family::default(),
        retried: Family::default(),
        dead_lettered: Family::default(),
        outbox_backlog: Gauge::default(),
        outbox_oldest_age: Gauge::default(),
    };
    registry.register(
        "rpc_server_requests",
        "gRPC requests served, by method and status code",
        core.rpc_requests.clone(),
    );
    registry.register(
        "rpc_server_duration_seconds",
        "Time to answer a gRPC request",
        core.rpc_duration.clone(),
    );
    registry.register(
        "messages_published",
        "Messages the outbox relay published (broker-confirmed)",
        core.published.clone(),
    );
    registry.register(
        "messages_consumed",
        "Messages consumed, by outcome (processed, duplicate, dead_lettered)",
        core.consumed.clone(),
    );
    registry.register(
        "messages_redelivered",
        "Deliveries the broker flagged as redelivered",
        core.redelivered.clone(),
    );
    registry.register(
        "messages_retried",
        "Handler attempts retried after a transient failure",
        core.retried.clone(),
    );
    registry.register(
        "messages_dead_lettered",
        "Messages rejected to the dead-letter queue",
        core.dead_lettered.clone(),
    );
    registry.register(
        "outbox_backlog_messages",
        "Outbox rows not yet published",
        core.outbox_backlog.clone(),
    );
    registry.register(
        "outbox_oldest_age_seconds",
        "Age of the oldest unpublished outbox row (0 when none)",
        core.outbox_oldest_age.clone(),
    );
    State {
        registry: Mutex::new(registry),
        core,
    }
});

/// The platform's metrics.
pub fn core() -> &'static Core {
    &STATE.core
}

/// Registers a process's own metric (`name` without the `aftersales_` prefix).
pub fn register(name: &str, help: &str, metric: impl Metric) {
    if let Ok(mut r) = STATE.registry.lock() {
        r.register(name, help, metric);
    }
}

/// Every metric in the OpenMetrics text format.
pub fn encode() -> String {
    let mut out = String::new();
    if let Ok(r) = STATE.registry.lock() {
        let _ = prometheus_client::encoding::text::encode(&mut out, &r);
    }
    out
}

/// Serves `GET /metrics` on `addr` until `shutdown` is cancelled.
pub async fn serve(addr: SocketAddr, shutdown: CancellationToken) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics listening");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async {
            (
                [(
                    http::header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                )],
                encode(),
            )
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}

/// Counts and times every gRPC request (the RED metrics of the API).
#[derive(Debug, Clone, Copy, Default)]
pub struct RpcMetricsLayer;

impl<S> tower::Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RpcMetrics<S> {
    inner: S,
}

impl<S, B, RB> tower::Service<http::Request<B>> for RpcMetrics<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = futures::future::BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut unfinished = Unfinished {
            path: Some(request.uri().path().to_owned()),
            started: Instant::now(),
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            let (path, started) = (
                unfinished.path.take().unwrap_or_default(),
                unfinished.started,
            );
            // A unary error is a trailers-only response: its status is in the headers. A
            // success carries it in the trailers, after the body: OK.
            let code = match &response {
                Ok(r) => r
                    .headers()
                    .get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<i32>().ok())
                    .map_or(tonic::Code::Ok, tonic::Code::from_i32),
                Err(_) => tonic::Code::Unknown,
            };
            record_rpc(&path, code, started.elapsed().as_secs_f64());
            response
        })
    }
}

/// Records a call whose future was dropped before it answered: the server's timeout
/// (DEADLINE_EXCEEDED) or the caller going away (CANCELLED).
struct Unfinished {
    path: Option<String>,
    started: Instant,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let elapsed = self.started.elapsed();
            let code = if elapsed >= crate::grpc::TIMEOUT {
                tonic::Code::DeadlineExceeded
            } else {
                tonic::Code::Cancelled
            };
            record_rpc(&path, code, elapsed.as_secs_f64());
        }
    }
}

fn record_rpc(path: &str, code: tonic::Code, seconds: f64) {
    let (service, method) = match path.trim_start_matches('/').split_once('/') {
        // An unknown path is answered UNIMPLEMENTED by the router: one bounded label for all.
        Some(_) if code == tonic::Code::Unimplemented => ("unknown", "unknown"),
        Some((s, m)) => (s, m),
        None => ("unknown", "unknown"),
    };
    let core = core();
    core.rpc_requests
        .get_or_create(&RpcLabels {
            rpc_service: service.to_owned(),
            rpc_method: method.to_owned(),
            // `OK`, `INVALID_ARGUMENT`, ... as the gRPC specification spells them.
            grpc_code: crate::commands::code_name(code).to_ascii_uppercase(),
        })
        .inc();
    core.rpc_duration
        .get_or_create(&RpcLatencyLabels {
            rpc_service: service.to_owned(),
            rpc_method: method.to_owned(),
        })
        .observe(seconds);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn rpc_labels_are_bounded_and_the_text_is_openmetrics() {
        record_rpc(
            "/aftersales.orders.v1.OrdersService/GetOrder",
            tonic::Code::Ok,
            0.002,
        );
        record_rpc(
            "/aftersales.orders.v1.OrdersService/GetOrder",
            tonic::Code::NotFound,
            0.001,
        );
        record_rpc("/made.up.Service/Whatever", tonic::Code::Unimplemented, 0.0);
        record_rpc("/x/y", tonic::Code::Unimplemented, 0.0);
        let text = encode();
        assert!(text.contains(
            "aftersales_rpc_server_requests_total{rpc_service=\"aftersales.orders.v1.OrdersService\",rpc_method=\"GetOrder\",grpc_code=\"NOT_FOUND\"} 1"
        ), "{text}");
        assert!(text.contains(
            "aftersales_rpc_server_requests_total{rpc_service=\"unknown\",rpc_method=\"unknown\",grpc_code=\"UNIMPLEMENTED\"} 2"
        ), "{text}");
        assert!(!text.contains("made.up"));
        assert!(text.contains("# TYPE aftersales_rpc_server_duration_seconds histogram"));
        assert!(text.trim_end().ends_with("# EOF"));
    }

    #[test]
    fn a_call_dropped_before_it_answers_is_counted_as_timed_out_or_cancelled() {
        let path = "/aftersales.payments.v1.PaymentsService/CreateRefund";
        drop(Unfinished {
            path: Some(path.into()),
            started: Instant::now() - crate::grpc::TIMEOUT,
        });
        drop(Unfinished {
            path: Some(path.into()),
            started: Instant::now(),
        });
        // A call that answered took its path: nothing more is counted.
        drop(Unfinished {
            path: None,
            started: Instant::now(),
        });
        let text = encode();
        for code in ["DEADLINE_EXCEEDED", "CANCELLED"] {
            assert!(
                text.contains(&format!(
                    "aftersales_rpc_server_requests_total{{rpc_service=\"aftersales.payments.v1.PaymentsService\",rpc_method=\"CreateRefund\",grpc_code=\"{code}\"}} 1"
                )),
                "{code}: {text}"
            );
        }
    }
}
