//! The exchange and reship flows, and the return leg's label, end to end: the real orchestrator
//! and services, PostgreSQL and RabbitMQ, every party played through the public gRPC APIs. Each
//! test checks the saga's steps and the final state of every service the flow touched.

use crate::saga_world::*;
use crate::sagas::{LONG, steps_with};
use aftersales_proto::common::v1::{ActorKind, PageRequest};
use aftersales_proto::complaints::v1::{self as complaints, WorkOrderStatus};
use aftersales_proto::logistics::v1::{Direction, FeePayer, WaybillState};
use aftersales_proto::orchestrator::v1::{self as orch, SagaStatus};
use aftersales_proto::payments::v1::{CompensationKind, CompensationPayout, CompensationStatus};
use aftersales_proto::returns::v1::{
    CaseStatus, CaseType, InspectionStatus as Inspection, ListCaseHistoryRequest, ReasonCode,
};
use std::time::Duration;

/// Order line indexes of `Parties::place_order`: A (2 × 70.00, 10.00 discount), B (1 × 15.00).
const LINE_A: usize = 0;
const LINE_B: usize = 1;

/// Asserts each of `steps` has a timeline entry with `outcome`.
fn assert_steps(saga: &orch::Saga, outcome: &str, steps: &[&str]) {
    let seen = steps_with(saga, outcome);
    for step in steps {
        assert!(
            seen.iter().any(|s| s == step),
            "{step} not {outcome} in {seen:?}"
        );
    }
}

/// Asserts none of `steps` was ever started (no command sent, no wait entered).
fn assert_never_ran(saga: &orch::Saga, steps: &[&str]) {
    for e in &saga.timeline {
        assert!(
            !steps.contains(&e.step.as_str()),
            "{} ran ({} {}: {})",
            e.step,
            e.kind,
            e.outcome,
            e.detail
        );
    }
}

async fn work_order(w: &mut World, id: &str) -> complaints::WorkOrder {
    w.complaints
        .get_work_order(complaints::GetWorkOrderRequest {
            work_order_id: id.into(),
            actor: actor(ActorKind::Staff, "warehouse-lead"),
        })
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap()
}

/// (replaced, reshipped, refunded) units of each order line, in order.
async fn line_progress(w: &mut World, placed: &aftersales_demo::Placed) -> Vec<(u32, u32, u32)> {
    w.order(placed)
        .await
        .unwrap()
        .lines
        .iter()
        .map(|l| {
            let c = l.counters.unwrap_or_default();
            (c.replaced, c.reshipped, c.refunded)
        })
        .collect()
}

#[tokio::test]
async fn an_exchange_in_stock_ships_the_replacement_and_moves_no_money() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::Exchange).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    let stock_check = w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    assert_eq!(stock_check.title, "Pick an exchange replacement");
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "exchange");
    assert_eq!(
        w.exchange_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );

    // returns: completed with the replacement recorded; logistics: that shipment, to the buyer.
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    let replacement = w.shipment(&case.replacement_shipment_id).await.unwrap();
    assert_eq!(replacement.direction, Direction::Replacement as i32);
    assert_eq!(replacement.case_id, case_id);
    assert_eq!(replacement.fee_payer, FeePayer::Merchant as i32);
    // orders: every unit replaced, none refunded; payments: nothing.
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(2, 0, 0), (1, 0, 0)]
    );
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    // complaints: the stock check is done.
    let wo = work_order(&mut w, &stock_check.work_order_id).await;
    assert_eq!(wo.status, WorkOrderStatus::Done as i32);

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(
        &saga,
        "event_received",
        &[
            "await_buyer_shipment",
            "await_receipt",
            "await_inspection",
            "await_stock",
        ],
    );
    assert_steps(
        &saga,
        "succeeded",
        &[
            "issue_return_label",
            "restock",
            "check_stock",
            "ship_replacement",
            "mark_replacement_shipped",
            "count_replaced_lines",
            "complete_case",
        ],
    );
    assert_never_ran(
        &saga,
        &[
            "ship_back_rejected",
            "mark_refunding",
            "refund",
            "void_return_label",
        ],
    );
}

#[tokio::test]
async fn an_exchange_out_of_stock_refunds_the_accepted_items_instead() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::Exchange).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    // Line A passes inspection and can be sold again; line B is rejected.
    w.return_leg(&placed, &case_id, |n| {
        if n == LINE_A {
            (Inspection::Accepted, true)
        } else {
            (Inspection::Rejected, false)
        }
    })
    .await
    .unwrap();
    let stock_check = w.warehouse_answers(&case_id, false, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "exchange");
    assert!(s.past_pivot);
    // One refund of what returns fixed for the accepted items, line B shipped back, line A
    // restocked, the label used, the case completed.
    assert_eq!(
        w.return_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert!(case.replacement_shipment_id.is_empty(), "{case:?}");
    let refunds = w.refunds(&placed).await.unwrap();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let refunded = refunds[0].amount.as_ref().unwrap().minor_units;
    assert!(
        refunded > 0 && refunded <= 13_000,
        "only line A: {refunded}"
    );
    assert_eq!(
        case.refunded_amount.as_ref().map(|m| m.minor_units),
        Some(refunded)
    );
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 2), (0, 0, 0)]
    );
    assert!(
        w.case_shipments(&placed, &case_id, Direction::Replacement)
            .await
            .unwrap()
            .is_empty(),
        "no replacement ships when it is out of stock"
    );
    let wo = work_order(&mut w, &stock_check.work_order_id).await;
    assert_eq!(wo.status, WorkOrderStatus::Rejected as i32);

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(&saga, "event_received", &["await_stock"]);
    assert_steps(
        &saga,
        "succeeded",
        &[
            "ship_back_rejected",
            "check_stock",
            "mark_refunding",
            "refund",
            "record_refunded",
            "count_refunded_lines",
            "complete_case",
        ],
    );
    assert_never_ran(
        &saga,
        &[
            "ship_replacement",
            "mark_replacement_shipped",
            "count_replaced_lines",
        ],
    );
}

#[tokio::test]
async fn an_exchange_ships_an_item_rejected_at_inspection_back_and_replaces_the_rest() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::Exchange).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |n| {
        if n == LINE_A {
            (Inspection::Accepted, true)
        } else {
            (Inspection::Rejected, false)
        }
    })
    .await
    .unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(
        w.exchange_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );

    // logistics: line B goes back to the buyer at the buyer's cost, the replacement of line A
    // goes out at the merchant's.
    let back = w
        .case_shipments(&placed, &case_id, Direction::Reship)
        .await
        .unwrap();
    assert_eq!(back.len(), 1, "{back:?}");
    assert_eq!(back[0].fee_payer, FeePayer::Buyer as i32);
    assert_ne!(back[0].waybill_state, WaybillState::Voided as i32);
    let forward = w.shipment(&placed.shipment_id).await.unwrap();
    assert_eq!(
        back[0].destination, forward.destination,
        "back to the buyer"
    );
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_ne!(case.replacement_shipment_id, back[0].shipment_id);
    // orders: only line A replaced.
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(2, 0, 0), (0, 0, 0)]
    );
    assert!(w.refunds(&placed).await.unwrap().is_empty());

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(
        &saga,
        "succeeded",
        &[
            "ship_back_rejected",
            "restock",
            "ship_replacement",
            "count_replaced_lines",
            "complete_case",
        ],
    );
    assert_never_ran(&saga, &["refund"]);
}

#[tokio::test]
async fn a_missing_item_is_reshipped_after_verification_without_label_or_compensation() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w
        .open_case_for(
            &placed,
            CaseType::Reship,
            ReasonCode::MissingItem,
            &[LINE_B],
        )
        .await
        .unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    let verification = w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    assert_eq!(verification.title, "Verify a missing or wrong item");
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "reship");
    assert_eq!(
        w.reship_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );

    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    let reship = w.shipment(&case.replacement_shipment_id).await.unwrap();
    assert_eq!(reship.direction, Direction::Reship as i32);
    assert_eq!(reship.fee_payer, FeePayer::Merchant as i32);
    assert!(
        w.case_shipments(&placed, &case_id, Direction::Return)
            .await
            .unwrap()
            .is_empty(),
        "a missing item has nothing to send back"
    );
    assert!(w.compensations(&case_id).await.unwrap().is_empty());
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 0), (0, 1, 0)]
    );
    let wo = work_order(&mut w, &verification.work_order_id).await;
    assert_eq!(wo.status, WorkOrderStatus::Done as i32);

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(&saga, "event_received", &["await_verification"]);
    assert_steps(
        &saga,
        "succeeded",
        &[
            "verify_with_warehouse",
            "ship_item",
            "mark_reshipped",
            "count_reshipped_lines",
            "complete_case",
        ],
    );
    assert_never_ran(&saga, &["return_label", "compensate_buyer"]);
}

#[tokio::test]
async fn a_wrong_item_is_reshipped_with_a_merchant_paid_return_label_and_store_credit() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    // Line A (2 × 70.00 less a 10.00 discount) arrived as another product.
    let case_id = w
        .open_case_for(&placed, CaseType::Reship, ReasonCode::WrongItem, &[LINE_A])
        .await
        .unwrap();
    let opened = w.case(&case_id).await.unwrap();
    assert!(opened.merchant_pays_return_shipping);
    assert_eq!(
        opened.requested_amount.as_ref().map(|m| m.minor_units),
        Some(13_000)
    );
    w.merchant_decides(&case_id, true).await.unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert!(s.past_pivot, "the compensation is the pivot");
    assert_eq!(
        w.reship_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );

    // logistics: the right item out and a label for the wrong one, both paid by the merchant.
    let labels = w
        .case_shipments(&placed, &case_id, Direction::Return)
        .await
        .unwrap();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(labels[0].fee_payer, FeePayer::Merchant as i32);
    let forward = w.shipment(&placed.shipment_id).await.unwrap();
    assert_eq!(
        labels[0].destination, forward.origin,
        "back to the warehouse"
    );
    // payments: 10 % of the case's 130.00 as store credit, no refund.
    let compensations = w.compensations(&case_id).await.unwrap();
    assert_eq!(compensations.len(), 1, "{compensations:?}");
    let c = &compensations[0];
    assert_eq!(c.kind, CompensationKind::WrongItem as i32);
    assert_eq!(c.payout, CompensationPayout::StoreCredit as i32);
    assert_eq!(c.status, CompensationStatus::Issued as i32);
    assert_eq!(c.amount.as_ref().map(|m| m.minor_units), Some(1_300));
    assert_eq!(c.buyer_id, placed.buyer);
    assert!(!c.store_credit_entry_id.is_empty());
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    // returns and orders.
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 2, 0), (0, 0, 0)]
    );

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(
        &saga,
        "succeeded",
        &[
            "verify_with_warehouse",
            "ship_item",
            "return_label",
            "mark_reshipped",
            "count_reshipped_lines",
            "compensate_buyer",
            "complete_case",
        ],
    );
}

#[tokio::test]
async fn a_reship_claim_the_warehouse_refutes_closes_the_case_and_frees_the_line() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w
        .open_case_for(
            &placed,
            CaseType::Reship,
            ReasonCode::MissingItem,
            &[LINE_B],
        )
        .await
        .unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    let verification = w.warehouse_answers(&case_id, false, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    // The claim was decided, nothing failed: the saga completes, the case is closed.
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "reship");
    assert!(!s.past_pivot);
    assert!(s.last_error.is_empty(), "{}", s.last_error);

    // Nothing shipped, nothing paid, nothing counted.
    for direction in [Direction::Reship, Direction::Return, Direction::Replacement] {
        let found = w
            .case_shipments(&placed, &case_id, direction)
            .await
            .unwrap();
        assert!(found.is_empty(), "{direction:?}: {found:?}");
    }
    assert!(w.compensations(&case_id).await.unwrap().is_empty());
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 0), (0, 0, 0)]
    );
    let wo = work_order(&mut w, &verification.work_order_id).await;
    assert_eq!(wo.status, WorkOrderStatus::Rejected as i32);

    // returns: CLOSED with the reason, recorded in the history by the orchestrator.
    let reason = format!(
        "the warehouse refuted the claim (work order {})",
        verification.work_order_id
    );
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Closed as i32);
    assert_eq!(case.close_reason, reason);
    assert!(case.replacement_shipment_id.is_empty());
    let history = w
        .returns
        .list_case_history(ListCaseHistoryRequest {
            actor: actor(ActorKind::Staff, "cs-1"),
            case_id: case_id.clone(),
            page: Some(PageRequest {
                page_size: 100,
                page_token: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    let last = history.last().unwrap();
    assert_eq!(last.event, "returns.case.closed");
    assert_eq!(
        (last.from_status, last.to_status),
        (CaseStatus::Approved as i32, CaseStatus::Closed as i32)
    );
    assert_eq!(last.note, reason);
    assert_eq!(
        last.actor.as_ref().map(|a| a.kind),
        Some(ActorKind::System as i32)
    );

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(&saga, "event_received", &["await_verification"]);
    assert_steps(
        &saga,
        "succeeded",
        &["verify_with_warehouse", "close_refuted_case"],
    );
    assert_never_ran(
        &saga,
        &[
            "ship_item",
            "mark_reshipped",
            "compensate_buyer",
            "complete_case",
        ],
    );

    // The line is free again: the buyer opens a new case on it.
    let again = w
        .open_case_for(
            &placed,
            CaseType::Reship,
            ReasonCode::MissingItem,
            &[LINE_B],
        )
        .await
        .unwrap();
    assert_ne!(again, case_id);
    let reopened = w.case(&again).await.unwrap();
    assert_eq!(reopened.status, CaseStatus::PendingMerchant as i32);
    assert_eq!(reopened.items.len(), 1);
    assert_eq!(reopened.items[0].line_id, case.items[0].line_id);
}

#[tokio::test]
async fn a_low_value_quality_return_is_refunded_without_a_return_label() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    // Line B is worth 15.00, under the returns default low-value threshold of 20.00.
    let case_id = w
        .open_case_for(
            &placed,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            &[LINE_B],
        )
        .await
        .unwrap();
    let opened = w.case(&case_id).await.unwrap();
    assert!(!opened.return_required, "{opened:?}");
    w.merchant_decides(&case_id, true).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "return_refund");

    // payments: one refund of the amount returns fixed; returns: completed and refunded.
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    let due = case.refund_amount.as_ref().map_or(0, |m| m.minor_units);
    assert!(due >= 1_500, "line B and its share of shipping: {due}");
    assert_eq!(w.money_refunded(&placed).await.unwrap(), (1, due));
    assert_eq!(
        case.refunded_amount.as_ref().map(|m| m.minor_units),
        Some(due)
    );
    // logistics: no label, nothing shipped for the case.
    for direction in [Direction::Return, Direction::Reship] {
        let found = w
            .case_shipments(&placed, &case_id, direction)
            .await
            .unwrap();
        assert!(found.is_empty(), "{direction:?}: {found:?}");
    }
    // orders: line B's unit counted as refunded.
    let saga = w.saga(&s.saga_id).await.unwrap();
    let counting: Vec<String> = saga
        .timeline
        .iter()
        .filter(|e| e.step.starts_with("count_refunded_line"))
        .map(|e| format!("{} {} {}", e.step, e.outcome, e.detail))
        .collect();
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 0), (0, 0, 1)],
        "the saga counted: {counting:?}"
    );

    assert_steps(
        &saga,
        "succeeded",
        &[
            "mark_refunding",
            "refund",
            "record_refunded",
            "count_refunded_lines",
            "complete_case",
        ],
    );
    assert_never_ran(
        &saga,
        &[
            "issue_return_label",
            "await_buyer_shipment",
            "await_receipt",
        ],
    );
}

#[tokio::test]
async fn an_unanswered_exchange_stock_check_parks_the_saga_past_its_sla() {
    let orch = [("AFTERSALES__SERVICE__DEADLINES_MS__WORK_ORDER_SLA", "2500")];
    let mut w = World::start(&orch).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::Exchange).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    // The stock check is opened; nobody in the warehouse answers it.
    let stock_check = w.await_warehouse_work_order(&case_id, LONG).await.unwrap();
    let s = w
        .wait_saga(&case_id, LONG, |s| status(s) == SagaStatus::NeedsAttention)
        .await;
    assert_eq!(s.current_step, "await_stock", "{s:?}");
    assert!(s.last_error.contains("SLA"), "{}", s.last_error);
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_steps(&saga, "deadline_passed", &["await_stock"]);
    assert!(saga.timeline.iter().any(|e| e.outcome == "parked"));
    assert_never_ran(&saga, &["ship_replacement", "mark_refunding", "refund"]);

    // complaints: the stock check still open, and a work order for whoever unparks the saga.
    let wo = work_order(&mut w, &stock_check.work_order_id).await;
    assert_eq!(wo.status, WorkOrderStatus::Open as i32);
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let orders = w.warehouse_work_orders(&case_id).await.unwrap();
        if orders
            .iter()
            .any(|o| o.title.contains("needs attention at await_stock"))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no operator work order: {orders:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Nothing moved: no replacement, no refund, the case waits inspected.
    assert!(
        w.case_shipments(&placed, &case_id, Direction::Replacement)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Inspected as i32);
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 0), (0, 0, 0)]
    );
}

#[tokio::test]
async fn an_exchange_escalated_while_the_replacement_ships_voids_its_waybill_and_compensates() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::Exchange).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    // While the warehouse picks the replacement the buyer escalates the inspected case: returns
    // freezes it, so recording the shipped replacement fails and the saga undoes the shipment.
    w.await_warehouse_work_order(&case_id, LONG).await.unwrap();
    w.escalate(&placed, &case_id).await.unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");

    // logistics: the replacement was created, then its waybill voided by the compensation.
    let replacement = w
        .case_shipments(&placed, &case_id, Direction::Replacement)
        .await
        .unwrap();
    assert_eq!(replacement.len(), 1, "{replacement:?}");
    assert_eq!(replacement[0].waybill_state, WaybillState::Voided as i32);
    // returns: still inspected, frozen by the arbitration, nothing shipped or refunded.
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Inspected as i32);
    assert!(case.replacement_shipment_id.is_empty());
    // orders and payments: nothing replaced, nothing refunded.
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 0), (0, 0, 0)]
    );
    assert!(w.refunds(&placed).await.unwrap().is_empty());

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(
        saga.timeline
            .iter()
            .any(|e| e.step == "mark_replacement_shipped"
                && e.outcome == "business_failure"
                && e.detail.contains("arbitration_open")),
        "{:?}",
        saga.timeline
    );
    assert!(
        saga.timeline.iter().any(|e| e.step == "ship_replacement"
            && e.kind == "compensation"
            && e.outcome == "succeeded"),
        "{:?}",
        saga.timeline
    );
}

/// The (step, kind) positions of the timeline, to check what ran before what.
fn position(saga: &orch::Saga, step: &str, outcome: &str) -> usize {
    saga.timeline
        .iter()
        .position(|e| e.step == step && e.outcome == outcome)
        .unwrap_or_else(|| panic!("{step} never {outcome}: {:?}", saga.timeline))
}

#[tokio::test]
async fn an_exchange_for_a_dearer_variant_charges_the_difference_before_it_ships() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    // Line A (2 units, 130.00 paid after the discount) becomes the XL at 80.00 each: the buyer
    // owes 30.00. Line B is not part of the case.
    let case_id = w
        .open_exchange_for_variants(&placed, &[(LINE_A, "KETTLE-XL", 8_000)])
        .await
        .unwrap();
    let case = w.case(&case_id).await.unwrap();
    let a = &case.items[LINE_A];
    assert_eq!(a.replacement.as_ref().unwrap().sku, "KETTLE-XL");
    assert_eq!(a.difference_to_pay.as_ref().unwrap().minor_units, 3_000);
    assert_eq!(a.difference_to_refund, None);
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    // returns, logistics, orders and payments: one succeeded charge of 30.00 for the case, no
    // refund, the replacement shipped, both units of line A replaced.
    assert_eq!(
        w.exchange_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    let charges = w.case_charges(&case_id).await.unwrap();
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(charges[0].buyer_id, placed.buyer);
    assert!(charges[0].repair_id.is_empty());
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(2, 0, 0), (0, 0, 0)]
    );

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(
        position(&saga, "charge_difference", "succeeded")
            < position(&saga, "ship_replacement", "sent"),
        "the difference is paid before the replacement leaves"
    );
    assert_never_ran(&saga, &["refund_difference", "mark_refunding", "refund"]);
}

#[tokio::test]
async fn an_exchange_for_a_cheaper_variant_refunds_the_accepted_difference_after_it_ships() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    // Line A becomes the S at 50.00 each (30.00 back); line B a 10.00 variant (5.00 back), but
    // the warehouse rejects B: it is shipped back, not replaced, and its difference is not owed.
    let case_id = w
        .open_exchange_for_variants(
            &placed,
            &[(LINE_A, "KETTLE-S", 5_000), (LINE_B, "MUG-S", 1_000)],
        )
        .await
        .unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |n| {
        if n == LINE_A {
            (Inspection::Accepted, true)
        } else {
            (Inspection::Rejected, false)
        }
    })
    .await
    .unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert!(s.past_pivot);
    assert_eq!(
        w.exchange_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    // payments: exactly one refund, of line A's difference, for the case; no charge.
    let refunds = w.refunds(&placed).await.unwrap();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(refunds[0].amount.as_ref().unwrap().minor_units, 3_000);
    assert_eq!(refunds[0].case_id, case_id);
    assert!(w.case_charges(&case_id).await.unwrap().is_empty());
    // orders: line A replaced, line B neither replaced nor refunded.
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(2, 0, 0), (0, 0, 0)]
    );

    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(
        position(&saga, "mark_replacement_shipped", "succeeded")
            < position(&saga, "refund_difference", "sent"),
        "the difference is refunded once the replacement shipped"
    );
    assert_steps(
        &saga,
        "succeeded",
        &["ship_back_rejected", "refund_difference"],
    );
    assert_never_ran(&saga, &["charge_difference", "mark_refunding", "refund"]);
}

#[tokio::test]
async fn an_exchange_undone_after_the_difference_was_charged_voids_the_charge_and_the_waybill() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w
        .open_exchange_for_variants(&placed, &[(LINE_A, "KETTLE-XL", 8_000)])
        .await
        .unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Accepted, true))
        .await
        .unwrap();
    // The buyer escalates while the warehouse picks the replacement: the difference is charged
    // and the replacement created, then returns refuses to record it (the case is frozen), and
    // the compensations void the waybill and the charge, refunding the captured money.
    w.await_warehouse_work_order(&case_id, LONG).await.unwrap();
    w.escalate(&placed, &case_id).await.unwrap();
    w.warehouse_answers(&case_id, true, LONG).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");

    let charges = w.case_charges(&case_id).await.unwrap();
    assert_eq!(charges.len(), 1, "{charges:?}");
    assert_eq!(
        charges[0].status,
        aftersales_proto::payments::v1::ChargeStatus::Voided as i32
    );
    assert!(charges[0].refund_on_void, "the captured 30.00 goes back");
    let replacement = w
        .case_shipments(&placed, &case_id, Direction::Replacement)
        .await
        .unwrap();
    assert_eq!(replacement.len(), 1, "{replacement:?}");
    assert_eq!(replacement[0].waybill_state, WaybillState::Voided as i32);
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    assert_eq!(
        line_progress(&mut w, &placed).await,
        vec![(0, 0, 0), (0, 0, 0)]
    );
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Inspected as i32);

    let saga = w.saga(&s.saga_id).await.unwrap();
    for step in ["ship_replacement", "charge_difference"] {
        assert!(
            saga.timeline
                .iter()
                .any(|e| e.step == step && e.kind == "compensation" && e.outcome == "succeeded"),
            "{step} not compensated: {:?}",
            saga.timeline
        );
    }
}
