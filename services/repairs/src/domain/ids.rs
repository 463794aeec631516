//! Typed ids: a `RepairOrderId` can never be passed where an `OrderId` is expected.

use aftersales_kernel::{FieldViolation, parse_uuid};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$m:meta])* $name:ident),+ $(,)?) => {$(
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh time-ordered id (UUID v7).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Parses a required id field, naming the field when it is missing or malformed.
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
                parse_uuid(field, value).map(Self)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
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
    )+};
}

typed_id!(
    /// A repair order of this service.
    RepairOrderId,
    /// A repair center (partner) of this service; also the partner actor id.
    RepairCenterId,
    /// An order of the orders service.
    OrderId,
    /// An order line of the orders service.
    LineId,
    /// A buyer (user).
    BuyerId,
    /// A merchant.
    MerchantId,
    /// A shipment of the logistics service.
    ShipmentId,
    /// A charge of the payments service.
    ChargeId,
    /// An after-sale case of the returns service.
    CaseId,
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_names_the_field() {
        let id = Uuid::new_v4();
        assert_eq!(
            RepairOrderId::parse("repair_order_id", &id.to_string()),
            Ok(RepairOrderId(id))
        );
        let cases = [("", "is required"), ("nope", "must be a uuid")];
        for (raw, want) in cases {
            let err = OrderId::parse("order_id", raw).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.description.as_str()),
                ("order_id", want),
                "{raw}"
            );
        }
    }

    #[test]
    fn displays_as_the_uuid() {
        let id = Uuid::new_v4();
        assert_eq!(RepairCenterId(id).to_string(), id.to_string());
        assert_ne!(ChargeId::new(), ChargeId::new());
    }
}
