//! The return leg shared by return-and-refund and exchange: a return label, the buyer's shipment
//! (deadline), the warehouse's receipt and per-item inspection, rejected items shipped back to
//! the buyer, and the accepted resellable items restocked.
//!
//! ```text
//! issue_return_label ─▶ await_buyer_shipment (7 d) ─ none ─▶ close_for_no_shipment
//!                                                            ─▶ void_return_label ─▶ end (CLOSED)
//!   ─▶ await_receipt (14 d → park) ─▶ await_inspection (3 d → park)
//!   ─▶ anything_rejected? ─ yes ─▶ ship_back_rejected
//!   ─▶ anything_accepted? ─ no ─▶ complete_case
//!   ─▶ restock (per accepted resellable item)
//! ```
//! The label is voided only when the buyer never used it; a used label cannot be voided, so the
//! label step has no compensation.

use super::common::{follow_up_shipment, keep_shipment, system, void_shipment};
use crate::engine::flow::{
    Branch, Cmd, CommandStep, Data, DecisionStep, Department, Next, OnTimeout, ParallelStep, Step,
    WaitOutcome, WaitStep,
};
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::returns::v1 as returns;
use prost::Message;
use serde_json::{Value, json};
use std::time::Duration;

/// The steps of the return leg; `complete_case` must follow later in the flow.
pub fn steps() -> Vec<Step> {
    vec![
        Step::Command(
            CommandStep::new("issue_return_label", |c| {
                let payer = if c.data.get("merchant_pays_return_shipping") == Some(&json!(true)) {
                    logistics::FeePayer::Merchant
                } else {
                    logistics::FeePayer::Buyer
                };
                follow_up_shipment(c, logistics::Direction::Return, payer)
            })
            .on_result(|d, _, r| keep_shipment(d, r, "return_label_id"))
            .department(Department::Delivery),
        ),
        Step::Wait(case_wait(
            "await_buyer_shipment",
            &["returns.case.buyer_shipped"],
            ("buyer_shipment", Duration::from_secs(7 * 24 * 3600)),
            OnTimeout::Continue,
        )),
        Step::Decision(DecisionStep {
            name: "buyer_shipped",
            decide: |d| {
                Ok(
                    if d.get("reached") == Some(&json!("await_buyer_shipment")) {
                        Next::Goto("await_receipt")
                    } else {
                        Next::Continue
                    },
                )
            },
        }),
        Step::Command(CommandStep::new("close_for_no_shipment", |c| {
            Ok(Cmd::new(
                "returns",
                &returns::CloseCaseForNoShipmentRequest {
                    idempotency_key: c.key.into(),
                    actor: Some(system()),
                    case_id: c.str("case_id")?,
                },
            ))
        })),
        Step::Command(
            CommandStep::new("void_return_label", |c| {
                void_shipment(c, "return_label_id", "the buyer never shipped the return")
            })
            .department(Department::Delivery),
        ),
        Step::Decision(DecisionStep {
            name: "closed",
            decide: |_| Ok(Next::Complete),
        }),
        Step::Wait(case_wait(
            "await_receipt",
            &["returns.case.received"],
            ("return_receipt", Duration::from_secs(14 * 24 * 3600)),
            OnTimeout::Park("the return parcel never arrived at the warehouse"),
        )),
        Step::Wait(case_wait(
            "await_inspection",
            &["returns.case.inspected"],
            ("inspection", Duration::from_secs(3 * 24 * 3600)),
            OnTimeout::Park("the warehouse did not inspect the return in time"),
        )),
        Step::Decision(DecisionStep {
            name: "anything_rejected",
            decide: |d| {
                Ok(if items_where(d, "rejected", true).is_empty() {
                    Next::Goto("anything_accepted")
                } else {
                    Next::Continue
                })
            },
        }),
        Step::Command(
            CommandStep::new("ship_back_rejected", |c| {
                follow_up_shipment(c, logistics::Direction::Reship, logistics::FeePayer::Buyer)
            })
            .on_result(|d, _, r| keep_shipment(d, r, "rejected_back_shipment_id"))
            .compensate(|c| {
                void_shipment(c, "rejected_back_shipment_id", "the return saga was undone")
            })
            .department(Department::Warehouse),
        ),
        Step::Decision(DecisionStep {
            name: "anything_accepted",
            decide: |d| {
                Ok(if accepted(d).is_empty() {
                    Next::Goto("complete_case")
                } else {
                    Next::Continue
                })
            },
        }),
        Step::Parallel(ParallelStep {
            name: "restock",
            items: |d| Ok(items_where(d, "resellable", true)),
            branch: Branch::Command(
                CommandStep::new("restock_item", |c| {
                    Ok(Cmd::new(
                        "returns",
                        &returns::SetDispositionRequest {
                            idempotency_key: c.key.into(),
                            actor: Some(system()),
                            case_id: c.str("case_id")?,
                            item_id: c.item_str("item_id")?,
                            disposition: returns::Disposition::Restock as i32,
                        },
                    ))
                })
                .department(Department::Warehouse),
            ),
        }),
    ]
}

/// A wait on one stage of the case (matched by `case_id`) that records the case's items as the
/// event reports them.
fn case_wait(
    name: &'static str,
    events: &'static [&'static str],
    deadline: (&'static str, Duration),
    on_timeout: OnTimeout,
) -> WaitStep {
    WaitStep {
        name,
        events,
        key_name: "case_id",
        key_value: |c| c.str("case_id"),
        on_event: record_stage,
        deadline,
        on_timeout,
        retry_from: None,
        department: Department::Warehouse,
    }
}

/// Notes which stage was reached and keeps the items with their inspection results.
pub fn record_stage(data: &mut Data, _: Option<&Value>, event: &DomainEvent) -> WaitOutcome {
    let stage = match event.name.as_str() {
        "returns.case.buyer_shipped" => "await_buyer_shipment",
        "returns.case.received" => "await_receipt",
        _ => "await_inspection",
    };
    data.insert("reached".into(), json!(stage));
    if let Ok(case) = returns::Case::decode(event.snapshot.as_slice()) {
        let items: Vec<Value> = case
            .items
            .iter()
            .map(|i| {
                json!({
                    "item_id": i.item_id,
                    "line_id": i.line_id,
                    "quantity": i.quantity,
                    "accepted": i.inspection == returns::InspectionStatus::Accepted as i32,
                    "rejected": i.inspection == returns::InspectionStatus::Rejected as i32,
                    "resellable": i.inspection == returns::InspectionStatus::Accepted as i32
                        && i.condition.as_ref().is_some_and(|c| c.resellable),
                    // An exchange's price difference: > 0 the buyer pays, < 0 gets back.
                    "difference_minor": minor(i.difference_to_pay.as_ref())
                        .saturating_sub(minor(i.difference_to_refund.as_ref())),
                })
            })
            .collect();
        data.insert("inspected_items".into(), Value::Array(items));
    }
    WaitOutcome::Done
}

fn minor(m: Option<&aftersales_proto::common::v1::Money>) -> i64 {
    m.map(|m| m.minor_units).unwrap_or_default()
}

/// The items the warehouse accepted (`{item_id, line_id, quantity, ..}`).
pub fn accepted(data: &Data) -> Vec<Value> {
    items_where(data, "accepted", true)
}

fn items_where(data: &Data, flag: &str, value: bool) -> Vec<Value> {
    data.get("inspected_items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|i| i.get(flag) == Some(&json!(value)))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}
