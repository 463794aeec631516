//! Domain events: every transition names what phase 2 publishes on `aftersales.events`.

use super::counters::CounterKind;
use super::ids::OrderLineId;
use chrono::Duration;

/// An event to publish; the routing key is `orders.<entity>.<event>`. The snapshot is the order
/// after the change, except for [`Event::DeliveredLate`] (proto `OrderDeliveredLate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Created,
    FulfilmentStarted,
    /// By CancelOrder, or because every unit of every line was canceled.
    Canceled,
    /// A reversal of canceled units brought an order canceled that way back to its earlier state.
    CancelReverted,
    AddressChanged,
    WaybillPrinted,
    Shipped,
    Delivered,
    /// Signed after the promised ETA: triggers an overtime compensation.
    DeliveredLate {
        overdue: Duration,
    },
    Completed,
    AfterSaleReserved {
        line_id: OrderLineId,
        quantity: u32,
    },
    AfterSaleReleased {
        line_id: OrderLineId,
        quantity: u32,
    },
    LineProgressRecorded {
        line_id: OrderLineId,
        kind: CounterKind,
        quantity: u32,
    },
    LineProgressReversed {
        line_id: OrderLineId,
        kind: CounterKind,
        quantity: u32,
    },
}

impl Event {
    /// Every routing key, for binding queues and checking names.
    pub const ROUTING_KEYS: [&'static str; 14] = [
        "orders.order.created",
        "orders.order.fulfilment_started",
        "orders.order.canceled",
        "orders.order.address_changed",
        "orders.order.waybill_printed",
        "orders.order.shipped",
        "orders.order.delivered",
        "orders.order.delivered_late",
        "orders.order.completed",
        "orders.line.after_sale_reserved",
        "orders.line.after_sale_released",
        "orders.line.progress_recorded",
        "orders.line.progress_reversed",
        "orders.order.cancel_reverted",
    ];

    /// Routing key on the `aftersales.events` topic exchange (also `DomainEvent.name`).
    pub fn routing_key(&self) -> &'static str {
        let i = match self {
            Self::Created => 0,
            Self::FulfilmentStarted => 1,
            Self::Canceled => 2,
            Self::AddressChanged => 3,
            Self::WaybillPrinted => 4,
            Self::Shipped => 5,
            Self::Delivered => 6,
            Self::DeliveredLate { .. } => 7,
            Self::Completed => 8,
            Self::AfterSaleReserved { .. } => 9,
            Self::AfterSaleReleased { .. } => 10,
            Self::LineProgressRecorded { .. } => 11,
            Self::LineProgressReversed { .. } => 12,
            Self::CancelReverted => 13,
        };
        Self::ROUTING_KEYS[i]
    }

    /// The line an `orders.line.*` event is about (a `DomainEvent.keys["line_id"]`).
    pub fn line_id(&self) -> Option<OrderLineId> {
        match self {
            Self::AfterSaleReserved { line_id, .. }
            | Self::AfterSaleReleased { line_id, .. }
            | Self::LineProgressRecorded { line_id, .. }
            | Self::LineProgressReversed { line_id, .. } => Some(*line_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use uuid::Uuid;

    #[test]
    fn routing_keys_are_unique_and_well_formed() {
        let line_id = OrderLineId(Uuid::from_u128(1));
        let all = [
            Event::Created,
            Event::FulfilmentStarted,
            Event::Canceled,
            Event::CancelReverted,
            Event::AddressChanged,
            Event::WaybillPrinted,
            Event::Shipped,
            Event::Delivered,
            Event::DeliveredLate {
                overdue: Duration::hours(1),
            },
            Event::Completed,
            Event::AfterSaleReserved {
                line_id,
                quantity: 1,
            },
            Event::AfterSaleReleased {
                line_id,
                quantity: 1,
            },
            Event::LineProgressRecorded {
                line_id,
                kind: CounterKind::Refunded,
                quantity: 1,
            },
            Event::LineProgressReversed {
                line_id,
                kind: CounterKind::Refunded,
                quantity: 1,
            },
        ];
        let keys: HashSet<_> = all.iter().map(Event::routing_key).collect();
        assert_eq!(keys.len(), Event::ROUTING_KEYS.len());
        for k in keys {
            let parts: Vec<_> = k.split('.').collect();
            assert_eq!(parts.len(), 3, "{k}");
            assert_eq!(parts[0], "orders");
            assert!(["order", "line"].contains(&parts[1]), "{k}");
            assert!(
                parts[2]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{k}"
            );
        }
        for e in &all {
            assert_eq!(
                e.line_id().is_some(),
                e.routing_key().starts_with("orders.line."),
                "{e:?}"
            );
        }
    }
}
