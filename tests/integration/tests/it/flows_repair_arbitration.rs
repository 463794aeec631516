//! The repair round trip and platform arbitration end to end: the real orchestrator and the six
//! services, every party played through the public gRPC APIs (buyer, merchant, repair center,
//! courier, platform staff). Each test checks the final state in every service the saga touched
//! and the saga's own step log.

use crate::saga_world::*;
use crate::sagas::{LONG, steps_with};
use aftersales_demo::arbitration::Verdict;
use aftersales_demo::repair::{Finding, Repair, RepairOutcome};
use aftersales_proto::orchestrator::v1::{self as orch, SagaStatus};
use aftersales_proto::repairs::v1::{
    QuoteDecision, RepairState, UnrepairableResolution, UnrepairedReason,
};
use aftersales_proto::returns::v1::{ArbitrationStatus, CaseStatus, RulingOutcome};

/// Asserts that every one of `steps` has an entry with `outcome` in the saga's timeline.
fn assert_steps(saga: &orch::Saga, outcome: &str, steps: &[&str]) {
    let got = steps_with(saga, outcome);
    for step in steps {
        assert!(
            got.iter().any(|s| s == step),
            "{step} not {outcome} in {got:?}\n{}",
            timeline(saga)
        );
    }
}

/// Asserts that none of `steps` was ever sent (commands) or entered (waits).
fn assert_never(saga: &orch::Saga, steps: &[&str]) {
    for e in &saga.timeline {
        assert!(
            !steps.contains(&e.step.as_str()),
            "{} ran ({})\n{}",
            e.step,
            e.outcome,
            timeline(saga)
        );
    }
}

/// Asserts that a check of every service's final state found nothing wrong.
fn assert_no_problems(problems: Vec<String>, saga: &orch::Saga) {
    assert!(
        problems.is_empty(),
        "{}\nsaga timeline:\n{}",
        problems.join("\n"),
        timeline(saga)
    );
}

fn timeline(saga: &orch::Saga) -> String {
    saga.timeline
        .iter()
        .map(|e| {
            format!(
                "  {:<24} {:<10} {:<18} {}",
                e.step, e.kind, e.outcome, e.detail
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits for the repair saga to finish and returns it with its timeline.
async fn finished_repair(w: &mut World, r: &Repair) -> orch::Saga {
    let s = w
        .try_wait_key(&r.saga_key(), LONG, terminal)
        .await
        .unwrap_or_else(|seen| panic!("the repair saga never finished: {seen:?}"));
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_eq!(s.flow, "repair_round_trip");
    assert_eq!(
        status(&s),
        SagaStatus::Completed,
        "{s:?}\n{}",
        timeline(&saga)
    );
    saga
}

/// Waits for the arbitration saga of `key` to finish and returns it with its timeline.
async fn finished_arbitration(w: &mut World, key: &str) -> orch::Saga {
    let s = w.wait_arbitration(key, LONG, terminal).await.unwrap();
    let saga = w.saga(&s.saga_id).await.unwrap();
    assert_eq!(s.flow, "arbitration");
    assert_eq!(
        status(&s),
        SagaStatus::Completed,
        "{s:?}\n{}",
        timeline(&saga)
    );
    saga
}

/// The case saga of a rejected refund-only case on a delivered order gives up: the merchant
/// said no and nothing moved.
async fn case_saga_rejected(w: &mut World, case_id: &str) {
    let s = w.wait_saga(case_id, LONG, terminal).await;
    assert_eq!(s.flow, "return_refund");
    assert_eq!(status(&s), SagaStatus::Compensated, "{s:?}");
    assert!(s.last_error.contains("merchant_rejected"), "{s:?}");
}

// ------------------------------------------------------------------------------------------
// Repairs

#[tokio::test]
async fn repair_in_warranty_is_free_and_comes_back_to_the_buyer() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Covered)
        .await
        .unwrap();
    w.repair_center_finishes(&r, true, LONG).await.unwrap();
    w.courier_brings_it_back(&r, LONG).await.unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(&r, RepairOutcome::Repaired { charged: None })
            .await
            .unwrap(),
        &saga,
    );
    let o = w.repair_order(&r.repair_id).await.unwrap();
    assert!(o.warranty.unwrap().in_warranty);
    assert!(o.quote.is_none());
    assert_steps(
        &saga,
        "event_received",
        &[
            "await_center",
            "await_receipt",
            "await_diagnosis",
            "await_repair",
            "await_delivery",
        ],
    );
    assert_steps(
        &saga,
        "succeeded",
        &[
            "send_label",
            "mark_item_sent",
            "ship_back",
            "mark_shipped_back",
            "complete_repair",
        ],
    );
    assert_never(&saga, &["send_quote", "await_approval", "charge"]);
}

#[tokio::test]
async fn repair_out_of_warranty_charges_the_approved_quote_before_the_repair() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Quote(8_000))
        .await
        .unwrap();
    w.buyer_answers_quote(&r, true, LONG).await.unwrap();
    w.repair_center_finishes(&r, true, LONG).await.unwrap();
    w.courier_brings_it_back(&r, LONG).await.unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(
            &r,
            RepairOutcome::Repaired {
                charged: Some(8_000),
            },
        )
        .await
        .unwrap(),
        &saga,
    );
    let o = w.repair_order(&r.repair_id).await.unwrap();
    let warranty = o.warranty.unwrap();
    assert!(
        warranty.computed_in_warranty && !warranty.in_warranty,
        "voided at diagnosis"
    );
    let quote = o.quote.unwrap();
    assert_eq!(quote.decision(), QuoteDecision::Approved);
    assert!(quote.paid_at.is_some());
    assert_steps(
        &saga,
        "succeeded",
        &[
            "send_quote",
            "charge",
            "record_quote_paid",
            "ship_back",
            "complete_repair",
        ],
    );
    assert_steps(&saga, "event_received", &["await_approval", "await_repair"]);
    // The sandbox answered at once: nothing to wait for, nothing to void.
    assert_never(&saga, &["await_charge", "expire_quote", "void_charge"]);
}

#[tokio::test]
async fn repair_charge_confirmed_late_is_awaited_before_the_repair_starts() {
    let late = [
        (
            "payments",
            "AFTERSALES__SERVICE__SANDBOX__LATE_CONFIRMATION_RATE",
            "1.0",
        ),
        (
            "payments",
            "AFTERSALES__SERVICE__SANDBOX__LATE_CONFIRMATION_DELAY_MS",
            "1500",
        ),
    ];
    let mut w = World::start_with(&[], &late).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Quote(12_000))
        .await
        .unwrap();
    w.buyer_answers_quote(&r, true, LONG).await.unwrap();
    // Charged but not confirmed: the repair must not start yet.
    let o = w
        .wait_repair(&r.repair_id, &[RepairState::Approved], LONG)
        .await
        .unwrap();
    assert!(o.quote.unwrap().paid_at.is_none());
    w.repair_center_finishes(&r, true, LONG).await.unwrap();
    w.courier_brings_it_back(&r, LONG).await.unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(
            &r,
            RepairOutcome::Repaired {
                charged: Some(12_000),
            },
        )
        .await
        .unwrap(),
        &saga,
    );
    assert_steps(&saga, "event_received", &["await_charge"]);
    assert_steps(&saga, "succeeded", &["charge", "record_quote_paid"]);
}

#[tokio::test]
async fn repair_quote_declined_ships_the_item_back_unrepaired_without_a_charge() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Quote(8_000))
        .await
        .unwrap();
    w.buyer_answers_quote(&r, false, LONG).await.unwrap();
    w.courier_brings_it_back(&r, LONG).await.unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(
            &r,
            RepairOutcome::Unrepaired(UnrepairedReason::QuoteDeclined),
        )
        .await
        .unwrap(),
        &saga,
    );
    let o = w.repair_order(&r.repair_id).await.unwrap();
    assert_eq!(o.quote.unwrap().decision(), QuoteDecision::Declined);
    assert_steps(
        &saga,
        "event_received",
        &["await_approval", "await_delivery"],
    );
    assert_steps(
        &saga,
        "succeeded",
        &["send_quote", "ship_back", "complete_repair"],
    );
    assert_never(
        &saga,
        &[
            "expire_quote",
            "charge",
            "record_quote_paid",
            "await_repair",
        ],
    );
}

#[tokio::test]
async fn repair_quote_never_answered_expires_and_the_item_goes_back_unrepaired() {
    // The saga's approval deadline is shortened to seconds. The repairs service counts its
    // approval window in whole days (`quote_approval_days`, at least 1), so the test moves the
    // stored expiry into the past, as the repairs tests do.
    let orch = [("AFTERSALES__SERVICE__DEADLINES_MS__QUOTE_APPROVAL", "5000")];
    let repairs = [("repairs", "AFTERSALES__SERVICE__QUOTE_APPROVAL_DAYS", "1")];
    let mut w = World::start_with(&orch, &repairs).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Quote(8_000))
        .await
        .unwrap();
    let o = w
        .wait_repair(&r.repair_id, &[RepairState::AwaitingApproval], LONG)
        .await
        .unwrap();
    let q = o.quote.unwrap();
    assert_eq!(
        q.expires_at.unwrap().seconds - q.sent_at.unwrap().seconds,
        24 * 3600
    );
    let out = std::process::Command::new("psql")
        .arg(w.env.database_url("repairs"))
        .arg("-c")
        .arg(format!(
            "UPDATE repair_orders SET quote_expires_at = now() - interval '1 second' \
             WHERE id = '{}'",
            r.repair_id
        ))
        .output()
        .expect("psql");
    assert!(out.status.success(), "{out:?}");
    // The buyer stays silent; the saga expires the quote and ships the item back.
    w.courier_brings_it_back(&r, LONG).await.unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(
            &r,
            RepairOutcome::Unrepaired(UnrepairedReason::QuoteExpired),
        )
        .await
        .unwrap(),
        &saga,
    );
    let o = w.repair_order(&r.repair_id).await.unwrap();
    assert_eq!(o.quote.unwrap().decision(), QuoteDecision::Expired);
    assert_steps(&saga, "deadline_passed", &["await_approval"]);
    assert_steps(
        &saga,
        "succeeded",
        &["expire_quote", "ship_back", "complete_repair"],
    );
    assert_never(&saga, &["charge"]);
}

#[tokio::test]
async fn repair_unrepairable_after_a_paid_quote_voids_the_charge_and_becomes_a_refund_case() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Quote(8_000))
        .await
        .unwrap();
    w.buyer_answers_quote(&r, true, LONG).await.unwrap();
    w.repair_center_finishes(&r, false, LONG).await.unwrap();
    w.buyer_converts(&r, UnrepairableResolution::Refund, LONG)
        .await
        .unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(
            &r,
            RepairOutcome::Converted {
                voided: Some(8_000),
                resolution: UnrepairableResolution::Refund,
            },
        )
        .await
        .unwrap(),
        &saga,
    );
    assert_steps(
        &saga,
        "event_received",
        &["await_repair", "await_resolution"],
    );
    assert_steps(
        &saga,
        "succeeded",
        &[
            "charge",
            "record_quote_paid",
            "void_charge",
            "open_case",
            "link_case",
        ],
    );
    assert_never(&saga, &["convert_to_refund", "ship_back", "await_delivery"]);

    // The case the repair became runs its own saga: the merchant agrees and the buyer gets the
    // unit's price back, once.
    let case_id = w
        .repair_order(&r.repair_id)
        .await
        .unwrap()
        .converted_case_id;
    w.merchant_decides(&case_id, true).await.unwrap();
    let s = w.wait_saga(&case_id, LONG, terminal).await;
    assert_eq!(status(&s), SagaStatus::Completed, "{s:?}");
    let case = w.case(&case_id).await.unwrap();
    assert_eq!(case.status, CaseStatus::Completed as i32);
    let due = case.refund_amount.map(|m| m.minor_units).unwrap_or(0);
    assert!(due > 0);
    assert_eq!(w.money_refunded(&placed).await.unwrap(), (1, due));
}

#[tokio::test]
async fn repair_unrepairable_without_an_answer_is_converted_to_a_refund_by_the_saga() {
    let orch = [(
        "AFTERSALES__SERVICE__DEADLINES_MS__UNREPAIRABLE_RESOLUTION",
        "2500",
    )];
    let mut w = World::start(&orch).await;
    let placed = w.place_delivered_order().await.unwrap();
    let r = w.open_repair(&placed).await.unwrap();
    w.repair_center_receives(&r, LONG).await.unwrap();
    w.repair_center_diagnoses(&r, Finding::Covered)
        .await
        .unwrap();
    w.repair_center_finishes(&r, false, LONG).await.unwrap();

    let saga = finished_repair(&mut w, &r).await;
    assert_no_problems(
        w.repair_effects(
            &r,
            RepairOutcome::Converted {
                voided: None,
                resolution: UnrepairableResolution::Refund,
            },
        )
        .await
        .unwrap(),
        &saga,
    );
    assert_steps(&saga, "deadline_passed", &["await_resolution"]);
    assert_steps(
        &saga,
        "succeeded",
        &["convert_to_refund", "open_case", "link_case"],
    );
    assert_never(&saga, &["charge", "void_charge", "ship_back"]);
}

// ------------------------------------------------------------------------------------------
// Arbitration

#[tokio::test]
async fn arbitration_for_the_buyer_refunds_the_requested_amount_once_after_the_appeal_window() {
    let orch = [("AFTERSALES__SERVICE__DEADLINES_MS__APPEAL_WINDOW", "2500")];
    let returns = [("returns", "AFTERSALES__SERVICE__APPEAL_WINDOW", "2s")];
    let mut w = World::start_with(&orch, &returns).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.rejected_refund_only(&placed).await.unwrap();
    case_saga_rejected(&mut w, &case_id).await;
    let requested = w
        .case(&case_id)
        .await
        .unwrap()
        .requested_amount
        .unwrap()
        .minor_units;
    assert!(requested > 0);

    let key = w.escalate(&placed, &case_id).await.unwrap();
    w.merchant_submits_evidence(&case_id).await.unwrap();
    let ruled = w
        .platform_rules(&case_id, RulingOutcome::ForBuyer, None, LONG)
        .await
        .unwrap();
    assert_eq!(ruled.status, CaseStatus::Approved as i32);

    let saga = finished_arbitration(&mut w, &key).await;
    // The window has passed and the money moved: no appeal any more.
    let late = w.appeal_ruling(&placed, &case_id, true).await.unwrap_err();
    assert_eq!(late.code(), tonic::Code::FailedPrecondition, "{late:?}");
    assert_steps(&saga, "event_received", &["await_evidence", "await_ruling"]);
    assert_steps(&saga, "deadline_passed", &["await_appeal"]);
    assert_steps(
        &saga,
        "succeeded",
        &[
            "mark_refunding",
            "refund",
            "record_refunded",
            "complete_case",
        ],
    );
    assert_never(&saga, &["close_evidence_window", "issue_return_label"]);
    assert_eq!(
        steps_with(&saga, "sent")
            .iter()
            .filter(|s| *s == "refund")
            .count(),
        1
    );
    // Everything asked for was refunded without a return: every unit of the case counts as
    // refunded on the order, as after any other full refund.
    assert_no_problems(
        w.arbitration_effects(
            &placed,
            &case_id,
            Verdict::Award(requested),
            ArbitrationStatus::Ruled,
        )
        .await
        .unwrap(),
        &saga,
    );
}

#[tokio::test]
async fn arbitration_without_merchant_evidence_is_reviewed_and_a_ruling_for_the_merchant_moves_no_money()
 {
    let orch = [
        (
            "AFTERSALES__SERVICE__DEADLINES_MS__MERCHANT_EVIDENCE",
            "2500",
        ),
        ("AFTERSALES__SERVICE__DEADLINES_MS__APPEAL_WINDOW", "2500"),
    ];
    let returns = [
        ("returns", "AFTERSALES__SERVICE__MERCHANT_EVIDENCE", "2s"),
        ("returns", "AFTERSALES__SERVICE__APPEAL_WINDOW", "2s"),
    ];
    let mut w = World::start_with(&orch, &returns).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.rejected_refund_only(&placed).await.unwrap();
    case_saga_rejected(&mut w, &case_id).await;

    let key = w.escalate(&placed, &case_id).await.unwrap();
    // The merchant stays silent; the saga closes the evidence window and staff rule.
    let ruled = w
        .platform_rules(&case_id, RulingOutcome::ForMerchant, None, LONG)
        .await
        .unwrap();
    let arbitration = ruled.arbitration.unwrap();
    assert!(arbitration.merchant_evidence_refs.is_empty());
    assert!(arbitration.merchant_statement.is_empty());

    let saga = finished_arbitration(&mut w, &key).await;
    assert_no_problems(
        w.arbitration_effects(
            &placed,
            &case_id,
            Verdict::Nothing,
            ArbitrationStatus::Ruled,
        )
        .await
        .unwrap(),
        &saga,
    );
    assert_steps(
        &saga,
        "deadline_passed",
        &["await_evidence", "await_appeal"],
    );
    assert_steps(&saga, "succeeded", &["close_evidence_window"]);
    assert_steps(&saga, "event_received", &["await_ruling"]);
    assert_never(&saga, &["mark_refunding", "refund", "complete_case"]);
}

#[tokio::test]
async fn arbitration_appealed_by_the_merchant_refunds_only_the_final_split() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.rejected_refund_only(&placed).await.unwrap();
    case_saga_rejected(&mut w, &case_id).await;
    let requested = w
        .case(&case_id)
        .await
        .unwrap()
        .requested_amount
        .unwrap()
        .minor_units;

    let key = w.escalate(&placed, &case_id).await.unwrap();
    w.merchant_submits_evidence(&case_id).await.unwrap();
    w.platform_rules(&case_id, RulingOutcome::ForBuyer, None, LONG)
        .await
        .unwrap();
    // The saga waits out the appeal window before any money moves; the merchant appeals.
    w.wait_arbitration(&key, LONG, |s| s.current_step == "await_appeal")
        .await
        .unwrap();
    let appealed = w.appeal_ruling(&placed, &case_id, true).await.unwrap();
    assert_eq!(
        appealed.arbitration.unwrap().status,
        ArbitrationStatus::Appealed as i32
    );
    let again = w.appeal_ruling(&placed, &case_id, false).await.unwrap_err();
    assert!(
        again.message().starts_with("appeal_already_used"),
        "{again:?}"
    );
    let split = requested / 2;
    w.platform_rules(&case_id, RulingOutcome::Split, Some(split), LONG)
        .await
        .unwrap();

    let saga = finished_arbitration(&mut w, &key).await;
    assert_no_problems(
        w.arbitration_effects(
            &placed,
            &case_id,
            Verdict::Award(split),
            ArbitrationStatus::Final,
        )
        .await
        .unwrap(),
        &saga,
    );
    let received = steps_with(&saga, "event_received");
    assert_eq!(
        received,
        vec![
            "await_evidence",
            "await_ruling",
            "await_appeal",
            "await_ruling"
        ],
        "\n{}",
        timeline(&saga)
    );
    assert_steps(
        &saga,
        "succeeded",
        &["mark_refunding", "refund", "complete_case"],
    );
    assert_eq!(
        steps_with(&saga, "sent")
            .iter()
            .filter(|s| *s == "refund")
            .count(),
        1
    );
}

#[tokio::test]
async fn arbitration_withdrawn_by_the_buyer_completes_without_money() {
    let mut w = World::start(&[]).await;
    let placed = w.place_delivered_order().await.unwrap();
    let case_id = w.rejected_refund_only(&placed).await.unwrap();
    case_saga_rejected(&mut w, &case_id).await;

    let key = w.escalate(&placed, &case_id).await.unwrap();
    w.wait_arbitration(&key, LONG, |s| s.current_step == "await_evidence")
        .await
        .unwrap();
    w.withdraw_escalation(&placed, &case_id).await.unwrap();

    let saga = finished_arbitration(&mut w, &key).await;
    assert_no_problems(
        w.arbitration_effects(
            &placed,
            &case_id,
            Verdict::Nothing,
            ArbitrationStatus::Withdrawn,
        )
        .await
        .unwrap(),
        &saga,
    );
    assert_steps(&saga, "event_received", &["await_evidence"]);
    assert_never(
        &saga,
        &[
            "close_evidence_window",
            "await_ruling",
            "mark_refunding",
            "refund",
        ],
    );
}
