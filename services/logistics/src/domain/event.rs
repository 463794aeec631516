//! Domain events the logistics service publishes (routing key `logistics.<entity>.<event>`).
//! The snapshot is the `Shipment` for `logistics.shipment.*` and the `Interception` for
//! `logistics.interception.*`.

/// A domain event caused by a transition, to be written to the outbox with the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    ShipmentCreated,
    WaybillPrinted,
    WaybillUploaded,
    WaybillVoided,
    ShipmentPickedUp,
    ShipmentInTransit,
    ShipmentOutForDelivery,
    ShipmentSigned,
    ShipmentException,
    ShipmentReturnedToSender,
    /// No scan for the configured time: the delivery team gets a work order.
    ShipmentStuck,
    TrackingNumberCorrected,
    InterceptionRequested,
    InterceptionAccepted,
    InterceptionIntercepted,
    InterceptionReturnedToSender,
    InterceptionFailed,
}

impl Event {
    pub const ALL: [Event; 17] = [
        Self::ShipmentCreated,
        Self::WaybillPrinted,
        Self::WaybillUploaded,
        Self::WaybillVoided,
        Self::ShipmentPickedUp,
        Self::ShipmentInTransit,
        Self::ShipmentOutForDelivery,
        Self::ShipmentSigned,
        Self::ShipmentException,
        Self::ShipmentReturnedToSender,
        Self::ShipmentStuck,
        Self::TrackingNumberCorrected,
        Self::InterceptionRequested,
        Self::InterceptionAccepted,
        Self::InterceptionIntercepted,
        Self::InterceptionReturnedToSender,
        Self::InterceptionFailed,
    ];

    /// Routing key on the `aftersales.events` exchange.
    pub fn routing_key(&self) -> &'static str {
        match self {
            Self::ShipmentCreated => "logistics.shipment.created",
            Self::WaybillPrinted => "logistics.shipment.waybill_printed",
            Self::WaybillUploaded => "logistics.shipment.waybill_uploaded",
            Self::WaybillVoided => "logistics.shipment.waybill_voided",
            Self::ShipmentPickedUp => "logistics.shipment.picked_up",
            Self::ShipmentInTransit => "logistics.shipment.in_transit",
            Self::ShipmentOutForDelivery => "logistics.shipment.out_for_delivery",
            Self::ShipmentSigned => "logistics.shipment.signed",
            Self::ShipmentException => "logistics.shipment.exception",
            Self::ShipmentReturnedToSender => "logistics.shipment.returned_to_sender",
            Self::ShipmentStuck => "logistics.shipment.stuck",
            Self::TrackingNumberCorrected => "logistics.shipment.tracking_number_corrected",
            Self::InterceptionRequested => "logistics.interception.requested",
            Self::InterceptionAccepted => "logistics.interception.accepted",
            Self::InterceptionIntercepted => "logistics.interception.intercepted",
            Self::InterceptionReturnedToSender => "logistics.interception.returned_to_sender",
            Self::InterceptionFailed => "logistics.interception.failed",
        }
    }

    /// True when the snapshot is an `Interception`, false when it is a `Shipment`.
    pub fn is_interception(&self) -> bool {
        self.routing_key().starts_with("logistics.interception.")
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
            assert_eq!(parts[0], "logistics");
            assert!(matches!(parts[1], "shipment" | "interception"));
            assert!(parts[2].chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert_eq!(e.is_interception(), parts[1] == "interception");
        }
    }
}
