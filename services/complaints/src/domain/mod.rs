//! Pure domain rules of the complaints service: no IO, no protobuf, no SQL.
//!
//! - [`Complaint`]: `NEW → ACKNOWLEDGED → INVESTIGATING ⇄ WAITING → RESOLVED → CLOSED`,
//!   `RESOLVED | CLOSED → REOPENED → INVESTIGATING`, open states `→ ESCALATED` (by hand, or by
//!   the sweep when the first response is overdue: 24 h, urgent 2 h). Closing needs a
//!   resolution note sent to the customer.
//! - [`WorkOrder`]: `OPEN → ASSIGNED → IN_PROGRESS → DONE | REJECTED → VERIFIED` (or back to
//!   ASSIGNED for rework), transfers between departments logged as [`WorkOrderTransfer`], SLA
//!   `ONGOING → REACHED | FAILED` (48 h), breaches escalate.
//! - [`FollowUp`]: visits after resolution with their outcome.
//! - [`ServiceRating`]: one immutable rating per closed case, complaint or repair.
//! - [`DsrRating`] / [`DsrSummary`]: store ratings; only the first 3 per buyer, merchant and
//!   calendar month (time zone from [`Policy`]) count.
//! - [`ComplaintStats`]: first-response time and SLA breach rates.
//!
//! Every transition takes `now` and returns the [`Event`] to publish; rule violations are
//! `DomainError::Rule` with the names listed in [`RULES`].

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
mod complaint;
mod dsr;
mod event;
mod follow_up;
mod ids;
mod policy;
mod rating;
mod stats;
pub mod validate;
mod work_order;

#[cfg(test)]
mod fixtures;

pub use actor::{Actor, ActorKind, INTERNAL, not_allowed};
pub use complaint::{
    Complaint, ComplaintCategory, ComplaintChannel, ComplaintStatus, EscalationTrigger,
    NewComplaint, Severity, effective_severity,
};
pub use dsr::{DsrMonth, DsrRating, DsrScores, DsrSummary, NewDsrRating};
pub use event::Event;
pub use follow_up::{FollowUp, FollowUpMethod, FollowUpOutcome};
pub use ids::{
    CaseId, ComplaintId, CustomerId, DsrRatingId, FollowUpId, MerchantId, OrderId, RepairId,
    ServiceRatingId, ShipmentId, TransferId, WorkOrderId,
};
pub use policy::Policy;
pub use rating::{
    NewServiceRating, RatingSubject, RatingSubjectType, Score, ServiceRating, ServiceScores,
};
pub use stats::ComplaintStats;
pub use validate::IdempotencyKey;
pub use work_order::{
    Department, NewWorkOrder, SlaStatus, Target, WorkOrder, WorkOrderStatus, WorkOrderTransfer,
};

use aftersales_kernel::DomainError;

/// Every rule name this domain can return (`DomainError::Rule`), for the api layer's mapping:
/// `actor_not_allowed` → PERMISSION_DENIED, the others → FAILED_PRECONDITION.
pub const RULES: &[&str] = &[
    "invalid_transition",
    "actor_not_allowed",
    "first_response_required",
    "work_orders_open",
    "resolution_note_required",
    "complaint_closed",
    "transfer_same_department",
    "complaint_not_resolved",
    "subject_not_closed",
    "rating_already_given",
];

/// Rule violation `invalid_transition`: `entity` in state `status` cannot be `action`.
pub fn invalid_transition(entity: &str, status: &str, action: &str) -> DomainError {
    DomainError::rule(
        "invalid_transition",
        format!(
            "{entity} is {} and cannot be {action}",
            status.to_lowercase()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_transition_detail_is_lowercase() {
        let e = invalid_transition("work order", "IN_PROGRESS", "verified");
        assert_eq!(e.rule_name(), Some("invalid_transition"));
        assert_eq!(
            e.to_string(),
            "invalid_transition: work order is in_progress and cannot be verified"
        );
        assert!(RULES.contains(&"invalid_transition"));
    }
}
