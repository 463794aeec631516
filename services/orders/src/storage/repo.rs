//! The order repository: maps the [`Order`] aggregate to its rows and back.
//!
//! Every writer takes the order row lock ([`load_for_update`]) first, so changes to an order and
//! its lines are serialized; the CHECK constraints on `order_lines` are the second line of
//! defence of the counter invariant, and `save` refuses to write over a newer version.

use super::entities::{order, order_line, order_line_movement};
use crate::domain::{
    Actor, Address, BuyerId, CaseId, CounterKind, LineCounters, MemberTier, MerchantId, Order,
    OrderFilter, OrderId, OrderLine, OrderLineId, OrderState, PolicySnapshot, ShipmentId,
};
use aftersales_kernel::Money;
use aftersales_platform::{AppError, AppResult, edge::Page};
use aftersales_proto::common::v1::PageResponse;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use std::collections::HashMap;
use uuid::Uuid;

/// Loads an order with its lines (no lock): read RPCs.
pub async fn load<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<Order> {
    let row = order::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("order", id))?;
    let lines = load_lines(conn, &[id.0]).await?.remove(&id.0);
    to_domain(row, lines.unwrap_or_default())
}

/// Loads an order with its lines under `SELECT ... FOR UPDATE` on the order row: every change
/// of the order or of a line counter goes through this lock.
pub async fn load_for_update<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<Order> {
    let row = order::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("order", id))?;
    let lines = load_lines(conn, &[id.0]).await?.remove(&id.0);
    to_domain(row, lines.unwrap_or_default())
}

/// Inserts a new order and its lines.
pub async fn insert<C: ConnectionTrait>(conn: &C, o: &Order) -> AppResult<()> {
    order_model(o)?.into_active_model().insert(conn).await?;
    for (position, line) in o.lines.iter().enumerate() {
        line_model(o, position, line)?
            .into_active_model()
            .insert(conn)
            .await?;
    }
    Ok(())
}

/// Writes the order row (the caller holds its lock). Refuses to overwrite a version other than
/// the one the change started from (`ABORTED`, retryable).
pub async fn save<C: ConnectionTrait>(conn: &C, o: &Order) -> AppResult<()> {
    let model = order_model(o)?;
    let result = order::Entity::update_many()
        .set(model.into_active_model().reset_all())
        .filter(order::Column::Id.eq(o.id.0))
        .filter(order::Column::Version.eq(o.version - 1))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "order {} changed concurrently, retry",
            o.id
        )));
    }
    Ok(())
}

/// Writes the counters of one line (the caller holds the order lock and saves the order too).
pub async fn save_line_counters<C: ConnectionTrait>(
    conn: &C,
    o: &Order,
    line_id: OrderLineId,
) -> AppResult<()> {
    let line = o
        .line(line_id)
        .ok_or_else(|| AppError::field("line_id", "is not a line of this order"))?;
    let c = line.counters;
    let result = order_line::Entity::update_many()
        .col_expr(
            order_line::Column::Requested,
            Expr::value(to_i32(c.requested)?),
        )
        .col_expr(
            order_line::Column::ReturnedReceived,
            Expr::value(to_i32(c.returned_received)?),
        )
        .col_expr(
            order_line::Column::Refunded,
            Expr::value(to_i32(c.refunded)?),
        )
        .col_expr(
            order_line::Column::Replaced,
            Expr::value(to_i32(c.replaced)?),
        )
        .col_expr(
            order_line::Column::Reshipped,
            Expr::value(to_i32(c.reshipped)?),
        )
        .col_expr(
            order_line::Column::Canceled,
            Expr::value(to_i32(c.canceled)?),
        )
        .filter(order_line::Column::Id.eq(line_id.0))
        .filter(order_line::Column::OrderId.eq(o.id.0))
        .exec(conn)
        .await
        .map_err(check_violation)?;
    if result.rows_affected != 1 {
        return Err(AppError::not_found("order line", line_id));
    }
    Ok(())
}

/// One audited counter move.
pub struct Movement<'a> {
    pub order_id: OrderId,
    pub line_id: OrderLineId,
    pub counter: CounterKind,
    /// Positive when added, negative when released or reversed.
    pub delta: i64,
    pub case_id: Option<CaseId>,
    pub actor: &'a Actor,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Appends a counter move to the audit trail.
pub async fn record_movement<C: ConnectionTrait>(conn: &C, m: Movement<'_>) -> AppResult<()> {
    let delta = i32::try_from(m.delta)
        .map_err(|_| AppError::Internal(anyhow::anyhow!("counter delta out of range")))?;
    order_line_movement::Model {
        id: Uuid::now_v7(),
        order_id: m.order_id.0,
        line_id: m.line_id.0,
        counter: m.counter.as_str().to_owned(),
        delta,
        case_id: m.case_id.map(|c| c.0),
        actor_kind: m.actor.kind.as_str().to_owned(),
        actor_id: m.actor.id.clone(),
        reason: m.reason.filter(|r| !r.is_empty()),
        created_at: m.at,
    }
    .into_active_model()
    .insert(conn)
    .await?;
    Ok(())
}

/// Lists orders matching `filter`, newest first (ids are UUIDv7), one page; returns the orders
/// and the cursor of the next page.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &OrderFilter,
    page: Page,
) -> AppResult<(Vec<Order>, PageResponse)> {
    let mut q = order::Entity::find();
    if let Some(b) = filter.buyer_id {
        q = q.filter(order::Column::BuyerId.eq(b.0));
    }
    if let Some(m) = filter.merchant_id {
        q = q.filter(order::Column::MerchantId.eq(m.0));
    }
    if let Some(c) = &filter.courier_code {
        q = q.filter(order::Column::CourierCode.eq(c.clone()));
    }
    if !filter.states.is_empty() {
        q = q.filter(order::Column::State.is_in(filter.states.iter().map(|s| s.as_str())));
    }
    if let Some(a) = filter.created_after {
        q = q.filter(order::Column::CreatedAt.gte(a));
    }
    if let Some(b) = filter.created_before {
        q = q.filter(order::Column::CreatedAt.lt(b));
    }
    if let Some(after) = page.after {
        q = q.filter(order::Column::Id.lt(after));
    }
    let mut rows = q
        .order_by_desc(order::Column::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let next = aftersales_platform::edge::next_page(&mut rows, page, |r| r.id);
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut lines = load_lines(conn, &ids).await?;
    let orders = rows
        .into_iter()
        .map(|r| {
            let l = lines.remove(&r.id).unwrap_or_default();
            to_domain(r, l)
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok((orders, next))
}

async fn load_lines<C: ConnectionTrait>(
    conn: &C,
    order_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<order_line::Model>>> {
    let mut out: HashMap<Uuid, Vec<order_line::Model>> = HashMap::new();
    if order_ids.is_empty() {
        return Ok(out);
    }
    let rows = order_line::Entity::find()
        .filter(order_line::Column::OrderId.is_in(order_ids.iter().copied()))
        .order_by_asc(order_line::Column::OrderId)
        .order_by_asc(order_line::Column::Position)
        .all(conn)
        .await?;
    for r in rows {
        out.entry(r.order_id).or_default().push(r);
    }
    Ok(out)
}

/// A CHECK violation on the counters is the backstop of the invariant: report it as the rule.
fn check_violation(e: DbErr) -> AppError {
    let text = e.to_string();
    if text.contains("23514") || text.contains("check constraint") {
        if text.contains("outcomes") {
            return AppError::rule(
                "line_outcomes_exceed_quantity",
                "max(refunded, canceled) + replaced + reshipped would exceed the ordered quantity",
            );
        }
        return AppError::rule(
            "counter_exceeds_quantity",
            "a line counter would leave 0..=quantity",
        );
    }
    AppError::from(e)
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!(
        "stored order is unreadable: {what}: {detail}"
    ))
}

fn to_i32(v: u32) -> AppResult<i32> {
    i32::try_from(v).map_err(|_| corrupt("counter", v))
}

fn to_u32(what: &str, v: i32) -> AppResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what, v))
}

fn money(minor: i64, currency: &str) -> AppResult<Money> {
    Money::parse(minor, currency).map_err(|e| corrupt("money", e))
}

fn order_model(o: &Order) -> AppResult<order::Model> {
    Ok(order::Model {
        id: o.id.0,
        buyer_id: o.buyer_id.0,
        merchant_id: o.merchant_id.0,
        state: o.state.as_str().to_owned(),
        shipping_address: serde_json::to_value(&o.shipping_address)
            .map_err(|e| corrupt("shipping_address", e))?,
        payment_reference: o.payment_reference.clone(),
        currency: o.paid_amount.currency().as_str().to_owned(),
        paid_minor: o.paid_amount.minor(),
        shipping_fee_minor: o.shipping_fee.minor(),
        member_tier: o.member_tier.as_str().to_owned(),
        shipping_insurance: o.shipping_insurance,
        paid_at: o.paid_at,
        promised_eta: o.promised_eta,
        waybill_printed_at: o.waybill_printed_at,
        shipped_at: o.shipped_at,
        signed_at: o.signed_at,
        completed_at: o.completed_at,
        canceled_at: o.canceled_at,
        cancel_reason: o.cancel_reason.clone(),
        canceled_from: o.canceled_from.map(|s| s.as_str().to_owned()),
        courier_code: o.courier_code.clone(),
        tracking_number: o.tracking_number.clone(),
        shipment_id: o.shipment_id.map(|s| s.0),
        created_at: o.created_at,
        updated_at: o.updated_at,
        version: o.version,
    })
}

fn line_model(o: &Order, position: usize, l: &OrderLine) -> AppResult<order_line::Model> {
    let c = l.counters;
    Ok(order_line::Model {
        id: l.id.0,
        order_id: o.id.0,
        position: i32::try_from(position).map_err(|_| corrupt("position", position))?,
        sku: l.sku.clone(),
        category: l.category.clone(),
        quantity: to_i32(l.quantity)?,
        unit_price_minor: l.unit_price.minor(),
        discount_minor: l.discount_share.minor(),
        policy: serde_json::to_value(l.policy).map_err(|e| corrupt("policy", e))?,
        requested: to_i32(c.requested)?,
        returned_received: to_i32(c.returned_received)?,
        refunded: to_i32(c.refunded)?,
        replaced: to_i32(c.replaced)?,
        reshipped: to_i32(c.reshipped)?,
        canceled: to_i32(c.canceled)?,
    })
}

fn to_domain(r: order::Model, lines: Vec<order_line::Model>) -> AppResult<Order> {
    let currency = r.currency.as_str();
    let lines = lines
        .into_iter()
        .map(|l| {
            let policy: PolicySnapshot =
                serde_json::from_value(l.policy).map_err(|e| corrupt("policy", e))?;
            Ok(OrderLine {
                id: OrderLineId(l.id),
                sku: l.sku,
                category: l.category,
                quantity: to_u32("quantity", l.quantity)?,
                unit_price: money(l.unit_price_minor, currency)?,
                discount_share: money(l.discount_minor, currency)?,
                policy,
                counters: LineCounters {
                    requested: to_u32("requested", l.requested)?,
                    returned_received: to_u32("returned_received", l.returned_received)?,
                    refunded: to_u32("refunded", l.refunded)?,
                    replaced: to_u32("replaced", l.replaced)?,
                    reshipped: to_u32("reshipped", l.reshipped)?,
                    canceled: to_u32("canceled", l.canceled)?,
                },
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let shipping_address: Address =
        serde_json::from_value(r.shipping_address).map_err(|e| corrupt("shipping_address", e))?;
    Ok(Order {
        id: OrderId(r.id),
        buyer_id: BuyerId(r.buyer_id),
        merchant_id: MerchantId(r.merchant_id),
        state: OrderState::parse(&r.state).ok_or_else(|| corrupt("state", &r.state))?,
        shipping_address,
        payment_reference: r.payment_reference,
        paid_amount: money(r.paid_minor, currency)?,
        shipping_fee: money(r.shipping_fee_minor, currency)?,
        member_tier: MemberTier::parse(&r.member_tier)
            .ok_or_else(|| corrupt("member_tier", &r.member_tier))?,
        shipping_insurance: r.shipping_insurance,
        lines,
        paid_at: r.paid_at,
        promised_eta: r.promised_eta,
        waybill_printed_at: r.waybill_printed_at,
        shipped_at: r.shipped_at,
        signed_at: r.signed_at,
        completed_at: r.completed_at,
        canceled_at: r.canceled_at,
        cancel_reason: r.cancel_reason,
        canceled_from: r
            .canceled_from
            .as_deref()
            .map(|s| OrderState::parse(s).ok_or_else(|| corrupt("canceled_from", s)))
            .transpose()?,
        courier_code: r.courier_code,
        tracking_number: r.tracking_number,
        shipment_id: r.shipment_id.map(ShipmentId),
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}
