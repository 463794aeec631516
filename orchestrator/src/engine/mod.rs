//! The saga engine: flow definitions ([`flow`]), instance state ([`instance`]), the pure state
//! machine ([`machine`]) and the driver that runs it in PostgreSQL transactions ([`driver`]).

pub mod driver;
pub mod flow;
pub mod instance;
pub mod machine;
pub mod spans;

#[cfg(test)]
mod tests;
