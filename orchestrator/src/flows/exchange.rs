//! Exchange: the goods come back as in a return (inspection before anything moves), the
//! warehouse picks the replacement, and it ships to the buyer; when it is out of stock the buyer
//! is refunded instead. The replacement is the same SKU at the same price, so there is no price
//! difference to settle.
//!
//! ```text
//! merchant decision (silence → auto-approve; rejected → fail)
//!   ─▶ the return leg (label, buyer shipment 7 d → close + void label, receipt, inspection,
//!      rejected items shipped back, nothing accepted → complete, restock)
//!   ─▶ check_stock (warehouse work order) ─▶ await_stock (48 h SLA → park)
//!   ─▶ in_stock? ─ no ─▶ refund instead: mark_refunding ─▶ refund [pivot] … complete_case
//!   ─▶ ship_replacement (REPLACEMENT) ⟲ void ─▶ mark_replacement_shipped
//!   ─▶ count_replaced_lines ─▶ complete_case
//! ```

use super::common::{
    MarkRefunding, case_start, follow_up_shipment, join, keep_shipment, keep_work_order,
    line_progress, merchant_decision, refund_and_close, replacement_shipped, void_shipment,
    work_order, work_order_done,
};
use super::return_leg;
use crate::engine::flow::{
    Branch, CommandStep, DecisionStep, Department, Flow, Next, ParallelStep, Step, Trigger,
};
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::returns::v1 as returns;

pub const NAME: &str = "exchange";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "returns.case.created",
            start: |event| {
                case_start(event, |case| {
                    case.case_type == returns::CaseType::Exchange as i32
                        && case.status == returns::CaseStatus::PendingMerchant as i32
                })
            },
        },
        steps: join([
            merchant_decision(),
            return_leg::steps(),
            vec![
                Step::Command(
                    CommandStep::new("check_stock", |c| {
                        work_order(
                            c,
                            complaints::Department::Warehouse,
                            "Pick an exchange replacement",
                            format!(
                                "Case {}: pick the replacement of the accepted items of order {} \
                                 (complete), or reject when it is out of stock.",
                                c.str("case_id")?,
                                c.str("order_id")?
                            ),
                        )
                    })
                    .on_result(keep_work_order)
                    .department(Department::Warehouse),
                ),
                Step::Wait(super::common::await_work_order(
                    "await_stock",
                    Department::Warehouse,
                )),
                Step::Decision(DecisionStep {
                    name: "in_stock",
                    decide: |d| {
                        Ok(if work_order_done(d) {
                            Next::Continue
                        } else {
                            Next::Goto("mark_refunding")
                        })
                    },
                }),
                Step::Command(
                    CommandStep::new("ship_replacement", |c| {
                        follow_up_shipment(
                            c,
                            logistics::Direction::Replacement,
                            logistics::FeePayer::Merchant,
                        )
                    })
                    .on_result(|d, _, r| keep_shipment(d, r, "replacement_shipment_id"))
                    .compensate(|c| {
                        void_shipment(c, "replacement_shipment_id", "the exchange saga was undone")
                    })
                    .department(Department::Warehouse),
                ),
                Step::Command(CommandStep::new("mark_replacement_shipped", |c| {
                    replacement_shipped(c, "replacement_shipment_id")
                })),
                Step::Parallel(ParallelStep {
                    name: "count_replaced_lines",
                    items: |d| Ok(return_leg::accepted(d)),
                    branch: Branch::Command(CommandStep::new("count_replaced_line", |c| {
                        line_progress(c, orders::LineProgressKind::Replaced)
                    })),
                }),
                Step::Decision(DecisionStep {
                    name: "replaced",
                    decide: |_| Ok(Next::Goto("complete_case")),
                }),
            ],
            refund_and_close(MarkRefunding::BeforeRefund),
        ]),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::engine::flow::Data;
    use serde_json::json;

    #[test]
    fn out_of_stock_refunds_instead() {
        let flow = definition();
        let Some(Step::Decision(d)) = flow.steps.iter().find(|s| s.name() == "in_stock") else {
            panic!("in_stock is a decision");
        };
        let mut data = Data::new();
        data.insert("work_order_done".into(), json!(false));
        assert_eq!((d.decide)(&data), Ok(Next::Goto("mark_refunding")));
        data.insert("work_order_done".into(), json!(true));
        assert_eq!((d.decide)(&data), Ok(Next::Continue));
        assert!(flow.validate().is_ok());
    }
}
