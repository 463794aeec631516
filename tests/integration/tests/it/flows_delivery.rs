//! Delivery exceptions end to end: logistics' own sweep marks a shipment without scans stuck and
//! the orchestrator opens a delivery work order (whose SLA breach complaints' sweep escalates and
//! the saga parks on), and a delivery signed after its promised ETA pays overtime compensation.

use crate::saga_world::*;
use crate::sagas::{LONG, steps_with};
use aftersales_proto::common::v1::ActorKind;
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::orchestrator::v1::{self as orch, SagaStatus};
use aftersales_proto::payments::v1 as payments;
use std::time::Duration;

/// The delivery work orders opened for a shipment, once there are any.
async fn delivery_work_orders(w: &mut World, shipment_id: &str) -> Vec<complaints::WorkOrder> {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let found: Vec<_> = w
            .complaints
            .list_work_orders(complaints::ListWorkOrdersRequest {
                actor: actor(ActorKind::Staff, "delivery-lead"),
                department: complaints::Department::Delivery as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .items
            .into_iter()
            .filter(|wo| wo.shipment_id == shipment_id)
            .collect();
        if !found.is_empty() || tokio::time::Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The one saga of `flow` in this test's world, once `done` says so.
async fn wait_flow(
    w: &mut World,
    flow: &str,
    done: impl Fn(&orch::SagaSummary) -> bool,
) -> orch::SagaSummary {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let sagas = w
            .orch
            .list_sagas(orch::ListSagasRequest {
                flow: flow.into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .sagas;
        match sagas.into_iter().next() {
            Some(s) if done(&s) => return s,
            last => assert!(
                tokio::time::Instant::now() < deadline,
                "no {flow} saga got there: {last:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_stuck_shipment_opens_a_delivery_work_order_that_the_team_closes() {
    let logistics = [
        ("logistics", "AFTERSALES__SERVICE__STUCK_AFTER_SECONDS", "1"),
        ("logistics", "AFTERSALES__SERVICE__STUCK_SWEEP_SECONDS", "1"),
    ];
    let mut w = World::start_with(&[], &logistics).await;
    // The courier's last scan was 20 minutes ago: past the (shortened) stuck threshold.
    let placed = w.place_shipped_order().await.unwrap();
    let found = delivery_work_orders(&mut w, &placed.shipment_id).await;
    assert_eq!(
        found.len(),
        1,
        "one work order per stuck episode: {found:?}"
    );
    let wo = &found[0];
    assert_eq!(wo.order_id, placed.order.order_id);
    let shipment = w.shipment(&placed.shipment_id).await.unwrap();
    assert_eq!(
        shipment.exception_kind,
        aftersales_proto::logistics::v1::ExceptionKind::Stuck as i32
    );
    w.answer_work_order(
        &wo.work_order_id,
        actor(ActorKind::Staff, "delivery-lead"),
        "courier-liaison",
        Ok("the courier found the parcel at the Hangzhou hub"),
    )
    .await
    .unwrap();
    let s = wait_flow(&mut w, "stuck_shipment", terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert!(
        s.business_key
            .starts_with(&format!("stuck:{}:", placed.shipment_id))
    );
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(steps_with(&saga, "event_received").contains(&"await_delivery_team".to_owned()));
}

#[tokio::test]
async fn an_unanswered_delivery_work_order_breaches_its_sla_escalates_and_parks_the_saga() {
    let orch = [("AFTERSALES__SERVICE__DEADLINES_MS__WORK_ORDER_SLA", "3000")];
    let services = [
        ("logistics", "AFTERSALES__SERVICE__STUCK_AFTER_SECONDS", "1"),
        ("logistics", "AFTERSALES__SERVICE__STUCK_SWEEP_SECONDS", "1"),
        (
            "complaints",
            "AFTERSALES__SERVICE__WORK_ORDER_SLA_SECS",
            "2",
        ),
        ("complaints", "AFTERSALES__SERVICE__SLA_SWEEP_SECS", "1"),
    ];
    let mut w = World::start_with(&orch, &services).await;
    let placed = w.place_shipped_order().await.unwrap();
    let s = wait_flow(&mut w, "stuck_shipment", |s| {
        status(s) == SagaStatus::NeedsAttention
    })
    .await;
    let deadline = tokio::time::Instant::now() + LONG;
    let wo = loop {
        let found = delivery_work_orders(&mut w, &placed.shipment_id).await;
        let wo = found.into_iter().next().expect("a delivery work order");
        if wo.escalated || tokio::time::Instant::now() > deadline {
            break wo;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(wo.escalated, "complaints escalated the breach: {wo:?}");
    assert_eq!(wo.sla_status, complaints::SlaStatus::Failed as i32);
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(steps_with(&saga, "deadline_passed").contains(&"await_delivery_team".to_owned()));
}

#[tokio::test]
async fn a_late_delivery_pays_overtime_compensation_once() {
    let mut w = World::start(&[]).await;
    // Promised an hour after payment (an hour ago); signed five minutes ago: late.
    let placed = w
        .place_order_promised(chrono::Duration::hours(1))
        .await
        .unwrap();
    let placed = w.ship(placed).await.unwrap();
    let placed = w.deliver(placed).await.unwrap();
    assert!(placed.order.delivered_late);
    let s = w
        .wait_key(&format!("late:{}", placed.order.order_id), LONG)
        .await
        .unwrap();
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "late_delivery");
    let paid: Vec<_> = w
        .payments
        .list_compensations(payments::ListCompensationsRequest {
            order_id: placed.order.order_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(paid.len(), 1, "{paid:?}");
    assert_eq!(paid[0].kind, payments::CompensationKind::Overtime as i32);
    assert_eq!(
        paid[0].payout,
        payments::CompensationPayout::StoreCredit as i32
    );
    // 5 % of the 145.00 paid.
    assert_eq!(paid[0].amount.as_ref().unwrap().minor_units, 725);
    let balance = w
        .payments
        .get_store_credit_balance(payments::GetStoreCreditBalanceRequest {
            buyer_id: placed.buyer.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let credit: i64 = balance
        .balances
        .iter()
        .filter_map(|b| b.balance.as_ref().map(|m| m.minor_units))
        .sum();
    assert_eq!(credit, 725, "{balance:?}");
}
