//! Saga commands, black-box: command envelopes published on the run's commands exchange to the
//! real service binaries, replies read from a queue bound to the run's replies exchange with
//! routing key `orchestrator` (as the orchestrator's own queue is). Covers success, exactly one
//! effect and one reply per message, replays by idempotency key, business and unknown-command
//! failures, and the refund-only-before-shipment steps with their compensations.

use crate::common::*;
use aftersales_proto::common::v1::{Actor, ActorKind};
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::messaging::v1::{Envelope, ReplyOutcome};
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use aftersales_test_support::{ReceivedReply, ReplyProbe, TestEnv, command_envelope};
use chrono::{Duration as ChronoDuration, Utc};
use logistics::logistics_service_client::LogisticsServiceClient;
use orders::orders_service_client::OrdersServiceClient;
use payments::payments_service_client::PaymentsServiceClient;
use std::time::Duration;
use tonic::transport::Channel;

const WAIT: Duration = Duration::from_secs(15);

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn orchestrator() -> Option<Actor> {
    actor(ActorKind::System, "orchestrator")
}

/// A command type no service handles, sent last: once its reply is in, every earlier command
/// on the same queue has been handled (one consumer handles its queue in order).
fn marker(saga: &str) -> Envelope {
    let mut m = command_envelope(saga, &key(), &payments::GetRefundRequest::default());
    m.r#type = "aftersales.nothing.v1.Marker".into();
    m
}

/// Every reply up to and including the marker's.
async fn replies_until(probe: &mut ReplyProbe, marker: &Envelope) -> Vec<ReceivedReply> {
    let mut out = Vec::new();
    loop {
        let r = probe
            .wait_for(WAIT, |_| true)
            .await
            .expect("replies up to the marker");
        let done = r.envelope.causation_id == marker.message_id;
        out.push(r);
        if done {
            return out;
        }
    }
}

// -------------------------------------------------------------------------------------------------
// payments

async fn record_payment(c: &mut PaymentsServiceClient<Channel>, minor: i64) -> payments::Payment {
    c.record_payment(payments::RecordPaymentRequest {
        idempotency_key: key(),
        order_id: uuid(),
        merchant_id: uuid(),
        buyer_id: uuid(),
        method: payments::PaymentMethod::Card as i32,
        captured: cny(minor),
        provider_reference: "psp-capture-1".into(),
        captured_at: ts(Utc::now() - ChronoDuration::hours(1)),
        actor: orchestrator(),
    })
    .await
    .unwrap()
    .into_inner()
    .payment
    .unwrap()
}

fn refund_by_order(order_id: &str, key: &str, minor: i64) -> payments::CreateRefundRequest {
    payments::CreateRefundRequest {
        idempotency_key: key.into(),
        order_id: order_id.into(),
        case_id: uuid(),
        amount: cny(minor),
        reason: "refund-only before shipment".into(),
        actor: orchestrator(),
        ..Default::default()
    }
}

async fn payment(c: &mut PaymentsServiceClient<Channel>, id: &str) -> payments::Payment {
    c.get_payment(payments::GetPaymentRequest {
        payment_id: id.into(),
    })
    .await
    .unwrap()
    .into_inner()
    .payment
    .unwrap()
}

async fn refunds(
    c: &mut PaymentsServiceClient<Channel>,
    payment_id: &str,
) -> Vec<payments::Refund> {
    c.list_refunds(payments::ListRefundsRequest {
        payment_id: payment_id.into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_inner()
    .items
}

fn minor(m: &Option<aftersales_proto::common::v1::Money>) -> i64 {
    m.as_ref().map_or(0, |m| m.minor_units)
}

#[tokio::test]
async fn a_command_runs_the_rpc_and_replies_success_with_the_response() {
    let env = TestEnv::new();
    let mut c = PaymentsServiceClient::new(env.start("payments", &[]).await);
    let mut probe = env.reply_probe().await;
    let p = record_payment(&mut c, 10_000).await;

    let saga = uuid();
    let k = format!("{saga}:refund:1");
    let cmd = command_envelope(&saga, &k, &refund_by_order(&p.order_id, &k, 4_000));
    let r = env.send_command(&mut probe, "payments", &cmd, WAIT).await;

    assert_eq!(r.outcome(), ReplyOutcome::Success, "{:?}", r.reply);
    let refund = r.result::<payments::CreateRefundResponse>().refund.unwrap();
    assert_eq!(refund.payment_id, p.payment_id);
    assert_eq!(minor(&refund.amount), 4_000);
    assert_eq!(refund.status, payments::RefundStatus::Succeeded as i32);
    // the reply answers the command
    assert_eq!(r.routing_key, "orchestrator");
    assert_eq!(r.envelope.r#type, "aftersales.messaging.v1.Reply");
    assert_eq!(r.envelope.correlation_id, saga);
    assert_eq!(r.envelope.causation_id, cmd.message_id);
    assert_eq!(r.envelope.idempotency_key, k);
    assert_eq!(r.envelope.source, "payments");
    assert!(r.reply.reason.is_empty());
    // the effect is the RPC's: visible over gRPC
    let listed = refunds(&mut c, &p.payment_id).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].refund_id, refund.refund_id);
    assert_eq!(minor(&payment(&mut c, &p.payment_id).await.refunded), 4_000);
}

#[tokio::test]
async fn the_same_message_twice_has_one_effect_and_one_reply() {
    let env = TestEnv::new();
    let mut c = PaymentsServiceClient::new(env.start("payments", &[]).await);
    let mut probe = env.reply_probe().await;
    let p = record_payment(&mut c, 10_000).await;

    let saga = uuid();
    let k = format!("{saga}:refund:1");
    let cmd = command_envelope(&saga, &k, &refund_by_order(&p.order_id, &k, 3_000));
    env.publish_command("payments", &cmd).await;
    env.publish_command("payments", &cmd).await; // redelivery: same message id
    let end = marker(&saga);
    env.publish_command("payments", &end).await;

    let replies = replies_until(&mut probe, &end).await;
    let to_cmd: Vec<_> = replies
        .iter()
        .filter(|r| r.envelope.causation_id == cmd.message_id)
        .collect();
    assert_eq!(to_cmd.len(), 1, "one reply: {replies:?}");
    assert_eq!(to_cmd[0].outcome(), ReplyOutcome::Success);
    assert_eq!(refunds(&mut c, &p.payment_id).await.len(), 1, "one refund");
    let after = payment(&mut c, &p.payment_id).await;
    assert_eq!(minor(&after.refunded), 3_000);
    assert_eq!(minor(&after.refundable), 7_000);
}

#[tokio::test]
async fn the_same_key_in_a_new_message_returns_the_first_result_and_no_second_effect() {
    let env = TestEnv::new();
    let mut c = PaymentsServiceClient::new(env.start("payments", &[]).await);
    let mut probe = env.reply_probe().await;
    let p = record_payment(&mut c, 10_000).await;

    let saga = uuid();
    let k = format!("{saga}:refund:1");
    let request = refund_by_order(&p.order_id, &k, 6_000);
    let first = env
        .send_command(
            &mut probe,
            "payments",
            &command_envelope(&saga, &k, &request),
            WAIT,
        )
        .await;
    // e.g. the orchestrator resent the command after a crash: a new message, the same key
    let second_cmd = command_envelope(&saga, &k, &request);
    let second = env
        .send_command(&mut probe, "payments", &second_cmd, WAIT)
        .await;
    assert_eq!(second.envelope.causation_id, second_cmd.message_id);
    assert_eq!(first.reply, second.reply, "the stored first result");
    let refund = second
        .result::<payments::CreateRefundResponse>()
        .refund
        .unwrap();

    // the same key also replays over gRPC
    let again = c.create_refund(request.clone()).await.unwrap().into_inner();
    assert_eq!(again.refund.unwrap().refund_id, refund.refund_id);

    assert_eq!(refunds(&mut c, &p.payment_id).await.len(), 1, "one refund");
    let after = payment(&mut c, &p.payment_id).await;
    assert_eq!(minor(&after.refunded), 6_000, "payments total exact");
    assert_eq!(minor(&after.refundable), 4_000);

    // the same key with a different request is refused, as over gRPC
    let other = refund_by_order(&p.order_id, &k, 1_000);
    let r = env
        .send_command(
            &mut probe,
            "payments",
            &command_envelope(&saga, &k, &other),
            WAIT,
        )
        .await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "idempotency_key_reused")
    );
}

#[tokio::test]
async fn rule_breaking_and_bad_commands_are_business_failures_naming_the_reason() {
    let env = TestEnv::new();
    let mut c = PaymentsServiceClient::new(env.start("payments", &[]).await);
    let mut probe = env.reply_probe().await;
    let p = record_payment(&mut c, 10_000).await;
    let saga = uuid();

    let mut send = async |request: payments::CreateRefundRequest| {
        let cmd = command_envelope(&saga, &request.idempotency_key, &request);
        env.send_command(&mut probe, "payments", &cmd, WAIT).await
    };
    // a business rule: more than was captured
    let r = send(refund_by_order(&p.order_id, &key(), 10_001)).await;
    assert_eq!(r.outcome(), ReplyOutcome::BusinessFailure);
    assert_eq!(r.reply.reason, "refund_exceeds_captured");
    assert!(
        r.reply.message.starts_with("refund_exceeds_captured"),
        "{:?}",
        r.reply
    );
    assert!(r.reply.result.is_empty() && r.reply.result_type.is_empty());
    // bad input names its first field
    let mut both = refund_by_order(&p.order_id, &key(), 100);
    both.payment_id = p.payment_id.clone();
    let r = send(both).await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "invalid_argument:payment_id")
    );
    let mut no_amount = refund_by_order(&p.order_id, &key(), 100);
    no_amount.amount = None;
    let r = send(no_amount).await;
    assert_eq!(r.reply.reason, "invalid_argument:amount");
    // an unknown order
    let r = send(refund_by_order(&uuid(), &key(), 100)).await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "not_found")
    );
    // none of them moved money
    assert!(refunds(&mut c, &p.payment_id).await.is_empty());
}

#[tokio::test]
async fn unknown_and_malformed_commands_are_refused_without_effect() {
    let env = TestEnv::new();
    let mut c = PaymentsServiceClient::new(env.start("payments", &[]).await);
    let mut probe = env.reply_probe().await;
    let p = record_payment(&mut c, 10_000).await;
    let saga = uuid();

    // a read is not a command
    let read = command_envelope(
        &saga,
        &key(),
        &payments::GetPaymentRequest {
            payment_id: p.payment_id.clone(),
        },
    );
    let r = env.send_command(&mut probe, "payments", &read, WAIT).await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "unknown_command")
    );
    // another service's request type
    let foreign = command_envelope(&saga, &key(), &orders::StartFulfilmentRequest::default());
    let r = env
        .send_command(&mut probe, "payments", &foreign, WAIT)
        .await;
    assert_eq!(r.reply.reason, "unknown_command");
    // a payload that is not the request its type names
    let mut malformed = command_envelope(&saga, &key(), &refund_by_order(&p.order_id, &key(), 100));
    malformed.payload = vec![0xff, 0xff, 0xff, 0xff];
    let r = env
        .send_command(&mut probe, "payments", &malformed, WAIT)
        .await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "malformed_command")
    );
    assert!(refunds(&mut c, &p.payment_id).await.is_empty());
}

// -------------------------------------------------------------------------------------------------
// refund-only before shipment, step by step over commands (what the saga sends)

fn address() -> Option<orders::Address> {
    Some(orders::Address {
        recipient_name: "Li Lei".into(),
        phone: "+86 138 0000 0000".into(),
        country_code: "CN".into(),
        city: "Hangzhou".into(),
        street: "1 Wensan Road".into(),
        ..Default::default()
    })
}

/// An order of two lines (2 x 70.00 and 1 x 50.00, shipping 10.00: paid 200.00), accepted by the
/// merchant and with its waybill printed.
async fn order_awaiting_shipment(c: &mut OrdersServiceClient<Channel>) -> orders::Order {
    let paid_at = Utc::now() - ChronoDuration::hours(3);
    let order = c
        .create_order(orders::CreateOrderRequest {
            idempotency_key: key(),
            actor: orchestrator(),
            buyer_id: uuid(),
            merchant_id: uuid(),
            shipping_address: address(),
            payment_reference: "pay-1".into(),
            paid_amount: cny(20_000),
            shipping_fee: cny(1_000),
            lines: vec![
                orders::NewOrderLine {
                    sku: "SKU-1".into(),
                    category: "apparel".into(),
                    quantity: 2,
                    unit_price: cny(7_000),
                    discount_share: None,
                },
                orders::NewOrderLine {
                    sku: "SKU-2".into(),
                    category: "apparel".into(),
                    quantity: 1,
                    unit_price: cny(5_000),
                    discount_share: None,
                },
            ],
            paid_at: ts(paid_at),
            promised_eta: ts(paid_at + ChronoDuration::days(3)),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    c.start_fulfilment(orders::StartFulfilmentRequest {
        idempotency_key: key(),
        actor: orchestrator(),
        order_id: order.order_id.clone(),
    })
    .await
    .unwrap();
    c.mark_waybill_printed(orders::MarkWaybillPrintedRequest {
        idempotency_key: key(),
        actor: orchestrator(),
        order_id: order.order_id.clone(),
        printed_at: ts(Utc::now() - ChronoDuration::hours(1)),
        shipment_id: String::new(),
    })
    .await
    .unwrap()
    .into_inner()
    .order
    .unwrap()
}

async fn forward_shipment(
    c: &mut LogisticsServiceClient<Channel>,
    order: &orders::Order,
    tracking: &str,
) -> logistics::Shipment {
    let s = c
        .create_shipment(logistics::CreateShipmentRequest {
            idempotency_key: key(),
            actor: orchestrator(),
            direction: logistics::Direction::Forward as i32,
            courier_code: "SF".into(),
            tracking_number: tracking.into(),
            order_id: order.order_id.clone(),
            merchant_id: order.merchant_id.clone(),
            destination: Some(logistics::Address {
                contact_name: "Li Lei".into(),
                phone: "13800000000".into(),
                line1: "1 Wensan Road".into(),
                city: "Hangzhou".into(),
                country_code: "CN".into(),
                ..Default::default()
            }),
            fee_payer: logistics::FeePayer::Merchant as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .shipment
        .unwrap();
    c.print_waybill(logistics::PrintWaybillRequest {
        idempotency_key: key(),
        actor: orchestrator(),
        shipment_id: s.shipment_id.clone(),
    })
    .await
    .unwrap()
    .into_inner()
    .shipment
    .unwrap()
}

fn line_progress(
    order: &orders::Order,
    line: usize,
    kind: orders::LineProgressKind,
    key: &str,
    case_id: &str,
) -> orders::RecordLineProgressRequest {
    orders::RecordLineProgressRequest {
        idempotency_key: key.into(),
        actor: orchestrator(),
        order_id: order.order_id.clone(),
        line_id: order.lines[line].line_id.clone(),
        kind: kind as i32,
        quantity: order.lines[line].quantity,
        case_id: case_id.into(),
    }
}

#[tokio::test]
async fn refund_only_before_shipment_runs_and_compensates_over_commands() {
    let env = TestEnv::new();
    let mut o = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut l = LogisticsServiceClient::new(env.start("logistics", &[]).await);
    let mut p = PaymentsServiceClient::new(env.start("payments", &[]).await);
    let mut probe = env.reply_probe().await;
    let order = order_awaiting_shipment(&mut o).await;
    let shipment = forward_shipment(&mut l, &order, "SF77001").await;
    let paid = p
        .record_payment(payments::RecordPaymentRequest {
            idempotency_key: key(),
            order_id: order.order_id.clone(),
            merchant_id: order.merchant_id.clone(),
            buyer_id: order.buyer_id.clone(),
            method: payments::PaymentMethod::Wallet as i32,
            captured: cny(20_000),
            provider_reference: "psp-1".into(),
            captured_at: ts(Utc::now() - ChronoDuration::hours(3)),
            actor: orchestrator(),
        })
        .await
        .unwrap()
        .into_inner()
        .payment
        .unwrap();
    let (saga, case_id) = (uuid(), uuid());
    let step_key = |step: &str| format!("{saga}:{step}:1");

    // 1. void the waybill
    let k = step_key("void_waybill");
    let void = logistics::VoidOrderWaybillsRequest {
        idempotency_key: k.clone(),
        actor: orchestrator(),
        order_id: order.order_id.clone(),
        case_id: case_id.clone(),
        reason: "refund-only before shipment".into(),
    };
    let r = env
        .send_command(
            &mut probe,
            "logistics",
            &command_envelope(&saga, &k, &void),
            WAIT,
        )
        .await;
    let voided = r.result::<logistics::VoidOrderWaybillsResponse>().shipments;
    assert_eq!(voided.len(), 1);
    assert_eq!(voided[0].shipment_id, shipment.shipment_id);
    assert_eq!(
        voided[0].waybill_state,
        logistics::WaybillState::Voided as i32
    );
    assert_eq!(voided[0].voided_for_case_id, case_id);

    // 2. cancel every line (the order moves to CANCELED with the last one)
    let mut canceled = None;
    for line in 0..order.lines.len() {
        let k = step_key(&format!("cancel_line.{line}"));
        let req = line_progress(
            &order,
            line,
            orders::LineProgressKind::Canceled,
            &k,
            &case_id,
        );
        let r = env
            .send_command(
                &mut probe,
                "orders",
                &command_envelope(&saga, &k, &req),
                WAIT,
            )
            .await;
        canceled = r.result::<orders::RecordLineProgressResponse>().order;
    }
    let canceled = canceled.unwrap();
    assert_eq!(canceled.state, orders::OrderState::Canceled as i32);
    assert!(
        canceled
            .lines
            .iter()
            .all(|l| { l.counters.as_ref().map(|c| c.canceled) == Some(l.quantity) })
    );

    // a business failure on the way (here: a unit canceled twice) names the rule
    let k = step_key("cancel_line.0.again");
    let again = line_progress(&order, 0, orders::LineProgressKind::Canceled, &k, &case_id);
    let r = env
        .send_command(
            &mut probe,
            "orders",
            &command_envelope(&saga, &k, &again),
            WAIT,
        )
        .await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "order_canceled")
    );

    // compensations in reverse order: restore the lines, reissue the waybill
    let mut restored = None;
    for line in (0..order.lines.len()).rev() {
        let k = step_key(&format!("cancel_line.{line}.undo"));
        let req = orders::ReverseLineProgressRequest {
            idempotency_key: k.clone(),
            actor: orchestrator(),
            order_id: order.order_id.clone(),
            line_id: order.lines[line].line_id.clone(),
            kind: orders::LineProgressKind::Canceled as i32,
            quantity: order.lines[line].quantity,
            case_id: case_id.clone(),
            reason: "refund-only saga compensated".into(),
        };
        let r = env
            .send_command(
                &mut probe,
                "orders",
                &command_envelope(&saga, &k, &req),
                WAIT,
            )
            .await;
        restored = r.result::<orders::ReverseLineProgressResponse>().order;
    }
    let restored = restored.unwrap();
    assert_eq!(restored.state, orders::OrderState::AwaitingShipment as i32);
    assert_eq!(restored.canceled_at, None);

    let k = step_key("void_waybill.undo");
    let reissue = logistics::ReissueOrderWaybillsRequest {
        idempotency_key: k.clone(),
        actor: orchestrator(),
        order_id: order.order_id.clone(),
        case_id: case_id.clone(),
        reason: "refund-only saga compensated".into(),
    };
    let r = env
        .send_command(
            &mut probe,
            "logistics",
            &command_envelope(&saga, &k, &reissue),
            WAIT,
        )
        .await;
    let reissued = r
        .result::<logistics::ReissueOrderWaybillsResponse>()
        .shipments;
    assert_eq!(reissued.len(), 1);
    assert_eq!(reissued[0].reissued_from_shipment_id, shipment.shipment_id);
    assert_eq!(reissued[0].tracking_number, "SF77001");
    assert_eq!(
        reissued[0].waybill_state,
        logistics::WaybillState::Created as i32
    );

    // a second run of the same saga now goes all the way: void, cancel, refund by order
    let saga2 = uuid();
    let k = format!("{saga2}:void_waybill:1");
    let void2 = logistics::VoidOrderWaybillsRequest {
        idempotency_key: k.clone(),
        ..void.clone()
    };
    let r = env
        .send_command(
            &mut probe,
            "logistics",
            &command_envelope(&saga2, &k, &void2),
            WAIT,
        )
        .await;
    let voided = r.result::<logistics::VoidOrderWaybillsResponse>().shipments;
    assert_eq!(voided.len(), 1);
    assert_eq!(voided[0].shipment_id, reissued[0].shipment_id);
    for line in 0..order.lines.len() {
        let k = format!("{saga2}:cancel_line.{line}:1");
        let req = line_progress(
            &order,
            line,
            orders::LineProgressKind::Canceled,
            &k,
            &case_id,
        );
        let r = env
            .send_command(
                &mut probe,
                "orders",
                &command_envelope(&saga2, &k, &req),
                WAIT,
            )
            .await;
        assert_eq!(r.outcome(), ReplyOutcome::Success, "{:?}", r.reply);
    }
    let k = format!("{saga2}:refund:1");
    let refund = refund_by_order(&order.order_id, &k, 20_000);
    let r = env
        .send_command(
            &mut probe,
            "payments",
            &command_envelope(&saga2, &k, &refund),
            WAIT,
        )
        .await;
    let refund = r.result::<payments::CreateRefundResponse>().refund.unwrap();
    assert_eq!(refund.payment_id, paid.payment_id);
    assert_eq!(refund.status, payments::RefundStatus::Succeeded as i32);
    let after = payment(&mut p, &paid.payment_id).await;
    assert_eq!(minor(&after.refunded), 20_000);
    assert_eq!(minor(&after.refundable), 0);
}

#[tokio::test]
async fn the_order_read_is_a_saga_command_with_the_apis_answers_and_errors() {
    let env = TestEnv::new();
    let mut o = OrdersServiceClient::new(env.start("orders", &[]).await);
    let mut probe = env.reply_probe().await;
    let order = order_awaiting_shipment(&mut o).await;
    let saga = uuid();
    let mut send = async |request: orders::GetOrderRequest| {
        let cmd = command_envelope(&saga, &key(), &request);
        env.send_command(&mut probe, "orders", &cmd, WAIT).await
    };
    // what the complaint saga reads: the order as the API returns it
    let r = send(orders::GetOrderRequest {
        order_id: order.order_id.clone(),
        actor: orchestrator(),
    })
    .await;
    assert_eq!(r.outcome(), ReplyOutcome::Success, "{:?}", r.reply);
    let read = r.result::<orders::GetOrderResponse>().order.unwrap();
    assert_eq!(read.order_id, order.order_id);
    assert_eq!(read.version, order.version);
    assert_eq!(
        (&read.buyer_id, &read.merchant_id),
        (&order.buyer_id, &order.merchant_id)
    );
    assert_eq!(minor(&read.paid_amount), 20_000);
    // the API's errors, as business failures naming them
    let r = send(orders::GetOrderRequest {
        order_id: "not-a-uuid".into(),
        actor: orchestrator(),
    })
    .await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "invalid_argument:order_id")
    );
    let r = send(orders::GetOrderRequest {
        order_id: order.order_id.clone(),
        actor: None,
    })
    .await;
    assert_eq!(r.reply.reason, "invalid_argument:actor");
    let r = send(orders::GetOrderRequest {
        order_id: uuid(),
        actor: orchestrator(),
    })
    .await;
    assert_eq!(
        (r.outcome(), r.reply.reason.as_str()),
        (ReplyOutcome::BusinessFailure, "not_found")
    );
    // scoped as over gRPC: another buyer does not see it
    let r = send(orders::GetOrderRequest {
        order_id: order.order_id.clone(),
        actor: actor(ActorKind::Buyer, &uuid()),
    })
    .await;
    assert_eq!(r.reply.reason, "not_found");
    // a read changes nothing
    let after = o
        .get_order(orders::GetOrderRequest {
            order_id: order.order_id.clone(),
            actor: orchestrator(),
        })
        .await
        .unwrap()
        .into_inner()
        .order
        .unwrap();
    assert_eq!(after.version, order.version);
}
