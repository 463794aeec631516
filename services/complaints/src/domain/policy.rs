//! Operator-configurable values *(config)* from DOMAIN.md, with its defaults.

use aftersales_kernel::FieldViolation;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{DsrMonth, Severity};

/// Complaints policy, loaded by phase 2 from the `complaints` config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// First response due this many seconds after a complaint is created (24 h).
    pub first_response_secs: i64,
    /// First response due for an URGENT complaint (2 h).
    pub urgent_first_response_secs: i64,
    /// SLA of a work order, from its creation (48 h).
    pub work_order_sla_secs: i64,
    /// Time zone of the DSR calendar month (`Asia/Shanghai`).
    #[serde(serialize_with = "ser_tz", deserialize_with = "de_tz")]
    pub dsr_time_zone: Tz,
    /// Rated transactions per buyer, merchant and month that count toward the DSR (3).
    pub dsr_counted_per_month: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            first_response_secs: 24 * 3600,
            urgent_first_response_secs: 2 * 3600,
            work_order_sla_secs: 48 * 3600,
            dsr_time_zone: chrono_tz::Asia::Shanghai,
            dsr_counted_per_month: 3,
        }
    }
}

impl Policy {
    /// How long the first response may take for a complaint of this severity.
    pub fn first_response_window(&self, severity: Severity) -> Duration {
        match severity {
            Severity::Urgent => Duration::seconds(self.urgent_first_response_secs),
            Severity::Normal | Severity::High => Duration::seconds(self.first_response_secs),
        }
    }

    pub fn work_order_sla(&self) -> Duration {
        Duration::seconds(self.work_order_sla_secs)
    }

    /// The DSR calendar month `at` falls in, in the configured time zone.
    pub fn dsr_month(&self, at: DateTime<Utc>) -> DsrMonth {
        DsrMonth::of(at, self.dsr_time_zone)
    }

    /// Checks the values, naming the config key of the first bad one.
    pub fn validate(&self) -> Result<(), FieldViolation> {
        let positive = [
            ("complaints.first_response_secs", self.first_response_secs),
            (
                "complaints.urgent_first_response_secs",
                self.urgent_first_response_secs,
            ),
            ("complaints.work_order_sla_secs", self.work_order_sla_secs),
        ];
        for (key, v) in positive {
            if v <= 0 {
                return Err(FieldViolation::new(key, "must be greater than zero"));
            }
        }
        if self.urgent_first_response_secs > self.first_response_secs {
            return Err(FieldViolation::new(
                "complaints.urgent_first_response_secs",
                "must not exceed complaints.first_response_secs",
            ));
        }
        if self.dsr_counted_per_month == 0 {
            return Err(FieldViolation::new(
                "complaints.dsr_counted_per_month",
                "must be greater than zero",
            ));
        }
        Ok(())
    }
}

fn ser_tz<S: Serializer>(tz: &Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

fn de_tz<'de, D: Deserializer<'de>>(d: D) -> Result<Tz, D::Error> {
    let name = String::deserialize(d)?;
    name.parse::<Tz>()
        .map_err(|_| serde::de::Error::custom(format!("unknown time zone {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_domain_md() {
        let p = Policy::default();
        assert_eq!(
            p.first_response_window(Severity::Normal),
            Duration::hours(24)
        );
        assert_eq!(p.first_response_window(Severity::High), Duration::hours(24));
        assert_eq!(
            p.first_response_window(Severity::Urgent),
            Duration::hours(2)
        );
        assert_eq!(p.work_order_sla(), Duration::hours(48));
        assert_eq!(p.dsr_time_zone.name(), "Asia/Shanghai");
        assert_eq!(p.dsr_counted_per_month, 3);
        assert_eq!(p.validate(), Ok(()));
    }

    type Edit = fn(&mut Policy);

    #[test]
    fn validate_names_the_key() {
        let cases: &[(Edit, &str)] = &[
            (
                |p| p.first_response_secs = 0,
                "complaints.first_response_secs",
            ),
            (
                |p| p.urgent_first_response_secs = -1,
                "complaints.urgent_first_response_secs",
            ),
            (
                |p| p.work_order_sla_secs = 0,
                "complaints.work_order_sla_secs",
            ),
            (
                |p| p.urgent_first_response_secs = p.first_response_secs + 1,
                "complaints.urgent_first_response_secs",
            ),
            (
                |p| p.dsr_counted_per_month = 0,
                "complaints.dsr_counted_per_month",
            ),
        ];
        for (edit, key) in cases {
            let mut p = Policy::default();
            edit(&mut p);
            assert_eq!(p.validate().unwrap_err().field, *key);
        }
    }

    #[test]
    fn time_zone_deserializes_by_name() {
        use serde::de::value::{Error, StrDeserializer};
        assert_eq!(
            de_tz(StrDeserializer::<Error>::new("Asia/Tokyo"))
                .unwrap()
                .name(),
            "Asia/Tokyo"
        );
        assert!(de_tz(StrDeserializer::<Error>::new("Mars/Base")).is_err());
    }
}
