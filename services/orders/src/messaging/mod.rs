//! Messaging: the domain events the orders service publishes and the saga commands it consumes.

pub mod commands;
pub mod events;
