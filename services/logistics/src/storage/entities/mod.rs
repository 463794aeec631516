//! Sea-orm entities (classic format), one module per table.

pub mod interception;
pub mod shipment;
pub mod tracking_correction;
pub mod tracking_event;
