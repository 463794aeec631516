//! Typed ids: a `CaseId` can never be passed where an `OrderId` is expected.

use aftersales_kernel::{FieldViolation, parse_uuid};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub Uuid);

        impl $name {
            /// Parses a required UUID field, naming `field` on error.
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
                parse_uuid(field, value).map(Self)
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
    /// An after-sale case (售后单).
    CaseId
);
typed_id!(
    /// One item of a case: an order line and the quantity it covers.
    CaseItemId
);
typed_id!(
    /// An order, owned by the orders service (replicated here).
    OrderId
);
typed_id!(
    /// A line of an order.
    OrderLineId
);
typed_id!(
    /// The buyer who placed the order.
    BuyerId
);
typed_id!(
    /// The merchant who sold the order.
    MerchantId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_the_field() {
        let cases = [("", "is required"), ("x", "must be a uuid")];
        for (input, want) in cases {
            let err = CaseId::parse("case_id", input).unwrap_err();
            assert_eq!(err.field, "case_id");
            assert_eq!(err.description, want);
        }
        let id = Uuid::new_v4();
        assert_eq!(
            OrderId::parse("order_id", &id.to_string())
                .unwrap()
                .as_uuid(),
            id
        );
        assert_eq!(OrderId(id).to_string(), id.to_string());
    }
}
