//! Domain events: one message per state change, written to the outbox in the transaction of the
//! change. Routing key = [`Event::routing_key`]; the snapshot is the entity's protobuf message.

use crate::api::convert;
use crate::domain::{Complaint, DsrRating, Event, FollowUp, ServiceRating, WorkOrder};
use aftersales_platform::{messages::domain_event, outbox::OutboundMessage};

const SOURCE: &str = "complaints";

fn push_opt(keys: &mut Vec<(&'static str, String)>, name: &'static str, v: Option<impl ToString>) {
    if let Some(v) = v {
        keys.push((name, v.to_string()));
    }
}

pub fn complaint_event(c: &Complaint, event: Event) -> OutboundMessage {
    let mut keys = vec![
        ("complaint_id", c.id.to_string()),
        ("customer_id", c.customer_id.to_string()),
        ("severity", c.severity.as_str().to_owned()),
    ];
    push_opt(&mut keys, "order_id", c.order_id);
    push_opt(&mut keys, "case_id", c.case_id);
    push_opt(&mut keys, "repair_id", c.repair_id);
    push_opt(&mut keys, "merchant_id", c.merchant_id);
    domain_event(
        SOURCE,
        event.routing_key(),
        c.id,
        c.status.as_str(),
        &keys,
        &convert::complaint_to_pb(c),
    )
}

pub fn work_order_event(w: &WorkOrder, event: Event) -> OutboundMessage {
    let mut keys = vec![
        ("work_order_id", w.id.to_string()),
        ("department", w.department.as_str().to_owned()),
        ("sla_status", w.sla_status.as_str().to_owned()),
    ];
    push_opt(&mut keys, "complaint_id", w.complaint_id);
    push_opt(&mut keys, "merchant_id", w.merchant_id);
    push_opt(&mut keys, "order_id", w.order_id);
    push_opt(&mut keys, "case_id", w.case_id);
    push_opt(&mut keys, "repair_id", w.repair_id);
    push_opt(&mut keys, "shipment_id", w.shipment_id);
    domain_event(
        SOURCE,
        event.routing_key(),
        w.id,
        w.status.as_str(),
        &keys,
        &convert::work_order_to_pb(w),
    )
}

pub fn follow_up_event(f: &FollowUp, event: Event) -> OutboundMessage {
    domain_event(
        SOURCE,
        event.routing_key(),
        f.id,
        f.outcome.as_str(),
        &[
            ("follow_up_id", f.id.to_string()),
            ("complaint_id", f.complaint_id.to_string()),
        ],
        &convert::follow_up_to_pb(f),
    )
}

pub fn service_rating_event(r: &ServiceRating, event: Event) -> OutboundMessage {
    domain_event(
        SOURCE,
        event.routing_key(),
        r.id,
        "",
        &[
            ("rating_id", r.id.to_string()),
            ("subject_type", r.subject.kind.as_str().to_owned()),
            ("subject_id", r.subject.id.to_string()),
            ("customer_id", r.customer_id.to_string()),
        ],
        &convert::service_rating_to_pb(r),
    )
}

pub fn dsr_rating_event(r: &DsrRating, event: Event) -> OutboundMessage {
    domain_event(
        SOURCE,
        event.routing_key(),
        r.id,
        "",
        &[
            ("rating_id", r.id.to_string()),
            ("order_id", r.order_id.to_string()),
            ("buyer_id", r.buyer_id.to_string()),
            ("merchant_id", r.merchant_id.to_string()),
            ("month", r.month.to_string()),
            ("counted", r.counted.to_string()),
        ],
        &convert::dsr_rating_to_pb(r),
    )
}
