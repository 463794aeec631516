//! Who may open which case on which order lines, and when.
//!
//! A request outside the rules is refused with the rule named, never silently accepted.

use super::case::Case;
use super::enums::{CaseType, ReasonCode, ShipmentState};
use super::ids::{CaseId, OrderLineId};
use super::order::{OrderSnapshot, Window};
use super::refund::claimed_quantity;
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};

/// What eligibility looks at in a request.
#[derive(Debug, Clone, Copy)]
pub struct EligibilityQuery<'a> {
    pub case_id: CaseId,
    pub case_type: CaseType,
    pub reason: ReasonCode,
    pub has_evidence: bool,
    /// `(line, quantity)` of each item.
    pub items: &'a [(OrderLineId, u32)],
}

/// Checks a request against the order replica and the other cases of the order.
///
/// Rules, in order: `order_canceled`, `case_type_not_allowed_for_reason`, `order_not_delivered`,
/// `order_already_delivered`, `evidence_required`, `line_not_no_reason_eligible`,
/// `no_reason_window_expired`, `quality_window_expired`, `warranty_expired`,
/// `line_has_open_case`, `quantity_exceeds_available`.
pub fn check_eligibility(
    order: &OrderSnapshot,
    request: &EligibilityQuery<'_>,
    others: &[Case],
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let EligibilityQuery {
        case_id,
        case_type,
        reason,
        has_evidence,
        items,
    } = *request;
    if order.canceled {
        return Err(DomainError::rule(
            "order_canceled",
            "the order was canceled; there is nothing left to return",
        ));
    }
    check_type_for_reason(case_type, reason)?;
    let delivered = order.shipment_state == ShipmentState::Delivered;
    let needs_delivery = !matches!(case_type, CaseType::RefundOnly) || reason.is_quality_like();
    if needs_delivery && !delivered {
        return Err(DomainError::rule(
            "order_not_delivered",
            format!("a {case_type} case for {reason} needs the order to be delivered"),
        ));
    }
    if reason == ReasonCode::NotReceived && delivered {
        return Err(DomainError::rule(
            "order_already_delivered",
            "the order was signed for; choose another reason",
        ));
    }
    if reason.requires_evidence() && !has_evidence {
        return Err(DomainError::rule(
            "evidence_required",
            format!("a {reason} request needs photo or video evidence"),
        ));
    }
    for (i, (line_id, qty)) in items.iter().enumerate() {
        let line = order.line(*line_id).ok_or_else(|| {
            DomainError::field(format!("items[{i}].line_id"), "is not a line of the order")
        })?;
        if let (true, Some(signed_at)) = (delivered, order.signed_at) {
            check_window(reason, case_type, line.policy.no_reason_eligible, || {
                line.policy.window(signed_at, now)
            })?;
        }
        if others
            .iter()
            .any(|c| c.id != case_id && c.status.is_open() && c.has_line(*line_id))
        {
            return Err(DomainError::rule(
                "line_has_open_case",
                format!("line {line_id} already has an open after-sale case"),
            ));
        }
        let available = line
            .quantity
            .saturating_sub(claimed_quantity(case_id, *line_id, others));
        if *qty > available {
            return Err(DomainError::rule(
                "quantity_exceeds_available",
                format!(
                    "line {line_id} has {available} units left for after-sale, {qty} requested"
                ),
            ));
        }
    }
    Ok(())
}

fn check_type_for_reason(case_type: CaseType, reason: ReasonCode) -> Result<(), DomainError> {
    use ReasonCode::*;
    let ok = match case_type {
        CaseType::RefundOnly => true,
        CaseType::ReturnRefund | CaseType::Exchange => !matches!(reason, NotReceived | MissingItem),
        CaseType::Reship => matches!(reason, MissingItem | WrongItem),
        CaseType::Compensation => reason.is_quality_like(),
    };
    if ok {
        Ok(())
    } else {
        Err(DomainError::rule(
            "case_type_not_allowed_for_reason",
            format!("a {case_type} case cannot be opened for {reason}"),
        ))
    }
}

fn check_window(
    reason: ReasonCode,
    case_type: CaseType,
    eligible: bool,
    window: impl Fn() -> Window,
) -> Result<(), DomainError> {
    if reason == ReasonCode::NoReason {
        if !eligible {
            return Err(DomainError::rule(
                "line_not_no_reason_eligible",
                "this product category is excluded from no-reason returns",
            ));
        }
        if window() != Window::NoReason {
            return Err(DomainError::rule(
                "no_reason_window_expired",
                "the no-reason return window has passed",
            ));
        }
    } else if reason.is_quality_like() {
        match window() {
            Window::NoReason | Window::Quality => {}
            // Past the quality window only compensation is handled here; repairs go to repairs.
            Window::Warranty if case_type == CaseType::Compensation => {}
            Window::Warranty => {
                return Err(DomainError::rule(
                    "quality_window_expired",
                    "past the quality window only compensation or a repair is possible",
                ));
            }
            Window::Expired => {
                return Err(DomainError::rule(
                    "warranty_expired",
                    "the warranty has ended",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::fixtures::{case_on, ids};
    use crate::domain::enums::CaseStatus;
    use crate::domain::order::fixtures::*;
    use chrono::Duration;

    fn check(
        o: &OrderSnapshot,
        t: CaseType,
        r: ReasonCode,
        ev: bool,
        qty: u32,
        others: &[Case],
        now: DateTime<Utc>,
    ) -> Result<(), Option<&'static str>> {
        let items = [(o.lines[0].line_id, qty)];
        check_eligibility(
            o,
            &EligibilityQuery {
                case_id: ids(8),
                case_type: t,
                reason: r,
                has_evidence: ev,
                items: &items,
            },
            others,
            now,
        )
        .map_err(|e| e.rule_name())
    }

    #[test]
    fn type_reason_matrix() {
        use CaseType::*;
        use ReasonCode::*;
        let o = order();
        let now = t0() + Duration::days(1);
        let bad = Err(Some("case_type_not_allowed_for_reason"));
        let cases = [
            (RefundOnly, NoReason, Ok(())),
            (ReturnRefund, NoReason, Ok(())),
            (ReturnRefund, MissingItem, bad),
            (Exchange, Quality, Ok(())),
            (Exchange, NotReceived, bad),
            (Reship, MissingItem, Ok(())),
            (Reship, WrongItem, Ok(())),
            (Reship, Quality, bad),
            (Compensation, Quality, Ok(())),
            (Compensation, NoReason, bad),
            (
                RefundOnly,
                NotReceived,
                Err(Some("order_already_delivered")),
            ),
        ];
        for (t, r, want) in cases {
            assert_eq!(check(&o, t, r, true, 1, &[], now), want, "{t} {r}");
        }
    }

    #[test]
    fn shipment_state_rules() {
        use CaseType::*;
        use ReasonCode::*;
        let now = t0();
        let cases = [
            (ShipmentState::NotShipped, RefundOnly, NotReceived, Ok(())),
            (ShipmentState::NotShipped, RefundOnly, NoReason, Ok(())),
            (ShipmentState::InTransit, RefundOnly, NotReceived, Ok(())),
            (
                ShipmentState::InTransit,
                RefundOnly,
                Quality,
                Err(Some("order_not_delivered")),
            ),
            (
                ShipmentState::InTransit,
                ReturnRefund,
                NoReason,
                Err(Some("order_not_delivered")),
            ),
            (
                ShipmentState::NotShipped,
                Exchange,
                Quality,
                Err(Some("order_not_delivered")),
            ),
            (
                ShipmentState::InTransit,
                Reship,
                MissingItem,
                Err(Some("order_not_delivered")),
            ),
        ];
        for (state, t, r, want) in cases {
            let mut o = order();
            o.shipment_state = state;
            o.signed_at = None;
            assert_eq!(check(&o, t, r, true, 1, &[], now), want, "{state} {t} {r}");
        }
    }

    #[test]
    fn evidence_required_for_quality_damage_wrong_item() {
        use ReasonCode::*;
        let o = order();
        for (r, t, needs) in [
            (Quality, CaseType::ReturnRefund, true),
            (Damaged, CaseType::ReturnRefund, true),
            (WrongItem, CaseType::Reship, true),
            (NotAsDescribed, CaseType::RefundOnly, true),
            (MissingItem, CaseType::Reship, false),
            (NoReason, CaseType::ReturnRefund, false),
        ] {
            let want = if needs {
                Err(Some("evidence_required"))
            } else {
                Ok(())
            };
            assert_eq!(check(&o, t, r, false, 1, &[], t0()), want, "{r}");
            assert_eq!(check(&o, t, r, true, 1, &[], t0()), Ok(()), "{r}");
        }
    }

    #[test]
    fn windows_with_boundaries() {
        use CaseType::*;
        use ReasonCode::*;
        let o = order();
        let at = |d: i64, s: i64| t0() + Duration::days(d) + Duration::seconds(s);
        let cases = [
            (ReturnRefund, NoReason, at(7, 0), Ok(())),
            (
                ReturnRefund,
                NoReason,
                at(7, 1),
                Err(Some("no_reason_window_expired")),
            ),
            (
                RefundOnly,
                NoReason,
                at(30, 0),
                Err(Some("no_reason_window_expired")),
            ),
            (ReturnRefund, Quality, at(15, 0), Ok(())),
            (
                ReturnRefund,
                Quality,
                at(15, 1),
                Err(Some("quality_window_expired")),
            ),
            (
                Exchange,
                Damaged,
                at(15, 1),
                Err(Some("quality_window_expired")),
            ),
            (Compensation, Quality, at(15, 1), Ok(())),
            (Compensation, Quality, at(365, 0), Ok(())),
            (
                Compensation,
                Quality,
                at(365, 1),
                Err(Some("warranty_expired")),
            ),
            (
                ReturnRefund,
                Quality,
                at(400, 0),
                Err(Some("warranty_expired")),
            ),
        ];
        for (t, r, now, want) in cases {
            assert_eq!(check(&o, t, r, true, 1, &[], now), want, "{t} {r} {now}");
        }
    }

    #[test]
    fn excluded_category_refuses_no_reason_only() {
        let mut o = order();
        o.lines[0].policy.no_reason_eligible = false;
        let got = check(
            &o,
            CaseType::ReturnRefund,
            ReasonCode::NoReason,
            false,
            1,
            &[],
            t0(),
        );
        assert_eq!(got, Err(Some("line_not_no_reason_eligible")));
        let got = check(
            &o,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            true,
            1,
            &[],
            t0(),
        );
        assert_eq!(got, Ok(()));
    }

    #[test]
    fn canceled_order_refuses_every_case() {
        let mut o = order();
        o.canceled = true;
        o.shipment_state = ShipmentState::NotShipped;
        o.signed_at = None;
        let got = check(
            &o,
            CaseType::RefundOnly,
            ReasonCode::NotReceived,
            false,
            1,
            &[],
            t0(),
        );
        assert_eq!(got, Err(Some("order_canceled")));
    }

    #[test]
    fn one_open_case_per_line_and_quantities() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let mut other = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
        let cases = [
            (
                CaseStatus::PendingMerchant,
                1,
                Err(Some("line_has_open_case")),
            ),
            (CaseStatus::Rejected, 1, Err(Some("line_has_open_case"))),
            (CaseStatus::Completed, 1, Ok(())),
            (
                CaseStatus::Completed,
                2,
                Err(Some("quantity_exceeds_available")),
            ),
            (CaseStatus::Withdrawn, 2, Ok(())),
            (CaseStatus::Closed, 2, Ok(())),
        ];
        for (status, qty, want) in cases {
            other.status = status;
            let got = check(
                &o,
                CaseType::ReturnRefund,
                ReasonCode::Quality,
                true,
                qty,
                &[other.clone()],
                t0(),
            );
            assert_eq!(got, want, "{status} {qty}");
        }
        assert_eq!(
            check(
                &o,
                CaseType::ReturnRefund,
                ReasonCode::Quality,
                true,
                3,
                &[],
                t0()
            ),
            Err(Some("quantity_exceeds_available"))
        );
    }
}
