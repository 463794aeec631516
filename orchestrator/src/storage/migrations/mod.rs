//! One file per migration, plain SQL.

pub mod m0001_sagas;
