//! The repository: maps the domain aggregates to their rows and back.
//!
//! Writers lock what they change first: [`lock_payment`] (`SELECT ... FOR UPDATE`) is taken
//! before any refund or chargeback of that payment is created or moved, so the refund cap and
//! the "one open chargeback" rule are checked under the lock. The store credit account row is
//! locked before a ledger entry is appended. Rows without an aggregate root to lock (one
//! payment per order, one active charge per repair) are serialised with a transaction-scoped
//! advisory lock ([`lock_key`]), with a UNIQUE index as the backstop.

use super::entities::{
    charge, chargeback, compensation, payment, refund, store_credit_account, store_credit_entry,
};
use crate::domain::{
    Actor, BuyerId, CaseId, Charge, ChargeFor, ChargeId, ChargeStatus, Chargeback, ChargebackId,
    ChargebackResolution, ChargebackStatus, Compensation, CompensationId, CompensationKind,
    CompensationStatus, ComplaintId, CreditSource, EntryKind, IdempotencyKey, MerchantId, OrderId,
    Payment, PaymentId, PaymentMethod, Payout, QuoteId, Refund, RefundDestination, RefundId,
    RefundStatus, RepairId, StoreCreditAccount, StoreCreditEntry, StoreCreditEntryId,
};
use aftersales_kernel::{Currency, Money};
use aftersales_platform::{AppError, AppResult, edge::Page};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Select, Statement,
};
use serde_json::Value as Json;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------------
// Column conversions

fn corrupt(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("stored {what} is invalid: {detail}"))
}

fn money(minor: i64, currency: &str) -> AppResult<Money> {
    Money::parse(minor, currency).map_err(|e| corrupt("amount", e))
}

fn currency(code: &str) -> AppResult<Currency> {
    Currency::parse(code).map_err(|e| corrupt("currency", e))
}

fn parse<T>(column: &str, value: &str, f: impl Fn(&str) -> Option<T>) -> AppResult<T> {
    f(value).ok_or_else(|| corrupt(column, value))
}

fn key(value: &str) -> AppResult<IdempotencyKey> {
    IdempotencyKey::parse("idempotency_key", value)
        .map_err(|e| corrupt("idempotency key", e.description))
}

fn actor_json(a: &Actor) -> AppResult<Json> {
    serde_json::to_value(a).map_err(|e| AppError::Internal(e.into()))
}

fn actor(v: Json) -> AppResult<Actor> {
    serde_json::from_value(v).map_err(|e| corrupt("actor", e))
}

fn opt_actor_json(a: Option<&Actor>) -> AppResult<Option<Json>> {
    a.map(actor_json).transpose()
}

fn opt_actor(v: Option<Json>) -> AppResult<Option<Actor>> {
    v.map(actor).transpose()
}

/// Serialises writers on `name` until the transaction ends (`pg_advisory_xact_lock`).
pub async fn lock_key<C: ConnectionTrait>(conn: &C, name: &str) -> AppResult<()> {
    conn.query_one_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [name.into()],
    ))
    .await?;
    Ok(())
}

/// Adds keyset pagination (ascending ids) to a query.
fn page_asc<E: EntityTrait>(q: Select<E>, id: impl ColumnTrait, page: Page) -> Select<E> {
    let q = match page.after {
        Some(after) => q.filter(id.gt(after)),
        None => q,
    };
    q.order_by_asc(id).limit(page.size + 1)
}

// ---------------------------------------------------------------------------------------------
// Payments

fn payment_model(p: &Payment) -> AppResult<payment::Model> {
    Ok(payment::Model {
        id: p.id.0,
        order_id: p.order_id.0,
        merchant_id: p.merchant_id.0,
        buyer_id: p.buyer_id.0,
        method: p.method.as_str().to_owned(),
        currency: p.captured.currency().to_string(),
        captured_minor: p.captured.minor(),
        refunds_in_flight_minor: p.refunds_in_flight.minor(),
        refunded_minor: p.refunded.minor(),
        charged_back_minor: p.charged_back.minor(),
        failed_refunds: i32::try_from(p.failed_refunds).unwrap_or(i32::MAX),
        open_chargeback_id: p.open_chargeback.map(|c| c.0),
        provider_reference: p.provider_reference.clone(),
        idempotency_key: p.idempotency_key.as_str().to_owned(),
        recorded_by: actor_json(&p.recorded_by)?,
        captured_at: p.captured_at,
        created_at: p.created_at,
        updated_at: p.updated_at,
    })
}

fn payment_domain(m: payment::Model) -> AppResult<Payment> {
    Ok(Payment {
        id: PaymentId(m.id),
        order_id: OrderId(m.order_id),
        merchant_id: MerchantId(m.merchant_id),
        buyer_id: BuyerId(m.buyer_id),
        method: parse("payment method", &m.method, PaymentMethod::parse)?,
        captured: money(m.captured_minor, &m.currency)?,
        refunds_in_flight: money(m.refunds_in_flight_minor, &m.currency)?,
        refunded: money(m.refunded_minor, &m.currency)?,
        charged_back: money(m.charged_back_minor, &m.currency)?,
        failed_refunds: u32::try_from(m.failed_refunds).unwrap_or(0),
        open_chargeback: m.open_chargeback_id.map(ChargebackId),
        provider_reference: m.provider_reference,
        idempotency_key: key(&m.idempotency_key)?,
        recorded_by: actor(m.recorded_by)?,
        captured_at: m.captured_at,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub async fn load_payment<C: ConnectionTrait>(conn: &C, id: PaymentId) -> AppResult<Payment> {
    let row = payment::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("payment", id))?;
    payment_domain(row)
}

/// Loads a payment under `SELECT ... FOR UPDATE`: every refund and chargeback change of the
/// payment goes through this lock.
pub async fn lock_payment<C: ConnectionTrait>(conn: &C, id: PaymentId) -> AppResult<Payment> {
    let row = payment::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("payment", id))?;
    payment_domain(row)
}

pub async fn find_payment_by_order<C: ConnectionTrait>(
    conn: &C,
    order_id: OrderId,
) -> AppResult<Option<Payment>> {
    payment::Entity::find()
        .filter(payment::Column::OrderId.eq(order_id.0))
        .one(conn)
        .await?
        .map(payment_domain)
        .transpose()
}

pub async fn insert_payment<C: ConnectionTrait>(conn: &C, p: &Payment) -> AppResult<()> {
    payment_model(p)?.into_active_model().insert(conn).await?;
    Ok(())
}

pub async fn save_payment<C: ConnectionTrait>(conn: &C, p: &Payment) -> AppResult<()> {
    payment_model(p)?
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct PaymentFilter {
    pub order_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub buyer_id: Option<Uuid>,
    pub method: Option<PaymentMethod>,
    pub captured_after: Option<DateTime<Utc>>,
    pub captured_before: Option<DateTime<Utc>>,
}

pub async fn list_payments<C: ConnectionTrait>(
    conn: &C,
    f: &PaymentFilter,
    page: Page,
) -> AppResult<Vec<Payment>> {
    use payment::Column as C;
    let mut cond = Condition::all();
    if let Some(v) = f.order_id {
        cond = cond.add(C::OrderId.eq(v));
    }
    if let Some(v) = f.merchant_id {
        cond = cond.add(C::MerchantId.eq(v));
    }
    if let Some(v) = f.buyer_id {
        cond = cond.add(C::BuyerId.eq(v));
    }
    if let Some(v) = f.method {
        cond = cond.add(C::Method.eq(v.as_str()));
    }
    if let Some(v) = f.captured_after {
        cond = cond.add(C::CapturedAt.gte(v));
    }
    if let Some(v) = f.captured_before {
        cond = cond.add(C::CapturedAt.lt(v));
    }
    let q = page_asc(payment::Entity::find().filter(cond), C::Id, page);
    q.all(conn).await?.into_iter().map(payment_domain).collect()
}

// ---------------------------------------------------------------------------------------------
// Refunds

fn refund_model(r: &Refund) -> AppResult<refund::Model> {
    Ok(refund::Model {
        id: r.id.0,
        payment_id: r.payment_id.0,
        order_id: r.order_id.0,
        merchant_id: r.merchant_id.0,
        buyer_id: r.buyer_id.0,
        case_id: r.case_id.map(|c| c.0),
        idempotency_key: r.idempotency_key.as_str().to_owned(),
        currency: r.amount.currency().to_string(),
        amount_minor: r.amount.minor(),
        destination: r.destination.as_str().to_owned(),
        status: r.status.as_str().to_owned(),
        reason: r.reason.clone(),
        override_reason: r.override_reason.clone(),
        provider_reference: r.provider_reference.clone(),
        failure_reason: r.failure_reason.clone(),
        requested_by: actor_json(&r.requested_by)?,
        resolved_by: opt_actor_json(r.resolved_by.as_ref())?,
        resolution_note: r.resolution_note.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        completed_at: r.completed_at,
    })
}

fn refund_domain(m: refund::Model) -> AppResult<Refund> {
    Ok(Refund {
        id: RefundId(m.id),
        payment_id: PaymentId(m.payment_id),
        order_id: OrderId(m.order_id),
        merchant_id: MerchantId(m.merchant_id),
        buyer_id: BuyerId(m.buyer_id),
        case_id: m.case_id.map(CaseId),
        idempotency_key: key(&m.idempotency_key)?,
        amount: money(m.amount_minor, &m.currency)?,
        destination: parse(
            "refund destination",
            &m.destination,
            RefundDestination::parse,
        )?,
        status: parse("refund status", &m.status, RefundStatus::parse)?,
        reason: m.reason,
        override_reason: m.override_reason,
        provider_reference: m.provider_reference,
        failure_reason: m.failure_reason,
        requested_by: actor(m.requested_by)?,
        resolved_by: opt_actor(m.resolved_by)?,
        resolution_note: m.resolution_note,
        created_at: m.created_at,
        updated_at: m.updated_at,
        completed_at: m.completed_at,
    })
}

pub async fn load_refund<C: ConnectionTrait>(conn: &C, id: RefundId) -> AppResult<Refund> {
    let row = refund::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("refund", id))?;
    refund_domain(row)
}

/// Loads a refund under `FOR UPDATE` (take the payment lock first).
pub async fn lock_refund<C: ConnectionTrait>(conn: &C, id: RefundId) -> AppResult<Refund> {
    let row = refund::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("refund", id))?;
    refund_domain(row)
}

pub async fn insert_refund<C: ConnectionTrait>(conn: &C, r: &Refund) -> AppResult<()> {
    refund_model(r)?.into_active_model().insert(conn).await?;
    Ok(())
}

pub async fn save_refund<C: ConnectionTrait>(conn: &C, r: &Refund) -> AppResult<()> {
    refund_model(r)?
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct RefundFilter {
    pub payment_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub status: Option<RefundStatus>,
    pub destination: Option<RefundDestination>,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// The refunds of an after-sale case on a payment (the caller holds the payment's lock).
pub async fn refunds_of_case<C: ConnectionTrait>(
    conn: &C,
    payment_id: PaymentId,
    case_id: CaseId,
) -> AppResult<Vec<Refund>> {
    refund::Entity::find()
        .filter(refund::Column::PaymentId.eq(payment_id.0))
        .filter(refund::Column::CaseId.eq(case_id.0))
        .order_by_asc(refund::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(refund_domain)
        .collect()
}

pub async fn list_refunds<C: ConnectionTrait>(
    conn: &C,
    f: &RefundFilter,
    page: Page,
) -> AppResult<Vec<Refund>> {
    use refund::Column as C;
    let mut cond = Condition::all();
    if let Some(v) = f.payment_id {
        cond = cond.add(C::PaymentId.eq(v));
    }
    if let Some(v) = f.order_id {
        cond = cond.add(C::OrderId.eq(v));
    }
    if let Some(v) = f.merchant_id {
        cond = cond.add(C::MerchantId.eq(v));
    }
    if let Some(v) = f.case_id {
        cond = cond.add(C::CaseId.eq(v));
    }
    if let Some(v) = f.status {
        cond = cond.add(C::Status.eq(v.as_str()));
    }
    if let Some(v) = f.destination {
        cond = cond.add(C::Destination.eq(v.as_str()));
    }
    if let Some(v) = f.created_after {
        cond = cond.add(C::CreatedAt.gte(v));
    }
    if let Some(v) = f.created_before {
        cond = cond.add(C::CreatedAt.lt(v));
    }
    let q = page_asc(refund::Entity::find().filter(cond), C::Id, page);
    q.all(conn).await?.into_iter().map(refund_domain).collect()
}

// ---------------------------------------------------------------------------------------------
// Chargebacks

fn chargeback_model(c: &Chargeback) -> AppResult<chargeback::Model> {
    Ok(chargeback::Model {
        id: c.id.0,
        payment_id: c.payment_id.0,
        currency: c.amount.currency().to_string(),
        amount_minor: c.amount.minor(),
        status: c.status.as_str().to_owned(),
        resolution: c.resolution.map(|r| r.as_str().to_owned()),
        reason: c.reason.clone(),
        provider_reference: c.provider_reference.clone(),
        idempotency_key: c.idempotency_key.as_str().to_owned(),
        opened_by: actor_json(&c.opened_by)?,
        closed_by: opt_actor_json(c.closed_by.as_ref())?,
        opened_at: c.opened_at,
        closed_at: c.closed_at,
    })
}

fn chargeback_domain(m: chargeback::Model) -> AppResult<Chargeback> {
    Ok(Chargeback {
        id: ChargebackId(m.id),
        payment_id: PaymentId(m.payment_id),
        amount: money(m.amount_minor, &m.currency)?,
        status: parse("chargeback status", &m.status, ChargebackStatus::parse)?,
        resolution: m
            .resolution
            .as_deref()
            .map(|r| parse("chargeback resolution", r, ChargebackResolution::parse))
            .transpose()?,
        reason: m.reason,
        provider_reference: m.provider_reference,
        idempotency_key: key(&m.idempotency_key)?,
        opened_by: actor(m.opened_by)?,
        closed_by: opt_actor(m.closed_by)?,
        opened_at: m.opened_at,
        closed_at: m.closed_at,
    })
}

pub async fn load_chargeback<C: ConnectionTrait>(
    conn: &C,
    id: ChargebackId,
) -> AppResult<Chargeback> {
    let row = chargeback::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("chargeback", id))?;
    chargeback_domain(row)
}

/// Loads a chargeback under `FOR UPDATE` (take the payment lock first).
pub async fn lock_chargeback<C: ConnectionTrait>(
    conn: &C,
    id: ChargebackId,
) -> AppResult<Chargeback> {
    let row = chargeback::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("chargeback", id))?;
    chargeback_domain(row)
}

pub async fn insert_chargeback<C: ConnectionTrait>(conn: &C, c: &Chargeback) -> AppResult<()> {
    chargeback_model(c)?
        .into_active_model()
        .insert(conn)
        .await?;
    Ok(())
}

pub async fn save_chargeback<C: ConnectionTrait>(conn: &C, c: &Chargeback) -> AppResult<()> {
    chargeback_model(c)?
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

pub async fn list_chargebacks<C: ConnectionTrait>(
    conn: &C,
    payment_id: Option<Uuid>,
    status: Option<ChargebackStatus>,
    page: Page,
) -> AppResult<Vec<Chargeback>> {
    use chargeback::Column as C;
    let mut cond = Condition::all();
    if let Some(v) = payment_id {
        cond = cond.add(C::PaymentId.eq(v));
    }
    if let Some(v) = status {
        cond = cond.add(C::Status.eq(v.as_str()));
    }
    let q = page_asc(chargeback::Entity::find().filter(cond), C::Id, page);
    q.all(conn)
        .await?
        .into_iter()
        .map(chargeback_domain)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Compensations

fn compensation_model(c: &Compensation) -> AppResult<compensation::Model> {
    Ok(compensation::Model {
        id: c.id.0,
        buyer_id: c.buyer_id.0,
        merchant_id: c.merchant_id.0,
        order_id: c.order_id.map(|v| v.0),
        case_id: c.case_id.map(|v| v.0),
        complaint_id: c.complaint_id.map(|v| v.0),
        repair_id: c.repair_id.map(|v| v.0),
        kind: c.kind.as_str().to_owned(),
        payout: c.payout.as_str().to_owned(),
        currency: c.amount.currency().to_string(),
        amount_minor: c.amount.minor(),
        status: c.status.as_str().to_owned(),
        reason: c.reason.clone(),
        coupon_code: c.coupon_code.clone(),
        store_credit_entry_id: c.store_credit_entry_id.map(|e| e.0),
        provider_reference: c.provider_reference.clone(),
        failure_reason: c.failure_reason.clone(),
        idempotency_key: c.idempotency_key.as_str().to_owned(),
        issued_by: actor_json(&c.issued_by)?,
        resolved_by: opt_actor_json(c.resolved_by.as_ref())?,
        resolution_note: c.resolution_note.clone(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn compensation_domain(m: compensation::Model) -> AppResult<Compensation> {
    Ok(Compensation {
        id: CompensationId(m.id),
        buyer_id: BuyerId(m.buyer_id),
        merchant_id: MerchantId(m.merchant_id),
        order_id: m.order_id.map(OrderId),
        case_id: m.case_id.map(CaseId),
        complaint_id: m.complaint_id.map(ComplaintId),
        repair_id: m.repair_id.map(RepairId),
        kind: parse("compensation kind", &m.kind, CompensationKind::parse)?,
        payout: parse("compensation payout", &m.payout, Payout::parse)?,
        amount: money(m.amount_minor, &m.currency)?,
        status: parse("compensation status", &m.status, CompensationStatus::parse)?,
        reason: m.reason,
        coupon_code: m.coupon_code,
        store_credit_entry_id: m.store_credit_entry_id.map(StoreCreditEntryId),
        provider_reference: m.provider_reference,
        failure_reason: m.failure_reason,
        idempotency_key: key(&m.idempotency_key)?,
        issued_by: actor(m.issued_by)?,
        resolved_by: opt_actor(m.resolved_by)?,
        resolution_note: m.resolution_note,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub async fn load_compensation<C: ConnectionTrait>(
    conn: &C,
    id: CompensationId,
) -> AppResult<Compensation> {
    let row = compensation::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("compensation", id))?;
    compensation_domain(row)
}

pub async fn lock_compensation<C: ConnectionTrait>(
    conn: &C,
    id: CompensationId,
) -> AppResult<Compensation> {
    let row = compensation::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("compensation", id))?;
    compensation_domain(row)
}

pub async fn insert_compensation<C: ConnectionTrait>(conn: &C, c: &Compensation) -> AppResult<()> {
    compensation_model(c)?
        .into_active_model()
        .insert(conn)
        .await?;
    Ok(())
}

pub async fn save_compensation<C: ConnectionTrait>(conn: &C, c: &Compensation) -> AppResult<()> {
    compensation_model(c)?
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Default, Clone)]
pub struct CompensationFilter {
    pub order_id: Option<Uuid>,
    pub buyer_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub complaint_id: Option<Uuid>,
    pub kind: Option<CompensationKind>,
    pub payout: Option<Payout>,
    pub status: Option<CompensationStatus>,
}

pub async fn list_compensations<C: ConnectionTrait>(
    conn: &C,
    f: &CompensationFilter,
    page: Page,
) -> AppResult<Vec<Compensation>> {
    use compensation::Column as C;
    let mut cond = Condition::all();
    if let Some(v) = f.order_id {
        cond = cond.add(C::OrderId.eq(v));
    }
    if let Some(v) = f.buyer_id {
        cond = cond.add(C::BuyerId.eq(v));
    }
    if let Some(v) = f.merchant_id {
        cond = cond.add(C::MerchantId.eq(v));
    }
    if let Some(v) = f.case_id {
        cond = cond.add(C::CaseId.eq(v));
    }
    if let Some(v) = f.complaint_id {
        cond = cond.add(C::ComplaintId.eq(v));
    }
    if let Some(v) = f.kind {
        cond = cond.add(C::Kind.eq(v.as_str()));
    }
    if let Some(v) = f.payout {
        cond = cond.add(C::Payout.eq(v.as_str()));
    }
    if let Some(v) = f.status {
        cond = cond.add(C::Status.eq(v.as_str()));
    }
    let q = page_asc(compensation::Entity::find().filter(cond), C::Id, page);
    q.all(conn)
        .await?
        .into_iter()
        .map(compensation_domain)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Store credit

/// Locks (creating it empty when missing) the store credit account of a buyer in a currency.
pub async fn lock_account<C: ConnectionTrait>(
    conn: &C,
    buyer_id: BuyerId,
    cur: Currency,
) -> AppResult<StoreCreditAccount> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO store_credit_accounts (buyer_id, currency, balance_minor) VALUES ($1, $2, 0) \
         ON CONFLICT (buyer_id, currency) DO NOTHING",
        [buyer_id.0.into(), cur.to_string().into()],
    ))
    .await?;
    let row = store_credit_account::Entity::find_by_id((buyer_id.0, cur.to_string()))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::Conflict("store credit account vanished, retry".into()))?;
    account_domain(row)
}

fn account_domain(m: store_credit_account::Model) -> AppResult<StoreCreditAccount> {
    Ok(StoreCreditAccount {
        buyer_id: BuyerId(m.buyer_id),
        balance: money(m.balance_minor, &m.currency)?,
        updated_at: m.updated_at,
    })
}

pub async fn save_account<C: ConnectionTrait>(conn: &C, a: &StoreCreditAccount) -> AppResult<()> {
    store_credit_account::Model {
        buyer_id: a.buyer_id.0,
        currency: a.balance.currency().to_string(),
        balance_minor: a.balance.minor(),
        updated_at: a.updated_at,
    }
    .into_active_model()
    .reset_all()
    .update(conn)
    .await?;
    Ok(())
}

/// The accounts (balances) of a buyer, optionally in one currency.
pub async fn list_accounts<C: ConnectionTrait>(
    conn: &C,
    buyer_id: BuyerId,
    cur: Option<Currency>,
) -> AppResult<Vec<StoreCreditAccount>> {
    use store_credit_account::Column as C;
    let mut q = store_credit_account::Entity::find().filter(C::BuyerId.eq(buyer_id.0));
    if let Some(c) = cur {
        q = q.filter(C::Currency.eq(c.to_string()));
    }
    q.order_by_asc(C::Currency)
        .all(conn)
        .await?
        .into_iter()
        .map(account_domain)
        .collect()
}

fn entry_model(e: &StoreCreditEntry) -> AppResult<store_credit_entry::Model> {
    Ok(store_credit_entry::Model {
        id: e.id.0,
        buyer_id: e.buyer_id.0,
        kind: e.kind.as_str().to_owned(),
        currency: e.amount.currency().to_string(),
        amount_minor: e.amount.minor(),
        balance_after_minor: e.balance_after.minor(),
        source: e.source.as_str().to_owned(),
        source_id: e.source_id,
        reason: e.reason.clone(),
        actor: actor_json(&e.actor)?,
        created_at: e.created_at,
    })
}

fn entry_domain(m: store_credit_entry::Model) -> AppResult<StoreCreditEntry> {
    Ok(StoreCreditEntry {
        id: StoreCreditEntryId(m.id),
        buyer_id: BuyerId(m.buyer_id),
        kind: parse("ledger entry kind", &m.kind, EntryKind::parse)?,
        amount: money(m.amount_minor, &m.currency)?,
        balance_after: money(m.balance_after_minor, &m.currency)?,
        source: parse("ledger entry source", &m.source, CreditSource::parse)?,
        source_id: m.source_id,
        reason: m.reason,
        actor: actor(m.actor)?,
        created_at: m.created_at,
    })
}

/// Appends a ledger entry (the caller holds the account lock and saves the account).
pub async fn insert_entry<C: ConnectionTrait>(conn: &C, e: &StoreCreditEntry) -> AppResult<()> {
    entry_model(e)?.into_active_model().insert(conn).await?;
    Ok(())
}

/// A buyer's ledger, newest first (`page.after` is the oldest id of the previous page).
pub async fn list_entries<C: ConnectionTrait>(
    conn: &C,
    buyer_id: BuyerId,
    cur: Option<Currency>,
    source: Option<CreditSource>,
    page: Page,
) -> AppResult<Vec<StoreCreditEntry>> {
    use store_credit_entry::Column as C;
    let mut q = store_credit_entry::Entity::find().filter(C::BuyerId.eq(buyer_id.0));
    if let Some(c) = cur {
        q = q.filter(C::Currency.eq(c.to_string()));
    }
    if let Some(s) = source {
        q = q.filter(C::Source.eq(s.as_str()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    q.order_by_desc(C::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?
        .into_iter()
        .map(entry_domain)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Charges

fn charge_model(c: &Charge) -> AppResult<charge::Model> {
    Ok(charge::Model {
        id: c.id.0,
        repair_id: c.charge_for.repair_id().map(|id| id.0),
        case_id: c.charge_for.case_id().map(|id| id.0),
        quote_id: c.quote_id.map(|q| q.0),
        buyer_id: c.buyer_id.0,
        merchant_id: c.merchant_id.0,
        currency: c.amount.currency().to_string(),
        amount_minor: c.amount.minor(),
        method: c.method.as_str().to_owned(),
        status: c.status.as_str().to_owned(),
        provider_reference: c.provider_reference.clone(),
        failure_reason: c.failure_reason.clone(),
        void_reason: c.void_reason.clone(),
        refund_on_void: c.refund_on_void,
        idempotency_key: c.idempotency_key.as_str().to_owned(),
        requested_by: actor_json(&c.requested_by)?,
        voided_by: opt_actor_json(c.voided_by.as_ref())?,
        created_at: c.created_at,
        updated_at: c.updated_at,
    })
}

fn charge_domain(m: charge::Model) -> AppResult<Charge> {
    Ok(Charge {
        id: ChargeId(m.id),
        charge_for: match (m.repair_id, m.case_id) {
            (Some(r), None) => ChargeFor::Repair(RepairId(r)),
            (None, Some(c)) => ChargeFor::Case(CaseId(c)),
            _ => {
                return Err(AppError::Internal(anyhow::anyhow!(
                    "charge {} pays for neither exactly one repair nor one case",
                    m.id
                )));
            }
        },
        quote_id: m.quote_id.map(QuoteId),
        buyer_id: BuyerId(m.buyer_id),
        merchant_id: MerchantId(m.merchant_id),
        amount: money(m.amount_minor, &m.currency)?,
        method: parse("charge method", &m.method, PaymentMethod::parse)?,
        status: parse("charge status", &m.status, ChargeStatus::parse)?,
        provider_reference: m.provider_reference,
        failure_reason: m.failure_reason,
        void_reason: m.void_reason,
        refund_on_void: m.refund_on_void,
        idempotency_key: key(&m.idempotency_key)?,
        requested_by: actor(m.requested_by)?,
        voided_by: opt_actor(m.voided_by)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

pub async fn load_charge<C: ConnectionTrait>(conn: &C, id: ChargeId) -> AppResult<Charge> {
    let row = charge::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("charge", id))?;
    charge_domain(row)
}

pub async fn lock_charge<C: ConnectionTrait>(conn: &C, id: ChargeId) -> AppResult<Charge> {
    let row = charge::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("charge", id))?;
    charge_domain(row)
}

/// The charges of a repair or case (the caller holds its advisory lock).
pub async fn charges_for<C: ConnectionTrait>(
    conn: &C,
    charge_for: ChargeFor,
) -> AppResult<Vec<Charge>> {
    let filter = match charge_for {
        ChargeFor::Repair(id) => charge::Column::RepairId.eq(id.0),
        ChargeFor::Case(id) => charge::Column::CaseId.eq(id.0),
    };
    charge::Entity::find()
        .filter(filter)
        .order_by_asc(charge::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(charge_domain)
        .collect()
}

pub async fn insert_charge<C: ConnectionTrait>(conn: &C, c: &Charge) -> AppResult<()> {
    charge_model(c)?.into_active_model().insert(conn).await?;
    Ok(())
}

pub async fn save_charge<C: ConnectionTrait>(conn: &C, c: &Charge) -> AppResult<()> {
    charge_model(c)?
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

/// Optional filters of `ListCharges`.
pub struct ChargeFilter {
    pub repair_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub buyer_id: Option<Uuid>,
    pub status: Option<ChargeStatus>,
}

pub async fn list_charges<C: ConnectionTrait>(
    conn: &C,
    filter: &ChargeFilter,
    page: Page,
) -> AppResult<Vec<Charge>> {
    use charge::Column as C;
    let mut cond = Condition::all();
    if let Some(v) = filter.repair_id {
        cond = cond.add(C::RepairId.eq(v));
    }
    if let Some(v) = filter.case_id {
        cond = cond.add(C::CaseId.eq(v));
    }
    if let Some(v) = filter.buyer_id {
        cond = cond.add(C::BuyerId.eq(v));
    }
    if let Some(v) = filter.status {
        cond = cond.add(C::Status.eq(v.as_str()));
    }
    let q = page_asc(charge::Entity::find().filter(cond), C::Id, page);
    q.all(conn).await?.into_iter().map(charge_domain).collect()
}

/// Parses a stored currency code (used by callers converting rows they read directly).
pub fn stored_currency(code: &str) -> AppResult<Currency> {
    currency(code)
}
