//! The order replica: the returns service's copy of each order, written only by the consumer
//! of the orders events and read by eligibility and refund rules.

use super::entities::order_replica;
use crate::domain::{OrderId, OrderSnapshot};
use aftersales_platform::{AppError, AppResult};
use sea_orm::{ConnectionTrait, EntityTrait, QuerySelect, Statement};

/// The replica of an order, no lock (CheckEligibility). NOT_FOUND while not (yet) replicated.
pub async fn load<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<OrderSnapshot> {
    let row = order_replica::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("order", id))?;
    decode(row)
}

/// The replica of an order under `SELECT ... FOR UPDATE`: serializes every change that depends
/// on the other cases of the order (open cases per line, quantities, the refund cap).
pub async fn lock<C: ConnectionTrait>(conn: &C, id: OrderId) -> AppResult<OrderSnapshot> {
    let row = order_replica::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("order", id))?;
    decode(row)
}

fn decode(row: order_replica::Model) -> AppResult<OrderSnapshot> {
    serde_json::from_value(row.snapshot)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored order replica is invalid: {e}")))
}

/// Stores `snapshot` at `version` unless the replica already holds this or a newer version.
/// Returns whether it was written.
pub async fn upsert<C: ConnectionTrait>(
    conn: &C,
    snapshot: &OrderSnapshot,
    state: &str,
    version: i64,
) -> AppResult<bool> {
    let json = serde_json::to_value(snapshot).map_err(|e| AppError::Internal(e.into()))?;
    let backend = conn.get_database_backend();
    let result = conn
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO order_replicas (order_id, buyer_id, merchant_id, state, version, snapshot, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, now()) \
             ON CONFLICT (order_id) DO UPDATE SET state = EXCLUDED.state, version = EXCLUDED.version, \
             snapshot = EXCLUDED.snapshot, updated_at = EXCLUDED.updated_at \
             WHERE order_replicas.version < EXCLUDED.version",
            [
                snapshot.order_id.0.into(),
                snapshot.buyer_id.0.into(),
                snapshot.merchant_id.0.into(),
                state.into(),
                version.into(),
                json.into(),
            ],
        ))
        .await?;
    Ok(result.rows_affected() == 1)
}
