//! Return and refund with inspection before refund (also refund without return: a refund-only
//! case on a delivered order, or a low-value quality problem). The buyer, the courier and the warehouse
//! move the case through the returns API; the saga waits for each stage with a deadline, ships
//! rejected items back, restocks what can be sold again and refunds only the accepted items.
//!
//! ```text
//! merchant decision (silence → auto-approve; rejected → fail)
//!   ─▶ return_required? ─ no (low-value quality problem) ─▶ refund the case as approved
//!   ─▶ the return leg (label, buyer shipment 7 d → close + void label, receipt, inspection,
//!      rejected items shipped back, nothing accepted → complete, restock)
//!   ─▶ mark_refunding (fixes the accepted amount) ─▶ refund [pivot] … complete_case
//! ```
//! Returns owns the return leg's rules (deadlines, per-item reception and inspection); the only
//! step before the pivot with an effect to undo is the shipment of rejected items.

use super::common::{MarkRefunding, case_start, join, merchant_decision, refund_and_close};
use super::return_leg;
use crate::engine::flow::{DecisionStep, Flow, Next, Step, Trigger};
use aftersales_proto::returns::v1 as returns;
use serde_json::json;

pub const NAME: &str = "return_refund";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "returns.case.created",
            start: |event| {
                case_start(event, |case| {
                    let refund_only_delivered = case.case_type
                        == returns::CaseType::RefundOnly as i32
                        && case.shipment_state_at_request
                            == returns::ShipmentState::Delivered as i32;
                    (case.case_type == returns::CaseType::ReturnRefund as i32
                        || refund_only_delivered)
                        && case.status == returns::CaseStatus::PendingMerchant as i32
                })
            },
        },
        steps: join([
            merchant_decision(),
            vec![Step::Decision(DecisionStep {
                name: "return_required",
                decide: |d| {
                    Ok(if d.get("return_required") == Some(&json!(false)) {
                        Next::Goto("mark_refunding")
                    } else {
                        Next::Continue
                    })
                },
            })],
            return_leg::steps(),
            refund_and_close(MarkRefunding::BeforeRefund),
        ]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::engine::flow::Data;
    use aftersales_proto::messaging::v1::DomainEvent;
    use prost::{Message, Name};

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
        crate::flows::decide(flow, name, data).unwrap()
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
        return_leg::record_stage(
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
        return_leg::record_stage(&mut data, None, &inspected);
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
        return_leg::record_stage(&mut data, None, &rejected);
        assert_eq!(
            decide(&flow, "anything_accepted", &data),
            Next::Goto("complete_case")
        );
    }
}
