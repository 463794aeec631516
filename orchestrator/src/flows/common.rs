//! Helpers every flow shares: the system actor, starting from a case snapshot, line items.

use crate::engine::flow::{
    Branch, Cmd, CmdResult, CommandStep, Ctx, Data, DecisionStep, Department, Next, OnTimeout,
    Outcome, ParallelStep, Step, WaitOutcome, WaitStep,
};
use aftersales_proto::common::v1::Actor;
use aftersales_proto::common::v1::Money;
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use aftersales_proto::returns::v1 as returns;
use prost::{Message, Name};
use serde_json::{Value, json};
use std::time::Duration;

/// The orchestrator acting on its own.
pub fn system() -> Actor {
    crate::engine::machine::system_actor()
}

/// Decodes the case snapshot of a `returns.case.*` event and, when `applies` says the flow is
/// for it, returns the business key `case:<id>` and the saga's initial data.
pub fn case_start(
    event: &DomainEvent,
    applies: fn(&returns::Case) -> bool,
) -> Result<Option<(String, Data)>, String> {
    if event.snapshot_type != returns::Case::full_name() {
        return Err(format!("unexpected snapshot {}", event.snapshot_type));
    }
    let case = returns::Case::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable case snapshot: {e}"))?;
    if !applies(&case) {
        return Ok(None);
    }
    let amount = case
        .refund_due
        .clone()
        .filter(|m| m.minor_units > 0)
        .or(case.approved_amount.clone())
        .unwrap_or_default();
    let items: Vec<Value> = case
        .items
        .iter()
        .map(|i| json!({ "line_id": i.line_id, "quantity": i.quantity }))
        .collect();
    let mut data = Data::new();
    data.insert("case_id".into(), json!(case.case_id));
    data.insert("order_id".into(), json!(case.order_id));
    data.insert("merchant_id".into(), json!(case.merchant_id));
    data.insert("buyer_id".into(), json!(case.buyer_id));
    data.insert("amount_minor".into(), json!(amount.minor_units));
    data.insert("currency".into(), json!(amount.currency));
    data.insert("items".into(), Value::Array(items));
    data.insert("return_required".into(), json!(case.return_required));
    data.insert(
        "merchant_pays_return_shipping".into(),
        json!(case.merchant_pays_return_shipping),
    );
    Ok(Some((format!("case:{}", case.case_id), data)))
}

/// The case's order lines (`{line_id, quantity}`), one parallel branch each.
pub fn order_lines(data: &Data) -> Result<Vec<Value>, String> {
    data.get("items")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| "saga data has no items".to_owned())
}

/// The last known refund status (`SUCCEEDED`, `PENDING`, ...).
pub fn refund_status(data: &Data) -> Option<&str> {
    data.get("refund_status").and_then(Value::as_str)
}

/// A flow's steps from its parts (its own steps and shared tails).
pub fn join<const N: usize>(parts: [Vec<Step>; N]) -> Vec<Step> {
    parts.into_iter().flatten().collect()
}

/// The merchant's answer to a case: wait for approval (or the buyer accepting the merchant's
/// partial-refund offer; a rejection or an escalation is a business failure), and on silence
/// past `merchant_decision` (48 h, returns' own window) auto-approve.
pub fn merchant_decision() -> Vec<Step> {
    vec![
        Step::Wait(WaitStep {
            name: "await_merchant",
            events: &[
                "returns.case.approved",
                "returns.case.auto_approved",
                "returns.case.offer_accepted",
                "returns.case.rejected",
                "returns.arbitration.opened",
            ],
            key_name: "case_id",
            key_value: |c| c.str("case_id"),
            on_event: |data, _, event| match event.name.as_str() {
                "returns.case.rejected" => WaitOutcome::Fail("merchant_rejected".into()),
                // The buyer escalated a negotiation: the arbitration saga takes the case over.
                "returns.arbitration.opened" => WaitOutcome::Fail("escalated".into()),
                _ => {
                    data.insert("approved".into(), json!(true));
                    // An accepted offer (or a ruling) may settle without the goods coming back.
                    if let Ok(case) = returns::Case::decode(event.snapshot.as_slice()) {
                        data.insert("return_required".into(), json!(case.return_required));
                    }
                    WaitOutcome::Done
                }
            },
            deadline: ("merchant_decision", Duration::from_secs(48 * 3600)),
            on_timeout: OnTimeout::Continue,
            retry_from: None,
            department: Department::CustomerService,
        }),
        Step::Decision(DecisionStep {
            name: "merchant_answered",
            decide: |d| {
                Ok(if d.get("approved") == Some(&json!(true)) {
                    Next::Goto("merchant_done")
                } else {
                    Next::Continue
                })
            },
        }),
        Step::Command(CommandStep::new("auto_approve", |c| {
            Ok(Cmd::new(
                "returns",
                &returns::AutoApproveCaseRequest {
                    idempotency_key: c.key.into(),
                    actor: Some(system()),
                    case_id: c.str("case_id")?,
                },
            ))
        })),
        Step::Decision(DecisionStep {
            name: "merchant_done",
            decide: |_| Ok(Next::Continue),
        }),
    ]
}

/// When returns fixes the refund amount: after the refund (refund-only: the amount is the
/// case's refund due from the start), or before it (returns: only the accepted items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkRefunding {
    AfterRefund,
    BeforeRefund,
}

/// The money end of every refund flow: refund the case's refund due by order (the pivot; a
/// refused refund is retried under a new key), wait for a late confirmation when the provider
/// left it pending (24 h, then park for finance; an operator retry re-runs the refund), then tell
/// returns and orders and complete the case.
pub fn refund_and_close(mark: MarkRefunding) -> Vec<Step> {
    let step = CommandStep::new("mark_refunding", |c| {
        Ok(Cmd::new(
            "returns",
            &returns::MarkRefundingRequest {
                idempotency_key: c.key.into(),
                actor: Some(system()),
                case_id: c.str("case_id")?,
            },
        ))
    });
    let mark_step = Step::Command(if mark == MarkRefunding::BeforeRefund {
        step.on_result(take_refund_amount)
    } else {
        step
    });
    let mut steps = Vec::new();
    if mark == MarkRefunding::BeforeRefund {
        steps.push(mark_step);
        steps.extend(refund_steps(mark));
    } else {
        steps.extend(refund_steps(mark));
        steps.push(mark_step);
    }
    steps.extend(close_steps());
    steps
}

fn refund_steps(mark: MarkRefunding) -> Vec<Step> {
    vec![
        Step::Command(
            CommandStep::new("refund", |c| {
                Ok(Cmd::new(
                    "payments",
                    &payments::CreateRefundRequest {
                        idempotency_key: c.key.into(),
                        order_id: c.str("order_id")?,
                        case_id: c.str("case_id")?,
                        amount: Some(amount(c)?),
                        reason: "after-sale case refund".into(),
                        actor: Some(system()),
                        ..Default::default()
                    },
                ))
            })
            .on_result(record_refund)
            .pivot()
            .department(Department::Finance),
        ),
        Step::Decision(DecisionStep {
            name: "refund_settled",
            decide: if mark == MarkRefunding::AfterRefund {
                |d| {
                    Ok(match refund_status(d) {
                        Some("SUCCEEDED") => Next::Goto("mark_refunding"),
                        _ => Next::Continue,
                    })
                }
            } else {
                |d| {
                    Ok(match refund_status(d) {
                        Some("SUCCEEDED") => Next::Goto("record_refunded"),
                        _ => Next::Continue,
                    })
                }
            },
        }),
        Step::Wait(await_refund(
            "await_refund",
            "refund not confirmed in time",
            Some("refund"),
        )),
    ]
}

/// The provider's late answer to a PENDING refund (24 h, then park for finance; an operator
/// retry re-runs the refund step `retry_from`, or only waits again when it is `None`); a failed
/// refund fails the step.
pub fn await_refund(
    name: &'static str,
    park: &'static str,
    retry_from: Option<&'static str>,
) -> WaitStep {
    WaitStep {
        name,
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
        on_timeout: OnTimeout::Park(park),
        retry_from,
        department: Department::Finance,
    }
}

fn close_steps() -> Vec<Step> {
    vec![
        Step::Command(CommandStep::new("record_refunded", |c| {
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
        })),
        Step::Parallel(ParallelStep {
            name: "count_refunded_lines",
            items: order_lines,
            branch: Branch::Command(CommandStep::new("count_refunded_line", |c| {
                line_progress(c, orders::LineProgressKind::Refunded)
            })),
        }),
        Step::Command(CommandStep::new("complete_case", |c| {
            Ok(Cmd::new(
                "returns",
                &returns::CompleteCaseRequest {
                    idempotency_key: c.key.into(),
                    actor: Some(system()),
                    case_id: c.str("case_id")?,
                },
            ))
        })),
    ]
}

/// After MarkRefunding fixed the amount: refund exactly it, and count only the accepted items.
fn take_refund_amount(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    let case = match result.decode::<returns::MarkRefundingResponse>() {
        Ok(r) => r.case.unwrap_or_default(),
        Err(e) => return Outcome::Fail(e),
    };
    let Some(amount) = case.refund_amount.filter(|m| m.minor_units > 0) else {
        return Outcome::Fail("MarkRefunding fixed no refund amount".into());
    };
    data.insert("amount_minor".into(), json!(amount.minor_units));
    data.insert("currency".into(), json!(amount.currency));
    // After an inspection only the accepted items are refunded; without a return (nothing was
    // inspected) every item of the case is.
    let inspected = case.items.iter().any(|i| {
        i.inspection == returns::InspectionStatus::Accepted as i32
            || i.inspection == returns::InspectionStatus::Rejected as i32
    });
    let refunded: Vec<Value> = case
        .items
        .iter()
        .filter(|i| !inspected || i.inspection == returns::InspectionStatus::Accepted as i32)
        .map(|i| json!({ "line_id": i.line_id, "quantity": i.quantity }))
        .collect();
    data.insert("items".into(), Value::Array(refunded));
    Outcome::Done
}

pub fn amount(c: &Ctx) -> Result<Money, String> {
    Ok(Money {
        minor_units: c.i64("amount_minor")?,
        currency: c.str("currency")?,
    })
}

pub fn item_quantity(c: &Ctx) -> Result<u32, String> {
    u32::try_from(c.item_u64("quantity")?).map_err(|e| e.to_string())
}

pub fn line_progress(c: &Ctx, kind: orders::LineProgressKind) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "orders",
        &orders::RecordLineProgressRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            order_id: c.str("order_id")?,
            line_id: c.item_str("line_id")?,
            kind: kind as i32,
            quantity: item_quantity(c)?,
            case_id: c.str("case_id")?,
        },
    ))
}

/// Keeps the refund id and status; a refund the provider refused is retried under a new key.
pub fn record_refund(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
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

/// Keeps the charge id and its status (`PENDING`, `SUCCEEDED` or `FAILED`). A charge the
/// provider declined took no money: there is nothing for the compensation to void.
pub fn keep_charge(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    let charge = match result.decode::<payments::CreateChargeResponse>() {
        Ok(r) => r.charge.unwrap_or_default(),
        Err(e) => return Outcome::Fail(e),
    };
    let status = payments::ChargeStatus::try_from(charge.status)
        .unwrap_or(payments::ChargeStatus::Unspecified)
        .as_str_name()
        .trim_start_matches("CHARGE_STATUS_")
        .to_owned();
    let declined = status == "FAILED";
    data.insert("charge_id".into(), json!(charge.charge_id));
    data.insert("charge_status".into(), json!(status));
    if declined {
        Outcome::DoneWithoutEffect
    } else {
        Outcome::Done
    }
}

pub fn charge_status(data: &Data) -> Option<&str> {
    data.get("charge_status").and_then(Value::as_str)
}

/// The compensation of a charge: release the authorization, or refund what was captured.
pub fn void_charge(c: &Ctx, reason: &str) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "payments",
        &payments::VoidChargeRequest {
            idempotency_key: c.key.into(),
            charge_id: c.str("charge_id")?,
            reason: reason.into(),
            actor: Some(system()),
        },
    ))
}

/// The provider's late answer to a PENDING charge (24 h, then park for finance).
pub fn await_charge(name: &'static str, park: &'static str) -> WaitStep {
    WaitStep {
        name,
        events: &["payments.charge.succeeded", "payments.charge.failed"],
        key_name: "charge_id",
        key_value: |c| c.str("charge_id"),
        on_event: |data, _, event| {
            let ok = event.name == "payments.charge.succeeded";
            data.insert(
                "charge_status".into(),
                json!(if ok { "SUCCEEDED" } else { "FAILED" }),
            );
            WaitOutcome::Done
        },
        deadline: ("charge_confirmation", Duration::from_secs(24 * 3600)),
        on_timeout: OnTimeout::Park(park),
        retry_from: None,
        department: Department::Finance,
    }
}

/// A shipment logistics addresses itself from the order's forward shipment (a return label, a
/// reship, a replacement, a repair leg); the flow names only its direction and who pays.
pub fn follow_up_shipment(
    c: &Ctx,
    direction: logistics::Direction,
    fee_payer: logistics::FeePayer,
) -> Result<Cmd, String> {
    let repair_leg = matches!(
        direction,
        logistics::Direction::ToRepairCenter | logistics::Direction::FromRepairCenter
    );
    Ok(Cmd::new(
        "logistics",
        &logistics::CreateFollowUpShipmentRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            order_id: c.str("order_id")?,
            direction: direction as i32,
            case_id: if repair_leg {
                String::new()
            } else {
                c.str("case_id")?
            },
            repair_id: if repair_leg {
                c.str("repair_id")?
            } else {
                String::new()
            },
            fee_payer: fee_payer as i32,
            shipping_fee: None,
        },
    ))
}

/// Keeps the id of the shipment a step created under `field`.
pub fn keep_shipment(data: &mut Data, result: &CmdResult, field: &str) -> Outcome {
    match result.decode::<logistics::CreateFollowUpShipmentResponse>() {
        Ok(r) => match r.shipment.filter(|s| !s.shipment_id.is_empty()) {
            Some(s) => {
                data.insert(field.into(), json!(s.shipment_id));
                Outcome::Done
            }
            None => Outcome::Fail("logistics answered without a shipment".into()),
        },
        Err(e) => Outcome::Fail(e),
    }
}

/// The compensation of a shipment step: void the waybill of the shipment kept under `field`.
pub fn void_shipment(c: &Ctx, field: &str, reason: &str) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "logistics",
        &logistics::VoidWaybillRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            shipment_id: c.str(field)?,
            reason: reason.into(),
        },
    ))
}

/// A work order for a department about this saga's case or repair (warehouse verification,
/// stock check, delivery follow-up).
pub fn work_order(
    c: &Ctx,
    department: complaints::Department,
    title: &str,
    description: String,
) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "complaints",
        &complaints::CreateWorkOrderRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            order_id: c.str("order_id").unwrap_or_default(),
            case_id: c.str("case_id").unwrap_or_default(),
            repair_id: c.str("repair_id").unwrap_or_default(),
            shipment_id: c.str("shipment_id").unwrap_or_default(),
            department: department as i32,
            title: title.into(),
            description,
            ..Default::default()
        },
    ))
}

/// Keeps the id of the work order a step opened as `work_order_id`.
pub fn keep_work_order(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    match result.decode::<complaints::CreateWorkOrderResponse>() {
        Ok(r) => match r.work_order.filter(|w| !w.work_order_id.is_empty()) {
            Some(w) => {
                data.insert("work_order_id".into(), json!(w.work_order_id));
                Outcome::Done
            }
            None => Outcome::Fail("complaints answered without a work order".into()),
        },
        Err(e) => Outcome::Fail(e),
    }
}

/// Waits for the department's answer to the work order in `work_order_id`: done (or verified)
/// sets `work_order_done`, rejected clears it; past its SLA (48 h) the saga parks.
pub fn await_work_order(name: &'static str, department: Department) -> WaitStep {
    WaitStep {
        name,
        events: &[
            "complaints.work_order.completed",
            "complaints.work_order.rejected",
            "complaints.work_order.verified",
        ],
        key_name: "work_order_id",
        key_value: |c| c.str("work_order_id"),
        on_event: |data, _, event| {
            let done = event.name != "complaints.work_order.rejected";
            data.insert("work_order_done".into(), json!(done));
            WaitOutcome::Done
        },
        deadline: ("work_order_sla", Duration::from_secs(48 * 3600)),
        on_timeout: OnTimeout::Park("a work order is past its SLA"),
        retry_from: None,
        department,
    }
}

/// Whether the last awaited work order was done (not rejected).
pub fn work_order_done(data: &Data) -> bool {
    data.get("work_order_done") == Some(&json!(true))
}

/// Tells returns the replacement (exchange) or reship left, in the shipment kept under `field`.
pub fn replacement_shipped(c: &Ctx, field: &str) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "returns",
        &returns::MarkReplacementShippedRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            case_id: c.str("case_id")?,
            shipment_id: c.str(field)?,
        },
    ))
}

/// `percent` % of `minor` units, rounded down; never overflows (an absurd amount saturates).
pub fn percent_of(minor: i64, percent: i64) -> i64 {
    minor.saturating_mul(percent) / 100
}
