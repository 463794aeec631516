//! Compensations: money given without a return (overtime, wrong item, quality instead of
//! exchange, goodwill), paid as store credit, coupon or cash. Each has a reason and records who
//! issued it. Store credit and coupons are ISSUED at once; cash goes through the provider:
//! `PENDING → ISSUED | FAILED | MANUAL_REVIEW`, `MANUAL_REVIEW → ISSUED | FAILED`.

use super::provider::{provider_key, scopes};
use crate::domain::validate::{self, IdempotencyKey};
use crate::domain::{
    Actor, ActorKind, BuyerId, CaseId, CompensationId, ComplaintId, CreditSource, Event,
    MerchantId, OrderId, PaymentMethod, Policy, ProviderOperation, ProviderOutcome,
    ProviderRequest, RepairId, StoreCreditAccount, StoreCreditEntry,
};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};

text_enum!(
    /// Why a compensation is paid.
    CompensationKind {
        Overtime => "OVERTIME",
        WrongItem => "WRONG_ITEM",
        QualityInsteadOfExchange => "QUALITY_INSTEAD_OF_EXCHANGE",
        Goodwill => "GOODWILL",
    }
);

text_enum!(
    /// How a compensation is paid.
    Payout {
        StoreCredit => "STORE_CREDIT",
        Coupon => "COUPON",
        Cash => "CASH",
    }
);

text_enum!(
    /// State of a compensation.
    CompensationStatus {
        Pending => "PENDING",
        Issued => "ISSUED",
        Failed => "FAILED",
        ManualReview => "MANUAL_REVIEW",
    }
);

impl CompensationStatus {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Issued | Self::Failed)
    }
}

/// Validated input of `IssueCompensation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompensation {
    pub idempotency_key: IdempotencyKey,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    /// Required unless the kind is goodwill.
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub complaint_id: Option<ComplaintId>,
    pub repair_id: Option<RepairId>,
    pub kind: CompensationKind,
    pub payout: Payout,
    pub amount: Money,
    pub reason: String,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compensation {
    pub id: CompensationId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub complaint_id: Option<ComplaintId>,
    pub repair_id: Option<RepairId>,
    pub kind: CompensationKind,
    pub payout: Payout,
    pub amount: Money,
    pub status: CompensationStatus,
    pub reason: String,
    pub coupon_code: Option<String>,
    pub store_credit_entry_id: Option<crate::domain::StoreCreditEntryId>,
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub idempotency_key: IdempotencyKey,
    /// Audit: who issued it.
    pub issued_by: Actor,
    pub resolved_by: Option<Actor>,
    pub resolution_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Result of [`Compensation::issue`]: persist all of it in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompensationIssued {
    pub compensation: Compensation,
    /// The ledger entry appended for a store credit payout.
    pub store_credit_entry: Option<StoreCreditEntry>,
    /// Events in publishing order.
    pub events: Vec<Event>,
}

impl Compensation {
    /// Issues a compensation. `account` is the buyer's store credit account in the amount's
    /// currency and is required for a store credit payout (credited here).
    ///
    /// Rules: `actor_not_allowed` (STAFF, SYSTEM, or the MERCHANT of `merchant_id`),
    /// `goodwill_requires_staff`; fields: `reason` required, `order_id` required except for
    /// goodwill, `amount` > 0.
    pub fn issue(
        input: NewCompensation,
        account: Option<&mut StoreCreditAccount>,
        now: DateTime<Utc>,
    ) -> Result<CompensationIssued, DomainError> {
        let actor = &input.actor;
        let allowed = matches!(actor.kind, ActorKind::Staff | ActorKind::System)
            || actor.is_merchant(&input.merchant_id);
        if !allowed {
            return Err(crate::domain::not_allowed(actor, "issue a compensation"));
        }
        if input.kind == CompensationKind::Goodwill
            && !matches!(actor.kind, ActorKind::Staff | ActorKind::System)
        {
            return Err(DomainError::rule(
                "goodwill_requires_staff",
                "only staff may issue a goodwill compensation",
            ));
        }
        let reason = validate::reason("reason", &input.reason)?;
        if input.order_id.is_none() && input.kind != CompensationKind::Goodwill {
            return Err(DomainError::field(
                "order_id",
                "is required unless the compensation is goodwill",
            ));
        }
        if input.amount.minor() == 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than zero",
            ));
        }
        let id = CompensationId::generate(now);
        let mut c = Compensation {
            id,
            buyer_id: input.buyer_id,
            merchant_id: input.merchant_id,
            order_id: input.order_id,
            case_id: input.case_id,
            complaint_id: input.complaint_id,
            repair_id: input.repair_id,
            kind: input.kind,
            payout: input.payout,
            amount: input.amount,
            status: CompensationStatus::Pending,
            reason,
            coupon_code: None,
            store_credit_entry_id: None,
            provider_reference: None,
            failure_reason: None,
            idempotency_key: input.idempotency_key,
            issued_by: input.actor,
            resolved_by: None,
            resolution_note: None,
            created_at: now,
            updated_at: now,
        };
        let mut events = Vec::new();
        let mut entry = None;
        match c.payout {
            Payout::StoreCredit => {
                let account = account.ok_or_else(|| {
                    DomainError::rule(
                        "store_credit_account_missing",
                        "a store credit payout needs the buyer's account",
                    )
                })?;
                if account.buyer_id != c.buyer_id {
                    return Err(DomainError::rule(
                        "store_credit_account_mismatch",
                        "store credit account belongs to another buyer",
                    ));
                }
                let (e, ev) = account.credit(
                    c.amount,
                    CreditSource::Compensation,
                    Some(id.as_uuid()),
                    &c.reason,
                    c.issued_by.clone(),
                    now,
                )?;
                c.store_credit_entry_id = Some(e.id);
                c.status = CompensationStatus::Issued;
                entry = Some(e);
                events.extend([ev, Event::CompensationIssued]);
            }
            Payout::Coupon => {
                c.coupon_code = Some(coupon_code(id));
                c.status = CompensationStatus::Issued;
                events.push(Event::CompensationIssued);
            }
            Payout::Cash => events.push(Event::CompensationRequested),
        }
        Ok(CompensationIssued {
            compensation: c,
            store_credit_entry: entry,
            events,
        })
    }

    /// The provider payout to make for a PENDING cash compensation, else `None`.
    pub fn provider_request(&self, method: PaymentMethod) -> Option<ProviderRequest> {
        (self.payout == Payout::Cash && self.status == CompensationStatus::Pending).then(|| {
            ProviderRequest {
                operation: ProviderOperation::Payout,
                idempotency_key: provider_key(
                    scopes::ISSUE_COMPENSATION,
                    self.idempotency_key.as_str(),
                ),
                amount: self.amount,
                method,
                original_reference: None,
            }
        })
    }

    /// Applies the provider's answer to a cash payout (same table as refunds):
    /// PENDING/MANUAL_REVIEW + Succeeded → ISSUED, + Failed → FAILED; PENDING + Pending/Timeout
    /// → MANUAL_REVIEW; duplicates are no-ops; contradicting a final state is
    /// `compensation_already_final`. Non-cash payouts: `compensation_not_cash`.
    pub fn apply_outcome(
        &mut self,
        outcome: ProviderOutcome,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        if self.payout != Payout::Cash {
            return Err(DomainError::rule(
                "compensation_not_cash",
                format!(
                    "compensation {} is paid as {}",
                    self.id,
                    self.payout.as_str().to_lowercase()
                ),
            ));
        }
        use CompensationStatus as S;
        match (self.status, outcome) {
            (S::Pending | S::ManualReview, ProviderOutcome::Succeeded { reference }) => {
                self.status = S::Issued;
                self.provider_reference = Some(reference);
                self.failure_reason = None;
                self.updated_at = now;
                Ok(Some(Event::CompensationIssued))
            }
            (S::Pending | S::ManualReview, ProviderOutcome::Failed { reason }) => {
                self.status = S::Failed;
                self.failure_reason = Some(reason);
                self.updated_at = now;
                Ok(Some(Event::CompensationFailed))
            }
            (S::Pending, ProviderOutcome::Pending | ProviderOutcome::Timeout) => {
                self.status = S::ManualReview;
                self.failure_reason = Some("provider did not confirm the payout".into());
                self.updated_at = now;
                Ok(Some(Event::CompensationManualReview))
            }
            (_, ProviderOutcome::Pending | ProviderOutcome::Timeout) => Ok(None),
            (S::Issued, ProviderOutcome::Succeeded { reference })
                if self.provider_reference.as_deref() == Some(&reference) =>
            {
                Ok(None)
            }
            (S::Failed, ProviderOutcome::Failed { .. }) => Ok(None),
            (status, _) => Err(DomainError::rule(
                "compensation_already_final",
                format!(
                    "compensation {} is already {}",
                    self.id,
                    status.as_str().to_lowercase()
                ),
            )),
        }
    }

    /// `ConfirmCompensation`: provider callback (PARTNER, SYSTEM) or manual resolution by STAFF
    /// with a reason.
    pub fn confirm(
        &mut self,
        outcome: ProviderOutcome,
        actor: Actor,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        actor.ensure_one_of(
            &[ActorKind::Partner, ActorKind::System, ActorKind::Staff],
            "confirm a compensation",
        )?;
        if !outcome.is_final() {
            return Err(DomainError::field("outcome", "must be succeeded or failed"));
        }
        let note = note.filter(|n| !n.trim().is_empty());
        if actor.kind == ActorKind::Staff && note.is_none() {
            return Err(DomainError::field(
                "reason",
                "is required when staff resolve a compensation",
            ));
        }
        let event = self.apply_outcome(outcome, now)?;
        if event.is_some() {
            self.resolved_by = Some(actor);
            self.resolution_note = note;
        }
        Ok(event)
    }

    /// Moves a cash payout PENDING for longer than the policy allows to MANUAL_REVIEW.
    pub fn expire_if_overdue(&mut self, policy: &Policy, now: DateTime<Utc>) -> Option<Event> {
        if self.payout == Payout::Cash
            && self.status == CompensationStatus::Pending
            && now - self.created_at >= policy.pending_review_after()
        {
            self.apply_outcome(ProviderOutcome::Timeout, now)
                .ok()
                .flatten()
        } else {
            None
        }
    }
}

/// Coupon code derived from the compensation id: unique, stable across replays.
fn coupon_code(id: CompensationId) -> String {
    format!("AS-{}", id.as_uuid().simple()).to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;

    fn new_comp(kind: CompensationKind, payout: Payout) -> NewCompensation {
        NewCompensation {
            idempotency_key: key("comp-1"),
            buyer_id: BUYER,
            merchant_id: MERCHANT,
            order_id: Some(ORDER),
            case_id: None,
            complaint_id: None,
            repair_id: None,
            kind,
            payout,
            amount: cny(500),
            reason: "parcel arrived two days late".into(),
            actor: system_actor(),
        }
    }

    fn acct() -> StoreCreditAccount {
        StoreCreditAccount::empty(BUYER, cny(0).currency())
    }

    #[test]
    fn payout_key_comes_from_the_client_request_not_the_attempt() {
        // A retry after a lost commit issues a new compensation (new id) from the same request:
        // the provider must see the same key.
        let issue = |at| {
            Compensation::issue(new_comp(CompensationKind::Overtime, Payout::Cash), None, at)
                .unwrap()
                .compensation
        };
        let (first, retry) = (issue(t0()), issue(secs(1)));
        assert_ne!(first.id, retry.id);
        let key = |c: &Compensation| {
            c.provider_request(PaymentMethod::Wallet)
                .unwrap()
                .idempotency_key
        };
        assert_eq!(key(&first), key(&retry));
        assert_eq!(
            key(&first),
            provider_key(scopes::ISSUE_COMPENSATION, "comp-1")
        );
    }

    #[test]
    fn enums_round_trip() {
        for k in CompensationKind::ALL {
            assert_eq!(CompensationKind::parse(k.as_str()), Some(*k));
        }
        for p in Payout::ALL {
            assert_eq!(Payout::parse(p.as_str()), Some(*p));
        }
        for s in CompensationStatus::ALL {
            assert_eq!(CompensationStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Payout::parse("cash"), None);
    }

    #[test]
    fn payouts() {
        // (payout, status, events)
        let cases = [
            (
                Payout::StoreCredit,
                CompensationStatus::Issued,
                vec![Event::StoreCreditCredited, Event::CompensationIssued],
            ),
            (
                Payout::Coupon,
                CompensationStatus::Issued,
                vec![Event::CompensationIssued],
            ),
            (
                Payout::Cash,
                CompensationStatus::Pending,
                vec![Event::CompensationRequested],
            ),
        ];
        for (payout, status, events) in cases {
            let mut a = acct();
            let out = Compensation::issue(
                new_comp(CompensationKind::Overtime, payout),
                Some(&mut a),
                t0(),
            )
            .unwrap();
            assert_eq!(out.compensation.status, status, "{payout}");
            assert_eq!(out.events, events, "{payout}");
            assert_eq!(
                out.store_credit_entry.is_some(),
                payout == Payout::StoreCredit
            );
            assert_eq!(
                out.compensation.coupon_code.is_some(),
                payout == Payout::Coupon
            );
            assert_eq!(
                a.balance,
                cny(if payout == Payout::StoreCredit {
                    500
                } else {
                    0
                })
            );
            assert_eq!(
                out.compensation
                    .provider_request(PaymentMethod::Wallet)
                    .is_some(),
                payout == Payout::Cash
            );
        }
        let err = Compensation::issue(
            new_comp(CompensationKind::Overtime, Payout::StoreCredit),
            None,
            t0(),
        )
        .unwrap_err();
        assert_eq!(err_name(err), "store_credit_account_missing");
        let mut stranger =
            StoreCreditAccount::empty(BuyerId(uuid::Uuid::from_u128(5)), cny(0).currency());
        let err = Compensation::issue(
            new_comp(CompensationKind::Overtime, Payout::StoreCredit),
            Some(&mut stranger),
            t0(),
        )
        .unwrap_err();
        assert_eq!(err_name(err), "store_credit_account_mismatch");
        let mut usd_acct = StoreCreditAccount::empty(BUYER, usd(0).currency());
        let err = Compensation::issue(
            new_comp(CompensationKind::Overtime, Payout::StoreCredit),
            Some(&mut usd_acct),
            t0(),
        )
        .unwrap_err();
        assert_eq!(err_name(err), "currency_mismatch");
    }

    #[test]
    fn issue_rules() {
        use CompensationKind as K;
        type Tweak = fn(&mut NewCompensation);
        let cases: &[(K, Tweak, &str)] = &[
            (K::Overtime, |_| {}, ""),
            (K::WrongItem, |c| c.actor = merchant_actor(), ""),
            (K::QualityInsteadOfExchange, |c| c.actor = staff_actor(), ""),
            (K::Goodwill, |c| c.actor = staff_actor(), ""),
            (K::Goodwill, |c| c.order_id = None, ""),
            (
                K::Goodwill,
                |c| c.actor = merchant_actor(),
                "goodwill_requires_staff",
            ),
            (
                K::WrongItem,
                |c| c.actor = other_merchant_actor(),
                "actor_not_allowed",
            ),
            (
                K::WrongItem,
                |c| c.actor = buyer_actor(),
                "actor_not_allowed",
            ),
            (
                K::WrongItem,
                |c| c.actor = partner_actor(),
                "actor_not_allowed",
            ),
            (K::Overtime, |c| c.order_id = None, "order_id"),
            (K::WrongItem, |c| c.order_id = None, "order_id"),
            (
                K::QualityInsteadOfExchange,
                |c| c.order_id = None,
                "order_id",
            ),
            (K::Overtime, |c| c.reason = "  ".into(), "reason"),
            (K::Overtime, |c| c.amount = cny(0), "amount.minor_units"),
            (K::Overtime, |c| c.amount = cny(1), ""),
        ];
        for (kind, tweak, want) in cases {
            let mut input = new_comp(*kind, Payout::Coupon);
            tweak(&mut input);
            let label = format!("{kind} {:?}", input.actor.kind);
            match (Compensation::issue(input, None, t0()), *want) {
                (Ok(out), "") => assert_eq!(out.compensation.kind, *kind),
                (Err(e), w) => assert_eq!(err_name(e), w, "{label}"),
                (Ok(_), w) => panic!("{label}: expected {w}"),
            }
        }
    }

    #[test]
    fn cash_outcomes() {
        use CompensationStatus as S;
        let ok = || ProviderOutcome::Succeeded {
            reference: "po-1".into(),
        };
        let fail = || ProviderOutcome::Failed {
            reason: "wallet closed".into(),
        };
        type Case = (S, ProviderOutcome, S, Result<Option<Event>, &'static str>);
        let cases: Vec<Case> = vec![
            (
                S::Pending,
                ok(),
                S::Issued,
                Ok(Some(Event::CompensationIssued)),
            ),
            (
                S::Pending,
                fail(),
                S::Failed,
                Ok(Some(Event::CompensationFailed)),
            ),
            (
                S::Pending,
                ProviderOutcome::Timeout,
                S::ManualReview,
                Ok(Some(Event::CompensationManualReview)),
            ),
            (
                S::Pending,
                ProviderOutcome::Pending,
                S::ManualReview,
                Ok(Some(Event::CompensationManualReview)),
            ),
            (
                S::ManualReview,
                ok(),
                S::Issued,
                Ok(Some(Event::CompensationIssued)),
            ),
            (
                S::ManualReview,
                fail(),
                S::Failed,
                Ok(Some(Event::CompensationFailed)),
            ),
            (
                S::ManualReview,
                ProviderOutcome::Timeout,
                S::ManualReview,
                Ok(None),
            ),
            (S::Issued, ok(), S::Issued, Ok(None)),
            (
                S::Issued,
                fail(),
                S::Issued,
                Err("compensation_already_final"),
            ),
            (
                S::Issued,
                ProviderOutcome::Succeeded {
                    reference: "po-2".into(),
                },
                S::Issued,
                Err("compensation_already_final"),
            ),
            (S::Failed, fail(), S::Failed, Ok(None)),
            (
                S::Failed,
                ok(),
                S::Failed,
                Err("compensation_already_final"),
            ),
        ];
        for (from, outcome, to, want) in cases {
            let mut c = Compensation::issue(
                new_comp(CompensationKind::Overtime, Payout::Cash),
                None,
                t0(),
            )
            .unwrap()
            .compensation;
            match from {
                S::Pending => {}
                S::ManualReview => {
                    c.apply_outcome(ProviderOutcome::Timeout, t0()).unwrap();
                }
                S::Issued => {
                    c.apply_outcome(ok(), t0()).unwrap();
                }
                S::Failed => {
                    c.apply_outcome(fail(), t0()).unwrap();
                }
            }
            let label = format!("{from} + {outcome:?}");
            assert_eq!(
                c.apply_outcome(outcome, secs(1)).map_err(err_name),
                want.map_err(str::to_owned),
                "{label}"
            );
            assert_eq!(c.status, to, "{label}");
        }
        let mut coupon = Compensation::issue(
            new_comp(CompensationKind::Overtime, Payout::Coupon),
            None,
            t0(),
        )
        .unwrap()
        .compensation;
        assert_eq!(
            err_name(coupon.apply_outcome(ok(), t0()).unwrap_err()),
            "compensation_not_cash"
        );
    }

    #[test]
    fn confirm_rules() {
        let ok = || ProviderOutcome::Succeeded {
            reference: "po-1".into(),
        };
        let cases: Vec<(Actor, ProviderOutcome, Option<&str>, &str)> = vec![
            (partner_actor(), ok(), None, ""),
            (staff_actor(), ok(), Some("paid by bank transfer"), ""),
            (staff_actor(), ok(), None, "reason"),
            (merchant_actor(), ok(), None, "actor_not_allowed"),
            (system_actor(), ProviderOutcome::Timeout, None, "outcome"),
        ];
        for (actor, outcome, note, want) in cases {
            let mut c = Compensation::issue(
                new_comp(CompensationKind::Overtime, Payout::Cash),
                None,
                t0(),
            )
            .unwrap()
            .compensation;
            let label = format!("{:?} {note:?}", actor.kind);
            match (
                c.confirm(outcome, actor, note.map(str::to_owned), secs(1)),
                want,
            ) {
                (Ok(Some(Event::CompensationIssued)), "") => assert!(c.resolved_by.is_some()),
                (Err(e), w) => assert_eq!(err_name(e), w, "{label}"),
                (got, w) => panic!("{label}: {got:?}, expected {w}"),
            }
        }
    }

    #[test]
    fn overdue_cash_goes_to_manual_review() {
        let policy = Policy::default();
        let limit = policy.pending_review_after_secs;
        for (after, want) in [
            (limit - 1, None),
            (limit, Some(Event::CompensationManualReview)),
        ] {
            let mut c = Compensation::issue(
                new_comp(CompensationKind::Overtime, Payout::Cash),
                None,
                t0(),
            )
            .unwrap()
            .compensation;
            assert_eq!(c.expire_if_overdue(&policy, secs(after)), want, "{after}");
        }
        let mut coupon = Compensation::issue(
            new_comp(CompensationKind::Overtime, Payout::Coupon),
            None,
            t0(),
        )
        .unwrap()
        .compensation;
        assert_eq!(coupon.expire_if_overdue(&policy, secs(limit)), None);
    }

    #[test]
    fn coupon_code_is_stable() {
        let id = CompensationId(uuid::Uuid::from_u128(0xabc));
        assert_eq!(coupon_code(id), coupon_code(id));
        assert!(coupon_code(id).starts_with("AS-"));
        assert_eq!(coupon_code(id), coupon_code(id).to_uppercase());
    }
}
