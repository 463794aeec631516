//! Charges for repair quotes approved by the buyer, taken before the repair starts, and for the
//! price difference of an exchange for a dearer replacement, taken before it ships:
//! `PENDING → SUCCEEDED | FAILED`; `PENDING | SUCCEEDED → VOIDED` (the saga compensation:
//! release the authorization, or refund the captured money).

use super::provider::{provider_key, scopes};
use crate::domain::validate::IdempotencyKey;
use crate::domain::{
    Actor, ActorKind, BuyerId, CaseId, ChargeId, CreditSource, Event, MerchantId, PaymentMethod,
    ProviderOperation, ProviderOutcome, ProviderRequest, QuoteId, RepairId, StoreCreditAccount,
    StoreCreditEntry, validate,
};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};

text_enum!(
    /// State of a charge.
    ChargeStatus {
        Pending => "PENDING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Voided => "VOIDED",
    }
);

/// What a charge pays for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeFor {
    /// A repair quote the buyer approved.
    Repair(RepairId),
    /// The price difference of an exchange case.
    Case(CaseId),
}

impl ChargeFor {
    pub fn repair_id(&self) -> Option<RepairId> {
        match self {
            Self::Repair(id) => Some(*id),
            Self::Case(_) => None,
        }
    }

    pub fn case_id(&self) -> Option<CaseId> {
        match self {
            Self::Case(id) => Some(*id),
            Self::Repair(_) => None,
        }
    }
}

impl std::fmt::Display for ChargeFor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Repair(id) => write!(f, "repair {id}"),
            Self::Case(id) => write!(f, "case {id}"),
        }
    }
}

impl ChargeStatus {
    /// A pending or succeeded charge blocks another charge for the same repair or case.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Pending | Self::Succeeded)
    }
}

/// What phase 2 must do at the provider (or ledger) after [`Charge::void`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidEffect {
    /// The charge never completed: cancel the pending operation.
    ReleaseAuthorization,
    /// The money was captured: refund it (to store credit for store-credit charges).
    RefundCapture,
}

/// Validated input of `CreateCharge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCharge {
    pub idempotency_key: IdempotencyKey,
    pub charge_for: ChargeFor,
    pub quote_id: Option<QuoteId>,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub amount: Money,
    pub method: PaymentMethod,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    pub id: ChargeId,
    pub charge_for: ChargeFor,
    pub quote_id: Option<QuoteId>,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub amount: Money,
    pub method: PaymentMethod,
    pub status: ChargeStatus,
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub void_reason: Option<String>,
    /// True when voided after it SUCCEEDED (the captured money must be refunded).
    pub refund_on_void: bool,
    pub idempotency_key: IdempotencyKey,
    pub requested_by: Actor,
    pub voided_by: Option<Actor>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Charge {
    /// Creates a PENDING charge. `existing` are the charges already stored for the same repair
    /// or case.
    /// Rules: `actor_not_allowed` (SYSTEM, STAFF, or the BUYER charged), `charge_already_active`;
    /// fields: `method` (cash on delivery cannot be charged), `amount` > 0.
    pub fn create(
        input: NewCharge,
        existing: &[Charge],
        now: DateTime<Utc>,
    ) -> Result<(Charge, Event), DomainError> {
        let allowed = matches!(input.actor.kind, ActorKind::System | ActorKind::Staff)
            || input.actor.is_buyer(&input.buyer_id);
        if !allowed {
            return Err(crate::domain::not_allowed(&input.actor, "create a charge"));
        }
        if !input.method.chargeable() {
            return Err(DomainError::field(
                "method",
                "cash on delivery cannot be charged",
            ));
        }
        if input.amount.minor() == 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than zero",
            ));
        }
        if let Some(active) = existing
            .iter()
            .find(|c| c.charge_for == input.charge_for && c.status.is_active())
        {
            return Err(DomainError::rule(
                "charge_already_active",
                format!(
                    "{} already has charge {} ({})",
                    input.charge_for,
                    active.id,
                    active.status.as_str().to_lowercase()
                ),
            ));
        }
        let charge = Charge {
            id: ChargeId::generate(now),
            charge_for: input.charge_for,
            quote_id: input.quote_id,
            buyer_id: input.buyer_id,
            merchant_id: input.merchant_id,
            amount: input.amount,
            method: input.method,
            status: ChargeStatus::Pending,
            provider_reference: None,
            failure_reason: None,
            void_reason: None,
            refund_on_void: false,
            idempotency_key: input.idempotency_key,
            requested_by: input.actor,
            voided_by: None,
            created_at: now,
            updated_at: now,
        };
        Ok((charge, Event::ChargeRequested))
    }

    /// The provider call for a PENDING charge; `None` for store credit charges (use
    /// [`Charge::settle_from_store_credit`]).
    pub fn provider_request(&self) -> Option<ProviderRequest> {
        (self.status == ChargeStatus::Pending && self.method != PaymentMethod::StoreCredit).then(
            || ProviderRequest {
                operation: ProviderOperation::Charge,
                idempotency_key: provider_key(scopes::CREATE_CHARGE, self.idempotency_key.as_str()),
                amount: self.amount,
                method: self.method,
                original_reference: None,
            },
        )
    }

    /// The provider call that undoes a VOIDED charge (`None` for store credit charges, which are
    /// re-credited in-house, or when nothing was sent to the provider).
    pub fn void_request(&self) -> Option<ProviderRequest> {
        (self.status == ChargeStatus::Voided && self.method != PaymentMethod::StoreCredit).then(
            || ProviderRequest {
                operation: ProviderOperation::VoidCharge,
                idempotency_key: format!("{}:void", self.id),
                amount: self.amount,
                method: self.method,
                original_reference: self.provider_reference.clone(),
            },
        )
    }

    /// Applies the provider's answer: PENDING + Succeeded → SUCCEEDED, + Failed → FAILED;
    /// Pending/Timeout leave it PENDING (a late confirmation follows through `ConfirmCharge`).
    /// Duplicates are no-ops; contradicting a final state is `charge_already_final`.
    pub fn apply_outcome(
        &mut self,
        outcome: ProviderOutcome,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        use ChargeStatus as S;
        match (self.status, outcome) {
            (S::Pending, ProviderOutcome::Succeeded { reference }) => {
                self.status = S::Succeeded;
                self.provider_reference = Some(reference);
                self.updated_at = now;
                Ok(Some(Event::ChargeSucceeded))
            }
            (S::Pending, ProviderOutcome::Failed { reason }) => {
                self.status = S::Failed;
                self.failure_reason = Some(reason);
                self.updated_at = now;
                Ok(Some(Event::ChargeFailed))
            }
            (_, ProviderOutcome::Pending | ProviderOutcome::Timeout) => Ok(None),
            (S::Succeeded, ProviderOutcome::Succeeded { reference })
                if self.provider_reference.as_deref() == Some(&reference) =>
            {
                Ok(None)
            }
            (S::Failed, ProviderOutcome::Failed { .. }) => Ok(None),
            (status, _) => Err(DomainError::rule(
                "charge_already_final",
                format!(
                    "charge {} is already {}",
                    self.id,
                    status.as_str().to_lowercase()
                ),
            )),
        }
    }

    /// `ConfirmCharge`: late provider confirmation (PARTNER, SYSTEM) or STAFF.
    pub fn confirm(
        &mut self,
        outcome: ProviderOutcome,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        actor.ensure_one_of(
            &[ActorKind::Partner, ActorKind::System, ActorKind::Staff],
            "confirm a charge",
        )?;
        if !outcome.is_final() {
            return Err(DomainError::field("outcome", "must be succeeded or failed"));
        }
        self.apply_outcome(outcome, now)
    }

    /// Pays a PENDING store-credit charge from the buyer's ledger. Not enough credit fails the
    /// charge (event `payments.charge.failed`) instead of refusing the call.
    pub fn settle_from_store_credit(
        &mut self,
        account: &mut StoreCreditAccount,
        now: DateTime<Utc>,
    ) -> Result<(Option<StoreCreditEntry>, Vec<Event>), DomainError> {
        if self.method != PaymentMethod::StoreCredit {
            return Err(DomainError::rule(
                "charge_not_store_credit",
                format!(
                    "charge {} is paid by {}",
                    self.id,
                    self.method.as_str().to_lowercase()
                ),
            ));
        }
        if account.buyer_id != self.buyer_id {
            return Err(DomainError::rule(
                "store_credit_account_mismatch",
                "store credit account belongs to another buyer",
            ));
        }
        if self.status != ChargeStatus::Pending {
            return Err(DomainError::rule(
                "charge_already_final",
                format!(
                    "charge {} is already {}",
                    self.id,
                    self.status.as_str().to_lowercase()
                ),
            ));
        }
        let reason = format!("charge for {}", self.charge_for);
        match account.debit(
            self.amount,
            CreditSource::Charge,
            Some(self.id.as_uuid()),
            &reason,
            self.requested_by.clone(),
            now,
        ) {
            Ok((entry, debited)) => {
                let ev = self.apply_outcome(
                    ProviderOutcome::Succeeded {
                        reference: entry.id.to_string(),
                    },
                    now,
                )?;
                Ok((
                    Some(entry),
                    [Some(debited), ev].into_iter().flatten().collect(),
                ))
            }
            Err(e) if e.rule_name() == Some("store_credit_insufficient") => {
                let ev = self.apply_outcome(
                    ProviderOutcome::Failed {
                        reason: "store credit insufficient".into(),
                    },
                    now,
                )?;
                Ok((None, ev.into_iter().collect()))
            }
            Err(e) => Err(e),
        }
    }

    /// `VoidCharge`: SYSTEM (saga compensation) or STAFF, with a reason. PENDING → VOIDED
    /// (release), SUCCEEDED → VOIDED (refund the capture); a FAILED charge took no money, so
    /// there is nothing to void (`None`, it stays FAILED: a compensation of a charge the provider
    /// declined late succeeds). Rule: `charge_not_voidable` (already VOIDED).
    pub fn void(
        &mut self,
        reason: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<(Event, VoidEffect)>, DomainError> {
        actor.ensure_one_of(&[ActorKind::System, ActorKind::Staff], "void a charge")?;
        let reason = validate::reason("reason", reason)?;
        let effect = match self.status {
            ChargeStatus::Pending => VoidEffect::ReleaseAuthorization,
            ChargeStatus::Succeeded => VoidEffect::RefundCapture,
            ChargeStatus::Failed => return Ok(None),
            other => {
                return Err(DomainError::rule(
                    "charge_not_voidable",
                    format!("charge {} is {}", self.id, other.as_str().to_lowercase()),
                ));
            }
        };
        self.status = ChargeStatus::Voided;
        self.refund_on_void = effect == VoidEffect::RefundCapture;
        self.void_reason = Some(reason);
        self.voided_by = Some(actor);
        self.updated_at = now;
        Ok(Some((Event::ChargeVoided, effect)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;
    use uuid::Uuid;

    const REPAIR: RepairId = RepairId(Uuid::from_u128(0x4444));

    fn new_charge(method: PaymentMethod) -> NewCharge {
        NewCharge {
            idempotency_key: key("charge-1"),
            charge_for: ChargeFor::Repair(REPAIR),
            quote_id: Some(QuoteId(Uuid::from_u128(0x5555))),
            buyer_id: BUYER,
            merchant_id: MERCHANT,
            amount: cny(8_000),
            method,
            actor: system_actor(),
        }
    }

    fn charge() -> Charge {
        Charge::create(new_charge(PaymentMethod::Card), &[], t0())
            .unwrap()
            .0
    }

    #[test]
    fn provider_key_comes_from_the_client_request_not_the_attempt() {
        // A retry after a lost commit builds a new charge (new id) from the same request: the
        // provider must see the same key.
        let first = charge();
        let retry = Charge::create(new_charge(PaymentMethod::Card), &[], secs(1))
            .unwrap()
            .0;
        assert_ne!(first.id, retry.id);
        let key = first.provider_request().unwrap().idempotency_key;
        assert_eq!(key, retry.provider_request().unwrap().idempotency_key);
        assert_eq!(key, provider_key(scopes::CREATE_CHARGE, "charge-1"));
    }

    #[test]
    fn status_round_trips() {
        for s in ChargeStatus::ALL {
            assert_eq!(ChargeStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(ChargeStatus::parse("voided"), None);
    }

    #[test]
    fn create_rules() {
        type Tweak = fn(&mut NewCharge);
        let cases: &[(&str, Tweak, &str)] = &[
            ("system", |_| {}, ""),
            ("staff", |c| c.actor = staff_actor(), ""),
            ("the buyer", |c| c.actor = buyer_actor(), ""),
            (
                "store credit",
                |c| c.method = PaymentMethod::StoreCredit,
                "",
            ),
            ("one minor unit", |c| c.amount = cny(1), ""),
            (
                "other buyer",
                |c| {
                    c.actor = Actor {
                        kind: ActorKind::Buyer,
                        id: "someone".into(),
                    }
                },
                "actor_not_allowed",
            ),
            (
                "merchant",
                |c| c.actor = merchant_actor(),
                "actor_not_allowed",
            ),
            (
                "cod",
                |c| c.method = PaymentMethod::CashOnDelivery,
                "method",
            ),
            ("zero", |c| c.amount = cny(0), "amount.minor_units"),
        ];
        for (name, tweak, want) in cases {
            let mut input = new_charge(PaymentMethod::Card);
            tweak(&mut input);
            match (Charge::create(input, &[], t0()), *want) {
                (Ok((c, ev)), "") => {
                    assert_eq!(ev, Event::ChargeRequested);
                    assert_eq!(c.status, ChargeStatus::Pending);
                }
                (Err(e), w) => assert_eq!(err_name(e), w, "{name}"),
                (Ok(_), w) => panic!("{name}: expected {w}"),
            }
        }
    }

    #[test]
    fn one_active_charge_per_repair() {
        let cases = [
            (ChargeStatus::Pending, false),
            (ChargeStatus::Succeeded, false),
            (ChargeStatus::Failed, true),
            (ChargeStatus::Voided, true),
        ];
        for (status, ok) in cases {
            let mut prior = charge();
            prior.status = status;
            let got = Charge::create(
                new_charge(PaymentMethod::Card),
                std::slice::from_ref(&prior),
                t0(),
            );
            assert_eq!(got.is_ok(), ok, "{status}");
            if let Err(e) = got {
                assert_eq!(e.rule_name(), Some("charge_already_active"));
            }
            // Another repair is not blocked.
            let mut other = new_charge(PaymentMethod::Card);
            other.charge_for = ChargeFor::Repair(RepairId(Uuid::from_u128(1)));
            assert!(Charge::create(other.clone(), std::slice::from_ref(&prior), t0()).is_ok());
            // Nor is a case charge, even with the same id.
            other.charge_for = ChargeFor::Case(CaseId(REPAIR.0));
            assert!(Charge::create(other, &[prior], t0()).is_ok());
        }
    }

    #[test]
    fn outcome_transitions() {
        use ChargeStatus as S;
        let ok = || ProviderOutcome::Succeeded {
            reference: "ch-1".into(),
        };
        let fail = || ProviderOutcome::Failed {
            reason: "insufficient funds".into(),
        };
        type Case = (S, ProviderOutcome, S, Result<Option<Event>, &'static str>);
        let cases: Vec<Case> = vec![
            (
                S::Pending,
                ok(),
                S::Succeeded,
                Ok(Some(Event::ChargeSucceeded)),
            ),
            (S::Pending, fail(), S::Failed, Ok(Some(Event::ChargeFailed))),
            (S::Pending, ProviderOutcome::Pending, S::Pending, Ok(None)),
            (S::Pending, ProviderOutcome::Timeout, S::Pending, Ok(None)),
            (S::Succeeded, ok(), S::Succeeded, Ok(None)),
            (
                S::Succeeded,
                ProviderOutcome::Succeeded {
                    reference: "ch-2".into(),
                },
                S::Succeeded,
                Err("charge_already_final"),
            ),
            (
                S::Succeeded,
                fail(),
                S::Succeeded,
                Err("charge_already_final"),
            ),
            (S::Failed, fail(), S::Failed, Ok(None)),
            (S::Failed, ok(), S::Failed, Err("charge_already_final")),
            (S::Voided, ok(), S::Voided, Err("charge_already_final")),
            (S::Voided, fail(), S::Voided, Err("charge_already_final")),
            (S::Voided, ProviderOutcome::Timeout, S::Voided, Ok(None)),
        ];
        for (from, outcome, to, want) in cases {
            let mut c = charge();
            match from {
                S::Pending => {}
                S::Succeeded => {
                    c.apply_outcome(ok(), t0()).unwrap();
                }
                S::Failed => {
                    c.apply_outcome(fail(), t0()).unwrap();
                }
                S::Voided => {
                    c.void("quote withdrawn", system_actor(), t0()).unwrap();
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
    }

    #[test]
    fn confirm_rules() {
        let ok = || ProviderOutcome::Succeeded {
            reference: "ch-1".into(),
        };
        let cases: Vec<(Actor, ProviderOutcome, &str)> = vec![
            (partner_actor(), ok(), ""),
            (system_actor(), ok(), ""),
            (staff_actor(), ok(), ""),
            (buyer_actor(), ok(), "actor_not_allowed"),
            (partner_actor(), ProviderOutcome::Pending, "outcome"),
        ];
        for (actor, outcome, want) in cases {
            let mut c = charge();
            match (c.confirm(outcome, &actor, t0()), want) {
                (Ok(Some(Event::ChargeSucceeded)), "") => {}
                (Err(e), w) => assert_eq!(err_name(e), w, "{:?}", actor.kind),
                (got, w) => panic!("{:?}: {got:?}, expected {w}", actor.kind),
            }
        }
    }

    #[test]
    fn void_transitions() {
        use ChargeStatus as S;
        let cases = [
            (S::Pending, Ok(Some(VoidEffect::ReleaseAuthorization))),
            (S::Succeeded, Ok(Some(VoidEffect::RefundCapture))),
            (S::Failed, Ok(None)),
            (S::Voided, Err("charge_not_voidable")),
        ];
        for (from, want) in cases {
            let mut c = charge();
            match from {
                S::Pending => {}
                S::Succeeded => {
                    c.apply_outcome(
                        ProviderOutcome::Succeeded {
                            reference: "ch-1".into(),
                        },
                        t0(),
                    )
                    .unwrap();
                }
                S::Failed => {
                    c.apply_outcome(ProviderOutcome::Failed { reason: "x".into() }, t0())
                        .unwrap();
                }
                S::Voided => {
                    c.void("first", system_actor(), t0()).unwrap();
                }
            }
            let got = c
                .void("repair cancelled", staff_actor(), secs(1))
                .map(|v| v.map(|(_, e)| e))
                .map_err(err_name);
            assert_eq!(got, want.map_err(str::to_owned), "{from}");
            if want == Ok(None) {
                // Nothing was taken: nothing changes.
                assert_eq!(c.status, S::Failed);
                assert!(c.void_request().is_none());
            }
            if let Ok(Some(effect)) = want {
                assert_eq!(c.status, S::Voided);
                assert_eq!(c.refund_on_void, effect == VoidEffect::RefundCapture);
                let req = c.void_request().unwrap();
                assert_eq!(req.operation, ProviderOperation::VoidCharge);
            }
        }
        let mut c = charge();
        assert_eq!(
            err_name(c.void("x", buyer_actor(), t0()).unwrap_err()),
            "actor_not_allowed"
        );
        assert_eq!(
            err_name(c.void(" ", system_actor(), t0()).unwrap_err()),
            "reason"
        );
        assert_eq!(c.status, ChargeStatus::Pending);
        assert!(c.void_request().is_none());
        assert!(c.provider_request().is_some());
    }

    #[test]
    fn store_credit_charges() {
        // (balance, expected status, events, entry?)
        let cases = [
            (
                8_000,
                ChargeStatus::Succeeded,
                vec![Event::StoreCreditDebited, Event::ChargeSucceeded],
                true,
            ),
            (
                10_000,
                ChargeStatus::Succeeded,
                vec![Event::StoreCreditDebited, Event::ChargeSucceeded],
                true,
            ),
            (
                7_999,
                ChargeStatus::Failed,
                vec![Event::ChargeFailed],
                false,
            ),
        ];
        for (balance, status, events, has_entry) in cases {
            let mut acct = StoreCreditAccount::empty(BUYER, cny(0).currency());
            acct.credit(
                cny(balance),
                CreditSource::Adjustment,
                None,
                "seed",
                staff_actor(),
                t0(),
            )
            .unwrap();
            let mut c = Charge::create(new_charge(PaymentMethod::StoreCredit), &[], t0())
                .unwrap()
                .0;
            assert!(c.provider_request().is_none());
            let (entry, got) = c.settle_from_store_credit(&mut acct, secs(1)).unwrap();
            assert_eq!(c.status, status, "{balance}");
            assert_eq!(got, events, "{balance}");
            assert_eq!(entry.is_some(), has_entry);
            assert_eq!(
                acct.balance,
                cny(if has_entry { balance - 8_000 } else { balance })
            );
            assert_eq!(
                err_name(c.settle_from_store_credit(&mut acct, secs(2)).unwrap_err()),
                "charge_already_final"
            );
        }
        let mut card = charge();
        let mut acct = StoreCreditAccount::empty(BUYER, cny(0).currency());
        assert_eq!(
            err_name(card.settle_from_store_credit(&mut acct, t0()).unwrap_err()),
            "charge_not_store_credit"
        );
        let mut sc = Charge::create(new_charge(PaymentMethod::StoreCredit), &[], t0())
            .unwrap()
            .0;
        let mut stranger =
            StoreCreditAccount::empty(BuyerId(Uuid::from_u128(9)), cny(0).currency());
        assert_eq!(
            err_name(
                sc.settle_from_store_credit(&mut stranger, t0())
                    .unwrap_err()
            ),
            "store_credit_account_mismatch"
        );
    }
}
