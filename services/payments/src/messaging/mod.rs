//! Messaging: the domain events this service publishes through the outbox (it consumes none).

pub mod events;
