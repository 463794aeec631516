//! Protobuf <-> domain at the gRPC edge. Request parsing names the offending field; protobuf
//! types never enter the domain.

use crate::domain::{
    self as d, Actor, ActorKind, Charge, Chargeback, Compensation, IdempotencyKey, Payment,
    ProviderOutcome, Refund, StoreCreditAccount, StoreCreditEntry,
};
use aftersales_kernel::{Money, limits};
use aftersales_platform::{AppError, AppResult, edge};
use aftersales_proto::common::v1 as common;
use aftersales_proto::payments::v1 as pb;

/// Maps a domain enum and its protobuf twin (same variant names) both ways.
macro_rules! enum_map {
    ($to_pb:ident, $from_pb:ident, $dom:ty, $pb:ty, [$($v:ident),+ $(,)?]) => {
        pub fn $to_pb(v: $dom) -> $pb {
            match v {
                $(<$dom>::$v => <$pb>::$v),+
            }
        }

        pub fn $from_pb(v: $pb) -> Option<$dom> {
            match v {
                $(<$pb>::$v => Some(<$dom>::$v),)+
                #[allow(unreachable_patterns)]
                _ => None,
            }
        }
    };
}

enum_map!(
    actor_kind_to_pb,
    actor_kind_from_pb,
    ActorKind,
    common::ActorKind,
    [Buyer, Merchant, Staff, Partner, System]
);
enum_map!(
    method_to_pb,
    method_from_pb,
    d::PaymentMethod,
    pb::PaymentMethod,
    [Card, Wallet, BankTransfer, CashOnDelivery, StoreCredit]
);
enum_map!(
    refund_status_to_pb,
    refund_status_from_pb,
    d::RefundStatus,
    pb::RefundStatus,
    [Pending, Succeeded, Failed, ManualReview]
);
enum_map!(
    destination_to_pb,
    destination_from_pb,
    d::RefundDestination,
    pb::RefundDestination,
    [OriginalMethod, StoreCredit]
);
enum_map!(
    chargeback_status_to_pb,
    chargeback_status_from_pb,
    d::ChargebackStatus,
    pb::ChargebackStatus,
    [Open, Closed]
);
enum_map!(
    resolution_to_pb,
    resolution_from_pb,
    d::ChargebackResolution,
    pb::ChargebackResolution,
    [MerchantWon, BuyerWon]
);
enum_map!(
    kind_to_pb,
    kind_from_pb,
    d::CompensationKind,
    pb::CompensationKind,
    [Overtime, WrongItem, QualityInsteadOfExchange, Goodwill]
);
enum_map!(
    payout_to_pb,
    payout_from_pb,
    d::Payout,
    pb::CompensationPayout,
    [StoreCredit, Coupon, Cash]
);
enum_map!(
    compensation_status_to_pb,
    compensation_status_from_pb,
    d::CompensationStatus,
    pb::CompensationStatus,
    [Pending, Issued, Failed, ManualReview]
);
enum_map!(
    entry_kind_to_pb,
    entry_kind_from_pb,
    d::EntryKind,
    pb::StoreCreditEntryKind,
    [Credit, Debit]
);
enum_map!(
    source_to_pb,
    source_from_pb,
    d::CreditSource,
    pb::StoreCreditSource,
    [Refund, Compensation, Order, Charge, Adjustment]
);
enum_map!(
    charge_status_to_pb,
    charge_status_from_pb,
    d::ChargeStatus,
    pb::ChargeStatus,
    [Pending, Succeeded, Failed, Voided]
);

// ---------------------------------------------------------------------------------------------
// Request fields

/// A required enum field mapped to its domain value.
pub fn required_enum<P, D>(field: &str, raw: i32, map: impl Fn(P) -> Option<D>) -> AppResult<D>
where
    P: TryFrom<i32>,
{
    let v: P = edge::enum_value(field, raw)?;
    map(v).ok_or_else(|| AppError::field(field, format!("unknown value {raw}")))
}

/// An optional enum filter (0 means none) mapped to its domain value.
pub fn optional_enum<P, D>(
    field: &str,
    raw: i32,
    map: impl Fn(P) -> Option<D>,
) -> AppResult<Option<D>>
where
    P: TryFrom<i32>,
{
    if raw == 0 {
        Ok(None)
    } else {
        required_enum(field, raw, map).map(Some)
    }
}

pub fn idempotency_key(raw: &str) -> AppResult<IdempotencyKey> {
    Ok(IdempotencyKey::parse("idempotency_key", raw)?)
}

/// Money that must be > 0: `field.minor_units` / `field.currency` named on failure.
pub fn positive_money(field: &str, value: Option<&common::Money>) -> AppResult<Money> {
    let m = edge::money(field, value)?;
    if m.minor() == 0 {
        return Err(AppError::field(
            format!("{field}.minor_units"),
            "must be greater than zero",
        ));
    }
    Ok(m)
}

/// The required actor: `actor.kind` and `actor.id` named on failure.
pub fn actor(value: Option<&common::Actor>) -> AppResult<Actor> {
    let a = value.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind = required_enum("actor.kind", a.kind, actor_kind_from_pb)?;
    Ok(Actor::new("actor", Some(kind), &a.id)?)
}

/// A required reason, trimmed, at most 4096 characters.
pub fn reason(field: &str, value: &str) -> AppResult<String> {
    Ok(d::validate::reason(field, value)?)
}

/// An optional text, blank meaning none.
pub fn optional_text(field: &str, value: &str, max: usize) -> AppResult<Option<String>> {
    Ok(d::validate::optional_text(field, value, max)?)
}

pub fn short_text(field: &str, value: &str) -> AppResult<String> {
    Ok(d::validate::required_text(
        field,
        value,
        limits::SHORT_TEXT,
    )?)
}

/// A provider confirmation: `outcome` required; SUCCEEDED needs `provider_reference`, FAILED a
/// `failure_reason`.
pub fn confirmation(
    outcome: i32,
    provider_reference: &str,
    failure_reason: &str,
) -> AppResult<ProviderOutcome> {
    let o: pb::ConfirmationOutcome = edge::enum_value("outcome", outcome)?;
    let succeeded = match o {
        pb::ConfirmationOutcome::Succeeded => true,
        pb::ConfirmationOutcome::Failed => false,
        pb::ConfirmationOutcome::Unspecified => {
            return Err(AppError::field("outcome", "is required"));
        }
    };
    Ok(ProviderOutcome::confirmation(
        succeeded,
        provider_reference,
        failure_reason,
    )?)
}

// ---------------------------------------------------------------------------------------------
// Responses

fn money(m: Money) -> Option<common::Money> {
    Some(edge::money_to_pb(m))
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(edge::timestamp_to_pb(t))
}

fn opt_ts(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<prost_types::Timestamp> {
    edge::optional_timestamp_to_pb(t)
}

fn opt_id(v: Option<impl ToString>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub fn actor_to_pb(a: &Actor) -> common::Actor {
    common::Actor {
        kind: actor_kind_to_pb(a.kind) as i32,
        id: a.id.clone(),
    }
}

pub fn payment_to_pb(p: &Payment) -> pb::Payment {
    pb::Payment {
        payment_id: p.id.to_string(),
        order_id: p.order_id.to_string(),
        merchant_id: p.merchant_id.to_string(),
        buyer_id: p.buyer_id.to_string(),
        method: method_to_pb(p.method) as i32,
        captured: money(p.captured),
        refunds_in_flight: money(p.refunds_in_flight),
        refunded: money(p.refunded),
        charged_back: money(p.charged_back),
        refundable: money(p.refundable()),
        open_chargeback_id: opt_id(p.open_chargeback),
        provider_reference: p.provider_reference.clone(),
        captured_at: ts(p.captured_at),
        created_at: ts(p.created_at),
        updated_at: ts(p.updated_at),
        failed_refunds: p.failed_refunds,
    }
}

pub fn refund_to_pb(r: &Refund) -> pb::Refund {
    pb::Refund {
        refund_id: r.id.to_string(),
        payment_id: r.payment_id.to_string(),
        order_id: r.order_id.to_string(),
        merchant_id: r.merchant_id.to_string(),
        buyer_id: r.buyer_id.to_string(),
        case_id: opt_id(r.case_id),
        idempotency_key: r.idempotency_key.as_str().to_owned(),
        amount: money(r.amount),
        destination: destination_to_pb(r.destination) as i32,
        status: refund_status_to_pb(r.status) as i32,
        reason: r.reason.clone(),
        override_reason: r.override_reason.clone().unwrap_or_default(),
        provider_reference: r.provider_reference.clone().unwrap_or_default(),
        failure_reason: r.failure_reason.clone().unwrap_or_default(),
        requested_by: Some(actor_to_pb(&r.requested_by)),
        resolved_by: r.resolved_by.as_ref().map(actor_to_pb),
        resolution_note: r.resolution_note.clone().unwrap_or_default(),
        created_at: ts(r.created_at),
        updated_at: ts(r.updated_at),
        completed_at: opt_ts(r.completed_at),
    }
}

pub fn chargeback_to_pb(c: &Chargeback) -> pb::Chargeback {
    pb::Chargeback {
        chargeback_id: c.id.to_string(),
        payment_id: c.payment_id.to_string(),
        amount: money(c.amount),
        status: chargeback_status_to_pb(c.status) as i32,
        resolution: c
            .resolution
            .map(|r| resolution_to_pb(r) as i32)
            .unwrap_or(0),
        reason: c.reason.clone(),
        provider_reference: c.provider_reference.clone().unwrap_or_default(),
        opened_by: Some(actor_to_pb(&c.opened_by)),
        closed_by: c.closed_by.as_ref().map(actor_to_pb),
        opened_at: ts(c.opened_at),
        closed_at: opt_ts(c.closed_at),
    }
}

pub fn compensation_to_pb(c: &Compensation) -> pb::Compensation {
    pb::Compensation {
        compensation_id: c.id.to_string(),
        buyer_id: c.buyer_id.to_string(),
        merchant_id: c.merchant_id.to_string(),
        order_id: opt_id(c.order_id),
        case_id: opt_id(c.case_id),
        complaint_id: opt_id(c.complaint_id),
        repair_id: opt_id(c.repair_id),
        kind: kind_to_pb(c.kind) as i32,
        payout: payout_to_pb(c.payout) as i32,
        amount: money(c.amount),
        status: compensation_status_to_pb(c.status) as i32,
        reason: c.reason.clone(),
        coupon_code: c.coupon_code.clone().unwrap_or_default(),
        store_credit_entry_id: opt_id(c.store_credit_entry_id),
        provider_reference: c.provider_reference.clone().unwrap_or_default(),
        failure_reason: c.failure_reason.clone().unwrap_or_default(),
        idempotency_key: c.idempotency_key.as_str().to_owned(),
        issued_by: Some(actor_to_pb(&c.issued_by)),
        resolved_by: c.resolved_by.as_ref().map(actor_to_pb),
        created_at: ts(c.created_at),
        updated_at: ts(c.updated_at),
        resolution_note: c.resolution_note.clone().unwrap_or_default(),
    }
}

pub fn entry_to_pb(e: &StoreCreditEntry) -> pb::StoreCreditEntry {
    pb::StoreCreditEntry {
        entry_id: e.id.to_string(),
        buyer_id: e.buyer_id.to_string(),
        kind: entry_kind_to_pb(e.kind) as i32,
        amount: money(e.amount),
        balance_after: money(e.balance_after),
        source: source_to_pb(e.source) as i32,
        source_id: opt_id(e.source_id),
        reason: e.reason.clone(),
        actor: Some(actor_to_pb(&e.actor)),
        created_at: ts(e.created_at),
    }
}

pub fn balance_to_pb(a: &StoreCreditAccount) -> pb::StoreCreditBalance {
    pb::StoreCreditBalance {
        buyer_id: a.buyer_id.to_string(),
        balance: money(a.balance),
        updated_at: opt_ts(a.updated_at),
    }
}

pub fn charge_to_pb(c: &Charge) -> pb::Charge {
    pb::Charge {
        charge_id: c.id.to_string(),
        repair_id: opt_id(c.charge_for.repair_id()),
        case_id: opt_id(c.charge_for.case_id()),
        quote_id: opt_id(c.quote_id),
        buyer_id: c.buyer_id.to_string(),
        merchant_id: c.merchant_id.to_string(),
        amount: money(c.amount),
        method: method_to_pb(c.method) as i32,
        status: charge_status_to_pb(c.status) as i32,
        provider_reference: c.provider_reference.clone().unwrap_or_default(),
        failure_reason: c.failure_reason.clone().unwrap_or_default(),
        void_reason: c.void_reason.clone().unwrap_or_default(),
        refund_on_void: c.refund_on_void,
        idempotency_key: c.idempotency_key.as_str().to_owned(),
        requested_by: Some(actor_to_pb(&c.requested_by)),
        created_at: ts(c.created_at),
        updated_at: ts(c.updated_at),
        voided_by: c.voided_by.as_ref().map(actor_to_pb),
    }
}

/// The payment a refund is for: named by its id or by its order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTarget {
    Payment(d::PaymentId),
    Order(d::OrderId),
}

/// Exactly one of `payment_id` or `order_id` (both or neither: a violation on `payment_id`).
pub fn refund_target(payment_id: &str, order_id: &str) -> AppResult<RefundTarget> {
    match (payment_id.is_empty(), order_id.is_empty()) {
        (false, true) => Ok(RefundTarget::Payment(d::PaymentId(edge::uuid(
            "payment_id",
            payment_id,
        )?))),
        (true, false) => Ok(RefundTarget::Order(d::OrderId(edge::uuid(
            "order_id", order_id,
        )?))),
        _ => Err(AppError::field(
            "payment_id",
            "exactly one of payment_id or order_id is required",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: AppError) -> String {
        match e {
            AppError::Invalid(v) => v[0].field.clone(),
            other => other.to_string(),
        }
    }

    #[test]
    fn refund_target_is_exactly_one_of_payment_or_order() {
        let id = "0190a0e0-0000-7000-8000-000000000001";
        let cases: &[(&str, &str, Result<RefundTarget, &str>)] = &[
            (
                id,
                "",
                Ok(RefundTarget::Payment(d::PaymentId(id.parse().unwrap()))),
            ),
            (
                "",
                id,
                Ok(RefundTarget::Order(d::OrderId(id.parse().unwrap()))),
            ),
            ("", "", Err("payment_id")),
            (id, id, Err("payment_id")),
            ("nope", "", Err("payment_id")),
            ("", "nope", Err("order_id")),
        ];
        for (payment, order, want) in cases {
            let got = refund_target(payment, order).map_err(field_of);
            assert_eq!(got, want.map_err(str::to_owned), "{payment:?} {order:?}");
        }
    }

    #[test]
    fn enums_round_trip() {
        for m in d::PaymentMethod::ALL {
            assert_eq!(method_from_pb(method_to_pb(*m)), Some(*m));
        }
        for s in d::RefundStatus::ALL {
            assert_eq!(refund_status_from_pb(refund_status_to_pb(*s)), Some(*s));
        }
        for s in d::CreditSource::ALL {
            assert_eq!(source_from_pb(source_to_pb(*s)), Some(*s));
        }
        assert_eq!(method_from_pb(pb::PaymentMethod::Unspecified), None);
    }

    #[test]
    fn request_fields_are_named() {
        let m = |minor, cur: &str| {
            Some(common::Money {
                minor_units: minor,
                currency: cur.into(),
            })
        };
        let cases: Vec<(AppResult<Money>, &str)> = vec![
            (positive_money("amount", None), "amount"),
            (
                positive_money("amount", m(0, "CNY").as_ref()),
                "amount.minor_units",
            ),
            (
                positive_money("amount", m(-1, "CNY").as_ref()),
                "amount.minor_units",
            ),
            (
                positive_money("amount", m(Money::MAX_MINOR + 1, "CNY").as_ref()),
                "amount.minor_units",
            ),
            (
                positive_money("amount", m(1, "cny").as_ref()),
                "amount.currency",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(field_of(got.unwrap_err()), want);
        }
        assert_eq!(field_of(actor(None).unwrap_err()), "actor");
        let bad_kind = common::Actor {
            kind: 99,
            id: "x".into(),
        };
        assert_eq!(field_of(actor(Some(&bad_kind)).unwrap_err()), "actor.kind");
        let no_id = common::Actor {
            kind: 3,
            id: " ".into(),
        };
        assert_eq!(field_of(actor(Some(&no_id)).unwrap_err()), "actor.id");
        assert_eq!(
            field_of(required_enum("method", 42, method_from_pb).unwrap_err()),
            "method"
        );
        assert_eq!(field_of(confirmation(0, "", "").unwrap_err()), "outcome");
        assert_eq!(
            field_of(confirmation(1, "", "").unwrap_err()),
            "provider_reference"
        );
        assert_eq!(
            field_of(confirmation(2, "", "").unwrap_err()),
            "failure_reason"
        );
        assert_eq!(
            field_of(idempotency_key("").unwrap_err()),
            "idempotency_key"
        );
    }
}
