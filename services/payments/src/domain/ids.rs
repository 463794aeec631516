//! Typed ids: newtypes over [`Uuid`] so that a refund id can never be passed as a payment id.

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
    /// A captured payment (one per order).
    PaymentId
);
typed_id!(
    /// A refund of a payment.
    RefundId
);
typed_id!(
    /// A chargeback (dispute) on a payment.
    ChargebackId
);
typed_id!(
    /// A compensation paid to a buyer.
    CompensationId
);
typed_id!(
    /// One entry of the store credit ledger.
    StoreCreditEntryId
);
typed_id!(
    /// A charge for an approved repair quote.
    ChargeId
);
typed_id!(
    /// An order (owned by the orders service).
    OrderId
);
typed_id!(
    /// A merchant.
    MerchantId
);
typed_id!(
    /// A buyer.
    BuyerId
);
typed_id!(
    /// An after-sale case (owned by the returns service).
    CaseId
);
typed_id!(
    /// A complaint (owned by the complaints service).
    ComplaintId
);
typed_id!(
    /// A repair order (owned by the repairs service).
    RepairId
);
typed_id!(
    /// A repair quote (owned by the repairs service).
    QuoteId
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
            let got = PaymentId::parse("payment_id", raw);
            assert_eq!(got.is_ok(), *ok, "{raw}");
            if let Err(v) = got {
                assert_eq!(v.field, "payment_id");
            }
        }
    }

    #[test]
    fn parse_optional_accepts_empty() {
        assert_eq!(CaseId::parse_optional("case_id", ""), Ok(None));
        assert!(CaseId::parse_optional("case_id", "x").is_err());
        let id = Uuid::new_v4();
        assert_eq!(
            CaseId::parse_optional("case_id", &id.to_string()),
            Ok(Some(CaseId(id)))
        );
    }

    #[test]
    fn generated_ids_sort_by_time() {
        let t1 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap();
        let t2 = Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 1).unwrap();
        let a = RefundId::generate(t1);
        let b = RefundId::generate(t2);
        assert!(a < b);
        assert_ne!(RefundId::generate(t1), RefundId::generate(t1));
    }
}
