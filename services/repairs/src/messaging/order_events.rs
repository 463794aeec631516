//! Consumer of `orders.order.#` events: keeps the local order replica (buyer, merchant, payment
//! time, state, and each line's SKU and warranty months) that CreateRepairOrder reads.

use crate::domain::{BuyerId, LineId, MerchantId, OrderId};
use crate::storage::replica::{self, ReplicatedLine, ReplicatedOrder};
use aftersales_platform::{AppError, AppResult, Tx, edge};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope};
use aftersales_proto::orders::v1 as orders;
use prost::{Message, Name};

/// Applies one orders event inside the consumer's inbox transaction. Events whose snapshot is
/// not an `Order` (e.g. `orders.order.delivered_late`) are skipped; an undecodable or invalid
/// snapshot is an input error, so the message is dead-lettered rather than retried.
pub async fn apply_order_event(tx: &Tx, env: Envelope) -> AppResult<()> {
    let event = DomainEvent::decode(env.payload.as_slice())
        .map_err(|e| AppError::field("payload", format!("is not a DomainEvent: {e}")))?;
    if event.snapshot_type != orders::Order::full_name() {
        tracing::debug!(event = %event.name, "order event without order snapshot skipped");
        return Ok(());
    }
    let order = orders::Order::decode(event.snapshot.as_slice())
        .map_err(|e| AppError::field("snapshot", format!("is not an Order: {e}")))?;
    let replicated = from_pb(&order)?;
    let applied = replica::upsert(tx.conn(), &replicated, chrono::Utc::now()).await?;
    tracing::info!(
        event = %event.name,
        order_id = %replicated.order_id,
        version = replicated.version,
        applied,
        "order replica updated"
    );
    Ok(())
}

/// The replicated part of an order snapshot, naming the bad field of an invalid one.
pub fn from_pb(o: &orders::Order) -> AppResult<ReplicatedOrder> {
    let state = orders::OrderState::try_from(o.state)
        .ok()
        .filter(|s| *s != orders::OrderState::Unspecified)
        .ok_or_else(|| AppError::field("order.state", "is required"))?;
    let lines = o
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            Ok(ReplicatedLine {
                line_id: LineId(edge::uuid(
                    &format!("order.lines[{i}].line_id"),
                    &l.line_id,
                )?),
                sku: l.sku.clone(),
                warranty_months: l.policy.as_ref().map(|p| p.warranty_months),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ReplicatedOrder {
        order_id: OrderId(edge::uuid("order.order_id", &o.order_id)?),
        buyer_id: BuyerId(edge::uuid("order.buyer_id", &o.buyer_id)?),
        merchant_id: MerchantId(edge::uuid("order.merchant_id", &o.merchant_id)?),
        state: state
            .as_str_name()
            .trim_start_matches("ORDER_STATE_")
            .to_owned(),
        paid_at: edge::timestamp("order.paid_at", o.paid_at.as_ref())?,
        version: o.version,
        lines,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_the_snapshot() {
        let id = uuid::Uuid::now_v7();
        let line = uuid::Uuid::now_v7();
        let pb = orders::Order {
            order_id: id.to_string(),
            buyer_id: uuid::Uuid::now_v7().to_string(),
            merchant_id: uuid::Uuid::now_v7().to_string(),
            state: orders::OrderState::Canceled as i32,
            paid_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            version: 3,
            lines: vec![orders::OrderLine {
                line_id: line.to_string(),
                sku: "SKU-1".into(),
                policy: Some(orders::PolicySnapshot {
                    warranty_months: 24,
                    ..Default::default()
                }),
                ..Default::default()
            }],
            ..Default::default()
        };
        let r = from_pb(&pb).unwrap();
        assert_eq!(
            (r.order_id.0, r.state.as_str(), r.version),
            (id, "CANCELED", 3)
        );
        assert_eq!(r.lines[0].warranty_months, Some(24));
        let mut bad = pb;
        bad.lines[0].line_id = "x".into();
        let err = from_pb(&bad).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "order.lines[0].line_id"));
    }
}
