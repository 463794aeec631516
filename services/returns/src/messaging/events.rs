//! Domain events of a case: one message per [`CaseEvent`] a transition returned, written to the
//! outbox in the transaction of the change. The snapshot is the `Case` after the change.

use crate::api::convert::case_to_pb;
use crate::domain::{Case, CaseEvent};
use aftersales_platform::{AppResult, Tx, messages::domain_event, outbox::OutboundMessage};

/// The outbound message of `event` on `case` (routing key = the event name).
pub fn case_event(case: &Case, event: CaseEvent) -> OutboundMessage {
    let mut keys = vec![
        ("case_id", case.id.to_string()),
        ("order_id", case.order_id.to_string()),
        ("buyer_id", case.buyer_id.to_string()),
        ("merchant_id", case.merchant_id.to_string()),
        ("case_type", case.case_type.as_str().to_owned()),
    ];
    if let Some(a) = &case.arbitration {
        keys.push(("arbitration_status", a.status.as_str().to_owned()));
    }
    domain_event(
        "returns",
        event.routing_key(),
        case.id,
        case.status.as_str(),
        &keys,
        &case_to_pb(case),
    )
}

/// Queues the events of one change in the outbox of `tx`.
pub async fn publish_case_events(tx: &Tx, case: &Case, events: &[CaseEvent]) -> AppResult<()> {
    for event in events {
        tx.publish(&case_event(case, *event)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftersales_proto::messaging::v1::DomainEvent;
    use prost::Message;

    #[test]
    fn event_names_and_keys() {
        use crate::domain::case::fixtures::case_on;
        use crate::domain::order::fixtures::order;
        use crate::domain::{CaseType, ReasonCode};
        let o = order();
        let case = case_on(
            &o,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            &[(o.lines[0].line_id, 1)],
        );
        let msg = case_event(&case, CaseEvent::Approved);
        assert_eq!(msg.routing_key, "returns.case.approved");
        let ev = DomainEvent::decode(msg.envelope.payload.as_slice()).unwrap();
        assert_eq!(ev.keys["case_id"], case.id.to_string());
        assert_eq!(ev.snapshot_type, "aftersales.returns.v1.Case");
        assert_eq!(ev.state, case.status.as_str());
    }
}
