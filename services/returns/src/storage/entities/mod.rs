//! Sea-orm entities (classic format), one module per table.

pub mod case;
pub mod case_history;
pub mod case_item;
pub mod order_replica;
