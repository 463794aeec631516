//! Typed ids: each a newtype over a UUID so that an order id can never be passed as a line id.

use aftersales_kernel::{DomainError, parse_uuid};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a required UUID field, naming `field` when it is missing or malformed.
            pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
                Ok(Self(parse_uuid(field, value)?))
            }

            /// Parses an optional UUID field: empty means `None`.
            pub fn parse_optional(field: &str, value: &str) -> Result<Option<Self>, DomainError> {
                if value.is_empty() { Ok(None) } else { Self::parse(field, value).map(Some) }
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    )+};
}

typed_id!(
    /// Id of an order.
    OrderId,
    /// Id of one line of an order.
    OrderLineId,
    /// Id of the buyer (owned by the user system).
    BuyerId,
    /// Id of the merchant (owned by the merchant system).
    MerchantId,
    /// Id of a logistics shipment (owned by the logistics service).
    ShipmentId,
    /// Id of an after-sale case or repair order that moved a line counter (audit only).
    CaseId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_the_field() {
        let id = Uuid::from_u128(7);
        assert_eq!(OrderId::parse("order_id", &id.to_string()), Ok(OrderId(id)));
        for bad in ["", "nope", "123"] {
            let err = OrderId::parse("order_id", bad).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid(ref v) if v[0].field == "order_id"),
                "{bad}"
            );
        }
        assert_eq!(CaseId::parse_optional("case_id", ""), Ok(None));
        assert_eq!(
            CaseId::parse_optional("case_id", &id.to_string()),
            Ok(Some(CaseId(id)))
        );
        assert!(CaseId::parse_optional("case_id", "x").is_err());
        assert_ne!(OrderLineId::generate(), OrderLineId::generate());
        assert_eq!(BuyerId(id).to_string(), id.to_string());
    }
}
