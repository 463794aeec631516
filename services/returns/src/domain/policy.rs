//! Operator-configurable values of the returns domain (*(config)* in DOMAIN.md).

use aftersales_kernel::FieldViolation;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// Settings of the returns domain. `Default` gives DOMAIN.md's defaults.
///
/// Amounts are in minor units of the order's currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// A case the merchant leaves unanswered this long is auto-approved (48 h), in seconds.
    pub merchant_decision_secs: i64,
    /// A return the buyer does not ship this long after approval is closed (7 days), in seconds.
    pub buyer_shipment_secs: i64,
    /// Time the merchant has to upload evidence once a case is escalated (72 h), in seconds.
    pub merchant_evidence_secs: i64,
    /// Time either party has to appeal a ruling, once (7 days), in seconds.
    pub appeal_window_secs: i64,
    /// Quality problems on a case worth at most this are settled without a return (2000 = 20.00).
    pub low_value_threshold_minor: i64,
    /// Return shipping deducted from a no-reason return without free-return privilege (1000).
    pub return_shipping_fee_minor: i64,
}

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

impl Default for Settings {
    fn default() -> Self {
        Self {
            merchant_decision_secs: 48 * HOUR,
            buyer_shipment_secs: 7 * DAY,
            merchant_evidence_secs: 72 * HOUR,
            appeal_window_secs: 7 * DAY,
            low_value_threshold_minor: 2000,
            return_shipping_fee_minor: 1000,
        }
    }
}

impl Settings {
    pub fn merchant_decision_window(&self) -> Duration {
        Duration::seconds(self.merchant_decision_secs)
    }

    pub fn buyer_shipment_window(&self) -> Duration {
        Duration::seconds(self.buyer_shipment_secs)
    }

    pub fn merchant_evidence_window(&self) -> Duration {
        Duration::seconds(self.merchant_evidence_secs)
    }

    pub fn appeal_window(&self) -> Duration {
        Duration::seconds(self.appeal_window_secs)
    }

    /// Checks every value; the violation names the key (e.g. `returns.buyer_shipment`).
    pub fn validate(&self, prefix: &str) -> Result<(), FieldViolation> {
        // Windows: one second (tests) up to a year.
        let positive = [
            ("merchant_decision", self.merchant_decision_secs, 365 * DAY),
            ("buyer_shipment", self.buyer_shipment_secs, 365 * DAY),
            ("merchant_evidence", self.merchant_evidence_secs, 365 * DAY),
            ("appeal_window", self.appeal_window_secs, 365 * DAY),
        ];
        for (key, value, max) in positive {
            if !(1..=max).contains(&value) {
                return Err(FieldViolation::new(
                    format!("{prefix}{key}"),
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        let amounts = [
            ("low_value_threshold_minor", self.low_value_threshold_minor),
            ("return_shipping_fee_minor", self.return_shipping_fee_minor),
        ];
        for (key, value) in amounts {
            if !(0..=aftersales_kernel::Money::MAX_MINOR).contains(&value) {
                return Err(FieldViolation::new(
                    format!("{prefix}{key}"),
                    "must be >= 0",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_domain() {
        let s = Settings::default();
        assert_eq!(s.merchant_decision_window(), Duration::hours(48));
        assert_eq!(s.buyer_shipment_window(), Duration::days(7));
        assert_eq!(s.merchant_evidence_window(), Duration::hours(72));
        assert_eq!(s.appeal_window(), Duration::days(7));
        assert_eq!(s.validate("returns."), Ok(()));
    }

    #[test]
    fn validate_names_the_key() {
        type Edit = fn(&mut Settings);
        let cases: [(Edit, Option<&str>); 8] = [
            (
                |s| s.merchant_decision_secs = 0,
                Some("returns.merchant_decision"),
            ),
            (|s| s.merchant_decision_secs = 1, None),
            (
                |s| s.buyer_shipment_secs = -1,
                Some("returns.buyer_shipment"),
            ),
            (
                |s| s.buyer_shipment_secs = 366 * DAY,
                Some("returns.buyer_shipment"),
            ),
            (|s| s.appeal_window_secs = 365 * DAY, None),
            (
                |s| s.merchant_evidence_secs = 0,
                Some("returns.merchant_evidence"),
            ),
            (
                |s| s.low_value_threshold_minor = -1,
                Some("returns.low_value_threshold_minor"),
            ),
            (|s| s.return_shipping_fee_minor = 0, None),
        ];
        for (edit, want) in cases {
            let mut s = Settings::default();
            edit(&mut s);
            assert_eq!(
                s.validate("returns.").err().map(|v| v.field),
                want.map(str::to_string)
            );
        }
    }
}
