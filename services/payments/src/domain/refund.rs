//! Refunds: `PENDING → SUCCEEDED | FAILED | MANUAL_REVIEW`, `MANUAL_REVIEW → SUCCEEDED | FAILED`.
//!
//! Created by [`Payment::request_refund`], which reserves the amount against the payment. The
//! provider adapter's [`ProviderOutcome`] moves it on with [`Refund::apply_outcome`]; a late
//! confirmation or a manual resolution arrives through [`Refund::confirm`]. Refunds to store
//! credit are settled in-house by [`Refund::settle_to_store_credit`].

use super::provider::refund_provider_key;
use crate::domain::validate::{self, IdempotencyKey};
use crate::domain::{
    Actor, ActorKind, BuyerId, CaseId, CreditSource, Event, MerchantId, OrderId, Payment,
    PaymentId, PaymentMethod, Policy, ProviderOperation, ProviderOutcome, ProviderRequest,
    RefundId, StoreCreditAccount, StoreCreditEntry,
};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};

text_enum!(
    /// State of a refund.
    RefundStatus {
        /// Sent to the provider (or ledger); amount reserved.
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        /// Refused by the provider; amount released.
        Failed => "FAILED",
        /// Provider pending or timed out; amount stays reserved.
        ManualReview => "MANUAL_REVIEW",
    }
);

impl RefundStatus {
    /// SUCCEEDED and FAILED never change again.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

text_enum!(
    /// Where refunded money goes.
    RefundDestination {
        OriginalMethod => "ORIGINAL_METHOD",
        StoreCredit => "STORE_CREDIT",
    }
);

/// Validated input of `CreateRefund`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    /// Unique per merchant: the API runs `CreateRefund` in the idempotency scope
    /// `payments.CreateRefund:<merchant_id>` (a replay returns the stored response) and a UNIQUE
    /// `(merchant_id, idempotency_key)` index backs it up. [`Refund::check_replay`] states the
    /// same rule for callers that look a stored refund up themselves.
    pub idempotency_key: IdempotencyKey,
    pub case_id: Option<CaseId>,
    /// > 0 (see [`validate::positive_money`]).
    pub amount: Money,
    /// `None`: the original method, or store credit when the method cannot be refunded.
    pub destination: Option<RefundDestination>,
    pub reason: String,
    /// Staff override reason for sending money to store credit outside the fallback rule.
    pub override_reason: Option<String>,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: RefundId,
    pub payment_id: PaymentId,
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub case_id: Option<CaseId>,
    pub idempotency_key: IdempotencyKey,
    pub amount: Money,
    pub destination: RefundDestination,
    pub status: RefundStatus,
    pub reason: String,
    pub override_reason: Option<String>,
    /// Provider refund reference, or the store credit entry id.
    pub provider_reference: Option<String>,
    /// Why it FAILED or went to MANUAL_REVIEW.
    pub failure_reason: Option<String>,
    pub requested_by: Actor,
    pub resolved_by: Option<Actor>,
    pub resolution_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// An after-sale case is refunded once. `live` are the case's refunds on this payment that did
/// not fail (pending, succeeded or in manual review): asking again for the same amount gets that
/// refund back (so a saga retried under a new key never pays twice), asking for another amount is
/// `refund_already_active`.
pub fn existing_for_case(live: &[Refund], amount: Money) -> Result<Option<&Refund>, DomainError> {
    let live: Vec<&Refund> = live
        .iter()
        .filter(|r| r.status != RefundStatus::Failed)
        .collect();
    match live.iter().find(|r| r.amount == amount) {
        Some(same) => Ok(Some(same)),
        None => match live.first() {
            Some(other) => Err(DomainError::rule(
                "refund_already_active",
                format!(
                    "case already has refund {} of {} ({})",
                    other.id,
                    other.amount,
                    other.status.as_str().to_lowercase()
                ),
            )),
            None => Ok(None),
        },
    }
}

impl Payment {
    /// Creates a PENDING refund and reserves its amount on this payment.
    ///
    /// Rules, in order: `actor_not_allowed` (MERCHANT of this payment, STAFF or SYSTEM),
    /// `chargeback_open`, `currency_mismatch`, `original_method_not_refundable`,
    /// `store_credit_fallback_only`, `refund_exceeds_captured`.
    pub fn request_refund(
        &mut self,
        input: NewRefund,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Refund, Event), DomainError> {
        let allowed = matches!(input.actor.kind, ActorKind::Staff | ActorKind::System)
            || input.actor.is_merchant(&self.merchant_id);
        if !allowed {
            return Err(crate::domain::not_allowed(
                &input.actor,
                "refund this payment",
            ));
        }
        let reason = validate::reason("reason", &input.reason)?;
        self.ensure_no_open_chargeback()?;
        if input.amount.currency() != self.captured.currency() {
            return Err(DomainError::rule(
                "currency_mismatch",
                format!(
                    "refund is in {} but the payment is in {}",
                    input.amount.currency(),
                    self.captured.currency()
                ),
            ));
        }
        if input.amount.minor() == 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than zero",
            ));
        }
        let destination = self.refund_destination(
            input.destination,
            &input.actor,
            input.override_reason.as_deref(),
            policy,
        )?;
        let refundable = self.refundable();
        if input.amount.minor() > refundable.minor() {
            return Err(DomainError::rule(
                "refund_exceeds_captured",
                format!(
                    "refund of {} exceeds the refundable {} (captured {} minus non-failed refunds)",
                    input.amount, refundable, self.captured
                ),
            ));
        }
        self.refunds_in_flight = Payment::add("amount", self.refunds_in_flight, input.amount)?;
        self.updated_at = now;
        let refund = Refund {
            id: RefundId::generate(now),
            payment_id: self.id,
            order_id: self.order_id,
            merchant_id: self.merchant_id,
            buyer_id: self.buyer_id,
            case_id: input.case_id,
            idempotency_key: input.idempotency_key,
            amount: input.amount,
            destination,
            status: RefundStatus::Pending,
            reason,
            override_reason: input.override_reason,
            provider_reference: None,
            failure_reason: None,
            requested_by: input.actor,
            resolved_by: None,
            resolution_note: None,
            created_at: now,
            updated_at: now,
            completed_at: None,
        };
        Ok((refund, Event::RefundRequested))
    }

    /// Refunds go to the original method; store credit is the fallback when the method cannot
    /// be refunded or an earlier refund to it failed, or a staff override with a reason.
    fn refund_destination(
        &self,
        requested: Option<RefundDestination>,
        actor: &Actor,
        override_reason: Option<&str>,
        policy: &Policy,
    ) -> Result<RefundDestination, DomainError> {
        if self.method == PaymentMethod::StoreCredit {
            // The original method is the store credit ledger.
            return Ok(RefundDestination::StoreCredit);
        }
        let staff_override =
            actor.kind == ActorKind::Staff && override_reason.is_some_and(|r| !r.trim().is_empty());
        let refundable_method = self.method.provider_refundable();
        match requested {
            None | Some(RefundDestination::OriginalMethod) if refundable_method => {
                Ok(RefundDestination::OriginalMethod)
            }
            None if policy.store_credit_fallback || staff_override => {
                Ok(RefundDestination::StoreCredit)
            }
            None | Some(RefundDestination::OriginalMethod) => Err(DomainError::rule(
                "original_method_not_refundable",
                format!(
                    "a {} payment cannot be refunded to its method; refund to store credit",
                    self.method.as_str().to_lowercase()
                ),
            )),
            Some(RefundDestination::StoreCredit) => {
                let fallback =
                    policy.store_credit_fallback && (!refundable_method || self.failed_refunds > 0);
                if fallback || staff_override {
                    Ok(RefundDestination::StoreCredit)
                } else {
                    Err(DomainError::rule(
                        "store_credit_fallback_only",
                        "store credit is only a fallback: the original method must be tried first unless staff override with a reason",
                    ))
                }
            }
        }
    }
}

impl Refund {
    /// The provider call to make for this refund; `None` for store credit (use
    /// [`Refund::settle_to_store_credit`]) or when it is no longer PENDING.
    pub fn provider_request(&self, payment: &Payment) -> Option<ProviderRequest> {
        if self.status != RefundStatus::Pending
            || self.destination != RefundDestination::OriginalMethod
        {
            return None;
        }
        Some(ProviderRequest {
            operation: ProviderOperation::Refund,
            idempotency_key: refund_provider_key(self.merchant_id, self.idempotency_key.as_str()),
            amount: self.amount,
            method: payment.method,
            original_reference: Some(payment.provider_reference.clone()),
        })
    }

    /// Applies the provider adapter's answer. Returns the event to publish, or `None` when the
    /// answer changes nothing (duplicate callback, still pending in manual review).
    ///
    /// | from          | Succeeded | Failed  | Pending / Timeout |
    /// |---------------|-----------|---------|-------------------|
    /// | PENDING       | SUCCEEDED | FAILED  | MANUAL_REVIEW     |
    /// | MANUAL_REVIEW | SUCCEEDED | FAILED  | (no change)       |
    /// | SUCCEEDED     | same ref: no change, else `refund_already_final` | `refund_already_final` | no change |
    /// | FAILED        | `refund_already_final` | no change | no change |
    pub fn apply_outcome(
        &mut self,
        payment: &mut Payment,
        outcome: ProviderOutcome,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        self.ensure_payment(payment)?;
        use RefundStatus as S;
        match (self.status, outcome) {
            (S::Pending | S::ManualReview, ProviderOutcome::Succeeded { reference }) => {
                payment.refunds_in_flight =
                    Payment::sub("amount", payment.refunds_in_flight, self.amount)?;
                payment.refunded = Payment::add("amount", payment.refunded, self.amount)?;
                payment.updated_at = now;
                self.status = S::Succeeded;
                self.provider_reference = Some(reference);
                self.failure_reason = None;
                self.finish(now);
                Ok(Some(Event::RefundSucceeded))
            }
            (S::Pending | S::ManualReview, ProviderOutcome::Failed { reason }) => {
                payment.refunds_in_flight =
                    Payment::sub("amount", payment.refunds_in_flight, self.amount)?;
                payment.failed_refunds = payment.failed_refunds.saturating_add(1);
                payment.updated_at = now;
                self.status = S::Failed;
                self.failure_reason = Some(reason);
                self.finish(now);
                Ok(Some(Event::RefundFailed))
            }
            (S::Pending, ProviderOutcome::Pending) => Ok(Some(
                self.enter_manual_review("provider answered pending", now),
            )),
            (S::Pending, ProviderOutcome::Timeout) => {
                Ok(Some(self.enter_manual_review("provider timed out", now)))
            }
            (
                S::ManualReview | S::Succeeded | S::Failed,
                ProviderOutcome::Pending | ProviderOutcome::Timeout,
            ) => Ok(None),
            (S::Succeeded, ProviderOutcome::Succeeded { reference })
                if self.provider_reference.as_deref() == Some(&reference) =>
            {
                Ok(None)
            }
            (S::Failed, ProviderOutcome::Failed { .. }) => Ok(None),
            (status, _) => Err(DomainError::rule(
                "refund_already_final",
                format!(
                    "refund {} is already {}",
                    self.id,
                    status.as_str().to_lowercase()
                ),
            )),
        }
    }

    /// `ConfirmRefund`: a late confirmation from the provider (PARTNER or SYSTEM) or a manual
    /// review resolution by STAFF, who must give a reason (`note`). `outcome` must be final.
    pub fn confirm(
        &mut self,
        payment: &mut Payment,
        outcome: ProviderOutcome,
        actor: Actor,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        actor.ensure_one_of(
            &[ActorKind::Partner, ActorKind::System, ActorKind::Staff],
            "confirm a refund",
        )?;
        if !outcome.is_final() {
            return Err(DomainError::field("outcome", "must be succeeded or failed"));
        }
        let note = note.filter(|n| !n.trim().is_empty());
        if actor.kind == ActorKind::Staff && note.is_none() {
            return Err(DomainError::field(
                "reason",
                "is required when staff resolve a refund",
            ));
        }
        let event = self.apply_outcome(payment, outcome, now)?;
        if event.is_some() {
            self.resolved_by = Some(actor);
            self.resolution_note = note;
        }
        Ok(event)
    }

    /// Settles a PENDING store-credit refund in-house: credits the buyer's ledger and marks the
    /// refund SUCCEEDED with the entry id as its reference. Returns the entry and both events.
    pub fn settle_to_store_credit(
        &mut self,
        payment: &mut Payment,
        account: &mut StoreCreditAccount,
        now: DateTime<Utc>,
    ) -> Result<(StoreCreditEntry, Vec<Event>), DomainError> {
        if self.destination != RefundDestination::StoreCredit {
            return Err(DomainError::rule(
                "refund_not_store_credit",
                format!("refund {} goes to the original payment method", self.id),
            ));
        }
        if self.status != RefundStatus::Pending && self.status != RefundStatus::ManualReview {
            return Err(DomainError::rule(
                "refund_already_final",
                format!(
                    "refund {} is already {}",
                    self.id,
                    self.status.as_str().to_lowercase()
                ),
            ));
        }
        if account.buyer_id != self.buyer_id {
            return Err(DomainError::rule(
                "store_credit_account_mismatch",
                "store credit account belongs to another buyer",
            ));
        }
        let (entry, credited) = account.credit(
            self.amount,
            CreditSource::Refund,
            Some(self.id.as_uuid()),
            &self.reason,
            self.requested_by.clone(),
            now,
        )?;
        let event = self.apply_outcome(
            payment,
            ProviderOutcome::Succeeded {
                reference: entry.id.to_string(),
            },
            now,
        )?;
        Ok((
            entry,
            [Some(credited), event].into_iter().flatten().collect(),
        ))
    }

    /// Moves a refund PENDING for longer than the policy allows to MANUAL_REVIEW (sweeper).
    pub fn expire_if_overdue(&mut self, policy: &Policy, now: DateTime<Utc>) -> Option<Event> {
        if self.status == RefundStatus::Pending
            && now - self.created_at >= policy.pending_review_after()
        {
            Some(self.enter_manual_review("provider did not answer in time", now))
        } else {
            None
        }
    }

    /// A stored refund found for the same `(merchant, idempotency_key)`: the replay returns it
    /// when it asks for the same thing, otherwise `idempotency_key_reused`.
    pub fn check_replay(
        &self,
        payment_id: PaymentId,
        input: &NewRefund,
    ) -> Result<(), DomainError> {
        if self.payment_id == payment_id
            && self.amount == input.amount
            && self.case_id == input.case_id
        {
            Ok(())
        } else {
            Err(DomainError::rule(
                "idempotency_key_reused",
                format!(
                    "idempotency key already used by refund {} with other values",
                    self.id
                ),
            ))
        }
    }

    fn enter_manual_review(&mut self, why: &str, now: DateTime<Utc>) -> Event {
        self.status = RefundStatus::ManualReview;
        self.failure_reason = Some(why.to_owned());
        self.updated_at = now;
        Event::RefundManualReview
    }

    fn finish(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
        self.completed_at = Some(now);
    }

    fn ensure_payment(&self, payment: &Payment) -> Result<(), DomainError> {
        if self.payment_id == payment.id {
            Ok(())
        } else {
            Err(DomainError::rule(
                "payment_mismatch",
                format!(
                    "refund {} does not belong to payment {}",
                    self.id, payment.id
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;

    fn new_refund(minor: i64) -> NewRefund {
        NewRefund {
            idempotency_key: key("refund-1"),
            case_id: None,
            amount: cny(minor),
            destination: None,
            reason: "case approved".into(),
            override_reason: None,
            actor: system_actor(),
        }
    }

    fn refund(p: &mut Payment, minor: i64) -> Refund {
        p.request_refund(new_refund(minor), &Policy::default(), t0())
            .expect("refund")
            .0
    }

    #[test]
    fn a_case_is_refunded_once() {
        let mut p = payment(PaymentMethod::Card, 20_000);
        let first = refund(&mut p, 5_000);
        // Nothing yet: a new refund may be made.
        assert_eq!(existing_for_case(&[], cny(5_000)), Ok(None));
        // Asked again for the same amount (a saga retried under a new key): the same refund.
        assert_eq!(
            existing_for_case(std::slice::from_ref(&first), cny(5_000)),
            Ok(Some(&first))
        );
        // Another amount while one is live: refused.
        let err = existing_for_case(std::slice::from_ref(&first), cny(4_000)).unwrap_err();
        assert_eq!(err.rule_name(), Some("refund_already_active"));
        // A refund that failed moved no money: a new one may be made, of any amount.
        let mut failed = first.clone();
        failed.status = RefundStatus::Failed;
        assert_eq!(existing_for_case(&[failed.clone()], cny(5_000)), Ok(None));
        assert_eq!(existing_for_case(&[failed], cny(4_000)), Ok(None));
        for status in [RefundStatus::Succeeded, RefundStatus::ManualReview] {
            let mut live = first.clone();
            live.status = status;
            assert_eq!(
                existing_for_case(std::slice::from_ref(&live), cny(5_000)),
                Ok(Some(&live))
            );
        }
    }

    #[test]
    fn status_and_destination_round_trip() {
        for s in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse(s.as_str()), Some(*s));
        }
        for d in RefundDestination::ALL {
            assert_eq!(RefundDestination::parse(d.as_str()), Some(*d));
        }
        assert_eq!(RefundStatus::parse("pending"), None);
        assert!(RefundStatus::Succeeded.is_final() && RefundStatus::Failed.is_final());
        assert!(!RefundStatus::Pending.is_final() && !RefundStatus::ManualReview.is_final());
    }

    #[test]
    fn refund_cap_boundaries() {
        // (already in flight, already refunded, charged back, requested, ok?)
        let cases = [
            (0, 0, 0, 1_000, true),
            (0, 0, 0, 1_001, false),
            (400, 0, 0, 600, true),
            (400, 0, 0, 601, false),
            (0, 600, 0, 400, true),
            (0, 600, 0, 401, false),
            (100, 100, 100, 700, true),
            (100, 100, 100, 701, false),
            (0, 0, 1_000, 1, false),
        ];
        for (in_flight, refunded, charged_back, ask, ok) in cases {
            let mut p = payment(PaymentMethod::Card, 1_000);
            p.refunds_in_flight = cny(in_flight);
            p.refunded = cny(refunded);
            p.charged_back = cny(charged_back);
            let got = p.request_refund(new_refund(ask), &Policy::default(), t0());
            match got {
                Ok((r, ev)) => {
                    assert!(ok, "{in_flight} {refunded} {charged_back} {ask}");
                    assert_eq!(ev, Event::RefundRequested);
                    assert_eq!(r.status, RefundStatus::Pending);
                    assert_eq!(p.refunds_in_flight, cny(in_flight + ask));
                }
                Err(e) => {
                    assert!(!ok, "{in_flight} {refunded} {charged_back} {ask}: {e}");
                    assert_eq!(e.rule_name(), Some("refund_exceeds_captured"));
                    assert_eq!(
                        p.refunds_in_flight,
                        cny(in_flight),
                        "nothing reserved on refusal"
                    );
                }
            }
        }
    }

    #[test]
    fn failed_refunds_do_not_count_against_the_cap() {
        let mut p = payment(PaymentMethod::Card, 1_000);
        let mut r = refund(&mut p, 1_000);
        assert_eq!(
            err_name(
                p.request_refund(new_refund(1), &Policy::default(), t0())
                    .unwrap_err()
            ),
            "refund_exceeds_captured"
        );
        r.apply_outcome(
            &mut p,
            ProviderOutcome::Failed {
                reason: "card closed".into(),
            },
            secs(1),
        )
        .unwrap();
        assert_eq!(p.refundable(), cny(1_000));
        assert_eq!(p.failed_refunds, 1);
        assert!(
            p.request_refund(new_refund(1_000), &Policy::default(), secs(2))
                .is_ok()
        );
    }

    #[test]
    fn request_rules() {
        type Tweak = fn(&mut Payment, &mut NewRefund);
        let cases: &[(&str, Tweak, &str)] = &[
            (
                "merchant of the payment",
                |_, r| r.actor = merchant_actor(),
                "",
            ),
            ("staff", |_, r| r.actor = staff_actor(), ""),
            (
                "other merchant",
                |_, r| r.actor = other_merchant_actor(),
                "actor_not_allowed",
            ),
            ("buyer", |_, r| r.actor = buyer_actor(), "actor_not_allowed"),
            (
                "partner",
                |_, r| r.actor = partner_actor(),
                "actor_not_allowed",
            ),
            (
                "chargeback open",
                |p, _| {
                    p.open_chargeback = Some(crate::domain::ChargebackId(uuid::Uuid::from_u128(7)))
                },
                "chargeback_open",
            ),
            ("currency", |_, r| r.amount = usd(10), "currency_mismatch"),
            (
                "zero amount",
                |_, r| r.amount = cny(0),
                "amount.minor_units",
            ),
            ("blank reason", |_, r| r.reason = " ".into(), "reason"),
        ];
        for (name, tweak, want) in cases {
            let mut p = payment(PaymentMethod::Card, 1_000);
            let mut input = new_refund(100);
            tweak(&mut p, &mut input);
            let got = p.request_refund(input, &Policy::default(), t0());
            match (got, *want) {
                (Ok(_), "") => {}
                (Err(e), w) => assert_eq!(err_name(e), w, "{name}"),
                (Ok(_), w) => panic!("{name}: expected {w}"),
            }
        }
    }

    #[test]
    fn destination_rules() {
        use PaymentMethod as M;
        use RefundDestination as D;
        // (method, requested, actor is staff with override, earlier failed refund, fallback on, expected)
        type Case = (M, Option<D>, bool, bool, bool, Result<D, &'static str>);
        let cases: &[Case] = &[
            (M::Card, None, false, false, true, Ok(D::OriginalMethod)),
            (
                M::Wallet,
                Some(D::OriginalMethod),
                false,
                false,
                true,
                Ok(D::OriginalMethod),
            ),
            (
                M::BankTransfer,
                None,
                false,
                false,
                false,
                Ok(D::OriginalMethod),
            ),
            (
                M::Card,
                Some(D::StoreCredit),
                false,
                false,
                true,
                Err("store_credit_fallback_only"),
            ),
            (
                M::Card,
                Some(D::StoreCredit),
                false,
                true,
                true,
                Ok(D::StoreCredit),
            ),
            (
                M::Card,
                Some(D::StoreCredit),
                false,
                true,
                false,
                Err("store_credit_fallback_only"),
            ),
            (
                M::Card,
                Some(D::StoreCredit),
                true,
                false,
                true,
                Ok(D::StoreCredit),
            ),
            (
                M::Card,
                Some(D::StoreCredit),
                true,
                false,
                false,
                Ok(D::StoreCredit),
            ),
            (
                M::CashOnDelivery,
                None,
                false,
                false,
                true,
                Ok(D::StoreCredit),
            ),
            (
                M::CashOnDelivery,
                None,
                false,
                false,
                false,
                Err("original_method_not_refundable"),
            ),
            (
                M::CashOnDelivery,
                None,
                true,
                false,
                false,
                Ok(D::StoreCredit),
            ),
            (
                M::CashOnDelivery,
                Some(D::OriginalMethod),
                false,
                false,
                true,
                Err("original_method_not_refundable"),
            ),
            (
                M::CashOnDelivery,
                Some(D::StoreCredit),
                false,
                false,
                true,
                Ok(D::StoreCredit),
            ),
            (
                M::CashOnDelivery,
                Some(D::StoreCredit),
                false,
                false,
                false,
                Err("store_credit_fallback_only"),
            ),
            (
                M::StoreCredit,
                None,
                false,
                false,
                false,
                Ok(D::StoreCredit),
            ),
            (
                M::StoreCredit,
                Some(D::OriginalMethod),
                false,
                false,
                true,
                Ok(D::StoreCredit),
            ),
        ];
        for (method, requested, staff_override, failed_before, fallback, want) in cases {
            let mut p = payment(*method, 1_000);
            p.failed_refunds = u32::from(*failed_before);
            let mut input = new_refund(100);
            input.destination = *requested;
            if *staff_override {
                input.actor = staff_actor();
                input.override_reason = Some("buyer's card was cancelled".into());
            }
            let policy = Policy {
                store_credit_fallback: *fallback,
                ..Policy::default()
            };
            let got = p
                .request_refund(input, &policy, t0())
                .map(|(r, _)| r.destination)
                .map_err(err_name);
            assert_eq!(
                got,
                want.map_err(str::to_owned),
                "{method} {requested:?} override={staff_override} failed={failed_before} fallback={fallback}"
            );
        }
        // Staff without a reason is no override.
        let mut p = payment(M::Card, 1_000);
        let mut input = new_refund(100);
        input.destination = Some(D::StoreCredit);
        input.actor = staff_actor();
        input.override_reason = Some("  ".into());
        assert_eq!(
            err_name(
                p.request_refund(input, &Policy::default(), t0())
                    .unwrap_err()
            ),
            "store_credit_fallback_only"
        );
    }

    #[test]
    fn outcome_transitions() {
        use RefundStatus as S;
        let ok = || ProviderOutcome::Succeeded {
            reference: "psp-r-1".into(),
        };
        let other_ok = || ProviderOutcome::Succeeded {
            reference: "psp-r-2".into(),
        };
        let fail = || ProviderOutcome::Failed {
            reason: "declined".into(),
        };
        // (from, outcome, expected status, expected event or error)
        type Case = (S, ProviderOutcome, S, Result<Option<Event>, &'static str>);
        let cases: Vec<Case> = vec![
            (
                S::Pending,
                ok(),
                S::Succeeded,
                Ok(Some(Event::RefundSucceeded)),
            ),
            (S::Pending, fail(), S::Failed, Ok(Some(Event::RefundFailed))),
            (
                S::Pending,
                ProviderOutcome::Pending,
                S::ManualReview,
                Ok(Some(Event::RefundManualReview)),
            ),
            (
                S::Pending,
                ProviderOutcome::Timeout,
                S::ManualReview,
                Ok(Some(Event::RefundManualReview)),
            ),
            (
                S::ManualReview,
                ok(),
                S::Succeeded,
                Ok(Some(Event::RefundSucceeded)),
            ),
            (
                S::ManualReview,
                fail(),
                S::Failed,
                Ok(Some(Event::RefundFailed)),
            ),
            (
                S::ManualReview,
                ProviderOutcome::Pending,
                S::ManualReview,
                Ok(None),
            ),
            (
                S::ManualReview,
                ProviderOutcome::Timeout,
                S::ManualReview,
                Ok(None),
            ),
            (S::Succeeded, ok(), S::Succeeded, Ok(None)),
            (
                S::Succeeded,
                other_ok(),
                S::Succeeded,
                Err("refund_already_final"),
            ),
            (
                S::Succeeded,
                fail(),
                S::Succeeded,
                Err("refund_already_final"),
            ),
            (
                S::Succeeded,
                ProviderOutcome::Timeout,
                S::Succeeded,
                Ok(None),
            ),
            (S::Failed, fail(), S::Failed, Ok(None)),
            (S::Failed, ok(), S::Failed, Err("refund_already_final")),
            (S::Failed, ProviderOutcome::Pending, S::Failed, Ok(None)),
        ];
        for (from, outcome, to, want) in cases {
            let mut p = payment(PaymentMethod::Card, 1_000);
            let mut r = refund(&mut p, 400);
            // Walk to the starting state through real transitions.
            match from {
                S::Pending => {}
                S::ManualReview => {
                    r.apply_outcome(&mut p, ProviderOutcome::Timeout, t0())
                        .unwrap();
                }
                S::Succeeded => {
                    r.apply_outcome(&mut p, ok(), t0()).unwrap();
                }
                S::Failed => {
                    r.apply_outcome(&mut p, fail(), t0()).unwrap();
                }
            }
            let label = format!("{from} + {outcome:?}");
            let got = r.apply_outcome(&mut p, outcome, secs(5)).map_err(err_name);
            assert_eq!(got, want.map_err(str::to_owned), "{label}");
            assert_eq!(r.status, to, "{label}");
            // Totals follow the final state.
            let (in_flight, refunded) = match to {
                S::Pending | S::ManualReview => (400, 0),
                S::Succeeded => (0, 400),
                S::Failed => (0, 0),
            };
            assert_eq!(
                (p.refunds_in_flight, p.refunded),
                (cny(in_flight), cny(refunded)),
                "{label}"
            );
            assert_eq!(r.completed_at.is_some(), to.is_final(), "{label}");
        }
    }

    #[test]
    fn outcome_for_another_payment_is_refused() {
        let mut p = payment(PaymentMethod::Card, 1_000);
        let mut r = refund(&mut p, 100);
        let mut other = payment(PaymentMethod::Card, 1_000);
        let err = r
            .apply_outcome(&mut other, ProviderOutcome::Timeout, t0())
            .unwrap_err();
        assert_eq!(err.rule_name(), Some("payment_mismatch"));
    }

    #[test]
    fn confirm_rules() {
        let ok = || ProviderOutcome::Succeeded {
            reference: "psp-r-1".into(),
        };
        type Case = (
            Actor,
            ProviderOutcome,
            Option<&'static str>,
            Result<Option<Event>, &'static str>,
        );
        let cases: Vec<Case> = vec![
            (
                partner_actor(),
                ok(),
                None,
                Ok(Some(Event::RefundSucceeded)),
            ),
            (system_actor(), ok(), None, Ok(Some(Event::RefundSucceeded))),
            (
                staff_actor(),
                ok(),
                Some("confirmed with the bank"),
                Ok(Some(Event::RefundSucceeded)),
            ),
            (staff_actor(), ok(), None, Err("reason")),
            (staff_actor(), ok(), Some(" "), Err("reason")),
            (merchant_actor(), ok(), Some("x"), Err("actor_not_allowed")),
            (buyer_actor(), ok(), Some("x"), Err("actor_not_allowed")),
            (
                partner_actor(),
                ProviderOutcome::Pending,
                None,
                Err("outcome"),
            ),
            (
                partner_actor(),
                ProviderOutcome::Timeout,
                None,
                Err("outcome"),
            ),
        ];
        for (actor, outcome, note, want) in cases {
            let mut p = payment(PaymentMethod::Card, 1_000);
            let mut r = refund(&mut p, 100);
            r.apply_outcome(&mut p, ProviderOutcome::Pending, t0())
                .unwrap();
            let label = format!("{:?} {outcome:?} {note:?}", actor.kind);
            let got = r
                .confirm(
                    &mut p,
                    outcome,
                    actor.clone(),
                    note.map(str::to_owned),
                    secs(60),
                )
                .map_err(err_name);
            assert_eq!(got, want.map_err(str::to_owned), "{label}");
            if got.is_ok() {
                assert_eq!(r.resolved_by.as_ref(), Some(&actor));
                assert_eq!(r.status, RefundStatus::Succeeded);
            } else {
                assert_eq!(r.status, RefundStatus::ManualReview);
            }
        }
    }

    #[test]
    fn store_credit_settlement() {
        let mut p = payment(PaymentMethod::CashOnDelivery, 1_000);
        let mut r = refund(&mut p, 300);
        assert_eq!(r.destination, RefundDestination::StoreCredit);
        assert!(r.provider_request(&p).is_none());
        let mut acct = StoreCreditAccount::empty(BUYER, cny(0).currency());
        let (entry, events) = r
            .settle_to_store_credit(&mut p, &mut acct, secs(1))
            .unwrap();
        assert_eq!(
            events,
            vec![Event::StoreCreditCredited, Event::RefundSucceeded]
        );
        assert_eq!(acct.balance, cny(300));
        assert_eq!(entry.source_id, Some(r.id.as_uuid()));
        assert_eq!(r.provider_reference, Some(entry.id.to_string()));
        assert_eq!(p.refunded, cny(300));
        // Settling twice is refused and credits nothing.
        assert_eq!(
            err_name(
                r.settle_to_store_credit(&mut p, &mut acct, secs(2))
                    .unwrap_err()
            ),
            "refund_already_final"
        );
        assert_eq!(acct.balance, cny(300));
        // Original-method refunds are not settled in-house; other buyers' accounts are refused.
        let mut card = payment(PaymentMethod::Card, 1_000);
        let mut r2 = refund(&mut card, 100);
        assert_eq!(
            err_name(
                r2.settle_to_store_credit(&mut card, &mut acct, secs(3))
                    .unwrap_err()
            ),
            "refund_not_store_credit"
        );
        let mut p3 = payment(PaymentMethod::CashOnDelivery, 1_000);
        let mut r3 = refund(&mut p3, 100);
        let mut stranger = StoreCreditAccount::empty(
            crate::domain::BuyerId(uuid::Uuid::from_u128(5)),
            cny(0).currency(),
        );
        assert_eq!(
            err_name(
                r3.settle_to_store_credit(&mut p3, &mut stranger, secs(3))
                    .unwrap_err()
            ),
            "store_credit_account_mismatch"
        );
    }

    #[test]
    fn provider_request_for_original_method() {
        let mut p = payment(PaymentMethod::Card, 1_000);
        let mut r = refund(&mut p, 100);
        let req = r.provider_request(&p).unwrap();
        assert_eq!(req.operation, ProviderOperation::Refund);
        assert_eq!(
            req.idempotency_key,
            refund_provider_key(r.merchant_id, r.idempotency_key.as_str())
        );
        assert_eq!(req.original_reference.as_deref(), Some("psp-capture-1"));
        r.apply_outcome(&mut p, ProviderOutcome::Timeout, t0())
            .unwrap();
        assert!(r.provider_request(&p).is_none());
    }

    #[test]
    fn provider_key_comes_from_the_client_request_not_the_attempt() {
        // A retry after a lost commit requests a new refund (new id) from the same request: the
        // provider must see the same key, scoped like the idempotency record (per merchant).
        let mut p = payment(PaymentMethod::Card, 1_000);
        let first = refund(&mut p, 100);
        let mut again = payment(PaymentMethod::Card, 1_000);
        let retry = again
            .request_refund(new_refund(100), &Policy::default(), secs(1))
            .unwrap()
            .0;
        assert_ne!(first.id, retry.id);
        let key = first.provider_request(&p).unwrap().idempotency_key;
        assert_eq!(key, retry.provider_request(&again).unwrap().idempotency_key);
        assert_eq!(
            key,
            crate::domain::provider_key(
                &format!("payments.CreateRefund:{}", first.merchant_id),
                first.idempotency_key.as_str()
            )
        );
    }

    #[test]
    fn overdue_pending_goes_enter_manual_review() {
        let policy = Policy::default();
        let limit = policy.pending_review_after_secs;
        let cases = [
            (limit - 1, None),
            (limit, Some(Event::RefundManualReview)),
            (limit + 1, Some(Event::RefundManualReview)),
        ];
        for (after, want) in cases {
            let mut p = payment(PaymentMethod::Card, 1_000);
            let mut r = refund(&mut p, 100);
            assert_eq!(r.expire_if_overdue(&policy, secs(after)), want, "{after}");
        }
        let mut p = payment(PaymentMethod::Card, 1_000);
        let mut r = refund(&mut p, 100);
        r.apply_outcome(&mut p, ProviderOutcome::Failed { reason: "x".into() }, t0())
            .unwrap();
        assert_eq!(r.expire_if_overdue(&policy, secs(limit * 2)), None);
    }

    #[test]
    fn replay_check() {
        let mut p = payment(PaymentMethod::Card, 1_000);
        let r = refund(&mut p, 100);
        assert!(r.check_replay(p.id, &new_refund(100)).is_ok());
        assert_eq!(
            err_name(r.check_replay(p.id, &new_refund(101)).unwrap_err()),
            "idempotency_key_reused"
        );
        let other = payment(PaymentMethod::Card, 1_000);
        assert_eq!(
            err_name(r.check_replay(other.id, &new_refund(100)).unwrap_err()),
            "idempotency_key_reused"
        );
        let mut with_case = new_refund(100);
        with_case.case_id = Some(CaseId(uuid::Uuid::from_u128(9)));
        assert_eq!(
            err_name(r.check_replay(p.id, &with_case).unwrap_err()),
            "idempotency_key_reused"
        );
    }
}
