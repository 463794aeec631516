//! Operator-configurable values of the repairs domain, with DOMAIN.md's defaults.

use chrono::TimeDelta;
use serde::{Deserialize, Serialize};

/// Longest warranty accepted from a policy snapshot or configuration (50 years).
pub const MAX_WARRANTY_MONTHS: u32 = 600;

/// Longest accepted quote approval window.
pub const MAX_QUOTE_APPROVAL_DAYS: u32 = 365;

/// Repairs policy *(config)*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Warranty months used when the line's policy snapshot has none (12).
    pub default_warranty_months: u32,
    /// Days the buyer has to answer a quote before it expires and the item goes back (7).
    pub quote_approval_days: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            default_warranty_months: 12,
            quote_approval_days: 7,
        }
    }
}

impl Policy {
    /// How long a quote sent to the buyer stays open.
    pub fn quote_approval_window(&self) -> TimeDelta {
        TimeDelta::days(i64::from(self.quote_approval_days))
    }

    /// Checks the values at start-up; the error names the offending key.
    pub fn validate(&self) -> Result<(), String> {
        if self.default_warranty_months > MAX_WARRANTY_MONTHS {
            return Err(format!(
                "default_warranty_months must be at most {MAX_WARRANTY_MONTHS}"
            ));
        }
        if !(1..=MAX_QUOTE_APPROVAL_DAYS).contains(&self.quote_approval_days) {
            return Err(format!(
                "quote_approval_days must be in 1..={MAX_QUOTE_APPROVAL_DAYS}"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_domain() {
        let p = Policy::default();
        assert_eq!(p.default_warranty_months, 12);
        assert_eq!(p.quote_approval_window(), TimeDelta::days(7));
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn validate_names_the_key() {
        let cases: &[(u32, u32, Option<&str>)] = &[
            (0, 1, None),
            (MAX_WARRANTY_MONTHS, MAX_QUOTE_APPROVAL_DAYS, None),
            (MAX_WARRANTY_MONTHS + 1, 7, Some("default_warranty_months")),
            (12, 0, Some("quote_approval_days")),
            (12, MAX_QUOTE_APPROVAL_DAYS + 1, Some("quote_approval_days")),
        ];
        for &(months, days, want) in cases {
            let p = Policy {
                default_warranty_months: months,
                quote_approval_days: days,
            };
            match (p.validate(), want) {
                (Ok(()), None) => {}
                (Err(e), Some(key)) => assert!(e.starts_with(key), "{e}"),
                (got, want) => panic!("{months} {days}: got {got:?}, want {want:?}"),
            }
        }
    }
}
