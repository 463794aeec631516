//! Payments service, black-box over gRPC: payments and the refund cap under concurrency, the
//! sandbox provider (failures, timeouts, late confirmations), chargebacks, the store credit
//! ledger, compensations, repair charges, validation, rules, idempotency and events.

use crate::common::*;
use aftersales_proto::common::v1::{Actor, ActorKind, Money, PageRequest};
use aftersales_proto::payments::v1::{payments_service_client::PaymentsServiceClient, *};
use aftersales_test_support::TestEnv;
use chrono::{Duration as ChronoDuration, Utc};
use std::time::Duration;
use tonic::{Code, transport::Channel};

type Client = PaymentsServiceClient<Channel>;

const WAIT: Duration = Duration::from_secs(10);

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn system() -> Option<Actor> {
    actor(ActorKind::System, "order-saga")
}

fn staff() -> Option<Actor> {
    actor(ActorKind::Staff, "cs-7")
}

fn partner() -> Option<Actor> {
    actor(ActorKind::Partner, "psp")
}

fn merchant(id: &str) -> Option<Actor> {
    actor(ActorKind::Merchant, id)
}

fn usd(minor_units: i64) -> Option<Money> {
    Some(Money {
        minor_units,
        currency: "USD".into(),
    })
}

fn record_req(merchant_id: &str, method: PaymentMethod, minor: i64) -> RecordPaymentRequest {
    RecordPaymentRequest {
        idempotency_key: key(),
        order_id: uuid(),
        merchant_id: merchant_id.into(),
        buyer_id: uuid(),
        method: method as i32,
        captured: cny(minor),
        provider_reference: "psp-capture-1".into(),
        captured_at: ts(Utc::now() - ChronoDuration::hours(1)),
        actor: system(),
    }
}

async fn record(
    client: &mut Client,
    merchant_id: &str,
    method: PaymentMethod,
    minor: i64,
) -> Payment {
    client
        .record_payment(record_req(merchant_id, method, minor))
        .await
        .expect("record payment")
        .into_inner()
        .payment
        .expect("payment")
}

fn refund_req(p: &Payment, minor: i64) -> CreateRefundRequest {
    CreateRefundRequest {
        idempotency_key: key(),
        payment_id: p.payment_id.clone(),
        case_id: String::new(),
        amount: cny(minor),
        destination: 0,
        reason: "case approved: quality problem".into(),
        override_reason: String::new(),
        actor: merchant(&p.merchant_id),
        order_id: String::new(),
    }
}

async fn refund(client: &mut Client, req: CreateRefundRequest) -> Result<Refund, tonic::Status> {
    client
        .create_refund(req)
        .await
        .map(|r| r.into_inner().refund.expect("refund"))
}

async fn get_payment(client: &mut Client, id: &str) -> Payment {
    client
        .get_payment(GetPaymentRequest {
            payment_id: id.into(),
        })
        .await
        .expect("get payment")
        .into_inner()
        .payment
        .expect("payment")
}

async fn refunds_of(client: &mut Client, payment_id: &str) -> Vec<Refund> {
    client
        .list_refunds(ListRefundsRequest {
            page: Some(PageRequest {
                page_size: 200,
                page_token: String::new(),
            }),
            payment_id: payment_id.into(),
            ..Default::default()
        })
        .await
        .expect("list refunds")
        .into_inner()
        .items
}

async fn balance(client: &mut Client, buyer_id: &str) -> i64 {
    let balances = client
        .get_store_credit_balance(GetStoreCreditBalanceRequest {
            buyer_id: buyer_id.into(),
            currency: "CNY".into(),
        })
        .await
        .expect("balance")
        .into_inner()
        .balances;
    balances
        .first()
        .and_then(|b| b.balance.as_ref())
        .map(|m| m.minor_units)
        .unwrap_or(0)
}

fn minor(m: &Option<Money>) -> i64 {
    m.as_ref().map(|m| m.minor_units).unwrap_or(-1)
}

#[tokio::test]
async fn refund_happy_path_moves_totals_and_publishes_events() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let mut events = env.event_probe("payments.#").await;
    let merchant_id = uuid();

    let p = record(&mut client, &merchant_id, PaymentMethod::Card, 10_000).await;
    assert_eq!(minor(&p.refundable), 10_000);
    let recorded = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.payment.recorded" && e.event.entity_id == p.payment_id
        })
        .await
        .expect("payment recorded event");
    assert_eq!(recorded.event.keys["order_id"], p.order_id);

    let r = refund(&mut client, refund_req(&p, 3_000))
        .await
        .expect("refund");
    assert_eq!(r.status, RefundStatus::Succeeded as i32);
    assert_eq!(r.destination, RefundDestination::OriginalMethod as i32);
    assert!(r.provider_reference.starts_with("sandbox-refund-"));
    assert!(r.completed_at.is_some());

    let p2 = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&p2.refunded), 3_000);
    assert_eq!(minor(&p2.refunds_in_flight), 0);
    assert_eq!(minor(&p2.refundable), 7_000);

    let requested = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.refund.requested" && e.event.entity_id == r.refund_id
        })
        .await
        .expect("refund requested event");
    assert_eq!(requested.event.state, "PENDING");
    let succeeded = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.refund.succeeded" && e.event.entity_id == r.refund_id
        })
        .await
        .expect("refund succeeded event");
    assert_eq!(succeeded.event.keys["payment_id"], p.payment_id);
    assert_eq!(
        succeeded.event.snapshot_type,
        "aftersales.payments.v1.Refund"
    );
}

#[tokio::test]
async fn bad_input_is_invalid_argument_and_writes_nothing() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let merchant_id = uuid();

    type Tweak = fn(&mut RecordPaymentRequest);
    let cases: Vec<(Tweak, &str)> = vec![
        (|r| r.order_id = String::new(), "order_id"),
        (|r| r.merchant_id = "not-a-uuid".into(), "merchant_id"),
        (|r| r.captured = None, "captured"),
        (|r| r.captured = cny(-1), "captured.minor_units"),
        (|r| r.captured = cny(0), "captured.minor_units"),
        (|r| r.captured = cny(i64::MAX), "captured.minor_units"),
        (
            |r| {
                r.captured = Some(Money {
                    minor_units: 1,
                    currency: "yuan".into(),
                })
            },
            "captured.currency",
        ),
        (|r| r.method = 0, "method"),
        (|r| r.method = 42, "method"),
        (
            |r| r.provider_reference = "r".repeat(129),
            "provider_reference",
        ),
        (|r| r.captured_at = None, "captured_at"),
        (
            |r| r.captured_at = ts(Utc::now() + ChronoDuration::days(1)),
            "captured_at",
        ),
        (|r| r.actor = None, "actor"),
        (
            |r| r.actor = actor(ActorKind::Unspecified, "x"),
            "actor.kind",
        ),
        (|r| r.idempotency_key = String::new(), "idempotency_key"),
        (|r| r.idempotency_key = "k".repeat(129), "idempotency_key"),
    ];
    for (tweak, field) in cases {
        let mut req = record_req(&merchant_id, PaymentMethod::Card, 10_000);
        tweak(&mut req);
        let err = client.record_payment(req).await.expect_err(field);
        assert_invalid(&err, field);
    }
    let listed = client
        .list_payments(ListPaymentsRequest {
            merchant_id: merchant_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(listed.items.is_empty(), "{:?}", listed.items);

    // Refund input: nothing written either.
    let p = record(&mut client, &merchant_id, PaymentMethod::Card, 10_000).await;
    type RTweak = fn(&mut CreateRefundRequest);
    let cases: Vec<(RTweak, &str)> = vec![
        (|r| r.payment_id = "nope".into(), "payment_id"),
        (|r| r.amount = cny(-5), "amount.minor_units"),
        (|r| r.amount = cny(i64::MAX), "amount.minor_units"),
        (|r| r.amount = None, "amount"),
        (|r| r.reason = String::new(), "reason"),
        (|r| r.reason = "x".repeat(4097), "reason"),
        (|r| r.destination = 9, "destination"),
        (|r| r.case_id = "bad".into(), "case_id"),
        (|r| r.actor = actor(ActorKind::Merchant, ""), "actor.id"),
    ];
    for (tweak, field) in cases {
        let mut req = refund_req(&p, 100);
        tweak(&mut req);
        let err = refund(&mut client, req).await.expect_err(field);
        assert_invalid(&err, field);
    }
    assert!(refunds_of(&mut client, &p.payment_id).await.is_empty());
    assert_eq!(
        minor(&get_payment(&mut client, &p.payment_id).await.refundable),
        10_000
    );
}

#[tokio::test]
async fn rule_violations_name_the_rule() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let merchant_id = uuid();
    let p = record(&mut client, &merchant_id, PaymentMethod::Card, 10_000).await;

    let err = refund(&mut client, refund_req(&p, 10_001))
        .await
        .unwrap_err();
    assert_rule(&err, "refund_exceeds_captured");

    let mut req = refund_req(&p, 100);
    req.amount = usd(100);
    assert_rule(
        &refund(&mut client, req).await.unwrap_err(),
        "currency_mismatch",
    );

    let mut req = refund_req(&p, 100);
    req.actor = merchant(&uuid());
    assert_rule(
        &refund(&mut client, req).await.unwrap_err(),
        "actor_not_allowed",
    );

    let mut req = refund_req(&p, 100);
    req.actor = actor(ActorKind::Buyer, &p.buyer_id);
    assert_rule(
        &refund(&mut client, req).await.unwrap_err(),
        "actor_not_allowed",
    );

    // Card payments go back to the card: store credit only as a fallback or staff override.
    let mut req = refund_req(&p, 100);
    req.destination = RefundDestination::StoreCredit as i32;
    assert_rule(
        &refund(&mut client, req).await.unwrap_err(),
        "store_credit_fallback_only",
    );
    let mut req = refund_req(&p, 100);
    req.destination = RefundDestination::StoreCredit as i32;
    req.actor = staff();
    req.override_reason = "buyer's card was closed".into();
    let r = refund(&mut client, req).await.expect("staff override");
    assert_eq!(r.destination, RefundDestination::StoreCredit as i32);
    assert_eq!(r.status, RefundStatus::Succeeded as i32);

    // One payment per order.
    let mut again = record_req(&merchant_id, PaymentMethod::Card, 10_000);
    again.order_id = p.order_id.clone();
    let err = client.record_payment(again).await.unwrap_err();
    assert_rule(&err, "payment_already_recorded");

    // Merchants do not record payments.
    let mut req = record_req(&merchant_id, PaymentMethod::Card, 10_000);
    req.actor = merchant(&merchant_id);
    assert_rule(
        &client.record_payment(req).await.unwrap_err(),
        "actor_not_allowed",
    );
}

#[tokio::test]
async fn idempotent_replays_return_the_first_result() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let merchant_id = uuid();

    let req = record_req(&merchant_id, PaymentMethod::Card, 10_000);
    let first = client
        .record_payment(req.clone())
        .await
        .expect("first")
        .into_inner();
    let replay = client
        .record_payment(req.clone())
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(first, replay);
    let mut changed = req.clone();
    changed.captured = cny(9_999);
    assert_rule(
        &client.record_payment(changed).await.unwrap_err(),
        "idempotency_key_reused",
    );
    let p = first.payment.expect("payment");

    // Refund replay (same merchant, same key): the first refund, nothing new.
    let req = refund_req(&p, 2_500);
    let r1 = refund(&mut client, req.clone()).await.expect("refund");
    let r2 = refund(&mut client, req.clone()).await.expect("replay");
    assert_eq!(r1, r2);
    assert_eq!(refunds_of(&mut client, &p.payment_id).await.len(), 1);
    assert_eq!(
        minor(&get_payment(&mut client, &p.payment_id).await.refunded),
        2_500
    );
    let mut other = req.clone();
    other.amount = cny(2_000);
    assert_rule(
        &refund(&mut client, other).await.unwrap_err(),
        "idempotency_key_reused",
    );

    // Refund keys are unique per merchant: another merchant may use the same key.
    let other_merchant = uuid();
    let q = record(&mut client, &other_merchant, PaymentMethod::Card, 10_000).await;
    let mut same_key = refund_req(&q, 2_500);
    same_key.idempotency_key = req.idempotency_key.clone();
    let r3 = refund(&mut client, same_key).await.expect("other merchant");
    assert_ne!(r3.refund_id, r1.refund_id);
    assert_eq!(r3.idempotency_key, r1.idempotency_key);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let id = uuid();
    let codes = [
        client
            .get_payment(GetPaymentRequest {
                payment_id: id.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        client
            .get_refund(GetRefundRequest {
                refund_id: id.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        client
            .get_chargeback(GetChargebackRequest {
                chargeback_id: id.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        client
            .get_compensation(GetCompensationRequest {
                compensation_id: id.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        client
            .get_charge(GetChargeRequest {
                charge_id: id.clone(),
            })
            .await
            .unwrap_err()
            .code(),
        client
            .create_refund(CreateRefundRequest {
                idempotency_key: key(),
                payment_id: id.clone(),
                amount: cny(1),
                reason: "x".into(),
                actor: staff(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        client
            .confirm_refund(ConfirmRefundRequest {
                idempotency_key: key(),
                refund_id: id.clone(),
                outcome: ConfirmationOutcome::Succeeded as i32,
                provider_reference: "r".into(),
                actor: partner(),
                ..Default::default()
            })
            .await
            .unwrap_err()
            .code(),
        client
            .void_charge(VoidChargeRequest {
                idempotency_key: key(),
                charge_id: id.clone(),
                reason: "x".into(),
                actor: system(),
            })
            .await
            .unwrap_err()
            .code(),
    ];
    assert!(codes.iter().all(|c| *c == Code::NotFound), "{codes:?}");
}

#[tokio::test]
async fn concurrent_refunds_never_exceed_the_captured_amount() {
    let env = TestEnv::new();
    let mut client = Client::new(
        env.start(
            "payments",
            &[("AFTERSALES__SERVICE__SANDBOX__LATENCY_MS", "10")],
        )
        .await,
    );
    let p = record(&mut client, &uuid(), PaymentMethod::Card, 10_000).await;

    // 20 x 7.00 = 140.00 against 100.00 captured: exactly 14 fit.
    let calls = (0..20).map(|_| {
        let mut c = client.clone();
        let req = refund_req(&p, 700);
        async move { c.create_refund(req).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut ok = 0;
    for r in &results {
        match r {
            Ok(resp) => {
                assert_eq!(
                    resp.get_ref().refund.as_ref().map(|r| r.status),
                    Some(RefundStatus::Succeeded as i32)
                );
                ok += 1;
            }
            Err(status) => assert_rule(status, "refund_exceeds_captured"),
        }
    }
    assert_eq!(ok, 14);
    let refunds = refunds_of(&mut client, &p.payment_id).await;
    let total: i64 = refunds
        .iter()
        .filter(|r| r.status != RefundStatus::Failed as i32)
        .map(|r| minor(&r.amount))
        .sum();
    assert_eq!(refunds.len(), 14);
    assert!(total <= 10_000);
    let after = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&after.refunded), total);
    assert_eq!(minor(&after.refundable), 10_000 - total);
}

#[tokio::test]
async fn a_case_is_refunded_once_whatever_the_keys() {
    let env = TestEnv::new();
    let mut client = Client::new(
        env.start(
            "payments",
            &[("AFTERSALES__SERVICE__SANDBOX__LATENCY_MS", "10")],
        )
        .await,
    );
    let p = record(&mut client, &uuid(), PaymentMethod::Card, 10_000).await;
    let case = uuid();
    let for_case = |minor: i64| {
        let mut req = refund_req(&p, minor);
        req.case_id = case.clone();
        req
    };
    // A saga retried under new keys, concurrently: one refund, the same one for everybody.
    let calls = (0..5).map(|_| {
        let mut c = client.clone();
        let req = for_case(3_000);
        async move { c.create_refund(req).await }
    });
    let results = futures::future::join_all(calls).await;
    let ids: std::collections::BTreeSet<String> = results
        .into_iter()
        .map(|r| {
            r.expect("refund")
                .into_inner()
                .refund
                .expect("refund")
                .refund_id
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    // Another amount for the same case while it is live: refused, naming the rule.
    assert_rule(
        &refund(&mut client, for_case(1_000)).await.unwrap_err(),
        "refund_already_active",
    );
    let refunds = refunds_of(&mut client, &p.payment_id).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(
        minor(&get_payment(&mut client, &p.payment_id).await.refunded),
        3_000
    );
    // Another case of the same payment is refunded on its own.
    let mut other = refund_req(&p, 1_000);
    other.case_id = uuid();
    refund(&mut client, other).await.expect("another case");
}

#[tokio::test]
async fn refunds_are_blocked_while_a_chargeback_is_open() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let mut events = env.event_probe("payments.chargeback.*").await;
    let p = record(&mut client, &uuid(), PaymentMethod::Card, 10_000).await;

    let open = OpenChargebackRequest {
        idempotency_key: key(),
        payment_id: p.payment_id.clone(),
        amount: cny(4_000),
        reason: "4837 no cardholder authorization".into(),
        provider_reference: "dispute-1".into(),
        actor: partner(),
    };
    let cb = client
        .open_chargeback(open.clone())
        .await
        .expect("open")
        .into_inner()
        .chargeback
        .expect("chargeback");
    assert_eq!(cb.status, ChargebackStatus::Open as i32);
    assert_eq!(
        get_payment(&mut client, &p.payment_id)
            .await
            .open_chargeback_id,
        cb.chargeback_id
    );

    assert_rule(
        &refund(&mut client, refund_req(&p, 100)).await.unwrap_err(),
        "chargeback_open",
    );
    let mut second = open.clone();
    second.idempotency_key = key();
    assert_rule(
        &client.open_chargeback(second).await.unwrap_err(),
        "chargeback_already_open",
    );

    let close = CloseChargebackRequest {
        idempotency_key: key(),
        chargeback_id: cb.chargeback_id.clone(),
        resolution: ChargebackResolution::BuyerWon as i32,
        actor: partner(),
    };
    let closed = client
        .close_chargeback(close.clone())
        .await
        .expect("close")
        .into_inner()
        .chargeback
        .expect("chargeback");
    assert_eq!(closed.status, ChargebackStatus::Closed as i32);
    let mut again = close;
    again.idempotency_key = key();
    assert_rule(
        &client.close_chargeback(again).await.unwrap_err(),
        "chargeback_not_open",
    );

    // The buyer won 40.00: only 60.00 is left to refund.
    let after = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&after.charged_back), 4_000);
    assert_eq!(minor(&after.refundable), 6_000);
    assert!(after.open_chargeback_id.is_empty());
    assert_rule(
        &refund(&mut client, refund_req(&p, 6_001))
            .await
            .unwrap_err(),
        "refund_exceeds_captured",
    );
    refund(&mut client, refund_req(&p, 6_000))
        .await
        .expect("refund the rest");

    for key in ["payments.chargeback.opened", "payments.chargeback.closed"] {
        let ev = events
            .wait_for(WAIT, |e| {
                e.routing_key == key && e.event.entity_id == cb.chargeback_id
            })
            .await;
        assert!(ev.is_some(), "{key}");
    }
}

#[tokio::test]
async fn failed_provider_refund_does_not_count_and_opens_the_store_credit_fallback() {
    let env = TestEnv::new();
    let mut client = Client::new(
        env.start(
            "payments",
            &[("AFTERSALES__SERVICE__SANDBOX__FAILURE_RATE", "1.0")],
        )
        .await,
    );
    let mut events = env.event_probe("payments.refund.*").await;
    let p = record(&mut client, &uuid(), PaymentMethod::Card, 10_000).await;

    let r = refund(&mut client, refund_req(&p, 10_000))
        .await
        .expect("refund");
    assert_eq!(r.status, RefundStatus::Failed as i32);
    assert!(!r.failure_reason.is_empty());
    let after = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&after.refundable), 10_000);
    assert_eq!(minor(&after.refunded), 0);
    assert_eq!(after.failed_refunds, 1);
    let failed = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.refund.failed" && e.event.entity_id == r.refund_id
        })
        .await;
    assert!(failed.is_some());

    // After a failed refund the money may go to store credit instead (no provider involved).
    let mut req = refund_req(&p, 10_000);
    req.destination = RefundDestination::StoreCredit as i32;
    let sc = refund(&mut client, req).await.expect("store credit refund");
    assert_eq!(sc.status, RefundStatus::Succeeded as i32);
    assert_eq!(balance(&mut client, &p.buyer_id).await, 10_000);
    let after = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&after.refunded), 10_000);
    assert_eq!(minor(&after.refundable), 0);

    // A charge the provider declines took no money: voiding it (a saga's compensation) answers
    // with the charge unchanged instead of refusing, and publishes nothing.
    let declined = client
        .create_charge(CreateChargeRequest {
            idempotency_key: key(),
            case_id: uuid(),
            buyer_id: p.buyer_id.clone(),
            merchant_id: p.merchant_id.clone(),
            amount: cny(3_000),
            method: PaymentMethod::Card as i32,
            actor: system(),
            ..Default::default()
        })
        .await
        .expect("charge")
        .into_inner()
        .charge
        .expect("charge");
    assert_eq!(declined.status, ChargeStatus::Failed as i32);
    let voided = client
        .void_charge(VoidChargeRequest {
            idempotency_key: key(),
            charge_id: declined.charge_id.clone(),
            reason: "the exchange saga was undone".into(),
            actor: system(),
        })
        .await
        .expect("nothing to void is not an error")
        .into_inner()
        .charge
        .expect("charge");
    assert_eq!(voided.status, ChargeStatus::Failed as i32);
    assert!(!voided.refund_on_void);
}

#[tokio::test]
async fn timeouts_go_to_manual_review_and_staff_resolve_them() {
    let env = TestEnv::new();
    let mut client = Client::new(
        env.start(
            "payments",
            &[("AFTERSALES__SERVICE__SANDBOX__TIMEOUT_RATE", "1.0")],
        )
        .await,
    );
    let p = record(&mut client, &uuid(), PaymentMethod::Wallet, 10_000).await;
    let r = refund(&mut client, refund_req(&p, 6_000))
        .await
        .expect("refund");
    assert_eq!(r.status, RefundStatus::ManualReview as i32);
    // Still reserved: only 40.00 left.
    let after = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&after.refunds_in_flight), 6_000);
    assert_rule(
        &refund(&mut client, refund_req(&p, 4_001))
            .await
            .unwrap_err(),
        "refund_exceeds_captured",
    );

    let confirm = ConfirmRefundRequest {
        idempotency_key: key(),
        refund_id: r.refund_id.clone(),
        outcome: ConfirmationOutcome::Failed as i32,
        provider_reference: String::new(),
        failure_reason: "bank rejected".into(),
        reason: String::new(),
        actor: staff(),
    };
    assert_invalid(
        &client.confirm_refund(confirm.clone()).await.unwrap_err(),
        "reason",
    );
    let mut with_reason = confirm.clone();
    with_reason.reason = "checked with the bank: not refunded".into();
    let resolved = client
        .confirm_refund(with_reason)
        .await
        .expect("resolve")
        .into_inner()
        .refund
        .expect("refund");
    assert_eq!(resolved.status, RefundStatus::Failed as i32);
    assert!(resolved.resolved_by.is_some());
    assert_eq!(
        resolved.resolution_note,
        "checked with the bank: not refunded"
    );
    let after = get_payment(&mut client, &p.payment_id).await;
    assert_eq!(minor(&after.refunds_in_flight), 0);
    assert_eq!(minor(&after.refundable), 10_000);

    // Contradicting a final state is refused.
    let mut contradict = confirm;
    contradict.idempotency_key = key();
    contradict.outcome = ConfirmationOutcome::Succeeded as i32;
    contradict.provider_reference = "psp-r-9".into();
    contradict.actor = partner();
    assert_rule(
        &client.confirm_refund(contradict).await.unwrap_err(),
        "refund_already_final",
    );
}

#[tokio::test]
async fn late_confirmations_arrive_from_the_sandbox() {
    let env = TestEnv::new();
    let mut client = Client::new(
        env.start(
            "payments",
            &[
                (
                    "AFTERSALES__SERVICE__SANDBOX__LATE_CONFIRMATION_RATE",
                    "1.0",
                ),
                (
                    "AFTERSALES__SERVICE__SANDBOX__LATE_CONFIRMATION_DELAY_MS",
                    "300",
                ),
            ],
        )
        .await,
    );
    let mut events = env.event_probe("payments.refund.*").await;
    let p = record(&mut client, &uuid(), PaymentMethod::Card, 10_000).await;
    let r = refund(&mut client, refund_req(&p, 1_000))
        .await
        .expect("refund");
    assert_eq!(r.status, RefundStatus::ManualReview as i32);
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.refund.succeeded" && e.event.entity_id == r.refund_id
        })
        .await;
    assert!(ev.is_some());
    let done = client
        .get_refund(GetRefundRequest {
            refund_id: r.refund_id.clone(),
        })
        .await
        .expect("get")
        .into_inner()
        .refund
        .expect("refund");
    assert_eq!(done.status, RefundStatus::Succeeded as i32);
    assert_eq!(
        minor(&get_payment(&mut client, &p.payment_id).await.refunded),
        1_000
    );
}

#[tokio::test]
async fn store_credit_ledger_keeps_the_balance() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let mut events = env.event_probe("payments.store_credit.*").await;
    // Cash on delivery cannot be refunded by the provider: refunds go to store credit.
    let p = record(&mut client, &uuid(), PaymentMethod::CashOnDelivery, 10_000).await;
    let buyer = p.buyer_id.clone();
    let r = refund(&mut client, refund_req(&p, 3_000))
        .await
        .expect("refund");
    assert_eq!(r.destination, RefundDestination::StoreCredit as i32);
    assert_eq!(r.status, RefundStatus::Succeeded as i32);

    let comp = client
        .issue_compensation(IssueCompensationRequest {
            idempotency_key: key(),
            buyer_id: buyer.clone(),
            merchant_id: p.merchant_id.clone(),
            order_id: p.order_id.clone(),
            kind: CompensationKind::Overtime as i32,
            payout: CompensationPayout::StoreCredit as i32,
            amount: cny(500),
            reason: "signed two days after the promised eta".into(),
            actor: system(),
            ..Default::default()
        })
        .await
        .expect("compensation")
        .into_inner()
        .compensation
        .expect("compensation");
    assert_eq!(comp.status, CompensationStatus::Issued as i32);
    assert!(!comp.store_credit_entry_id.is_empty());
    assert_eq!(balance(&mut client, &buyer).await, 3_500);

    let debit = |minor_units: i64| DebitStoreCreditRequest {
        idempotency_key: key(),
        buyer_id: buyer.clone(),
        amount: cny(minor_units),
        source: StoreCreditSource::Order as i32,
        source_id: uuid(),
        reason: "checkout".into(),
        actor: system(),
    };
    let entry = client
        .debit_store_credit(debit(1_200))
        .await
        .expect("debit")
        .into_inner()
        .entry
        .expect("entry");
    assert_eq!(minor(&entry.balance_after), 2_300);
    assert_rule(
        &client.debit_store_credit(debit(2_301)).await.unwrap_err(),
        "store_credit_insufficient",
    );
    let mut merchant_debit = debit(1);
    merchant_debit.actor = merchant(&p.merchant_id);
    assert_rule(
        &client.debit_store_credit(merchant_debit).await.unwrap_err(),
        "actor_not_allowed",
    );
    assert_eq!(balance(&mut client, &buyer).await, 2_300);

    // The ledger, newest first; the balance is the sum of its entries.
    let entries = client
        .list_store_credit_entries(ListStoreCreditEntriesRequest {
            buyer_id: buyer.clone(),
            ..Default::default()
        })
        .await
        .expect("entries")
        .into_inner()
        .items;
    let kinds: Vec<(i32, i64)> = entries
        .iter()
        .map(|e| (e.source, minor(&e.amount)))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (StoreCreditSource::Order as i32, 1_200),
            (StoreCreditSource::Compensation as i32, 500),
            (StoreCreditSource::Refund as i32, 3_000),
        ]
    );
    let sum: i64 = entries
        .iter()
        .map(|e| {
            if e.kind == StoreCreditEntryKind::Credit as i32 {
                minor(&e.amount)
            } else {
                -minor(&e.amount)
            }
        })
        .sum();
    assert_eq!(sum, 2_300);
    assert_eq!(minor(&entries[0].balance_after), 2_300);

    let debited = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.store_credit.debited" && e.event.entity_id == entry.entry_id
        })
        .await;
    assert!(debited.is_some());
}

#[tokio::test]
async fn compensations_need_a_reason_and_record_who_issued_them() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let mut events = env.event_probe("payments.compensation.*").await;
    let merchant_id = uuid();
    let buyer = uuid();
    let base = IssueCompensationRequest {
        idempotency_key: key(),
        buyer_id: buyer.clone(),
        merchant_id: merchant_id.clone(),
        order_id: uuid(),
        kind: CompensationKind::WrongItem as i32,
        payout: CompensationPayout::Coupon as i32,
        amount: cny(1_000),
        reason: "wrong colour shipped".into(),
        actor: merchant(&merchant_id),
        ..Default::default()
    };

    let mut no_reason = base.clone();
    no_reason.reason = "  ".into();
    assert_invalid(
        &client.issue_compensation(no_reason).await.unwrap_err(),
        "reason",
    );
    let mut no_order = base.clone();
    no_order.order_id = String::new();
    assert_invalid(
        &client.issue_compensation(no_order).await.unwrap_err(),
        "order_id",
    );
    let mut goodwill = base.clone();
    goodwill.kind = CompensationKind::Goodwill as i32;
    assert_rule(
        &client.issue_compensation(goodwill).await.unwrap_err(),
        "goodwill_requires_staff",
    );
    let mut stranger = base.clone();
    stranger.actor = merchant(&uuid());
    assert_rule(
        &client.issue_compensation(stranger).await.unwrap_err(),
        "actor_not_allowed",
    );
    let listed = client
        .list_compensations(ListCompensationsRequest {
            buyer_id: buyer.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .items;
    assert!(listed.is_empty());

    let coupon = client
        .issue_compensation(base.clone())
        .await
        .expect("coupon")
        .into_inner()
        .compensation
        .expect("compensation");
    assert_eq!(coupon.status, CompensationStatus::Issued as i32);
    assert!(coupon.coupon_code.starts_with("AS-"));
    assert_eq!(coupon.reason, "wrong colour shipped");
    assert_eq!(coupon.issued_by, merchant(&merchant_id));

    // Goodwill cash from staff, without an order, paid through the provider.
    let mut cash = base.clone();
    cash.idempotency_key = key();
    cash.kind = CompensationKind::Goodwill as i32;
    cash.order_id = String::new();
    cash.payout = CompensationPayout::Cash as i32;
    cash.actor = staff();
    let cash = client
        .issue_compensation(cash)
        .await
        .expect("cash")
        .into_inner()
        .compensation
        .expect("compensation");
    assert_eq!(cash.status, CompensationStatus::Issued as i32);
    assert!(cash.provider_reference.starts_with("sandbox-payout-"));
    assert_eq!(cash.issued_by, staff());
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.compensation.issued"
                && e.event.entity_id == cash.compensation_id
        })
        .await;
    assert!(ev.is_some());

    // A coupon is not confirmed by the provider.
    let err = client
        .confirm_compensation(ConfirmCompensationRequest {
            idempotency_key: key(),
            compensation_id: coupon.compensation_id.clone(),
            outcome: ConfirmationOutcome::Succeeded as i32,
            provider_reference: "x".into(),
            actor: partner(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_rule(&err, "compensation_not_cash");
}

#[tokio::test]
async fn repair_charges_one_active_per_repair_and_void() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let mut events = env.event_probe("payments.charge.*").await;
    let repair = uuid();
    let buyer = uuid();
    let req = CreateChargeRequest {
        idempotency_key: key(),
        repair_id: repair.clone(),
        quote_id: uuid(),
        buyer_id: buyer.clone(),
        merchant_id: uuid(),
        amount: cny(15_000),
        method: PaymentMethod::Card as i32,
        actor: system(),
        ..Default::default()
    };
    let mut cod = req.clone();
    cod.method = PaymentMethod::CashOnDelivery as i32;
    assert_invalid(&client.create_charge(cod).await.unwrap_err(), "method");
    // A charge pays for exactly one repair or one case.
    let mut both = req.clone();
    both.case_id = uuid();
    assert_invalid(&client.create_charge(both).await.unwrap_err(), "repair_id");
    let mut neither = req.clone();
    neither.repair_id.clear();
    assert_invalid(
        &client.create_charge(neither).await.unwrap_err(),
        "repair_id",
    );

    let charge = client
        .create_charge(req.clone())
        .await
        .expect("charge")
        .into_inner()
        .charge
        .expect("charge");
    assert_eq!(charge.status, ChargeStatus::Succeeded as i32);
    let mut second = req.clone();
    second.idempotency_key = key();
    assert_rule(
        &client.create_charge(second.clone()).await.unwrap_err(),
        "charge_already_active",
    );

    let void = VoidChargeRequest {
        idempotency_key: key(),
        charge_id: charge.charge_id.clone(),
        reason: "repair canceled by the buyer".into(),
        actor: system(),
    };
    let voided = client
        .void_charge(void.clone())
        .await
        .expect("void")
        .into_inner()
        .charge
        .expect("charge");
    assert_eq!(voided.status, ChargeStatus::Voided as i32);
    assert!(voided.refund_on_void);
    let mut again = void;
    again.idempotency_key = key();
    assert_rule(
        &client.void_charge(again).await.unwrap_err(),
        "charge_not_voidable",
    );
    // Voided no longer blocks a new charge.
    client.create_charge(second).await.expect("new charge");

    for key in [
        "payments.charge.requested",
        "payments.charge.succeeded",
        "payments.charge.voided",
    ] {
        let ev = events
            .wait_for(WAIT, |e| {
                e.routing_key == key && e.event.entity_id == charge.charge_id
            })
            .await;
        assert!(ev.is_some(), "{key}");
    }

    // An exchange's price difference: one active charge per case, listed by case, with the
    // case in its events.
    let case = uuid();
    let mut for_case = req.clone();
    for_case.idempotency_key = key();
    for_case.repair_id.clear();
    for_case.quote_id.clear();
    for_case.case_id = case.clone();
    let case_charge = client
        .create_charge(for_case.clone())
        .await
        .expect("case charge")
        .into_inner()
        .charge
        .expect("charge");
    assert_eq!(case_charge.case_id, case);
    assert!(case_charge.repair_id.is_empty());
    for_case.idempotency_key = key();
    assert_rule(
        &client.create_charge(for_case).await.unwrap_err(),
        "charge_already_active",
    );
    let listed = client
        .list_charges(ListChargesRequest {
            case_id: case.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].charge_id, case_charge.charge_id);
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.charge.succeeded"
                && e.event.entity_id == case_charge.charge_id
        })
        .await
        .expect("case charge event");
    assert_eq!(ev.event.keys.get("case_id"), Some(&case));
    assert!(!ev.event.keys.contains_key("repair_id"));
}

#[tokio::test]
async fn a_void_the_provider_has_not_confirmed_saves_nothing_and_a_retry_finishes_it() {
    let env = TestEnv::new();
    let mut client = Client::new(
        env.start(
            "payments",
            &[
                (
                    "AFTERSALES__SERVICE__SANDBOX__LATE_CONFIRMATION_RATE",
                    "1.0",
                ),
                (
                    "AFTERSALES__SERVICE__SANDBOX__LATE_CONFIRMATION_DELAY_MS",
                    "300",
                ),
            ],
        )
        .await,
    );
    let mut events = env.event_probe("payments.charge.*").await;
    let get = |client: &mut Client, id: String| {
        let mut client = client.clone();
        async move {
            client
                .get_charge(GetChargeRequest { charge_id: id })
                .await
                .expect("get")
                .into_inner()
                .charge
                .expect("charge")
        }
    };
    let charge = client
        .create_charge(CreateChargeRequest {
            idempotency_key: key(),
            repair_id: uuid(),
            quote_id: uuid(),
            buyer_id: uuid(),
            merchant_id: uuid(),
            amount: cny(15_000),
            method: PaymentMethod::Card as i32,
            actor: system(),
            ..Default::default()
        })
        .await
        .expect("charge")
        .into_inner()
        .charge
        .expect("charge");
    assert_eq!(charge.status, ChargeStatus::Pending as i32);

    // The provider only answers Pending: the void is not done, nothing is saved.
    let void = VoidChargeRequest {
        idempotency_key: key(),
        charge_id: charge.charge_id.clone(),
        reason: "repair canceled by the buyer".into(),
        actor: system(),
    };
    let err = client.void_charge(void.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert_eq!(
        get(&mut client, charge.charge_id.clone()).await.status,
        ChargeStatus::Pending as i32
    );

    // So the charge's late confirmation still lands (it would be refused on a VOIDED charge).
    let succeeded = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.charge.succeeded" && e.event.entity_id == charge.charge_id
        })
        .await;
    assert!(succeeded.is_some());
    assert_eq!(
        get(&mut client, charge.charge_id.clone()).await.status,
        ChargeStatus::Succeeded as i32
    );

    // Retrying with the same key finishes the void once the provider confirms it.
    let deadline = tokio::time::Instant::now() + WAIT;
    let voided = loop {
        match client.void_charge(void.clone()).await {
            Ok(r) => break r.into_inner().charge.expect("charge"),
            Err(e) if e.code() == Code::Unavailable && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("void: {e:?}"),
        }
    };
    assert_eq!(voided.status, ChargeStatus::Voided as i32);
    assert!(voided.refund_on_void);
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "payments.charge.voided" && e.event.entity_id == charge.charge_id
        })
        .await;
    assert!(ev.is_some());
}

#[tokio::test]
async fn a_refund_names_its_payment_or_its_order_exactly_once() {
    let env = TestEnv::new();
    let mut client = Client::new(env.start("payments", &[]).await);
    let merchant_id = uuid();
    let p = record(&mut client, &merchant_id, PaymentMethod::Card, 10_000).await;

    // by order: the order's payment is refunded
    let by_order = CreateRefundRequest {
        payment_id: String::new(),
        order_id: p.order_id.clone(),
        ..refund_req(&p, 2_500)
    };
    let r = refund(&mut client, by_order.clone())
        .await
        .expect("refund by order");
    assert_eq!(r.payment_id, p.payment_id);
    assert_eq!(r.order_id, p.order_id);
    assert_eq!(r.status, RefundStatus::Succeeded as i32);
    // a replay returns the first refund, and the cap counts it once
    let again = refund(&mut client, by_order).await.unwrap();
    assert_eq!(again.refund_id, r.refund_id);
    assert_eq!(
        minor(&get_payment(&mut client, &p.payment_id).await.refunded),
        2_500
    );

    // both or neither: a violation on payment_id
    let both = CreateRefundRequest {
        order_id: p.order_id.clone(),
        ..refund_req(&p, 100)
    };
    assert_invalid(&refund(&mut client, both).await.unwrap_err(), "payment_id");
    let neither = CreateRefundRequest {
        payment_id: String::new(),
        ..refund_req(&p, 100)
    };
    assert_invalid(
        &refund(&mut client, neither).await.unwrap_err(),
        "payment_id",
    );
    let bad = CreateRefundRequest {
        payment_id: String::new(),
        order_id: "nope".into(),
        ..refund_req(&p, 100)
    };
    assert_invalid(&refund(&mut client, bad).await.unwrap_err(), "order_id");
    // an order without a recorded payment
    let unknown = CreateRefundRequest {
        payment_id: String::new(),
        order_id: uuid(),
        ..refund_req(&p, 100)
    };
    let err = refund(&mut client, unknown).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    // the rules are those of a refund by payment
    let too_much = CreateRefundRequest {
        payment_id: String::new(),
        order_id: p.order_id.clone(),
        ..refund_req(&p, 7_501)
    };
    assert_rule(
        &refund(&mut client, too_much).await.unwrap_err(),
        "refund_exceeds_captured",
    );
    assert_eq!(refunds_of(&mut client, &p.payment_id).await.len(), 1);
}
