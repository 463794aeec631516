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

use super::common::{
    MarkRefunding, case_start, item_quantity, join, line_progress, order_lines, refund_and_close,
    system,
};
use crate::engine::flow::{
    Branch, Cmd, CommandStep, Department, Flow, ParallelStep, Step, Trigger,
};
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::returns::v1 as returns;

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
        steps: join([
            vec![
                Step::Command(
                    CommandStep::new("void_waybill", |c| {
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
                    })
                    .compensate(|c| {
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
                    })
                    .department(Department::Delivery),
                ),
                Step::Parallel(ParallelStep {
                    name: "cancel_lines",
                    items: order_lines,
                    branch: Branch::Command(
                        CommandStep::new("cancel_line", |c| {
                            line_progress(c, orders::LineProgressKind::Canceled)
                        })
                        .compensate(|c| {
                            Ok(Cmd::new(
                                "orders",
                                &orders::ReverseLineProgressRequest {
                                    idempotency_key: c.key.into(),
                                    actor: Some(system()),
                                    order_id: c.str("order_id")?,
                                    line_id: c.item_str("line_id")?,
                                    kind: orders::LineProgressKind::Canceled as i32,
                                    quantity: item_quantity(c)?,
                                    case_id: c.str("case_id")?,
                                    reason: "refund-only saga compensated".into(),
                                },
                            ))
                        }),
                    ),
                }),
            ],
            refund_and_close(MarkRefunding::AfterRefund),
        ]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::engine::flow::{CmdResult, Ctx, Data, Outcome, Unit};
    use crate::flows::common::{record_refund, refund_status};
    use aftersales_proto::common::v1::Money;
    use aftersales_proto::messaging::v1::DomainEvent;
    use aftersales_proto::payments::v1 as payments;
    use prost::{Message, Name};
    use serde_json::json;

    fn case(case_type: returns::CaseType, shipment: returns::ShipmentState) -> DomainEvent {
        let case = returns::Case {
            case_id: "c-1".into(),
            order_id: "o-1".into(),
            case_type: case_type as i32,
            shipment_state_at_request: shipment as i32,
            status: returns::CaseStatus::Approved as i32,
            refund_due: Some(Money {
                minor_units: 14_500,
                currency: "CNY".into(),
            }),
            items: vec![returns::CaseItem {
                line_id: "l-1".into(),
                quantity: 2,
                ..Default::default()
            }],
            ..Default::default()
        };
        DomainEvent {
            name: "returns.case.auto_approved".into(),
            snapshot: case.encode_to_vec(),
            snapshot_type: returns::Case::full_name(),
            ..Default::default()
        }
    }

    #[test]
    fn the_registry_accepts_every_flow() {
        let reg = crate::flows::registry().unwrap();
        assert!(reg.get(NAME, 1).is_some());
        for name in ["refund_confirmation", "merchant_decision", "buyer_shipment"] {
            assert!(reg.deadline_names().contains(&name), "{name}");
        }
        assert!(reg.event_names().contains(&"payments.refund.succeeded"));
    }

    #[test]
    fn starts_only_for_refund_only_cases_on_unshipped_orders() {
        let flow = definition();
        let (key, data) = (flow.trigger.start)(&case(
            returns::CaseType::RefundOnly,
            returns::ShipmentState::NotShipped,
        ))
        .unwrap()
        .unwrap();
        assert_eq!(key, "case:c-1");
        assert_eq!(data["amount_minor"], json!(14_500));
        assert_eq!(data["items"], json!([{ "line_id": "l-1", "quantity": 2 }]));
        for (t, s) in [
            (
                returns::CaseType::RefundOnly,
                returns::ShipmentState::InTransit,
            ),
            (
                returns::CaseType::ReturnRefund,
                returns::ShipmentState::NotShipped,
            ),
        ] {
            assert!((flow.trigger.start)(&case(t, s)).unwrap().is_none());
        }
        let mut bad = case(
            returns::CaseType::RefundOnly,
            returns::ShipmentState::NotShipped,
        );
        bad.snapshot_type = "x".into();
        assert!((flow.trigger.start)(&bad).is_err());
    }

    #[test]
    fn commands_carry_the_saga_key_and_data() {
        let flow = definition();
        let (_, data) = (flow.trigger.start)(&case(
            returns::CaseType::RefundOnly,
            returns::ShipmentState::NotShipped,
        ))
        .unwrap()
        .unwrap();
        let item = json!({ "line_id": "l-1", "quantity": 2 });
        let ctx = Ctx {
            data: &data,
            item: Some(&item),
            key: "s:1:0:do:1",
        };
        let Some(Unit::Command(cancel)) = flow.steps[1].unit() else {
            panic!("cancel_lines is a parallel command");
        };
        let cmd = (cancel.action.build)(&ctx).unwrap();
        let req = orders::RecordLineProgressRequest::decode(cmd.payload.as_slice()).unwrap();
        assert_eq!(
            (cmd.service, req.idempotency_key.as_str()),
            ("orders", "s:1:0:do:1")
        );
        assert_eq!((req.line_id.as_str(), req.quantity), ("l-1", 2));
        assert_eq!(req.kind, orders::LineProgressKind::Canceled as i32);
        let undo = (cancel.compensation.unwrap().build)(&ctx).unwrap();
        assert_eq!(
            undo.message_type,
            orders::ReverseLineProgressRequest::full_name()
        );
        // Missing data is a business failure of the step, not a panic.
        let empty = Data::new();
        let ctx = Ctx {
            data: &empty,
            item: None,
            key: "k",
        };
        assert!((cancel.action.build)(&ctx).is_err());
    }

    #[test]
    fn a_refused_refund_is_retried_and_a_pending_one_waits() {
        let result = |status: payments::RefundStatus| CmdResult {
            result_type: payments::CreateRefundResponse::full_name(),
            payload: payments::CreateRefundResponse {
                refund: Some(payments::Refund {
                    refund_id: "r-1".into(),
                    status: status as i32,
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        };
        let mut data = Data::new();
        assert_eq!(
            record_refund(&mut data, None, &result(payments::RefundStatus::Succeeded)),
            Outcome::Done
        );
        assert_eq!(refund_status(&data), Some("SUCCEEDED"));
        assert!(matches!(
            record_refund(&mut data, None, &result(payments::RefundStatus::Failed)),
            Outcome::Retry(_)
        ));
        assert_eq!(
            record_refund(&mut data, None, &result(payments::RefundStatus::Pending)),
            Outcome::Done
        );
        assert_eq!(refund_status(&data), Some("PENDING"));
        let wrong = CmdResult {
            result_type: "other".into(),
            payload: vec![],
        };
        assert!(matches!(
            record_refund(&mut data, None, &wrong),
            Outcome::Fail(_)
        ));
    }
}
