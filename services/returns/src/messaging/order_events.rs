//! The order replica consumer: applies `orders.order.*` domain events to `order_replicas`.
//!
//! The returns service never calls orders synchronously; it keeps the last version of each
//! order it was told about. The inbox (in the platform consumer) drops redeliveries; this
//! handler also ignores versions older than the stored one, so out-of-order events cannot move
//! the replica backwards. A snapshot that cannot be converted is a poison message: the error is
//! not transient, so the platform dead-letters it.

use crate::domain::{
    BuyerId, MerchantId, OrderId, OrderLineId, OrderLineSnapshot, OrderSnapshot, PolicySnapshot,
    ShipmentState,
};
use crate::storage::replica;
use aftersales_kernel::Currency;
use aftersales_platform::{AppError, AppResult, Tx, edge};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope};
use aftersales_proto::orders::v1 as orders;
use prost::{Message, Name};

/// Queue (and inbox consumer name) of the replica consumer.
pub const ORDER_EVENTS_QUEUE: &str = "returns.order-events";

/// Applies one orders event inside the consumer's transaction.
pub async fn apply_order_event(tx: &Tx, env: Envelope) -> AppResult<()> {
    let event = DomainEvent::decode(env.payload.as_slice())
        .map_err(|e| AppError::field("payload", format!("is not a DomainEvent: {e}")))?;
    if event.snapshot_type != orders::Order::full_name() {
        // e.g. `orders.order.delivered_late` carries another snapshot: nothing to replicate.
        tracing::debug!(event = %event.name, "order event without an order snapshot ignored");
        return Ok(());
    }
    let order = orders::Order::decode(event.snapshot.as_slice())
        .map_err(|e| AppError::field("snapshot", format!("is not an Order: {e}")))?;
    let state = orders::OrderState::try_from(order.state)
        .map_err(|_| AppError::field("snapshot.state", "unknown order state"))?;
    let snapshot = order_snapshot(&order)?;
    let written = replica::upsert(tx.conn(), &snapshot, state.as_str_name(), order.version).await?;
    tracing::debug!(
        order_id = %snapshot.order_id,
        version = order.version,
        written,
        "order replica event applied"
    );
    Ok(())
}

/// Converts the orders service's `Order` into the returns domain's replica.
pub fn order_snapshot(o: &orders::Order) -> AppResult<OrderSnapshot> {
    let paid_amount = edge::money("paid_amount", o.paid_amount.as_ref())?;
    let currency: Currency = paid_amount.currency();
    let shipping_fee = edge::optional_money("shipping_fee", o.shipping_fee.as_ref())?
        .unwrap_or_else(|| aftersales_kernel::Money::zero(currency));
    let state = orders::OrderState::try_from(o.state)
        .map_err(|_| AppError::field("state", "unknown order state"))?;
    let shipment_state = match state {
        orders::OrderState::Shipped => ShipmentState::InTransit,
        orders::OrderState::Delivered | orders::OrderState::Completed => ShipmentState::Delivered,
        _ => ShipmentState::NotShipped,
    };
    let lines = o
        .lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let f = |name: &str| format!("lines[{i}].{name}");
            let policy = l.policy.as_ref();
            let free_return = policy.map(|p| p.free_return).is_some_and(|v| {
                matches!(
                    orders::FreeReturnPrivilege::try_from(v),
                    Ok(orders::FreeReturnPrivilege::MemberTier
                        | orders::FreeReturnPrivilege::ShippingInsurance)
                )
            });
            let defaults = PolicySnapshot::default();
            Ok(OrderLineSnapshot {
                line_id: OrderLineId(edge::uuid(&f("line_id"), &l.line_id)?),
                sku: l.sku.clone(),
                category: l.category.clone(),
                quantity: l.quantity,
                unit_price: edge::money(&f("unit_price"), l.unit_price.as_ref())?,
                discount_share: edge::optional_money(
                    &f("discount_share"),
                    l.discount_share.as_ref(),
                )?
                .unwrap_or_else(|| aftersales_kernel::Money::zero(currency)),
                policy: PolicySnapshot {
                    no_reason_days: policy.map_or(defaults.no_reason_days, |p| p.no_reason_days),
                    no_reason_eligible: policy.is_some_and(|p| p.no_reason_eligible),
                    exchange_quality_days: policy
                        .map_or(defaults.exchange_quality_days, |p| p.exchange_quality_days),
                    warranty_months: policy.map_or(defaults.warranty_months, |p| p.warranty_months),
                    free_return,
                },
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let snapshot = OrderSnapshot {
        order_id: OrderId(edge::uuid("order_id", &o.order_id)?),
        buyer_id: BuyerId(edge::uuid("buyer_id", &o.buyer_id)?),
        merchant_id: MerchantId(edge::uuid("merchant_id", &o.merchant_id)?),
        paid_amount,
        shipping_fee,
        currency,
        shipped_at: edge::optional_timestamp("shipped_at", o.shipped_at.as_ref())?,
        signed_at: edge::optional_timestamp("signed_at", o.signed_at.as_ref())?,
        shipment_state,
        canceled: state == orders::OrderState::Canceled,
        lines,
    };
    snapshot.validate()?;
    Ok(snapshot)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftersales_proto::common::v1::Money;

    fn cny(minor_units: i64) -> Option<Money> {
        Some(Money {
            minor_units,
            currency: "CNY".into(),
        })
    }

    fn order(state: orders::OrderState) -> orders::Order {
        orders::Order {
            order_id: uuid::Uuid::now_v7().to_string(),
            buyer_id: uuid::Uuid::now_v7().to_string(),
            merchant_id: uuid::Uuid::now_v7().to_string(),
            state: state as i32,
            paid_amount: cny(19_000),
            shipping_fee: cny(1_000),
            lines: vec![orders::OrderLine {
                line_id: uuid::Uuid::now_v7().to_string(),
                sku: "SKU-1".into(),
                category: "apparel".into(),
                quantity: 2,
                unit_price: cny(10_000),
                discount_share: cny(2_000),
                policy: Some(orders::PolicySnapshot {
                    no_reason_days: 7,
                    no_reason_eligible: true,
                    exchange_quality_days: 15,
                    warranty_months: 12,
                    free_return: orders::FreeReturnPrivilege::ShippingInsurance as i32,
                }),
                ..Default::default()
            }],
            signed_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            version: 3,
            ..Default::default()
        }
    }

    #[test]
    fn converts_states_and_policy() {
        let cases = [
            (orders::OrderState::Paid, ShipmentState::NotShipped, false),
            (orders::OrderState::Shipped, ShipmentState::InTransit, false),
            (
                orders::OrderState::Delivered,
                ShipmentState::Delivered,
                false,
            ),
            (
                orders::OrderState::Completed,
                ShipmentState::Delivered,
                false,
            ),
            (
                orders::OrderState::Canceled,
                ShipmentState::NotShipped,
                true,
            ),
        ];
        for (state, want, canceled) in cases {
            let s = order_snapshot(&order(state)).unwrap();
            assert_eq!(s.shipment_state, want, "{state:?}");
            assert_eq!(s.canceled, canceled);
            assert!(s.lines[0].policy.free_return);
            assert_eq!(s.lines[0].discount_share.minor(), 2_000);
        }
    }

    #[test]
    fn bad_snapshot_names_the_field() {
        let mut o = order(orders::OrderState::Delivered);
        o.lines[0].line_id = "nope".into();
        let err = order_snapshot(&o).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "lines[0].line_id"));
    }
}
