//! Operator-configurable values of the logistics rules, with DOMAIN.md's defaults.

use super::validate::Address;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// Configurable logistics policy. `Default` gives DOMAIN.md's values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// No scan for this many seconds marks an in-transit shipment stuck (48 h).
    pub stuck_after_seconds: i64,
    /// The merchant may correct a tracking number this many seconds after the waybill upload,
    /// or after creation when not uploaded (24 h).
    pub correction_window_seconds: i64,
    /// How far in the future a courier's `occurred_at` may be (clock skew), in seconds (10 min).
    pub max_clock_skew_seconds: i64,
    /// Remaining hours to delivery per shipment state, for the ETA.
    pub eta: EtaHours,
    /// The repair depot: where TO_REPAIR_CENTER legs go and FROM_REPAIR_CENTER legs start.
    pub repair_depot: Address,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            stuck_after_seconds: 48 * 3600,
            correction_window_seconds: 24 * 3600,
            max_clock_skew_seconds: 10 * 60,
            eta: EtaHours::default(),
            repair_depot: default_repair_depot(),
        }
    }
}

/// The platform's repair depot unless configured otherwise.
fn default_repair_depot() -> Address {
    Address {
        contact_name: "Aftersales Repair Depot".into(),
        phone: "4008200000".into(),
        line1: "1 Repair Depot Road".into(),
        line2: None,
        city: "Shanghai".into(),
        region: Some("Shanghai".into()),
        postal_code: Some("201100".into()),
        country_code: "CN".into(),
    }
}

impl Policy {
    pub fn stuck_after(&self) -> Duration {
        Duration::seconds(self.stuck_after_seconds)
    }

    pub fn correction_window(&self) -> Duration {
        Duration::seconds(self.correction_window_seconds)
    }

    pub fn max_clock_skew(&self) -> Duration {
        Duration::seconds(self.max_clock_skew_seconds)
    }

    /// Checks the values make sense; names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        let checks = [
            ("stuck_after_seconds", self.stuck_after_seconds),
            ("correction_window_seconds", self.correction_window_seconds),
            ("eta.created", self.eta.created),
            ("eta.picked_up", self.eta.picked_up),
            ("eta.in_transit", self.eta.in_transit),
            ("eta.out_for_delivery", self.eta.out_for_delivery),
            ("eta.exception", self.eta.exception),
        ];
        for (key, value) in checks {
            if value <= 0 {
                return Err(format!("{key} must be positive"));
            }
        }
        if self.max_clock_skew_seconds < 0 {
            return Err("max_clock_skew_seconds must not be negative".into());
        }
        // Far beyond any sensible value, and keeps `now - window` arithmetic in range.
        let max = 10 * 365 * 24 * 3600;
        for (key, value) in [
            ("stuck_after_seconds", self.stuck_after_seconds),
            ("correction_window_seconds", self.correction_window_seconds),
            ("max_clock_skew_seconds", self.max_clock_skew_seconds),
        ] {
            if value > max {
                return Err(format!("{key} must be at most {max}"));
            }
        }
        for (key, value) in [
            ("eta.created", self.eta.created),
            ("eta.picked_up", self.eta.picked_up),
            ("eta.in_transit", self.eta.in_transit),
            ("eta.out_for_delivery", self.eta.out_for_delivery),
            ("eta.exception", self.eta.exception),
        ] {
            if value > max / 3600 {
                return Err(format!("{key} must be at most {}", max / 3600));
            }
        }
        Ok(())
    }
}

/// Simple ETA model: remaining hours to delivery counted from the last applied event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EtaHours {
    pub created: i64,
    pub picked_up: i64,
    pub in_transit: i64,
    pub out_for_delivery: i64,
    pub exception: i64,
}

impl Default for EtaHours {
    fn default() -> Self {
        Self {
            created: 96,
            picked_up: 72,
            in_transit: 48,
            out_for_delivery: 6,
            exception: 72,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_domain_md() {
        let p = Policy::default();
        assert_eq!(p.stuck_after(), Duration::hours(48));
        assert_eq!(p.correction_window(), Duration::hours(24));
        assert_eq!(p.max_clock_skew(), Duration::minutes(10));
        assert_eq!(p.validate(), Ok(()));
    }

    type Edit = fn(&mut Policy);

    #[test]
    fn validate_names_the_key() {
        let cases: &[(Edit, Result<(), String>)] = &[
            (
                |p| p.stuck_after_seconds = 0,
                Err("stuck_after_seconds must be positive".into()),
            ),
            (
                |p| p.correction_window_seconds = -1,
                Err("correction_window_seconds must be positive".into()),
            ),
            (
                |p| p.eta.out_for_delivery = 0,
                Err("eta.out_for_delivery must be positive".into()),
            ),
            (
                |p| p.max_clock_skew_seconds = -1,
                Err("max_clock_skew_seconds must not be negative".into()),
            ),
            (
                |p| p.stuck_after_seconds = i64::MAX,
                Err("stuck_after_seconds must be at most 315360000".into()),
            ),
            (
                |p| p.eta.created = i64::MAX,
                Err("eta.created must be at most 87600".into()),
            ),
            (|p| p.max_clock_skew_seconds = 0, Ok(())),
            (|p| p.stuck_after_seconds = 1, Ok(())),
        ];
        for (edit, want) in cases {
            let mut p = Policy::default();
            edit(&mut p);
            assert_eq!(&p.validate(), want);
        }
    }
}
