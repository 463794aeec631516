//! Local replica of an order, fed by the orders service's domain events.
//!
//! The returns service never calls orders synchronously; eligibility and refund rules take an
//! [`OrderSnapshot`] as input.

use super::enums::ShipmentState;
use super::ids::{BuyerId, MerchantId, OrderId, OrderLineId};
use aftersales_kernel::{Currency, DomainError, FieldViolation, Money};
use chrono::{DateTime, Months, Utc};
use serde::{Deserialize, Serialize};

/// Return policy frozen on an order line at purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySnapshot {
    /// No-reason return window in days, counted from signed-at (statutory 7).
    pub no_reason_days: u32,
    /// False for excluded categories (perishables, custom-made, digital).
    pub no_reason_eligible: bool,
    /// Quality/exchange window in days from signed-at (15).
    pub exchange_quality_days: u32,
    /// Warranty in months from signed-at (12).
    pub warranty_months: u32,
    /// Member tier or shipping insurance: no return shipping is deducted.
    pub free_return: bool,
}

impl Default for PolicySnapshot {
    fn default() -> Self {
        Self {
            no_reason_days: 7,
            no_reason_eligible: true,
            exchange_quality_days: 15,
            warranty_months: 12,
            free_return: false,
        }
    }
}

/// Where a moment falls relative to a line's policy windows (all counted from signed-at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// Within the no-reason window (and so also the quality window).
    NoReason,
    /// Past the no-reason window, within the quality/exchange window.
    Quality,
    /// Past the quality window, within the warranty.
    Warranty,
    /// Past everything.
    Expired,
}

impl PolicySnapshot {
    /// Which window `now` falls in for goods signed for at `signed_at`. Each bound is inclusive.
    pub fn window(&self, signed_at: DateTime<Utc>, now: DateTime<Utc>) -> Window {
        // Saturating: a window past the calendar's end simply never closes.
        let days = |d: u32| {
            signed_at
                .checked_add_signed(chrono::Duration::days(i64::from(d)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let warranty_end = signed_at
            .checked_add_months(Months::new(self.warranty_months))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        if now <= days(self.no_reason_days) {
            Window::NoReason
        } else if now <= days(self.exchange_quality_days) {
            Window::Quality
        } else if now <= warranty_end {
            Window::Warranty
        } else {
            Window::Expired
        }
    }
}

/// One line of the replicated order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineSnapshot {
    pub line_id: OrderLineId,
    pub sku: String,
    pub category: String,
    pub quantity: u32,
    pub unit_price: Money,
    /// This line's share of the order discounts, for the whole line quantity.
    pub discount_share: Money,
    pub policy: PolicySnapshot,
}

impl OrderLineSnapshot {
    /// What the buyer paid for the whole line: price times quantity minus the discount share.
    pub fn net_amount(&self) -> Result<Money, DomainError> {
        let gross = self
            .unit_price
            .checked_mul(i64::from(self.quantity))
            .map_err(money_err)?;
        gross.saturating_sub(self.discount_share).map_err(money_err)
    }
}

/// The returns service's replica of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSnapshot {
    pub order_id: OrderId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    /// Total the buyer paid (lines net of discounts plus shipping): the refund cap.
    pub paid_amount: Money,
    /// Forward shipping the buyer paid; refunded when the merchant is at fault.
    pub shipping_fee: Money,
    pub currency: Currency,
    pub shipped_at: Option<DateTime<Utc>>,
    /// Delivery confirmed; every after-sale window counts from here.
    pub signed_at: Option<DateTime<Utc>>,
    pub shipment_state: ShipmentState,
    /// Canceled before shipping: no after-sale case can be opened (`order_canceled`).
    #[serde(default)]
    pub canceled: bool,
    pub lines: Vec<OrderLineSnapshot>,
}

/// Bounds on policy values accepted from the orders service (the same as its config limits), so that no window
/// arithmetic can leave the calendar.
pub const MAX_WINDOW_DAYS: u32 = 3650;
pub const MAX_WARRANTY_MONTHS: u32 = 240;

impl OrderSnapshot {
    pub fn line(&self, id: OrderLineId) -> Option<&OrderLineSnapshot> {
        self.lines.iter().find(|l| l.line_id == id)
    }

    /// Checks a snapshot received from the orders service before it is stored.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v = Vec::new();
        if self.lines.is_empty() {
            v.push(FieldViolation::new("lines", "must have at least one entry"));
        }
        for (field, m) in [
            ("paid_amount", self.paid_amount),
            ("shipping_fee", self.shipping_fee),
        ] {
            if m.currency() != self.currency {
                v.push(FieldViolation::new(
                    format!("{field}.currency"),
                    "must be the order currency",
                ));
            }
        }
        if self.shipment_state == ShipmentState::Delivered && self.signed_at.is_none() {
            v.push(FieldViolation::new(
                "signed_at",
                "is required when delivered",
            ));
        }
        for (i, line) in self.lines.iter().enumerate() {
            if line.quantity == 0 {
                v.push(FieldViolation::new(
                    format!("lines[{i}].quantity"),
                    "must be at least 1",
                ));
            }
            for (field, m) in [
                ("unit_price", line.unit_price),
                ("discount_share", line.discount_share),
            ] {
                if m.currency() != self.currency {
                    v.push(FieldViolation::new(
                        format!("lines[{i}].{field}.currency"),
                        "must be the order currency",
                    ));
                }
            }
            for (field, value, max) in [
                (
                    "no_reason_days",
                    line.policy.no_reason_days,
                    MAX_WINDOW_DAYS,
                ),
                (
                    "exchange_quality_days",
                    line.policy.exchange_quality_days,
                    MAX_WINDOW_DAYS,
                ),
                (
                    "warranty_months",
                    line.policy.warranty_months,
                    MAX_WARRANTY_MONTHS,
                ),
            ] {
                if value > max {
                    v.push(FieldViolation::new(
                        format!("lines[{i}].policy.{field}"),
                        format!("must be at most {max}"),
                    ));
                }
            }
            if self.lines[..i].iter().any(|l| l.line_id == line.line_id) {
                v.push(FieldViolation::new(
                    format!("lines[{i}].line_id"),
                    "is duplicated",
                ));
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(v))
        }
    }
}

/// Money arithmetic failures inside the domain are rule violations on absurd amounts.
pub(crate) fn money_err(e: aftersales_kernel::MoneyError) -> DomainError {
    DomainError::rule("amount_out_of_range", e.to_string())
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use chrono::TimeZone;

    pub fn cny(minor: i64) -> Money {
        Money::parse(minor, "CNY").unwrap()
    }

    pub fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap()
    }

    pub fn line(n: u128, quantity: u32, unit: i64, discount: i64) -> OrderLineSnapshot {
        OrderLineSnapshot {
            line_id: OrderLineId(uuid::Uuid::from_u128(n)),
            sku: format!("SKU-{n}"),
            category: "apparel".into(),
            quantity,
            unit_price: cny(unit),
            discount_share: cny(discount),
            policy: PolicySnapshot::default(),
        }
    }

    /// A delivered order signed at `t0()`: line 1 is 2 x 100.00 with 20.00 discount, line 2 is
    /// 1 x 50.00; shipping 10.00; paid 240.00.
    pub fn order() -> OrderSnapshot {
        OrderSnapshot {
            order_id: OrderId(uuid::Uuid::from_u128(100)),
            buyer_id: BuyerId(uuid::Uuid::from_u128(200)),
            merchant_id: MerchantId(uuid::Uuid::from_u128(300)),
            paid_amount: cny(24_000),
            shipping_fee: cny(1_000),
            currency: Currency::parse("CNY").unwrap(),
            shipped_at: Some(t0() - chrono::Duration::days(2)),
            signed_at: Some(t0()),
            shipment_state: ShipmentState::Delivered,
            canceled: false,
            lines: vec![line(1, 2, 10_000, 2_000), line(2, 1, 5_000, 0)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use chrono::Duration;

    #[test]
    fn policy_windows_have_inclusive_bounds() {
        let p = PolicySnapshot::default();
        let s = t0();
        let cases = [
            (Duration::zero(), Window::NoReason),
            (Duration::days(7), Window::NoReason),
            (Duration::days(7) + Duration::seconds(1), Window::Quality),
            (Duration::days(15), Window::Quality),
            (Duration::days(15) + Duration::seconds(1), Window::Warranty),
            (Duration::days(365), Window::Warranty),
            (Duration::days(366), Window::Expired),
        ];
        for (after, want) in cases {
            assert_eq!(p.window(s, s + after), want, "{after}");
        }
    }

    #[test]
    fn windows_past_the_calendar_end_never_panic() {
        let p = PolicySnapshot {
            no_reason_days: u32::MAX,
            exchange_quality_days: u32::MAX,
            warranty_months: u32::MAX,
            ..PolicySnapshot::default()
        };
        let near_end = DateTime::<Utc>::MAX_UTC - Duration::days(1);
        assert_eq!(p.window(near_end, near_end), Window::NoReason);
        assert_eq!(
            p.window(t0(), t0() + Duration::days(10_000)),
            Window::NoReason
        );
    }

    #[test]
    fn snapshot_policy_values_are_bounded() {
        let mut o = order();
        o.lines[0].policy.no_reason_days = MAX_WINDOW_DAYS + 1;
        o.lines[0].policy.warranty_months = MAX_WARRANTY_MONTHS + 1;
        let Err(DomainError::Invalid(v)) = o.validate() else {
            panic!("expected invalid")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert!(
            fields.contains(&"lines[0].policy.no_reason_days"),
            "{fields:?}"
        );
        assert!(
            fields.contains(&"lines[0].policy.warranty_months"),
            "{fields:?}"
        );
    }

    #[test]
    fn net_amount_subtracts_discount() {
        assert_eq!(line(1, 2, 10_000, 2_000).net_amount(), Ok(cny(18_000)));
        assert_eq!(
            line(1, 1, 100, 500).net_amount(),
            Ok(cny(0)),
            "never negative"
        );
    }

    #[test]
    fn validate_snapshot() {
        assert_eq!(order().validate(), Ok(()));
        type Edit = fn(&mut OrderSnapshot);
        let cases: [(Edit, &str); 5] = [
            (|o| o.lines.clear(), "lines"),
            (|o| o.lines[1].quantity = 0, "lines[1].quantity"),
            (
                |o| o.lines[1].line_id = o.lines[0].line_id,
                "lines[1].line_id",
            ),
            (
                |o| o.shipping_fee = Money::parse(1, "USD").unwrap(),
                "shipping_fee.currency",
            ),
            (|o| o.signed_at = None, "signed_at"),
        ];
        for (edit, field) in cases {
            let mut o = order();
            edit(&mut o);
            match o.validate() {
                Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }
}
