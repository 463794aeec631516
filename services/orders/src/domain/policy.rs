//! Return policy: the configurable values and the snapshot frozen on each line at purchase.

use aftersales_kernel::{DomainError, FieldViolation};
use chrono::{DateTime, Duration, Months, Utc};
use serde::{Deserialize, Serialize};

/// Statutory no-reason return window (七天无理由), counted from signed-at. Not configurable.
pub const NO_REASON_DAYS: u32 = 7;

text_enum!(
    /// Buyer membership tier at purchase, mirroring the proto `MemberTier`.
    MemberTier {
        None => "NONE",
        Silver => "SILVER",
        Gold => "GOLD",
        Platinum => "PLATINUM",
    }
);

text_enum!(
    /// Why a line has (or lacks) the free-return privilege.
    FreeReturnPrivilege {
        /// A no-reason return pays its own return shipping.
        None => "NONE",
        MemberTier => "MEMBER_TIER",
        ShippingInsurance => "SHIPPING_INSURANCE",
    }
);

impl FreeReturnPrivilege {
    /// True when no return shipping is deducted from a no-reason refund.
    pub fn is_free(&self) -> bool {
        *self != Self::None
    }
}

/// Configurable policy values (DOMAIN.md *(config)*); `Default` gives DOMAIN.md's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Exchange/quality window in days from signed-at (15).
    pub exchange_quality_days: u32,
    /// Warranty in months from signed-at (12).
    pub warranty_months: u32,
    /// Categories excluded from no-reason returns.
    pub no_reason_excluded_categories: Vec<String>,
    /// Member tiers that grant free returns.
    pub free_return_tiers: Vec<MemberTier>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            exchange_quality_days: 15,
            warranty_months: 12,
            no_reason_excluded_categories: ["perishable", "custom_made", "digital"]
                .map(String::from)
                .to_vec(),
            free_return_tiers: vec![MemberTier::Gold, MemberTier::Platinum],
        }
    }
}

impl Settings {
    /// Checks the values at start-up; each violation names the key under `section`.
    pub fn validate(&self, section: &str) -> Result<(), DomainError> {
        let mut v = Vec::new();
        if !(NO_REASON_DAYS..=3650).contains(&self.exchange_quality_days) {
            v.push(FieldViolation::new(
                format!("{section}.exchange_quality_days"),
                format!("must be between {NO_REASON_DAYS} and 3650"),
            ));
        }
        if !(1..=240).contains(&self.warranty_months) {
            v.push(FieldViolation::new(
                format!("{section}.warranty_months"),
                "must be between 1 and 240",
            ));
        }
        for (i, c) in self.no_reason_excluded_categories.iter().enumerate() {
            if let Err(e) = super::validate::category(
                &format!("{section}.no_reason_excluded_categories[{i}]"),
                c,
            ) {
                v.push(e);
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(v))
        }
    }

    /// The policy frozen on a new line of `category` bought under these settings.
    pub fn snapshot(
        &self,
        category: &str,
        tier: MemberTier,
        shipping_insurance: bool,
    ) -> PolicySnapshot {
        let free_return = if self.free_return_tiers.contains(&tier) {
            FreeReturnPrivilege::MemberTier
        } else if shipping_insurance {
            FreeReturnPrivilege::ShippingInsurance
        } else {
            FreeReturnPrivilege::None
        };
        PolicySnapshot {
            no_reason_days: NO_REASON_DAYS,
            no_reason_eligible: !self
                .no_reason_excluded_categories
                .iter()
                .any(|c| c == category),
            exchange_quality_days: self.exchange_quality_days,
            warranty_months: self.warranty_months,
            free_return,
        }
    }
}

/// Return policy frozen on a line at purchase; later config changes never alter it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// No-reason window in days from signed-at (statutory 7).
    pub no_reason_days: u32,
    /// False for excluded categories.
    pub no_reason_eligible: bool,
    pub exchange_quality_days: u32,
    pub warranty_months: u32,
    pub free_return: FreeReturnPrivilege,
}

/// The last instants inside each window of a delivered line (bounds are inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineDeadlines {
    /// `None` when the line is not no-reason eligible.
    pub no_reason_until: Option<DateTime<Utc>>,
    pub exchange_quality_until: DateTime<Utc>,
    pub warranty_until: DateTime<Utc>,
}

impl PolicySnapshot {
    /// Deadlines for goods signed for at `signed_at`: days are 24-hour periods, months are
    /// calendar months (clamped to the month's last day); an out-of-range date saturates.
    pub fn deadlines(&self, signed_at: DateTime<Utc>) -> LineDeadlines {
        let days = |d: u32| {
            signed_at
                .checked_add_signed(Duration::days(i64::from(d)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        LineDeadlines {
            no_reason_until: self.no_reason_eligible.then(|| days(self.no_reason_days)),
            exchange_quality_until: days(self.exchange_quality_days),
            warranty_until: signed_at
                .checked_add_months(Months::new(self.warranty_months))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        }
    }

    /// A no-reason return is allowed at `now` (eligible line, within the window).
    pub fn allows_no_reason_return(&self, signed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.deadlines(signed_at)
            .no_reason_until
            .is_some_and(|until| now <= until)
    }

    /// A quality/damage/wrong-item exchange or return is within its window at `now`.
    pub fn within_exchange_quality(&self, signed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now <= self.deadlines(signed_at).exchange_quality_until
    }

    /// The warranty still runs at `now`.
    pub fn within_warranty(&self, signed_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now <= self.deadlines(signed_at).warranty_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::t0;
    use chrono::TimeZone;

    #[test]
    fn defaults_match_domain() {
        let s = Settings::default();
        assert_eq!((s.exchange_quality_days, s.warranty_months), (15, 12));
        assert_eq!(
            s.no_reason_excluded_categories,
            ["perishable", "custom_made", "digital"]
        );
        assert_eq!(s.validate("orders"), Ok(()));
    }

    #[test]
    fn settings_validation_names_the_key() {
        type Edit = fn(&mut Settings);
        let cases: &[(Edit, Option<&str>)] = &[
            (
                |s| s.exchange_quality_days = 6,
                Some("orders.exchange_quality_days"),
            ),
            (|s| s.exchange_quality_days = 7, None),
            (|s| s.exchange_quality_days = 3650, None),
            (
                |s| s.exchange_quality_days = 3651,
                Some("orders.exchange_quality_days"),
            ),
            (|s| s.warranty_months = 0, Some("orders.warranty_months")),
            (|s| s.warranty_months = 1, None),
            (|s| s.warranty_months = 240, None),
            (|s| s.warranty_months = 241, Some("orders.warranty_months")),
            (
                |s| s.no_reason_excluded_categories.push("Bad Cat".into()),
                Some("orders.no_reason_excluded_categories[3]"),
            ),
            (|s| s.no_reason_excluded_categories.clear(), None),
        ];
        for (edit, want) in cases {
            let mut s = Settings::default();
            edit(&mut s);
            match (s.validate("orders"), want) {
                (Ok(()), None) => {}
                (Err(DomainError::Invalid(v)), Some(f)) => assert_eq!(v[0].field, *f),
                (got, want) => panic!("got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn snapshot_from_category_tier_and_insurance() {
        use FreeReturnPrivilege as F;
        let s = Settings::default();
        let cases: &[(&str, MemberTier, bool, bool, F)] = &[
            ("apparel", MemberTier::None, false, true, F::None),
            ("perishable", MemberTier::None, false, false, F::None),
            ("custom_made", MemberTier::Silver, false, false, F::None),
            (
                "digital",
                MemberTier::None,
                true,
                false,
                F::ShippingInsurance,
            ),
            (
                "apparel",
                MemberTier::Silver,
                true,
                true,
                F::ShippingInsurance,
            ),
            ("apparel", MemberTier::Gold, false, true, F::MemberTier),
            ("apparel", MemberTier::Platinum, true, true, F::MemberTier),
            ("perishables", MemberTier::None, false, true, F::None),
        ];
        for (cat, tier, insured, eligible, free) in cases {
            let p = s.snapshot(cat, *tier, *insured);
            assert_eq!(
                (p.no_reason_eligible, p.free_return),
                (*eligible, *free),
                "{cat} {tier} {insured}"
            );
            assert_eq!(
                (p.no_reason_days, p.exchange_quality_days, p.warranty_months),
                (7, 15, 12)
            );
        }
        assert!(F::MemberTier.is_free() && F::ShippingInsurance.is_free() && !F::None.is_free());
        let custom = Settings {
            exchange_quality_days: 30,
            warranty_months: 24,
            ..Settings::default()
        };
        let p = custom.snapshot("apparel", MemberTier::None, false);
        assert_eq!((p.exchange_quality_days, p.warranty_months), (30, 24));
    }

    #[test]
    fn windows_are_inclusive() {
        let p = Settings::default().snapshot("apparel", MemberTier::None, false);
        let signed = t0();
        let d = p.deadlines(signed);
        assert_eq!(d.no_reason_until, Some(signed + Duration::days(7)));
        assert_eq!(d.exchange_quality_until, signed + Duration::days(15));
        assert_eq!(
            d.warranty_until,
            Utc.with_ymd_and_hms(2027, 1, 10, 12, 0, 0).unwrap()
        );
        let s = Duration::seconds(1);
        let cases: &[(DateTime<Utc>, bool, bool, bool)] = &[
            (signed, true, true, true),
            (signed + Duration::days(7), true, true, true),
            (signed + Duration::days(7) + s, false, true, true),
            (signed + Duration::days(15), false, true, true),
            (signed + Duration::days(15) + s, false, false, true),
            (d.warranty_until, false, false, true),
            (d.warranty_until + s, false, false, false),
        ];
        for (now, no_reason, quality, warranty) in cases {
            assert_eq!(p.allows_no_reason_return(signed, *now), *no_reason, "{now}");
            assert_eq!(p.within_exchange_quality(signed, *now), *quality, "{now}");
            assert_eq!(p.within_warranty(signed, *now), *warranty, "{now}");
        }
    }

    #[test]
    fn ineligible_line_has_no_no_reason_window() {
        let p = Settings::default().snapshot("digital", MemberTier::None, false);
        assert_eq!(p.deadlines(t0()).no_reason_until, None);
        assert!(!p.allows_no_reason_return(t0(), t0()));
        assert!(p.within_exchange_quality(t0(), t0()));
    }

    #[test]
    fn month_end_clamps_and_far_future_saturates() {
        let p = Settings::default().snapshot("apparel", MemberTier::None, false);
        let jan31 = Utc.with_ymd_and_hms(2027, 1, 31, 0, 0, 0).unwrap();
        let one_month = PolicySnapshot {
            warranty_months: 1,
            ..p
        };
        assert_eq!(
            one_month.deadlines(jan31).warranty_until,
            Utc.with_ymd_and_hms(2027, 2, 28, 0, 0, 0).unwrap()
        );
        let end = DateTime::<Utc>::MAX_UTC - Duration::days(1);
        let d = p.deadlines(end);
        assert_eq!(d.exchange_quality_until, DateTime::<Utc>::MAX_UTC);
        assert_eq!(d.warranty_until, DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn text_enums_round_trip() {
        for t in MemberTier::ALL {
            assert_eq!(MemberTier::parse(t.as_str()), Some(*t));
        }
        for f in FreeReturnPrivilege::ALL {
            assert_eq!(FreeReturnPrivilege::parse(f.as_str()), Some(*f));
        }
        assert_eq!(MemberTier::parse("gold"), None);
    }
}
