//! The complaint saga's compensation end to end: a complaint whose first response was late, or
//! whose work orders were answered past their SLA, ends with exactly one goodwill store credit of
//! 5 % of what the buyer paid, issued between the work orders and the resolution; the happy path
//! (no breach) pays nothing (`sagas.rs`).

use crate::saga_world::*;
use crate::sagas::{LONG, steps_with};
use aftersales_demo::Placed;
use aftersales_proto::common::v1::{ActorKind, Channel};
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::orchestrator::v1::{self as orch, SagaStatus};
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use std::time::Duration;

/// 5 % of the 145.00 every test order was paid.
const GOODWILL: i64 = 725;

fn cs() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::Staff, "cs-7")
}

/// A QUALITY complaint about the order, opened on the hotline; not answered yet.
async fn complain(w: &mut World, placed: &Placed) -> complaints::Complaint {
    let merchant = w.merchant.clone();
    w.complaints
        .create_complaint(complaints::CreateComplaintRequest {
            idempotency_key: key(),
            actor: cs(),
            customer_id: placed.buyer.clone(),
            order_id: placed.order.order_id.clone(),
            merchant_id: merchant,
            channel: Channel::Hotline as i32,
            category: complaints::ComplaintCategory::Quality as i32,
            subject: "the kettle leaks".into(),
            description: "water comes out of the base after two days".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

/// Customer service answers the complaint (first response) and starts investigating: the
/// saga starts from the snapshot this leaves.
async fn answer_and_investigate(w: &mut World, complaint_id: &str) -> complaints::Complaint {
    w.complaints
        .acknowledge_complaint(complaints::AcknowledgeComplaintRequest {
            idempotency_key: key(),
            actor: cs(),
            complaint_id: complaint_id.into(),
            message: "we are on it".into(),
        })
        .await
        .unwrap();
    w.complaints
        .start_investigation(complaints::StartInvestigationRequest {
            idempotency_key: key(),
            actor: cs(),
            complaint_id: complaint_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

async fn compensations_of_order(w: &mut World, placed: &Placed) -> Vec<payments::Compensation> {
    w.payments
        .list_compensations(payments::ListCompensationsRequest {
            order_id: placed.order.order_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items
}

async fn store_credit(w: &mut World, buyer: &str) -> i64 {
    w.payments
        .get_store_credit_balance(payments::GetStoreCreditBalanceRequest {
            buyer_id: buyer.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .balances
        .iter()
        .filter_map(|b| b.balance.as_ref().map(|m| m.minor_units))
        .sum()
}

async fn work_orders(w: &mut World, complaint_id: &str) -> Vec<complaints::WorkOrder> {
    w.complaints
        .list_work_orders(complaints::ListWorkOrdersRequest {
            actor: cs(),
            complaint_id: complaint_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items
}

/// The decision a decision step of the saga took, as its timeline says.
fn decided(saga: &orch::Saga, step: &str) -> Vec<String> {
    saga.timeline
        .iter()
        .filter(|e| e.step == step && e.outcome == "decided")
        .map(|e| e.detail.clone())
        .collect()
}

/// What a completed complaint saga that paid goodwill must leave behind, in every service it
/// touched: one GOODWILL store credit of 5 % of the order for the complaint (payments), the
/// complaint RESOLVED with the note sent and the follow-up recorded (complaints), the order as
/// it was (orders: the saga only read it), and a timeline with the compensation once.
async fn assert_paid_goodwill_once(
    w: &mut World,
    placed: &Placed,
    complaint_id: &str,
    s: &orch::SagaSummary,
    reason: &str,
) {
    assert_eq!(status(s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "complaint_work_orders");
    assert_eq!(s.flow_version, 2);
    assert!(s.past_pivot, "{s:?}");

    // payments: exactly one goodwill store credit, for this complaint and order.
    let paid = compensations_of_order(w, placed).await;
    assert_eq!(paid.len(), 1, "{paid:?}");
    let c = &paid[0];
    assert_eq!(c.kind, payments::CompensationKind::Goodwill as i32);
    assert_eq!(c.payout, payments::CompensationPayout::StoreCredit as i32);
    assert_eq!(c.status, payments::CompensationStatus::Issued as i32);
    assert_eq!(c.amount.as_ref().unwrap().minor_units, GOODWILL);
    assert_eq!(c.amount.as_ref().unwrap().currency, "CNY");
    assert_eq!(c.buyer_id, placed.buyer);
    assert_eq!(c.merchant_id, w.merchant);
    assert_eq!(c.complaint_id, complaint_id);
    assert!(!c.store_credit_entry_id.is_empty(), "{c:?}");
    assert!(c.reason.contains(reason), "{}", c.reason);
    assert_eq!(store_credit(w, &placed.buyer).await, GOODWILL);
    let by_complaint = w
        .payments
        .list_compensations(payments::ListCompensationsRequest {
            complaint_id: complaint_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(by_complaint.len(), 1, "{by_complaint:?}");
    assert!(w.refunds(placed).await.unwrap().is_empty());

    // complaints: resolved, the customer told, the follow-up recorded, every work order answered.
    let complaint = w.complaint(complaint_id).await.unwrap();
    assert_eq!(
        complaint.status,
        complaints::ComplaintStatus::Resolved as i32
    );
    assert!(complaint.resolution_sent_at.is_some());
    assert!(
        complaint.resolution_note.contains("store credit"),
        "{}",
        complaint.resolution_note
    );
    let follow_ups = w
        .complaints
        .list_follow_ups(complaints::ListFollowUpsRequest {
            complaint_id: complaint_id.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(follow_ups.len(), 1, "{follow_ups:?}");
    let answered = work_orders(w, complaint_id).await;
    assert_eq!(answered.len(), 2, "{answered:?}");
    assert!(
        answered
            .iter()
            .all(|wo| wo.status == complaints::WorkOrderStatus::Done as i32),
        "{answered:?}"
    );

    // orders: read, not changed.
    let order = w.order(placed).await.unwrap();
    assert_eq!(order.version, placed.order.version, "{order:?}");
    assert_eq!(order.state, placed.order.state);

    // the saga: due, looked up, paid once, then resolved.
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_eq!(decided(&saga, "compensation_due"), vec!["continue"]);
    assert_eq!(decided(&saga, "compensation_above_zero"), vec!["continue"]);
    let done = steps_with(&saga, "succeeded");
    for (step, times) in [
        ("look_up_order", 1),
        ("compensate_customer", 1),
        ("resolve", 1),
    ] {
        let n = done.iter().filter(|d| *d == step).count();
        assert_eq!(n, times, "{step} in {done:?}");
    }
    assert!(
        saga.data_json.contains("\"compensation_due\": true"),
        "{}",
        saga.data_json
    );
}

#[tokio::test]
async fn a_complaint_whose_first_response_breached_gets_goodwill_store_credit_once() {
    // Quality complaints are urgent: a first response due after a second; no background sweep,
    // the test runs it.
    let complaints_env = [
        (
            "complaints",
            "AFTERSALES__SERVICE__FIRST_RESPONSE_SECS",
            "1",
        ),
        (
            "complaints",
            "AFTERSALES__SERVICE__URGENT_FIRST_RESPONSE_SECS",
            "1",
        ),
        ("complaints", "AFTERSALES__SERVICE__SLA_SWEEP_SECS", "0"),
    ];
    let mut w = World::start_with(&[], &complaints_env).await;
    let placed = w.place_order().await.unwrap();
    let complaint = complain(&mut w, &placed).await;
    let id = complaint.complaint_id.clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sweep = w
        .complaints
        .check_sla_breaches(complaints::CheckSlaBreachesRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::System, "scheduler"),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sweep.complaints.len(), 1, "{sweep:?}");
    assert_eq!(sweep.complaints[0].complaint_id, id);
    assert_eq!(
        sweep.complaints[0].status,
        complaints::ComplaintStatus::Escalated as i32
    );
    // The late first response is still given, and the breach stays recorded.
    let investigating = answer_and_investigate(&mut w, &id).await;
    assert!(investigating.first_response_breached);

    let answered = w.departments_answer(&id, 2, LONG).await.unwrap();
    assert_eq!(answered, 2);
    w.follow_up(&id, LONG).await.unwrap();
    let s = w.wait_key(&format!("complaint:{id}"), LONG).await.unwrap();
    assert_paid_goodwill_once(&mut w, &placed, &id, &s, "the first response was late").await;
    // The work orders themselves were answered on time.
    assert!(
        work_orders(&mut w, &id)
            .await
            .iter()
            .all(|wo| wo.sla_status == complaints::SlaStatus::Reached as i32)
    );
}

#[tokio::test]
async fn a_complaint_whose_work_orders_missed_their_sla_gets_goodwill_store_credit_once() {
    // Work orders due a second after they open, escalated by complaints' own sweep; the saga's
    // wait for them keeps its 48 h default, so late answers still end it.
    let complaints_env = [
        (
            "complaints",
            "AFTERSALES__SERVICE__WORK_ORDER_SLA_SECS",
            "1",
        ),
        ("complaints", "AFTERSALES__SERVICE__SLA_SWEEP_SECS", "1"),
    ];
    let mut w = World::start_with(&[], &complaints_env).await;
    let placed = w.place_order().await.unwrap();
    let complaint = complain(&mut w, &placed).await;
    let id = complaint.complaint_id.clone();
    let investigating = answer_and_investigate(&mut w, &id).await;
    assert!(!investigating.first_response_breached);
    // Both work orders open, then pass their SLA before the departments answer.
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let open = work_orders(&mut w, &id).await;
        if open.len() == 2 && open.iter().all(|wo| wo.escalated) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "work orders not escalated: {open:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let answered = w.departments_answer(&id, 2, LONG).await.unwrap();
    assert_eq!(answered, 2);
    w.follow_up(&id, LONG).await.unwrap();
    let s = w.wait_key(&format!("complaint:{id}"), LONG).await.unwrap();
    // Two breaches, one compensation.
    assert_paid_goodwill_once(&mut w, &placed, &id, &s, "missed its SLA").await;
    assert!(
        work_orders(&mut w, &id)
            .await
            .iter()
            .all(|wo| wo.sla_status == complaints::SlaStatus::Failed as i32)
    );
    let complaint = w.complaint(&id).await.unwrap();
    assert!(!complaint.first_response_breached);
    // The order is still as the storefront placed it.
    assert_eq!(
        w.order(&placed).await.unwrap().state,
        orders::OrderState::Paid as i32
    );
}
