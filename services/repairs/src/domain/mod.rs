//! Pure domain rules of the repairs service: no IO, no protobuf, no SQL.
//!
//! - [`repair_order`]: the repair order state machine (warranty, diagnosis, quote, repair, ship
//!   back, unrepairable conversion, cancellation) with partner and buyer scoping.
//! - [`repair_center`]: repair centers (partners) and their suspension.
//! - [`warranty`]: the computed warranty decision and its overrides.
//! - [`policy`]: configurable values (default warranty months, quote approval window).
//! - [`input`]: validated inputs of repair order operations.
//! - [`filter`]: list filters scoped by actor.
//! - [`validate`]: raw input to domain values, naming the bad field.
//! - [`event`]: the domain events (routing keys) each transition publishes.

pub mod actor;
pub mod enums;
pub mod event;
pub mod filter;
pub mod ids;
pub mod input;
pub mod policy;
pub mod repair_center;
pub mod repair_order;
pub mod validate;
pub mod warranty;

pub use actor::Actor;
pub use enums::{
    ActorKind, Channel, QuoteDecision, RepairCenterState, RepairState, UnrepairableResolution,
    UnrepairedReason, WarrantySource,
};
pub use event::Event;
pub use filter::RepairOrderFilter;
pub use ids::{
    BuyerId, CaseId, ChargeId, LineId, MerchantId, OrderId, RepairCenterId, RepairOrderId,
    ShipmentId,
};
pub use input::{DiagnosisInput, NewRepairOrder, PurchasedLine, RawRepairRequest, RepairRequest};
pub use policy::Policy;
pub use repair_center::{NewRepairCenter, RepairCenter};
pub use repair_order::{Diagnosis, Quote, RepairOrder, already_open};
pub use validate::{IdempotencyKey, Reason};
pub use warranty::{Warranty, WarrantyOverride};
