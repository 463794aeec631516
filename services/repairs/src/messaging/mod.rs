//! Messaging: the domain events this service publishes (through the outbox), the consumer that
//! keeps the local order replica up to date, and the saga commands it consumes.

pub mod commands;
pub mod events;
pub mod order_events;

pub use order_events::apply_order_event;
