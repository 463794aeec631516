//! Return and refund with inspection before refund. The buyer, the courier and the warehouse
//! move the case through the returns API; the saga waits for each stage with a deadline, then
//! restocks what can be sold again and refunds only the accepted items.
//!
//! ```text
//! merchant decision (silence → auto-approve; rejected → fail)
//!   ─▶ await_buyer_shipment (7 d) ─ none ─▶ close_for_no_shipment ─▶ end (case CLOSED)
//!   ─▶ await_receipt (14 d → park) ─▶ await_inspection (3 d → park) ─▶ anything_accepted?
//!        │ no ─▶ complete_case (nothing to pay; rejected items go back to the buyer)
//!   ─▶ restock (per accepted resellable item) ─▶ mark_refunding (fixes the accepted amount)
//!   ─▶ refund [pivot] … complete_case (the shared refund tail)
//! ```
//! Returns owns the return leg's rules (deadlines, per-item reception and inspection); no step
//! before the pivot changes another service in a way to undo, so none has a compensation.

use super::common::{MarkRefunding, case_start, join, merchant_decision, refund_and_close, system};
use crate::engine::flow::{
    Branch, Cmd, CommandStep, Data, DecisionStep, Department, Flow, Next, OnTimeout, ParallelStep,
    Step, Trigger, WaitOutcome, WaitStep,
};
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::returns::v1 as returns;
use prost::Message;
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "return_refund";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "returns.case.created",
            start: |event| {
                case_start(event, |case| {
                    case.case_type == returns::CaseType::ReturnRefund as i32
                        && case.status == returns::CaseStatus::PendingMerchant as i32
                })
            },
        },
        steps: join([
            merchant_decision(),
            vec![
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
                    items: |d| {
                        Ok(accepted(d)
                            .into_iter()
                            .filter(|i| i.get("resellable") == Some(&json!(true)))
                            .collect())
                    },
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
            ],
            refund_and_close(MarkRefunding::BeforeRefund),
        ]),
    }
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
fn record_stage(data: &mut Data, _: Option<&Value>, event: &DomainEvent) -> WaitOutcome {
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
                    "resellable": i.condition.as_ref().is_some_and(|c| c.resellable),
                })
            })
            .collect();
        data.insert("inspected_items".into(), Value::Array(items));
    }
    WaitOutcome::Done
}

/// The items the warehouse accepted.
fn accepted(data: &Data) -> Vec<Value> {
    data.get("inspected_items")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter(|i| i.get("accepted") == Some(&json!(true)))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use prost::Name;

    fn event(name: &str, items: Vec<returns::CaseItem>) -> DomainEvent {
        let case = returns::Case {
            case_id: "c-1".into(),
            case_type: returns::CaseType::ReturnRefund as i32,
            status: returns::CaseStatus::PendingMerchant as i32,
            items,
            ..Default::default()
        };
        DomainEvent {
            name: name.into(),
            snapshot: case.encode_to_vec(),
            snapshot_type: returns::Case::full_name(),
            ..Default::default()
        }
    }

    fn item(
        id: &str,
        inspection: returns::InspectionStatus,
        resellable: bool,
    ) -> returns::CaseItem {
        returns::CaseItem {
            item_id: id.into(),
            line_id: format!("l-{id}"),
            quantity: 1,
            inspection: inspection as i32,
            condition: Some(returns::ItemCondition {
                resellable,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn decide(flow: &Flow, name: &str, data: &Data) -> Next {
        let Some(Step::Decision(d)) = flow.steps.iter().find(|s| s.name() == name) else {
            panic!("{name} is a decision");
        };
        (d.decide)(data).unwrap()
    }

    #[test]
    fn starts_for_return_and_refund_cases_awaiting_the_merchant() {
        let flow = definition();
        let (key, _) = (flow.trigger.start)(&event("returns.case.created", vec![]))
            .unwrap()
            .unwrap();
        assert_eq!(key, "case:c-1");
        assert!(crate::flows::registry().is_ok());
    }

    #[test]
    fn routes_by_stage_and_inspection() {
        let flow = definition();
        let mut data = Data::new();
        // The buyer never shipped: the deadline continued without the event.
        assert_eq!(decide(&flow, "buyer_shipped", &data), Next::Continue);
        record_stage(
            &mut data,
            None,
            &event("returns.case.buyer_shipped", vec![]),
        );
        assert_eq!(
            decide(&flow, "buyer_shipped", &data),
            Next::Goto("await_receipt")
        );
        let inspected = event(
            "returns.case.inspected",
            vec![
                item("a", returns::InspectionStatus::Accepted, true),
                item("b", returns::InspectionStatus::Accepted, false),
                item("c", returns::InspectionStatus::Rejected, false),
            ],
        );
        record_stage(&mut data, None, &inspected);
        assert_eq!(decide(&flow, "anything_accepted", &data), Next::Continue);
        let Some(Step::Parallel(restock)) = flow.steps.iter().find(|s| s.name() == "restock")
        else {
            panic!("restock is parallel");
        };
        let items = (restock.items)(&data).unwrap();
        assert_eq!(
            items.len(),
            1,
            "only the accepted resellable item is restocked"
        );
        assert_eq!(items[0]["item_id"], json!("a"));
        let rejected = event(
            "returns.case.inspected",
            vec![item("c", returns::InspectionStatus::Rejected, false)],
        );
        record_stage(&mut data, None, &rejected);
        assert_eq!(
            decide(&flow, "anything_accepted", &data),
            Next::Goto("complete_case")
        );
    }
}
