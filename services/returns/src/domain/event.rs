//! Domain events: every transition returns the events to publish on `aftersales.events`.

use super::enums::text_enum;

text_enum!(
    /// A domain event of the returns service. The text form is the routing key
    /// `returns.<entity>.<event>`; the payload is the case snapshot after the change.
    CaseEvent {
        Created => "returns.case.created",
        Approved => "returns.case.approved",
        AutoApproved => "returns.case.auto_approved",
        Rejected => "returns.case.rejected",
        OfferMade => "returns.case.offer_made",
        OfferAccepted => "returns.case.offer_accepted",
        OfferDeclined => "returns.case.offer_declined",
        TypeChanged => "returns.case.type_changed",
        AmountOverridden => "returns.case.amount_overridden",
        Withdrawn => "returns.case.withdrawn",
        InterceptionUpdated => "returns.case.interception_updated",
        BuyerShipped => "returns.case.buyer_shipped",
        ItemReceived => "returns.case.item_received",
        Received => "returns.case.received",
        ItemInspected => "returns.case.item_inspected",
        Inspected => "returns.case.inspected",
        DispositionSet => "returns.case.disposition_set",
        Refunding => "returns.case.refunding",
        Refunded => "returns.case.refunded",
        ReplacementShipped => "returns.case.replacement_shipped",
        Completed => "returns.case.completed",
        Closed => "returns.case.closed",
        Escalated => "returns.arbitration.opened",
        MerchantEvidenceSubmitted => "returns.arbitration.evidence_submitted",
        EvidenceWindowClosed => "returns.arbitration.evidence_window_closed",
        Ruled => "returns.arbitration.ruled",
        Appealed => "returns.arbitration.appealed",
        EscalationWithdrawn => "returns.arbitration.withdrawn",
    }
);

impl CaseEvent {
    /// Routing key on the `aftersales.events` topic exchange.
    pub fn routing_key(&self) -> &'static str {
        self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routing_keys_are_well_formed_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for e in CaseEvent::ALL {
            let key = e.routing_key();
            let parts: Vec<_> = key.split('.').collect();
            assert_eq!(parts.len(), 3, "{key}");
            assert_eq!(parts[0], "returns");
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{key}"
            );
            assert!(seen.insert(key), "duplicate {key}");
            assert_eq!(CaseEvent::parse(key), Some(*e));
        }
    }
}
