//! Domain event builders: one `aftersales.messaging.v1.DomainEvent` per state change, routed
//! `payments.<entity>.<event>`, carrying the entity's protobuf message as the snapshot and its
//! business keys (ids other services correlate on).

use crate::api::convert;
use crate::domain::{
    Charge, ChargeFor, Chargeback, Compensation, Event, Payment, Refund, StoreCreditEntry,
};
use aftersales_platform::messages::domain_event;
use aftersales_platform::outbox::OutboundMessage;

const SOURCE: &str = "payments";

pub fn payment_event(p: &Payment, ev: Event) -> OutboundMessage {
    domain_event(
        SOURCE,
        ev.routing_key(),
        p.id,
        "CAPTURED",
        &[
            ("payment_id", p.id.to_string()),
            ("order_id", p.order_id.to_string()),
            ("merchant_id", p.merchant_id.to_string()),
            ("buyer_id", p.buyer_id.to_string()),
        ],
        &convert::payment_to_pb(p),
    )
}

pub fn refund_event(r: &Refund, ev: Event) -> OutboundMessage {
    let mut keys = vec![
        ("refund_id", r.id.to_string()),
        ("payment_id", r.payment_id.to_string()),
        ("order_id", r.order_id.to_string()),
        ("merchant_id", r.merchant_id.to_string()),
        ("buyer_id", r.buyer_id.to_string()),
    ];
    if let Some(c) = r.case_id {
        keys.push(("case_id", c.to_string()));
    }
    domain_event(
        SOURCE,
        ev.routing_key(),
        r.id,
        r.status.as_str(),
        &keys,
        &convert::refund_to_pb(r),
    )
}

pub fn chargeback_event(c: &Chargeback, ev: Event) -> OutboundMessage {
    domain_event(
        SOURCE,
        ev.routing_key(),
        c.id,
        c.status.as_str(),
        &[
            ("chargeback_id", c.id.to_string()),
            ("payment_id", c.payment_id.to_string()),
        ],
        &convert::chargeback_to_pb(c),
    )
}

pub fn compensation_event(c: &Compensation, ev: Event) -> OutboundMessage {
    let mut keys = vec![
        ("compensation_id", c.id.to_string()),
        ("buyer_id", c.buyer_id.to_string()),
        ("merchant_id", c.merchant_id.to_string()),
    ];
    let optional = [
        ("order_id", c.order_id.map(|v| v.to_string())),
        ("case_id", c.case_id.map(|v| v.to_string())),
        ("complaint_id", c.complaint_id.map(|v| v.to_string())),
        ("repair_id", c.repair_id.map(|v| v.to_string())),
    ];
    keys.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
    domain_event(
        SOURCE,
        ev.routing_key(),
        c.id,
        c.status.as_str(),
        &keys,
        &convert::compensation_to_pb(c),
    )
}

pub fn entry_event(e: &StoreCreditEntry, ev: Event) -> OutboundMessage {
    let mut keys = vec![
        ("entry_id", e.id.to_string()),
        ("buyer_id", e.buyer_id.to_string()),
        ("source", e.source.as_str().to_owned()),
    ];
    if let Some(s) = e.source_id {
        keys.push(("source_id", s.to_string()));
    }
    domain_event(
        SOURCE,
        ev.routing_key(),
        e.id,
        e.kind.as_str(),
        &keys,
        &convert::entry_to_pb(e),
    )
}

pub fn charge_event(c: &Charge, ev: Event) -> OutboundMessage {
    let mut keys = vec![
        ("charge_id", c.id.to_string()),
        ("buyer_id", c.buyer_id.to_string()),
        ("merchant_id", c.merchant_id.to_string()),
    ];
    match c.charge_for {
        ChargeFor::Repair(id) => keys.push(("repair_id", id.to_string())),
        ChargeFor::Case(id) => keys.push(("case_id", id.to_string())),
    }
    if let Some(q) = c.quote_id {
        keys.push(("quote_id", q.to_string()));
    }
    domain_event(
        SOURCE,
        ev.routing_key(),
        c.id,
        c.status.as_str(),
        &keys,
        &convert::charge_to_pb(c),
    )
}
