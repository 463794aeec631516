//! Reship a missing or wrong item, no return of the order: the warehouse verifies the claim, the
//! item ships again (merchant-paid), a wrong item gets a merchant-paid return label, and the
//! buyer of a wrong item is compensated with store credit.
//!
//! ```text
//! merchant decision (silence → auto-approve; rejected → fail)
//!   ─▶ verify_with_warehouse (work order) ─▶ await_verification (48 h SLA → park)
//!   ─▶ verified? ─ rejected ─▶ fail (compensate)
//!   ─▶ ship_item (RESHIP) ⟲ void ─▶ wrong item? ─ yes ─▶ return_label (RETURN) ⟲ void
//!   ─▶ mark_reshipped ─▶ count_reshipped_lines
//!   ─▶ wrong item? ─ yes ─▶ compensate_buyer [pivot] (store credit)
//!   ─▶ complete_case
//! ```

use super::common::{
    amount, case_start, follow_up_shipment, keep_shipment, keep_work_order, line_progress,
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

pub fn definition() -> Flow {
    let mut steps = merchant_decision();
    steps.extend([
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
        Step::Decision(DecisionStep {
            name: "verified",
            decide: |d| {
                if work_order_done(d) {
                    Ok(Next::Continue)
                } else {
                    Err("warehouse_refuted_claim".into())
                }
            },
        }),
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
    ]);
    Flow {
        name: NAME,
        version: 1,
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

    use crate::flows::decide;

    #[test]
    fn a_refuted_claim_fails_and_a_wrong_item_gets_a_label_and_compensation() {
        let flow = definition();
        let mut data = Data::new();
        data.insert("work_order_done".into(), json!(false));
        assert_eq!(
            decide(&flow, "verified", &data),
            Err("warehouse_refuted_claim".into())
        );
        data.insert("work_order_done".into(), json!(true));
        assert_eq!(decide(&flow, "verified", &data), Ok(Next::Continue));

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
}
