//! Domain events on `aftersales.events`, written to the outbox in the transaction of the change.
//!
//! Routing keys are `orders.order.<event>` and `orders.line.<event>` ([`Event::routing_key`]).
//! The snapshot is the full `Order` message after the change (with `version`, lines, policy
//! snapshots and counters): the returns and repairs services build their order replicas only
//! from it. `orders.order.delivered_late` carries an `OrderDeliveredLate` instead.
//! Keys: `order_id`, `buyer_id`, `merchant_id`, `version`, plus `line_id`, `quantity`, `kind`
//! and `case_id` on line events, `overdue_seconds` on the late-delivery event.

use crate::api::convert;
use crate::domain::{CaseId, Event, Order};
use aftersales_platform::{AppResult, messages::domain_event, outbox::OutboundMessage};

/// Source of every event (`Envelope.source`).
pub const SOURCE: &str = "orders";

/// The event announcing `event` on `order` (the order after the change).
pub fn order_event(
    order: &Order,
    event: &Event,
    case_id: Option<CaseId>,
) -> AppResult<OutboundMessage> {
    let mut keys = vec![
        ("order_id", order.id.to_string()),
        ("buyer_id", order.buyer_id.to_string()),
        ("merchant_id", order.merchant_id.to_string()),
        ("version", order.version.to_string()),
    ];
    if let Some(line_id) = event.line_id() {
        keys.push(("line_id", line_id.to_string()));
    }
    match event {
        Event::AfterSaleReserved { quantity, .. } | Event::AfterSaleReleased { quantity, .. } => {
            keys.push(("quantity", quantity.to_string()));
            keys.push(("kind", "requested".to_owned()));
        }
        Event::LineProgressRecorded { kind, quantity, .. }
        | Event::LineProgressReversed { kind, quantity, .. } => {
            keys.push(("quantity", quantity.to_string()));
            keys.push(("kind", kind.as_str().to_owned()));
        }
        _ => {}
    }
    if let Some(c) = case_id {
        keys.push(("case_id", c.to_string()));
    }
    let name = event.routing_key();
    let state = order.state.as_str();
    if let Event::DeliveredLate { overdue } = event {
        keys.push(("overdue_seconds", overdue.num_seconds().to_string()));
        let snapshot = convert::delivered_late_to_pb(order, *overdue);
        return Ok(domain_event(
            SOURCE, name, order.id, state, &keys, &snapshot,
        ));
    }
    let snapshot = convert::order_to_pb(order)?;
    Ok(domain_event(
        SOURCE, name, order.id, state, &keys, &snapshot,
    ))
}
