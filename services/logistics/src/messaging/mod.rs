//! Messaging: the domain events the service publishes through the outbox (no consumers).

pub mod events;
