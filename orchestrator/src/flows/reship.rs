//! Reship a missing or wrong item, no return of the order: the warehouse verifies the claim, the
//! item ships again (merchant-paid), a wrong item gets a merchant-paid return label, and the
//! buyer of a wrong item is compensated with store credit.
//!
//! ```text
//! merchant decision (silence → auto-approve; rejected → fail)
//!   ─▶ verify_with_warehouse (work order) ─▶ await_verification (48 h SLA → park)
//!   ─▶ verified? ─ refuted ─▶ close_refuted_case (returns CloseCase, the reason)
//!                              ─▶ end (COMPLETED, case CLOSED)
//!   ─▶ ship_item (RESHIP) ⟲ void ─▶ wrong item? ─ yes ─▶ return_label (RETURN) ⟲ void
//!   ─▶ mark_reshipped ─▶ count_reshipped_lines
//!   ─▶ wrong item? ─ yes ─▶ compensate_buyer [pivot] (store credit)
//!   ─▶ complete_case
//! ```
//!
//! A claim the warehouse refutes is an answer, not a failure: the saga closes the case with the
//! reason ([`REFUTED_REASON`] and the work order) and ends COMPLETED. Nothing failed and nothing
//! is undone (no step before it moved goods or money), so COMPENSATED, which reports a saga that
//! could not do its job, would be misleading; and the case must not stay APPROVED, because returns
//! allows one open case per order line: CLOSED frees the lines, so the buyer may open a new case
//! on them.
//!
//! Version 1 (a refuted claim fails the saga, COMPENSATED, and leaves the case APPROVED) stays
//! registered so that the sagas started on it finish on its steps; staff can close such a case
//! with returns CloseCase.

use super::common::{
    amount, case_start, follow_up_shipment, join, keep_shipment, keep_work_order, line_progress,
    merchant_decision, order_lines, percent_of, replacement_shipped, system, void_shipment,
    work_order, work_order_done,
};
use crate::engine::flow::{
    Branch, Cmd, CommandStep, Ctx, Data, DecisionStep, Department, Flow, Next, ParallelStep, Step,
    Trigger,
};
use aftersales_proto::common::v1::Money;
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use aftersales_proto::returns::v1 as returns;
use serde_json::json;

pub const NAME: &str = "reship";

/// A wrong item is compensated with this share of the case's value, as store credit.
pub const WRONG_ITEM_COMPENSATION_PERCENT: i64 = 10;

/// Why returns closes the case when the warehouse refutes the claim (the work order follows).
pub const REFUTED_REASON: &str = "the warehouse refuted the claim";

/// Version 2: a refuted claim closes the case and the saga completes.
pub fn definition() -> Flow {
    flow(
        2,
        join([
            merchant_decision(),
            verification_steps(),
            refuted_claim_closes_the_case(),
            reship_steps(),
        ]),
    )
}

/// Version 1: a refuted claim fails the saga (the case stays APPROVED); the sagas started on it
/// finish on its steps.
pub fn definition_v1() -> Flow {
    flow(
        1,
        join([
            merchant_decision(),
            verification_steps(),
            refuted_claim_fails(),
            reship_steps(),
        ]),
    )
}

fn flow(version: u32, steps: Vec<Step>) -> Flow {
    Flow {
        name: NAME,
        version,
        trigger: Trigger {
            event: "returns.case.created",
            start: |event| {
                case_start(event, |case| {
                    case.case_type == returns::CaseType::Reship as i32
                        && case.status == returns::CaseStatus::PendingMerchant as i32
                })
            },
        },
        steps,
    }
}

/// The warehouse checks the packing record in a work order, and answers it.
fn verification_steps() -> Vec<Step> {
    vec![
        Step::Command(
            CommandStep::new("verify_with_warehouse", |c| {
                work_order(
                    c,
                    complaints::Department::Warehouse,
                    "Verify a missing or wrong item",
                    format!(
                        "Case {}: check the packing record of order {} and confirm the claim \
                         (complete) or refute it (reject).",
                        c.str("case_id")?,
                        c.str("order_id")?
                    ),
                )
            })
            .on_result(keep_work_order)
            .department(Department::Warehouse),
        ),
        Step::Wait(super::common::await_work_order(
            "await_verification",
            Department::Warehouse,
        )),
    ]
}

/// Version 2: refuted, returns closes the case with the reason and the saga completes.
fn refuted_claim_closes_the_case() -> Vec<Step> {
    vec![
        Step::Decision(DecisionStep {
            name: "verified",
            decide: |d| {
                Ok(if work_order_done(d) {
                    Next::Goto("ship_item")
                } else {
                    Next::Continue
                })
            },
        }),
        Step::Command(CommandStep::new("close_refuted_case", close_refuted_case)),
        Step::Decision(DecisionStep {
            name: "case_closed",
            decide: |_| Ok(Next::Complete),
        }),
    ]
}

/// Version 1: refuted, the saga fails (nothing to undo).
fn refuted_claim_fails() -> Vec<Step> {
    vec![Step::Decision(DecisionStep {
        name: "verified",
        decide: |d| {
            if work_order_done(d) {
                Ok(Next::Continue)
            } else {
                Err("warehouse_refuted_claim".into())
            }
        },
    })]
}

/// The verified claim: ship the item again, label a wrong one back, compensate, complete.
fn reship_steps() -> Vec<Step> {
    vec![
        Step::Command(
            CommandStep::new("ship_item", |c| {
                follow_up_shipment(
                    c,
                    logistics::Direction::Reship,
                    logistics::FeePayer::Merchant,
                )
            })
            .on_result(|d, _, r| keep_shipment(d, r, "reship_shipment_id"))
            .compensate(|c| void_shipment(c, "reship_shipment_id", "the reship saga was undone"))
            .department(Department::Warehouse),
        ),
        Step::Decision(DecisionStep {
            name: "wrong_item",
            decide: |d| {
                Ok(if wrong_item(d) {
                    Next::Continue
                } else {
                    Next::Goto("mark_reshipped")
                })
            },
        }),
        Step::Command(
            CommandStep::new("return_label", |c| {
                follow_up_shipment(
                    c,
                    logistics::Direction::Return,
                    logistics::FeePayer::Merchant,
                )
            })
            .on_result(|d, _, r| keep_shipment(d, r, "return_label_id"))
            .compensate(|c| void_shipment(c, "return_label_id", "the reship saga was undone"))
            .department(Department::Delivery),
        ),
        Step::Command(CommandStep::new("mark_reshipped", |c| {
            replacement_shipped(c, "reship_shipment_id")
        })),
        Step::Parallel(ParallelStep {
            name: "count_reshipped_lines",
            items: order_lines,
            branch: Branch::Command(CommandStep::new("count_reshipped_line", |c| {
                line_progress(c, orders::LineProgressKind::Reshipped)
            })),
        }),
        Step::Decision(DecisionStep {
            name: "compensation_due",
            decide: |d| {
                Ok(if wrong_item(d) && compensation_minor(d) > 0 {
                    Next::Continue
                } else {
                    Next::Goto("complete_case")
                })
            },
        }),
        Step::Command(
            CommandStep::new("compensate_buyer", compensate_buyer)
                .pivot()
                .department(Department::Finance),
        ),
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

/// Returns closes the approved case with the reason and the refuting work order.
fn close_refuted_case(c: &Ctx) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "returns",
        &returns::CloseCaseRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            case_id: c.str("case_id")?,
            reason: format!("{REFUTED_REASON} (work order {})", c.str("work_order_id")?),
        },
    ))
}

fn wrong_item(data: &Data) -> bool {
    data.get("merchant_pays_return_shipping") == Some(&json!(true))
}

fn compensation_minor(data: &Data) -> i64 {
    let value = data
        .get("amount_minor")
        .and_then(serde_json::Value::as_i64)
        .unwrap_or(0);
    percent_of(value, WRONG_ITEM_COMPENSATION_PERCENT)
}

fn compensate_buyer(c: &Ctx) -> Result<Cmd, String> {
    let value = amount(c)?;
    Ok(Cmd::new(
        "payments",
        &payments::IssueCompensationRequest {
            idempotency_key: c.key.into(),
            buyer_id: c.str("buyer_id")?,
            merchant_id: c.str("merchant_id")?,
            order_id: c.str("order_id")?,
            case_id: c.str("case_id")?,
            kind: payments::CompensationKind::WrongItem as i32,
            payout: payments::CompensationPayout::StoreCredit as i32,
            amount: Some(Money {
                minor_units: compensation_minor(c.data),
                currency: value.currency,
            }),
            reason: format!(
                "wrong item shipped: {WRONG_ITEM_COMPENSATION_PERCENT}% of the item value"
            ),
            actor: Some(system()),
            ..Default::default()
        },
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    use crate::engine::flow::CmdResult;
    use crate::engine::instance::{Instance, Status};
    use crate::flows::{Sent, decide};
    use aftersales_proto::messaging::v1::DomainEvent;
    use prost::{Message, Name};

    #[test]
    fn a_refuted_claim_closes_the_case_and_a_wrong_item_gets_a_label_and_compensation() {
        let flow = definition();
        let mut data = Data::new();
        data.insert("work_order_done".into(), json!(false));
        assert_eq!(decide(&flow, "verified", &data), Ok(Next::Continue));
        assert_eq!(decide(&flow, "case_closed", &data), Ok(Next::Complete));
        data.insert("work_order_done".into(), json!(true));
        assert_eq!(
            decide(&flow, "verified", &data),
            Ok(Next::Goto("ship_item"))
        );

        // Missing item: no label, no compensation.
        data.insert("merchant_pays_return_shipping".into(), json!(false));
        data.insert("amount_minor".into(), json!(5000));
        assert_eq!(
            decide(&flow, "wrong_item", &data),
            Ok(Next::Goto("mark_reshipped"))
        );
        assert_eq!(
            decide(&flow, "compensation_due", &data),
            Ok(Next::Goto("complete_case"))
        );
        // Wrong item: label and 10 % compensation.
        data.insert("merchant_pays_return_shipping".into(), json!(true));
        assert_eq!(decide(&flow, "wrong_item", &data), Ok(Next::Continue));
        assert_eq!(decide(&flow, "compensation_due", &data), Ok(Next::Continue));
        assert_eq!(compensation_minor(&data), 500);
    }

    #[test]
    fn version_1_keeps_its_steps_for_the_sagas_started_on_it() {
        let reg = crate::flows::registry().unwrap();
        let steps = |version| -> Vec<&str> {
            reg.get(NAME, version)
                .unwrap()
                .steps
                .iter()
                .map(Step::name)
                .collect()
        };
        let tail = [
            "ship_item",
            "wrong_item",
            "return_label",
            "mark_reshipped",
            "count_reshipped_lines",
            "compensation_due",
            "compensate_buyer",
            "complete_case",
        ];
        let head = [
            "await_merchant",
            "merchant_answered",
            "auto_approve",
            "merchant_done",
            "verify_with_warehouse",
            "await_verification",
            "verified",
        ];
        let v1: Vec<&str> = head.iter().chain(&tail).copied().collect();
        assert_eq!(steps(1), v1);
        let v2: Vec<&str> = head
            .iter()
            .chain(&["close_refuted_case", "case_closed"])
            .chain(&tail)
            .copied()
            .collect();
        assert_eq!(steps(2), v2);
        assert!(
            reg.latest()
                .iter()
                .any(|f| f.name == NAME && f.version == 2)
        );
        // Version 1 still fails a refuted claim.
        let mut data = Data::new();
        data.insert("work_order_done".into(), json!(false));
        assert_eq!(
            decide(&definition_v1(), "verified", &data),
            Err("warehouse_refuted_claim".into())
        );
    }

    fn created() -> DomainEvent {
        let case = returns::Case {
            case_id: "case-1".into(),
            order_id: "o-1".into(),
            buyer_id: "b-1".into(),
            merchant_id: "m-1".into(),
            case_type: returns::CaseType::Reship as i32,
            status: returns::CaseStatus::PendingMerchant as i32,
            items: vec![returns::CaseItem {
                line_id: "l-1".into(),
                quantity: 1,
                ..Default::default()
            }],
            ..Default::default()
        };
        DomainEvent {
            name: "returns.case.created".into(),
            snapshot: case.encode_to_vec(),
            snapshot_type: returns::Case::full_name(),
            ..Default::default()
        }
    }

    fn keyed(name: &str, key: &str, value: &str) -> DomainEvent {
        DomainEvent {
            name: name.into(),
            keys: [(key.to_owned(), value.to_owned())].into_iter().collect(),
            ..Default::default()
        }
    }

    /// Plays a reship saga (of `flow`) whose merchant approves and whose warehouse refutes the
    /// claim; every command succeeds. Returns what the saga sent, in order, and the saga.
    fn play_refuted(flow: &Flow) -> (Vec<Sent>, Instance) {
        crate::flows::play(
            flow,
            &created(),
            |short, _| match short {
                "CreateWorkOrderRequest" => CmdResult {
                    result_type: complaints::CreateWorkOrderResponse::full_name(),
                    payload: complaints::CreateWorkOrderResponse {
                        work_order: Some(complaints::WorkOrder {
                            work_order_id: "w-1".into(),
                            ..Default::default()
                        }),
                    }
                    .encode_to_vec(),
                },
                "CloseCaseRequest" => CmdResult {
                    result_type: returns::CloseCaseResponse::full_name(),
                    payload: returns::CloseCaseResponse::default().encode_to_vec(),
                },
                other => panic!("unexpected command {other}"),
            },
            |name, value| match name {
                "case_id" => keyed("returns.case.approved", "case_id", value),
                "work_order_id" => keyed("complaints.work_order.rejected", "work_order_id", value),
                other => panic!("unexpected wait on {other}"),
            },
        )
    }

    #[test]
    fn a_refuted_claim_closes_the_case_with_the_reason_and_completes() {
        let (sent, inst) = play_refuted(&definition());
        let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["CreateWorkOrderRequest", "CloseCaseRequest"]);
        assert_eq!(inst.status, Status::Completed);
        assert!(!inst.past_pivot);
        assert_eq!(inst.last_error, None);
        let close = returns::CloseCaseRequest::decode(sent[1].1.as_slice()).unwrap();
        assert_eq!(close.case_id, "case-1");
        assert_eq!(
            close.reason,
            "the warehouse refuted the claim (work order w-1)"
        );
        assert_eq!(close.actor, Some(system()));
        assert!(!close.idempotency_key.is_empty());

        // Version 1 ends COMPENSATED and leaves the case alone.
        let (sent, inst) = play_refuted(&definition_v1());
        let names: Vec<&str> = sent.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["CreateWorkOrderRequest"]);
        assert_eq!(inst.status, Status::Compensated);
        assert!(
            inst.last_error
                .as_deref()
                .is_some_and(|e| e.contains("warehouse_refuted_claim")),
            "{:?}",
            inst.last_error
        );
    }
}
