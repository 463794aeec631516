//! The warranty decision: computed from the purchase date and the policy snapshot, never typed.
//! An override records who decided, when and why.

use super::actor::Actor;
use super::enums::WarrantySource;
use super::policy::{MAX_WARRANTY_MONTHS, Policy};
use aftersales_kernel::DomainError;
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// A warranty decision that replaced the computed one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WarrantyOverride {
    pub in_warranty: bool,
    pub reason: String,
    /// Staff (OverrideWarranty) or the repair center (warranty voided at diagnosis).
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// Warranty of one repair order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warranty {
    /// Months from the line's policy snapshot, or the policy default.
    pub months: u32,
    /// `purchased_at + months` (clamped to the end of a shorter month, e.g. Jan 31 + 1 month is
    /// Feb 28/29).
    pub ends_at: DateTime<Utc>,
    /// Whether the repair was requested before `ends_at`.
    pub computed_in_warranty: bool,
    /// The last override, if any.
    pub overridden: Option<WarrantyOverride>,
}

impl Warranty {
    /// Computes the decision for a repair requested at `requested_at`.
    ///
    /// `snapshot_months` is the policy snapshot's warranty months (`None`: the policy default).
    /// A purchase in the future, more than [`MAX_WARRANTY_MONTHS`] or an end date out of range is
    /// a field error.
    pub fn compute(
        purchased_at: DateTime<Utc>,
        snapshot_months: Option<u32>,
        policy: &Policy,
        requested_at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        if purchased_at > requested_at {
            return Err(DomainError::field(
                "purchased_at",
                "must not be in the future",
            ));
        }
        let months = snapshot_months.unwrap_or(policy.default_warranty_months);
        let ends_at = warranty_end(purchased_at, months)?;
        Ok(Self {
            months,
            ends_at,
            computed_in_warranty: requested_at < ends_at,
            overridden: None,
        })
    }

    /// The effective decision: the override when there is one.
    pub fn in_warranty(&self) -> bool {
        self.overridden
            .as_ref()
            .map_or(self.computed_in_warranty, |o| o.in_warranty)
    }

    pub fn source(&self) -> WarrantySource {
        if self.overridden.is_some() {
            WarrantySource::Overridden
        } else {
            WarrantySource::Computed
        }
    }
}

/// `purchased_at + months`, naming `warranty_months` when it is too large.
pub fn warranty_end(
    purchased_at: DateTime<Utc>,
    months: u32,
) -> Result<DateTime<Utc>, DomainError> {
    if months > MAX_WARRANTY_MONTHS {
        return Err(DomainError::field(
            "warranty_months",
            format!("must be at most {MAX_WARRANTY_MONTHS}"),
        ));
    }
    purchased_at
        .checked_add_months(Months::new(months))
        .ok_or_else(|| DomainError::field("purchased_at", "is out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0)
            .single()
            .expect("valid date")
    }

    #[test]
    fn end_adds_calendar_months() {
        let cases = [
            (at(2024, 1, 15), 12, at(2025, 1, 15)),
            (at(2024, 1, 31), 1, at(2024, 2, 29)),
            (at(2023, 1, 31), 1, at(2023, 2, 28)),
            (at(2024, 2, 29), 12, at(2025, 2, 28)),
            (at(2024, 5, 1), 0, at(2024, 5, 1)),
        ];
        for (purchased, months, want) in cases {
            assert_eq!(
                warranty_end(purchased, months),
                Ok(want),
                "{purchased} + {months}"
            );
        }
        assert!(warranty_end(at(2024, 1, 1), MAX_WARRANTY_MONTHS).is_ok());
        assert!(warranty_end(at(2024, 1, 1), MAX_WARRANTY_MONTHS + 1).is_err());
    }

    #[test]
    fn decision_boundaries() {
        let policy = Policy::default();
        let purchased = at(2024, 3, 10);
        let end = at(2025, 3, 10);
        let second = TimeDelta::seconds(1);
        let cases: &[(Option<u32>, DateTime<Utc>, bool)] = &[
            (None, purchased, true),
            (None, end - second, true),
            (None, end, false),
            (None, end + second, false),
            (Some(24), end, true),
            (Some(0), purchased, false),
            (Some(6), at(2024, 9, 9), true),
            (Some(6), at(2024, 9, 10), false),
        ];
        for &(months, requested, want) in cases {
            let w = Warranty::compute(purchased, months, &policy, requested).expect("valid");
            assert_eq!(w.in_warranty(), want, "{months:?} {requested}");
            assert_eq!(w.source(), WarrantySource::Computed);
        }
    }

    #[test]
    fn default_months_come_from_the_policy() {
        let policy = Policy {
            default_warranty_months: 3,
            ..Policy::default()
        };
        let w = Warranty::compute(at(2024, 1, 1), None, &policy, at(2024, 2, 1)).expect("valid");
        assert_eq!((w.months, w.ends_at), (3, at(2024, 4, 1)));
    }

    #[test]
    fn purchase_in_the_future_is_refused() {
        let p = Policy::default();
        let now = at(2024, 1, 1);
        let err = Warranty::compute(now + TimeDelta::seconds(1), None, &p, now).unwrap_err();
        assert_eq!(
            err,
            DomainError::field("purchased_at", "must not be in the future")
        );
        assert!(Warranty::compute(now, None, &p, now).is_ok());
    }

    #[test]
    fn override_wins() {
        let now = at(2024, 1, 1);
        let mut w = Warranty::compute(now, None, &Policy::default(), now).expect("valid");
        w.overridden = Some(WarrantyOverride {
            in_warranty: false,
            reason: "liquid damage".into(),
            by: Actor::staff("s1"),
            at: now,
        });
        assert!(w.computed_in_warranty);
        assert!(!w.in_warranty());
        assert_eq!(w.source(), WarrantySource::Overridden);
    }
}
