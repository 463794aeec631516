//! Sea-orm entities, one per table.

pub mod order_line_replica;
pub mod order_replica;
pub mod repair_center;
pub mod repair_order;
