//! Store credit: an append-only ledger per buyer and currency. The balance is the sum of the
//! entries and never goes below zero; entries are never changed or deleted.

use crate::domain::validate::{self, IdempotencyKey};
use crate::domain::{Actor, ActorKind, BuyerId, Event, StoreCreditEntryId};
use aftersales_kernel::{Currency, DomainError, Money};
use chrono::{DateTime, Utc};
use uuid::Uuid;

text_enum!(
    /// Direction of a ledger entry.
    EntryKind {
        Credit => "CREDIT",
        Debit => "DEBIT",
    }
);

text_enum!(
    /// What caused a ledger entry; `source_id` points at it.
    CreditSource {
        Refund => "REFUND",
        Compensation => "COMPENSATION",
        Order => "ORDER",
        Charge => "CHARGE",
        Adjustment => "ADJUSTMENT",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCreditEntry {
    pub id: StoreCreditEntryId,
    pub buyer_id: BuyerId,
    pub kind: EntryKind,
    /// Always > 0; `kind` gives the sign.
    pub amount: Money,
    /// Balance right after this entry.
    pub balance_after: Money,
    pub source: CreditSource,
    pub source_id: Option<Uuid>,
    pub reason: String,
    pub actor: Actor,
    pub created_at: DateTime<Utc>,
}

impl StoreCreditEntry {
    /// Signed amount in minor units (credits positive, debits negative).
    pub fn signed_minor(&self) -> i64 {
        match self.kind {
            EntryKind::Credit => self.amount.minor(),
            EntryKind::Debit => -self.amount.minor(),
        }
    }
}

/// Validated input of `DebitStoreCredit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDebit {
    pub idempotency_key: IdempotencyKey,
    pub buyer_id: BuyerId,
    pub amount: Money,
    pub source: CreditSource,
    pub source_id: Option<Uuid>,
    pub reason: String,
    pub actor: Actor,
}

/// The balance of one buyer in one currency. Phase 2 keeps it in a row locked while appending
/// (or rebuilds it with [`StoreCreditAccount::from_entries`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreCreditAccount {
    pub buyer_id: BuyerId,
    pub balance: Money,
    pub updated_at: Option<DateTime<Utc>>,
}

impl StoreCreditAccount {
    pub fn empty(buyer_id: BuyerId, currency: Currency) -> Self {
        Self {
            buyer_id,
            balance: Money::zero(currency),
            updated_at: None,
        }
    }

    /// Rebuilds the balance from the ledger in append order, checking that every entry belongs
    /// to this buyer and currency and that the recorded running balance is right.
    pub fn from_entries(
        buyer_id: BuyerId,
        currency: Currency,
        entries: &[StoreCreditEntry],
    ) -> Result<Self, DomainError> {
        let mut acct = Self::empty(buyer_id, currency);
        for e in entries {
            if e.buyer_id != buyer_id || e.amount.currency() != currency {
                return Err(DomainError::rule(
                    "store_credit_ledger_corrupt",
                    format!("entry {} belongs to another account", e.id),
                ));
            }
            let next = acct
                .balance
                .minor()
                .checked_add(e.signed_minor())
                .filter(|b| *b >= 0);
            match next {
                Some(b) if b == e.balance_after.minor() => {
                    acct.balance = e.balance_after;
                    acct.updated_at = Some(e.created_at);
                }
                _ => {
                    return Err(DomainError::rule(
                        "store_credit_ledger_corrupt",
                        format!("entry {} does not follow the balance", e.id),
                    ));
                }
            }
        }
        Ok(acct)
    }

    /// Appends a credit. `amount` must be > 0 and in the account's currency.
    pub fn credit(
        &mut self,
        amount: Money,
        source: CreditSource,
        source_id: Option<Uuid>,
        reason: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(StoreCreditEntry, Event), DomainError> {
        self.check_amount(amount)?;
        let balance = self
            .balance
            .checked_add(amount)
            .map_err(|e| validate::money_rule("amount", e))?;
        Ok((
            self.append(
                EntryKind::Credit,
                amount,
                balance,
                source,
                source_id,
                reason,
                actor,
                now,
            )?,
            Event::StoreCreditCredited,
        ))
    }

    /// Appends a debit; refused with `store_credit_insufficient` when it would go below zero.
    pub fn debit(
        &mut self,
        amount: Money,
        source: CreditSource,
        source_id: Option<Uuid>,
        reason: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<(StoreCreditEntry, Event), DomainError> {
        self.check_amount(amount)?;
        if amount.minor() > self.balance.minor() {
            return Err(DomainError::rule(
                "store_credit_insufficient",
                format!("debit of {} exceeds the balance {}", amount, self.balance),
            ));
        }
        let balance = self
            .balance
            .saturating_sub(amount)
            .map_err(|e| validate::money_rule("amount", e))?;
        Ok((
            self.append(
                EntryKind::Debit,
                amount,
                balance,
                source,
                source_id,
                reason,
                actor,
                now,
            )?,
            Event::StoreCreditDebited,
        ))
    }

    /// `DebitStoreCredit`: SYSTEM or STAFF spend credit on an order (source id required) or
    /// adjust it; REFUND and COMPENSATION are credit-only sources.
    pub fn apply_debit(
        &mut self,
        input: NewDebit,
        now: DateTime<Utc>,
    ) -> Result<(StoreCreditEntry, Event), DomainError> {
        input
            .actor
            .ensure_one_of(&[ActorKind::System, ActorKind::Staff], "debit store credit")?;
        if input.buyer_id != self.buyer_id {
            return Err(DomainError::rule(
                "store_credit_account_mismatch",
                "store credit account belongs to another buyer",
            ));
        }
        match input.source {
            CreditSource::Order | CreditSource::Charge if input.source_id.is_none() => {
                return Err(DomainError::field(
                    "source_id",
                    "is required for this source",
                ));
            }
            CreditSource::Refund | CreditSource::Compensation => {
                return Err(DomainError::field(
                    "source",
                    "must be order, charge or adjustment for a debit",
                ));
            }
            _ => {}
        }
        self.debit(
            input.amount,
            input.source,
            input.source_id,
            &input.reason,
            input.actor,
            now,
        )
    }

    fn check_amount(&self, amount: Money) -> Result<(), DomainError> {
        if amount.currency() != self.balance.currency() {
            return Err(DomainError::rule(
                "currency_mismatch",
                format!(
                    "amount is in {} but the account is in {}",
                    amount.currency(),
                    self.balance.currency()
                ),
            ));
        }
        if amount.minor() == 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than zero",
            ));
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn append(
        &mut self,
        kind: EntryKind,
        amount: Money,
        balance_after: Money,
        source: CreditSource,
        source_id: Option<Uuid>,
        reason: &str,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<StoreCreditEntry, DomainError> {
        let reason = validate::reason("reason", reason)?;
        self.balance = balance_after;
        self.updated_at = Some(now);
        Ok(StoreCreditEntry {
            id: StoreCreditEntryId::generate(now),
            buyer_id: self.buyer_id,
            kind,
            amount,
            balance_after,
            source,
            source_id,
            reason,
            actor,
            created_at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;

    fn acct() -> StoreCreditAccount {
        StoreCreditAccount::empty(BUYER, cny(0).currency())
    }

    #[test]
    fn enums_round_trip() {
        for k in EntryKind::ALL {
            assert_eq!(EntryKind::parse(k.as_str()), Some(*k));
        }
        for s in CreditSource::ALL {
            assert_eq!(CreditSource::parse(s.as_str()), Some(*s));
        }
        assert_eq!(CreditSource::parse("refund"), None);
    }

    #[test]
    fn balance_never_below_zero() {
        // (credits, debit, ok?)
        let cases = [
            (0, 1, false),
            (100, 100, true),
            (100, 101, false),
            (100, 1, true),
            (250, 250, true),
        ];
        for (credit, debit, ok) in cases {
            let mut a = acct();
            if credit > 0 {
                a.credit(
                    cny(credit),
                    CreditSource::Adjustment,
                    None,
                    "seed",
                    staff_actor(),
                    t0(),
                )
                .unwrap();
            }
            let got = a.debit(
                cny(debit),
                CreditSource::Adjustment,
                None,
                "spend",
                staff_actor(),
                secs(1),
            );
            match got {
                Ok((e, ev)) => {
                    assert!(ok, "{credit} {debit}");
                    assert_eq!(ev, Event::StoreCreditDebited);
                    assert_eq!(e.balance_after, cny(credit - debit));
                    assert_eq!(a.balance, cny(credit - debit));
                }
                Err(e) => {
                    assert!(!ok, "{credit} {debit}");
                    assert_eq!(e.rule_name(), Some("store_credit_insufficient"));
                    assert_eq!(a.balance, cny(credit), "balance untouched");
                }
            }
        }
    }

    #[test]
    fn amount_and_reason_checks() {
        let mut a = acct();
        let cases: Vec<(Money, &str, &str)> = vec![
            (cny(0), "x", "amount.minor_units"),
            (usd(5), "x", "currency_mismatch"),
            (cny(5), " ", "reason"),
        ];
        for (amount, reason, want) in cases {
            let got = a.credit(
                amount,
                CreditSource::Adjustment,
                None,
                reason,
                staff_actor(),
                t0(),
            );
            assert_eq!(err_name(got.unwrap_err()), want);
            assert_eq!(a.balance, cny(0));
        }
    }

    #[test]
    fn ledger_replays_to_the_same_balance() {
        let mut a = acct();
        let entries = vec![
            a.credit(
                cny(500),
                CreditSource::Refund,
                Some(Uuid::from_u128(1)),
                "refund",
                system_actor(),
                t0(),
            )
            .unwrap()
            .0,
            a.debit(
                cny(200),
                CreditSource::Order,
                Some(Uuid::from_u128(2)),
                "checkout",
                system_actor(),
                secs(1),
            )
            .unwrap()
            .0,
            a.credit(
                cny(50),
                CreditSource::Compensation,
                None,
                "overtime",
                system_actor(),
                secs(2),
            )
            .unwrap()
            .0,
        ];
        let sum: i64 = entries.iter().map(StoreCreditEntry::signed_minor).sum();
        assert_eq!(sum, 350);
        let rebuilt = StoreCreditAccount::from_entries(BUYER, cny(0).currency(), &entries).unwrap();
        assert_eq!(rebuilt.balance, a.balance);
        assert_eq!(rebuilt.updated_at, Some(secs(2)));

        let mut tampered = entries.clone();
        tampered[1].balance_after = cny(400);
        assert_eq!(
            err_name(
                StoreCreditAccount::from_entries(BUYER, cny(0).currency(), &tampered).unwrap_err()
            ),
            "store_credit_ledger_corrupt"
        );
        let mut overdrawn = entries.clone();
        overdrawn.remove(0);
        assert_eq!(
            err_name(
                StoreCreditAccount::from_entries(BUYER, cny(0).currency(), &overdrawn).unwrap_err()
            ),
            "store_credit_ledger_corrupt"
        );
        assert_eq!(
            err_name(
                StoreCreditAccount::from_entries(BUYER, usd(0).currency(), &entries).unwrap_err()
            ),
            "store_credit_ledger_corrupt"
        );
    }

    #[test]
    fn apply_debit_rules() {
        let debit = |source, source_id: Option<Uuid>, actor| NewDebit {
            idempotency_key: key("d-1"),
            buyer_id: BUYER,
            amount: cny(10),
            source,
            source_id,
            reason: "checkout".into(),
            actor,
        };
        let order = Some(Uuid::from_u128(3));
        let cases: Vec<(NewDebit, &str)> = vec![
            (debit(CreditSource::Order, order, system_actor()), ""),
            (debit(CreditSource::Adjustment, None, staff_actor()), ""),
            (debit(CreditSource::Charge, order, system_actor()), ""),
            (
                debit(CreditSource::Order, None, system_actor()),
                "source_id",
            ),
            (
                debit(CreditSource::Charge, None, system_actor()),
                "source_id",
            ),
            (debit(CreditSource::Refund, order, system_actor()), "source"),
            (
                debit(CreditSource::Compensation, order, system_actor()),
                "source",
            ),
            (
                debit(CreditSource::Order, order, buyer_actor()),
                "actor_not_allowed",
            ),
            (
                debit(CreditSource::Order, order, merchant_actor()),
                "actor_not_allowed",
            ),
            (
                NewDebit {
                    buyer_id: BuyerId(Uuid::from_u128(8)),
                    ..debit(CreditSource::Order, order, system_actor())
                },
                "store_credit_account_mismatch",
            ),
        ];
        for (input, want) in cases {
            let mut a = acct();
            a.credit(
                cny(100),
                CreditSource::Adjustment,
                None,
                "seed",
                staff_actor(),
                t0(),
            )
            .unwrap();
            let label = format!(
                "{:?} {:?} {:?}",
                input.source, input.source_id, input.actor.kind
            );
            match (a.apply_debit(input, secs(1)), want) {
                (Ok(_), "") => assert_eq!(a.balance, cny(90)),
                (Err(e), w) => assert_eq!(err_name(e), w, "{label}"),
                (Ok(_), w) => panic!("{label}: expected {w}"),
            }
        }
    }
}
