//! Exchange: the goods come back as in a return (inspection before anything moves), the
//! warehouse picks the replacement, the price difference of a replacement at another price is
//! settled, and the replacement ships to the buyer; when it is out of stock, or the buyer's
//! payment of the difference fails, the buyer is refunded instead.
//!
//! ```text
//! merchant decision (silence → auto-approve; rejected → fail)
//!   ─▶ the return leg (label, buyer shipment 7 d → close + void label, receipt, inspection,
//!      rejected items shipped back, nothing accepted → complete, restock)
//!   ─▶ check_stock (warehouse work order) ─▶ await_stock (48 h SLA → park)
//!   ─▶ in_stock? ─ no ─▶ refund instead: mark_refunding ─▶ refund [pivot] … complete_case
//!   ─▶ buyer owes a difference? ─ yes ─▶ charge_difference ⟲ void
//!        ─▶ (await_difference_charge 24 h → park) ─ failed ─▶ refund instead
//!   ─▶ ship_replacement (REPLACEMENT) ⟲ void ─▶ mark_replacement_shipped
//!   ─▶ buyer gets a difference back? ─ yes ─▶ refund_difference [pivot]
//!        ─▶ (await_difference_refund 24 h → park)
//!   ─▶ count_replaced_lines ─▶ complete_case
//! ```
//! The difference of each accepted item is computed by returns (replacement price x quantity
//! minus what the buyer paid for the item); rejected items are shipped back, not replaced, so
//! only accepted items count.

use super::common::{
    MarkRefunding, await_charge, await_refund, case_start, charge_status, follow_up_shipment, join,
    keep_charge, keep_shipment, keep_work_order, line_progress, merchant_decision, record_refund,
    refund_and_close, refund_status, replacement_shipped, system, void_charge, void_shipment,
    work_order, work_order_done,
};
use super::return_leg;
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
use serde_json::Value;

pub const NAME: &str = "exchange";

/// Version 2 settles the price difference of a replacement at another price.
pub fn definition() -> Flow {
    flow(
        2,
        join([
            merchant_decision(),
            return_leg::steps(),
            stock_steps(),
            difference_charge_steps(),
            ship_steps(),
            difference_refund_steps(),
            replaced_steps(),
            refund_and_close(MarkRefunding::BeforeRefund),
        ]),
    )
}

/// Version 1 (the same SKU at the same price, no difference): the sagas started on it finish on
/// its steps, which keep their positions.
pub fn definition_v1() -> Flow {
    flow(
        1,
        join([
            merchant_decision(),
            return_leg::steps(),
            stock_steps(),
            ship_steps(),
            replaced_steps(),
            refund_and_close(MarkRefunding::BeforeRefund),
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
                    case.case_type == returns::CaseType::Exchange as i32
                        && case.status == returns::CaseStatus::PendingMerchant as i32
                })
            },
        },
        steps,
    }
}

/// The warehouse picks the replacement (a work order); out of stock goes to the refund instead.
fn stock_steps() -> Vec<Step> {
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
    ]
}

/// A dearer replacement: the buyer pays the difference before it ships; a declined payment
/// refunds the accepted items instead.
fn difference_charge_steps() -> Vec<Step> {
    vec![
        Step::Decision(DecisionStep {
            name: "buyer_owes_difference",
            decide: |d| {
                Ok(if difference(d) > 0 {
                    Next::Continue
                } else {
                    Next::Goto("ship_replacement")
                })
            },
        }),
        Step::Command(
            CommandStep::new("charge_difference", |c| {
                Ok(Cmd::new(
                    "payments",
                    &payments::CreateChargeRequest {
                        idempotency_key: c.key.into(),
                        case_id: c.str("case_id")?,
                        buyer_id: c.str("buyer_id")?,
                        merchant_id: c.str("merchant_id")?,
                        amount: Some(difference_money(c, 1)?),
                        method: payments::PaymentMethod::Card as i32,
                        actor: Some(system()),
                        ..Default::default()
                    },
                ))
            })
            .on_result(keep_charge)
            .compensate(|c| void_charge(c, "the exchange saga was undone"))
            .department(Department::Finance),
        ),
        Step::Decision(DecisionStep {
            name: "difference_charged",
            decide: |d| {
                Ok(match charge_status(d) {
                    Some("SUCCEEDED") => Next::Goto("ship_replacement"),
                    Some("FAILED") => Next::Goto("mark_refunding"),
                    _ => Next::Continue,
                })
            },
        }),
        Step::Wait(await_charge(
            "await_difference_charge",
            "the exchange price difference was not confirmed in time",
        )),
        Step::Decision(DecisionStep {
            name: "difference_paid",
            decide: |d| {
                Ok(if charge_status(d) == Some("SUCCEEDED") {
                    Next::Continue
                } else {
                    Next::Goto("mark_refunding")
                })
            },
        }),
    ]
}

/// The replacement ships (undone by voiding its waybill) and returns records it.
fn ship_steps() -> Vec<Step> {
    vec![
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
    ]
}

/// A cheaper replacement: the difference goes back to the buyer once it shipped (the pivot).
fn difference_refund_steps() -> Vec<Step> {
    vec![
        Step::Decision(DecisionStep {
            name: "buyer_gets_difference_back",
            decide: |d| {
                Ok(if difference(d) < 0 {
                    Next::Continue
                } else {
                    Next::Goto("count_replaced_lines")
                })
            },
        }),
        Step::Command(
            CommandStep::new("refund_difference", |c| {
                Ok(Cmd::new(
                    "payments",
                    &payments::CreateRefundRequest {
                        idempotency_key: c.key.into(),
                        order_id: c.str("order_id")?,
                        case_id: c.str("case_id")?,
                        amount: Some(difference_money(c, -1)?),
                        reason: "exchange for a cheaper replacement: the price difference".into(),
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
            name: "difference_refund_settled",
            decide: |d| {
                Ok(match refund_status(d) {
                    Some("SUCCEEDED") => Next::Goto("count_replaced_lines"),
                    _ => Next::Continue,
                })
            },
        }),
        Step::Wait(await_refund(
            "await_difference_refund",
            "the price difference refund was not confirmed",
            // A retry waits again: re-running the refund while the first may still succeed
            // could pay the difference twice (it fits under the payment's refundable amount).
            None,
        )),
    ]
}

/// Orders counts the accepted units replaced; then the case is completed.
fn replaced_steps() -> Vec<Step> {
    vec![
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
    ]
}

/// The net price difference of the accepted items: > 0 the buyer pays, < 0 gets back.
fn difference(data: &Data) -> i64 {
    return_leg::accepted(data)
        .iter()
        .filter_map(|i| i.get("difference_minor").and_then(Value::as_i64))
        .fold(0, i64::saturating_add)
}

/// The difference as money to charge (`sign` 1) or refund (`sign` -1).
fn difference_money(c: &Ctx, sign: i64) -> Result<Money, String> {
    let minor = difference(c.data).saturating_mul(sign);
    if minor <= 0 {
        return Err(format!("no price difference to settle ({minor})"));
    }
    Ok(Money {
        minor_units: minor,
        currency: c.str("currency")?,
    })
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

    fn inspected(items: &[(bool, i64)]) -> Data {
        let mut data = Data::new();
        data.insert("currency".into(), json!("CNY"));
        let items: Vec<Value> = items
            .iter()
            .map(|(accepted, diff)| json!({ "accepted": accepted, "difference_minor": diff }))
            .collect();
        data.insert("inspected_items".into(), Value::Array(items));
        data
    }

    #[test]
    fn only_accepted_items_settle_a_difference_once_each_way() {
        let flow = definition();
        let decide = |name: &str, data: &Data| crate::flows::decide(&flow, name, data);
        // A dearer replacement: charge before shipping, no refund after.
        let dearer = inspected(&[(true, 1_000), (false, 5_000)]);
        assert_eq!(decide("buyer_owes_difference", &dearer), Ok(Next::Continue));
        assert_eq!(
            decide("buyer_gets_difference_back", &dearer),
            Ok(Next::Goto("count_replaced_lines"))
        );
        // A cheaper one: ship at once, refund the difference after.
        let cheaper = inspected(&[(true, -600), (true, 100)]);
        assert_eq!(
            decide("buyer_owes_difference", &cheaper),
            Ok(Next::Goto("ship_replacement"))
        );
        assert_eq!(
            decide("buyer_gets_difference_back", &cheaper),
            Ok(Next::Continue)
        );
        // The same price: neither.
        let same = inspected(&[(true, 0)]);
        assert_eq!(
            decide("buyer_owes_difference", &same),
            Ok(Next::Goto("ship_replacement"))
        );
        assert_eq!(
            decide("buyer_gets_difference_back", &same),
            Ok(Next::Goto("count_replaced_lines"))
        );
        // A failed payment of the difference refunds instead.
        let mut failed = dearer.clone();
        failed.insert("charge_status".into(), json!("FAILED"));
        assert_eq!(
            decide("difference_charged", &failed),
            Ok(Next::Goto("mark_refunding"))
        );
        assert_eq!(
            decide("difference_paid", &failed),
            Ok(Next::Goto("mark_refunding"))
        );
        failed.insert("charge_status".into(), json!("PENDING"));
        assert_eq!(decide("difference_charged", &failed), Ok(Next::Continue));
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
        let v1 = steps(1);
        let from_stock: Vec<&str> = v1
            .iter()
            .skip_while(|s| **s != "check_stock")
            .copied()
            .collect();
        assert_eq!(
            &from_stock[..7],
            [
                "check_stock",
                "await_stock",
                "in_stock",
                "ship_replacement",
                "mark_replacement_shipped",
                "count_replaced_lines",
                "replaced",
            ]
        );
        assert_eq!(from_stock[7], "mark_refunding");
        let v2 = steps(2);
        assert_eq!(v2.len(), v1.len() + 9);
        assert!(v2.contains(&"charge_difference") && v2.contains(&"refund_difference"));
        // Only the latest version starts new sagas.
        assert!(
            reg.latest()
                .iter()
                .any(|f| f.name == NAME && f.version == 2)
        );
    }

    #[test]
    fn the_difference_is_charged_and_refunded_in_the_right_direction() {
        let cheaper = inspected(&[(true, -600), (true, 100)]);
        let c = Ctx {
            data: &cheaper,
            item: None,
            key: "k",
        };
        assert_eq!(difference_money(&c, -1).unwrap().minor_units, 500);
        assert!(difference_money(&c, 1).is_err());
    }
}
