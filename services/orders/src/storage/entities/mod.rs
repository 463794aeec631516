//! Sea-orm entities (classic format), one module per table.

pub mod order;
pub mod order_line;
pub mod order_line_movement;
