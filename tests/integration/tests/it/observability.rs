//! Observability end to end: one distributed trace per saga, checked with a real OTLP/gRPC
//! receiver in the test process while a return with inspection runs; and every process's
//! Prometheus metrics, scraped directly and by Prometheus itself, moving with the flow.

use crate::saga_world::*;
use crate::sagas::LONG;
use aftersales_proto::orchestrator::v1::SagaStatus;
use aftersales_proto::returns::v1::{CaseType, InspectionStatus as Inspection};
use aftersales_test_support::otlp::{CollectedSpan, OtlpCollector};
use aftersales_test_support::{TestEnv, sample, scrape};
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tracing::Instrument as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// The test plays the parties (the buyer's app, the merchant, the warehouse) as one more process
/// exporting to the same receiver, so their calls start the traces the services continue.
fn parties_tracer(collector: &OtlpCollector) -> SdkTracerProvider {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(collector.endpoint())
        .build()
        .expect("otlp exporter");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("it-parties")
                .build(),
        )
        .build()
}

fn trace_id(span: &tracing::Span) -> String {
    span.context().span().span_context().trace_id().to_string()
}

/// Waits until the receiver holds spans of `trace` from every one of `services`.
async fn wait_for_services(
    collector: &OtlpCollector,
    trace: &str,
    services: &[&str],
) -> Vec<CollectedSpan> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let spans = collector.trace(trace);
        let seen: BTreeSet<&str> = spans.iter().map(|s| s.service.as_str()).collect();
        if services.iter().all(|s| seen.contains(s)) {
            return spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trace {trace} has spans of {seen:?}, not of all {services:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Every process of the world exports its spans to `collector`.
async fn traced_world(collector: &OtlpCollector) -> World {
    let env = TestEnv::new();
    env.set_env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint());
    env.set_env("OTEL_BSP_SCHEDULE_DELAY", "100");
    env.set_env("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=it");
    env.set_env("AFTERSALES__TELEMETRY__LOG_FORMAT", "json");
    World::start_in(env, &[], &[], 1).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_return_with_inspection_is_one_trace_across_every_process() {
    let collector = OtlpCollector::start().await;
    let mut w = traced_world(&collector).await;
    let provider = parties_tracer(&collector);
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("it-parties")));
    let _default = tracing::subscriber::set_default(subscriber);

    // The buyer's app: one trace from the order to the case; the saga continues it.
    let buyer = tracing::info_span!("buyer app: return the kettles");
    let trace = trace_id(&buyer);
    let (placed, case_id) = async {
        let placed = w.place_delivered_order().await.unwrap();
        let case_id = w.open_case(&placed, CaseType::ReturnRefund).await.unwrap();
        w.merchant_decides(&case_id, true).await.unwrap();
        (placed, case_id)
    }
    .instrument(buyer.clone())
    .await;
    // Days later, in their own traces: the buyer ships, the warehouse receives and inspects.
    let warehouse = tracing::info_span!("warehouse app: receive and inspect");
    let partner_trace = trace_id(&warehouse);
    assert_ne!(partner_trace, trace);
    w.return_leg(&placed, &case_id, |n| {
        if n == 0 {
            (Inspection::Accepted, true)
        } else {
            (Inspection::Rejected, false)
        }
    })
    .instrument(warehouse.clone())
    .await
    .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    drop((buyer, warehouse));
    let flushed = provider.clone();
    tokio::task::spawn_blocking(move || flushed.force_flush())
        .await
        .unwrap()
        .unwrap();

    // The saga knows its trace: the one the buyer's call started.
    assert_eq!(s.trace_id, trace, "the saga's trace id");

    let processes = [
        "it-parties",
        "orders",
        "payments",
        "logistics",
        "returns",
        "orchestrator",
    ];
    let spans = wait_for_services(&collector, &trace, &processes).await;
    // Let the last batches (the refund tail) arrive.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spans = {
        let more = collector.trace(&trace);
        if more.len() > spans.len() {
            more
        } else {
            spans
        }
    };
    eprintln!(
        "trace {trace}: {} spans from {:?}",
        spans.len(),
        spans
            .iter()
            .map(|s| s.service.as_str())
            .collect::<BTreeSet<_>>()
    );
    let by_id: BTreeMap<&str, &CollectedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();

    // One trace, whole: every parent is in it, and it crosses into each process from another.
    for s in &spans {
        if !s.parent_span_id.is_empty() {
            assert!(
                by_id.contains_key(s.parent_span_id.as_str()),
                "{} ({}) has a parent outside the trace",
                s.name,
                s.service
            );
        }
    }
    let entered: BTreeSet<&str> = spans
        .iter()
        .filter_map(|s| {
            let parent = by_id.get(s.parent_span_id.as_str())?;
            (parent.service != s.service).then_some(s.service.as_str())
        })
        .collect();
    for p in &processes[1..] {
        assert!(entered.contains(p), "no parent link into {p}: {entered:?}");
    }
    // The processes' resource honours OTEL_RESOURCE_ATTRIBUTES.
    assert!(spans.iter().filter(|s| s.service != "it-parties").all(|s| {
        s.resource
            .get("deployment.environment.name")
            .map(String::as_str)
            == Some("it")
    }));

    // Semantic conventions: gRPC server spans, RabbitMQ publish/process, PostgreSQL.
    let create_case: Vec<&CollectedSpan> = spans
        .iter()
        .filter(|s| s.attr("rpc.method") == Some("CreateCase"))
        .collect();
    let grpc = create_case
        .iter()
        .find(|s| s.attr("rpc.grpc.status_code") == Some("0"))
        .expect("the CreateCase server span");
    assert_eq!(grpc.service, "returns");
    assert_eq!(grpc.kind, 2, "server");
    assert_eq!(grpc.attr("rpc.system"), Some("grpc"));
    assert_eq!(
        grpc.attr("rpc.service"),
        Some("aftersales.returns.v1.ReturnsService")
    );
    // The buyer's app retries while returns has not replicated the delivery: those calls answer
    // FAILED_PRECONDITION (9), a caller's error that leaves the server span's status unset.
    for refused in create_case
        .iter()
        .filter(|s| s.attr("rpc.grpc.status_code") != Some("0"))
    {
        assert_eq!(refused.attr("rpc.grpc.status_code"), Some("9"));
        assert_eq!(refused.status_code, 0, "unset");
    }
    let consumer = spans
        .iter()
        .find(|s| s.kind == 5 && s.service == "payments")
        .expect("payments consuming the refund command");
    assert_eq!(consumer.attr("messaging.system"), Some("rabbitmq"));
    assert_eq!(consumer.attr("messaging.operation.type"), Some("process"));
    assert!(consumer.attr("messaging.message.id").is_some());
    assert!(spans.iter().any(|s| s.kind == 4
        && s.attr("messaging.operation.type") == Some("send")
        && s.attr("messaging.destination.name").is_some()));
    assert!(spans.iter().any(|s| {
        s.service == "payments"
            && s.attr("db.system.name") == Some("postgresql")
            && s.attr("db.namespace")
                .is_some_and(|n| n.ends_with("_payments"))
    }));

    // A span per step of the saga, with the business attributes.
    let saga_spans: Vec<&CollectedSpan> = spans
        .iter()
        .filter(|s| s.service == "orchestrator" && s.attr("aftersales.saga_id").is_some())
        .collect();
    assert!(
        saga_spans
            .iter()
            .all(|span| span.attr("aftersales.saga_id") == Some(s.saga_id.as_str()))
    );
    for step in [
        "issue_return_label",
        "await_inspection",
        "ship_back_rejected",
        "restock",
        "mark_refunding",
        "refund",
        "record_refunded",
        "complete_case",
    ] {
        assert!(
            saga_spans
                .iter()
                .any(|s| s.attr("aftersales.step") == Some(step)),
            "no span for step {step}"
        );
    }
    let transition = saga_spans
        .iter()
        .find(|s| s.attr("aftersales.case_id").is_some())
        .expect("a saga transition span");
    assert_eq!(
        transition.attr("aftersales.case_id"),
        Some(case_id.as_str())
    );
    assert_eq!(
        transition.attr("aftersales.order_id"),
        Some(placed.order.order_id.as_str())
    );
    assert_eq!(transition.attr("aftersales.flow"), Some("return_refund"));
    // The warehouse's events arrived in its own trace: the saga handled them in its trace, linked
    // to the warehouse's.
    assert!(
        saga_spans
            .iter()
            .any(|s| s.name.contains("event") && s.links.contains(&partner_trace)),
        "no saga span linked to the warehouse's trace"
    );
    // Logs are JSON lines; those inside a span carry its trace and span ids: the orchestrator's
    // "saga started" line is in the saga's trace.
    let log = std::fs::read_to_string(w.env.log_path("orchestrator").unwrap()).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .all(|l| l["timestamp"].is_string() && l["level"].is_string())
    );
    let started = lines
        .iter()
        .find(|l| l["message"] == "saga started" && l["business_key"] == format!("case:{case_id}"))
        .expect("a saga started line");
    assert_eq!(started["trace_id"], trace.as_str());
    assert_eq!(started["span_id"].as_str().map(str::len), Some(16));
    let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undone_exchange_traces_each_compensation_in_the_saga_trace() {
    let collector = OtlpCollector::start().await;
    let mut w = traced_world(&collector).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w
        .open_exchange_for_variants(&placed, &[(0, "KETTLE-XL", 8_000)])
        .await
        .unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    // The buyer escalates while the replacement is picked: the difference charge and the
    // replacement waybill are undone.
    w.await_warehouse_work_order(&case_id, LONG).await.unwrap();
    w.escalate(&placed, &case_id).await.unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");
    assert_eq!(s.trace_id.len(), 32, "{s:?}");

    // In the saga's trace: a span for each compensation command and its outcome, the failure
    // that caused them marked as an error, and the services that undid the effects.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let spans = loop {
        let spans = collector.trace(&s.trace_id);
        let undone = |step: &str| {
            spans.iter().any(|x| {
                x.attr("aftersales.kind") == Some("compensation")
                    && x.attr("aftersales.step") == Some(step)
                    && x.attr("aftersales.outcome") == Some("succeeded")
            })
        };
        if undone("ship_replacement") && undone("charge_difference") {
            break spans;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no compensation spans in {:?}",
            spans.iter().map(|x| &x.name).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    for step in ["ship_replacement", "charge_difference"] {
        let sent = spans
            .iter()
            .find(|x| {
                x.attr("aftersales.kind") == Some("compensation")
                    && x.attr("aftersales.step") == Some(step)
                    && x.kind == 4
            })
            .unwrap_or_else(|| panic!("no compensation command span for {step}"));
        assert_eq!(sent.attr("aftersales.flow"), Some("exchange"));
    }
    let failure = spans
        .iter()
        .find(|x| {
            x.attr("aftersales.step") == Some("mark_replacement_shipped")
                && x.attr("aftersales.outcome") == Some("business_failure")
        })
        .expect("the failure span");
    assert_eq!(failure.status_code, 2, "error status");
    // logistics voided the waybill and payments the charge, each consuming the command in this
    // trace.
    for service in ["logistics", "payments"] {
        assert!(
            spans.iter().any(|x| x.service == service
                && x.kind == 5
                && x.attr("messaging.consumer.group.name")
                    == Some(&*format!("{service}.commands"))),
            "{service} did not take part in the trace"
        );
    }
}

const PROCESSES: [&str; 7] = [
    "orchestrator",
    "orders",
    "returns",
    "repairs",
    "logistics",
    "payments",
    "complaints",
];

async fn metrics_of(w: &World, process: &str) -> String {
    let addr = w.env.metrics_addr(process).expect("started");
    let (head, body) = scrape(addr).await.expect("scrape");
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "{process}: {head}"
    );
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{process}: {head}"
    );
    assert!(
        body.trim_end().ends_with("# EOF"),
        "{process}: not OpenMetrics"
    );
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_process_serves_metrics_and_the_saga_counters_move_with_a_return() {
    let mut w = World::start(&[]).await;
    let return_refund = [("flow", "return_refund")];
    for p in PROCESSES {
        let text = metrics_of(&w, p).await;
        for family in [
            "aftersales_outbox_backlog_messages",
            "aftersales_outbox_oldest_age_seconds",
            "aftersales_rpc_server_requests",
        ] {
            assert!(
                text.contains(&format!("# TYPE {family} ")),
                "{p} lacks {family}"
            );
        }
    }
    let before = metrics_of(&w, "orchestrator").await;
    assert!(before.contains("# TYPE aftersales_saga_timers_due gauge"));
    assert_eq!(
        sample(&before, "aftersales_sagas_started_total", &return_refund),
        0.0
    );

    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::ReturnRefund).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");

    // The orchestrator: one saga started and completed, none compensated or parked, the steps
    // timed, no timer overdue.
    let orch = metrics_of(&w, "orchestrator").await;
    assert_eq!(
        sample(&orch, "aftersales_sagas_started_total", &return_refund),
        1.0
    );
    assert_eq!(
        sample(&orch, "aftersales_sagas_completed_total", &return_refund),
        1.0
    );
    assert_eq!(
        sample(&orch, "aftersales_sagas_compensated_total", &return_refund),
        0.0
    );
    assert_eq!(
        sample(&orch, "aftersales_sagas_parked_total", &return_refund),
        0.0
    );
    assert_eq!(
        sample(
            &orch,
            "aftersales_saga_step_duration_seconds_count",
            &[
                ("flow", "return_refund"),
                ("step", "refund"),
                ("kind", "command")
            ]
        ),
        1.0
    );
    let replies = sample(
        &orch,
        "aftersales_messages_consumed_total",
        &[("queue", "orchestrator.replies"), ("outcome", "processed")],
    );
    // Every command the saga sent was answered once.
    let commands = sample(
        &orch,
        "aftersales_messages_published_total",
        &[("exchange", "commands")],
    );
    assert!(commands >= 5.0, "{commands} commands:\n{orch}");
    assert_eq!(replies, commands, "{orch}");
    // returns: the buyer's CreateCase calls counted (the refused retries too), events published.
    let returns = metrics_of(&w, "returns").await;
    assert!(
        sample(
            &returns,
            "aftersales_rpc_server_requests_total",
            &[
                ("rpc_service", "aftersales.returns.v1.ReturnsService"),
                ("rpc_method", "CreateCase"),
                ("grpc_code", "OK")
            ]
        ) >= 1.0
    );
    assert!(
        sample(
            &returns,
            "aftersales_rpc_server_duration_seconds_count",
            &[("rpc_method", "CreateCase")]
        ) >= 1.0
    );
    assert!(
        sample(
            &returns,
            "aftersales_messages_published_total",
            &[("exchange", "events")]
        ) >= 1.0
    );
    // payments: the refund command consumed once, nothing dead-lettered.
    let payments = metrics_of(&w, "payments").await;
    assert!(
        sample(
            &payments,
            "aftersales_messages_consumed_total",
            &[("queue", "payments.commands"), ("outcome", "processed")]
        ) >= 1.0
    );
    assert_eq!(
        sample(&payments, "aftersales_messages_dead_lettered_total", &[]),
        0.0
    );
    // complaints: both SLA breach series exist from the start.
    let complaints = metrics_of(&w, "complaints").await;
    assert!(complaints.contains("aftersales_sla_breaches_total{kind=\"work_order\"} 0"));

    prometheus_scrapes_every_process(&w).await;
}

/// Debian's Prometheus (2.42, installed by scripts/bootstrap.sh) is the real client: it scrapes
/// the seven endpoints, finds every target up, and reads the saga counter.
async fn prometheus_scrapes_every_process(w: &World) {
    let dir = std::env::temp_dir().join(format!("aftersales-prom-{}", w.env.id));
    std::fs::create_dir_all(&dir).unwrap();
    let targets: Vec<String> = PROCESSES
        .iter()
        .map(|p| format!("'{}'", w.env.metrics_addr(p).unwrap()))
        .collect();
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: aftersales\n    static_configs:\n      - targets: [{}]\n",
        targets.join(", ")
    );
    std::fs::write(dir.join("prometheus.yml"), config).unwrap();
    let web = aftersales_test_support::free_port();
    let mut prometheus = std::process::Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
        .spawn()
        .expect("prometheus is installed by scripts/bootstrap.sh");
    let query = |expr: &str| {
        let out = std::process::Command::new("promtool")
            .args(["query", "instant", &format!("http://{web}"), expr])
            .output()
            .expect("promtool is installed with prometheus");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (up, completed) = loop {
        let up = query("sum(up)");
        let completed = query("sum(aftersales_sagas_completed_total{flow=\"return_refund\"})");
        if up.contains("=> 7 @") && completed.contains("=> 1 @") {
            break (up, completed);
        }
        if tokio::time::Instant::now() > deadline {
            let _ = prometheus.kill();
            panic!(
                "prometheus: up {up:?}, completed {completed:?}; log in {}",
                dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let _ = prometheus.kill();
    let _ = prometheus.wait();
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("prometheus: {} / {}", up.trim(), completed.trim());
}
