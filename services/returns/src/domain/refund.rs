//! The refund calculator: refund amounts are computed, never typed.
//!
//! item price minus its share of the order discounts, plus the forward shipping when the merchant
//! is at fault, minus return shipping for a no-reason return without free-return privilege.
//! The total across all cases of an order never exceeds what was paid (`refund_cap_exceeded`).

use super::case::Case;
use super::enums::{CaseStatus, ReasonCode, Responsibility};
use super::ids::{CaseId, OrderLineId};
use super::order::{OrderLineSnapshot, OrderSnapshot, money_err};
use super::policy::Settings;
use aftersales_kernel::{DomainError, Money};
use serde::{Deserialize, Serialize};

/// How a case's refund amount is made up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundBreakdown {
    /// Sum of the items: unit price x quantity minus their share of discounts.
    pub items_amount: Money,
    /// Forward shipping refunded because the merchant is at fault (once per order).
    pub shipping_refund: Money,
    /// Return shipping the buyer bears (no-reason return without free-return privilege).
    pub return_shipping_deduction: Money,
    /// `items_amount + shipping_refund - return_shipping_deduction`, never below zero.
    pub total: Money,
}

/// What the calculator needs to know about the request.
#[derive(Debug, Clone, Copy)]
pub struct RefundQuery<'a> {
    pub case_id: CaseId,
    /// `(line, quantity)` of each item, in item order.
    pub items: &'a [(OrderLineId, u32)],
    pub reason: ReasonCode,
    pub responsibility: Responsibility,
    /// The goods travel back to the warehouse (return shipping applies).
    pub return_required: bool,
}

/// Computes the breakdown and the amount of each item (same order as `query.items`).
///
/// Discounts are allocated per unit so that the units of a line refunded across several cases
/// add up exactly to the line's net amount: the units already claimed by other live cases get the
/// first part of the discount. `others` are the other cases of the same order.
pub fn compute_refund(
    order: &OrderSnapshot,
    query: RefundQuery<'_>,
    others: &[Case],
    settings: &Settings,
) -> Result<(RefundBreakdown, Vec<Money>), DomainError> {
    let zero = Money::zero(order.currency);
    let mut items_amount = zero;
    let mut per_item = Vec::with_capacity(query.items.len());
    let mut all_free_return = true;
    for (i, (line_id, qty)) in query.items.iter().enumerate() {
        let line = order.line(*line_id).ok_or_else(|| {
            DomainError::field(format!("items[{i}].line_id"), "is not a line of the order")
        })?;
        all_free_return &= line.policy.free_return;
        let before = claimed_quantity(query.case_id, *line_id, others);
        let amount = units_amount(line, before, *qty)?;
        items_amount = items_amount.checked_add(amount).map_err(money_err)?;
        per_item.push(amount);
    }
    let shipping_claimed = others.iter().any(|c| {
        c.id != query.case_id && c.claims_quantity() && c.refund.shipping_refund.minor() > 0
    });
    let shipping_refund = if query.responsibility == Responsibility::Merchant && !shipping_claimed {
        order.shipping_fee
    } else {
        zero
    };
    let return_shipping_deduction =
        if query.reason == ReasonCode::NoReason && query.return_required && !all_free_return {
            Money::new(settings.return_shipping_fee_minor, order.currency).map_err(money_err)?
        } else {
            zero
        };
    let total = items_amount
        .checked_add(shipping_refund)
        .and_then(|m| m.saturating_sub(return_shipping_deduction))
        .map_err(money_err)?;
    Ok((
        RefundBreakdown {
            items_amount,
            shipping_refund,
            return_shipping_deduction,
            total,
        },
        per_item,
    ))
}

/// Units of a line held by other cases that still claim quantity (not withdrawn or closed).
pub fn claimed_quantity(this: CaseId, line: OrderLineId, others: &[Case]) -> u32 {
    others
        .iter()
        .filter(|c| c.id != this && c.claims_quantity())
        .flat_map(|c| c.items.iter())
        .filter(|i| i.line_id == line)
        .map(|i| i.quantity)
        .sum()
}

/// Amount of `qty` units of a line after the `before` units already claimed.
fn units_amount(line: &OrderLineSnapshot, before: u32, qty: u32) -> Result<Money, DomainError> {
    let gross = line
        .unit_price
        .checked_mul(i64::from(qty))
        .map_err(money_err)?;
    let d = i128::from(line.discount_share.minor());
    let q = i128::from(line.quantity.max(1));
    let alloc = |k: u32| d * i128::from(k.min(line.quantity)) / q;
    let discount = alloc(before.saturating_add(qty)) - alloc(before);
    let discount = i64::try_from(discount)
        .map_err(|_| DomainError::rule("amount_out_of_range", "discount share out of range"))?;
    gross
        .saturating_sub(Money::new(discount, line.discount_share.currency()).map_err(money_err)?)
        .map_err(money_err)
}

/// Refuses `amount` for case `this` when, together with what the other cases of the order have
/// committed, it would exceed what the buyer paid.
pub fn check_refund_cap(
    order_paid: Money,
    this: CaseId,
    amount: Money,
    others: &[Case],
) -> Result<(), DomainError> {
    let mut total = amount;
    for c in others.iter().filter(|c| c.id != this) {
        total = total.checked_add(c.committed_amount()).map_err(money_err)?;
    }
    if total.minor() > order_paid.minor() {
        return Err(DomainError::rule(
            "refund_cap_exceeded",
            format!("refunds of the order would total {total}, more than the {order_paid} paid"),
        ));
    }
    Ok(())
}

/// Statuses in which a case's amount is not (or no longer) owed to the buyer.
pub(crate) fn owes_nothing(status: CaseStatus) -> bool {
    matches!(
        status,
        CaseStatus::Rejected | CaseStatus::Withdrawn | CaseStatus::Closed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::fixtures::{case_on, ids};
    use crate::domain::enums::CaseType;
    use crate::domain::order::fixtures::*;

    fn query(
        items: &[(OrderLineId, u32)],
        reason: ReasonCode,
        resp: Responsibility,
        ret: bool,
    ) -> RefundQuery<'_> {
        RefundQuery {
            case_id: ids(8),
            items,
            reason,
            responsibility: resp,
            return_required: ret,
        }
    }

    #[test]
    fn calculator_table() {
        let o = order();
        let (l1, l2) = (o.lines[0].line_id, o.lines[1].line_id);
        let s = Settings::default();
        use ReasonCode::*;
        use Responsibility::*;
        // (items, reason, responsibility, return, free_return on line 1, want items, ship, deduct, total)
        type Row = (
            Vec<(OrderLineId, u32)>,
            ReasonCode,
            Responsibility,
            bool,
            bool,
            [i64; 4],
        );
        let cases: Vec<Row> = vec![
            (
                vec![(l1, 1)],
                NoReason,
                Buyer,
                true,
                false,
                [9_000, 0, 1_000, 8_000],
            ),
            (
                vec![(l1, 1)],
                NoReason,
                Buyer,
                true,
                true,
                [9_000, 0, 0, 9_000],
            ),
            (
                vec![(l1, 1)],
                NoReason,
                Buyer,
                false,
                false,
                [9_000, 0, 0, 9_000],
            ),
            (
                vec![(l1, 2)],
                Quality,
                Merchant,
                true,
                false,
                [18_000, 1_000, 0, 19_000],
            ),
            (
                vec![(l1, 2), (l2, 1)],
                Quality,
                Merchant,
                true,
                false,
                [23_000, 1_000, 0, 24_000],
            ),
            (
                vec![(l1, 2), (l2, 1)],
                Damaged,
                Courier,
                true,
                false,
                [23_000, 0, 0, 23_000],
            ),
            // Mixed privileges: deducted unless every line has free return.
            (
                vec![(l1, 1), (l2, 1)],
                NoReason,
                Buyer,
                true,
                true,
                [14_000, 0, 1_000, 13_000],
            ),
        ];
        for (items, reason, resp, ret, free, want) in cases {
            let mut o = order();
            o.lines[0].policy.free_return = free;
            let (b, per) = compute_refund(&o, query(&items, reason, resp, ret), &[], &s).unwrap();
            let got = [
                b.items_amount.minor(),
                b.shipping_refund.minor(),
                b.return_shipping_deduction.minor(),
                b.total.minor(),
            ];
            assert_eq!(got, want, "{items:?} {reason} {resp} {ret} {free}");
            assert_eq!(per.iter().map(Money::minor).sum::<i64>(), want[0]);
        }
    }

    #[test]
    fn deduction_never_makes_total_negative() {
        let mut o = order();
        o.lines[1].unit_price = cny(500);
        let l2 = o.lines[1].line_id;
        let items = [(l2, 1)];
        let (b, _) = compute_refund(
            &o,
            query(&items, ReasonCode::NoReason, Responsibility::Buyer, true),
            &[],
            &Settings::default(),
        )
        .unwrap();
        assert_eq!(b.total.minor(), 0);
    }

    #[test]
    fn unknown_line_names_the_item() {
        let o = order();
        let items = [(OrderLineId(uuid::Uuid::from_u128(77)), 1)];
        let err = compute_refund(
            &o,
            query(&items, ReasonCode::Quality, Responsibility::Merchant, true),
            &[],
            &Settings::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DomainError::field("items[0].line_id", "is not a line of the order")
        );
    }

    #[test]
    fn discount_is_allocated_exactly_across_cases() {
        // 3 units, 100 discount: 33 + 33 + 34 (never 33 x 3 = 99).
        let mut o = order();
        o.lines[0] = line(1, 3, 1_000, 100);
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let mut others = Vec::new();
        let mut total = 0;
        for n in 0..3u128 {
            let items = [(l1, 1)];
            let mut q = query(&items, ReasonCode::Quality, Responsibility::Courier, true);
            q.case_id = ids(50 + n);
            let (b, _) = compute_refund(&o, q, &others, &s).unwrap();
            total += b.items_amount.minor();
            let mut c = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
            c.id = q.case_id;
            others.push(c);
        }
        assert_eq!(total, 3 * 1_000 - 100);
    }

    #[test]
    fn shipping_is_refunded_once_per_order() {
        let o = order();
        let (l1, l2) = (o.lines[0].line_id, o.lines[1].line_id);
        let s = Settings::default();
        let mut first = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
        assert_eq!(first.refund.shipping_refund.minor(), 1_000);
        let items = [(l2, 1)];
        let q = query(&items, ReasonCode::Quality, Responsibility::Merchant, true);
        let (b, _) = compute_refund(&o, q, std::slice::from_ref(&first), &s).unwrap();
        assert_eq!(b.shipping_refund.minor(), 0);
        first.status = CaseStatus::Withdrawn;
        let (b, _) = compute_refund(&o, q, &[first], &s).unwrap();
        assert_eq!(
            b.shipping_refund.minor(),
            1_000,
            "a withdrawn case frees the shipping"
        );
    }

    #[test]
    fn refund_cap_boundaries() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let mut other = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        other.requested_amount = cny(20_000);
        let cases = [
            (4_000, Some(other.clone()), true),
            (4_001, Some(other.clone()), false),
            (24_000, None, true),
            (24_001, None, false),
        ];
        for (amount, other, ok) in cases {
            let others: Vec<_> = other.into_iter().collect();
            let got = check_refund_cap(o.paid_amount, ids(8), cny(amount), &others);
            assert_eq!(got.is_ok(), ok, "{amount}");
            if !ok {
                assert_eq!(got.unwrap_err().rule_name(), Some("refund_cap_exceeded"));
            }
        }
        // Rejected, withdrawn or closed cases commit nothing; exchanges commit nothing until refunding.
        let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        c.requested_amount = cny(24_000);
        for (status, commits) in [
            (CaseStatus::PendingMerchant, true),
            (CaseStatus::Rejected, false),
            (CaseStatus::Withdrawn, false),
            (CaseStatus::Closed, false),
        ] {
            c.status = status;
            let got = check_refund_cap(o.paid_amount, ids(8), cny(1), std::slice::from_ref(&c));
            assert_eq!(got.is_err(), commits, "{status}");
        }
        let mut ex = case_on(&o, CaseType::Exchange, ReasonCode::Quality, &[(l1, 1)]);
        ex.requested_amount = cny(24_000);
        assert!(check_refund_cap(o.paid_amount, ids(8), cny(1), &[ex]).is_ok());
    }
}
