//! Integration tests of the repairs service: orders + repairs started together; the repairs
//! service learns orders from `orders.order.*` events (its local replica), computes the warranty
//! from the order's payment time and the line's policy snapshot, and drives repair orders over
//! gRPC.

use crate::common::*;
use aftersales_proto::common::v1::{Actor, ActorKind, Channel as PbChannel, PageRequest};
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::orders::v1::orders_service_client::OrdersServiceClient;
use aftersales_proto::repairs::v1::{repairs_service_client::RepairsServiceClient, *};
use aftersales_test_support::{EventProbe, TestEnv};
use chrono::{Duration as ChronoDuration, Utc};
use prost::Message;
use std::time::Duration;
use tonic::{Code, Status, transport::Channel};

type Client = RepairsServiceClient<Channel>;
type Orders = OrdersServiceClient<Channel>;

const WAIT: Duration = Duration::from_secs(10);

struct World {
    env: TestEnv,
    repairs: Client,
    orders: Orders,
    events: EventProbe,
}

async fn world(repairs_env: &[(&str, &str)]) -> World {
    let env = TestEnv::new();
    let events = env.event_probe("repairs.#").await;
    let repairs = RepairsServiceClient::new(env.start("repairs", repairs_env).await);
    let orders = OrdersServiceClient::new(env.start("orders", &[]).await);
    World {
        env,
        repairs,
        orders,
        events,
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn staff() -> Option<Actor> {
    actor(ActorKind::Staff, "cs-1")
}

fn system() -> Option<Actor> {
    actor(ActorKind::System, "orchestrator")
}

fn partner(center: &RepairCenter) -> Option<Actor> {
    actor(ActorKind::Partner, &center.repair_center_id)
}

/// A bought line as the repairs replica sees it.
#[derive(Clone)]
struct Bought {
    order_id: String,
    line_id: String,
    buyer_id: String,
    paid_at: chrono::DateTime<Utc>,
}

impl Bought {
    fn buyer(&self) -> Option<Actor> {
        actor(ActorKind::Buyer, &self.buyer_id)
    }

    fn request(&self, serial: &str) -> CreateRepairOrderRequest {
        CreateRepairOrderRequest {
            idempotency_key: key(),
            actor: self.buyer(),
            order_id: self.order_id.clone(),
            line_id: self.line_id.clone(),
            serial_number: serial.into(),
            symptom: "screen flickers after an hour".into(),
            evidence_refs: vec!["photo-1".into()],
            channel: PbChannel::App as i32,
        }
    }
}

/// Creates an order in the orders service paid `days_ago` days ago (default 12-month warranty).
async fn create_order(w: &mut World, days_ago: i64) -> Bought {
    let paid_at = Utc::now() - ChronoDuration::days(days_ago);
    let buyer = uuid();
    let order = w
        .orders
        .create_order(orders::CreateOrderRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::System, "storefront"),
            buyer_id: buyer.clone(),
            merchant_id: uuid(),
            shipping_address: Some(orders::Address {
                recipient_name: "Li Lei".into(),
                phone: "+86 138 0000 0000".into(),
                country_code: "CN".into(),
                province: "Guangdong".into(),
                city: "Shenzhen".into(),
                district: "Nanshan".into(),
                street: "1 Keji Road".into(),
                postal_code: "518000".into(),
            }),
            payment_reference: "pay-1".into(),
            paid_amount: cny(199_900),
            shipping_fee: cny(0),
            member_tier: orders::MemberTier::None as i32,
            shipping_insurance: false,
            lines: vec![orders::NewOrderLine {
                sku: "PHONE-X".into(),
                category: "electronics".into(),
                quantity: 1,
                unit_price: cny(199_900),
                discount_share: cny(0),
            }],
            paid_at: ts(paid_at),
            promised_eta: ts(paid_at + ChronoDuration::days(3)),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    Bought {
        order_id: order.order_id.clone(),
        line_id: order.lines[0].line_id.clone(),
        buyer_id: buyer,
        paid_at: chrono::DateTime::from_timestamp(paid_at.timestamp(), 0).unwrap(),
    }
}

/// Opens a repair order, polling until the replica knows the order (NOT_FOUND until then). An
/// order event published before the replica queue existed is never delivered, so after a few
/// seconds a fresh order is bought instead.
async fn open(w: &mut World, days_ago: i64, serial: &str) -> (Bought, RepairOrder) {
    for _ in 0..3 {
        let bought = create_order(w, days_ago).await;
        let req = bought.request(serial);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            match w.repairs.create_repair_order(req.clone()).await {
                Ok(r) => return (bought, r.into_inner().repair_order.unwrap()),
                Err(s) if s.code() == Code::NotFound && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) if s.code() == Code::NotFound => break,
                Err(s) => panic!("create repair order: {s:?}"),
            }
        }
    }
    panic!("the order replica never caught up");
}

async fn center(w: &mut World, code: &str) -> RepairCenter {
    w.repairs
        .create_repair_center(CreateRepairCenterRequest {
            idempotency_key: key(),
            actor: staff(),
            code: code.into(),
            name: format!("{code} repair hub"),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_center
        .unwrap()
}

async fn assign(w: &mut World, id: &str, c: &RepairCenter) -> Result<RepairOrder, Status> {
    w.repairs
        .assign_repair_center(AssignRepairCenterRequest {
            idempotency_key: key(),
            actor: system(),
            repair_order_id: id.into(),
            repair_center_id: c.repair_center_id.clone(),
        })
        .await
        .map(|r| r.into_inner().repair_order.unwrap())
}

async fn get(w: &mut World, id: &str) -> RepairOrder {
    w.repairs
        .get_repair_order(GetRepairOrderRequest {
            repair_order_id: id.into(),
            actor: staff(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap()
}

async fn list_all(w: &mut World) -> Vec<RepairOrder> {
    w.repairs
        .list_repair_orders(ListRepairOrdersRequest {
            actor: staff(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items
}

/// Drives a fresh order through assignment, item sent, receipt and diagnosis start (DIAGNOSING).
async fn to_diagnosing(w: &mut World, o: &RepairOrder, b: &Bought, c: &RepairCenter) {
    let id = o.repair_order_id.clone();
    assign(w, &id, c).await.unwrap();
    w.repairs
        .mark_item_sent(MarkItemSentRequest {
            idempotency_key: key(),
            actor: b.buyer(),
            repair_order_id: id.clone(),
            shipment_id: uuid(),
        })
        .await
        .unwrap();
    w.repairs
        .acknowledge_receipt(AcknowledgeReceiptRequest {
            idempotency_key: key(),
            actor: partner(c),
            repair_order_id: id.clone(),
            note: "scratched back cover".into(),
        })
        .await
        .unwrap();
    let r = w
        .repairs
        .start_diagnosis(StartDiagnosisRequest {
            idempotency_key: key(),
            actor: partner(c),
            repair_order_id: id,
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Diagnosing);
}

fn diagnosis(id: &str, c: &RepairCenter) -> SubmitDiagnosisRequest {
    SubmitDiagnosisRequest {
        idempotency_key: key(),
        actor: partner(c),
        repair_order_id: id.into(),
        findings: "display connector loose".into(),
        fault_code: "E42".into(),
        warranty_void_reason: String::new(),
    }
}

fn quote(id: &str, c: &RepairCenter, minor: i64) -> SubmitQuoteRequest {
    SubmitQuoteRequest {
        idempotency_key: key(),
        actor: partner(c),
        repair_order_id: id.into(),
        amount: cny(minor),
        description: "new display panel and labour".into(),
    }
}

/// Ships the repaired (or unrepaired) item back and completes as the buyer.
async fn ship_back_and_complete(w: &mut World, id: &str, b: &Bought, c: &RepairCenter) {
    let r = w
        .repairs
        .mark_shipped_back(MarkShippedBackRequest {
            idempotency_key: key(),
            actor: partner(c),
            repair_order_id: id.into(),
            shipment_id: uuid(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::ShippedBack);
    let r = w
        .repairs
        .complete_repair(CompleteRepairRequest {
            idempotency_key: key(),
            actor: b.buyer(),
            repair_order_id: id.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Completed);
    assert!(r.completed_at.is_some());
}

fn assert_denied(status: &Status, rule: &str) {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().starts_with(rule),
        "expected {rule}, got {status:?}"
    );
}

#[tokio::test]
async fn in_warranty_repair_is_free_and_publishes_every_step() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-01").await;
    let (b, o) = open(&mut w, 30, "SN-0001").await;
    assert_eq!(o.state(), RepairState::Requested);
    assert_eq!(o.buyer_id, b.buyer_id);
    assert_eq!(o.sku, "PHONE-X");
    assert_eq!(o.purchased_at.unwrap().seconds, b.paid_at.timestamp());
    let warranty = o.warranty.clone().unwrap();
    assert!(warranty.in_warranty && warranty.computed_in_warranty);
    assert_eq!(warranty.warranty_months, 12);
    assert_eq!(warranty.source(), WarrantySource::Computed);
    let ends = b
        .paid_at
        .checked_add_months(chrono::Months::new(12))
        .unwrap();
    assert_eq!(warranty.ends_at.unwrap().seconds, ends.timestamp());

    let ev = w
        .events
        .wait_for(WAIT, |e| e.routing_key == "repairs.repair_order.requested")
        .await
        .expect("requested event");
    assert_eq!(ev.event.entity_id, o.repair_order_id);
    assert_eq!(ev.event.keys["order_id"], b.order_id);
    assert_eq!(ev.event.snapshot_type, "aftersales.repairs.v1.RepairOrder");
    let snap = RepairOrder::decode(ev.event.snapshot.as_slice()).unwrap();
    assert_eq!(snap.state(), RepairState::Requested);

    let id = o.repair_order_id.clone();
    to_diagnosing(&mut w, &o, &b, &c).await;
    let r = w
        .repairs
        .submit_diagnosis(diagnosis(&id, &c))
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(
        r.state(),
        RepairState::Repairing,
        "in warranty: free repair"
    );
    assert!(r.quote.is_none());
    let err = w
        .repairs
        .submit_quote(quote(&id, &c, 100))
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_state_transition");

    let r = w
        .repairs
        .report_repaired(ReportRepairedRequest {
            idempotency_key: key(),
            actor: partner(&c),
            repair_order_id: id.clone(),
            notes: "connector reseated".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Repaired);
    ship_back_and_complete(&mut w, &id, &b, &c).await;

    for key in [
        "repairs.repair_order.center_assigned",
        "repairs.repair_order.item_sent",
        "repairs.repair_order.receipt_acknowledged",
        "repairs.repair_order.diagnosis_started",
        "repairs.repair_order.diagnosed",
        "repairs.repair_order.repaired",
        "repairs.repair_order.shipped_back",
        "repairs.repair_order.completed",
    ] {
        let ev = w.events.wait_for(WAIT, |e| e.routing_key == key).await;
        assert!(ev.is_some(), "{key} not published");
    }
    // The item can be sent for repair again once the first repair order is closed.
    let again = w.repairs.create_repair_order(b.request("SN-0001")).await;
    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test]
async fn out_of_warranty_repair_is_quoted_approved_paid_and_shipped_back() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-02").await;
    let (b, o) = open(&mut w, 400, "SN-0002").await;
    let warranty = o.warranty.clone().unwrap();
    assert!(!warranty.in_warranty && !warranty.computed_in_warranty);
    let id = o.repair_order_id.clone();
    to_diagnosing(&mut w, &o, &b, &c).await;

    let err = w
        .repairs
        .submit_quote(quote(&id, &c, 100))
        .await
        .unwrap_err();
    assert_rule(&err, "diagnosis_required");
    let r = w
        .repairs
        .submit_diagnosis(diagnosis(&id, &c))
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(
        r.state(),
        RepairState::Diagnosing,
        "out of warranty: waits for a quote"
    );
    let r = w
        .repairs
        .submit_quote(quote(&id, &c, 45_000))
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Quoted);
    let r = w
        .repairs
        .send_quote_to_buyer(SendQuoteToBuyerRequest {
            idempotency_key: key(),
            actor: system(),
            repair_order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::AwaitingApproval);
    let q = r.quote.unwrap();
    assert_eq!(
        q.expires_at.unwrap().seconds - q.sent_at.unwrap().seconds,
        7 * 24 * 3600
    );
    let r = w
        .repairs
        .approve_quote(ApproveQuoteRequest {
            idempotency_key: key(),
            actor: b.buyer(),
            repair_order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Approved);

    let paid = |amount| RecordQuotePaidRequest {
        idempotency_key: key(),
        actor: system(),
        repair_order_id: id.clone(),
        charge_id: uuid(),
        amount,
    };
    let err = w
        .repairs
        .record_quote_paid(paid(cny(44_999)))
        .await
        .unwrap_err();
    assert_rule(&err, "charge_amount_mismatch");
    let usd = Some(aftersales_proto::common::v1::Money {
        minor_units: 45_000,
        currency: "USD".into(),
    });
    let err = w.repairs.record_quote_paid(paid(usd)).await.unwrap_err();
    assert_rule(&err, "currency_mismatch");
    let req = paid(cny(45_000));
    let r = w
        .repairs
        .record_quote_paid(req.clone())
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Repairing);
    assert_eq!(r.quote.as_ref().unwrap().charge_id, req.charge_id);
    // Money never moves twice: a redelivered payment is a replay, another one is refused.
    let replay = w.repairs.record_quote_paid(req).await.unwrap().into_inner();
    assert_eq!(replay.repair_order.unwrap().updated_at, r.updated_at);
    let err = w
        .repairs
        .record_quote_paid(paid(cny(45_000)))
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_state_transition");

    w.repairs
        .report_repaired(ReportRepairedRequest {
            idempotency_key: key(),
            actor: partner(&c),
            repair_order_id: id.clone(),
            notes: String::new(),
        })
        .await
        .unwrap();
    ship_back_and_complete(&mut w, &id, &b, &c).await;
    let ev = w
        .events
        .wait_for(WAIT, |e| e.routing_key == "repairs.repair_order.quote_paid")
        .await
        .expect("quote_paid event");
    assert_eq!(ev.event.keys["charge_id"], r.quote.unwrap().charge_id);
}

#[tokio::test]
async fn quote_expiry_returns_the_item_unrepaired() {
    let mut w = world(&[("AFTERSALES__SERVICE__QUOTE_APPROVAL_DAYS", "3")]).await;
    let c = center(&mut w, "SZ-03").await;
    let (b, o) = open(&mut w, 400, "SN-0003").await;
    let id = o.repair_order_id.clone();
    to_diagnosing(&mut w, &o, &b, &c).await;
    w.repairs
        .submit_diagnosis(diagnosis(&id, &c))
        .await
        .unwrap();
    w.repairs
        .submit_quote(quote(&id, &c, 30_000))
        .await
        .unwrap();
    let r = w
        .repairs
        .send_quote_to_buyer(SendQuoteToBuyerRequest {
            idempotency_key: key(),
            actor: system(),
            repair_order_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    let q = r.quote.unwrap();
    assert_eq!(
        q.expires_at.unwrap().seconds - q.sent_at.unwrap().seconds,
        3 * 24 * 3600,
        "window from config"
    );
    let expire = || ExpireQuoteRequest {
        idempotency_key: key(),
        actor: system(),
        repair_order_id: id.clone(),
    };
    let err = w.repairs.expire_quote(expire()).await.unwrap_err();
    assert_rule(&err, "quote_not_expired");

    // Time travel: move the stored deadline into the past (the orchestrator's timer would fire
    // at expires_at).
    let db = w.env.database_url("repairs");
    let out = std::process::Command::new("psql")
        .arg(&db)
        .arg("-c")
        .arg(format!(
            "UPDATE repair_orders SET quote_expires_at = now() - interval '1 minute' WHERE id = '{id}'"
        ))
        .output()
        .expect("psql");
    assert!(out.status.success(), "{out:?}");

    let err = w
        .repairs
        .approve_quote(ApproveQuoteRequest {
            idempotency_key: key(),
            actor: b.buyer(),
            repair_order_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "quote_expired");
    let r = w
        .repairs
        .expire_quote(expire())
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::ReturningUnrepaired);
    assert_eq!(r.unrepaired_reason(), UnrepairedReason::QuoteExpired);
    assert_eq!(r.quote.unwrap().decision(), QuoteDecision::Expired);
    let ev = w
        .events
        .wait_for(WAIT, |e| {
            e.routing_key == "repairs.repair_order.quote_expired"
        })
        .await;
    assert!(ev.is_some());
    ship_back_and_complete(&mut w, &id, &b, &c).await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-04").await;
    let b = create_order(&mut w, 30).await;
    type Edit = fn(&mut CreateRepairOrderRequest);
    let cases: &[(&str, Edit)] = &[
        ("serial_number", |r| r.serial_number.clear()),
        ("symptom", |r| r.symptom = "x".repeat(4097)),
        ("serial_number", |r| r.serial_number = "s".repeat(129)),
        ("order_id", |r| r.order_id = "not-a-uuid".into()),
        ("line_id", |r| r.line_id.clear()),
        ("channel", |r| r.channel = 99),
        ("evidence_refs[0]", |r| r.evidence_refs = vec![" ".into()]),
        ("actor", |r| r.actor = None),
        ("actor.kind", |r| r.actor.as_mut().unwrap().kind = 42),
        ("idempotency_key", |r| r.idempotency_key.clear()),
    ];
    for (field, edit) in cases {
        let mut req = b.request("SN-0004");
        edit(&mut req);
        let err = w.repairs.create_repair_order(req).await.unwrap_err();
        assert_invalid(&err, field);
    }
    assert!(list_all(&mut w).await.is_empty(), "bad input wrote nothing");

    // Money and enums on a real order.
    let (b, o) = open(&mut w, 400, "SN-0005").await;
    let id = o.repair_order_id.clone();
    to_diagnosing(&mut w, &o, &b, &c).await;
    w.repairs
        .submit_diagnosis(diagnosis(&id, &c))
        .await
        .unwrap();
    let money = |minor: i64, currency: &str| {
        Some(aftersales_proto::common::v1::Money {
            minor_units: minor,
            currency: currency.into(),
        })
    };
    let cases = [
        (money(-1, "CNY"), "amount.minor_units"),
        (money(0, "CNY"), "amount.minor_units"),
        (money(i64::MAX, "CNY"), "amount.minor_units"),
        (money(100, "yuan"), "amount.currency"),
        (None, "amount"),
    ];
    for (amount, field) in cases {
        let mut req = quote(&id, &c, 1);
        req.amount = amount;
        let err = w.repairs.submit_quote(req).await.unwrap_err();
        assert_invalid(&err, field);
    }
    let err = w
        .repairs
        .convert_repair(ConvertRepairRequest {
            idempotency_key: key(),
            actor: staff(),
            repair_order_id: id.clone(),
            resolution: 7,
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "resolution");
    let err = w
        .repairs
        .list_repair_orders(ListRepairOrdersRequest {
            actor: staff(),
            states: vec![RepairState::Requested as i32, 0],
            page: Some(PageRequest {
                page_size: 500,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "states[1]");
    assert_invalid(&err, "page.page_size");
    let r = get(&mut w, &id).await;
    assert_eq!(r.state(), RepairState::Diagnosing);
    assert!(r.quote.is_none(), "bad quotes wrote nothing");
}

#[tokio::test]
async fn rules_scoping_and_permissions() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-05").await;
    let other = center(&mut w, "SZ-06").await;
    let (b, o) = open(&mut w, 30, "SN-0006").await;
    let id = o.repair_order_id.clone();

    // One open repair order per item: FAILED_PRECONDITION, checked under the replica lock.
    let err = w
        .repairs
        .create_repair_order(b.request("SN-0006"))
        .await
        .unwrap_err();
    assert_rule(&err, "repair_order_already_open");
    // Another buyer, a merchant actor.
    let mut req = b.request("SN-0007");
    req.actor = actor(ActorKind::Buyer, &uuid());
    let err = w.repairs.create_repair_order(req).await.unwrap_err();
    assert_denied(&err, "not_repair_buyer");
    let mut req = b.request("SN-0007");
    req.actor = actor(ActorKind::Merchant, &uuid());
    let err = w.repairs.create_repair_order(req).await.unwrap_err();
    assert_denied(&err, "actor_not_allowed");

    // State machine.
    let err = w
        .repairs
        .start_diagnosis(StartDiagnosisRequest {
            idempotency_key: key(),
            actor: staff(),
            repair_order_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_state_transition");

    // Repair centers: unique code, suspension blocks assignment.
    let err = w
        .repairs
        .create_repair_center(CreateRepairCenterRequest {
            idempotency_key: key(),
            actor: staff(),
            code: "SZ-05".into(),
            name: "dup".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().starts_with("repair_center_code_taken"));
    let err = w
        .repairs
        .create_repair_center(CreateRepairCenterRequest {
            idempotency_key: key(),
            actor: partner(&c),
            code: "SZ-99".into(),
            name: "self-registered".into(),
        })
        .await
        .unwrap_err();
    assert_denied(&err, "actor_not_allowed");
    let suspended = w
        .repairs
        .suspend_repair_center(SuspendRepairCenterRequest {
            idempotency_key: key(),
            actor: staff(),
            repair_center_id: other.repair_center_id.clone(),
            reason: "quality audit".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_center
        .unwrap();
    assert_eq!(suspended.state(), RepairCenterState::Suspended);
    let err = assign(&mut w, &id, &other).await.unwrap_err();
    assert_rule(&err, "repair_center_inactive");
    w.repairs
        .reactivate_repair_center(ReactivateRepairCenterRequest {
            idempotency_key: key(),
            actor: staff(),
            repair_center_id: other.repair_center_id.clone(),
        })
        .await
        .unwrap();
    assign(&mut w, &id, &c).await.unwrap();
    let err = assign(&mut w, &id, &c).await.unwrap_err();
    assert_rule(&err, "repair_center_unchanged");

    // A repair center acting on a repair order not assigned to it.
    let err = w
        .repairs
        .acknowledge_receipt(AcknowledgeReceiptRequest {
            idempotency_key: key(),
            actor: partner(&other),
            repair_order_id: id.clone(),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_denied(&err, "repair_center_mismatch");
    // ... cannot read it either, nor list another center's orders.
    let err = w
        .repairs
        .get_repair_order(GetRepairOrderRequest {
            repair_order_id: id.clone(),
            actor: partner(&other),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .repairs
        .list_repair_orders(ListRepairOrdersRequest {
            actor: partner(&other),
            repair_center_id: c.repair_center_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_denied(&err, "repair_center_mismatch");
    let mine = w
        .repairs
        .list_repair_orders(ListRepairOrdersRequest {
            actor: partner(&c),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(mine.len(), 1);
    let theirs = w
        .repairs
        .list_repair_orders(ListRepairOrdersRequest {
            actor: partner(&other),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(theirs.is_empty());
    // The assigned center walks it in (walk-in receipt from AWAITING_ITEM).
    let r = w
        .repairs
        .acknowledge_receipt(AcknowledgeReceiptRequest {
            idempotency_key: key(),
            actor: partner(&c),
            repair_order_id: id.clone(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Received);
    // Another buyer cannot cancel it; its buyer can (the item goes back unrepaired).
    let cancel = |who| CancelRepairRequest {
        idempotency_key: key(),
        actor: who,
        repair_order_id: id.clone(),
        reason: "changed my mind".into(),
    };
    let err = w
        .repairs
        .cancel_repair(cancel(actor(ActorKind::Buyer, &uuid())))
        .await
        .unwrap_err();
    assert_denied(&err, "not_repair_buyer");
    let r = w
        .repairs
        .cancel_repair(cancel(b.buyer()))
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::ReturningUnrepaired);
    assert_eq!(r.unrepaired_reason(), UnrepairedReason::Canceled);
}

#[tokio::test]
async fn warranty_override_needs_a_reason_and_starts_the_free_repair() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-07").await;
    let (b, o) = open(&mut w, 400, "SN-0008").await;
    let id = o.repair_order_id.clone();
    let ov = |who, in_warranty, reason: &str| OverrideWarrantyRequest {
        idempotency_key: key(),
        actor: who,
        repair_order_id: id.clone(),
        in_warranty,
        reason: reason.into(),
    };
    let err = w
        .repairs
        .override_warranty(ov(staff(), true, " "))
        .await
        .unwrap_err();
    assert_invalid(&err, "reason");
    let err = w
        .repairs
        .override_warranty(ov(b.buyer(), true, "goodwill"))
        .await
        .unwrap_err();
    assert_denied(&err, "actor_not_allowed");
    let err = w
        .repairs
        .override_warranty(ov(staff(), false, "already out"))
        .await
        .unwrap_err();
    assert_rule(&err, "warranty_unchanged");
    assert_eq!(
        get(&mut w, &id).await.warranty.unwrap().source(),
        WarrantySource::Computed
    );

    to_diagnosing(&mut w, &o, &b, &c).await;
    w.repairs
        .submit_diagnosis(diagnosis(&id, &c))
        .await
        .unwrap();
    w.repairs
        .submit_quote(quote(&id, &c, 20_000))
        .await
        .unwrap();
    let r = w
        .repairs
        .override_warranty(ov(
            staff(),
            true,
            "manufacturing defect known for this batch",
        ))
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Repairing);
    let wr = r.warranty.unwrap();
    assert!(wr.in_warranty && !wr.computed_in_warranty);
    assert_eq!(wr.source(), WarrantySource::Overridden);
    assert_eq!(
        wr.override_reason,
        "manufacturing defect known for this batch"
    );
    assert_eq!(wr.overridden_by, staff());
    assert_eq!(r.quote.unwrap().decision(), QuoteDecision::Withdrawn);
    let err = w
        .repairs
        .override_warranty(ov(staff(), false, "changed again"))
        .await
        .unwrap_err();
    assert_rule(&err, "warranty_decision_locked");
    let ev = w
        .events
        .wait_for(WAIT, |e| {
            e.routing_key == "repairs.repair_order.warranty_overridden"
        })
        .await;
    assert!(ev.is_some());
}

#[tokio::test]
async fn unrepairable_items_convert_once() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-08").await;
    let (b, o) = open(&mut w, 30, "SN-0009").await;
    let id = o.repair_order_id.clone();
    to_diagnosing(&mut w, &o, &b, &c).await;
    let err = w
        .repairs
        .report_unrepairable(ReportUnrepairableRequest {
            idempotency_key: key(),
            actor: partner(&c),
            repair_order_id: id.clone(),
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "reason");
    let r = w
        .repairs
        .report_unrepairable(ReportUnrepairableRequest {
            idempotency_key: key(),
            actor: partner(&c),
            repair_order_id: id.clone(),
            reason: "board corroded beyond repair".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Unrepairable);
    let r = w
        .repairs
        .convert_repair(ConvertRepairRequest {
            idempotency_key: key(),
            actor: b.buyer(),
            repair_order_id: id.clone(),
            resolution: UnrepairableResolution::Exchange as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(r.state(), RepairState::Converted);
    assert_eq!(r.resolution(), UnrepairableResolution::Exchange);
    let link = || RecordConvertedCaseRequest {
        idempotency_key: key(),
        actor: system(),
        repair_order_id: id.clone(),
        case_id: uuid(),
    };
    w.repairs.record_converted_case(link()).await.unwrap();
    let err = w.repairs.record_converted_case(link()).await.unwrap_err();
    assert_rule(&err, "converted_case_already_linked");
    let ev = w
        .events
        .wait_for(WAIT, |e| {
            e.routing_key == "repairs.repair_order.converted_case_linked"
        })
        .await
        .expect("linked event");
    assert!(ev.event.keys.contains_key("case_id"));
    // A converted order is closed: the item may be sent for repair again.
    let again = w.repairs.create_repair_order(b.request("SN-0009")).await;
    assert!(again.is_ok(), "{again:?}");
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_result_and_changes_nothing() {
    let mut w = world(&[]).await;
    let (b, o) = open(&mut w, 30, "SN-0010").await;
    let mut req = b.request("SN-0011");
    let first = w
        .repairs
        .create_repair_order(req.clone())
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    let replay = w
        .repairs
        .create_repair_order(req.clone())
        .await
        .unwrap()
        .into_inner()
        .repair_order
        .unwrap();
    assert_eq!(first, replay);
    let all = list_all(&mut w).await;
    assert_eq!(all.len(), 2);
    assert!(all.iter().any(|r| r.repair_order_id == o.repair_order_id));
    req.symptom = "a different symptom".into();
    let err = w.repairs.create_repair_order(req).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");
    assert_eq!(list_all(&mut w).await.len(), 2);

    let cancel = CancelRepairRequest {
        idempotency_key: key(),
        actor: b.buyer(),
        repair_order_id: first.repair_order_id.clone(),
        reason: "found the receipt for a local shop".into(),
    };
    let a = w
        .repairs
        .cancel_repair(cancel.clone())
        .await
        .unwrap()
        .into_inner();
    let b2 = w.repairs.cancel_repair(cancel).await.unwrap().into_inner();
    assert_eq!(a, b2);
    assert_eq!(a.repair_order.unwrap().state(), RepairState::Canceled);
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let mut w = world(&[]).await;
    let c = center(&mut w, "SZ-09").await;
    let err = w
        .repairs
        .get_repair_order(GetRepairOrderRequest {
            repair_order_id: uuid(),
            actor: staff(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = assign(&mut w, &uuid(), &c).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .repairs
        .get_repair_center(GetRepairCenterRequest {
            repair_center_id: uuid(),
            actor: staff(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // An order the replica does not know.
    let unknown = Bought {
        order_id: uuid(),
        line_id: uuid(),
        buyer_id: uuid(),
        paid_at: Utc::now(),
    };
    let err = w
        .repairs
        .create_repair_order(unknown.request("SN-0012"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // A known order with a line that is not one of its lines.
    let (b, _) = open(&mut w, 30, "SN-0013").await;
    let mut req = b.request("SN-0014");
    req.line_id = uuid();
    let err = w.repairs.create_repair_order(req).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // Centers list and paging.
    let page = w
        .repairs
        .list_repair_centers(ListRepairCentersRequest {
            page: Some(PageRequest {
                page_size: 1,
                page_token: String::new(),
            }),
            state: RepairCenterState::Active as i32,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].repair_center_id, c.repair_center_id);
}
