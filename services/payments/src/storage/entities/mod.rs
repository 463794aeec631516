//! sea-orm entities, one per table.

pub mod charge;
pub mod chargeback;
pub mod compensation;
pub mod payment;
pub mod refund;
pub mod store_credit_account;
pub mod store_credit_entry;
