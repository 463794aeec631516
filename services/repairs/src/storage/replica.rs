//! The local replica of the orders service's orders and lines, fed by `orders.order.*` events.
//! Only a newer `version` replaces what is stored, so redelivered and out-of-order events never
//! move the replica backwards.

use super::entities::{order_line_replica, order_replica};
use crate::domain::{BuyerId, LineId, MerchantId, OrderId, PurchasedLine};
use aftersales_platform::{AppError, AppResult};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Statement};

/// State text of a canceled order in the orders service.
const ORDER_CANCELED: &str = "CANCELED";

/// An order as replicated from an `orders.order.*` event snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatedOrder {
    pub order_id: OrderId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    /// The orders service's state text, e.g. `DELIVERED`.
    pub state: String,
    pub paid_at: DateTime<Utc>,
    pub version: i64,
    pub lines: Vec<ReplicatedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicatedLine {
    pub line_id: LineId,
    pub sku: String,
    /// From the line's policy snapshot; `None` when the snapshot was absent.
    pub warranty_months: Option<u32>,
}

/// Stores `order` unless the replica already holds the same or a newer version. Returns whether
/// it was applied.
pub async fn upsert<C: ConnectionTrait>(
    conn: &C,
    order: &ReplicatedOrder,
    now: DateTime<Utc>,
) -> AppResult<bool> {
    let backend = conn.get_database_backend();
    let applied = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO order_replicas \
               (order_id, buyer_id, merchant_id, state, paid_at, version, replicated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (order_id) DO UPDATE SET \
               buyer_id = EXCLUDED.buyer_id, merchant_id = EXCLUDED.merchant_id, \
               state = EXCLUDED.state, paid_at = EXCLUDED.paid_at, \
               version = EXCLUDED.version, replicated_at = EXCLUDED.replicated_at \
             WHERE order_replicas.version < EXCLUDED.version",
            [
                order.order_id.0.into(),
                order.buyer_id.0.into(),
                order.merchant_id.0.into(),
                order.state.clone().into(),
                order.paid_at.into(),
                order.version.into(),
                now.into(),
            ],
        ))
        .await?
        .rows_affected()
        == 1;
    if !applied {
        return Ok(false);
    }
    for line in &order.lines {
        let months = line
            .warranty_months
            .map(i32::try_from)
            .transpose()
            .map_err(|_| AppError::field("lines.policy.warranty_months", "is out of range"))?;
        conn.execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO order_line_replicas (line_id, order_id, sku, warranty_months) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (line_id) DO UPDATE SET \
               sku = EXCLUDED.sku, warranty_months = EXCLUDED.warranty_months \
             WHERE order_line_replicas.order_id = EXCLUDED.order_id",
            [
                line.line_id.0.into(),
                order.order_id.0.into(),
                line.sku.clone().into(),
                months.into(),
            ],
        ))
        .await?;
    }
    Ok(true)
}

/// Locks the replicated order row (`FOR UPDATE`; this serializes the repair requests of one
/// order) and returns what the repair request needs about the line. NOT_FOUND while the replica
/// does not know the order or the line.
pub async fn lock_purchased_line<C: ConnectionTrait>(
    conn: &C,
    order_id: OrderId,
    line_id: LineId,
) -> AppResult<PurchasedLine> {
    let order = order_replica::Entity::find_by_id(order_id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("order", order_id))?;
    let line = order_line_replica::Entity::find_by_id(line_id.0)
        .filter(order_line_replica::Column::OrderId.eq(order_id.0))
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("order line", line_id))?;
    Ok(PurchasedLine {
        buyer_id: BuyerId(order.buyer_id),
        merchant_id: MerchantId(order.merchant_id),
        sku: line.sku,
        purchased_at: order.paid_at,
        warranty_months: line.warranty_months.and_then(|m| u32::try_from(m).ok()),
        order_canceled: order.state == ORDER_CANCELED,
    })
}
