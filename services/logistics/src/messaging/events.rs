//! Domain events on `aftersales.events`, written to the outbox in the transaction of the change.
//!
//! Routing keys are `logistics.shipment.<event>` (snapshot: the `Shipment` after the change) and
//! `logistics.interception.<event>` (snapshot: the `Interception` after the change); see
//! [`Event::routing_key`]. Keys: `shipment_id`, `order_id`, `merchant_id`, `courier_code`,
//! `tracking_number`, `direction`, plus `case_id` / `repair_id` when set, `exception_kind` on
//! exceptions, `voided_for_case_id` / `reissued_from_shipment_id` when set, and `interception_id`
//! on interception events.

use crate::api::convert;
use crate::domain::{Event, Interception, Shipment};
use aftersales_platform::{AppError, AppResult, messages::domain_event, outbox::OutboundMessage};

/// Source of every event (`Envelope.source`).
pub const SOURCE: &str = "logistics";

fn shipment_keys(s: &Shipment) -> Vec<(&'static str, String)> {
    let mut keys = vec![
        ("shipment_id", s.id.to_string()),
        ("order_id", s.order_id.to_string()),
        ("merchant_id", s.merchant_id.to_string()),
        ("courier_code", s.courier_code.clone()),
        ("tracking_number", s.tracking_number.clone()),
        ("direction", s.direction.as_str().to_owned()),
    ];
    if let Some(c) = s.case_id {
        keys.push(("case_id", c.to_string()));
    }
    if let Some(r) = s.repair_id {
        keys.push(("repair_id", r.to_string()));
    }
    if let Some(k) = s.exception_kind {
        keys.push(("exception_kind", k.as_str().to_owned()));
    }
    if let Some(c) = s.voided_for_case {
        keys.push(("voided_for_case_id", c.to_string()));
    }
    if let Some(r) = s.reissued_from {
        keys.push(("reissued_from_shipment_id", r.to_string()));
    }
    keys
}

/// The message announcing a shipment event (the shipment after the change).
pub fn shipment_event(s: &Shipment, event: Event) -> AppResult<OutboundMessage> {
    if event.is_interception() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "{} needs an interception snapshot",
            event.routing_key()
        )));
    }
    Ok(domain_event(
        SOURCE,
        event.routing_key(),
        s.id,
        s.state.as_str(),
        &shipment_keys(s),
        &convert::shipment_to_pb(s),
    ))
}

/// The message announcing an interception event (the interception after the change).
pub fn interception_event(
    i: &Interception,
    s: &Shipment,
    event: Event,
) -> AppResult<OutboundMessage> {
    if !event.is_interception() {
        return Err(AppError::Internal(anyhow::anyhow!(
            "{} needs a shipment snapshot",
            event.routing_key()
        )));
    }
    let mut keys = shipment_keys(s);
    keys.retain(|(k, _)| *k != "case_id" && *k != "exception_kind");
    keys.push(("interception_id", i.id.to_string()));
    if let Some(c) = i.case_id.or(s.case_id) {
        keys.push(("case_id", c.to_string()));
    }
    Ok(domain_event(
        SOURCE,
        event.routing_key(),
        i.id,
        i.state.as_str(),
        &keys,
        &convert::interception_to_pb(i),
    ))
}
