//! Orders service, black-box over gRPC: state machine, validation, rules, idempotency, scoping,
//! concurrency on line counters and the events the replicas in returns and repairs rely on.

use crate::common::*;
use aftersales_proto::common::v1::{ActorKind, Money, PageRequest};
use aftersales_proto::orders::v1::{orders_service_client::OrdersServiceClient, *};
use aftersales_test_support::{ReceivedEvent, TestEnv};
use chrono::{Duration as ChronoDuration, Utc};
use prost::Message;
use std::time::Duration;
use tonic::{Code, transport::Channel};

type Client = OrdersServiceClient<Channel>;

const WAIT: Duration = Duration::from_secs(10);

fn system() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::System, "storefront")
}

fn staff() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::Staff, "cs-1")
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn address(city: &str) -> Option<Address> {
    Some(Address {
        recipient_name: "Li Lei".into(),
        phone: "+86 138 0000 0000".into(),
        country_code: "CN".into(),
        province: "Zhejiang".into(),
        city: city.into(),
        district: "Xihu".into(),
        street: "1 Wensan Road".into(),
        postal_code: "310000".into(),
    })
}

/// One line of 3 x 70.00 apparel with a 10.00 discount, shipping 10.00: paid 210.00, two days
/// ago, promised in `eta_hours` from payment.
fn create_req(buyer: &str, merchant: &str, eta_hours: i64) -> CreateOrderRequest {
    let paid_at = Utc::now() - ChronoDuration::days(2);
    CreateOrderRequest {
        idempotency_key: key(),
        actor: system(),
        buyer_id: buyer.into(),
        merchant_id: merchant.into(),
        shipping_address: address("Hangzhou"),
        payment_reference: "pay-1".into(),
        paid_amount: cny(21_000),
        shipping_fee: cny(1_000),
        member_tier: MemberTier::Gold as i32,
        shipping_insurance: false,
        lines: vec![NewOrderLine {
            sku: "SKU-1".into(),
            category: "apparel".into(),
            quantity: 3,
            unit_price: cny(7_000),
            discount_share: cny(1_000),
        }],
        paid_at: ts(paid_at),
        promised_eta: ts(paid_at + ChronoDuration::hours(eta_hours)),
    }
}

async fn create(client: &mut Client, buyer: &str, merchant: &str) -> Order {
    client
        .create_order(create_req(buyer, merchant, 72))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

async fn get(client: &mut Client, order_id: &str) -> Order {
    client
        .get_order(GetOrderRequest {
            order_id: order_id.into(),
            actor: staff(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

async fn list_all(client: &mut Client) -> Vec<Order> {
    client
        .list_orders(ListOrdersRequest {
            actor: staff(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items
}

async fn start(client: &mut Client, order_id: &str) -> Order {
    client
        .start_fulfilment(StartFulfilmentRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order_id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

async fn print_waybill(client: &mut Client, order_id: &str) -> Order {
    client
        .mark_waybill_printed(MarkWaybillPrintedRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order_id.into(),
            printed_at: ts(Utc::now() - ChronoDuration::hours(30)),
            shipment_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

async fn ship(client: &mut Client, order_id: &str) -> Order {
    client
        .mark_shipped(MarkShippedRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order_id.into(),
            shipped_at: ts(Utc::now() - ChronoDuration::hours(24)),
            courier_code: "SF".into(),
            tracking_number: "SF1234567890".into(),
            shipment_id: uuid(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

async fn deliver(client: &mut Client, order_id: &str) -> Order {
    client
        .confirm_delivery(ConfirmDeliveryRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Partner, "SF"),
            order_id: order_id.into(),
            signed_at: ts(Utc::now() - ChronoDuration::hours(1)),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap()
}

fn reserve_req(order: &Order, qty: u32) -> ReserveAfterSaleRequest {
    ReserveAfterSaleRequest {
        idempotency_key: key(),
        actor: actor(ActorKind::System, "returns"),
        order_id: order.order_id.clone(),
        line_id: order.lines[0].line_id.clone(),
        quantity: qty,
        case_id: uuid(),
    }
}

fn progress_req(order: &Order, kind: LineProgressKind, qty: u32) -> RecordLineProgressRequest {
    RecordLineProgressRequest {
        idempotency_key: key(),
        actor: actor(ActorKind::System, "orchestrator"),
        order_id: order.order_id.clone(),
        line_id: order.lines[0].line_id.clone(),
        kind: kind as i32,
        quantity: qty,
        case_id: uuid(),
    }
}

fn counters(order: &Order) -> LineCounters {
    order.lines[0].counters.unwrap_or_default()
}

fn snapshot(ev: &ReceivedEvent) -> Order {
    assert_eq!(ev.event.snapshot_type, "aftersales.orders.v1.Order");
    Order::decode(ev.event.snapshot.as_slice()).unwrap()
}

#[tokio::test]
async fn happy_path_walks_the_state_machine_and_publishes_full_snapshots() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut events = env.event_probe("orders.#").await;
    let (buyer, merchant) = (uuid(), uuid());

    let order = create(&mut client, &buyer, &merchant).await;
    assert_eq!(order.state(), OrderState::Paid);
    assert_eq!(order.version, 1);
    assert_eq!(order.lines.len(), 1);
    let line = &order.lines[0];
    assert_eq!(line.net_amount, cny(20_000));
    let policy = line.policy.unwrap();
    assert_eq!(
        (
            policy.no_reason_days,
            policy.exchange_quality_days,
            policy.warranty_months
        ),
        (7, 15, 12)
    );
    assert!(policy.no_reason_eligible);
    assert_eq!(policy.free_return(), FreeReturnPrivilege::MemberTier);
    assert!(line.deadlines.is_none());

    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "orders.order.created")
        .await
        .expect("created event");
    assert_eq!(ev.event.keys["order_id"], order.order_id);
    assert_eq!(ev.event.keys["buyer_id"], buyer);
    assert_eq!(ev.event.keys["merchant_id"], merchant);
    assert_eq!(ev.event.state, "PAID");
    let snap = snapshot(&ev);
    assert_eq!(snap, order, "the event snapshot is the full order");
    assert!(snap.paid_at.is_some() && snap.created_at.is_some());
    assert_eq!(snap.shipping_fee, cny(1_000));
    assert_eq!(snap.member_tier(), MemberTier::Gold);

    let o = start(&mut client, &order.order_id).await;
    assert_eq!((o.state(), o.version), (OrderState::AwaitingShipment, 2));
    let o = print_waybill(&mut client, &order.order_id).await;
    assert!(o.waybill_printed_at.is_some());
    assert_eq!(o.version, 3);
    let o = ship(&mut client, &order.order_id).await;
    assert_eq!((o.state(), o.version), (OrderState::Shipped, 4));
    assert_eq!(o.courier_code, "SF");
    assert!(o.shipped_at.is_some());
    let o = deliver(&mut client, &order.order_id).await;
    assert_eq!((o.state(), o.version), (OrderState::Delivered, 5));
    assert!(!o.delivered_late);
    let signed = o.signed_at.unwrap();
    let deadlines = o.lines[0].deadlines.unwrap();
    assert_eq!(
        deadlines.no_reason_until.unwrap().seconds,
        signed.seconds + 7 * 86_400
    );
    assert_eq!(
        deadlines.exchange_quality_until.unwrap().seconds,
        signed.seconds + 15 * 86_400
    );
    let o = client
        .complete_order(CompleteOrderRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            order_id: order.order_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!((o.state(), o.version), (OrderState::Completed, 6));
    assert!(o.completed_at.is_some());
    assert_eq!(get(&mut client, &order.order_id).await, o);

    for (name, version) in [
        ("orders.order.fulfilment_started", 2),
        ("orders.order.waybill_printed", 3),
        ("orders.order.shipped", 4),
        ("orders.order.delivered", 5),
        ("orders.order.completed", 6),
    ] {
        let ev = events
            .wait_for(WAIT, |e| e.routing_key == name)
            .await
            .unwrap_or_else(|| panic!("{name} event"));
        let snap = snapshot(&ev);
        assert_eq!(snap.version, version, "{name}");
        assert_eq!(ev.event.keys["version"], version.to_string());
        if name == "orders.order.delivered" {
            assert!(snap.signed_at.is_some() && snap.shipped_at.is_some());
            assert!(snap.lines[0].deadlines.is_some());
        }
    }
    // After-sales stay possible on completed orders.
    let o = client
        .reserve_after_sale(reserve_req(&o, 1))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(counters(&o).requested, 1);
    assert_eq!(o.version, 7);
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let (buyer, merchant) = (uuid(), uuid());
    type Edit = fn(&mut CreateOrderRequest);
    let cases: Vec<(Edit, &str)> = vec![
        (|r| r.buyer_id.clear(), "buyer_id"),
        (|r| r.merchant_id = "not-a-uuid".into(), "merchant_id"),
        (|r| r.paid_amount = None, "paid_amount"),
        (|r| r.paid_amount = cny(-1), "paid_amount.minor_units"),
        (
            |r| r.lines[0].unit_price = cny(i64::MAX),
            "lines[0].unit_price.minor_units",
        ),
        (
            |r| {
                r.paid_amount = Some(Money {
                    minor_units: 21_000,
                    currency: "cny".into(),
                })
            },
            "paid_amount.currency",
        ),
        (|r| r.member_tier = 99, "member_tier"),
        (
            |r| r.payment_reference = "p".repeat(129),
            "payment_reference",
        ),
        (
            |r| r.shipping_address.as_mut().unwrap().street = "s".repeat(4097),
            "shipping_address.street",
        ),
        (|r| r.lines.clear(), "lines"),
        (|r| r.lines[0].quantity = 0, "lines[0].quantity"),
        (
            |r| r.lines[0].category = "Bad Cat".into(),
            "lines[0].category",
        ),
        (|r| r.paid_amount = cny(20_999), "paid_amount"),
        (
            |r| r.lines[0].discount_share = cny(30_000),
            "lines[0].discount_share",
        ),
        (|r| r.paid_at = None, "paid_at"),
        (
            |r| {
                r.actor = Some(aftersales_proto::common::v1::Actor {
                    kind: 42,
                    id: "x".into(),
                })
            },
            "actor.kind",
        ),
        (|r| r.idempotency_key.clear(), "idempotency_key"),
        (|r| r.idempotency_key = "k".repeat(129), "idempotency_key"),
    ];
    for (edit, field) in cases {
        let mut req = create_req(&buyer, &merchant, 72);
        edit(&mut req);
        let err = client.create_order(req).await.unwrap_err();
        assert_invalid(&err, field);
    }
    assert!(
        list_all(&mut client).await.is_empty(),
        "nothing was written"
    );

    // A buyer may not create orders.
    let mut req = create_req(&buyer, &merchant, 72);
    req.actor = actor(ActorKind::Buyer, &buyer);
    let err = client.create_order(req).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().starts_with("actor_not_allowed"), "{err:?}");
    assert!(list_all(&mut client).await.is_empty());

    // Bad input on a change writes nothing either.
    let order = create(&mut client, &buyer, &merchant).await;
    let mut bad = reserve_req(&order, 0);
    let err = client.reserve_after_sale(bad.clone()).await.unwrap_err();
    assert_invalid(&err, "quantity");
    bad.quantity = 1;
    bad.line_id = "x".into();
    assert_invalid(
        &client.reserve_after_sale(bad.clone()).await.unwrap_err(),
        "line_id",
    );
    bad.line_id = uuid();
    assert_invalid(
        &client.reserve_after_sale(bad.clone()).await.unwrap_err(),
        "line_id",
    );
    bad.line_id = order.lines[0].line_id.clone();
    bad.case_id = "nope".into();
    assert_invalid(
        &client.reserve_after_sale(bad).await.unwrap_err(),
        "case_id",
    );
    let mut p = progress_req(&order, LineProgressKind::Refunded, 1);
    p.kind = 77;
    assert_invalid(&client.record_line_progress(p).await.unwrap_err(), "kind");
    let err = client
        .cancel_order(CancelOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "reason");
    let err = client
        .mark_shipped(MarkShippedRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            shipped_at: ts(Utc::now() + ChronoDuration::days(1)),
            courier_code: "SF".into(),
            tracking_number: "T".into(),
            shipment_id: String::new(),
        })
        .await
        .unwrap_err();
    // PAID cannot be shipped: the state rule is checked before the time.
    assert_rule(&err, "invalid_order_state");
    let err = client
        .get_order(GetOrderRequest {
            order_id: "123".into(),
            actor: staff(),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "order_id");
    let err = client
        .list_orders(ListOrdersRequest {
            actor: staff(),
            page: Some(PageRequest {
                page_size: 1000,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "page.page_size");
    let err = client
        .list_orders(ListOrdersRequest {
            actor: staff(),
            states: vec![42],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "states[0]");
    assert_eq!(get(&mut client, &order.order_id).await, order, "unchanged");
}

#[tokio::test]
async fn rule_violations_name_the_rule() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let (buyer, merchant) = (uuid(), uuid());
    let order = create(&mut client, &buyer, &merchant).await;

    let err = client
        .complete_order(CompleteOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_order_state");

    // Counters: reserve beyond quantity, release beyond reserved, outcomes beyond quantity,
    // reversal beyond recorded.
    let err = client
        .reserve_after_sale(reserve_req(&order, 4))
        .await
        .unwrap_err();
    assert_rule(&err, "counter_exceeds_quantity");
    let err = client
        .release_after_sale(ReleaseAfterSaleRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            line_id: order.lines[0].line_id.clone(),
            quantity: 1,
            case_id: String::new(),
            reason: "withdrawn".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "release_exceeds_reserved");
    client
        .record_line_progress(progress_req(&order, LineProgressKind::Refunded, 2))
        .await
        .unwrap();
    let err = client
        .record_line_progress(progress_req(&order, LineProgressKind::Replaced, 2))
        .await
        .unwrap_err();
    assert_rule(&err, "line_outcomes_exceed_quantity");
    let err = client
        .reverse_line_progress(ReverseLineProgressRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            line_id: order.lines[0].line_id.clone(),
            kind: LineProgressKind::Refunded as i32,
            quantity: 3,
            case_id: String::new(),
            reason: "saga compensation".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "reversal_exceeds_recorded");
    let o = client
        .reverse_line_progress(ReverseLineProgressRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            line_id: order.lines[0].line_id.clone(),
            kind: LineProgressKind::Refunded as i32,
            quantity: 2,
            case_id: String::new(),
            reason: "saga compensation".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(counters(&o).refunded, 0);

    // Canceled orders take no new reservations.
    let o = client
        .cancel_order(CancelOrderRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            order_id: order.order_id.clone(),
            reason: "changed my mind".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(o.state(), OrderState::Canceled);
    assert_eq!(o.cancel_reason, "changed my mind");
    let err = client
        .reserve_after_sale(reserve_req(&order, 1))
        .await
        .unwrap_err();
    assert_rule(&err, "order_canceled");
    let err = client
        .start_fulfilment(StartFulfilmentRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "order_canceled");

    // Permissions: another buyer may not cancel, a buyer may not move counters, a courier that
    // does not carry the order may not confirm its delivery.
    let other = create(&mut client, &buyer, &merchant).await;
    let err = client
        .cancel_order(CancelOrderRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &uuid()),
            order_id: other.order_id.clone(),
            reason: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().starts_with("actor_not_allowed"));
    let mut r = reserve_req(&other, 1);
    r.actor = actor(ActorKind::Buyer, &buyer);
    let err = client.reserve_after_sale(r).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    start(&mut client, &other.order_id).await;
    ship(&mut client, &other.order_id).await;
    let err = client
        .confirm_delivery(ConfirmDeliveryRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Partner, "YTO"),
            order_id: other.order_id.clone(),
            signed_at: ts(Utc::now()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = client
        .confirm_delivery(ConfirmDeliveryRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Partner, "SF"),
            order_id: other.order_id.clone(),
            signed_at: ts(Utc::now() - ChronoDuration::days(10)),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "signed_at");
}

#[tokio::test]
async fn waybill_printed_blocks_cancel_and_address_change() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut events = env.event_probe("orders.order.*").await;
    let (buyer, merchant) = (uuid(), uuid());
    let order = create(&mut client, &buyer, &merchant).await;
    start(&mut client, &order.order_id).await;

    let o = client
        .change_shipping_address(ChangeShippingAddressRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            order_id: order.order_id.clone(),
            shipping_address: address("Shanghai"),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(o.shipping_address.unwrap().city, "Shanghai");
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "orders.order.address_changed")
        .await
        .expect("address_changed event");
    assert_eq!(snapshot(&ev).shipping_address.unwrap().city, "Shanghai");

    print_waybill(&mut client, &order.order_id).await;
    let err = client
        .change_shipping_address(ChangeShippingAddressRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            order_id: order.order_id.clone(),
            shipping_address: address("Beijing"),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "waybill_already_printed");
    let err = client
        .cancel_order(CancelOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            reason: "too late".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "waybill_already_printed");
    let err = client
        .mark_waybill_printed(MarkWaybillPrintedRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            printed_at: ts(Utc::now()),
            shipment_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "waybill_already_printed");
    let o = get(&mut client, &order.order_id).await;
    assert_eq!(o.state(), OrderState::AwaitingShipment);
    assert_eq!(o.shipping_address.unwrap().city, "Shanghai");
    assert_eq!(o.version, 4);
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_result_and_changes_nothing() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let (buyer, merchant) = (uuid(), uuid());

    let req = create_req(&buyer, &merchant, 72);
    let first = client.create_order(req.clone()).await.unwrap().into_inner();
    let again = client.create_order(req.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    assert_eq!(list_all(&mut client).await.len(), 1, "one order only");

    let order = first.order.unwrap();
    let reserve = reserve_req(&order, 2);
    let r1 = client
        .reserve_after_sale(reserve.clone())
        .await
        .unwrap()
        .into_inner();
    let r2 = client
        .reserve_after_sale(reserve.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r1, r2);
    let now = get(&mut client, &order.order_id).await;
    assert_eq!(counters(&now).requested, 2, "reserved once");
    assert_eq!(now.version, 2);

    let mut different = reserve.clone();
    different.quantity = 1;
    let err = client.reserve_after_sale(different).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");
    let mut different = req;
    different.payment_reference = "pay-2".into();
    let err = client.create_order(different).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");
    assert_eq!(get(&mut client, &order.order_id).await, now, "unchanged");

    // A failed request stores nothing: the key may be retried once the rule allows it.
    let cancel = CancelOrderRequest {
        idempotency_key: key(),
        actor: actor(ActorKind::Buyer, &uuid()),
        order_id: order.order_id.clone(),
        reason: "x".into(),
    };
    assert!(client.cancel_order(cancel.clone()).await.is_err());
    let c1 = client
        .cancel_order(CancelOrderRequest {
            actor: staff(),
            ..cancel.clone()
        })
        .await
        .unwrap()
        .into_inner();
    let c2 = client
        .cancel_order(CancelOrderRequest {
            actor: staff(),
            ..cancel
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(c1, c2);
    assert_eq!(c1.order.unwrap().version, 3);
}

#[tokio::test]
async fn unknown_or_invisible_orders_are_not_found() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let (buyer, merchant) = (uuid(), uuid());
    let missing = uuid();
    let err = client
        .get_order(GetOrderRequest {
            order_id: missing.clone(),
            actor: staff(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .start_fulfilment(StartFulfilmentRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: missing.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = client
        .reserve_after_sale(ReserveAfterSaleRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: missing,
            line_id: uuid(),
            quantity: 1,
            case_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    let order = create(&mut client, &buyer, &merchant).await;
    for who in [
        actor(ActorKind::Buyer, &uuid()),
        actor(ActorKind::Merchant, &uuid()),
        actor(ActorKind::Partner, "SF"),
    ] {
        let err = client
            .get_order(GetOrderRequest {
                order_id: order.order_id.clone(),
                actor: who,
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
    }
    for who in [
        actor(ActorKind::Buyer, &buyer),
        actor(ActorKind::Merchant, &merchant),
    ] {
        let got = client
            .get_order(GetOrderRequest {
                order_id: order.order_id.clone(),
                actor: who,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.order.unwrap(), order);
    }
}

#[tokio::test]
async fn list_is_scoped_filtered_and_paged_newest_first() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let (buyer, other_buyer, merchant) = (uuid(), uuid(), uuid());
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(create(&mut client, &buyer, &merchant).await.order_id);
    }
    let theirs = create(&mut client, &other_buyer, &merchant).await;
    start(&mut client, &theirs.order_id).await;

    let page1 = client
        .list_orders(ListOrdersRequest {
            actor: actor(ActorKind::Buyer, &buyer),
            page: Some(PageRequest {
                page_size: 2,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<_> = page1.items.iter().map(|o| o.order_id.clone()).collect();
    assert_eq!(ids, [mine[2].clone(), mine[1].clone()], "newest first");
    let token = page1.page.unwrap().next_page_token;
    assert!(!token.is_empty());
    let page2 = client
        .list_orders(ListOrdersRequest {
            actor: actor(ActorKind::Buyer, &buyer),
            page: Some(PageRequest {
                page_size: 2,
                page_token: token,
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].order_id, mine[0]);
    assert!(page2.page.unwrap().next_page_token.is_empty());

    let err = client
        .list_orders(ListOrdersRequest {
            actor: actor(ActorKind::Buyer, &buyer),
            buyer_id: other_buyer.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);

    let by_state = client
        .list_orders(ListOrdersRequest {
            actor: actor(ActorKind::Merchant, &merchant),
            states: vec![OrderState::AwaitingShipment as i32],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_state.items.len(), 1);
    assert_eq!(by_state.items[0].order_id, theirs.order_id);
    assert_eq!(list_all(&mut client).await.len(), 4);
    let none = client
        .list_orders(ListOrdersRequest {
            actor: staff(),
            created_after: ts(Utc::now() + ChronoDuration::hours(1)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(none.items.is_empty());
}

#[tokio::test]
async fn concurrent_reservations_never_exceed_the_line_quantity() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut events = env.event_probe("orders.line.*").await;
    let order = create(&mut client, &uuid(), &uuid()).await;
    assert_eq!(order.lines[0].quantity, 3);

    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let mut c = client.clone();
            let req = reserve_req(&order, 1);
            tokio::spawn(async move { c.reserve_after_sale(req).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(status) => assert_rule(&status, "counter_exceeds_quantity"),
        }
    }
    assert_eq!(ok, 3);
    let o = get(&mut client, &order.order_id).await;
    assert_eq!(counters(&o).requested, 3);
    assert_eq!(o.version, 4);

    let mut seen = Vec::new();
    for _ in 0..3 {
        let ev = events
            .wait_for(WAIT, |e| e.routing_key == "orders.line.after_sale_reserved")
            .await
            .expect("reserved event");
        assert_eq!(ev.event.keys["line_id"], order.lines[0].line_id);
        assert!(ev.event.keys.contains_key("case_id"));
        seen.push(snapshot(&ev).version);
    }
    seen.sort();
    assert_eq!(seen, [2, 3, 4]);

    // Progress counters publish too, with the counters in the snapshot.
    client
        .record_line_progress(progress_req(&order, LineProgressKind::ReturnedReceived, 2))
        .await
        .unwrap();
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "orders.line.progress_recorded")
        .await
        .expect("progress event");
    assert_eq!(ev.event.keys["kind"], "returned_received");
    let snap = snapshot(&ev);
    assert_eq!(counters(&snap).returned_received, 2);
    assert_eq!(counters(&snap).requested, 3);
}

#[tokio::test]
async fn late_delivery_publishes_delivered_late() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut events = env.event_probe("orders.order.*").await;
    let (buyer, merchant) = (uuid(), uuid());
    // Paid two days ago, promised one day after payment, signed an hour ago: ~23 h late.
    let req = create_req(&buyer, &merchant, 24);
    let promised = req.promised_eta.unwrap_or_default();
    let order = client
        .create_order(req)
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    start(&mut client, &order.order_id).await;
    ship(&mut client, &order.order_id).await;
    let o = deliver(&mut client, &order.order_id).await;
    assert!(o.delivered_late);
    let overdue = o.delivery_overdue.unwrap();
    assert!(overdue.seconds > 22 * 3600, "{overdue:?}");

    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "orders.order.delivered_late")
        .await
        .expect("delivered_late event");
    assert_eq!(
        ev.event.snapshot_type,
        "aftersales.orders.v1.OrderDeliveredLate"
    );
    let late = OrderDeliveredLate::decode(ev.event.snapshot.as_slice()).unwrap();
    assert_eq!(late.order_id, order.order_id);
    assert_eq!(late.buyer_id, buyer);
    assert_eq!(late.paid_amount, cny(21_000));
    assert_eq!(late.promised_eta, Some(promised));
    assert_eq!(late.overdue.unwrap().seconds, overdue.seconds);
    assert_eq!(ev.event.keys["order_id"], order.order_id);

    // On time: no late event.
    let on_time = create(&mut client, &buyer, &merchant).await;
    start(&mut client, &on_time.order_id).await;
    ship(&mut client, &on_time.order_id).await;
    let o = deliver(&mut client, &on_time.order_id).await;
    assert!(!o.delivered_late);
    assert!(o.delivery_overdue.is_none());
    let late = events
        .wait_for(Duration::from_secs(2), |e| {
            e.routing_key == "orders.order.delivered_late" && e.event.entity_id == on_time.order_id
        })
        .await;
    assert!(late.is_none());
}

fn reverse_req(order: &Order, kind: LineProgressKind, qty: u32) -> ReverseLineProgressRequest {
    ReverseLineProgressRequest {
        idempotency_key: key(),
        actor: actor(ActorKind::System, "orchestrator"),
        order_id: order.order_id.clone(),
        line_id: order.lines[0].line_id.clone(),
        kind: kind as i32,
        quantity: qty,
        case_id: uuid(),
        reason: "refund-only saga compensated".into(),
    }
}

#[tokio::test]
async fn canceling_every_unit_cancels_the_order_even_after_print_and_reversal_restores_it() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut events = env.event_probe("orders.#").await;
    let order = create(&mut client, &uuid(), &uuid()).await;
    start(&mut client, &order.order_id).await;
    let order = print_waybill(&mut client, &order.order_id).await;
    assert_eq!(order.state(), OrderState::AwaitingShipment);

    // two of three units: the order stays as it is
    let o = client
        .record_line_progress(progress_req(&order, LineProgressKind::Canceled, 2))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(
        (o.state(), counters(&o).canceled),
        (OrderState::AwaitingShipment, 2)
    );
    // canceled units count with the other outcomes (a canceled unit may only be refunded)
    let err = client
        .record_line_progress(progress_req(&order, LineProgressKind::Replaced, 2))
        .await
        .unwrap_err();
    assert_rule(&err, "line_outcomes_exceed_quantity");
    let err = client
        .record_line_progress(progress_req(&order, LineProgressKind::Canceled, 2))
        .await
        .unwrap_err();
    assert_rule(&err, "counter_exceeds_quantity");

    // the last unit cancels the order (its waybill is printed: the saga voided it first)
    let o = client
        .record_line_progress(progress_req(&order, LineProgressKind::Canceled, 1))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(o.state(), OrderState::Canceled);
    assert_eq!(counters(&o).canceled, 3);
    assert!(o.canceled_at.is_some() && o.waybill_printed_at.is_some());
    assert_eq!(o.cancel_reason, "every unit canceled");
    // the last unit's progress event, then the order's (events come in outbox order)
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "orders.line.progress_recorded"
                && e.event.keys["kind"] == "canceled"
                && e.event.keys["quantity"] == "1"
        })
        .await
        .expect("progress event");
    assert_eq!(snapshot(&ev).state(), OrderState::Canceled);
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "orders.order.canceled")
        .await
        .expect("canceled event");
    assert_eq!(snapshot(&ev).version, o.version);
    assert_eq!(ev.event.state, "CANCELED");
    let err = client
        .record_line_progress(progress_req(&order, LineProgressKind::Canceled, 1))
        .await
        .unwrap_err();
    assert_rule(&err, "order_canceled");

    // compensation: one unit restored brings the order back to AWAITING_SHIPMENT
    let o = client
        .reverse_line_progress(reverse_req(&order, LineProgressKind::Canceled, 1))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(
        (o.state(), counters(&o).canceled),
        (OrderState::AwaitingShipment, 2)
    );
    assert!(o.canceled_at.is_none() && o.cancel_reason.is_empty());
    assert!(o.waybill_printed_at.is_some());
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "orders.order.cancel_reverted")
        .await
        .expect("cancel reverted event");
    assert_eq!(snapshot(&ev).state(), OrderState::AwaitingShipment);
    let o = client
        .reverse_line_progress(reverse_req(&order, LineProgressKind::Canceled, 2))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(
        (o.state(), counters(&o).canceled),
        (OrderState::AwaitingShipment, 0)
    );
    let err = client
        .reverse_line_progress(reverse_req(&order, LineProgressKind::Canceled, 1))
        .await
        .unwrap_err();
    assert_rule(&err, "reversal_exceeds_recorded");
    // a CancelOrder is still refused after the print
    let err = client
        .cancel_order(CancelOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: order.order_id.clone(),
            reason: "buyer asked".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "waybill_already_printed");
    assert_eq!(get(&mut client, &order.order_id).await, o);
}

#[tokio::test]
async fn units_are_canceled_only_before_shipment() {
    let env = TestEnv::new();
    let mut client = OrdersServiceClient::new(env.start("orders", &[]).await);

    // PAID: allowed
    let paid = create(&mut client, &uuid(), &uuid()).await;
    let o = client
        .record_line_progress(progress_req(&paid, LineProgressKind::Canceled, 3))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(
        o.state(),
        OrderState::Canceled,
        "the only line is fully canceled"
    );
    let o = client
        .reverse_line_progress(reverse_req(&paid, LineProgressKind::Canceled, 3))
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(o.state(), OrderState::Paid, "back to where it came from");

    // shipped: too late
    let shipped = create(&mut client, &uuid(), &uuid()).await;
    start(&mut client, &shipped.order_id).await;
    ship(&mut client, &shipped.order_id).await;
    let err = client
        .record_line_progress(progress_req(&shipped, LineProgressKind::Canceled, 1))
        .await
        .unwrap_err();
    assert_rule(&err, "order_already_shipped");
    deliver(&mut client, &shipped.order_id).await;
    let err = client
        .record_line_progress(progress_req(&shipped, LineProgressKind::Canceled, 1))
        .await
        .unwrap_err();
    assert_rule(&err, "order_already_shipped");

    // canceled by request: refused, and nothing moved
    let canceled = create(&mut client, &uuid(), &uuid()).await;
    client
        .cancel_order(CancelOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            order_id: canceled.order_id.clone(),
            reason: "buyer asked".into(),
        })
        .await
        .unwrap();
    let err = client
        .record_line_progress(progress_req(&canceled, LineProgressKind::Canceled, 1))
        .await
        .unwrap_err();
    assert_rule(&err, "order_canceled");
    assert_eq!(
        counters(&get(&mut client, &canceled.order_id).await).canceled,
        0
    );

    // only staff and the system move counters
    let mut req = progress_req(&paid, LineProgressKind::Canceled, 1);
    req.actor = actor(ActorKind::Merchant, &paid.merchant_id);
    let err = client.record_line_progress(req).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}
