//! One file per migration, plain SQL.

pub mod m0001_init;
pub mod m0002_exchange_replacements;
