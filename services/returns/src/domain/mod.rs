//! Pure domain rules of the returns service: no IO, no protobuf, no SQL.
//!
//! Start with [`case`] (the after-sale case and its state machine), then [`eligibility`] and
//! [`refund`] (the return policy), [`items`] (the return leg), [`settle`] (money and
//! replacement) and [`arbitration`] (platform intervention). Every transition takes `now`,
//! checks the state machine and the rules, records the history and returns the
//! [`CaseEvent`]s to publish.

pub mod actor;
pub mod arbitration;
pub mod case;
pub mod eligibility;
pub mod enums;
pub mod event;
pub mod ids;
pub mod items;
pub mod order;
pub mod policy;
pub mod refund;
pub mod settle;
pub mod validate;

pub use actor::Actor;
pub use arbitration::{Appeal, Arbitration, Ruling};
pub use case::{
    AmountOverride, Case, CaseAction, CaseItem, HistoryEntry, ItemCondition, NewCase, NewCaseItem,
    Offer, PriceDifference, Replacement, ReturnShipment, TypeChange,
};
pub use eligibility::{EligibilityQuery, check_eligibility};
pub use enums::{
    ActorKind, ArbitrationStatus, CaseStatus, CaseType, Channel, Disposition, InspectionStatus,
    InterceptionStatus, OfferStatus, ReasonCode, ReceptionStatus, Responsibility, ReturnProgress,
    RulingOutcome, ShipmentState,
};
pub use event::CaseEvent;
pub use ids::{BuyerId, CaseId, CaseItemId, MerchantId, OrderId, OrderLineId};
pub use order::{OrderLineSnapshot, OrderSnapshot, PolicySnapshot, Window};
pub use policy::Settings;
pub use refund::{RefundBreakdown, RefundQuery, check_refund_cap, compute_refund};
pub use validate::EvidenceRef;
