//! Messaging: the domain events the service publishes through the outbox and the saga commands
//! it consumes.

pub mod commands;
pub mod events;
