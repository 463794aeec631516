//! Refund-only before shipment (急速退款). Started when returns approves a REFUND_ONLY case on an
//! order that has not shipped (it does so at once when the case is opened).
//!
//! ```text
//! void_waybill ──▶ cancel_lines (per line) ──▶ refund [pivot] ──▶ refund_settled?
//!  undo: reissue     undo: reverse canceled        │ FAILED → retry under a new key,
//!                                                   │ exhausted → park (finance work order)
//!   ┌───────────────────────────────────────────────┘
//!   ├─ SUCCEEDED ─────────────────────────────┐
//!   └─ PENDING / MANUAL_REVIEW → await_refund ┤ (payments.refund.succeeded | failed,
//!                                             │  deadline → park, retry re-runs `refund`)
//! mark_refunding ─▶ record_refunded ─▶ count_refunded_lines (per line) ─▶ complete_case
//! ```
//! A business failure before the pivot (the parcel was picked up meanwhile, the order shipped)
//! compensates in reverse order: canceled lines are restored, voided waybills reissued.

use super::common::{case_start, order_lines, refund_status, system};
use crate::engine::flow::{
    Action, Branch, Cmd, CmdResult, CommandStep, Ctx, Data, DecisionStep, Department, Flow, Next,
    OnTimeout, Outcome, ParallelStep, Step, Trigger, WaitOutcome, WaitStep,
};
use aftersales_proto::common::v1::Money;
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use aftersales_proto::returns::v1 as returns;
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "refund_only_not_shipped";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "returns.case.auto_approved",
            start: |event| {
                case_start(event, |case| {
                    case.case_type == returns::CaseType::RefundOnly as i32
                        && case.shipment_state_at_request
                            == returns::ShipmentState::NotShipped as i32
                        && case.status == returns::CaseStatus::Approved as i32
                })
            },
        },
        steps: vec![
            Step::Command(CommandStep {
                name: "void_waybill",
                action: Action {
                    build: |c| {
                        Ok(Cmd::new(
                            "logistics",
                            &logistics::VoidOrderWaybillsRequest {
                                idempotency_key: c.key.into(),
                                actor: Some(system()),
                                order_id: c.str("order_id")?,
                                case_id: c.str("case_id")?,
                                reason: "refund-only before shipment".into(),
                            },
                        ))
                    },
                    on_result: None,
                },
                compensation: Some(Action {
                    build: |c| {
                        Ok(Cmd::new(
                            "logistics",
                            &logistics::ReissueOrderWaybillsRequest {
                                idempotency_key: c.key.into(),
                                actor: Some(system()),
                                order_id: c.str("order_id")?,
                                case_id: c.str("case_id")?,
                                reason: "refund-only saga compensated".into(),
                            },
                        ))
                    },
                    on_result: None,
                }),
                pivot: false,
                department: Department::Delivery,
            }),
            Step::Parallel(ParallelStep {
                name: "cancel_lines",
                items: order_lines,
                branch: Branch::Command(CommandStep {
                    name: "cancel_line",
                    action: Action {
                        build: |c| line_progress(c, orders::LineProgressKind::Canceled),
                        on_result: None,
                    },
                    compensation: Some(Action {
                        build: |c| {
                            Ok(Cmd::new(
                                "orders",
                                &orders::ReverseLineProgressRequest {
                                    idempotency_key: c.key.into(),
                                    actor: Some(system()),
                                    order_id: c.str("order_id")?,
                                    line_id: c.item_str("line_id")?,
                                    kind: orders::LineProgressKind::Canceled as i32,
                                    quantity: u32::try_from(c.item_u64("quantity")?)
                                        .map_err(|e| e.to_string())?,
                                    case_id: c.str("case_id")?,
                                    reason: "refund-only saga compensated".into(),
                                },
                            ))
                        },
                        on_result: None,
                    }),
                    pivot: false,
                    department: Department::CustomerService,
                }),
            }),
            Step::Command(CommandStep {
                name: "refund",
                action: Action {
                    build: |c| {
                        Ok(Cmd::new(
                            "payments",
                            &payments::CreateRefundRequest {
                                idempotency_key: c.key.into(),
                                order_id: c.str("order_id")?,
                                case_id: c.str("case_id")?,
                                amount: Some(amount(c)?),
                                reason: "refund-only before shipment".into(),
                                actor: Some(system()),
                                ..Default::default()
                            },
                        ))
                    },
                    on_result: Some(record_refund),
                },
                compensation: None,
                pivot: true,
                department: Department::Finance,
            }),
            Step::Decision(DecisionStep {
                name: "refund_settled",
                decide: |d| {
                    Ok(match refund_status(d) {
                        Some("SUCCEEDED") => Next::Goto("mark_refunding"),
                        _ => Next::Continue,
                    })
                },
            }),
            Step::Wait(WaitStep {
                name: "await_refund",
                events: &["payments.refund.succeeded", "payments.refund.failed"],
                key_name: "refund_id",
                key_value: |c| c.str("refund_id"),
                on_event: |data, _, event| match event.name.as_str() {
                    "payments.refund.succeeded" => {
                        data.insert("refund_status".into(), json!("SUCCEEDED"));
                        WaitOutcome::Done
                    }
                    _ => WaitOutcome::Fail("refund_failed".into()),
                },
                deadline: ("refund_confirmation", Duration::from_secs(24 * 3600)),
                on_timeout: OnTimeout::Park("refund not confirmed in time"),
                retry_from: Some("refund"),
                department: Department::Finance,
            }),
            Step::Command(CommandStep {
                name: "mark_refunding",
                action: Action {
                    build: |c| {
                        Ok(Cmd::new(
                            "returns",
                            &returns::MarkRefundingRequest {
                                idempotency_key: c.key.into(),
                                actor: Some(system()),
                                case_id: c.str("case_id")?,
                            },
                        ))
                    },
                    on_result: None,
                },
                compensation: None,
                pivot: false,
                department: Department::CustomerService,
            }),
            Step::Command(CommandStep {
                name: "record_refunded",
                action: Action {
                    build: |c| {
                        Ok(Cmd::new(
                            "returns",
                            &returns::RecordRefundedRequest {
                                idempotency_key: c.key.into(),
                                actor: Some(system()),
                                case_id: c.str("case_id")?,
                                amount: Some(amount(c)?),
                                refund_id: c.str("refund_id")?,
                            },
                        ))
                    },
                    on_result: None,
                },
                compensation: None,
                pivot: false,
                department: Department::CustomerService,
            }),
            Step::Parallel(ParallelStep {
                name: "count_refunded_lines",
                items: order_lines,
                branch: Branch::Command(CommandStep {
                    name: "count_refunded_line",
                    action: Action {
                        build: |c| line_progress(c, orders::LineProgressKind::Refunded),
                        on_result: None,
                    },
                    compensation: None,
                    pivot: false,
                    department: Department::CustomerService,
                }),
            }),
            Step::Command(CommandStep {
                name: "complete_case",
                action: Action {
                    build: |c| {
                        Ok(Cmd::new(
                            "returns",
                            &returns::CompleteCaseRequest {
                                idempotency_key: c.key.into(),
                                actor: Some(system()),
                                case_id: c.str("case_id")?,
                            },
                        ))
                    },
                    on_result: None,
                },
                compensation: None,
                pivot: false,
                department: Department::CustomerService,
            }),
        ],
    }
}

fn amount(c: &Ctx) -> Result<Money, String> {
    Ok(Money {
        minor_units: c.i64("amount_minor")?,
        currency: c.str("currency")?,
    })
}

fn line_progress(c: &Ctx, kind: orders::LineProgressKind) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "orders",
        &orders::RecordLineProgressRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            order_id: c.str("order_id")?,
            line_id: c.item_str("line_id")?,
            kind: kind as i32,
            quantity: u32::try_from(c.item_u64("quantity")?).map_err(|e| e.to_string())?,
            case_id: c.str("case_id")?,
        },
    ))
}

/// Keeps the refund id and status; a refund the provider refused is retried under a new key.
fn record_refund(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    let refund = match result.decode::<payments::CreateRefundResponse>() {
        Ok(r) => r.refund.unwrap_or_default(),
        Err(e) => return Outcome::Fail(e),
    };
    let status = payments::RefundStatus::try_from(refund.status)
        .unwrap_or(payments::RefundStatus::Unspecified);
    let name = status
        .as_str_name()
        .trim_start_matches("REFUND_STATUS_")
        .to_owned();
    data.insert("refund_id".into(), json!(refund.refund_id));
    data.insert("refund_status".into(), json!(name));
    match status {
        payments::RefundStatus::Failed => Outcome::Retry(format!(
            "refund {} failed: {}",
            refund.refund_id, refund.failure_reason
        )),
        payments::RefundStatus::Unspecified => Outcome::Fail("refund without status".into()),
        _ => Outcome::Done,
    }
}
