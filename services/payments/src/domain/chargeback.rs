//! Chargebacks (disputes raised by the buyer's bank): `OPEN → CLOSED`. While one is open on a
//! payment, refunds on it are blocked (`chargeback_open`): paying twice is the risk.

use crate::domain::validate::{self, IdempotencyKey};
use crate::domain::{Actor, ActorKind, ChargebackId, Event, Payment, PaymentId};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};

text_enum!(
    /// State of a chargeback.
    ChargebackStatus {
        Open => "OPEN",
        Closed => "CLOSED",
    }
);

text_enum!(
    /// How a chargeback ended.
    ChargebackResolution {
        /// The money stays captured.
        MerchantWon => "MERCHANT_WON",
        /// The amount went back to the buyer through the bank; it is no longer refundable.
        BuyerWon => "BUYER_WON",
    }
);

/// Validated input of `OpenChargeback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChargeback {
    pub idempotency_key: IdempotencyKey,
    pub amount: Money,
    pub reason: String,
    pub provider_reference: Option<String>,
    pub actor: Actor,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chargeback {
    pub id: ChargebackId,
    pub payment_id: PaymentId,
    pub amount: Money,
    pub status: ChargebackStatus,
    pub resolution: Option<ChargebackResolution>,
    pub reason: String,
    pub provider_reference: Option<String>,
    pub idempotency_key: IdempotencyKey,
    pub opened_by: Actor,
    pub closed_by: Option<Actor>,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

const CHARGEBACK_ACTORS: &[ActorKind] = &[ActorKind::Partner, ActorKind::Staff, ActorKind::System];

impl Payment {
    /// Opens a chargeback. Rules: `actor_not_allowed` (PARTNER, STAFF, SYSTEM),
    /// `chargeback_already_open`, `currency_mismatch`, `chargeback_exceeds_captured`
    /// (amount > captured minus chargebacks already lost).
    pub fn open_chargeback(
        &mut self,
        input: NewChargeback,
        now: DateTime<Utc>,
    ) -> Result<(Chargeback, Event), DomainError> {
        input
            .actor
            .ensure_one_of(CHARGEBACK_ACTORS, "open a chargeback")?;
        let reason = validate::reason("reason", &input.reason)?;
        if input.amount.minor() == 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than zero",
            ));
        }
        if let Some(open) = self.open_chargeback {
            return Err(DomainError::rule(
                "chargeback_already_open",
                format!("chargeback {open} is already open on payment {}", self.id),
            ));
        }
        if input.amount.currency() != self.captured.currency() {
            return Err(DomainError::rule(
                "currency_mismatch",
                "chargeback currency differs from the payment",
            ));
        }
        let disputable = Payment::sub("amount", self.captured, self.charged_back)?;
        if input.amount.minor() > disputable.minor() {
            return Err(DomainError::rule(
                "chargeback_exceeds_captured",
                format!(
                    "chargeback of {} exceeds the disputable {}",
                    input.amount, disputable
                ),
            ));
        }
        let cb = Chargeback {
            id: ChargebackId::generate(now),
            payment_id: self.id,
            amount: input.amount,
            status: ChargebackStatus::Open,
            resolution: None,
            reason,
            provider_reference: input.provider_reference,
            idempotency_key: input.idempotency_key,
            opened_by: input.actor,
            closed_by: None,
            opened_at: now,
            closed_at: None,
        };
        self.open_chargeback = Some(cb.id);
        self.updated_at = now;
        Ok((cb, Event::ChargebackOpened))
    }
}

impl Chargeback {
    /// Closes an open chargeback; BUYER_WON adds its amount to the payment's `charged_back`,
    /// which lowers what can still be refunded. Rules: `actor_not_allowed`, `chargeback_not_open`.
    pub fn close(
        &mut self,
        payment: &mut Payment,
        resolution: ChargebackResolution,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_one_of(CHARGEBACK_ACTORS, "close a chargeback")?;
        if self.payment_id != payment.id {
            return Err(DomainError::rule(
                "payment_mismatch",
                format!(
                    "chargeback {} does not belong to payment {}",
                    self.id, payment.id
                ),
            ));
        }
        if self.status != ChargebackStatus::Open {
            return Err(DomainError::rule(
                "chargeback_not_open",
                format!("chargeback {} is already closed", self.id),
            ));
        }
        if resolution == ChargebackResolution::BuyerWon {
            payment.charged_back = Payment::add("amount", payment.charged_back, self.amount)?;
        }
        if payment.open_chargeback == Some(self.id) {
            payment.open_chargeback = None;
        }
        payment.updated_at = now;
        self.status = ChargebackStatus::Closed;
        self.resolution = Some(resolution);
        self.closed_by = Some(actor);
        self.closed_at = Some(now);
        Ok(Event::ChargebackClosed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;
    use crate::domain::{NewRefund, PaymentMethod, Policy};

    fn new_cb(minor: i64) -> NewChargeback {
        NewChargeback {
            idempotency_key: key("cb-1"),
            amount: cny(minor),
            reason: "fraud".into(),
            provider_reference: None,
            actor: partner_actor(),
        }
    }

    #[test]
    fn enums_round_trip() {
        for s in ChargebackStatus::ALL {
            assert_eq!(ChargebackStatus::parse(s.as_str()), Some(*s));
        }
        for r in ChargebackResolution::ALL {
            assert_eq!(ChargebackResolution::parse(r.as_str()), Some(*r));
        }
        assert_eq!(ChargebackStatus::parse(""), None);
    }

    #[test]
    fn open_rules() {
        type Tweak = fn(&mut Payment, &mut NewChargeback);
        let cases: &[(&str, Tweak, &str)] = &[
            ("partner", |_, _| {}, ""),
            ("staff", |_, c| c.actor = staff_actor(), ""),
            ("system", |_, c| c.actor = system_actor(), ""),
            ("whole amount", |_, c| c.amount = cny(1_000), ""),
            (
                "merchant",
                |_, c| c.actor = merchant_actor(),
                "actor_not_allowed",
            ),
            ("buyer", |_, c| c.actor = buyer_actor(), "actor_not_allowed"),
            (
                "over captured",
                |_, c| c.amount = cny(1_001),
                "chargeback_exceeds_captured",
            ),
            (
                "over after lost one",
                |p, c| {
                    p.charged_back = cny(500);
                    c.amount = cny(501);
                },
                "chargeback_exceeds_captured",
            ),
            (
                "rest after lost one",
                |p, c| {
                    p.charged_back = cny(500);
                    c.amount = cny(500);
                },
                "",
            ),
            ("currency", |_, c| c.amount = usd(10), "currency_mismatch"),
            ("zero", |_, c| c.amount = cny(0), "amount.minor_units"),
            ("no reason", |_, c| c.reason = String::new(), "reason"),
        ];
        for (name, tweak, want) in cases {
            let mut p = payment(PaymentMethod::Card, 1_000);
            let mut input = new_cb(100);
            tweak(&mut p, &mut input);
            match (p.open_chargeback(input, t0()), *want) {
                (Ok((cb, ev)), "") => {
                    assert_eq!(ev, Event::ChargebackOpened);
                    assert_eq!(p.open_chargeback, Some(cb.id), "{name}");
                }
                (Err(e), w) => assert_eq!(err_name(e), w, "{name}"),
                (Ok(_), w) => panic!("{name}: expected {w}"),
            }
        }
        let mut p = payment(PaymentMethod::Card, 1_000);
        p.open_chargeback(new_cb(100), t0()).unwrap();
        assert_eq!(
            err_name(p.open_chargeback(new_cb(100), t0()).unwrap_err()),
            "chargeback_already_open"
        );
    }

    #[test]
    fn open_chargeback_blocks_refunds_until_closed() {
        let refund = |minor| NewRefund {
            idempotency_key: key("r"),
            case_id: None,
            amount: cny(minor),
            destination: None,
            reason: "approved".into(),
            override_reason: None,
            actor: system_actor(),
        };
        for (resolution, refundable_after) in [
            (ChargebackResolution::MerchantWon, 1_000),
            (ChargebackResolution::BuyerWon, 600),
        ] {
            let mut p = payment(PaymentMethod::Card, 1_000);
            let (mut cb, _) = p.open_chargeback(new_cb(400), t0()).unwrap();
            assert_eq!(
                err_name(
                    p.request_refund(refund(1), &Policy::default(), t0())
                        .unwrap_err()
                ),
                "chargeback_open"
            );
            assert_eq!(
                cb.close(&mut p, resolution, partner_actor(), secs(10)),
                Ok(Event::ChargebackClosed)
            );
            assert_eq!(cb.status, ChargebackStatus::Closed);
            assert_eq!(p.open_chargeback, None);
            assert_eq!(p.refundable(), cny(refundable_after), "{resolution}");
            assert_eq!(
                err_name(
                    p.request_refund(refund(refundable_after + 1), &Policy::default(), t0())
                        .unwrap_err()
                ),
                "refund_exceeds_captured"
            );
            assert!(
                p.request_refund(refund(refundable_after), &Policy::default(), t0())
                    .is_ok()
            );
        }
    }

    #[test]
    fn close_rules() {
        let mut p = payment(PaymentMethod::Card, 1_000);
        let (mut cb, _) = p.open_chargeback(new_cb(100), t0()).unwrap();
        assert_eq!(
            err_name(
                cb.close(&mut p, ChargebackResolution::BuyerWon, buyer_actor(), t0())
                    .unwrap_err()
            ),
            "actor_not_allowed"
        );
        let mut other = payment(PaymentMethod::Card, 1_000);
        assert_eq!(
            err_name(
                cb.close(
                    &mut other,
                    ChargebackResolution::BuyerWon,
                    staff_actor(),
                    t0()
                )
                .unwrap_err()
            ),
            "payment_mismatch"
        );
        assert!(
            cb.close(&mut p, ChargebackResolution::BuyerWon, staff_actor(), t0())
                .is_ok()
        );
        assert_eq!(
            err_name(
                cb.close(&mut p, ChargebackResolution::BuyerWon, staff_actor(), t0())
                    .unwrap_err()
            ),
            "chargeback_not_open"
        );
        assert_eq!(
            p.charged_back,
            cny(100),
            "closing twice does not count twice"
        );
    }
}
