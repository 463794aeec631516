//! DSR store ratings (description match, service, logistics, 1–5): one per order, immutable;
//! per calendar month in the configured time zone, only the first N (3) rated transactions
//! between the same buyer and merchant count. The rest are stored with `counted = false`.

use aftersales_kernel::{DomainError, FieldViolation};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::fmt;

use crate::domain::validate;
use crate::domain::{
    Actor, ActorKind, CustomerId, DsrRatingId, Event, MerchantId, OrderId, Policy, Score,
    not_allowed,
};

/// A calendar month (`YYYY-MM`) in the DSR time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DsrMonth {
    year: i32,
    month: u32,
}

impl DsrMonth {
    /// The month `at` falls in, seen from `tz`.
    pub fn of(at: DateTime<Utc>, tz: Tz) -> Self {
        let local = at.with_timezone(&tz);
        Self {
            year: local.year(),
            month: local.month(),
        }
    }

    /// Parses `YYYY-MM` (year 1970..=9999, month 01..=12), naming the field.
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        let bad = || FieldViolation::new(field, "must be a month as YYYY-MM");
        let b = value.as_bytes();
        if b.len() != 7 || b[4] != b'-' || !b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit) {
            return Err(bad());
        }
        let year: i32 = value[..4].parse().map_err(|_| bad())?;
        let month: u32 = value[5..].parse().map_err(|_| bad())?;
        if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u32 {
        self.month
    }

    pub fn next(&self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// `[start, end)` of the month in UTC, for queries on `rated_at`.
    pub fn bounds_utc(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (self.start_utc(tz), self.next().start_utc(tz))
    }

    /// Local midnight of the first day (the first existing local time if midnight is skipped).
    fn start_utc(&self, tz: Tz) -> DateTime<Utc> {
        let day = NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default();
        (0..24)
            .filter_map(|h| day.and_hms_opt(h, 0, 0))
            .find_map(|naive| tz.from_local_datetime(&naive).earliest())
            .map_or_else(
                || day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(),
                |t| t.with_timezone(&Utc),
            )
    }
}

impl fmt::Display for DsrMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// The three DSR scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DsrScores {
    pub description_match: Score,
    pub service: Score,
    pub logistics: Score,
}

impl DsrScores {
    /// Parses the three scores (`field.description_match`, ...), reporting every bad one.
    pub fn parse(
        field: &str,
        description_match: u32,
        service: u32,
        logistics: u32,
    ) -> Result<Self, DomainError> {
        let mut v = validate::Violations::new();
        let d = v.check(Score::parse(
            &format!("{field}.description_match"),
            description_match,
        ));
        let s = v.check(Score::parse(&format!("{field}.service"), service));
        let l = v.check(Score::parse(&format!("{field}.logistics"), logistics));
        v.finish()?;
        match (d, s, l) {
            (Some(description_match), Some(service), Some(logistics)) => Ok(Self {
                description_match,
                service,
                logistics,
            }),
            _ => Err(DomainError::field(field, "is invalid")),
        }
    }
}

/// Input of [`DsrRating::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDsrRating {
    pub order_id: OrderId,
    pub buyer_id: CustomerId,
    pub merchant_id: MerchantId,
    pub scores: DsrScores,
}

/// An immutable store rating for one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DsrRating {
    pub id: DsrRatingId,
    pub order_id: OrderId,
    pub buyer_id: CustomerId,
    pub merchant_id: MerchantId,
    pub scores: DsrScores,
    pub month: DsrMonth,
    /// False beyond the first N rated orders of this buyer and merchant in the month.
    pub counted: bool,
    pub rated_at: DateTime<Utc>,
}

impl DsrRating {
    /// Submits a rating by the buyer itself or the system. `existing_for_order` is the stored
    /// rating of the same order (`rating_already_given`); `counted_this_month` is how many
    /// counted ratings this buyer already gave this merchant in `policy.dsr_month(now)` (read
    /// under a lock on the buyer/merchant pair so that concurrent submissions count once each).
    pub fn submit(
        new: NewDsrRating,
        actor: &Actor,
        existing_for_order: Option<&DsrRating>,
        counted_this_month: u32,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        if actor.kind != ActorKind::System && !actor.is_customer(&new.buyer_id) {
            return Err(not_allowed(actor, "rate a store for this buyer"));
        }
        if existing_for_order.is_some() {
            return Err(DomainError::rule(
                "rating_already_given",
                "this order was already rated and ratings cannot change",
            ));
        }
        let rating = Self {
            id: DsrRatingId::generate(now),
            order_id: new.order_id,
            buyer_id: new.buyer_id,
            merchant_id: new.merchant_id,
            scores: new.scores,
            month: policy.dsr_month(now),
            counted: counted_this_month < policy.dsr_counted_per_month,
            rated_at: now,
        };
        Ok((rating, Event::DsrRatingSubmitted))
    }
}

/// Averages of a merchant's counted ratings in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DsrSummary {
    pub merchant_id: MerchantId,
    pub month: DsrMonth,
    pub counted_ratings: u32,
    pub total_ratings: u32,
    /// 0 when no rating counts.
    pub description_match_average: f64,
    pub service_average: f64,
    pub logistics_average: f64,
}

impl DsrSummary {
    /// Summarises the ratings of `merchant_id` in `month` (others in `ratings` are ignored).
    pub fn from_ratings<'a>(
        merchant_id: MerchantId,
        month: DsrMonth,
        ratings: impl IntoIterator<Item = &'a DsrRating>,
    ) -> Self {
        let (mut total, mut counted) = (0u32, 0u32);
        let (mut d, mut s, mut l) = (0u64, 0u64, 0u64);
        for r in ratings
            .into_iter()
            .filter(|r| r.merchant_id == merchant_id && r.month == month)
        {
            total += 1;
            if r.counted {
                counted += 1;
                d += u64::from(r.scores.description_match.value());
                s += u64::from(r.scores.service.value());
                l += u64::from(r.scores.logistics.value());
            }
        }
        let avg = |sum: u64| {
            if counted == 0 {
                0.0
            } else {
                sum as f64 / f64::from(counted)
            }
        };
        Self {
            merchant_id,
            month,
            counted_ratings: counted,
            total_ratings: total,
            description_match_average: avg(d),
            service_average: avg(s),
            logistics_average: avg(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;
    use uuid::Uuid;

    fn shanghai() -> Tz {
        chrono_tz::Asia::Shanghai
    }

    #[test]
    fn month_in_time_zone_at_boundaries() {
        // 2025-01-31 16:00 UTC is 2025-02-01 00:00 in Shanghai.
        let cases: &[(DateTime<Utc>, Tz, &str)] = &[
            (
                Utc.with_ymd_and_hms(2025, 1, 31, 15, 59, 59).unwrap(),
                shanghai(),
                "2025-01",
            ),
            (
                Utc.with_ymd_and_hms(2025, 1, 31, 16, 0, 0).unwrap(),
                shanghai(),
                "2025-02",
            ),
            (
                Utc.with_ymd_and_hms(2025, 1, 31, 16, 0, 0).unwrap(),
                chrono_tz::UTC,
                "2025-01",
            ),
            (
                Utc.with_ymd_and_hms(2024, 12, 31, 23, 0, 0).unwrap(),
                shanghai(),
                "2025-01",
            ),
        ];
        for (at, tz, want) in cases {
            assert_eq!(DsrMonth::of(*at, *tz).to_string(), *want, "{at} {tz}");
        }
    }

    #[test]
    fn month_parse() {
        let cases: &[(&str, bool)] = &[
            ("2025-01", true),
            ("2025-12", true),
            ("1970-01", true),
            ("2025-13", false),
            ("2025-00", false),
            ("2025-1", false),
            ("25-01", false),
            ("2025/01", false),
            ("1969-12", false),
            ("+025-01", false),
            ("", false),
        ];
        for (raw, ok) in cases {
            let got = DsrMonth::parse("month", raw);
            assert_eq!(got.is_ok(), *ok, "{raw}");
            match got {
                Ok(m) => assert_eq!(m.to_string(), *raw),
                Err(v) => assert_eq!(v.field, "month"),
            }
        }
    }

    #[test]
    fn month_bounds() {
        let dec = DsrMonth::parse("month", "2024-12").unwrap();
        assert_eq!(dec.next().to_string(), "2025-01");
        let (start, end) = dec.bounds_utc(shanghai());
        assert_eq!(start, Utc.with_ymd_and_hms(2024, 11, 30, 16, 0, 0).unwrap());
        assert_eq!(end, Utc.with_ymd_and_hms(2024, 12, 31, 16, 0, 0).unwrap());
        assert_eq!(DsrMonth::of(start, shanghai()), dec);
        assert_eq!(
            DsrMonth::of(end - chrono::Duration::seconds(1), shanghai()),
            dec
        );
        assert_eq!(DsrMonth::of(end, shanghai()), dec.next());
        // A zone whose clocks jump at midnight (Cuba's DST starts at 00:00) still yields a start
        // inside the month.
        let apr = DsrMonth::parse("month", "2012-04").unwrap();
        let (s, _) = apr.bounds_utc(chrono_tz::America::Havana);
        assert_eq!(DsrMonth::of(s, chrono_tz::America::Havana), apr);
    }

    fn input(buyer: CustomerId, merchant: MerchantId) -> NewDsrRating {
        NewDsrRating {
            order_id: OrderId(Uuid::new_v4()),
            buyer_id: buyer,
            merchant_id: merchant,
            scores: DsrScores::parse("scores", 5, 4, 3).unwrap(),
        }
    }

    #[test]
    fn only_the_first_three_per_month_count() {
        let p = Policy::default();
        let buyer = CustomerId(Uuid::new_v4());
        let merchant = MerchantId(Uuid::new_v4());
        let cases: &[(u32, bool)] = &[(0, true), (1, true), (2, true), (3, false), (10, false)];
        for (so_far, counted) in cases {
            let (r, e) = DsrRating::submit(
                input(buyer, merchant),
                &Actor::buyer(buyer),
                None,
                *so_far,
                &p,
                t0(),
            )
            .unwrap();
            assert_eq!(e, Event::DsrRatingSubmitted);
            assert_eq!(r.counted, *counted, "{so_far}");
            assert_eq!(r.month, p.dsr_month(t0()));
        }
    }

    #[test]
    fn immutable_and_actor_scoped() {
        let p = Policy::default();
        let buyer = CustomerId(Uuid::new_v4());
        let n = input(buyer, MerchantId(Uuid::new_v4()));
        let (first, _) =
            DsrRating::submit(n.clone(), &Actor::system("orders"), None, 0, &p, t0()).unwrap();
        let got = DsrRating::submit(n.clone(), &Actor::buyer(buyer), Some(&first), 0, &p, t0());
        assert_eq!(got.unwrap_err().rule_name(), Some("rating_already_given"));
        for actor in [
            Actor::buyer(CustomerId(Uuid::new_v4())),
            Actor::staff("s"),
            Actor::merchant(n.merchant_id),
        ] {
            let got = DsrRating::submit(n.clone(), &actor, None, 0, &p, t0());
            assert_eq!(
                got.unwrap_err().rule_name(),
                Some("actor_not_allowed"),
                "{actor:?}"
            );
        }
    }

    #[test]
    fn scores_report_every_bad_field() {
        match DsrScores::parse("scores", 0, 6, 5) {
            Err(DomainError::Invalid(v)) => {
                assert_eq!(
                    v.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                    ["scores.description_match", "scores.service"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn summary_averages_counted_ratings_only() {
        let p = Policy::default();
        let merchant = MerchantId(Uuid::new_v4());
        let month = p.dsr_month(t0());
        let mk = |scores: (u32, u32, u32),
                  counted_so_far: u32,
                  merchant: MerchantId,
                  at: DateTime<Utc>| {
            let buyer = CustomerId(Uuid::new_v4());
            let mut n = input(buyer, merchant);
            n.scores = DsrScores::parse("scores", scores.0, scores.1, scores.2).unwrap();
            DsrRating::submit(n, &Actor::buyer(buyer), None, counted_so_far, &p, at)
                .unwrap()
                .0
        };
        let ratings = [
            mk((5, 5, 4), 0, merchant, t0()),
            mk((4, 3, 2), 2, merchant, t0()),
            mk((1, 1, 1), 3, merchant, t0()), // stored, not counted
            mk((1, 1, 1), 0, MerchantId(Uuid::new_v4()), t0()), // other merchant
            mk((1, 1, 1), 0, merchant, t0() + chrono::Duration::days(40)), // other month
        ];
        let s = DsrSummary::from_ratings(merchant, month, &ratings);
        assert_eq!((s.counted_ratings, s.total_ratings), (2, 3));
        assert!((s.description_match_average - 4.5).abs() < 1e-9);
        assert!((s.service_average - 4.0).abs() < 1e-9);
        assert!((s.logistics_average - 3.0).abs() < 1e-9);
        let empty = DsrSummary::from_ratings(merchant, month.next().next().next(), &ratings);
        assert_eq!((empty.counted_ratings, empty.service_average), (0, 0.0));
    }
}
