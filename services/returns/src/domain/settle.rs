//! Money and goods moving: interception, refund, replacement, completion (driven by the
//! orchestrator).
//!
//! ```text
//! APPROVED | INSPECTED --mark_refunding--> REFUNDING --record_refunded, complete--> COMPLETED
//! APPROVED (reship) | INSPECTED (exchange) --replacement shipped--> REPLACEMENT_SHIPPED --> COMPLETED
//! ```
//! Money movement is refused while an arbitration is open (`arbitration_open`).

use super::actor::Actor;
use super::case::Case;
use super::enums::{
    CaseStatus, CaseType, InspectionStatus, InterceptionStatus, ReceptionStatus, ShipmentState,
};
use super::event::CaseEvent;
use super::refund::check_refund_cap;
use super::validate;
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};

impl Case {
    /// Refund-only in transit: the courier interception's progress. `FAILED` (delivered anyway)
    /// lets the buyer convert to return+refund. Rules: `interception_not_applicable`,
    /// `interception_already_final`.
    pub fn record_interception(
        &mut self,
        actor: &Actor,
        status: InterceptionStatus,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if !(self.case_type == CaseType::RefundOnly
            && self.shipment_state_at_request == ShipmentState::InTransit)
        {
            return Err(DomainError::rule(
                "interception_not_applicable",
                "only a refund-only case on a parcel in transit is intercepted",
            ));
        }
        self.require(
            &[
                CaseStatus::PendingMerchant,
                CaseStatus::Negotiating,
                CaseStatus::Approved,
            ],
            "record an interception for",
        )?;
        match (self.interception, status) {
            (None, _)
            | (Some(InterceptionStatus::Requested), InterceptionStatus::Intercepted)
            | (Some(InterceptionStatus::Requested), InterceptionStatus::Failed) => {}
            (Some(current), _) => {
                return Err(DomainError::rule(
                    "interception_already_final",
                    format!("interception is {current}, cannot become {status}"),
                ));
            }
        }
        self.interception = Some(status);
        let s = self.status;
        Ok(vec![self.move_to(
            s,
            CaseEvent::InterceptionUpdated,
            actor,
            now,
            Some(status.to_string()),
        )])
    }

    /// What the buyer is owed now: a staff override, else an arbitration award, else (with a
    /// return leg, once inspected) the accepted items, else the approved amount.
    pub fn refund_due(&self) -> Money {
        if let Some(o) = &self.amount_override {
            return o.amount;
        }
        if let Some(award) = self.arbitration.as_ref().and_then(|a| a.award()) {
            return award;
        }
        if self.return_required && self.status == CaseStatus::Inspected {
            return self.inspection_settlement();
        }
        self.approved_amount.unwrap_or(self.requested_amount)
    }

    /// Accepted items (short deliveries pro rata) and items lost by the courier are refunded;
    /// rejected and wrong items are not. Shipping parts apply only when something is refunded.
    pub fn inspection_settlement(&self) -> Money {
        let zero = Money::zero(self.requested_amount.currency());
        let mut items = 0i128;
        for i in &self.items {
            let q = i128::from(i.quantity.max(1));
            items += match (i.reception, i.inspection) {
                (ReceptionStatus::Lost, _) => i128::from(i.refund_amount.minor()),
                (
                    ReceptionStatus::Received | ReceptionStatus::Short,
                    InspectionStatus::Accepted,
                ) => i128::from(i.refund_amount.minor()) * i128::from(i.received_quantity) / q,
                _ => 0,
            };
        }
        if items == 0 {
            return zero;
        }
        let total = items + i128::from(self.refund.shipping_refund.minor())
            - i128::from(self.refund.return_shipping_deduction.minor());
        let capped = total.clamp(
            0,
            i128::from(
                self.approved_amount
                    .unwrap_or(self.requested_amount)
                    .minor(),
            ),
        );
        i64::try_from(capped)
            .ok()
            .and_then(|m| Money::new(m, zero.currency()).ok())
            .unwrap_or(zero)
    }

    /// Money starts to move (pivot): fixes `refund_amount`. Rules: `arbitration_open`,
    /// `interception_not_confirmed`, `nothing_to_refund`, `refund_cap_exceeded`.
    pub fn mark_refunding(
        &mut self,
        actor: &Actor,
        order_paid: Money,
        others: &[Case],
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(
            &[CaseStatus::Approved, CaseStatus::Inspected],
            "start refunding",
        )?;
        self.require_not_frozen()?;
        if self.case_type == CaseType::RefundOnly
            && self.shipment_state_at_request == ShipmentState::InTransit
            && self.interception != Some(InterceptionStatus::Intercepted)
        {
            return Err(DomainError::rule(
                "interception_not_confirmed",
                "the parcel must be intercepted before a refund-only case in transit is refunded",
            ));
        }
        let amount = self.refund_due();
        if amount.minor() == 0 {
            return Err(DomainError::rule(
                "nothing_to_refund",
                "no item of the case is refundable",
            ));
        }
        check_refund_cap(order_paid, self.id, amount, others)?;
        self.refund_amount = Some(amount);
        let note = Some(format!("refund {amount}"));
        Ok(vec![self.move_to(
            CaseStatus::Refunding,
            CaseEvent::Refunding,
            actor,
            now,
            note,
        )])
    }

    /// Payments confirmed the refund. Rules: `refund_already_recorded`,
    /// `refunded_amount_exceeds_due`.
    pub fn record_refunded(
        &mut self,
        actor: &Actor,
        amount: Money,
        refund_reference: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reference = validate::required_short_text("refund_id", refund_reference)?;
        self.require_currency("amount", amount)?;
        self.require(&[CaseStatus::Refunding], "record a refund for")?;
        if self.refunded_amount.is_some() {
            return Err(DomainError::rule(
                "refund_already_recorded",
                "the refund is already recorded",
            ));
        }
        let due = self.refund_amount.unwrap_or(self.requested_amount);
        if amount.minor() > due.minor() {
            return Err(DomainError::rule(
                "refunded_amount_exceeds_due",
                format!("refunded {amount} is more than the {due} due"),
            ));
        }
        self.refunded_amount = Some(amount);
        self.refund_reference = Some(reference);
        let s = self.status;
        Ok(vec![self.move_to(
            s,
            CaseEvent::Refunded,
            actor,
            now,
            Some(format!("refunded {amount}")),
        )])
    }

    /// The replacement (exchange, after inspection) or reship (after approval) left the
    /// warehouse. Rules: `replacement_not_applicable`, `no_accepted_items`, `arbitration_open`.
    pub fn mark_replacement_shipped(
        &mut self,
        actor: &Actor,
        shipment_ref: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let shipment_ref = validate::required_short_text("shipment_id", shipment_ref)?;
        match self.case_type {
            CaseType::Reship => self.require(&[CaseStatus::Approved], "ship a reship for")?,
            CaseType::Exchange => {
                self.require(&[CaseStatus::Inspected], "ship a replacement for")?;
                if !self
                    .items
                    .iter()
                    .any(|i| i.inspection == InspectionStatus::Accepted)
                {
                    return Err(DomainError::rule(
                        "no_accepted_items",
                        "no returned item passed inspection",
                    ));
                }
            }
            t => {
                return Err(DomainError::rule(
                    "replacement_not_applicable",
                    format!("a {t} case has no replacement"),
                ));
            }
        }
        self.require_not_frozen()?;
        self.replacement_shipment_ref = Some(shipment_ref);
        Ok(vec![self.move_to(
            CaseStatus::ReplacementShipped,
            CaseEvent::ReplacementShipped,
            actor,
            now,
            None,
        )])
    }

    /// Closes a finished case: refunded, replacement shipped, or inspected with nothing due
    /// (rejected items go back). Rules: `refund_not_recorded`, `refund_due_first`.
    pub fn complete(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(
            &[
                CaseStatus::Refunding,
                CaseStatus::ReplacementShipped,
                CaseStatus::Inspected,
            ],
            "complete",
        )?;
        self.require_not_frozen()?;
        match self.status {
            CaseStatus::Refunding if self.refunded_amount.is_none() => {
                return Err(DomainError::rule(
                    "refund_not_recorded",
                    "the refund is not confirmed yet",
                ));
            }
            CaseStatus::Inspected
                if self.case_type != CaseType::Exchange && self.refund_due().minor() > 0 =>
            {
                return Err(DomainError::rule(
                    "refund_due_first",
                    format!("{} is due to the buyer; refund it first", self.refund_due()),
                ));
            }
            CaseStatus::Inspected
                if self.case_type == CaseType::Exchange
                    && self
                        .items
                        .iter()
                        .any(|i| i.inspection == InspectionStatus::Accepted) =>
            {
                return Err(DomainError::rule(
                    "refund_due_first",
                    "accepted items must be replaced or refunded first",
                ));
            }
            _ => {}
        }
        Ok(vec![self.move_to(
            CaseStatus::Completed,
            CaseEvent::Completed,
            actor,
            now,
            None,
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::fixtures::*;
    use crate::domain::enums::ReasonCode;
    use crate::domain::items::tests::{good, in_transit, warehouse};
    use crate::domain::order::fixtures::*;
    use crate::domain::policy::Settings;
    use chrono::Duration;

    fn at() -> DateTime<Utc> {
        t0() + Duration::days(4)
    }

    fn sys() -> Actor {
        Actor::system("orchestrator")
    }

    /// The two-item return with item 0 (2 x 90.00 net) and item 1 (50.00) received and inspected.
    fn inspected(a: InspectionStatus, b: InspectionStatus) -> Case {
        let mut c = in_transit();
        let w = warehouse();
        for (idx, r) in [(0, a), (1, b)] {
            let id = c.items[idx].id;
            c.record_item_receipt(&w, id, ReceptionStatus::Received, 0, at())
                .unwrap();
            c.submit_inspection(&w, id, r, good(), at()).unwrap();
        }
        assert_eq!(c.status, CaseStatus::Inspected);
        c
    }

    #[test]
    fn settlement_refunds_accepted_items_only() {
        use InspectionStatus::*;
        // Requested: 180.00 + 50.00 + 10.00 shipping (merchant at fault) = 240.00.
        let cases = [
            (Accepted, Accepted, 24_000),
            (Accepted, Rejected, 19_000),
            (Rejected, Accepted, 6_000),
            (Rejected, Rejected, 0),
        ];
        for (a, b, want) in cases {
            assert_eq!(inspected(a, b).refund_due().minor(), want, "{a} {b}");
        }
        // Short delivery: 1 of 2 units accepted is half the item.
        let mut c = in_transit();
        let w = warehouse();
        let (i0, i1) = (c.items[0].id, c.items[1].id);
        c.record_item_receipt(&w, i0, ReceptionStatus::Short, 1, at())
            .unwrap();
        c.record_item_receipt(&w, i1, ReceptionStatus::Lost, 0, at())
            .unwrap();
        c.submit_inspection(&w, i0, Accepted, good(), at()).unwrap();
        assert_eq!(c.refund_due().minor(), 9_000 + 5_000 + 1_000);
    }

    #[test]
    fn mark_refunding_state_machine() {
        use CaseStatus::*;
        let o = order();
        let l1 = o.lines[0].line_id;
        for status in CaseStatus::ALL {
            let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
            c.status = *status;
            let got = c.mark_refunding(&sys(), o.paid_amount, &[], at());
            if matches!(status, Approved | Inspected) {
                assert!(got.is_ok(), "{status}: {got:?}");
                assert_eq!(c.status, Refunding);
                assert_eq!(c.refund_amount, Some(cny(10_000)));
            } else {
                assert_eq!(
                    got.unwrap_err().rule_name(),
                    Some("invalid_state_transition"),
                    "{status}"
                );
            }
        }
    }

    #[test]
    fn mark_refunding_rules() {
        let o = order();
        let l1 = o.lines[0].line_id;
        // Nothing accepted.
        let mut c = inspected(InspectionStatus::Rejected, InspectionStatus::Rejected);
        let got = c
            .mark_refunding(&sys(), o.paid_amount, &[], at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("nothing_to_refund"));
        // Cap across cases: another case already refunded 230.00 of the 240.00 paid.
        let mut c = inspected(InspectionStatus::Accepted, InspectionStatus::Rejected);
        let mut other = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        other.id = ids(77);
        other.refunded_amount = Some(cny(23_000));
        let got = c
            .mark_refunding(&sys(), o.paid_amount, &[other], at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("refund_cap_exceeded"));
        // Override wins over the computed amount.
        let mut c = inspected(InspectionStatus::Rejected, InspectionStatus::Rejected);
        c.override_amount(&staff(), cny(500), "goodwill", o.paid_amount, &[], at())
            .unwrap();
        c.mark_refunding(&sys(), o.paid_amount, &[], at()).unwrap();
        assert_eq!(c.refund_amount, Some(cny(500)));
    }

    #[test]
    fn in_transit_refund_only_waits_for_interception() {
        let mut o = order();
        o.shipment_state = ShipmentState::InTransit;
        o.signed_at = None;
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let now = t0();
        let new = new_case(CaseType::RefundOnly, ReasonCode::NotReceived, &[(l1, 1)]);
        let (mut c, _) = Case::request(new, &o, &[], buyer(&o), now, &s).unwrap();
        c.approve(&merchant(&o), now, &s).unwrap();
        let cases = [
            (None, Some("interception_not_confirmed")),
            (
                Some(InterceptionStatus::Requested),
                Some("interception_not_confirmed"),
            ),
            (
                Some(InterceptionStatus::Failed),
                Some("interception_not_confirmed"),
            ),
            (Some(InterceptionStatus::Intercepted), None),
        ];
        for (interception, want) in cases {
            let mut c = c.clone();
            c.interception = interception;
            let got = c
                .mark_refunding(&sys(), o.paid_amount, &[], now)
                .err()
                .and_then(|e| e.rule_name());
            assert_eq!(got, want, "{interception:?}");
        }
        // Interception transitions.
        use InterceptionStatus::*;
        let cases = [
            (None, Requested, true),
            (None, Intercepted, true),
            (Some(Requested), Intercepted, true),
            (Some(Requested), Failed, true),
            (Some(Requested), Requested, false),
            (Some(Intercepted), Failed, false),
            (Some(Failed), Intercepted, false),
        ];
        for (from, to, ok) in cases {
            let mut c = c.clone();
            c.interception = from;
            let got = c.record_interception(&sys(), to, now);
            assert_eq!(got.is_ok(), ok, "{from:?} -> {to}");
            if !ok {
                assert_eq!(
                    got.unwrap_err().rule_name(),
                    Some("interception_already_final")
                );
            }
        }
        let mut delivered = case_on(
            &order(),
            CaseType::RefundOnly,
            ReasonCode::Quality,
            &[(l1, 1)],
        );
        let got = delivered
            .record_interception(&sys(), Requested, now)
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("interception_not_applicable"));
    }

    #[test]
    fn refunded_then_completed() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        c.approve(&merchant(&o), at(), &s).unwrap();
        c.mark_refunding(&sys(), o.paid_amount, &[], at()).unwrap();
        let got = c.complete(&sys(), at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("refund_not_recorded"));
        let got = c
            .record_refunded(&sys(), cny(10_001), "rf-1", at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("refunded_amount_exceeds_due"));
        assert_eq!(
            c.record_refunded(&sys(), cny(10_000), "", at())
                .unwrap_err(),
            DomainError::field("refund_id", "is required")
        );
        assert_eq!(
            c.record_refunded(&sys(), cny(10_000), "rf-1", at())
                .unwrap(),
            vec![CaseEvent::Refunded]
        );
        let got = c
            .record_refunded(&sys(), cny(10_000), "rf-1", at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("refund_already_recorded"));
        assert_eq!(c.committed_amount(), cny(10_000));
        assert_eq!(
            c.complete(&sys(), at()).unwrap(),
            vec![CaseEvent::Completed]
        );
        assert_eq!(c.status, CaseStatus::Completed);
        let got = c.withdraw(&buyer(&o), None, at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("money_already_moved"));
    }

    #[test]
    fn complete_from_inspected_only_when_nothing_is_due() {
        let mut c = inspected(InspectionStatus::Rejected, InspectionStatus::Rejected);
        assert_eq!(
            c.complete(&sys(), at()).unwrap(),
            vec![CaseEvent::Completed]
        );
        let mut c = inspected(InspectionStatus::Accepted, InspectionStatus::Rejected);
        assert_eq!(
            c.complete(&sys(), at()).unwrap_err().rule_name(),
            Some("refund_due_first")
        );
        let mut c = case_on(
            &order(),
            CaseType::RefundOnly,
            ReasonCode::Quality,
            &[(order().lines[0].line_id, 1)],
        );
        assert_eq!(
            c.complete(&sys(), at()).unwrap_err().rule_name(),
            Some("invalid_state_transition")
        );
    }

    #[test]
    fn replacement_for_reship_and_exchange() {
        let o = order();
        let (l1, l2) = (o.lines[0].line_id, o.lines[1].line_id);
        let s = Settings::default();
        let m = merchant(&o);
        let w = warehouse();
        // Reship: straight after approval.
        let mut c = case_on(&o, CaseType::Reship, ReasonCode::MissingItem, &[(l1, 1)]);
        let got = c
            .mark_replacement_shipped(&sys(), "shp-1", at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("invalid_state_transition"));
        c.approve(&m, at(), &s).unwrap();
        c.mark_replacement_shipped(&sys(), "shp-1", at()).unwrap();
        assert_eq!(c.status, CaseStatus::ReplacementShipped);
        c.complete(&sys(), at()).unwrap();
        // Exchange: after inspection, with an accepted item.
        for (result, want) in [
            (InspectionStatus::Accepted, None),
            (InspectionStatus::Rejected, Some("no_accepted_items")),
        ] {
            let mut c = case_on(&o, CaseType::Exchange, ReasonCode::Quality, &[(l2, 1)]);
            c.approve(&m, at(), &s).unwrap();
            let id = c.items[0].id;
            c.record_item_receipt(&w, id, ReceptionStatus::Received, 0, at())
                .unwrap();
            c.submit_inspection(&w, id, result, good(), at()).unwrap();
            let got = c
                .mark_replacement_shipped(&sys(), "shp-2", at())
                .err()
                .and_then(|e| e.rule_name());
            assert_eq!(got, want, "{result}");
            if result == InspectionStatus::Accepted {
                // Out of stock would have been refunded instead; completed only after shipping.
                assert_eq!(c.status, CaseStatus::ReplacementShipped);
            } else {
                assert!(c.complete(&sys(), at()).is_ok());
            }
        }
        let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        c.approve(&m, at(), &s).unwrap();
        let got = c
            .mark_replacement_shipped(&sys(), "shp-3", at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("replacement_not_applicable"));
    }
}
