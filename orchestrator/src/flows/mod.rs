//! The flow definitions, one file per flow, each readable on one screen.

pub mod arbitration;
pub mod common;
pub mod complaint_work_orders;
pub mod delivery_exceptions;
pub mod exchange;
pub mod refund_only_in_transit;
pub mod refund_only_not_shipped;
pub mod repair_round_trip;
pub mod reship;
pub mod return_leg;
pub mod return_refund;

use crate::engine::flow::Registry;

/// Every flow (and every version still running) the orchestrator knows.
pub fn registry() -> Result<Registry, String> {
    Registry::new(vec![
        refund_only_not_shipped::definition(),
        refund_only_in_transit::definition(),
        return_refund::definition(),
        complaint_work_orders::definition(),
        exchange::definition(),
        reship::definition(),
        repair_round_trip::definition(),
        arbitration::definition(),
        delivery_exceptions::stuck_shipment(),
        delivery_exceptions::late_delivery(),
    ])
}
