//! Building envelopes for domain events, commands and replies.

use crate::{amqp::Exchange, outbox::OutboundMessage};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope};
use prost::{Message, Name};
use std::collections::{BTreeMap, HashMap};

/// A new envelope around `payload`, with a fresh message id and the current time.
pub fn envelope<M: Message + Name>(source: &str, payload: &M) -> Envelope {
    let now = chrono::Utc::now();
    Envelope {
        message_id: uuid::Uuid::now_v7().to_string(),
        r#type: M::full_name(),
        correlation_id: String::new(),
        causation_id: String::new(),
        idempotency_key: String::new(),
        attempt: 1,
        occurred_at: Some(prost_types::Timestamp {
            seconds: now.timestamp(),
            nanos: now.timestamp_subsec_nanos() as i32,
        }),
        source: source.to_owned(),
        payload: payload.encode_to_vec(),
    }
}

/// A domain event on `aftersales.events` with routing key `name` (`<service>.<entity>.<event>`),
/// carrying a snapshot of the entity after the change.
pub fn domain_event<S: Message + Name>(
    source: &str,
    name: &str,
    entity_id: impl ToString,
    state: &str,
    keys: &[(&str, String)],
    snapshot: &S,
) -> OutboundMessage {
    let event = DomainEvent {
        name: name.to_owned(),
        entity_id: entity_id.to_string(),
        keys: keys
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<HashMap<_, _>>(),
        state: state.to_owned(),
        snapshot: snapshot.encode_to_vec(),
        snapshot_type: S::full_name(),
    };
    OutboundMessage {
        exchange: Exchange::Events,
        routing_key: name.to_owned(),
        envelope: envelope(source, &event),
        headers: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftersales_proto::common::v1::Money;

    #[test]
    fn events_carry_type_names_and_keys() {
        let snap = Money {
            minor_units: 5,
            currency: "CNY".into(),
        };
        let msg = domain_event(
            "orders",
            "orders.order.created",
            "o-1",
            "PAID",
            &[("order_id", "o-1".into())],
            &snap,
        );
        assert_eq!(msg.routing_key, "orders.order.created");
        assert_eq!(msg.envelope.r#type, "aftersales.messaging.v1.DomainEvent");
        let ev = DomainEvent::decode(msg.envelope.payload.as_slice()).unwrap();
        assert_eq!(ev.snapshot_type, "aftersales.common.v1.Money");
        assert_eq!(ev.keys["order_id"], "o-1");
        assert!(uuid::Uuid::parse_str(&msg.envelope.message_id).is_ok());
    }
}
