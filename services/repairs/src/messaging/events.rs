//! Domain events: `repairs.repair_order.<event>` with the `RepairOrder` snapshot and
//! `repairs.repair_center.<event>` with the `RepairCenter` snapshot.

use crate::api::convert;
use crate::domain::{Event, RepairCenter, RepairOrder};
use aftersales_platform::messages::domain_event;
use aftersales_platform::outbox::OutboundMessage;

/// Source of every event this service publishes.
pub const SOURCE: &str = "repairs";

/// The event of a repair order change, keyed by the business ids the orchestrator waits on.
pub fn repair_order_event(o: &RepairOrder, event: Event) -> OutboundMessage {
    let mut keys = vec![
        ("repair_order_id", o.id.to_string()),
        ("order_id", o.order_id.to_string()),
        ("line_id", o.line_id.to_string()),
        ("buyer_id", o.buyer_id.to_string()),
        ("merchant_id", o.merchant_id.to_string()),
        ("serial_number", o.serial_number.clone()),
        ("in_warranty", o.in_warranty().to_string()),
    ];
    if let Some(c) = o.repair_center_id {
        keys.push(("repair_center_id", c.to_string()));
    }
    if let Some(q) = &o.quote {
        keys.push(("quote_amount_minor", q.amount.minor().to_string()));
        keys.push(("quote_currency", q.amount.currency().to_string()));
        if let Some(c) = q.charge_id {
            keys.push(("charge_id", c.to_string()));
        }
    }
    if let Some(c) = o.charge_to_void() {
        keys.push(("charge_to_void", c.to_string()));
    }
    if let Some(r) = o.resolution {
        keys.push(("resolution", r.as_str().to_owned()));
    }
    if let Some(c) = o.converted_case_id {
        keys.push(("case_id", c.to_string()));
    }
    domain_event(
        SOURCE,
        event.routing_key(),
        o.id,
        o.state.as_str(),
        &keys,
        &convert::repair_order_to_pb(o),
    )
}

/// The event of a repair center change.
pub fn repair_center_event(c: &RepairCenter, event: Event) -> OutboundMessage {
    let keys = [
        ("repair_center_id", c.id.to_string()),
        ("code", c.code.clone()),
    ];
    domain_event(
        SOURCE,
        event.routing_key(),
        c.id,
        c.state.as_str(),
        &keys,
        &convert::repair_center_to_pb(c),
    )
}
