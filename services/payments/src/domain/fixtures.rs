//! Shared test fixtures.

use crate::domain::{
    Actor, ActorKind, BuyerId, IdempotencyKey, MerchantId, NewPayment, OrderId, Payment,
    PaymentMethod,
};
use aftersales_kernel::{Currency, DomainError, Money};
use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

pub const MERCHANT: MerchantId = MerchantId(Uuid::from_u128(0x1111));
pub const BUYER: BuyerId = BuyerId(Uuid::from_u128(0x2222));
pub const ORDER: OrderId = OrderId(Uuid::from_u128(0x3333));

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 8, 0, 0)
        .single()
        .expect("valid time")
}

pub fn secs(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(n)
}

pub fn cny(minor: i64) -> Money {
    Money::parse(minor, "CNY").expect("valid money")
}

pub fn usd(minor: i64) -> Money {
    Money::new(minor, Currency::parse("USD").expect("usd")).expect("valid money")
}

pub fn key(k: &str) -> IdempotencyKey {
    IdempotencyKey::parse("idempotency_key", k).expect("valid key")
}

pub fn staff_actor() -> Actor {
    Actor::staff("staff-1")
}

pub fn system_actor() -> Actor {
    Actor::system("orchestrator")
}

pub fn partner_actor() -> Actor {
    Actor {
        kind: ActorKind::Partner,
        id: "sandbox".into(),
    }
}

pub fn merchant_actor() -> Actor {
    Actor {
        kind: ActorKind::Merchant,
        id: MERCHANT.to_string(),
    }
}

pub fn other_merchant_actor() -> Actor {
    Actor {
        kind: ActorKind::Merchant,
        id: Uuid::from_u128(0x9999).to_string(),
    }
}

pub fn buyer_actor() -> Actor {
    Actor {
        kind: ActorKind::Buyer,
        id: BUYER.to_string(),
    }
}

pub fn new_payment(method: PaymentMethod, minor: i64) -> NewPayment {
    NewPayment {
        idempotency_key: key("pay-1"),
        order_id: ORDER,
        merchant_id: MERCHANT,
        buyer_id: BUYER,
        method,
        captured: cny(minor),
        provider_reference: "psp-capture-1".into(),
        captured_at: t0(),
        actor: system_actor(),
    }
}

pub fn payment(method: PaymentMethod, minor: i64) -> Payment {
    Payment::record(new_payment(method, minor), t0())
        .expect("valid payment")
        .0
}

/// Rule name of a rule violation, or the first field of an invalid-argument error.
pub fn err_name(e: DomainError) -> String {
    match e {
        DomainError::Rule(r) => r.rule.to_owned(),
        DomainError::Invalid(v) => v.first().map(|f| f.field.clone()).unwrap_or_default(),
    }
}
