//! Messaging: the domain events the orders service publishes (it consumes nothing yet).

pub mod events;
