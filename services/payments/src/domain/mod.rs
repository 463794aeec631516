//! Pure domain rules of the payments service: no IO, no protobuf, no SQL.
//!
//! - [`Payment`]: one captured payment per order; it keeps the refund and chargeback totals and
//!   is the aggregate that creates refunds and chargebacks (lock its row when calling them).
//! - [`Refund`]: `PENDING → SUCCEEDED | FAILED | MANUAL_REVIEW`, `MANUAL_REVIEW → SUCCEEDED |
//!   FAILED`, driven by [`ProviderOutcome`]s from the provider adapter.
//! - [`Chargeback`]: `OPEN → CLOSED`; refunds are blocked while one is open.
//! - [`Compensation`]: store credit / coupon (issued at once) or cash (through the provider).
//! - [`StoreCreditAccount`] + [`StoreCreditEntry`]: append-only ledger, never below zero.
//! - [`Charge`]: repair quote charge `PENDING → SUCCEEDED | FAILED`, voidable.
//!
//! Every transition returns the [`Event`] to publish.

/// Declares a state/kind enum stored as text: `as_str()`, `parse()` and `ALL`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Stable text form (database column, logs).
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the text form; `None` for anything else.
            pub fn parse(value: &str) -> Option<Self> {
                match value {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod actor;
mod charge;
mod chargeback;
mod compensation;
mod event;
mod ids;
mod payment;
mod policy;
mod provider;
mod refund;
mod store_credit;
pub mod validate;

#[cfg(test)]
mod fixtures;

pub use actor::{Actor, ActorKind, not_allowed};
pub use charge::{Charge, ChargeFor, ChargeStatus, NewCharge, VoidEffect};
pub use chargeback::{Chargeback, ChargebackResolution, ChargebackStatus, NewChargeback};
pub use compensation::{
    Compensation, CompensationIssued, CompensationKind, CompensationStatus, NewCompensation, Payout,
};
pub use event::Event;
pub use ids::{
    BuyerId, CaseId, ChargeId, ChargebackId, CompensationId, ComplaintId, MerchantId, OrderId,
    PaymentId, QuoteId, RefundId, RepairId, StoreCreditEntryId,
};
pub use payment::{NewPayment, Payment, PaymentMethod};
pub use policy::{Policy, SandboxDecision, SandboxSettings};
pub use provider::{
    ProviderOperation, ProviderOutcome, ProviderRequest, provider_key, refund_provider_key, scopes,
};
pub use refund::{NewRefund, Refund, RefundDestination, RefundStatus, existing_for_case};
pub use store_credit::{CreditSource, EntryKind, NewDebit, StoreCreditAccount, StoreCreditEntry};
pub use validate::IdempotencyKey;
