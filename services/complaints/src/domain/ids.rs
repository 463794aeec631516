//! Typed ids: newtypes over [`Uuid`] so that a work order id can never be passed as a complaint id.

use aftersales_kernel::{FieldViolation, parse_uuid};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::{NoContext, Timestamp, Uuid};

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (v7) id stamped with `now`, so ids sort by creation time.
            pub fn generate(now: DateTime<Utc>) -> Self {
                let secs = u64::try_from(now.timestamp()).unwrap_or(0);
                Self(Uuid::new_v7(Timestamp::from_unix(NoContext, secs, now.timestamp_subsec_nanos())))
            }

            /// Parses a required id field, naming the field when it is missing or malformed.
            pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
                parse_uuid(field, value).map(Self)
            }

            /// Parses an optional id field: empty means `None`.
            pub fn parse_optional(field: &str, value: &str) -> Result<Option<Self>, FieldViolation> {
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

        impl From<Uuid> for $name {
            fn from(value: Uuid) -> Self {
                Self(value)
            }
        }
    };
}

typed_id!(
    /// A complaint.
    ComplaintId
);
typed_id!(
    /// A work order sent to a department.
    WorkOrderId
);
typed_id!(
    /// One logged transfer of a work order.
    TransferId
);
typed_id!(
    /// A follow-up visit of a complaint.
    FollowUpId
);
typed_id!(
    /// A service rating.
    ServiceRatingId
);
typed_id!(
    /// A DSR store rating.
    DsrRatingId
);
typed_id!(
    /// A buyer (the customer who complains or rates).
    CustomerId
);
typed_id!(
    /// A merchant.
    MerchantId
);
typed_id!(
    /// An order (owned by the orders service).
    OrderId
);
typed_id!(
    /// An after-sale case (owned by the returns service).
    CaseId
);
typed_id!(
    /// A repair order (owned by the repairs service).
    RepairId
);
typed_id!(
    /// A shipment (owned by the logistics service).
    ShipmentId
);

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parse_names_the_field() {
        let cases: &[(&str, bool)] = &[
            ("", false),
            ("nope", false),
            ("6f1e0c7e-8f0a-4c53-9d61-3b1f1c2d4e5f", true),
        ];
        for (raw, ok) in cases {
            let got = ComplaintId::parse("complaint_id", raw);
            assert_eq!(got.is_ok(), *ok, "{raw}");
            if let Err(v) = got {
                assert_eq!(v.field, "complaint_id");
            }
        }
    }

    #[test]
    fn parse_optional_accepts_empty() {
        assert_eq!(OrderId::parse_optional("order_id", ""), Ok(None));
        assert_eq!(
            OrderId::parse_optional("order_id", "x").unwrap_err().field,
            "order_id"
        );
        let id = Uuid::new_v4();
        assert_eq!(
            OrderId::parse_optional("order_id", &id.to_string()),
            Ok(Some(OrderId(id)))
        );
    }

    #[test]
    fn generated_ids_sort_by_time() {
        let t1 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 1).unwrap();
        assert!(WorkOrderId::generate(t1) < WorkOrderId::generate(t2));
    }
}
