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
        complaint_work_orders::definition_v1(),
        complaint_work_orders::definition(),
        exchange::definition_v1(),
        exchange::definition(),
        reship::definition_v1(),
        reship::definition(),
        repair_round_trip::definition(),
        arbitration::definition(),
        delivery_exceptions::stuck_shipment(),
        delivery_exceptions::late_delivery(),
    ])
}

/// What a flow's decision step decides on `data` (for the flows' unit tests).
#[cfg(test)]
pub fn decide(
    flow: &crate::engine::flow::Flow,
    name: &str,
    data: &crate::engine::flow::Data,
) -> Result<crate::engine::flow::Next, String> {
    match flow.steps.iter().find(|s| s.name() == name) {
        Some(crate::engine::flow::Step::Decision(d)) => (d.decide)(data),
        _ => Err(format!("{name} is not a decision of {}", flow.name)),
    }
}
