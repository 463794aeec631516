//! Pure value types shared by every Aftersales domain.
//!
//! Nothing here does IO. Services build their domain rules on these types; the platform crate maps
//! [`DomainError`] to gRPC status codes at the edge.

mod error;
mod id;
mod money;

pub use error::{DomainError, FieldViolation, RuleViolation};
pub use id::parse_uuid;
pub use money::{Currency, Money, MoneyError};

/// Limits applied to free-text input everywhere, so that no request can store unbounded data.
pub mod limits {
    /// Longest accepted short text (names, codes, ids from partners).
    pub const SHORT_TEXT: usize = 128;
    /// Longest accepted long text (notes, descriptions, reasons).
    pub const LONG_TEXT: usize = 4096;
    /// Longest accepted idempotency key.
    pub const IDEMPOTENCY_KEY: usize = 128;
    /// Most items in one repeated field of a request.
    pub const MAX_ITEMS: usize = 100;
}
