//! The saga orchestrator end to end: the real orchestrator and services, PostgreSQL and
//! RabbitMQ. Refund-only before shipment completes with every effect exactly once; a service
//! killed mid-command, a compensation that keeps failing, a timer due while the orchestrator is
//! down, and the operator API with its audit log.

use crate::saga_world::*;
use aftersales_proto::common::v1::ActorKind;
use aftersales_proto::complaints::v1::ComplaintStatus;
use aftersales_proto::logistics::v1::InterceptionResult;
use aftersales_proto::orchestrator::v1::{self as orch, SagaStatus};
use aftersales_proto::returns::v1::{
    CaseStatus, CaseType, InspectionStatus as Inspection, InterceptionStatus,
};
use aftersales_test_support::Exchange;
use std::time::Duration;
use tonic::Code;

pub(crate) const LONG: Duration = Duration::from_secs(60);

fn op_actor() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::Staff, "sre-1")
}

pub(crate) fn steps_with(saga: &orch::Saga, outcome: &str) -> Vec<String> {
    saga.timeline
        .iter()
        .filter(|e| e.outcome == outcome)
        .map(|e| e.step.clone())
        .collect()
}

#[tokio::test]
async fn refund_only_before_shipment_completes_once_and_aftersalesctl_shows_it() {
    let mut w = World::start(&[]).await;
    let placed = w.place_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "refund_only_not_shipped");
    assert!(s.past_pivot);
    assert_eq!(
        w.refund_only_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );

    let saga = w.saga(&s.saga_id).await.unwrap();
    let done = steps_with(&saga, "succeeded");
    for step in [
        "void_waybill",
        "cancel_lines",
        "refund",
        "mark_refunding",
        "record_refunded",
        "count_refunded_lines",
        "complete_case",
    ] {
        assert!(done.contains(&step.to_owned()), "{step} not in {done:?}");
    }
    // Per-step latency of one saga at a time, from its own timeline.
    let mut latencies: Vec<String> = saga
        .timeline
        .iter()
        .filter(|e| e.outcome == "succeeded")
        .map(|e| format!("{}={}ms", e.step, e.elapsed_ms))
        .collect();
    latencies.dedup();
    eprintln!("refund_only step latencies: {}", latencies.join(" "));

    // The operator CLI reads the same saga.
    let out = std::process::Command::new(aftersales_test_support::tool("aftersalesctl"))
        .args([
            "--addr",
            &w.env.endpoint("orchestrator").unwrap(),
            "saga",
            "show",
            &s.saga_id,
        ])
        .output()
        .expect("run aftersalesctl");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for needle in ["void_waybill", "complete_case", "succeeded", "completed"] {
        assert!(
            stdout.contains(needle),
            "`{needle}` missing from:\n{stdout}"
        );
    }
    let json = std::process::Command::new(aftersales_test_support::tool("aftersalesctl"))
        .args([
            "--addr",
            &w.env.endpoint("orchestrator").unwrap(),
            "--output",
            "json",
            "saga",
            "list",
            "--key",
            &format!("case:{case_id}"),
        ])
        .output()
        .expect("run aftersalesctl");
    assert!(json.status.success());
    assert!(String::from_utf8_lossy(&json.stdout).contains(&s.saga_id));
}

#[tokio::test]
async fn a_service_killed_while_handling_a_command_gets_it_again_with_one_effect() {
    // The provider takes 1.5 s inside the refund transaction: long enough to kill payments
    // while it holds the command.
    let slow = [(
        "payments",
        "AFTERSALES__SERVICE__SANDBOX__LATENCY_MS",
        "1500",
    )];
    let mut w = World::start_with(&[], &slow).await;
    let placed = w.place_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    w.wait_saga(&case_id, LONG, |s| s.current_step == "refund")
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    w.env.kill("payments");
    w.restart_service(
        "payments",
        &[("AFTERSALES__SERVICE__SANDBOX__LATENCY_MS", "200")],
    )
    .await;
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(
        w.refund_only_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn a_compensation_that_keeps_failing_parks_and_an_operator_retry_completes_it() {
    let fast = [
        ("AFTERSALES__SERVICE__COMMAND_TIMEOUT_MS", "800"),
        ("AFTERSALES__SERVICE__RETRY__MAX_ATTEMPTS", "2"),
        ("AFTERSALES__SERVICE__RETRY__BASE_MS", "100"),
        ("AFTERSALES__SERVICE__COMPENSATION_RETRY__MAX_ATTEMPTS", "2"),
        ("AFTERSALES__SERVICE__COMPENSATION_RETRY__BASE_MS", "100"),
    ];
    let mut w = World::start(&fast).await;
    let mut parked = w.env.event_probe("orchestrator.saga.parked").await;
    let placed = w.place_order().await.unwrap();
    // Orders is down: cancelling the lines never answers, so the saga gives up and compensates
    // them too (their effect is unknown), and that compensation cannot get through either.
    w.env.kill("orders");
    let case_id = w.open_refund_only(&placed).await.unwrap();
    let s = w
        .wait_saga(&case_id, LONG, |s| status(s) == SagaStatus::NeedsAttention)
        .await;
    assert_eq!(s.current_step, "cancel_lines");
    assert!(s.last_error.contains("compensation failed"), "{s:?}");
    assert!(
        parked
            .wait_for(LONG, |e| e.event.entity_id == s.saga_id)
            .await
            .is_some()
    );
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(saga.timeline.iter().any(|e| e.outcome == "parked"));

    // The fault is removed; an operator retries.
    w.restart_service("orders", &[]).await;
    let retried = w
        .orch
        .retry_saga(orch::RetrySagaRequest {
            idempotency_key: key(),
            actor: op_actor(),
            saga_id: s.saga_id.clone(),
            reason: "orders is back".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .saga
        .unwrap();
    assert_eq!(retried.audit.len(), 1);
    assert_eq!(retried.audit[0].reason, "orders is back");
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");
    // Nothing moved: no refund, lines not canceled, the voided waybill reissued.
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    let order = w.order(&placed).await.unwrap();
    for line in &order.lines {
        assert_eq!(line.counters.unwrap_or_default().canceled, 0);
    }
}

#[tokio::test]
async fn a_timer_due_while_the_orchestrator_is_down_fires_after_restart() {
    let fast = [("AFTERSALES__SERVICE__COMMAND_TIMEOUT_MS", "1500")];
    let mut w = World::start(&fast).await;
    let placed = w.place_order().await.unwrap();
    w.env.kill("logistics");
    let case_id = w.open_refund_only(&placed).await.unwrap();
    let s = w
        .wait_saga(&case_id, LONG, |s| s.current_step == "void_waybill")
        .await;
    w.kill_orchestrator();
    tokio::time::sleep(Duration::from_millis(2500)).await; // the step timeout falls due
    w.restart_orchestrator().await;
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let saga = w.saga(&s.saga_id).await.unwrap();
        if steps_with(&saga, "timed_out").contains(&"void_waybill".to_owned()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the timer never fired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    w.restart_service("logistics", &[]).await;
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(
        w.refund_only_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn operators_pause_and_cancel_with_an_audit_trail_and_bad_requests_are_refused() {
    let mut w = World::start(&[]).await;
    let placed = w.place_order().await.unwrap();
    w.env.kill("logistics");
    let case_id = w.open_refund_only(&placed).await.unwrap();
    let s = w
        .wait_saga(&case_id, LONG, |s| s.current_step == "void_waybill")
        .await;

    let bad = w
        .orch
        .pause_saga(orch::PauseSagaRequest {
            idempotency_key: key(),
            actor: op_actor(),
            saga_id: "not-a-uuid".into(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().contains("saga_id"), "{bad:?}");
    let missing = w
        .orch
        .get_saga(orch::GetSagaRequest {
            saga_id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let buyer = w
        .orch
        .cancel_saga(orch::CancelSagaRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, "b-1"),
            saga_id: s.saga_id.clone(),
            reason: "please".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(buyer.code(), Code::PermissionDenied);
    let no_reason = w
        .orch
        .pause_saga(orch::PauseSagaRequest {
            idempotency_key: key(),
            actor: op_actor(),
            saga_id: s.saga_id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert!(no_reason.message().contains("reason"), "{no_reason:?}");

    let pause_key = key();
    let pause = orch::PauseSagaRequest {
        idempotency_key: pause_key,
        actor: op_actor(),
        saga_id: s.saga_id.clone(),
        reason: "investigating courier outage".into(),
    };
    let paused = w
        .orch
        .pause_saga(pause.clone())
        .await
        .unwrap()
        .into_inner()
        .saga
        .unwrap();
    assert_eq!(paused.summary.unwrap().status, SagaStatus::Paused as i32);
    // A replay returns the first result and writes no second audit line.
    let again = w
        .orch
        .pause_saga(pause)
        .await
        .unwrap()
        .into_inner()
        .saga
        .unwrap();
    assert_eq!(again.audit.len(), 1);
    let resume_while_running = w
        .orch
        .retry_saga(orch::RetrySagaRequest {
            idempotency_key: key(),
            actor: op_actor(),
            saga_id: s.saga_id.clone(),
            reason: "try".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(resume_while_running.code(), Code::FailedPrecondition);
    assert!(
        resume_while_running
            .message()
            .starts_with("saga_not_retryable")
    );

    let canceled = w
        .orch
        .cancel_saga(orch::CancelSagaRequest {
            idempotency_key: key(),
            actor: op_actor(),
            saga_id: s.saga_id.clone(),
            reason: "buyer called: ship it after all".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .saga
        .unwrap();
    let actions: Vec<&str> = canceled.audit.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, vec!["pause", "cancel"]);
    assert_eq!(canceled.audit[1].actor.as_ref().unwrap().id, "sre-1");
    w.restart_service("logistics", &[]).await;
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    let finished = w
        .orch
        .cancel_saga(orch::CancelSagaRequest {
            idempotency_key: key(),
            actor: op_actor(),
            saga_id: s.saga_id.clone(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert!(
        finished.message().starts_with("saga_finished"),
        "{finished:?}"
    );
    let listed = w
        .orch
        .list_sagas(orch::ListSagasRequest {
            status: SagaStatus::Compensated as i32,
            flow: "refund_only_not_shipped".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.sagas.len(), 1);
}

#[tokio::test]
async fn replies_and_events_delivered_twice_have_one_effect() {
    let mut w = World::start(&[]).await;
    let mut replies = w.env.reply_probe().await;
    let mut triggers = w.env.event_probe("returns.case.auto_approved").await;
    let placed = w.place_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    let seen = replies.collect(Duration::from_secs(2)).await;
    let trigger = triggers
        .wait_for(LONG, |e| e.event.entity_id == case_id)
        .await
        .expect("the trigger event");
    assert!(
        seen.len() >= 8,
        "expected every command's reply, got {}",
        seen.len()
    );
    let before = w.saga(&s.saga_id).await.unwrap();

    for r in &seen {
        // The very same message again (a broker redelivery) ...
        w.env
            .publish_envelope(Exchange::Replies, "orchestrator", &r.envelope)
            .await;
        // ... and the same reply under a new message id (a service that ran the command twice).
        let mut copy = r.envelope.clone();
        copy.message_id = uuid::Uuid::now_v7().to_string();
        w.env
            .publish_envelope(Exchange::Replies, "orchestrator", &copy)
            .await;
    }
    // The trigger again, as the same message and as a new one: the flow never runs twice.
    w.env
        .publish_envelope(
            Exchange::Events,
            "returns.case.auto_approved",
            &trigger.envelope,
        )
        .await;
    let mut again = trigger.envelope.clone();
    again.message_id = uuid::Uuid::now_v7().to_string();
    w.env
        .publish_envelope(Exchange::Events, "returns.case.auto_approved", &again)
        .await;
    // The copies are logged as stale once processed; nothing else happens.
    let deadline = tokio::time::Instant::now() + LONG;
    let after = loop {
        let saga = w.saga(&s.saga_id).await.unwrap();
        let stale = steps_with(&saga, "stale_reply").len();
        if stale >= seen.len() {
            break saga;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "copies not processed: {stale}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        steps_with(&after, "stale_reply").len(),
        seen.len(),
        "redelivered ids are dropped by the inbox, new ids are stale"
    );
    assert_eq!(
        steps_with(&after, "sent"),
        steps_with(&before, "sent"),
        "no command sent again"
    );
    assert_eq!(after.summary.unwrap().status, SagaStatus::Completed as i32);
    assert_eq!(
        w.refund_only_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn refund_only_in_transit_intercepts_waits_for_the_merchant_and_refunds_once() {
    let mut w = World::start(&[]).await;
    let placed = w.place_shipped_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    // The merchant answers before the courier: the saga keeps that event until it needs it.
    w.merchant_decides(&case_id, true).await.unwrap();
    w.courier_answers_interception(&placed, InterceptionResult::Intercepted, LONG)
        .await
        .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "refund_only_in_transit");
    assert_eq!(
        w.in_transit_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    let saga = w.saga(&s.saga_id).await.unwrap();
    let received = steps_with(&saga, "event_received");
    assert_eq!(received, vec!["await_interception", "await_merchant"]);
    assert!(!steps_with(&saga, "sent").contains(&"auto_approve".to_owned()));
}

#[tokio::test]
async fn refund_only_in_transit_that_cannot_be_intercepted_offers_a_return() {
    let mut w = World::start(&[]).await;
    let placed = w.place_shipped_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    w.courier_answers_interception(&placed, InterceptionResult::Failed, LONG)
        .await
        .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.interception, InterceptionStatus::Failed as i32);
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(!steps_with(&saga, "sent").contains(&"refund".to_owned()));
    // The parcel is signed for; the buyer takes the offer: the case becomes a return and refund.
    w.orders
        .confirm_delivery(aftersales_proto::orders::v1::ConfirmDeliveryRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Staff, "cs-1"),
            order_id: placed.order.order_id.clone(),
            signed_at: Some(prost_types::Timestamp {
                seconds: chrono::Utc::now().timestamp() - 60,
                nanos: 0,
            }),
        })
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + LONG;
    let converted = loop {
        let got = w
            .returns
            .change_case_type(aftersales_proto::returns::v1::ChangeCaseTypeRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Buyer, &placed.buyer),
                case_id: case_id.clone(),
                new_type: CaseType::ReturnRefund as i32,
            })
            .await;
        match got {
            Ok(r) => break r.into_inner().case.unwrap(),
            // returns has not replicated the delivery yet
            Err(e)
                if e.message().starts_with("order_not_delivered")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    };
    assert_eq!(converted.case_type, CaseType::ReturnRefund as i32);
}

#[tokio::test]
async fn refund_only_in_transit_rejected_by_the_merchant_moves_no_money() {
    let mut w = World::start(&[]).await;
    let placed = w.place_shipped_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    w.merchant_decides(&case_id, false).await.unwrap();
    w.courier_answers_interception(&placed, InterceptionResult::Intercepted, LONG)
        .await
        .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Rejected as i32);
}

#[tokio::test]
async fn return_and_refund_refunds_only_what_inspection_accepted_and_restocks_it() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::ReturnRefund).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    // Line A (2 units) passes inspection and can be sold again; line B is rejected.
    w.return_leg(&placed, &case_id, |n| {
        if n == 0 {
            (Inspection::Accepted, true)
        } else {
            (Inspection::Rejected, false)
        }
    })
    .await
    .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "return_refund");
    assert_eq!(
        w.return_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    let refunded: i64 = w
        .refunds(&placed)
        .await
        .unwrap()
        .iter()
        .map(|r| r.amount.as_ref().unwrap().minor_units)
        .sum();
    assert!(refunded > 0 && refunded < 14_500, "only line A: {refunded}");
    let saga = w.saga(&s.saga_id).await.unwrap();
    for step in ["await_buyer_shipment", "await_receipt", "await_inspection"] {
        assert!(
            steps_with(&saga, "event_received").contains(&step.to_owned()),
            "{step}"
        );
    }
    assert!(steps_with(&saga, "succeeded").contains(&"restock".to_owned()));
}

#[tokio::test]
async fn return_with_every_item_rejected_completes_without_money() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::ReturnRefund).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    w.return_leg(&placed, &case_id, |_| (Inspection::Rejected, false))
        .await
        .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(
        w.return_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(!steps_with(&saga, "sent").contains(&"refund".to_owned()));
}

#[tokio::test]
async fn a_complaint_fans_out_work_orders_joins_them_resolves_and_waits_for_the_follow_up() {
    let mut w = World::start(&[]).await;
    let placed = w.place_order().await.unwrap();
    let complaint_id = w.complaint_under_investigation(&placed).await.unwrap();
    let key = format!("complaint:{complaint_id}");
    // Quality: the warehouse and the merchant each get a work order, in parallel.
    let answered = w.departments_answer(&complaint_id, 2, LONG).await.unwrap();
    assert_eq!(answered, 2);
    w.follow_up(&complaint_id, LONG).await.unwrap();
    let s = w.wait_key(&key, LONG).await.unwrap();
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(s.flow, "complaint_work_orders");
    let complaint = w.complaint(&complaint_id).await.unwrap();
    assert_eq!(complaint.status, ComplaintStatus::Resolved as i32);
    assert!(complaint.resolution_sent_at.is_some());
    assert!(
        complaint.resolution_note.contains("warehouse, merchant"),
        "{}",
        complaint.resolution_note
    );
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_eq!(
        steps_with(&saga, "event_received").len(),
        3,
        "two work orders and the follow-up"
    );
    // No SLA breached: no compensation is due, the order is not even looked up.
    assert!(!s.past_pivot);
    let sent = steps_with(&saga, "sent");
    for step in ["look_up_order", "compensate_customer"] {
        assert!(!sent.contains(&step.to_owned()), "{step} in {sent:?}");
    }
    let paid = w
        .payments
        .list_compensations(aftersales_proto::payments::v1::ListCompensationsRequest {
            order_id: placed.order.order_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(paid.is_empty(), "{paid:?}");
    let balance = w
        .payments
        .get_store_credit_balance(
            aftersales_proto::payments::v1::GetStoreCreditBalanceRequest {
                buyer_id: placed.buyer.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .into_inner();
    assert!(
        balance
            .balances
            .iter()
            .all(|b| b.balance.as_ref().is_none_or(|m| m.minor_units == 0)),
        "{balance:?}"
    );
}

#[tokio::test]
async fn merchant_silence_auto_approves_an_intercepted_refund() {
    let orch = [(
        "AFTERSALES__SERVICE__DEADLINES_MS__MERCHANT_DECISION",
        "2500",
    )];
    let returns = [("returns", "AFTERSALES__SERVICE__MERCHANT_DECISION", "2s")];
    let mut w = World::start_with(&orch, &returns).await;
    let placed = w.place_shipped_order().await.unwrap();
    let case_id = w.open_refund_only(&placed).await.unwrap();
    w.courier_answers_interception(&placed, InterceptionResult::Intercepted, LONG)
        .await
        .unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    assert_eq!(
        w.in_transit_effects(&placed, &case_id).await.unwrap(),
        Vec::<String>::new()
    );
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert!(steps_with(&saga, "deadline_passed").contains(&"await_merchant".to_owned()));
    assert!(steps_with(&saga, "succeeded").contains(&"auto_approve".to_owned()));
}

#[tokio::test]
async fn a_buyer_who_never_ships_the_return_gets_the_case_closed() {
    let orch = [("AFTERSALES__SERVICE__DEADLINES_MS__BUYER_SHIPMENT", "2500")];
    let returns = [("returns", "AFTERSALES__SERVICE__BUYER_SHIPMENT", "2s")];
    let mut w = World::start_with(&orch, &returns).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.open_case(&placed, CaseType::ReturnRefund).await.unwrap();
    w.merchant_decides(&case_id, true).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Closed as i32);
    assert!(w.refunds(&placed).await.unwrap().is_empty());
    // The return label the saga issued was never used: it is voided.
    let labels = w
        .case_shipments(
            &placed,
            &case_id,
            aftersales_proto::logistics::v1::Direction::Return,
        )
        .await
        .unwrap();
    assert_eq!(labels.len(), 1, "{labels:?}");
    assert_eq!(
        labels[0].waybill_state,
        aftersales_proto::logistics::v1::WaybillState::Voided as i32,
        "{labels:?}"
    );
    let saga = w.saga(&s.saga_id).await.unwrap();
    let done = steps_with(&saga, "succeeded");
    for step in [
        "issue_return_label",
        "close_for_no_shipment",
        "void_return_label",
    ] {
        assert!(done.contains(&step.to_owned()), "{step} not in {done:?}");
    }
}
