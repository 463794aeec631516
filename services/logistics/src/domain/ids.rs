//! Typed ids: a shipment id can never be passed where an interception id is expected.

use aftersales_kernel::{DomainError, parse_uuid};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh, time-ordered id (UUID v7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a required uuid field, naming `field` on error.
            pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
                Ok(Self(parse_uuid(field, value)?))
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

typed_id!(
    /// Id of a shipment (owned by logistics).
    ShipmentId
);
typed_id!(
    /// Id of a recorded tracking event (owned by logistics).
    TrackingEventId
);
typed_id!(
    /// Id of an interception (owned by logistics).
    InterceptionId
);
typed_id!(
    /// Id of a tracking number correction audit record (owned by logistics).
    CorrectionId
);
typed_id!(
    /// Id of an order (owned by the orders service).
    OrderId
);
typed_id!(
    /// Id of an after-sale case (owned by the returns service).
    CaseId
);
typed_id!(
    /// Id of a repair order (owned by the repairs service).
    RepairId
);
typed_id!(
    /// Id of a merchant.
    MerchantId
);

/// Parses an optional uuid field: empty means absent.
pub fn parse_optional<T: From<Uuid>>(field: &str, value: &str) -> Result<Option<T>, DomainError> {
    if value.is_empty() {
        return Ok(None);
    }
    Ok(Some(T::from(parse_uuid(field, value)?)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_required_and_optional_ids() {
        let raw = Uuid::new_v4();
        assert_eq!(
            ShipmentId::parse("shipment_id", &raw.to_string()),
            Ok(ShipmentId(raw))
        );
        assert_eq!(
            ShipmentId::parse("shipment_id", ""),
            Err(DomainError::field("shipment_id", "is required"))
        );
        assert_eq!(
            OrderId::parse("order_id", "x"),
            Err(DomainError::field("order_id", "must be a uuid"))
        );
        assert_eq!(parse_optional::<CaseId>("case_id", ""), Ok(None));
        assert_eq!(
            parse_optional::<CaseId>("case_id", &raw.to_string()),
            Ok(Some(CaseId(raw)))
        );
        assert!(parse_optional::<CaseId>("case_id", "nope").is_err());
        assert_ne!(ShipmentId::generate(), ShipmentId::generate());
    }
}
