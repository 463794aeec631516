//! Messaging: the domain events this service publishes, the consumer that records closed cases
//! and repairs of other services (what service ratings of them are checked against), and the saga
//! commands it consumes.

pub mod closed_subjects;
pub mod commands;
pub mod events;
