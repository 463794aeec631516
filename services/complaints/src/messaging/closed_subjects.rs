//! Consumer of the case events of returns and the repair order events of repairs: records each
//! case or repair that reaches a final state in `closed_subjects`, so that a service rating of it
//! can check `subject_not_closed` without reading another service's tables.
//!
//! The handler runs in the consumer's inbox transaction, so a redelivered event has no second
//! effect; recording is idempotent anyway (the first final state wins).

use crate::Config;
use crate::domain::RatingSubjectType;
use crate::storage::repo::{self, ClosedSubject};
use aftersales_platform::{
    AppError, AppResult, Runtime, Tx,
    amqp::Exchange,
    consumer::{self, ConsumerSpec, Handler},
    edge,
};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope};
use futures::future::BoxFuture;
use prost::{Message as _, Name as _};
use std::sync::Arc;

/// Queue name (without prefix), also the inbox consumer name.
pub const QUEUE: &str = "complaints.closed-subjects";

/// Routing-key prefixes of the events this consumer reads, with the subject kind they carry.
/// Repairs publishes its repair orders as `repairs.repair_order.*`; `repairs.repair.*` is
/// accepted too.
const SOURCES: &[(&str, RatingSubjectType)] = &[
    ("returns.case.", RatingSubjectType::Case),
    ("repairs.repair_order.", RatingSubjectType::Repair),
    ("repairs.repair.", RatingSubjectType::Repair),
];

pub fn spec() -> ConsumerSpec {
    ConsumerSpec {
        queue: QUEUE.into(),
        bindings: vec![
            (Exchange::Events, "returns.case.#".into()),
            (Exchange::Events, "repairs.repair.#".into()),
            (Exchange::Events, "repairs.repair_order.#".into()),
        ],
    }
}

/// Starts the consumer (competing consumers across replicas).
pub fn spawn(rt: &Runtime<Config>) {
    let handler: Handler = Arc::new(handle);
    consumer::spawn(
        rt.broker.clone(),
        rt.store.clone(),
        spec(),
        handler,
        rt.shutdown.clone(),
    );
}

fn handle(tx: &Tx, envelope: Envelope) -> BoxFuture<'_, AppResult<()>> {
    Box::pin(async move {
        let Some(subject) = closed_subject(&envelope)? else {
            return Ok(());
        };
        tracing::info!(
            subject_type = subject.kind.as_str(),
            subject_id = %subject.id,
            state = %subject.state,
            "closed subject recorded"
        );
        repo::record_closed_subject(tx.conn(), &subject).await
    })
}

/// The closed subject an envelope reports, or `None` when it reports nothing final.
/// A payload that is not a domain event is refused (dead-lettered).
pub fn closed_subject(envelope: &Envelope) -> AppResult<Option<ClosedSubject>> {
    if envelope.r#type != DomainEvent::full_name() {
        return Ok(None);
    }
    let event = DomainEvent::decode(envelope.payload.as_slice())
        .map_err(|_| AppError::field("payload", "is not a domain event"))?;
    let Some(kind) = SOURCES
        .iter()
        .find(|(prefix, _)| event.name.starts_with(prefix))
        .map(|(_, kind)| *kind)
    else {
        return Ok(None);
    };
    if !kind.is_closed_state(&event.state) {
        return Ok(None);
    }
    let Ok(id) = uuid::Uuid::parse_str(&event.entity_id) else {
        tracing::warn!(name = %event.name, entity_id = %event.entity_id, "event entity id is not a uuid, ignored");
        return Ok(None);
    };
    let customer_id = event
        .keys
        .get("buyer_id")
        .or_else(|| event.keys.get("customer_id"))
        .and_then(|v| uuid::Uuid::parse_str(v).ok());
    let closed_at = edge::optional_timestamp("occurred_at", envelope.occurred_at.as_ref())
        .ok()
        .flatten()
        .unwrap_or_else(chrono::Utc::now);
    Ok(Some(ClosedSubject {
        kind,
        id,
        state: event.state,
        customer_id,
        closed_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftersales_proto::common::v1::Money;

    fn envelope(name: &str, state: &str, id: &str) -> Envelope {
        let msg = aftersales_platform::messages::domain_event(
            "returns",
            name,
            id,
            state,
            &[("buyer_id", uuid::Uuid::nil().to_string())],
            &Money::default(),
        );
        msg.envelope
    }

    #[test]
    fn records_only_final_states_of_known_subjects() {
        let id = uuid::Uuid::new_v4().to_string();
        let cases: &[(&str, &str, Option<RatingSubjectType>)] = &[
            (
                "returns.case.completed",
                "COMPLETED",
                Some(RatingSubjectType::Case),
            ),
            (
                "returns.case.withdrawn",
                "WITHDRAWN",
                Some(RatingSubjectType::Case),
            ),
            ("returns.case.approved", "APPROVED", None),
            (
                "repairs.repair_order.completed",
                "COMPLETED",
                Some(RatingSubjectType::Repair),
            ),
            (
                "repairs.repair.canceled",
                "CANCELED",
                Some(RatingSubjectType::Repair),
            ),
            ("repairs.repair_center.suspended", "COMPLETED", None),
            ("orders.order.completed", "COMPLETED", None),
        ];
        for (name, state, want) in cases {
            let got = closed_subject(&envelope(name, state, &id)).unwrap();
            assert_eq!(got.as_ref().map(|s| s.kind), *want, "{name}");
            if let Some(s) = got {
                assert_eq!(s.id.to_string(), id);
                assert_eq!(s.customer_id, Some(uuid::Uuid::nil()));
            }
        }
        assert_eq!(
            closed_subject(&envelope("returns.case.completed", "COMPLETED", "nope")).unwrap(),
            None
        );
        let mut bad = envelope("returns.case.completed", "COMPLETED", &id);
        bad.payload = vec![0xff, 0xff];
        assert!(closed_subject(&bad).is_err());
    }
}
