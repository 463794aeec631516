//! The captured payment of an order: the aggregate that bounds refunds and chargebacks.

use crate::domain::validate::{self, IdempotencyKey};
use crate::domain::{
    Actor, ActorKind, BuyerId, ChargebackId, Event, MerchantId, OrderId, PaymentId,
};
use aftersales_kernel::{DomainError, Money, limits};
use chrono::{DateTime, Utc};

text_enum!(
    /// How a payment was made; decides where a refund can go.
    PaymentMethod {
        Card => "CARD",
        Wallet => "WALLET",
        BankTransfer => "BANK_TRANSFER",
        /// No provider refund: refunds fall back to store credit.
        CashOnDelivery => "CASH_ON_DELIVERY",
        /// Paid with store credit: refunds go back to store credit.
        StoreCredit => "STORE_CREDIT",
    }
);

impl PaymentMethod {
    /// True when the provider can send money back to this method.
    pub fn provider_refundable(&self) -> bool {
        matches!(self, Self::Card | Self::Wallet | Self::BankTransfer)
    }

    /// True when a charge can be taken with this method.
    pub fn chargeable(&self) -> bool {
        !matches!(self, Self::CashOnDelivery)
    }
}

/// Validated input of `RecordPayment`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub idempotency_key: IdempotencyKey,
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub method: PaymentMethod,
    /// Captured amount, > 0 (see [`validate::positive_money`]).
    pub captured: Money,
    pub provider_reference: String,
    pub captured_at: DateTime<Utc>,
    pub actor: Actor,
}

/// A captured payment with its running totals. Invariant:
/// `refunds_in_flight + refunded + charged_back <= captured` for everything this service allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub id: PaymentId,
    pub order_id: OrderId,
    pub merchant_id: MerchantId,
    pub buyer_id: BuyerId,
    pub method: PaymentMethod,
    pub captured: Money,
    /// Sum of refunds in PENDING or MANUAL_REVIEW (reserved).
    pub refunds_in_flight: Money,
    /// Sum of SUCCEEDED refunds.
    pub refunded: Money,
    /// Sum of chargebacks closed BUYER_WON.
    pub charged_back: Money,
    /// Number of FAILED refunds (opens the store credit fallback).
    pub failed_refunds: u32,
    /// The open chargeback, if any: refunds are blocked while set.
    pub open_chargeback: Option<ChargebackId>,
    pub provider_reference: String,
    pub idempotency_key: IdempotencyKey,
    pub recorded_by: Actor,
    pub captured_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Payment {
    /// Records a captured payment. Callers: the provider (PARTNER), the order saga (SYSTEM) or
    /// STAFF. Phase 2 enforces one payment per order with a unique index; a duplicate order is
    /// refused with [`Payment::check_duplicate`].
    pub fn record(input: NewPayment, now: DateTime<Utc>) -> Result<(Payment, Event), DomainError> {
        input.actor.ensure_one_of(
            &[ActorKind::Partner, ActorKind::System, ActorKind::Staff],
            "record a payment",
        )?;
        if input.captured.minor() == 0 {
            return Err(DomainError::field(
                "captured.minor_units",
                "must be greater than zero",
            ));
        }
        if input.captured_at > now {
            return Err(DomainError::field(
                "captured_at",
                "must not be in the future",
            ));
        }
        let provider_reference = validate::required_text(
            "provider_reference",
            &input.provider_reference,
            limits::SHORT_TEXT,
        )?;
        let zero = Money::zero(input.captured.currency());
        let payment = Payment {
            id: PaymentId::generate(now),
            order_id: input.order_id,
            merchant_id: input.merchant_id,
            buyer_id: input.buyer_id,
            method: input.method,
            captured: input.captured,
            refunds_in_flight: zero,
            refunded: zero,
            charged_back: zero,
            failed_refunds: 0,
            open_chargeback: None,
            provider_reference,
            idempotency_key: input.idempotency_key,
            recorded_by: input.actor,
            captured_at: input.captured_at,
            created_at: now,
            updated_at: now,
        };
        Ok((payment, Event::PaymentRecorded))
    }

    /// When a payment already exists for the order: a replay of the same idempotency key is
    /// fine (return the existing payment), anything else is `payment_already_recorded`.
    pub fn check_duplicate(&self, input: &NewPayment) -> Result<(), DomainError> {
        if self.idempotency_key == input.idempotency_key && self.captured == input.captured {
            Ok(())
        } else {
            Err(DomainError::rule(
                "payment_already_recorded",
                format!("order {} already has payment {}", self.order_id, self.id),
            ))
        }
    }

    /// The most a new refund may be: captured minus non-failed refunds minus lost chargebacks.
    pub fn refundable(&self) -> Money {
        let used = self
            .refunds_in_flight
            .minor()
            .saturating_add(self.refunded.minor())
            .saturating_add(self.charged_back.minor());
        Money::new(
            (self.captured.minor() - used).max(0),
            self.captured.currency(),
        )
        .unwrap_or(Money::zero(self.captured.currency()))
    }

    /// Refuses with `chargeback_open` while a chargeback is open.
    pub(crate) fn ensure_no_open_chargeback(&self) -> Result<(), DomainError> {
        match self.open_chargeback {
            Some(cb) => Err(DomainError::rule(
                "chargeback_open",
                format!("chargeback {cb} on payment {} is open", self.id),
            )),
            None => Ok(()),
        }
    }

    pub(crate) fn add(field: &str, a: Money, b: Money) -> Result<Money, DomainError> {
        a.checked_add(b).map_err(|e| validate::money_rule(field, e))
    }

    pub(crate) fn sub(field: &str, a: Money, b: Money) -> Result<Money, DomainError> {
        a.saturating_sub(b)
            .map_err(|e| validate::money_rule(field, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;

    #[test]
    fn method_round_trips_and_capabilities() {
        for m in PaymentMethod::ALL {
            assert_eq!(PaymentMethod::parse(m.as_str()), Some(*m));
        }
        assert_eq!(PaymentMethod::parse("card"), None);
        let cases = [
            (PaymentMethod::Card, true, true),
            (PaymentMethod::Wallet, true, true),
            (PaymentMethod::BankTransfer, true, true),
            (PaymentMethod::CashOnDelivery, false, false),
            (PaymentMethod::StoreCredit, false, true),
        ];
        for (m, refundable, chargeable) in cases {
            assert_eq!(m.provider_refundable(), refundable, "{m}");
            assert_eq!(m.chargeable(), chargeable, "{m}");
        }
    }

    #[test]
    fn record_validates() {
        let ok = Payment::record(new_payment(PaymentMethod::Card, 10_000), t0());
        let (p, ev) = ok.unwrap();
        assert_eq!(ev, Event::PaymentRecorded);
        assert_eq!(p.refundable(), cny(10_000));
        assert_eq!(p.refunded, cny(0));

        type Tweak = fn(&mut NewPayment);
        let cases: &[(Tweak, &str)] = &[
            (|p| p.captured = cny(0), "captured.minor_units"),
            (
                |p| p.captured_at = t0() + chrono::Duration::seconds(1),
                "captured_at",
            ),
            (|p| p.provider_reference = " ".into(), "provider_reference"),
            (
                |p| p.provider_reference = "r".repeat(limits::SHORT_TEXT + 1),
                "provider_reference",
            ),
            (|p| p.actor = merchant_actor(), "actor_not_allowed"),
            (|p| p.actor = buyer_actor(), "actor_not_allowed"),
        ];
        for (tweak, want) in cases {
            let mut input = new_payment(PaymentMethod::Card, 10_000);
            tweak(&mut input);
            assert_eq!(err_name(Payment::record(input, t0()).unwrap_err()), *want);
        }
        // Boundary: captured exactly now, reference exactly at the limit.
        let mut input = new_payment(PaymentMethod::Card, 1);
        input.captured_at = t0();
        input.provider_reference = "r".repeat(limits::SHORT_TEXT);
        assert!(Payment::record(input, t0()).is_ok());
    }

    #[test]
    fn duplicate_order_only_replays_same_key() {
        let input = new_payment(PaymentMethod::Card, 10_000);
        let (p, _) = Payment::record(input.clone(), t0()).unwrap();
        assert!(p.check_duplicate(&input).is_ok());
        let mut other = input.clone();
        other.idempotency_key = key("other");
        assert_eq!(
            p.check_duplicate(&other).unwrap_err().rule_name(),
            Some("payment_already_recorded")
        );
        let mut other_amount = input;
        other_amount.captured = cny(1);
        assert_eq!(
            p.check_duplicate(&other_amount).unwrap_err().rule_name(),
            Some("payment_already_recorded")
        );
    }

    #[test]
    fn refundable_never_negative() {
        let mut p = payment(PaymentMethod::Card, 1_000);
        p.refunds_in_flight = cny(300);
        p.refunded = cny(200);
        assert_eq!(p.refundable(), cny(500));
        p.charged_back = cny(500);
        assert_eq!(p.refundable(), cny(0));
        p.charged_back = cny(900);
        assert_eq!(p.refundable(), cny(0));
    }
}
