//! Logistics service, black-box over gRPC: waybills, courier scans (duplicates, out-of-order),
//! interceptions, tracking number corrections, the stuck sweep, follow-up shipments, scoping,
//! idempotency and the events reaching RabbitMQ.

use crate::common::*;
use aftersales_proto::common::v1::{ActorKind, Money};
use aftersales_proto::logistics::v1::{logistics_service_client::LogisticsServiceClient, *};
use aftersales_test_support::TestEnv;
use chrono::{Duration as ChronoDuration, Utc};
use std::time::Duration;
use tonic::{Code, transport::Channel};

type Client = LogisticsServiceClient<Channel>;

const WAIT: Duration = Duration::from_secs(10);
const MERCHANT: &str = "0190a000-0000-7000-8000-000000000001";

fn merchant() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::Merchant, MERCHANT)
}

fn system() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::System, "orchestrator")
}

fn courier(code: &str) -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::Partner, code)
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn address() -> Option<Address> {
    Some(Address {
        contact_name: "Han Meimei".into(),
        phone: "13900000000".into(),
        line1: "88 Century Avenue".into(),
        city: "Shanghai".into(),
        country_code: "CN".into(),
        ..Default::default()
    })
}

fn create_req(courier_code: &str, tracking: &str) -> CreateShipmentRequest {
    CreateShipmentRequest {
        idempotency_key: key(),
        actor: merchant(),
        direction: Direction::Forward as i32,
        courier_code: courier_code.into(),
        tracking_number: tracking.into(),
        order_id: uuid(),
        merchant_id: MERCHANT.into(),
        destination: address(),
        shipping_fee: cny(1200),
        fee_payer: FeePayer::Merchant as i32,
        ..Default::default()
    }
}

async fn create(c: &mut Client, courier_code: &str, tracking: &str) -> Shipment {
    c.create_shipment(create_req(courier_code, tracking))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap()
}

fn scan_req(
    s: &Shipment,
    event_id: &str,
    status: TrackingStatus,
    at: chrono::DateTime<Utc>,
) -> RecordTrackingEventRequest {
    RecordTrackingEventRequest {
        idempotency_key: key(),
        actor: courier(&s.courier_code),
        shipment_id: s.shipment_id.clone(),
        courier_code: s.courier_code.clone(),
        courier_event_id: event_id.into(),
        status: status as i32,
        occurred_at: ts(at),
        location: "Shanghai hub".into(),
        ..Default::default()
    }
}

async fn scan(
    c: &mut Client,
    s: &Shipment,
    event_id: &str,
    status: TrackingStatus,
    at: chrono::DateTime<Utc>,
) -> RecordTrackingEventResponse {
    c.record_tracking_event(scan_req(s, event_id, status, at))
        .await
        .unwrap()
        .into_inner()
}

async fn get(c: &mut Client, id: &str) -> Shipment {
    c.get_shipment(GetShipmentRequest {
        shipment_id: id.into(),
        actor: system(),
    })
    .await
    .unwrap()
    .into_inner()
    .shipment
    .unwrap()
}

async fn list_all(c: &mut Client) -> Vec<Shipment> {
    c.list_shipments(ListShipmentsRequest {
        actor: system(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .items
}

fn assert_denied(status: &tonic::Status, rule: &str) {
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().starts_with(rule), "{status:?}");
}

#[tokio::test]
async fn happy_path_through_waybill_and_scans_publishes_events() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut events = env.event_probe("logistics.#").await;

    let s = create(&mut c, "SF", "SF1001").await;
    assert_eq!(s.state, ShipmentState::Created as i32);
    assert_eq!(s.waybill_state, WaybillState::Created as i32);
    assert!(s.eta.is_some());
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "logistics.shipment.created")
        .await
        .expect("created event");
    assert_eq!(ev.event.entity_id, s.shipment_id);
    assert_eq!(ev.event.keys["tracking_number"], "SF1001");

    let printed = c
        .print_waybill(PrintWaybillRequest {
            idempotency_key: key(),
            actor: merchant(),
            shipment_id: s.shipment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(printed.waybill_state, WaybillState::Printed as i32);
    assert!(printed.printed_at.is_some());
    let uploaded = c
        .upload_waybill(UploadWaybillRequest {
            idempotency_key: key(),
            actor: merchant(),
            shipment_id: s.shipment_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(uploaded.waybill_state, WaybillState::Uploaded as i32);

    let t0 = Utc::now() - ChronoDuration::hours(10);
    let steps = [
        (TrackingStatus::PickedUp, ShipmentState::PickedUp),
        (TrackingStatus::InTransit, ShipmentState::InTransit),
        (
            TrackingStatus::OutForDelivery,
            ShipmentState::OutForDelivery,
        ),
        (TrackingStatus::Signed, ShipmentState::Signed),
    ];
    for (i, (status, state)) in steps.into_iter().enumerate() {
        let r = scan(
            &mut c,
            &s,
            &format!("sf-ev-{i}"),
            status,
            t0 + ChronoDuration::hours(i as i64),
        )
        .await;
        assert!(!r.duplicate);
        assert!(r.event.as_ref().unwrap().applied);
        assert_eq!(r.shipment.as_ref().unwrap().state, state as i32);
    }
    let signed = get(&mut c, &s.shipment_id).await;
    assert_eq!(signed.state, ShipmentState::Signed as i32);
    assert_eq!(signed.milestone, ShipmentState::Signed as i32);
    assert!(signed.eta.is_none(), "no eta once terminal");
    assert_eq!(signed.picked_up_at, ts(t0));
    assert_eq!(signed.signed_at, ts(t0 + ChronoDuration::hours(3)));

    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "logistics.shipment.signed")
        .await
        .expect("signed event");
    assert_eq!(ev.event.state, "signed");

    let listed = c
        .list_tracking_events(ListTrackingEventsRequest {
            actor: courier("SF"),
            shipment_id: s.shipment_id.clone(),
            page: Some(aftersales_proto::common::v1::PageRequest {
                page_size: 3,
                page_token: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.items.len(), 3);
    assert_eq!(listed.items[0].courier_event_id, "sf-ev-0");
    let rest = c
        .list_tracking_events(ListTrackingEventsRequest {
            actor: courier("SF"),
            shipment_id: s.shipment_id.clone(),
            page: Some(aftersales_proto::common::v1::PageRequest {
                page_size: 3,
                page_token: listed.page.unwrap().next_page_token,
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].courier_event_id, "sf-ev-3");

    let by_state = c
        .list_shipments(ListShipmentsRequest {
            actor: system(),
            state: ShipmentState::Signed as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(by_state.len(), 1);
    let by_tracking = c
        .list_shipments(ListShipmentsRequest {
            actor: system(),
            courier_code: "SF".into(),
            tracking_number: "SF1001".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(by_tracking.len(), 1);
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field_and_writes_nothing() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);

    type Edit = fn(&mut CreateShipmentRequest);
    let cases: &[(Edit, &str)] = &[
        (|r| r.destination = None, "destination"),
        (
            |r| r.destination.as_mut().unwrap().city = String::new(),
            "destination.city",
        ),
        (|r| r.shipping_fee = cny(-1), "shipping_fee.minor_units"),
        (
            |r| r.shipping_fee = cny(i64::MAX),
            "shipping_fee.minor_units",
        ),
        (
            |r| {
                r.shipping_fee = Some(Money {
                    minor_units: 1,
                    currency: "cn".into(),
                })
            },
            "shipping_fee.currency",
        ),
        (|r| r.direction = 99, "direction"),
        (|r| r.direction = 0, "direction"),
        (|r| r.fee_payer = 42, "fee_payer"),
        (|r| r.tracking_number = "x".repeat(129), "tracking_number"),
        (|r| r.tracking_number = "SF 1".into(), "tracking_number"),
        (|r| r.order_id = "not-a-uuid".into(), "order_id"),
        (|r| r.merchant_id = String::new(), "merchant_id"),
        (|r| r.direction = Direction::Return as i32, "case_id"),
        (|r| r.idempotency_key = String::new(), "idempotency_key"),
        (|r| r.idempotency_key = "k".repeat(129), "idempotency_key"),
        (|r| r.actor = None, "actor"),
        (|r| r.actor.as_mut().unwrap().kind = 77, "actor.kind"),
    ];
    for (edit, field) in cases {
        let mut req = create_req("SF", "SF2001");
        edit(&mut req);
        let err = c.create_shipment(req).await.unwrap_err();
        assert_invalid(&err, field);
    }

    // A scan with bad fields is refused too.
    let s = create(&mut c, "SF", "SF2002").await;
    type ScanEdit = fn(&mut RecordTrackingEventRequest);
    let scan_cases: &[(ScanEdit, &str)] = &[
        (
            |r| r.occurred_at = ts(Utc::now() + ChronoDuration::hours(1)),
            "occurred_at",
        ),
        (|r| r.occurred_at = None, "occurred_at"),
        (
            |r| {
                r.occurred_at = Some(prost_types::Timestamp {
                    seconds: -62_000_000_000,
                    nanos: 0,
                })
            },
            "occurred_at",
        ),
        (|r| r.status = 0, "status"),
        (|r| r.status = 17, "status"),
        (
            |r| r.status = TrackingStatus::Exception as i32,
            "exception_kind",
        ),
        (
            |r| r.exception_kind = ExceptionKind::Lost as i32,
            "exception_kind",
        ),
        (|r| r.courier_event_id = String::new(), "courier_event_id"),
        (|r| r.description = "d".repeat(4097), "description"),
        (|r| r.tracking_number = "SF2002".into(), "shipment_id"),
        (|r| r.shipment_id = "nope".into(), "shipment_id"),
    ];
    for (edit, field) in scan_cases {
        let mut req = scan_req(&s, "e-1", TrackingStatus::PickedUp, Utc::now());
        edit(&mut req);
        let err = c.record_tracking_event(req).await.unwrap_err();
        assert_invalid(&err, field);
    }

    let all = list_all(&mut c).await;
    assert_eq!(all.len(), 1, "only the valid shipment was written");
    let fresh = get(&mut c, &s.shipment_id).await;
    assert_eq!(fresh.state, ShipmentState::Created as i32);
    assert!(fresh.last_scan_at.is_none());
    let evs = c
        .list_tracking_events(ListTrackingEventsRequest {
            actor: system(),
            shipment_id: s.shipment_id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(evs.is_empty());

    let err = c
        .list_shipments(ListShipmentsRequest {
            actor: system(),
            page: Some(aftersales_proto::common::v1::PageRequest {
                page_size: 500,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "page.page_size");
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_result_and_duplicates_are_refused() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);

    let req = create_req("SF", "SF3001");
    let first = c.create_shipment(req.clone()).await.unwrap().into_inner();
    let again = c.create_shipment(req.clone()).await.unwrap().into_inner();
    assert_eq!(first, again);
    assert_eq!(list_all(&mut c).await.len(), 1);

    let mut other = req.clone();
    other.tracking_number = "SF3002".into();
    let err = c.create_shipment(other).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");

    // Same courier and tracking number on another shipment.
    let err = c
        .create_shipment(create_req("SF", "SF3001"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(
        err.message().starts_with("tracking_number_taken"),
        "{err:?}"
    );
    // Another courier may use the same number.
    create(&mut c, "YTO", "SF3001").await;
    assert_eq!(list_all(&mut c).await.len(), 2);

    // A replayed print does not print twice.
    let s = first.shipment.unwrap();
    let print = PrintWaybillRequest {
        idempotency_key: key(),
        actor: merchant(),
        shipment_id: s.shipment_id.clone(),
    };
    let a = c.print_waybill(print.clone()).await.unwrap().into_inner();
    let b = c.print_waybill(print).await.unwrap().into_inner();
    assert_eq!(a, b);
    let err = c
        .print_waybill(PrintWaybillRequest {
            idempotency_key: key(),
            actor: merchant(),
            shipment_id: s.shipment_id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_waybill_transition");
}

#[tokio::test]
async fn unknown_ids_are_not_found_and_couriers_are_scoped() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let s = create(&mut c, "SF", "SF4001").await;
    create(&mut c, "YTO", "YT4001").await;

    let err = c
        .get_shipment(GetShipmentRequest {
            shipment_id: uuid(),
            actor: system(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .print_waybill(PrintWaybillRequest {
            idempotency_key: key(),
            actor: merchant(),
            shipment_id: uuid(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .get_interception(GetInterceptionRequest {
            interception_id: uuid(),
            actor: system(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let mut by_number = scan_req(&s, "x-1", TrackingStatus::PickedUp, Utc::now());
    by_number.shipment_id = String::new();
    by_number.tracking_number = "SF-UNKNOWN".into();
    let err = c.record_tracking_event(by_number).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);

    // YTO may neither read nor update SF's shipment.
    let err = c
        .get_shipment(GetShipmentRequest {
            shipment_id: s.shipment_id.clone(),
            actor: courier("YTO"),
        })
        .await
        .unwrap_err();
    assert_denied(&err, "courier_mismatch");
    let mut foreign = scan_req(&s, "yto-1", TrackingStatus::PickedUp, Utc::now());
    foreign.actor = courier("YTO");
    let err = c.record_tracking_event(foreign.clone()).await.unwrap_err();
    assert_denied(&err, "courier_mismatch");
    foreign.courier_code = "YTO".into();
    let err = c.record_tracking_event(foreign).await.unwrap_err();
    assert_denied(&err, "courier_mismatch");
    assert!(get(&mut c, &s.shipment_id).await.last_scan_at.is_none());

    // A courier's listing holds only its own shipments.
    let mine = c
        .list_shipments(ListShipmentsRequest {
            actor: courier("YTO"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].courier_code, "YTO");
    let err = c
        .list_shipments(ListShipmentsRequest {
            actor: courier("YTO"),
            courier_code: "SF".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_denied(&err, "courier_mismatch");

    // Actor kinds: a buyer creates only returns; a courier cannot print.
    let mut by_buyer = create_req("SF", "SF4002");
    by_buyer.actor = actor(ActorKind::Buyer, &uuid());
    let err = c.create_shipment(by_buyer.clone()).await.unwrap_err();
    assert_denied(&err, "actor_not_allowed");
    by_buyer.direction = Direction::Return as i32;
    by_buyer.case_id = uuid();
    let ret = c.create_shipment(by_buyer).await.unwrap().into_inner();
    assert_eq!(ret.shipment.unwrap().direction, Direction::Return as i32);
    let err = c
        .print_waybill(PrintWaybillRequest {
            idempotency_key: key(),
            actor: courier("SF"),
            shipment_id: s.shipment_id.clone(),
        })
        .await
        .unwrap_err();
    assert_denied(&err, "actor_not_allowed");
}

#[tokio::test]
async fn duplicate_and_out_of_order_events_never_move_a_shipment_backwards() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut events = env.event_probe("logistics.shipment.#").await;
    let s = create(&mut c, "SF", "SF5001").await;
    let t0 = Utc::now() - ChronoDuration::hours(10);

    scan(&mut c, &s, "e1", TrackingStatus::PickedUp, t0).await;
    let first = scan(
        &mut c,
        &s,
        "e2",
        TrackingStatus::InTransit,
        t0 + ChronoDuration::hours(2),
    )
    .await;
    let eta = first.shipment.as_ref().unwrap().eta;

    // The same courier event again, under a new idempotency key: the first event, nothing changes.
    let dup = scan(
        &mut c,
        &s,
        "e2",
        TrackingStatus::InTransit,
        t0 + ChronoDuration::hours(2),
    )
    .await;
    assert!(dup.duplicate);
    assert_eq!(dup.event, first.event);
    assert_eq!(dup.shipment, first.shipment);

    // An older event arriving late is recorded but not applied.
    let late = scan(
        &mut c,
        &s,
        "e0",
        TrackingStatus::OutForDelivery,
        t0 + ChronoDuration::hours(1),
    )
    .await;
    assert!(!late.duplicate);
    assert!(!late.event.as_ref().unwrap().applied);
    // A lower-ranked status, even if newer, is not applied either.
    let lower = scan(
        &mut c,
        &s,
        "e3",
        TrackingStatus::PickedUp,
        t0 + ChronoDuration::hours(3),
    )
    .await;
    assert!(!lower.event.as_ref().unwrap().applied);
    let now = get(&mut c, &s.shipment_id).await;
    assert_eq!(now.state, ShipmentState::InTransit as i32);
    assert_eq!(now.milestone, ShipmentState::InTransit as i32);
    assert_eq!(now.eta, eta);
    assert_eq!(now.last_event_at, ts(t0 + ChronoDuration::hours(2)));
    assert_eq!(now.last_scan_at, ts(t0 + ChronoDuration::hours(3)));

    // An exception keeps the milestone; a later, higher scan resumes the shipment.
    let mut lost = scan_req(
        &s,
        "e4",
        TrackingStatus::Exception,
        t0 + ChronoDuration::hours(4),
    );
    lost.exception_kind = ExceptionKind::Damaged as i32;
    let r = c.record_tracking_event(lost).await.unwrap().into_inner();
    let sh = r.shipment.unwrap();
    assert_eq!(sh.state, ShipmentState::Exception as i32);
    assert_eq!(sh.exception_kind, ExceptionKind::Damaged as i32);
    assert_eq!(sh.milestone, ShipmentState::InTransit as i32);
    events
        .wait_for(WAIT, |e| e.routing_key == "logistics.shipment.exception")
        .await
        .expect("exception event");
    let r = scan(
        &mut c,
        &s,
        "e5",
        TrackingStatus::OutForDelivery,
        t0 + ChronoDuration::hours(5),
    )
    .await;
    assert_eq!(
        r.shipment.unwrap().state,
        ShipmentState::OutForDelivery as i32
    );

    let stored = c
        .list_tracking_events(ListTrackingEventsRequest {
            actor: system(),
            shipment_id: s.shipment_id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    let ids: Vec<&str> = stored.iter().map(|e| e.courier_event_id.as_str()).collect();
    assert_eq!(
        ids,
        ["e1", "e0", "e2", "e3", "e4", "e5"],
        "ordered by occurred_at, no duplicate"
    );

    // The same courier event id on another shipment of the courier is a conflict.
    let other = create(&mut c, "SF", "SF5002").await;
    let err = c
        .record_tracking_event(scan_req(&other, "e1", TrackingStatus::PickedUp, t0))
        .await
        .unwrap_err();
    assert_rule(&err, "courier_event_id_conflict");

    // Looking the shipment up by tracking number works.
    let mut by_number = scan_req(&other, "o1", TrackingStatus::PickedUp, t0);
    by_number.shipment_id = String::new();
    by_number.tracking_number = "SF5002".into();
    let r = c
        .record_tracking_event(by_number)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.shipment.unwrap().shipment_id, other.shipment_id);
}

#[tokio::test]
async fn interceptions_succeed_fail_and_settle_from_scans() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut events = env.event_probe("logistics.#").await;
    let t0 = Utc::now() - ChronoDuration::hours(5);

    let request = |s: &Shipment| RequestInterceptionRequest {
        idempotency_key: key(),
        actor: system(),
        shipment_id: s.shipment_id.clone(),
        reason: "refund-only case".into(),
        case_id: uuid(),
        order_id: String::new(),
    };
    let result = |id: &str, r: InterceptionResult, why: &str| RecordInterceptionResultRequest {
        idempotency_key: key(),
        actor: courier("SF"),
        interception_id: id.into(),
        result: r as i32,
        failure_reason: why.into(),
    };

    // Not picked up yet: void instead.
    let s = create(&mut c, "SF", "SF6001").await;
    let err = c.request_interception(request(&s)).await.unwrap_err();
    assert_rule(&err, "interception_not_possible");

    // REQUESTED -> ACCEPTED -> INTERCEPTED -> RETURNED_TO_SENDER.
    scan(&mut c, &s, "a1", TrackingStatus::InTransit, t0).await;
    let i = c
        .request_interception(request(&s))
        .await
        .unwrap()
        .into_inner()
        .interception
        .unwrap();
    assert_eq!(i.state, InterceptionState::Requested as i32);
    let err = c.request_interception(request(&s)).await.unwrap_err();
    assert_rule(&err, "interception_already_open");
    let err = c
        .record_interception_result(RecordInterceptionResultRequest {
            actor: courier("YTO"),
            ..result(&i.interception_id, InterceptionResult::Accepted, "")
        })
        .await
        .unwrap_err();
    assert_denied(&err, "courier_mismatch");
    let err = c
        .record_interception_result(result(
            &i.interception_id,
            InterceptionResult::ReturnedToSender,
            "",
        ))
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_interception_transition");
    for (r, state) in [
        (InterceptionResult::Accepted, InterceptionState::Accepted),
        (
            InterceptionResult::Intercepted,
            InterceptionState::Intercepted,
        ),
    ] {
        let got = c
            .record_interception_result(result(&i.interception_id, r, ""))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(got.interception.unwrap().state, state as i32);
    }
    let done = c
        .record_interception_result(result(
            &i.interception_id,
            InterceptionResult::ReturnedToSender,
            "",
        ))
        .await
        .unwrap()
        .into_inner();
    let di = done.interception.unwrap();
    assert_eq!(di.state, InterceptionState::ReturnedToSender as i32);
    assert!(di.closed_at.is_some());
    assert_eq!(
        done.shipment.unwrap().state,
        ShipmentState::ReturnedToSender as i32
    );
    events
        .wait_for(WAIT, |e| {
            e.routing_key == "logistics.interception.returned_to_sender"
                && e.event.entity_id == i.interception_id
        })
        .await
        .expect("interception returned event");
    events
        .wait_for(WAIT, |e| {
            e.routing_key == "logistics.shipment.returned_to_sender"
                && e.event.entity_id == s.shipment_id
        })
        .await
        .expect("shipment returned event");

    // A FAILED one needs a reason.
    let s2 = create(&mut c, "SF", "SF6002").await;
    scan(&mut c, &s2, "b1", TrackingStatus::PickedUp, t0).await;
    let i2 = c
        .request_interception(request(&s2))
        .await
        .unwrap()
        .into_inner()
        .interception
        .unwrap();
    let err = c
        .record_interception_result(result(&i2.interception_id, InterceptionResult::Failed, ""))
        .await
        .unwrap_err();
    assert_invalid(&err, "failure_reason");
    let failed = c
        .record_interception_result(result(
            &i2.interception_id,
            InterceptionResult::Failed,
            "already out for delivery",
        ))
        .await
        .unwrap()
        .into_inner();
    let fi = failed.interception.unwrap();
    assert_eq!(fi.state, InterceptionState::Failed as i32);
    assert_eq!(fi.failure_reason, "already out for delivery");
    assert_eq!(
        failed.shipment.unwrap().state,
        ShipmentState::PickedUp as i32
    );
    events
        .wait_for(WAIT, |e| {
            e.routing_key == "logistics.interception.failed"
                && e.event.entity_id == i2.interception_id
        })
        .await
        .expect("interception failed event");

    // A SIGNED scan fails the open interception.
    let s3 = create(&mut c, "SF", "SF6003").await;
    scan(&mut c, &s3, "c1", TrackingStatus::PickedUp, t0).await;
    let i3 = c
        .request_interception(request(&s3))
        .await
        .unwrap()
        .into_inner()
        .interception
        .unwrap();
    scan(
        &mut c,
        &s3,
        "c2",
        TrackingStatus::Signed,
        t0 + ChronoDuration::hours(1),
    )
    .await;
    let settled = c
        .get_interception(GetInterceptionRequest {
            interception_id: i3.interception_id.clone(),
            actor: courier("SF"),
        })
        .await
        .unwrap()
        .into_inner()
        .interception
        .unwrap();
    assert_eq!(settled.state, InterceptionState::Failed as i32);
    assert_eq!(settled.failure_reason, "already signed");

    let listed = c
        .list_interceptions(ListInterceptionsRequest {
            actor: courier("SF"),
            state: InterceptionState::Failed as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(listed.len(), 2);
    let none = c
        .list_interceptions(ListInterceptionsRequest {
            actor: courier("YTO"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(none.is_empty());
}

#[tokio::test]
async fn tracking_number_corrections_are_audited_within_the_window_only() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(
        env.start(
            "logistics",
            &[("AFTERSALES__SERVICE__CORRECTION_WINDOW_SECONDS", "3")],
        )
        .await,
    );
    let mut events = env.event_probe("logistics.shipment.#").await;
    let s = create(&mut c, "SF", "SF7001").await;
    create(&mut c, "SF", "SF7999").await;
    let correct = |number: &str| CorrectTrackingNumberRequest {
        idempotency_key: key(),
        actor: merchant(),
        shipment_id: s.shipment_id.clone(),
        new_tracking_number: number.into(),
        reason: "typo".into(),
    };

    let r = c
        .correct_tracking_number(correct("SF7002"))
        .await
        .unwrap()
        .into_inner();
    let sh = r.shipment.unwrap();
    assert_eq!(sh.tracking_number, "SF7002");
    assert_eq!(sh.correction_count, 1);
    let audit = r.correction.unwrap();
    assert_eq!(audit.old_tracking_number, "SF7001");
    assert_eq!(audit.new_tracking_number, "SF7002");
    assert_eq!(audit.corrected_by, merchant());
    events
        .wait_for(WAIT, |e| {
            e.routing_key == "logistics.shipment.tracking_number_corrected"
        })
        .await
        .expect("corrected event");

    let err = c
        .correct_tracking_number(correct("SF7999"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
    assert!(err.message().starts_with("tracking_number_taken"));
    let err = c
        .correct_tracking_number(correct("SF7002"))
        .await
        .unwrap_err();
    assert_rule(&err, "tracking_number_unchanged");
    let err = c
        .correct_tracking_number(CorrectTrackingNumberRequest {
            actor: actor(ActorKind::Merchant, &uuid()),
            ..correct("SF7003")
        })
        .await
        .unwrap_err();
    assert_denied(&err, "actor_not_allowed");
    let err = c
        .correct_tracking_number(correct("SF 7003"))
        .await
        .unwrap_err();
    assert_invalid(&err, "new_tracking_number");

    tokio::time::sleep(Duration::from_secs(4)).await;
    let err = c
        .correct_tracking_number(correct("SF7003"))
        .await
        .unwrap_err();
    assert_rule(&err, "correction_window_expired");

    let trail = c
        .list_tracking_corrections(ListTrackingCorrectionsRequest {
            actor: merchant(),
            shipment_id: s.shipment_id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].reason, "typo");
    assert_eq!(get(&mut c, &s.shipment_id).await.tracking_number, "SF7002");
}

#[tokio::test]
async fn stuck_sweep_marks_shipments_without_scans_and_publishes() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(
        env.start(
            "logistics",
            &[("AFTERSALES__SERVICE__STUCK_AFTER_SECONDS", "60")],
        )
        .await,
    );
    let mut events = env.event_probe("logistics.shipment.stuck").await;
    let old = create(&mut c, "SF", "SF8001").await;
    let fresh = create(&mut c, "SF", "SF8002").await;
    let waiting = create(&mut c, "SF", "SF8003").await;
    scan(
        &mut c,
        &old,
        "s1",
        TrackingStatus::InTransit,
        Utc::now() - ChronoDuration::hours(3),
    )
    .await;
    scan(&mut c, &fresh, "s2", TrackingStatus::InTransit, Utc::now()).await;

    let sweep = |actor| MarkStuckShipmentsRequest {
        idempotency_key: key(),
        actor,
        limit: 0,
    };
    let err = c.mark_stuck_shipments(sweep(merchant())).await.unwrap_err();
    assert_denied(&err, "actor_not_allowed");
    let err = c
        .mark_stuck_shipments(MarkStuckShipmentsRequest {
            limit: 101,
            ..sweep(system())
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "limit");

    let req = sweep(system());
    let r = c
        .mark_stuck_shipments(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.items.len(), 1);
    assert!(!r.more);
    assert_eq!(r.items[0].shipment_id, old.shipment_id);
    assert_eq!(r.items[0].state, ShipmentState::Exception as i32);
    assert_eq!(r.items[0].exception_kind, ExceptionKind::Stuck as i32);
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "logistics.shipment.stuck")
        .await
        .expect("stuck event");
    assert_eq!(ev.event.entity_id, old.shipment_id);
    assert_eq!(ev.event.keys["exception_kind"], "stuck");

    // A replay returns the same answer; a new sweep finds nothing more.
    let replay = c.mark_stuck_shipments(req).await.unwrap().into_inner();
    assert_eq!(replay, r);
    let again = c
        .mark_stuck_shipments(sweep(actor(ActorKind::Staff, "ops")))
        .await
        .unwrap()
        .into_inner();
    assert!(again.items.is_empty());
    assert_eq!(
        get(&mut c, &fresh.shipment_id).await.state,
        ShipmentState::InTransit as i32
    );
    assert_eq!(
        get(&mut c, &waiting.shipment_id).await.state,
        ShipmentState::Created as i32
    );
    let stuck = c
        .list_shipments(ListShipmentsRequest {
            actor: system(),
            exception_kind: ExceptionKind::Stuck as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(stuck.len(), 1);
}

#[tokio::test]
async fn waybill_void_only_before_pickup() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut events = env.event_probe("logistics.shipment.waybill_voided").await;
    let void = |s: &Shipment| VoidWaybillRequest {
        idempotency_key: key(),
        actor: merchant(),
        shipment_id: s.shipment_id.clone(),
        reason: "order canceled".into(),
    };

    let s = create(&mut c, "SF", "SF9001").await;
    let voided = c
        .void_waybill(void(&s))
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(voided.waybill_state, WaybillState::Voided as i32);
    assert_eq!(voided.state, ShipmentState::Voided as i32);
    assert_eq!(voided.void_reason, "order canceled");
    events
        .wait_for(WAIT, |e| e.event.entity_id == s.shipment_id)
        .await
        .expect("voided event");
    let err = c
        .record_tracking_event(scan_req(&s, "v1", TrackingStatus::PickedUp, Utc::now()))
        .await
        .unwrap_err();
    assert_rule(&err, "shipment_voided");
    let err = c.void_waybill(void(&s)).await.unwrap_err();
    assert_rule(&err, "invalid_waybill_transition");

    let picked = create(&mut c, "SF", "SF9002").await;
    scan(&mut c, &picked, "p1", TrackingStatus::PickedUp, Utc::now()).await;
    let err = c.void_waybill(void(&picked)).await.unwrap_err();
    assert_rule(&err, "shipment_already_picked_up");
    assert_eq!(
        get(&mut c, &picked.shipment_id).await.waybill_state,
        WaybillState::Created as i32
    );
}

#[tokio::test]
async fn concurrent_duplicate_scans_store_one_event() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let s = create(&mut c, "SF", "SF10001").await;
    let at = Utc::now() - ChronoDuration::hours(1);
    let calls = (0..6).map(|_| {
        let mut client = c.clone();
        let req = scan_req(&s, "same", TrackingStatus::PickedUp, at);
        async move { client.record_tracking_event(req).await }
    });
    let results = futures::future::join_all(calls).await;
    let mut fresh = 0;
    for r in results {
        let r = r.unwrap().into_inner();
        if !r.duplicate {
            fresh += 1;
        }
        assert_eq!(r.shipment.unwrap().state, ShipmentState::PickedUp as i32);
    }
    assert_eq!(fresh, 1);
    let stored = c
        .list_tracking_events(ListTrackingEventsRequest {
            actor: system(),
            shipment_id: s.shipment_id.clone(),
            page: None,
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(stored.len(), 1);
}

fn forward_req(order_id: &str, tracking: &str) -> CreateShipmentRequest {
    CreateShipmentRequest {
        order_id: order_id.into(),
        ..create_req("SF", tracking)
    }
}

async fn create_for(c: &mut Client, req: CreateShipmentRequest) -> Shipment {
    c.create_shipment(req)
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap()
}

fn void_order_req(order_id: &str, case_id: &str) -> VoidOrderWaybillsRequest {
    VoidOrderWaybillsRequest {
        idempotency_key: key(),
        actor: system(),
        order_id: order_id.into(),
        case_id: case_id.into(),
        reason: "refund-only before shipment".into(),
    }
}

fn reissue_req(order_id: &str, case_id: &str) -> ReissueOrderWaybillsRequest {
    ReissueOrderWaybillsRequest {
        idempotency_key: key(),
        actor: system(),
        order_id: order_id.into(),
        case_id: case_id.into(),
        reason: "refund-only saga compensated".into(),
    }
}

#[tokio::test]
async fn order_waybills_are_voided_for_a_case_and_reissued_by_its_compensation() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut events = env.event_probe("logistics.shipment.*").await;
    let (order_id, case_id) = (uuid(), uuid());
    let created = create_for(&mut c, forward_req(&order_id, "SF5001")).await;
    let printed = create_for(&mut c, forward_req(&order_id, "SF5002")).await;
    c.print_waybill(PrintWaybillRequest {
        idempotency_key: key(),
        actor: merchant(),
        shipment_id: printed.shipment_id.clone(),
    })
    .await
    .unwrap();
    // another order's waybill and a return leg of this order are not touched
    let other = create(&mut c, "SF", "SF5003").await;
    let mut ret = forward_req(&order_id, "SF5004");
    ret.direction = Direction::Return as i32;
    ret.case_id = uuid();
    let ret = create_for(&mut c, ret).await;

    // only staff and the system
    let mut req = void_order_req(&order_id, &case_id);
    req.actor = merchant();
    assert_denied(
        &c.void_order_waybills(req).await.unwrap_err(),
        "actor_not_allowed",
    );

    let req = void_order_req(&order_id, &case_id);
    let voided = c
        .void_order_waybills(req.clone())
        .await
        .unwrap()
        .into_inner()
        .shipments;
    let ids: Vec<_> = voided.iter().map(|s| s.shipment_id.clone()).collect();
    assert_eq!(
        ids,
        [created.shipment_id.clone(), printed.shipment_id.clone()]
    );
    for s in &voided {
        assert_eq!(s.waybill_state, WaybillState::Voided as i32);
        assert_eq!(s.state, ShipmentState::Voided as i32);
        assert_eq!(s.voided_for_case_id, case_id);
        assert_eq!(s.void_reason, "refund-only before shipment");
        let ev = events
            .wait_for(WAIT, |e| {
                e.routing_key == "logistics.shipment.waybill_voided"
                    && e.event.entity_id == s.shipment_id
            })
            .await
            .expect("voided event");
        assert_eq!(ev.event.keys["voided_for_case_id"], case_id);
    }
    assert_eq!(get(&mut c, &other.shipment_id).await, other);
    assert_eq!(get(&mut c, &ret.shipment_id).await, ret);
    // a replay returns the first answer; a new call finds nothing left to void
    let replay = c.void_order_waybills(req).await.unwrap().into_inner();
    assert_eq!(replay.shipments, voided);
    let again = c
        .void_order_waybills(void_order_req(&order_id, &case_id))
        .await
        .unwrap()
        .into_inner();
    assert!(again.shipments.is_empty());
    // an order without any waybill yet is not an error
    let none = c
        .void_order_waybills(void_order_req(&uuid(), &case_id))
        .await
        .unwrap()
        .into_inner();
    assert!(none.shipments.is_empty());

    // compensation: nothing for another case, the copies for this one
    let nothing = c
        .reissue_order_waybills(reissue_req(&order_id, &uuid()))
        .await
        .unwrap()
        .into_inner();
    assert!(nothing.shipments.is_empty());
    let reissued = c
        .reissue_order_waybills(reissue_req(&order_id, &case_id))
        .await
        .unwrap()
        .into_inner()
        .shipments;
    assert_eq!(reissued.len(), 2);
    for (new, old) in reissued.iter().zip([&created, &printed]) {
        assert_ne!(new.shipment_id, old.shipment_id);
        assert_eq!(new.reissued_from_shipment_id, old.shipment_id);
        assert_eq!(new.direction, Direction::Forward as i32);
        assert_eq!(
            (new.waybill_state, new.state),
            (WaybillState::Created as i32, ShipmentState::Created as i32)
        );
        assert_eq!(
            (
                &new.courier_code,
                &new.tracking_number,
                &new.order_id,
                &new.merchant_id
            ),
            (
                &old.courier_code,
                &old.tracking_number,
                &old.order_id,
                &old.merchant_id
            )
        );
        assert_eq!(
            (&new.destination, &new.shipping_fee),
            (&old.destination, &old.shipping_fee)
        );
        assert_eq!(new.created_by, system());
        events
            .wait_for(WAIT, |e| {
                e.routing_key == "logistics.shipment.created"
                    && e.event.entity_id == new.shipment_id
            })
            .await
            .expect("created event");
    }
    // the voided ones stay voided; a second compensation has nothing left to do
    assert_eq!(
        get(&mut c, &created.shipment_id).await.state,
        ShipmentState::Voided as i32
    );
    let twice = c
        .reissue_order_waybills(reissue_req(&order_id, &case_id))
        .await
        .unwrap()
        .into_inner();
    assert!(twice.shipments.is_empty());
    // the courier's scans by tracking number reach the live shipment
    let scanned = c
        .record_tracking_event(RecordTrackingEventRequest {
            idempotency_key: key(),
            actor: courier("SF"),
            tracking_number: "SF5001".into(),
            courier_code: "SF".into(),
            courier_event_id: "e-5001".into(),
            status: TrackingStatus::PickedUp as i32,
            occurred_at: ts(Utc::now()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(scanned.shipment_id, reissued[0].shipment_id);
    assert_eq!(scanned.state, ShipmentState::PickedUp as i32);
    // the live copy holds the number again
    let err = c
        .create_shipment(forward_req(&uuid(), "SF5001"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::AlreadyExists, "{err:?}");
}

#[tokio::test]
async fn order_waybills_are_not_voided_once_a_parcel_is_picked_up() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let order_id = uuid();
    let waiting = create_for(&mut c, forward_req(&order_id, "SF6001")).await;
    let moving = create_for(&mut c, forward_req(&order_id, "SF6002")).await;
    scan(
        &mut c,
        &moving,
        "p-6002",
        TrackingStatus::PickedUp,
        Utc::now(),
    )
    .await;

    let err = c
        .void_order_waybills(void_order_req(&order_id, &uuid()))
        .await
        .unwrap_err();
    assert_rule(&err, "shipment_already_picked_up");
    // all or nothing
    assert_eq!(get(&mut c, &waiting.shipment_id).await, waiting);

    // bad input names the field
    let mut req = void_order_req(&order_id, "");
    let err = c.void_order_waybills(req.clone()).await.unwrap_err();
    assert_invalid(&err, "case_id");
    req.case_id = uuid();
    req.reason = " ".into();
    assert_invalid(&c.void_order_waybills(req).await.unwrap_err(), "reason");
    let mut req = reissue_req("nope", &uuid());
    assert_invalid(
        &c.reissue_order_waybills(req.clone()).await.unwrap_err(),
        "order_id",
    );
    req.order_id = order_id.clone();
    req.actor = courier("SF");
    assert_denied(
        &c.reissue_order_waybills(req).await.unwrap_err(),
        "actor_not_allowed",
    );
}

#[tokio::test]
async fn an_interception_can_name_the_order_instead_of_the_shipment() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let s = create(&mut c, "SF", "SF7001").await;
    scan(
        &mut c,
        &s,
        "o1",
        TrackingStatus::InTransit,
        Utc::now() - ChronoDuration::hours(1),
    )
    .await;
    let by_order = |order_id: &str, shipment_id: &str| RequestInterceptionRequest {
        idempotency_key: key(),
        actor: system(),
        shipment_id: shipment_id.into(),
        order_id: order_id.into(),
        reason: "refund-only case".into(),
        case_id: uuid(),
    };
    for (order, shipment) in [("", ""), (s.order_id.as_str(), s.shipment_id.as_str())] {
        let err = c
            .request_interception(by_order(order, shipment))
            .await
            .unwrap_err();
        assert_invalid(&err, "shipment_id");
    }
    let err = c
        .request_interception(by_order("nope", ""))
        .await
        .unwrap_err();
    assert_invalid(&err, "order_id");
    let err = c
        .request_interception(by_order(&uuid(), ""))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let i = c
        .request_interception(by_order(&s.order_id, ""))
        .await
        .unwrap()
        .into_inner()
        .interception
        .unwrap();
    assert_eq!(i.shipment_id, s.shipment_id);
    assert_eq!(i.state, InterceptionState::Requested as i32);
}

fn warehouse() -> Option<Address> {
    Some(Address {
        contact_name: "Warehouse 3".into(),
        phone: "02100000000".into(),
        line1: "9 Logistics Park".into(),
        city: "Suzhou".into(),
        region: "Jiangsu".into(),
        country_code: "CN".into(),
        ..Default::default()
    })
}

/// A forward shipment of `order_id` from the warehouse to the buyer, picked up and signed.
async fn shipped(c: &mut Client, order_id: &str, tracking: &str) -> Shipment {
    let mut req = forward_req(order_id, tracking);
    req.origin = warehouse();
    let s = create_for(c, req).await;
    let t0 = Utc::now() - ChronoDuration::hours(30);
    scan(
        c,
        &s,
        &format!("{tracking}-1"),
        TrackingStatus::PickedUp,
        t0,
    )
    .await;
    let signed = scan(
        c,
        &s,
        &format!("{tracking}-2"),
        TrackingStatus::Signed,
        t0 + ChronoDuration::hours(20),
    )
    .await;
    signed.shipment.unwrap()
}

fn follow_up_req(order_id: &str, direction: Direction) -> CreateFollowUpShipmentRequest {
    let repair_leg = matches!(
        direction,
        Direction::ToRepairCenter | Direction::FromRepairCenter
    );
    CreateFollowUpShipmentRequest {
        idempotency_key: key(),
        actor: system(),
        order_id: order_id.into(),
        direction: direction as i32,
        case_id: if repair_leg { String::new() } else { uuid() },
        repair_id: if repair_leg { uuid() } else { String::new() },
        fee_payer: FeePayer::Merchant as i32,
        shipping_fee: None,
    }
}

async fn follow_up(c: &mut Client, req: CreateFollowUpShipmentRequest) -> Shipment {
    c.create_follow_up_shipment(req)
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap()
}

#[tokio::test]
async fn follow_up_shipments_are_addressed_from_the_forward_shipment() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(
        env.start(
            "logistics",
            &[("AFTERSALES__SERVICE__REPAIR_DEPOT__CITY", "Hangzhou")],
        )
        .await,
    );
    let mut events = env.event_probe("logistics.shipment.*").await;
    let order_id = uuid();
    let forward = shipped(&mut c, &order_id, "SF8001").await;
    assert_eq!(forward.state, ShipmentState::Signed as i32);
    // a newer forward waybill of the order, voided, is not the one that shipped
    let mut other = forward_req(&order_id, "YT8002");
    other.courier_code = "YTO".into();
    other.destination.as_mut().unwrap().city = "Beijing".into();
    let other = create_for(&mut c, other).await;
    c.void_waybill(VoidWaybillRequest {
        idempotency_key: key(),
        actor: merchant(),
        shipment_id: other.shipment_id.clone(),
        reason: "duplicate label".into(),
    })
    .await
    .unwrap();

    // RETURN: buyer -> warehouse, a return label on the forward courier
    let mut req = follow_up_req(&order_id, Direction::Return);
    req.fee_payer = FeePayer::Buyer as i32;
    req.shipping_fee = cny(800);
    let ret = follow_up(&mut c, req.clone()).await;
    assert_eq!(ret.direction, Direction::Return as i32);
    assert_eq!(ret.origin, forward.destination);
    assert_eq!(ret.destination, forward.origin);
    assert_eq!(
        (&ret.courier_code, &ret.order_id, &ret.merchant_id),
        (
            &forward.courier_code,
            &forward.order_id,
            &forward.merchant_id
        )
    );
    assert_eq!((&ret.case_id, ret.repair_id.as_str()), (&req.case_id, ""));
    assert_eq!(
        (ret.fee_payer, &ret.shipping_fee),
        (FeePayer::Buyer as i32, &cny(800))
    );
    assert_eq!(
        (ret.waybill_state, ret.state),
        (WaybillState::Created as i32, ShipmentState::Created as i32)
    );
    assert!(ret.tracking_number.starts_with("AS"), "{ret:?}");
    assert_eq!(ret.tracking_number.len(), 18);
    assert_eq!(ret.created_by, system());
    assert_eq!(get(&mut c, &ret.shipment_id).await, ret);
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "logistics.shipment.created" && e.event.entity_id == ret.shipment_id
        })
        .await
        .expect("created event");
    assert_eq!(ev.event.keys["tracking_number"], ret.tracking_number);
    assert_eq!(ev.event.keys["courier_code"], "SF");
    assert_eq!(ev.event.keys["direction"], "return");
    assert_eq!(ev.event.keys["case_id"], req.case_id);

    // REPLACEMENT: warehouse -> buyer, its own tracking number
    let replacement = follow_up(&mut c, follow_up_req(&order_id, Direction::Replacement)).await;
    assert_eq!(replacement.direction, Direction::Replacement as i32);
    assert_eq!(replacement.origin, forward.origin);
    assert_eq!(replacement.destination, forward.destination);
    assert_eq!(replacement.courier_code, "SF");
    assert_eq!(replacement.shipping_fee, None);
    assert!(replacement.tracking_number.starts_with("AS"));
    assert_ne!(replacement.tracking_number, ret.tracking_number);
    events
        .wait_for(WAIT, |e| {
            e.routing_key == "logistics.shipment.created"
                && e.event.entity_id == replacement.shipment_id
        })
        .await
        .expect("created event");

    // repair legs: buyer -> configured depot, and back
    let to = follow_up(&mut c, follow_up_req(&order_id, Direction::ToRepairCenter)).await;
    let depot = to.destination.clone().unwrap();
    assert_eq!(to.origin, forward.destination);
    assert_eq!(depot.city, "Hangzhou");
    assert_eq!(depot.contact_name, "Aftersales Repair Depot");
    assert!(to.case_id.is_empty() && !to.repair_id.is_empty());
    let back = follow_up(
        &mut c,
        follow_up_req(&order_id, Direction::FromRepairCenter),
    )
    .await;
    assert_eq!(
        (back.origin.as_ref(), &back.destination),
        (Some(&depot), &forward.destination)
    );

    // a courier scans the return label like any other parcel
    let scanned = c
        .record_tracking_event(RecordTrackingEventRequest {
            idempotency_key: key(),
            actor: courier("SF"),
            tracking_number: ret.tracking_number.clone(),
            courier_code: "SF".into(),
            courier_event_id: "ret-1".into(),
            status: TrackingStatus::PickedUp as i32,
            occurred_at: ts(Utc::now()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    assert_eq!(scanned.shipment_id, ret.shipment_id);
    let returns = c
        .list_shipments(ListShipmentsRequest {
            actor: system(),
            order_id: order_id.clone(),
            direction: Direction::Return as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(returns.len(), 1);
}

#[tokio::test]
async fn follow_up_shipments_are_refused_without_a_forward_shipment_or_to_a_buyer() {
    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let order_id = uuid();
    shipped(&mut c, &order_id, "SF9001").await;

    // an order that never shipped, or whose only waybill was voided
    let err = c
        .create_follow_up_shipment(follow_up_req(&uuid(), Direction::Return))
        .await
        .unwrap_err();
    assert_rule(&err, "no_forward_shipment");
    let voided_order = uuid();
    let voided = create_for(&mut c, forward_req(&voided_order, "SF9002")).await;
    c.void_waybill(VoidWaybillRequest {
        idempotency_key: key(),
        actor: merchant(),
        shipment_id: voided.shipment_id.clone(),
        reason: String::new(),
    })
    .await
    .unwrap();
    let err = c
        .create_follow_up_shipment(follow_up_req(&voided_order, Direction::Reship))
        .await
        .unwrap_err();
    assert_rule(&err, "no_forward_shipment");

    // a forward shipment without an origin: no warehouse to return to, a reship from nowhere known
    let no_origin = uuid();
    let forward = create_for(&mut c, forward_req(&no_origin, "SF9003")).await;
    assert!(forward.origin.is_none());
    let err = c
        .create_follow_up_shipment(follow_up_req(&no_origin, Direction::Return))
        .await
        .unwrap_err();
    assert_rule(&err, "forward_origin_unknown");
    let reship = follow_up(&mut c, follow_up_req(&no_origin, Direction::Reship)).await;
    assert_eq!(
        (reship.origin.as_ref(), &reship.destination),
        (None, &forward.destination)
    );

    // bad input names the field
    type Edit = fn(&mut CreateFollowUpShipmentRequest);
    let cases: &[(Edit, &str)] = &[
        (|r| r.direction = Direction::Forward as i32, "direction"),
        (|r| r.direction = 0, "direction"),
        (|r| r.direction = 42, "direction"),
        (|r| r.case_id = String::new(), "case_id"),
        (|r| r.case_id = "nope".into(), "case_id"),
        (
            |r| {
                r.direction = Direction::ToRepairCenter as i32;
                r.case_id = String::new();
            },
            "repair_id",
        ),
        (|r| r.order_id = "not-a-uuid".into(), "order_id"),
        (|r| r.fee_payer = 0, "fee_payer"),
        (|r| r.shipping_fee = cny(-1), "shipping_fee.minor_units"),
        (|r| r.idempotency_key = String::new(), "idempotency_key"),
        (|r| r.idempotency_key = "k".repeat(129), "idempotency_key"),
        (|r| r.actor = None, "actor"),
    ];
    for (edit, field) in cases {
        let mut req = follow_up_req(&order_id, Direction::Return);
        edit(&mut req);
        let err = c.create_follow_up_shipment(req).await.unwrap_err();
        assert_invalid(&err, field);
    }

    // only staff and the system (the orchestrator)
    for kind in [ActorKind::Buyer, ActorKind::Merchant, ActorKind::Partner] {
        let mut req = follow_up_req(&order_id, Direction::Return);
        req.actor = actor(kind, "SF");
        let err = c.create_follow_up_shipment(req).await.unwrap_err();
        assert_denied(&err, "actor_not_allowed");
    }
    let mut by_staff = follow_up_req(&order_id, Direction::Return);
    by_staff.actor = actor(ActorKind::Staff, "cs-1");
    let first = follow_up(&mut c, by_staff.clone()).await;

    // a replay returns the first shipment; the key with another request is refused
    let again = follow_up(&mut c, by_staff.clone()).await;
    assert_eq!(again.shipment_id, first.shipment_id);
    assert_eq!(again, first);
    let mut other = by_staff;
    other.direction = Direction::Reship as i32;
    let err = c.create_follow_up_shipment(other).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");
    let returns = c
        .list_shipments(ListShipmentsRequest {
            actor: system(),
            order_id: order_id.clone(),
            direction: Direction::Return as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(returns.len(), 1, "one shipment for the replayed request");
}

#[tokio::test]
async fn follow_up_shipment_runs_as_a_saga_command() {
    use aftersales_proto::messaging::v1::ReplyOutcome;
    use aftersales_test_support::command_envelope;

    let env = TestEnv::new();
    let mut c = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut probe = env.reply_probe().await;
    let order_id = uuid();
    let forward = shipped(&mut c, &order_id, "SF9101").await;

    // what the orchestrator sends for a return label
    let saga = uuid();
    let mut req = follow_up_req(&order_id, Direction::Return);
    req.idempotency_key = format!("{saga}:return_label:1");
    let cmd = command_envelope(&saga, &req.idempotency_key, &req);
    let r = env.send_command(&mut probe, "logistics", &cmd, WAIT).await;
    assert_eq!(r.outcome(), ReplyOutcome::Success, "{:?}", r.reply);
    let ret = r
        .result::<CreateFollowUpShipmentResponse>()
        .shipment
        .unwrap();
    assert_eq!(
        (&ret.origin, &ret.destination),
        (&forward.destination, &forward.origin)
    );
    // the same key over gRPC replays the command's shipment
    assert_eq!(follow_up(&mut c, req).await, ret);

    // a rule is a business failure naming it
    let mut never_shipped = follow_up_req(&uuid(), Direction::Reship);
    never_shipped.idempotency_key = format!("{saga}:reship:1");
    let cmd = command_envelope(&saga, &never_shipped.idempotency_key, &never_shipped);
    let r = env.send_command(&mut probe, "logistics", &cmd, WAIT).await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "no_forward_shipment")
    );
}
