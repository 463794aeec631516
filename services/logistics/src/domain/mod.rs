//! Pure domain rules of the logistics service: no IO, no protobuf, no SQL.
//!
//! - [`Shipment`]: one parcel in one [`Direction`], its waybill ([`WaybillState`]) and where it is
//!   ([`ShipmentState`]); stuck detection ([`is_stuck`]), ETA ([`compute_eta`]) and tracking
//!   number corrections ([`TrackingCorrection`]).
//! - [`TrackingEvent`]: normalised courier scans; duplicates are ignored and out-of-order scans
//!   never move a shipment backwards ([`Shipment::record_scan`]).
//! - [`Interception`]: `REQUESTED -> ACCEPTED -> INTERCEPTED -> RETURNED_TO_SENDER`, or `FAILED`.
//! - [`void_order_waybills`] / [`reissue_order_waybills`]: refund-only before shipment voids every
//!   forward waybill of an order, all or nothing; its compensation reissues them.
//! - [`create_follow_up`]: the return, reship, replacement and repair legs of an after-sale flow,
//!   addressed from the order's forward shipment ([`follow_up_route`]) and the repair depot.
//! - [`Policy`]: the configurable values; [`Event`]: what to publish after each transition.
//!
//! Every time-dependent rule takes `now`; every transition returns the [`Event`] to publish.

mod actor;
mod correction;
mod event;
mod follow_up;
mod ids;
mod interception;
mod order_waybills;
mod policy;
mod query;
mod shipment;
mod tracking;
mod validate;

pub use actor::{Actor, ActorKind, COURIER_REPORTERS, OPERATORS, SHIPPERS};
pub use correction::TrackingCorrection;
pub use event::Event;
pub use follow_up::{
    FollowUpDraft, NewFollowUp, create_follow_up, follow_up_route, follow_up_tracking_number,
    live_forward_shipment,
};
pub use ids::{
    CaseId, CorrectionId, InterceptionId, MerchantId, OrderId, RepairId, ShipmentId,
    TrackingEventId, parse_optional,
};
pub use interception::{Interception, InterceptionResult, InterceptionState};
pub use order_waybills::{reissue_order_waybills, void_order_waybills};
pub use policy::{EtaHours, Policy};
pub use query::{
    DEFAULT_PAGE_SIZE, InterceptionFilter, MAX_PAGE_SIZE, MAX_SWEEP, ShipmentFilter, page_size,
    sweep_limit,
};
pub use shipment::{
    Direction, FeePayer, NewShipment, Shipment, ShipmentDraft, ShipmentState, WaybillState,
    compute_eta, is_stuck, stuck_cutoff,
};
pub use tracking::{
    ExceptionKind, TrackingEvent, TrackingOutcome, TrackingReport, TrackingReportInput,
    TrackingStatus,
};
pub use validate::{
    Address, AddressInput, courier_code, idempotency_key, money, optional_long, optional_short,
    required_long, required_short, tracking_number,
};
