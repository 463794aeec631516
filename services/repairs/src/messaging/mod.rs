//! Messaging: the domain events this service publishes (through the outbox) and the consumer
//! that keeps the local order replica up to date.

pub mod events;
pub mod order_events;

pub use order_events::apply_order_event;
