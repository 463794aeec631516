//! List filters, pagination bounds and the stuck sweep's batch size, with partner scoping.

use super::actor::Actor;
use super::ids::{CaseId, MerchantId, OrderId, RepairId, ShipmentId};
use super::interception::InterceptionState;
use super::shipment::{Direction, ShipmentState, WaybillState};
use super::tracking::ExceptionKind;
use aftersales_kernel::DomainError;

/// Default and largest page sizes (`aftersales.common.v1.PageRequest`).
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;
/// Default and largest number of shipments one stuck sweep marks.
pub const MAX_SWEEP: u32 = 100;

/// `page.page_size`: 0 means the default; above the maximum is invalid.
pub fn page_size(raw: u32) -> Result<u32, DomainError> {
    match raw {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n <= MAX_PAGE_SIZE => Ok(n),
        _ => Err(DomainError::field(
            "page.page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
    }
}

/// `limit` of MarkStuckShipments: 0 means the maximum.
pub fn sweep_limit(raw: u32) -> Result<u32, DomainError> {
    match raw {
        0 => Ok(MAX_SWEEP),
        n if n <= MAX_SWEEP => Ok(n),
        _ => Err(DomainError::field(
            "limit",
            format!("must be at most {MAX_SWEEP}"),
        )),
    }
}

/// Filters of ListShipments; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipmentFilter {
    pub courier_code: Option<String>,
    pub direction: Option<Direction>,
    pub state: Option<ShipmentState>,
    pub waybill_state: Option<WaybillState>,
    pub exception_kind: Option<ExceptionKind>,
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub merchant_id: Option<MerchantId>,
    pub tracking_number: Option<String>,
}

impl ShipmentFilter {
    /// Restricts the filter to what the actor may see: a courier only its own shipments
    /// (`courier_mismatch` when it asks for another courier's).
    pub fn scoped(mut self, actor: &Actor) -> Result<Self, DomainError> {
        self.courier_code = actor.scope_courier_filter(self.courier_code.take())?;
        Ok(self)
    }
}

/// Filters of ListInterceptions; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterceptionFilter {
    pub shipment_id: Option<ShipmentId>,
    pub courier_code: Option<String>,
    pub state: Option<InterceptionState>,
    pub case_id: Option<CaseId>,
}

impl InterceptionFilter {
    /// Restricts the filter to what the actor may see (see [`ShipmentFilter::scoped`]).
    pub fn scoped(mut self, actor: &Actor) -> Result<Self, DomainError> {
        self.courier_code = actor.scope_courier_filter(self.courier_code.take())?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::actor::ActorKind;

    #[test]
    fn page_size_bounds() {
        let cases: &[(u32, Option<u32>)] = &[
            (0, Some(50)),
            (1, Some(1)),
            (200, Some(200)),
            (201, None),
            (u32::MAX, None),
        ];
        for (raw, want) in cases {
            assert_eq!(page_size(*raw).ok(), *want, "{raw}");
        }
    }

    #[test]
    fn sweep_limit_bounds() {
        let cases: &[(u32, Option<u32>)] =
            &[(0, Some(100)), (1, Some(1)), (100, Some(100)), (101, None)];
        for (raw, want) in cases {
            assert_eq!(sweep_limit(*raw).ok(), *want, "{raw}");
        }
    }

    #[test]
    fn filters_are_scoped_for_couriers() {
        let sf = Actor {
            kind: ActorKind::Partner,
            id: "SF".into(),
        };
        let staff = Actor {
            kind: ActorKind::Staff,
            id: "ops".into(),
        };
        let f = ShipmentFilter::default().scoped(&sf).unwrap();
        assert_eq!(f.courier_code.as_deref(), Some("SF"));
        let other = ShipmentFilter {
            courier_code: Some("YTO".into()),
            ..Default::default()
        };
        assert_eq!(
            other.clone().scoped(&sf).unwrap_err().rule_name(),
            Some("courier_mismatch")
        );
        assert_eq!(other.clone().scoped(&staff), Ok(other));
        let i = InterceptionFilter::default().scoped(&sf).unwrap();
        assert_eq!(i.courier_code.as_deref(), Some("SF"));
        assert_eq!(
            InterceptionFilter::default().scoped(&staff),
            Ok(InterceptionFilter::default())
        );
    }
}
