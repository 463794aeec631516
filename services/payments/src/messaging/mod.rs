//! Messaging: the domain events this service publishes through the outbox and the saga commands
//! it consumes.

pub mod commands;
pub mod events;
