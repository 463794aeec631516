//! Platform intervention (平台介入): a rejected or disputed case escalated by the buyer.
//!
//! ```text
//! (none) --escalate (buyer)--> AWAITING_MERCHANT_EVIDENCE --evidence | deadline--> UNDER_REVIEW
//! UNDER_REVIEW --rule--> RULED --appeal (once, either party, in the window)--> APPEALED --rule--> FINAL
//! AWAITING_MERCHANT_EVIDENCE | UNDER_REVIEW --withdraw (buyer only)--> WITHDRAWN
//! ```
//! While it is open, money movement on the case is frozen.

use super::actor::Actor;
use super::case::Case;
use super::enums::{ActorKind, ArbitrationStatus, CaseStatus, RulingOutcome};
use super::event::CaseEvent;
use super::policy::Settings;
use super::refund::check_refund_cap;
use super::validate::{self, EvidenceRef};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One platform ruling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ruling {
    pub outcome: RulingOutcome,
    /// What the buyer gets: the requested amount for the buyer, part of it for a split.
    pub buyer_amount: Option<Money>,
    pub reason: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// An appeal of the first ruling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appeal {
    pub by: Actor,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// The arbitration of a case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arbitration {
    pub status: ArbitrationStatus,
    pub opened_by: Actor,
    pub opened_at: DateTime<Utc>,
    pub reason: String,
    /// The case status when escalated; rulings act relative to it.
    pub case_status_at_escalation: CaseStatus,
    pub merchant_evidence_deadline: DateTime<Utc>,
    pub merchant_evidence: Vec<EvidenceRef>,
    pub merchant_statement: Option<String>,
    /// The first ruling and, after an appeal, the final one.
    pub rulings: Vec<Ruling>,
    pub appeal_deadline: Option<DateTime<Utc>>,
    pub appeal: Option<Appeal>,
}

impl Arbitration {
    /// The latest ruling's award to the buyer, if it awarded anything.
    pub fn award(&self) -> Option<Money> {
        self.rulings
            .last()
            .filter(|r| r.outcome != RulingOutcome::ForMerchant)
            .and_then(|r| r.buyer_amount)
    }
}

impl Case {
    /// The buyer escalates a rejected or disputed (negotiating, inspected) case. Rules:
    /// `only_buyer_escalates`, `case_not_escalatable`, `arbitration_already_open`,
    /// `arbitration_already_ruled`.
    pub fn escalate(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reason = validate::required_long_text("reason", reason)?;
        if actor.kind != ActorKind::Buyer {
            return Err(DomainError::rule(
                "only_buyer_escalates",
                "only the buyer can escalate a case",
            ));
        }
        if !matches!(
            self.status,
            CaseStatus::Rejected | CaseStatus::Negotiating | CaseStatus::Inspected
        ) {
            return Err(DomainError::rule(
                "case_not_escalatable",
                format!("a case that is {} cannot be escalated", self.status),
            ));
        }
        match self.arbitration.as_ref().map(|a| a.status) {
            Some(s) if s.is_open() => {
                return Err(DomainError::rule(
                    "arbitration_already_open",
                    "the case is already escalated",
                ));
            }
            Some(ArbitrationStatus::Ruled | ArbitrationStatus::Final) => {
                return Err(DomainError::rule(
                    "arbitration_already_ruled",
                    "the platform has ruled; appeal instead",
                ));
            }
            _ => {}
        }
        self.arbitration = Some(Arbitration {
            status: ArbitrationStatus::AwaitingMerchantEvidence,
            opened_by: actor.clone(),
            opened_at: now,
            reason: reason.clone(),
            case_status_at_escalation: self.status,
            merchant_evidence_deadline: now + settings.merchant_evidence_window(),
            merchant_evidence: Vec::new(),
            merchant_statement: None,
            rulings: Vec::new(),
            appeal_deadline: None,
            appeal: None,
        });
        let s = self.status;
        Ok(vec![self.move_to(
            s,
            CaseEvent::Escalated,
            actor,
            now,
            Some(reason),
        )])
    }

    /// The merchant's evidence, before the deadline (rules `evidence_deadline_passed`,
    /// `arbitration_not_awaiting_evidence`).
    pub fn submit_merchant_evidence(
        &mut self,
        actor: &Actor,
        evidence: Vec<EvidenceRef>,
        statement: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if evidence.is_empty() && statement.is_none() {
            return Err(DomainError::field(
                "evidence",
                "evidence or a statement is required",
            ));
        }
        validate::list_len("evidence", evidence.len(), false)?;
        let a = self.arbitration_in(
            &[ArbitrationStatus::AwaitingMerchantEvidence],
            "arbitration_not_awaiting_evidence",
        )?;
        if now > a.merchant_evidence_deadline {
            return Err(DomainError::rule(
                "evidence_deadline_passed",
                "the evidence deadline has passed",
            ));
        }
        a.merchant_evidence = evidence;
        a.merchant_statement = statement;
        a.status = ArbitrationStatus::UnderReview;
        let s = self.status;
        Ok(vec![self.move_to(
            s,
            CaseEvent::MerchantEvidenceSubmitted,
            actor,
            now,
            None,
        )])
    }

    /// Timer: the evidence deadline passed without evidence; review starts
    /// (rule `evidence_deadline_not_reached` before it).
    pub fn close_evidence_window(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let a = self.arbitration_in(
            &[ArbitrationStatus::AwaitingMerchantEvidence],
            "arbitration_not_awaiting_evidence",
        )?;
        if now <= a.merchant_evidence_deadline {
            return Err(DomainError::rule(
                "evidence_deadline_not_reached",
                "the merchant can still upload evidence",
            ));
        }
        a.status = ArbitrationStatus::UnderReview;
        let s = self.status;
        let system = Actor::system("returns");
        Ok(vec![self.move_to(
            s,
            CaseEvent::EvidenceWindowClosed,
            &system,
            now,
            None,
        )])
    }

    /// Platform staff rule. For the buyer: the requested amount; split: `buyer_amount`
    /// (0 < amount < requested, rule `split_out_of_range`); for the merchant: nothing. A ruling
    /// on a case not yet approved approves or rejects it. Rules: `arbitration_not_under_review`,
    /// `refund_cap_exceeded`.
    #[allow(clippy::too_many_arguments)]
    pub fn rule(
        &mut self,
        actor: &Actor,
        outcome: RulingOutcome,
        buyer_amount: Option<Money>,
        reason: &str,
        order_paid: Money,
        others: &[Case],
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reason = validate::required_long_text("reason", reason)?;
        let award = match (outcome, buyer_amount) {
            (RulingOutcome::Split, Some(m)) => {
                self.require_currency("buyer_amount", m)?;
                if m.minor() == 0 || m.minor() >= self.requested_amount.minor() {
                    return Err(DomainError::rule(
                        "split_out_of_range",
                        format!(
                            "a split must give the buyer between 0 and {}",
                            self.requested_amount
                        ),
                    ));
                }
                Some(m)
            }
            (RulingOutcome::Split, None) => {
                return Err(DomainError::field(
                    "buyer_amount",
                    "is required for a split",
                ));
            }
            (_, Some(_)) => {
                return Err(DomainError::field("buyer_amount", "is only for a split"));
            }
            (RulingOutcome::ForBuyer, None) => Some(self.requested_amount),
            (RulingOutcome::ForMerchant, None) => None,
        };
        self.arbitration_in(
            &[ArbitrationStatus::UnderReview, ArbitrationStatus::Appealed],
            "arbitration_not_under_review",
        )?;
        if let Some(m) = award {
            check_refund_cap(order_paid, self.id, m, others)?;
        }
        let ruling = Ruling {
            outcome,
            buyer_amount: award,
            reason: reason.clone(),
            by: actor.clone(),
            at: now,
        };
        let mut at_escalation = self.status;
        if let Some(a) = self.arbitration.as_mut() {
            a.status = if a.status == ArbitrationStatus::Appealed {
                a.appeal_deadline = None;
                ArbitrationStatus::Final
            } else {
                a.appeal_deadline = Some(now + settings.appeal_window());
                ArbitrationStatus::Ruled
            };
            a.rulings.push(ruling);
            at_escalation = a.case_status_at_escalation;
        }
        let s = self.status;
        let mut events = vec![self.move_to(s, CaseEvent::Ruled, actor, now, Some(reason.clone()))];
        let before_approval = matches!(
            at_escalation,
            CaseStatus::Rejected | CaseStatus::Negotiating | CaseStatus::PendingMerchant
        );
        if before_approval {
            self.supersede_pending_offer(now);
            match award {
                Some(m)
                    if matches!(
                        self.status,
                        CaseStatus::Rejected
                            | CaseStatus::Negotiating
                            | CaseStatus::PendingMerchant
                    ) =>
                {
                    self.approved_amount = Some(m);
                    self.rejection_reason = None;
                    events.push(self.enter_approved(
                        CaseEvent::Approved,
                        actor,
                        now,
                        settings,
                        None,
                    ));
                }
                Some(m) => self.approved_amount = Some(m),
                None if self.status != CaseStatus::Rejected => {
                    self.approved_amount = None;
                    self.rejection_reason = Some(reason.clone());
                    events.push(self.move_to(
                        CaseStatus::Rejected,
                        CaseEvent::Rejected,
                        actor,
                        now,
                        Some(reason),
                    ));
                }
                None => {}
            }
        }
        Ok(events)
    }

    /// One appeal, by the buyer or the merchant, within the appeal window and before money
    /// moved. Rules: `only_parties_appeal`, `appeal_already_used`, `arbitration_not_ruled`,
    /// `appeal_window_expired`, `money_already_moved`.
    pub fn appeal(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reason = validate::required_long_text("reason", reason)?;
        if !matches!(actor.kind, ActorKind::Buyer | ActorKind::Merchant) {
            return Err(DomainError::rule(
                "only_parties_appeal",
                "only the buyer or the merchant can appeal",
            ));
        }
        if self.status.money_moved() {
            return Err(DomainError::rule(
                "money_already_moved",
                "the ruling has been executed",
            ));
        }
        let a = match self.arbitration.as_mut() {
            Some(a) if a.status == ArbitrationStatus::Final || a.appeal.is_some() => {
                return Err(DomainError::rule(
                    "appeal_already_used",
                    "a ruling can be appealed once",
                ));
            }
            Some(a) if a.status == ArbitrationStatus::Ruled => a,
            _ => {
                return Err(DomainError::rule(
                    "arbitration_not_ruled",
                    "there is no ruling to appeal",
                ));
            }
        };
        if a.appeal_deadline.is_some_and(|d| now > d) {
            return Err(DomainError::rule(
                "appeal_window_expired",
                "the appeal window has passed",
            ));
        }
        a.appeal = Some(Appeal {
            by: actor.clone(),
            reason: reason.clone(),
            at: now,
        });
        a.status = ArbitrationStatus::Appealed;
        let s = self.status;
        Ok(vec![self.move_to(
            s,
            CaseEvent::Appealed,
            actor,
            now,
            Some(reason),
        )])
    }

    /// Only the buyer withdraws an escalation, before the ruling
    /// (rules `only_buyer_withdraws_escalation`, `no_open_arbitration`).
    pub fn withdraw_escalation(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if actor.kind != ActorKind::Buyer {
            return Err(DomainError::rule(
                "only_buyer_withdraws_escalation",
                "only the buyer can withdraw an escalation",
            ));
        }
        let a = self.arbitration_in(
            &[
                ArbitrationStatus::AwaitingMerchantEvidence,
                ArbitrationStatus::UnderReview,
            ],
            "no_open_arbitration",
        )?;
        a.status = ArbitrationStatus::Withdrawn;
        let s = self.status;
        Ok(vec![self.move_to(
            s,
            CaseEvent::EscalationWithdrawn,
            actor,
            now,
            None,
        )])
    }

    fn arbitration_in(
        &mut self,
        allowed: &[ArbitrationStatus],
        rule: &'static str,
    ) -> Result<&mut Arbitration, DomainError> {
        match self.arbitration.as_mut() {
            Some(a) if allowed.contains(&a.status) => Ok(a),
            Some(a) => Err(DomainError::rule(
                rule,
                format!("the arbitration is {}", a.status),
            )),
            None => Err(DomainError::rule(rule, "the case is not escalated")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::case::fixtures::*;
    use crate::domain::enums::{CaseType, ReasonCode};
    use crate::domain::order::fixtures::*;
    use chrono::Duration;

    fn at() -> DateTime<Utc> {
        t0() + Duration::days(2)
    }

    /// A refund-only case (100.00 requested) rejected by the merchant.
    fn rejected() -> (Case, crate::domain::order::OrderSnapshot) {
        let o = order();
        let mut c = case_on(
            &o,
            CaseType::RefundOnly,
            ReasonCode::Quality,
            &[(o.lines[0].line_id, 1)],
        );
        c.reject(&merchant(&o), "used item", at()).unwrap();
        (c, o)
    }

    fn escalated() -> (Case, crate::domain::order::OrderSnapshot) {
        let (mut c, o) = rejected();
        c.escalate(&buyer(&o), "it arrived broken", at(), &Settings::default())
            .unwrap();
        (c, o)
    }

    fn under_review() -> (Case, crate::domain::order::OrderSnapshot) {
        let (mut c, o) = escalated();
        c.submit_merchant_evidence(&merchant(&o), vec![EvidenceRef("cctv".into())], None, at())
            .unwrap();
        (c, o)
    }

    #[test]
    fn escalation_preconditions() {
        use CaseStatus::*;
        let o = order();
        let s = Settings::default();
        let cases = [
            (Rejected, Ok(())),
            (Negotiating, Ok(())),
            (Inspected, Ok(())),
            (PendingMerchant, Err(Some("case_not_escalatable"))),
            (Approved, Err(Some("case_not_escalatable"))),
            (Refunding, Err(Some("case_not_escalatable"))),
        ];
        for (status, want) in cases {
            let mut c = case_on(
                &o,
                CaseType::RefundOnly,
                ReasonCode::Quality,
                &[(o.lines[0].line_id, 1)],
            );
            c.status = status;
            let got = c.escalate(&buyer(&o), "dispute", at(), &s);
            assert_eq!(got.map(|_| ()).map_err(|e| e.rule_name()), want, "{status}");
        }
        let (mut c, _) = rejected();
        let got = c.escalate(&merchant(&o), "x", at(), &s).unwrap_err();
        assert_eq!(got.rule_name(), Some("only_buyer_escalates"));
        assert_eq!(
            c.escalate(&buyer(&o), "", at(), &s).unwrap_err(),
            DomainError::field("reason", "is required")
        );
        let (mut c, _) = escalated();
        let a = c.arbitration.as_ref().unwrap();
        assert_eq!(a.merchant_evidence_deadline, at() + Duration::hours(72));
        assert_eq!(a.case_status_at_escalation, Rejected);
        let got = c.escalate(&buyer(&o), "again", at(), &s).unwrap_err();
        assert_eq!(got.rule_name(), Some("arbitration_already_open"));
    }

    #[test]
    fn money_is_frozen_while_open() {
        let (mut c, o) = escalated();
        let s = Settings::default();
        c.status = CaseStatus::Approved;
        let sys = Actor::system("orchestrator");
        let frozen = [
            c.clone().mark_refunding(&sys, o.paid_amount, &[], at()),
            c.clone()
                .override_amount(&staff(), cny(1), "x", o.paid_amount, &[], at()),
            c.clone()
                .change_type(&buyer(&o), CaseType::ReturnRefund, &o, &[], at(), &s),
            c.clone()
                .close(&sys, "the warehouse refuted the claim", at()),
        ];
        for got in frozen {
            assert_eq!(got.unwrap_err().rule_name(), Some("arbitration_open"));
        }
        c.status = CaseStatus::PendingMerchant;
        assert_eq!(
            c.clone()
                .approve(&merchant(&o), at(), &s)
                .unwrap_err()
                .rule_name(),
            Some("arbitration_open")
        );
        // Withdrawing the case withdraws the escalation too.
        let events = c.withdraw(&buyer(&o), None, at()).unwrap();
        assert_eq!(
            events,
            vec![CaseEvent::Withdrawn, CaseEvent::EscalationWithdrawn]
        );
        assert_eq!(c.arbitration.unwrap().status, ArbitrationStatus::Withdrawn);
    }

    #[test]
    fn merchant_evidence_deadline() {
        let (c0, o) = escalated();
        let deadline = c0.arbitration.as_ref().unwrap().merchant_evidence_deadline;
        let ev = vec![EvidenceRef("video".into())];
        let cases = [
            (deadline, None),
            (
                deadline + Duration::seconds(1),
                Some("evidence_deadline_passed"),
            ),
        ];
        for (now, want) in cases {
            let mut c = c0.clone();
            let got = c.submit_merchant_evidence(&merchant(&o), ev.clone(), None, now);
            assert_eq!(got.err().and_then(|e| e.rule_name()), want);
        }
        let mut c = c0.clone();
        let got = c
            .submit_merchant_evidence(&merchant(&o), vec![], None, at())
            .unwrap_err();
        assert_eq!(
            got,
            DomainError::field("evidence", "evidence or a statement is required")
        );
        // Timer.
        let cases = [
            (deadline, Some("evidence_deadline_not_reached")),
            (deadline + Duration::seconds(1), None),
        ];
        for (now, want) in cases {
            let mut c = c0.clone();
            assert_eq!(
                c.close_evidence_window(now)
                    .err()
                    .and_then(|e| e.rule_name()),
                want
            );
        }
        let (mut c, _) = under_review();
        let got = c
            .close_evidence_window(deadline + Duration::days(1))
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("arbitration_not_awaiting_evidence"));
    }

    #[test]
    fn rulings_table() {
        use RulingOutcome::*;
        let s = Settings::default();
        // (outcome, amount, want case status, want approved, want award)
        let cases = [
            (
                ForBuyer,
                None,
                CaseStatus::Approved,
                Some(10_000),
                Some(10_000),
            ),
            (
                Split,
                Some(4_000),
                CaseStatus::Approved,
                Some(4_000),
                Some(4_000),
            ),
            (ForMerchant, None, CaseStatus::Rejected, None, None),
        ];
        for (outcome, amount, status, approved, award) in cases {
            let (mut c, o) = under_review();
            let got = c
                .rule(
                    &staff(),
                    outcome,
                    amount.map(cny),
                    "evidence",
                    o.paid_amount,
                    &[],
                    at(),
                    &s,
                )
                .unwrap();
            assert_eq!(got[0], CaseEvent::Ruled);
            assert_eq!(c.status, status, "{outcome}");
            assert_eq!(c.approved_amount.map(|m| m.minor()), approved, "{outcome}");
            let a = c.arbitration.as_ref().unwrap();
            assert_eq!(a.award().map(|m| m.minor()), award);
            assert_eq!(a.status, ArbitrationStatus::Ruled);
            assert_eq!(a.appeal_deadline, Some(at() + Duration::days(7)));
            assert!(!c.is_frozen());
        }
    }

    #[test]
    fn ruling_input_rules() {
        use RulingOutcome::*;
        let s = Settings::default();
        type Want = Result<(), Option<&'static str>>;
        let cases: [(RulingOutcome, Option<i64>, Want); 6] = [
            (Split, None, Err(None)),
            (Split, Some(0), Err(Some("split_out_of_range"))),
            (Split, Some(10_000), Err(Some("split_out_of_range"))),
            (Split, Some(9_999), Ok(())),
            (ForBuyer, Some(1), Err(None)),
            (ForMerchant, Some(1), Err(None)),
        ];
        for (outcome, amount, want) in cases {
            let (mut c, o) = under_review();
            let got = c.rule(
                &staff(),
                outcome,
                amount.map(cny),
                "r",
                o.paid_amount,
                &[],
                at(),
                &s,
            );
            assert_eq!(
                got.map(|_| ()).map_err(|e| e.rule_name()),
                want,
                "{outcome} {amount:?}"
            );
        }
        let (mut c, o) = escalated();
        let got = c
            .rule(&staff(), ForBuyer, None, "r", o.paid_amount, &[], at(), &s)
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("arbitration_not_under_review"));
        let (mut c, mut o) = under_review();
        o.paid_amount = cny(9_999);
        let got = c
            .rule(&staff(), ForBuyer, None, "r", o.paid_amount, &[], at(), &s)
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("refund_cap_exceeded"));
    }

    #[test]
    fn one_appeal_then_final() {
        use RulingOutcome::*;
        let s = Settings::default();
        let (mut c, o) = under_review();
        let got = c.appeal(&buyer(&o), "no", at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("arbitration_not_ruled"));
        c.rule(
            &staff(),
            ForMerchant,
            None,
            "merchant right",
            o.paid_amount,
            &[],
            at(),
            &s,
        )
        .unwrap();
        let deadline = c.arbitration.as_ref().unwrap().appeal_deadline.unwrap();
        let cases = [
            (staff(), deadline, Some("only_parties_appeal")),
            (
                buyer(&o),
                deadline + Duration::seconds(1),
                Some("appeal_window_expired"),
            ),
            (buyer(&o), deadline, None),
        ];
        for (actor, now, want) in cases {
            let mut c = c.clone();
            assert_eq!(
                c.appeal(&actor, "please", now)
                    .err()
                    .and_then(|e| e.rule_name()),
                want
            );
        }
        c.appeal(&buyer(&o), "new evidence", at()).unwrap();
        assert!(c.is_frozen());
        let got = c.appeal(&merchant(&o), "me too", at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("appeal_already_used"));
        // Final ruling reverses: the case is approved for the buyer.
        let ev = c
            .rule(
                &staff(),
                ForBuyer,
                None,
                "on appeal",
                o.paid_amount,
                &[],
                at(),
                &s,
            )
            .unwrap();
        assert_eq!(ev, vec![CaseEvent::Ruled, CaseEvent::Approved]);
        assert_eq!(c.status, CaseStatus::Approved);
        let a = c.arbitration.as_ref().unwrap();
        assert_eq!(a.status, ArbitrationStatus::Final);
        assert_eq!(a.rulings.len(), 2);
        assert_eq!(
            c.appeal(&merchant(&o), "again", at())
                .unwrap_err()
                .rule_name(),
            Some("appeal_already_used")
        );
        let got = c.escalate(&buyer(&o), "more", at(), &s);
        assert_eq!(got.unwrap_err().rule_name(), Some("case_not_escalatable"));
    }

    #[test]
    fn appeal_refused_after_money_moved() {
        let s = Settings::default();
        let (mut c, o) = under_review();
        c.rule(
            &staff(),
            RulingOutcome::ForBuyer,
            None,
            "ok",
            o.paid_amount,
            &[],
            at(),
            &s,
        )
        .unwrap();
        c.mark_refunding(&Actor::system("orchestrator"), o.paid_amount, &[], at())
            .unwrap();
        let got = c.appeal(&merchant(&o), "no", at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("money_already_moved"));
    }

    #[test]
    fn award_overrides_inspection() {
        use crate::domain::enums::{InspectionStatus, ReceptionStatus};
        use crate::domain::items::tests::{good, in_transit, warehouse};
        let s = Settings::default();
        let o = order();
        let mut c = in_transit();
        let w = warehouse();
        for idx in 0..2 {
            let id = c.items[idx].id;
            c.record_item_receipt(&w, id, ReceptionStatus::Received, 0, at())
                .unwrap();
            c.submit_inspection(&w, id, InspectionStatus::Rejected, good(), at())
                .unwrap();
        }
        assert_eq!(c.refund_due().minor(), 0);
        c.escalate(&buyer(&o), "inspection is wrong", at(), &s)
            .unwrap();
        let deadline = c.arbitration.as_ref().unwrap().merchant_evidence_deadline;
        c.close_evidence_window(deadline + Duration::seconds(1))
            .unwrap();
        let ev = c.rule(
            &staff(),
            RulingOutcome::Split,
            Some(cny(12_000)),
            "half",
            o.paid_amount,
            &[],
            at(),
            &s,
        );
        assert_eq!(ev.unwrap(), vec![CaseEvent::Ruled]);
        assert_eq!(c.status, CaseStatus::Inspected);
        assert_eq!(c.refund_due(), cny(12_000));
    }

    #[test]
    fn only_the_buyer_withdraws_an_escalation() {
        let (c0, o) = escalated();
        let cases = [
            (merchant(&o), Some("only_buyer_withdraws_escalation")),
            (staff(), Some("only_buyer_withdraws_escalation")),
            (buyer(&o), None),
        ];
        for (actor, want) in cases {
            let mut c = c0.clone();
            assert_eq!(
                c.withdraw_escalation(&actor, at())
                    .err()
                    .and_then(|e| e.rule_name()),
                want
            );
        }
        let mut c = c0.clone();
        c.withdraw_escalation(&buyer(&o), at()).unwrap();
        assert!(!c.is_frozen());
        let got = c.withdraw_escalation(&buyer(&o), at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("no_open_arbitration"));
        // A withdrawn escalation can be raised again.
        assert!(
            c.escalate(&buyer(&o), "again", at(), &Settings::default())
                .is_ok()
        );
        let (mut c, o) = rejected();
        assert_eq!(
            c.withdraw_escalation(&buyer(&o), at())
                .unwrap_err()
                .rule_name(),
            Some("no_open_arbitration")
        );
    }
}
