//! List filters and their scoping to the caller.

use super::actor::{Actor, ActorKind, not_allowed};
use super::ids::{BuyerId, MerchantId};
use super::order::{Order, OrderState};
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};

/// Filters of `ListOrders`; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    pub buyer_id: Option<BuyerId>,
    pub merchant_id: Option<MerchantId>,
    /// Set by scoping for courier partners: only the orders they carry.
    pub courier_code: Option<String>,
    /// Any of these states; empty means all.
    pub states: Vec<OrderState>,
    /// Inclusive lower bound on `created_at`.
    pub created_after: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `created_at`.
    pub created_before: Option<DateTime<Utc>>,
}

impl OrderFilter {
    /// Restricts the filter to what `actor` may see: a buyer its own orders, a merchant its own,
    /// a courier partner the orders it carries. Asking for someone else's orders is
    /// `actor_not_allowed`; an inverted time range is a field violation.
    pub fn scoped(mut self, actor: &Actor) -> Result<Self, DomainError> {
        if let (Some(a), Some(b)) = (self.created_after, self.created_before)
            && a >= b
        {
            return Err(DomainError::field(
                "created_before",
                "must be after created_after",
            ));
        }
        match actor.kind {
            ActorKind::Staff | ActorKind::System => {}
            ActorKind::Buyer => {
                let own = BuyerId(
                    actor
                        .uuid()
                        .ok_or_else(|| not_allowed(actor, "list orders"))?,
                );
                if self.buyer_id.is_some_and(|b| b != own) {
                    return Err(not_allowed(actor, "list another buyer's orders"));
                }
                self.buyer_id = Some(own);
            }
            ActorKind::Merchant => {
                let own = MerchantId(
                    actor
                        .uuid()
                        .ok_or_else(|| not_allowed(actor, "list orders"))?,
                );
                if self.merchant_id.is_some_and(|m| m != own) {
                    return Err(not_allowed(actor, "list another merchant's orders"));
                }
                self.merchant_id = Some(own);
            }
            ActorKind::Partner => self.courier_code = Some(actor.id.clone()),
        }
        Ok(self)
    }

    /// True when `order` passes every set filter (for tests and in-memory use; storage
    /// translates the same fields to SQL).
    pub fn matches(&self, order: &Order) -> bool {
        self.buyer_id.is_none_or(|b| b == order.buyer_id)
            && self.merchant_id.is_none_or(|m| m == order.merchant_id)
            && self
                .courier_code
                .as_ref()
                .is_none_or(|c| order.courier_code.as_ref() == Some(c))
            && (self.states.is_empty() || self.states.contains(&order.state))
            && self.created_after.is_none_or(|a| order.created_at >= a)
            && self.created_before.is_none_or(|b| order.created_at < b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{order, t0};
    use chrono::Duration;
    use uuid::Uuid;

    #[test]
    fn scoping_by_actor() {
        let o = order();
        let other_buyer = BuyerId(Uuid::from_u128(999));
        let other_merchant = MerchantId(Uuid::from_u128(998));
        let f = OrderFilter::default();
        assert_eq!(f.clone().scoped(&Actor::staff("cs")).unwrap(), f);
        assert_eq!(
            f.clone()
                .scoped(&Actor::buyer(o.buyer_id))
                .unwrap()
                .buyer_id,
            Some(o.buyer_id)
        );
        assert_eq!(
            f.clone()
                .scoped(&Actor::merchant(o.merchant_id))
                .unwrap()
                .merchant_id,
            Some(o.merchant_id)
        );
        assert_eq!(
            f.clone()
                .scoped(&Actor::partner("SF"))
                .unwrap()
                .courier_code
                .as_deref(),
            Some("SF")
        );
        let asks_other = OrderFilter {
            buyer_id: Some(other_buyer),
            ..OrderFilter::default()
        };
        assert_eq!(
            asks_other
                .scoped(&Actor::buyer(o.buyer_id))
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
        let asks_other = OrderFilter {
            merchant_id: Some(other_merchant),
            ..OrderFilter::default()
        };
        assert_eq!(
            asks_other
                .scoped(&Actor::merchant(o.merchant_id))
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
        let bad_buyer = Actor {
            kind: ActorKind::Buyer,
            id: "x".into(),
        };
        assert!(f.clone().scoped(&bad_buyer).is_err());
        let inverted = OrderFilter {
            created_after: Some(t0()),
            created_before: Some(t0()),
            ..f
        };
        assert!(matches!(
            inverted.scoped(&Actor::staff("cs")),
            Err(DomainError::Invalid(_))
        ));
    }

    #[test]
    fn matches_every_filter() {
        let o = order();
        let all = OrderFilter::default();
        let cases: Vec<(OrderFilter, bool)> = vec![
            (all.clone(), true),
            (
                OrderFilter {
                    buyer_id: Some(o.buyer_id),
                    ..all.clone()
                },
                true,
            ),
            (
                OrderFilter {
                    buyer_id: Some(BuyerId(Uuid::from_u128(5))),
                    ..all.clone()
                },
                false,
            ),
            (
                OrderFilter {
                    merchant_id: Some(MerchantId(Uuid::from_u128(5))),
                    ..all.clone()
                },
                false,
            ),
            (
                OrderFilter {
                    courier_code: Some("SF".into()),
                    ..all.clone()
                },
                false,
            ),
            (
                OrderFilter {
                    states: vec![OrderState::Paid, OrderState::Shipped],
                    ..all.clone()
                },
                true,
            ),
            (
                OrderFilter {
                    states: vec![OrderState::Canceled],
                    ..all.clone()
                },
                false,
            ),
            (
                OrderFilter {
                    created_after: Some(o.created_at),
                    ..all.clone()
                },
                true,
            ),
            (
                OrderFilter {
                    created_after: Some(o.created_at + Duration::seconds(1)),
                    ..all.clone()
                },
                false,
            ),
            (
                OrderFilter {
                    created_before: Some(o.created_at),
                    ..all.clone()
                },
                false,
            ),
            (
                OrderFilter {
                    created_before: Some(o.created_at + Duration::seconds(1)),
                    ..all
                },
                true,
            ),
        ];
        for (f, want) in cases {
            assert_eq!(f.matches(&o), want, "{f:?}");
        }
    }
}
