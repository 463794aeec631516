//! `aftersales-demo <flow>`: runs one after-sales flow against a running system (`just up`)
//! through the public gRPC APIs, playing every party, then prints the saga's timeline and checks
//! the final state of every service it touched. Exits 1 when the flow did not end as expected.

use aftersales_demo::arbitration::Verdict;
use aftersales_demo::repair::{Finding, RepairOutcome};
use aftersales_demo::{Endpoints, Parties, status};
use aftersales_proto::logistics::v1::InterceptionResult;
use aftersales_proto::orchestrator::v1::{Saga, SagaStatus};
use aftersales_proto::returns::v1::{ArbitrationStatus, RulingOutcome};
use aftersales_proto::returns::v1::{
    CaseType as ReturnsCaseType, InspectionStatus as Inspection, ReasonCode,
};
use clap::{Parser, ValueEnum};
use std::process::ExitCode;
use std::time::Duration;
use tracing::Instrument as _;

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Which flow to run.
    #[arg(value_enum)]
    flow: FlowArg,
    /// Host where the services listen on their default ports.
    #[arg(long, default_value = "127.0.0.1", env = "AFTERSALES_DEMO_HOST")]
    host: String,
    /// How long to wait for the saga to finish.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FlowArg {
    /// Every flow below, one after the other.
    All,
    /// Refund-only before shipment: void the waybill, cancel the lines, refund, complete.
    #[value(alias = "refund_only_not_shipped")]
    RefundOnlyNotShipped,
    /// Refund-only in transit: the courier intercepts the parcel, the merchant agrees, refund.
    #[value(alias = "refund_only_in_transit")]
    RefundOnlyInTransit,
    /// Return and refund: the parcel comes back, the warehouse inspects, accepted items refunded.
    #[value(alias = "return_refund")]
    ReturnRefund,
    /// A complaint: work orders to every department it needs, resolution, follow-up visit.
    #[value(alias = "complaint_work_orders")]
    ComplaintWorkOrders,
    /// Exchange: the parcel comes back, the warehouse inspects and picks a replacement, it ships.
    Exchange,
    /// Reship a wrong item: the warehouse verifies, the right item ships, the merchant pays the
    /// return label, the buyer gets store credit.
    Reship,
    /// Repair round trip out of warranty: label, receipt, diagnosis, quote approved and charged,
    /// repaired, shipped back, signed for.
    #[value(alias = "repair_round_trip")]
    Repair,
    /// Platform arbitration: a rejected refund escalated, evidence, a ruling for the buyer, the
    /// merchant's appeal, a final split refunded.
    Arbitration,
}

const FLOWS: [FlowArg; 8] = [
    FlowArg::RefundOnlyNotShipped,
    FlowArg::RefundOnlyInTransit,
    FlowArg::ReturnRefund,
    FlowArg::ComplaintWorkOrders,
    FlowArg::Exchange,
    FlowArg::Reship,
    FlowArg::Repair,
    FlowArg::Arbitration,
];

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        // With OTEL_EXPORTER_OTLP_ENDPOINT set, each flow is exported as one trace: the demo's
        // root span, every party's call, and the saga and services it drives.
        let telemetry = aftersales_platform::telemetry::init(
            "aftersales-demo",
            &aftersales_platform::config::TelemetrySettings {
                log_format: aftersales_platform::config::LogFormat::Text,
                log_filter: "warn".into(),
            },
        );
        let result = run(cli).await;
        // Flush the spans (on a multi-thread runtime: the exporter needs the runtime's IO).
        drop(telemetry);
        result
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

impl FlowArg {
    /// The flow's name, as the orchestrator knows it.
    fn name(self) -> &'static str {
        match self {
            FlowArg::All => "all",
            FlowArg::RefundOnlyNotShipped => "refund_only_not_shipped",
            FlowArg::RefundOnlyInTransit => "refund_only_in_transit",
            FlowArg::ReturnRefund => "return_refund",
            FlowArg::ComplaintWorkOrders => "complaint_work_orders",
            FlowArg::Exchange => "exchange",
            FlowArg::Reship => "reship",
            FlowArg::Repair => "repair_round_trip",
            FlowArg::Arbitration => "arbitration",
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<bool> {
    let mut parties = Parties::connect(&Endpoints::defaults(&cli.host)).await?;
    let within = Duration::from_secs(cli.timeout_secs);
    let flows: Vec<FlowArg> = match cli.flow {
        FlowArg::All => FLOWS.to_vec(),
        one => vec![one],
    };
    let mut all_ok = true;
    for flow in flows {
        let span = tracing::info_span!(
            "demo",
            otel.name = %format!("demo {}", flow.name()),
            aftersales.flow = flow.name(),
        );
        let trace_id = aftersales_platform::trace::trace_id(
            &span.in_scope(aftersales_platform::trace::current),
        );
        if !trace_id.is_empty() {
            println!("trace id: {trace_id}");
        }
        let ok = run_flow(flow, &mut parties, within)
            .instrument(span)
            .await?;
        all_ok &= ok;
    }
    Ok(all_ok)
}

async fn run_flow(flow: FlowArg, parties: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    let parties = &mut *parties;
    Ok({
        match flow {
            FlowArg::RefundOnlyNotShipped => refund_only_not_shipped(parties, within).await?,
            FlowArg::RefundOnlyInTransit => refund_only_in_transit(parties, within).await?,
            FlowArg::ReturnRefund => return_refund(parties, within).await?,
            FlowArg::ComplaintWorkOrders => complaint_work_orders(parties, within).await?,
            FlowArg::Exchange => exchange(parties, within).await?,
            FlowArg::Reship => reship(parties, within).await?,
            FlowArg::Repair => repair(parties, within).await?,
            FlowArg::Arbitration => arbitration(parties, within).await?,
            FlowArg::All => true,
        }
    })
}

async fn refund_only_not_shipped(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== refund_only_not_shipped");
    println!("storefront: order placed and paid (145.00 CNY), merchant: forward waybill created");
    let placed = p.place_order().await?;
    println!("buyer: refund-only case for every unit, before shipment");
    let case_id = p.open_refund_only(&placed).await?;
    finish(p, &case_id.clone(), within, |p| {
        Box::pin(async move { p.refund_only_effects(&placed, &case_id).await })
    })
    .await
}

async fn refund_only_in_transit(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== refund_only_in_transit");
    println!(
        "storefront: order placed and paid (145.00 CNY); merchant: shipped; courier: in transit"
    );
    let placed = p.place_shipped_order().await?;
    println!("buyer: refund-only case while the parcel is on its way");
    let case_id = p.open_refund_only(&placed).await?;
    println!("merchant: approves the refund");
    p.merchant_decides(&case_id, true).await?;
    println!("courier: accepts and completes the interception requested by the saga");
    p.courier_answers_interception(&placed, InterceptionResult::Intercepted, within)
        .await?;
    finish(p, &case_id.clone(), within, |p| {
        Box::pin(async move { p.in_transit_effects(&placed, &case_id).await })
    })
    .await
}

async fn return_refund(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== return_refund");
    println!("storefront: order placed and paid (145.00 CNY); courier: delivered; buyer: signed");
    let placed = p.place_delivered_order().await?;
    println!("buyer: no-reason return of every unit");
    let case_id = p.open_case(&placed, ReturnsCaseType::ReturnRefund).await?;
    println!("merchant: approves");
    p.merchant_decides(&case_id, true).await?;
    println!(
        "buyer: ships it back; warehouse: receives, accepts line A (resellable), rejects line B"
    );
    p.return_leg(&placed, &case_id, |n| {
        if n == 0 {
            (Inspection::Accepted, true)
        } else {
            (Inspection::Rejected, false)
        }
    })
    .await?;
    finish(p, &case_id.clone(), within, |p| {
        Box::pin(async move { p.return_effects(&placed, &case_id).await })
    })
    .await
}

async fn exchange(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== exchange");
    println!("storefront: order placed and paid (145.00 CNY); courier: delivered; buyer: signed");
    let placed = p.place_delivered_order().await?;
    println!(
        "buyer: exchange of the two kettles (wrong size) for the XL at 80.00 each: 30.00 more \
         than the 130.00 paid for them"
    );
    let case_id = p
        .open_exchange_for_variants(&placed, &[(0, "KETTLE-XL", 8_000)])
        .await?;
    println!("merchant: approves");
    p.merchant_decides(&case_id, true).await?;
    println!(
        "buyer: ships it back with the saga's return label; warehouse: receives, accepts all \
         (resellable)"
    );
    p.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await?;
    println!(
        "warehouse: picks the replacement (completes the stock-check work order); the saga \
         charges the 30.00 difference before it ships"
    );
    p.warehouse_answers(&case_id, true, within).await?;
    finish(p, &case_id.clone(), within, |p| {
        Box::pin(async move { p.exchange_effects(&placed, &case_id).await })
    })
    .await
}

async fn reship(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== reship");
    println!("storefront: order placed and paid (145.00 CNY); courier: delivered; buyer: signed");
    let placed = p.place_delivered_order().await?;
    println!("buyer: line B arrived as another product (WRONG_ITEM, with a photo)");
    let case_id = p
        .open_case_for(
            &placed,
            ReturnsCaseType::Reship,
            ReasonCode::WrongItem,
            &[1],
        )
        .await?;
    println!("merchant: approves");
    p.merchant_decides(&case_id, true).await?;
    println!(
        "warehouse: confirms the wrong item from the packing record (verification work order)"
    );
    p.warehouse_answers(&case_id, true, within).await?;
    println!(
        "saga: reships the right item, issues a merchant-paid return label, credits the buyer"
    );
    finish(p, &case_id.clone(), within, |p| {
        Box::pin(async move { p.reship_effects(&placed, &case_id).await })
    })
    .await
}

async fn repair(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== repair_round_trip");
    println!("storefront: order placed and paid (145.00 CNY); courier: delivered; buyer: signed");
    let placed = p.place_delivered_order().await?;
    println!(
        "buyer: sends one unit of line A for repair (torn zip); staff: register a repair center \
         and assign it"
    );
    let r = p.open_repair(&placed).await?;
    println!(
        "saga: issues the label toward the repair center; courier: delivers; repair center: \
         acknowledges and starts diagnosing"
    );
    p.repair_center_receives(&r, within).await?;
    println!("repair center: liquid damage voids the warranty; quotes 80.00");
    p.repair_center_diagnoses(&r, Finding::Quote(8_000)).await?;
    println!("buyer: approves the quote the saga showed; saga: charges it");
    p.buyer_answers_quote(&r, true, within).await?;
    println!("repair center: reports the item repaired once the charge went through");
    p.repair_center_finishes(&r, true, within).await?;
    println!("saga: ships the item back; courier: the buyer signs for it");
    p.courier_brings_it_back(&r, within).await?;
    finish_key(p, &r.saga_key(), within, |p| {
        Box::pin(async move {
            p.repair_effects(
                &r,
                RepairOutcome::Repaired {
                    charged: Some(8_000),
                },
            )
            .await
        })
    })
    .await
}

async fn arbitration(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== arbitration");
    println!("storefront: order placed and paid (145.00 CNY); courier: delivered; buyer: signed");
    let placed = p.place_delivered_order().await?;
    println!(
        "buyer: refund without return for a stained jacket (QUALITY, photo); merchant: rejects"
    );
    let case_id = p.rejected_refund_only(&placed).await?;
    println!("buyer: escalates to the platform (平台介入): money on the case is frozen");
    let key = p.escalate(&placed, &case_id).await?;
    println!("merchant: uploads the packing video before the evidence deadline");
    p.merchant_submits_evidence(&case_id).await?;
    println!("platform: rules for the buyer");
    p.platform_rules(&case_id, RulingOutcome::ForBuyer, None, within)
        .await?;
    let requested = p
        .case(&case_id)
        .await?
        .requested_amount
        .map(|m| m.minor_units)
        .unwrap_or(0);
    let split = requested / 2;
    println!(
        "merchant: appeals within the window; platform: final ruling SPLIT ({split} of {requested})"
    );
    p.appeal_ruling(&placed, &case_id, true).await?;
    p.platform_rules(&case_id, RulingOutcome::Split, Some(split), within)
        .await?;
    finish_key(p, &key, within, |p| {
        Box::pin(async move {
            p.arbitration_effects(
                &placed,
                &case_id,
                Verdict::Award(split),
                ArbitrationStatus::Final,
            )
            .await
        })
    })
    .await
}

async fn complaint_work_orders(p: &mut Parties, within: Duration) -> anyhow::Result<bool> {
    println!("== complaint_work_orders");
    let placed = p.place_order().await?;
    println!("customer: complains on the hotline that the kettle leaks (QUALITY)");
    println!("customer service: acknowledges and starts investigating");
    let complaint_id = p.complaint_under_investigation(&placed).await?;
    println!("warehouse and merchant: take, start and complete the work orders the saga opened");
    let answered = p.departments_answer(&complaint_id, 2, within).await?;
    println!("customer service: follow-up call once the saga resolved the complaint");
    p.follow_up(&complaint_id, within).await?;
    let summary = p
        .wait_key(&format!("complaint:{complaint_id}"), within)
        .await?;
    let saga = p.saga(&summary.saga_id).await?;
    print_timeline(&saga);
    let complaint = p.complaint(&complaint_id).await?;
    let resolved = complaint.status
        == aftersales_proto::complaints::v1::ComplaintStatus::Resolved as i32
        && complaint.resolution_sent_at.is_some();
    if status(&summary) == SagaStatus::Completed && resolved && answered == 2 {
        println!(
            "ok: saga {} COMPLETED; 2 work orders answered, complaint resolved and the note sent",
            summary.saga_id
        );
        Ok(true)
    } else {
        println!(
            "unexpected: saga {} ended {:?}; complaint status {}",
            summary.saga_id,
            status(&summary),
            complaint.status
        );
        Ok(false)
    }
}

/// Waits for the saga, prints its timeline and the check of every service's final state.
async fn finish<'a>(
    p: &'a mut Parties,
    case_id: &str,
    within: Duration,
    effects: impl FnOnce(
        &'a mut Parties,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = anyhow::Result<Vec<String>>> + 'a>,
    >,
) -> anyhow::Result<bool> {
    finish_key(p, &format!("case:{case_id}"), within, effects).await
}

/// Like [`finish`], for the saga of any business key (`repair:<id>`, `arbitration:<..>`).
async fn finish_key<'a>(
    p: &'a mut Parties,
    business_key: &str,
    within: Duration,
    effects: impl FnOnce(
        &'a mut Parties,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = anyhow::Result<Vec<String>>> + 'a>,
    >,
) -> anyhow::Result<bool> {
    let summary = match p
        .try_wait_key(business_key, within, aftersales_demo::terminal)
        .await
    {
        Ok(s) => s,
        Err(last) => {
            anyhow::bail!("the saga of {business_key} did not finish in time: {last:?}")
        }
    };
    let saga = p.saga(&summary.saga_id).await?;
    print_timeline(&saga);
    let problems = effects(p).await?;
    let completed = status(&summary) == SagaStatus::Completed;
    if completed && problems.is_empty() {
        println!(
            "ok: saga {} COMPLETED and every service agrees",
            summary.saga_id
        );
        println!("see it again: aftersalesctl saga show {}", summary.saga_id);
        Ok(true)
    } else {
        println!(
            "unexpected: saga {} ended {:?}; {}",
            summary.saga_id,
            status(&summary),
            problems.join("; ")
        );
        Ok(false)
    }
}

fn print_timeline(saga: &Saga) {
    if let Some(s) = &saga.summary {
        println!(
            "saga {} {}@{} {}",
            s.saga_id, s.flow, s.flow_version, s.business_key
        );
    }
    for e in &saga.timeline {
        let step = if e.step.is_empty() { "-" } else { &e.step };
        let elapsed = if e.elapsed_ms > 0 {
            format!("{}ms", e.elapsed_ms)
        } else {
            String::new()
        };
        println!(
            "  {:>3}  {:<22} {:<12} #{:<2} {:<17} {:>7}  {}",
            e.seq, step, e.kind, e.attempt, e.outcome, elapsed, e.detail
        );
    }
}
