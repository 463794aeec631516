//! Messaging of the returns service: the case events it publishes through the outbox, the
//! consumer that keeps the order replica up to date from the orders events, and the saga commands
//! it consumes.

pub mod commands;
pub mod events;
pub mod order_events;

pub use events::publish_case_events;
pub use order_events::{ORDER_EVENTS_QUEUE, apply_order_event};
