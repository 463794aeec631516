//! Migrations of the complaints tables (the platform's outbox, inbox and idempotency tables are
//! created by the platform).

pub mod m0001_init;
