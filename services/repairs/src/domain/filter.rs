//! List filters and their scoping by actor.

use super::actor::Actor;
use super::enums::{ActorKind, RepairState};
use super::ids::{BuyerId, MerchantId, OrderId, RepairCenterId};
use super::repair_order::RepairOrder;
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};

/// Filters of `ListRepairOrders`; `None`/empty means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RepairOrderFilter {
    pub order_id: Option<OrderId>,
    pub buyer_id: Option<BuyerId>,
    pub merchant_id: Option<MerchantId>,
    pub repair_center_id: Option<RepairCenterId>,
    pub sku: Option<String>,
    pub serial_number: Option<String>,
    /// Any of these states.
    pub states: Vec<RepairState>,
    pub in_warranty: Option<bool>,
    /// `requested_at >= requested_after`.
    pub requested_after: Option<DateTime<Utc>>,
    /// `requested_at < requested_before`.
    pub requested_before: Option<DateTime<Utc>>,
}

impl RepairOrderFilter {
    /// Narrows the filter to what `actor` may see: a partner to its own center
    /// (`repair_center_mismatch` if it asks for another), a buyer to its own orders
    /// (`not_repair_buyer`), a merchant to its shop (`not_repair_merchant`).
    pub fn scoped_to(mut self, actor: &Actor) -> Result<Self, DomainError> {
        match actor.kind {
            ActorKind::Partner => {
                let me = RepairCenterId::parse("actor.id", &actor.id)?;
                if self.repair_center_id.is_some_and(|c| c != me) {
                    return Err(DomainError::rule(
                        "repair_center_mismatch",
                        "a repair center can only list its own repair orders",
                    ));
                }
                self.repair_center_id = Some(me);
            }
            ActorKind::Buyer => {
                let me = BuyerId::parse("actor.id", &actor.id)?;
                if self.buyer_id.is_some_and(|b| b != me) {
                    return Err(DomainError::rule(
                        "not_repair_buyer",
                        "a buyer can only list its own repair orders",
                    ));
                }
                self.buyer_id = Some(me);
            }
            ActorKind::Merchant => {
                let me = MerchantId::parse("actor.id", &actor.id)?;
                if self.merchant_id.is_some_and(|m| m != me) {
                    return Err(DomainError::rule(
                        "not_repair_merchant",
                        "a merchant can only list its own repair orders",
                    ));
                }
                self.merchant_id = Some(me);
            }
            ActorKind::Staff | ActorKind::System => {}
        }
        Ok(self)
    }

    /// Whether `order` passes the filter (the same semantics storage implements in SQL).
    pub fn matches(&self, order: &RepairOrder) -> bool {
        fn eq<T: PartialEq>(want: &Option<T>, got: &T) -> bool {
            want.as_ref().is_none_or(|w| w == got)
        }
        eq(&self.order_id, &order.order_id)
            && eq(&self.buyer_id, &order.buyer_id)
            && eq(&self.merchant_id, &order.merchant_id)
            && self
                .repair_center_id
                .is_none_or(|c| order.repair_center_id == Some(c))
            && eq(&self.sku, &order.sku)
            && eq(&self.serial_number, &order.serial_number)
            && (self.states.is_empty() || self.states.contains(&order.state))
            && eq(&self.in_warranty, &order.in_warranty())
            && self.requested_after.is_none_or(|t| order.requested_at >= t)
            && self.requested_before.is_none_or(|t| order.requested_at < t)
    }
}
