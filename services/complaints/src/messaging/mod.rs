//! Messaging: the domain events this service publishes, and the consumer that records closed
//! cases and repairs of other services (what service ratings of them are checked against).

pub mod closed_subjects;
pub mod events;
