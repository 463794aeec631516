//! Two delivery exceptions the platform answers without anyone asking: a shipment with no scan
//! past logistics' stuck threshold opens a work order for the delivery team (its SLA breach
//! parks the saga), and an order signed after its promised ETA pays the buyer an overtime
//! compensation as store credit.
//!
//! ```text
//! stuck_shipment:  logistics.shipment.stuck ─▶ open_delivery_work_order ─▶ await_delivery_team (48 h → park)
//! late_delivery:   orders.order.delivered_late ─▶ pay_overtime [pivot] (store credit)
//! ```

use super::common::{keep_work_order, percent_of, system, work_order};
use crate::engine::flow::{Cmd, CommandStep, Data, Department, Flow, Step, Trigger};
use aftersales_proto::common::v1::Money;
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use prost::{Message, Name};
use serde_json::json;

pub const STUCK: &str = "stuck_shipment";
pub const LATE: &str = "late_delivery";

/// A late delivery is compensated with this share of what the buyer paid.
pub const OVERTIME_COMPENSATION_PERCENT: i64 = 5;

pub fn stuck_shipment() -> Flow {
    Flow {
        name: STUCK,
        version: 1,
        trigger: Trigger {
            event: "logistics.shipment.stuck",
            start: start_stuck,
        },
        steps: vec![
            Step::Command(
                CommandStep::new("open_delivery_work_order", |c| {
                    work_order(
                        c,
                        complaints::Department::Delivery,
                        "Shipment without a scan",
                        format!(
                            "Shipment {} ({} {}) has had no scan past the stuck threshold: \
                             chase the courier and record what happened.",
                            c.str("shipment_id")?,
                            c.str("courier_code")?,
                            c.str("tracking_number")?
                        ),
                    )
                })
                .on_result(keep_work_order)
                .department(Department::Delivery),
            ),
            Step::Wait(super::common::await_work_order(
                "await_delivery_team",
                Department::Delivery,
            )),
        ],
    }
}

pub fn late_delivery() -> Flow {
    Flow {
        name: LATE,
        version: 1,
        trigger: Trigger {
            event: "orders.order.delivered_late",
            start: start_late,
        },
        steps: vec![Step::Command(
            CommandStep::new("pay_overtime", |c| {
                Ok(Cmd::new(
                    "payments",
                    &payments::IssueCompensationRequest {
                        idempotency_key: c.key.into(),
                        buyer_id: c.str("buyer_id")?,
                        merchant_id: c.str("merchant_id")?,
                        order_id: c.str("order_id")?,
                        kind: payments::CompensationKind::Overtime as i32,
                        payout: payments::CompensationPayout::StoreCredit as i32,
                        amount: Some(Money {
                            minor_units: c.i64("amount_minor")?,
                            currency: c.str("currency")?,
                        }),
                        reason: format!(
                            "delivered {} late: {OVERTIME_COMPENSATION_PERCENT}% of the order",
                            c.str("overdue")?
                        ),
                        actor: Some(system()),
                        ..Default::default()
                    },
                ))
            })
            .pivot()
            .department(Department::Finance),
        )],
    }
}

/// One saga per stuck episode: a shipment that moves again and gets stuck later is a new one.
fn start_stuck(event: &DomainEvent) -> Result<Option<(String, Data)>, String> {
    if event.snapshot_type != logistics::Shipment::full_name() {
        return Err(format!("unexpected snapshot {}", event.snapshot_type));
    }
    let s = logistics::Shipment::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable shipment snapshot: {e}"))?;
    let since = s
        .last_scan_at
        .or(s.updated_at)
        .map(|t| t.seconds)
        .unwrap_or_default();
    let mut data = Data::new();
    data.insert("shipment_id".into(), json!(s.shipment_id));
    data.insert("order_id".into(), json!(s.order_id));
    data.insert("case_id".into(), json!(s.case_id));
    data.insert("repair_id".into(), json!(s.repair_id));
    data.insert("courier_code".into(), json!(s.courier_code));
    data.insert("tracking_number".into(), json!(s.tracking_number));
    Ok(Some((format!("stuck:{}:{since}", s.shipment_id), data)))
}

fn start_late(event: &DomainEvent) -> Result<Option<(String, Data)>, String> {
    if event.snapshot_type != orders::OrderDeliveredLate::full_name() {
        return Err(format!("unexpected snapshot {}", event.snapshot_type));
    }
    let late = orders::OrderDeliveredLate::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable late delivery snapshot: {e}"))?;
    let paid = late.paid_amount.unwrap_or_default();
    let amount = percent_of(paid.minor_units, OVERTIME_COMPENSATION_PERCENT);
    if amount <= 0 {
        return Ok(None);
    }
    let overdue = late.overdue.map(|d| d.seconds).unwrap_or_default();
    let mut data = Data::new();
    data.insert("order_id".into(), json!(late.order_id));
    data.insert("buyer_id".into(), json!(late.buyer_id));
    data.insert("merchant_id".into(), json!(late.merchant_id));
    data.insert("amount_minor".into(), json!(amount));
    data.insert("currency".into(), json!(paid.currency));
    data.insert(
        "overdue".into(),
        json!(
            humantime::format_duration(std::time::Duration::from_secs(
                u64::try_from(overdue).unwrap_or_default()
            ))
            .to_string()
        ),
    );
    Ok(Some((format!("late:{}", late.order_id), data)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn a_late_delivery_pays_five_percent_once_per_order() {
        let late = orders::OrderDeliveredLate {
            order_id: "o-1".into(),
            buyer_id: "b-1".into(),
            merchant_id: "m-1".into(),
            paid_amount: Some(Money {
                minor_units: 20_000,
                currency: "CNY".into(),
            }),
            overdue: Some(prost_types::Duration {
                seconds: 7200,
                nanos: 0,
            }),
            ..Default::default()
        };
        let event = DomainEvent {
            name: "orders.order.delivered_late".into(),
            snapshot: late.encode_to_vec(),
            snapshot_type: orders::OrderDeliveredLate::full_name(),
            ..Default::default()
        };
        let (key, data) = start_late(&event).unwrap().unwrap();
        assert_eq!(key, "late:o-1");
        assert_eq!(data["amount_minor"], json!(1000));
        assert_eq!(data["overdue"], json!("2h"));
    }

    #[test]
    fn a_shipment_stuck_twice_is_two_sagas() {
        let stuck = |secs| {
            let s = logistics::Shipment {
                shipment_id: "s-1".into(),
                last_scan_at: Some(prost_types::Timestamp {
                    seconds: secs,
                    nanos: 0,
                }),
                ..Default::default()
            };
            DomainEvent {
                name: "logistics.shipment.stuck".into(),
                snapshot: s.encode_to_vec(),
                snapshot_type: logistics::Shipment::full_name(),
                ..Default::default()
            }
        };
        let (a, _) = start_stuck(&stuck(100)).unwrap().unwrap();
        let (b, _) = start_stuck(&stuck(900)).unwrap().unwrap();
        assert_ne!(a, b);
        assert!(crate::flows::registry().is_ok());
    }
}
