//! Domain events: every state change names the event phase 2 publishes on `aftersales.events`.

/// An event to publish; the routing key is `payments.<entity>.<event>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    PaymentRecorded,
    RefundRequested,
    RefundSucceeded,
    RefundFailed,
    RefundManualReview,
    ChargebackOpened,
    ChargebackClosed,
    CompensationRequested,
    CompensationIssued,
    CompensationFailed,
    CompensationManualReview,
    StoreCreditCredited,
    StoreCreditDebited,
    ChargeRequested,
    ChargeSucceeded,
    ChargeFailed,
    ChargeVoided,
}

impl Event {
    pub const ALL: [Event; 17] = [
        Self::PaymentRecorded,
        Self::RefundRequested,
        Self::RefundSucceeded,
        Self::RefundFailed,
        Self::RefundManualReview,
        Self::ChargebackOpened,
        Self::ChargebackClosed,
        Self::CompensationRequested,
        Self::CompensationIssued,
        Self::CompensationFailed,
        Self::CompensationManualReview,
        Self::StoreCreditCredited,
        Self::StoreCreditDebited,
        Self::ChargeRequested,
        Self::ChargeSucceeded,
        Self::ChargeFailed,
        Self::ChargeVoided,
    ];

    /// Routing key on the `aftersales.events` topic exchange (also `DomainEvent.name`).
    pub fn routing_key(&self) -> &'static str {
        match self {
            Self::PaymentRecorded => "payments.payment.recorded",
            Self::RefundRequested => "payments.refund.requested",
            Self::RefundSucceeded => "payments.refund.succeeded",
            Self::RefundFailed => "payments.refund.failed",
            Self::RefundManualReview => "payments.refund.manual_review",
            Self::ChargebackOpened => "payments.chargeback.opened",
            Self::ChargebackClosed => "payments.chargeback.closed",
            Self::CompensationRequested => "payments.compensation.requested",
            Self::CompensationIssued => "payments.compensation.issued",
            Self::CompensationFailed => "payments.compensation.failed",
            Self::CompensationManualReview => "payments.compensation.manual_review",
            Self::StoreCreditCredited => "payments.store_credit.credited",
            Self::StoreCreditDebited => "payments.store_credit.debited",
            Self::ChargeRequested => "payments.charge.requested",
            Self::ChargeSucceeded => "payments.charge.succeeded",
            Self::ChargeFailed => "payments.charge.failed",
            Self::ChargeVoided => "payments.charge.voided",
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
        for k in keys {
            let parts: Vec<_> = k.split('.').collect();
            assert_eq!(parts.len(), 3, "{k}");
            assert_eq!(parts[0], "payments");
            assert!(
                k.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{k}"
            );
        }
    }
}
