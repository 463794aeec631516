//! Domain events to publish after a successful transition, as `repairs.<entity>.<event>`.

use serde::{Deserialize, Serialize};

/// What happened; phase 2 publishes it as `aftersales.messaging.v1.DomainEvent` with
/// `name = routing_key()` and the entity message as snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Event {
    RepairRequested,
    RepairCenterAssigned,
    ItemSent,
    ReceiptAcknowledged,
    DiagnosisStarted,
    Diagnosed,
    QuoteSubmitted,
    QuoteSent,
    QuoteApproved,
    QuoteDeclined,
    QuoteExpired,
    QuotePaid,
    Repaired,
    Unrepairable,
    Converted,
    ConvertedCaseLinked,
    ShippedBack,
    Completed,
    WarrantyOverridden,
    Canceled,
    RepairCenterCreated,
    RepairCenterSuspended,
    RepairCenterReactivated,
}

impl Event {
    pub const ALL: &'static [Event] = &[
        Event::RepairRequested,
        Event::RepairCenterAssigned,
        Event::ItemSent,
        Event::ReceiptAcknowledged,
        Event::DiagnosisStarted,
        Event::Diagnosed,
        Event::QuoteSubmitted,
        Event::QuoteSent,
        Event::QuoteApproved,
        Event::QuoteDeclined,
        Event::QuoteExpired,
        Event::QuotePaid,
        Event::Repaired,
        Event::Unrepairable,
        Event::Converted,
        Event::ConvertedCaseLinked,
        Event::ShippedBack,
        Event::Completed,
        Event::WarrantyOverridden,
        Event::Canceled,
        Event::RepairCenterCreated,
        Event::RepairCenterSuspended,
        Event::RepairCenterReactivated,
    ];

    /// Routing key on the `aftersales.events` exchange, also the event name.
    pub fn routing_key(&self) -> &'static str {
        match self {
            Event::RepairRequested => "repairs.repair_order.requested",
            Event::RepairCenterAssigned => "repairs.repair_order.center_assigned",
            Event::ItemSent => "repairs.repair_order.item_sent",
            Event::ReceiptAcknowledged => "repairs.repair_order.receipt_acknowledged",
            Event::DiagnosisStarted => "repairs.repair_order.diagnosis_started",
            Event::Diagnosed => "repairs.repair_order.diagnosed",
            Event::QuoteSubmitted => "repairs.repair_order.quote_submitted",
            Event::QuoteSent => "repairs.repair_order.quote_sent",
            Event::QuoteApproved => "repairs.repair_order.quote_approved",
            Event::QuoteDeclined => "repairs.repair_order.quote_declined",
            Event::QuoteExpired => "repairs.repair_order.quote_expired",
            Event::QuotePaid => "repairs.repair_order.quote_paid",
            Event::Repaired => "repairs.repair_order.repaired",
            Event::Unrepairable => "repairs.repair_order.unrepairable",
            Event::Converted => "repairs.repair_order.converted",
            Event::ConvertedCaseLinked => "repairs.repair_order.converted_case_linked",
            Event::ShippedBack => "repairs.repair_order.shipped_back",
            Event::Completed => "repairs.repair_order.completed",
            Event::WarrantyOverridden => "repairs.repair_order.warranty_overridden",
            Event::Canceled => "repairs.repair_order.canceled",
            Event::RepairCenterCreated => "repairs.repair_center.created",
            Event::RepairCenterSuspended => "repairs.repair_center.suspended",
            Event::RepairCenterReactivated => "repairs.repair_center.reactivated",
        }
    }

    /// The entity the event is about: `repair_order` or `repair_center`.
    pub fn entity(&self) -> &'static str {
        match self {
            Event::RepairCenterCreated
            | Event::RepairCenterSuspended
            | Event::RepairCenterReactivated => "repair_center",
            _ => "repair_order",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn routing_keys_are_unique_and_well_formed() {
        let keys: HashSet<_> = Event::ALL.iter().map(Event::routing_key).collect();
        assert_eq!(keys.len(), Event::ALL.len());
        for e in Event::ALL {
            let parts: Vec<_> = e.routing_key().split('.').collect();
            assert_eq!(parts.len(), 3, "{e:?}");
            assert_eq!(parts[0], "repairs");
            assert_eq!(parts[1], e.entity(), "{e:?}");
            assert!(
                parts[2].chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{e:?}"
            );
        }
    }
}
