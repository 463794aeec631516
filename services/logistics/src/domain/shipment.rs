//! Shipments and their waybills: creation, the waybill state machine, stuck detection and ETA.

use super::actor::{Actor, ActorKind, SHIPPERS};
use super::event::Event;
use super::ids::{CaseId, MerchantId, OrderId, RepairId, ShipmentId, parse_optional};
use super::policy::Policy;
use super::tracking::ExceptionKind;
use super::validate::{self, Address, AddressInput};
use aftersales_kernel::{DomainError, FieldViolation, Money};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Which way a parcel travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Direction {
    /// Merchant to buyer, the original order.
    Forward,
    /// Buyer to warehouse.
    Return,
    /// A missing or wrong item sent again.
    Reship,
    /// The replacement of an exchange.
    Replacement,
    ToRepairCenter,
    FromRepairCenter,
}

impl Direction {
    pub const ALL: [Direction; 6] = [
        Self::Forward,
        Self::Return,
        Self::Reship,
        Self::Replacement,
        Self::ToRepairCenter,
        Self::FromRepairCenter,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::Return => "return",
            Self::Reship => "reship",
            Self::Replacement => "replacement",
            Self::ToRepairCenter => "to_repair_center",
            Self::FromRepairCenter => "from_repair_center",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }

    /// The after-sale case this shipment serves must be referenced.
    pub fn needs_case(&self) -> bool {
        matches!(self, Self::Return | Self::Reship | Self::Replacement)
    }

    /// The repair order this shipment serves must be referenced.
    pub fn needs_repair(&self) -> bool {
        matches!(self, Self::ToRepairCenter | Self::FromRepairCenter)
    }
}

/// Waybill (shipping label) lifecycle: `CREATED -> PRINTED -> UPLOADED`, and `VOIDED` from any of
/// them before pickup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WaybillState {
    Created,
    Printed,
    Uploaded,
    Voided,
}

impl WaybillState {
    pub const ALL: [WaybillState; 4] = [Self::Created, Self::Printed, Self::Uploaded, Self::Voided];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Printed => "printed",
            Self::Uploaded => "uploaded",
            Self::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.as_str() == s)
    }

    /// The waybill state machine (pickup is checked separately for voiding).
    pub fn can_become(&self, to: WaybillState) -> bool {
        use WaybillState::*;
        matches!(
            (self, to),
            (Created, Printed) | (Printed, Uploaded) | (Created | Printed | Uploaded, Voided)
        )
    }
}

/// Where the parcel is. Moves forward only (see [`ShipmentState::rank`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShipmentState {
    /// Waybill created, not picked up yet.
    Created,
    PickedUp,
    InTransit,
    OutForDelivery,
    Signed,
    /// See the shipment's `exception_kind`; the rank is the milestone reached before it.
    Exception,
    ReturnedToSender,
    /// The waybill was voided before pickup.
    Voided,
}

impl ShipmentState {
    pub const ALL: [ShipmentState; 8] = [
        Self::Created,
        Self::PickedUp,
        Self::InTransit,
        Self::OutForDelivery,
        Self::Signed,
        Self::Exception,
        Self::ReturnedToSender,
        Self::Voided,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::PickedUp => "picked_up",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Signed => "signed",
            Self::Exception => "exception",
            Self::ReturnedToSender => "returned_to_sender",
            Self::Voided => "voided",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Progress rank of a milestone; `None` for `Exception`, whose rank is the milestone reached
    /// before it.
    pub fn rank(&self) -> Option<u8> {
        Some(match self {
            Self::Created => 0,
            Self::PickedUp => 1,
            Self::InTransit => 2,
            Self::OutForDelivery => 3,
            Self::Signed | Self::ReturnedToSender | Self::Voided => 4,
            Self::Exception => return None,
        })
    }

    /// No tracking event moves a shipment out of these states.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Signed | Self::ReturnedToSender | Self::Voided)
    }

    /// States in which a missing scan means the parcel is stuck.
    pub fn can_become_stuck(&self) -> bool {
        matches!(
            self,
            Self::PickedUp | Self::InTransit | Self::OutForDelivery
        )
    }

    /// States in which the courier can still stop the parcel.
    pub fn can_be_intercepted(&self) -> bool {
        matches!(
            self,
            Self::PickedUp | Self::InTransit | Self::OutForDelivery | Self::Exception
        )
    }
}

/// Who pays the shipping fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FeePayer {
    Buyer,
    Merchant,
    Platform,
    /// Shipping insurance or the courier.
    Insurer,
}

impl FeePayer {
    pub const ALL: [FeePayer; 4] = [Self::Buyer, Self::Merchant, Self::Platform, Self::Insurer];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Merchant => "merchant",
            Self::Platform => "platform",
            Self::Insurer => "insurer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// A shipment: one parcel in one direction, with its waybill. Never deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: ShipmentId,
    pub direction: Direction,
    /// Courier (partner) code; the actor id of that courier.
    pub courier_code: String,
    pub tracking_number: String,
    pub order_id: OrderId,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub merchant_id: MerchantId,
    pub origin: Option<Address>,
    pub destination: Address,
    pub shipping_fee: Option<Money>,
    pub fee_payer: FeePayer,
    pub waybill_state: WaybillState,
    pub state: ShipmentState,
    /// Set exactly when `state` is `Exception`.
    pub exception_kind: Option<ExceptionKind>,
    /// Furthest normal state reached (never `Exception`): out-of-order events below it are ignored.
    pub milestone: ShipmentState,
    pub eta: Option<DateTime<Utc>>,
    /// Latest scan time seen (applied or not): drives stuck detection.
    pub last_scan_at: Option<DateTime<Utc>>,
    /// `occurred_at` of the last applied tracking event: older events are not applied.
    pub last_event_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub printed_at: Option<DateTime<Utc>>,
    pub uploaded_at: Option<DateTime<Utc>>,
    pub voided_at: Option<DateTime<Utc>>,
    pub void_reason: Option<String>,
    pub picked_up_at: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    pub correction_count: u32,
    pub created_by: Actor,
    /// The case the waybill was voided for by [`void_order_waybills`](super::void_order_waybills).
    pub voided_for_case: Option<CaseId>,
    /// The voided shipment this one replaces ([`reissue_order_waybills`](super::reissue_order_waybills)).
    pub reissued_from: Option<ShipmentId>,
}

/// Raw create input as the api layer reads it (enums `None` when UNSPECIFIED).
#[derive(Debug, Clone, Default)]
pub struct ShipmentDraft<'a> {
    pub direction: Option<Direction>,
    pub courier_code: &'a str,
    pub tracking_number: &'a str,
    pub order_id: &'a str,
    pub case_id: &'a str,
    pub repair_id: &'a str,
    pub merchant_id: &'a str,
    pub origin: Option<AddressInput<'a>>,
    pub destination: Option<AddressInput<'a>>,
    /// `(minor_units, currency)` when the request has a fee.
    pub shipping_fee: Option<(i64, &'a str)>,
    pub fee_payer: Option<FeePayer>,
}

/// Validated create input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewShipment {
    pub direction: Direction,
    pub courier_code: String,
    pub tracking_number: String,
    pub order_id: OrderId,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub merchant_id: MerchantId,
    pub origin: Option<Address>,
    pub destination: Address,
    pub shipping_fee: Option<Money>,
    pub fee_payer: FeePayer,
}

/// The value of `r`, or `None` after adding its field violations to `errors`.
pub(super) fn collect<T>(errors: &mut Vec<FieldViolation>, r: Result<T, DomainError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(DomainError::Invalid(v)) => {
            errors.extend(v);
            None
        }
        Err(DomainError::Rule(_)) => None,
    }
}

impl ShipmentDraft<'_> {
    /// Validates every field, reporting all violations at once. Enforces the references each
    /// direction needs (`case_id`, `repair_id`).
    pub fn validate(&self) -> Result<NewShipment, DomainError> {
        let mut e = Vec::new();
        let direction = collect(
            &mut e,
            self.direction
                .ok_or_else(|| DomainError::field("direction", "is required")),
        );
        let courier_code = collect(
            &mut e,
            validate::courier_code("courier_code", self.courier_code),
        );
        let tracking_number = collect(
            &mut e,
            validate::tracking_number("tracking_number", self.tracking_number),
        );
        let order_id = collect(&mut e, OrderId::parse("order_id", self.order_id));
        let case_id = collect(&mut e, parse_optional::<CaseId>("case_id", self.case_id)).flatten();
        let repair_id = collect(
            &mut e,
            parse_optional::<RepairId>("repair_id", self.repair_id),
        )
        .flatten();
        let merchant_id = collect(&mut e, MerchantId::parse("merchant_id", self.merchant_id));
        let origin = match &self.origin {
            Some(a) => collect(&mut e, Address::parse("origin", a)),
            None => None,
        };
        let destination = match &self.destination {
            Some(a) => collect(&mut e, Address::parse("destination", a)),
            None => {
                e.push(FieldViolation::new("destination", "is required"));
                None
            }
        };
        let shipping_fee = match self.shipping_fee {
            Some((minor, cur)) => collect(&mut e, validate::money("shipping_fee", minor, cur)),
            None => None,
        };
        let fee_payer = collect(
            &mut e,
            self.fee_payer
                .ok_or_else(|| DomainError::field("fee_payer", "is required")),
        );
        if let Some(d) = direction {
            require_references(&mut e, d, self.case_id, self.repair_id);
        }
        match (
            direction,
            courier_code,
            tracking_number,
            order_id,
            merchant_id,
            destination,
            fee_payer,
        ) {
            (
                Some(direction),
                Some(courier_code),
                Some(tracking_number),
                Some(order_id),
                Some(merchant_id),
                Some(destination),
                Some(fee_payer),
            ) if e.is_empty() => Ok(NewShipment {
                direction,
                courier_code,
                tracking_number,
                order_id,
                case_id,
                repair_id,
                merchant_id,
                origin,
                destination,
                shipping_fee,
                fee_payer,
            }),
            _ => Err(DomainError::Invalid(e)),
        }
    }
}

/// Adds a violation to `errors` for each reference `direction` needs that the request left
/// empty (`case_id`, `repair_id`; a malformed one is reported by its parse).
pub(super) fn require_references(
    errors: &mut Vec<FieldViolation>,
    direction: Direction,
    case_id: &str,
    repair_id: &str,
) {
    if direction.needs_case() && case_id.is_empty() {
        errors.push(FieldViolation::new(
            "case_id",
            format!("is required for {} shipments", direction.as_str()),
        ));
    }
    if direction.needs_repair() && repair_id.is_empty() {
        errors.push(FieldViolation::new(
            "repair_id",
            format!("is required for {} shipments", direction.as_str()),
        ));
    }
}

/// ETA model: the state's remaining hours after `base` (the last applied event, or creation).
/// Terminal states have no ETA.
pub fn compute_eta(
    state: ShipmentState,
    base: DateTime<Utc>,
    policy: &Policy,
) -> Option<DateTime<Utc>> {
    let hours = match state {
        ShipmentState::Created => policy.eta.created,
        ShipmentState::PickedUp => policy.eta.picked_up,
        ShipmentState::InTransit => policy.eta.in_transit,
        ShipmentState::OutForDelivery => policy.eta.out_for_delivery,
        ShipmentState::Exception => policy.eta.exception,
        ShipmentState::Signed | ShipmentState::ReturnedToSender | ShipmentState::Voided => {
            return None;
        }
    };
    base.checked_add_signed(Duration::hours(hours))
}

/// True when the last scan is at least `policy.stuck_after` old (48 h by default; the boundary
/// counts as stuck). A shipment never scanned is not stuck: it is waiting for pickup.
pub fn is_stuck(last_scan_at: Option<DateTime<Utc>>, now: DateTime<Utc>, policy: &Policy) -> bool {
    match last_scan_at {
        Some(t) => now.signed_duration_since(t) >= policy.stuck_after(),
        None => false,
    }
}

/// Latest `last_scan_at` that counts as stuck at `now`: the sweep selects shipments in a state
/// that [`ShipmentState::can_become_stuck`] with `last_scan_at <= stuck_cutoff(now)`.
pub fn stuck_cutoff(now: DateTime<Utc>, policy: &Policy) -> DateTime<Utc> {
    now - policy.stuck_after()
}

impl Shipment {
    /// Creates a shipment with its waybill in `CREATED`. Merchants, staff and the system create
    /// any shipment; a buyer only a `RETURN` one (`actor_not_allowed`).
    pub fn create(
        id: ShipmentId,
        new: NewShipment,
        actor: &Actor,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<(Shipment, Event), DomainError> {
        if !(actor.kind == ActorKind::Buyer && new.direction == Direction::Return) {
            actor.require(
                SHIPPERS,
                &format!("create a {} shipment", new.direction.as_str()),
            )?;
        }
        let shipment = Shipment {
            id,
            direction: new.direction,
            courier_code: new.courier_code,
            tracking_number: new.tracking_number,
            order_id: new.order_id,
            case_id: new.case_id,
            repair_id: new.repair_id,
            merchant_id: new.merchant_id,
            origin: new.origin,
            destination: new.destination,
            shipping_fee: new.shipping_fee,
            fee_payer: new.fee_payer,
            waybill_state: WaybillState::Created,
            state: ShipmentState::Created,
            exception_kind: None,
            milestone: ShipmentState::Created,
            eta: compute_eta(ShipmentState::Created, now, policy),
            last_scan_at: None,
            last_event_at: None,
            created_at: now,
            updated_at: now,
            printed_at: None,
            uploaded_at: None,
            voided_at: None,
            void_reason: None,
            picked_up_at: None,
            signed_at: None,
            correction_count: 0,
            created_by: actor.clone(),
            voided_for_case: None,
            reissued_from: None,
        };
        Ok((shipment, Event::ShipmentCreated))
    }

    fn waybill_to(&mut self, to: WaybillState) -> Result<(), DomainError> {
        if !self.waybill_state.can_become(to) {
            return Err(DomainError::rule(
                "invalid_waybill_transition",
                format!(
                    "a {} waybill cannot become {}",
                    self.waybill_state.as_str(),
                    to.as_str()
                ),
            ));
        }
        self.waybill_state = to;
        Ok(())
    }

    /// Waybill `CREATED -> PRINTED`. From then on orders refuse edits.
    pub fn print_waybill(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.require(SHIPPERS, "print a waybill")?;
        self.waybill_to(WaybillState::Printed)?;
        self.printed_at = Some(now);
        self.updated_at = now;
        Ok(Event::WaybillPrinted)
    }

    /// Waybill `PRINTED -> UPLOADED`; restarts the tracking number correction window.
    pub fn upload_waybill(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.require(SHIPPERS, "upload a waybill")?;
        self.waybill_to(WaybillState::Uploaded)?;
        self.uploaded_at = Some(now);
        self.updated_at = now;
        Ok(Event::WaybillUploaded)
    }

    /// Waybill `CREATED | PRINTED | UPLOADED -> VOIDED`, only before pickup
    /// (`shipment_already_picked_up`); the shipment becomes `VOIDED`.
    pub fn void_waybill(
        &mut self,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.require(SHIPPERS, "void a waybill")?;
        if self.waybill_state != WaybillState::Voided && self.state != ShipmentState::Created {
            return Err(DomainError::rule(
                "shipment_already_picked_up",
                "the courier has picked the parcel up: intercept it instead",
            ));
        }
        self.waybill_to(WaybillState::Voided)?;
        self.state = ShipmentState::Voided;
        self.milestone = ShipmentState::Voided;
        self.exception_kind = None;
        self.eta = None;
        self.voided_at = Some(now);
        self.void_reason = reason;
        self.updated_at = now;
        Ok(Event::WaybillVoided)
    }

    /// Marks an in-transit shipment without a scan for `policy.stuck_after` as
    /// `EXCEPTION / STUCK`. Rules: `shipment_not_in_transit`, `shipment_not_stuck`.
    pub fn mark_stuck(
        &mut self,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<Event, DomainError> {
        if !self.state.can_become_stuck() {
            return Err(DomainError::rule(
                "shipment_not_in_transit",
                format!("a {} shipment cannot be stuck", self.state.as_str()),
            ));
        }
        if !is_stuck(self.last_scan_at, now, policy) {
            return Err(DomainError::rule(
                "shipment_not_stuck",
                format!(
                    "the last scan is less than {} seconds old",
                    policy.stuck_after_seconds
                ),
            ));
        }
        self.state = ShipmentState::Exception;
        self.exception_kind = Some(ExceptionKind::Stuck);
        self.eta = compute_eta(ShipmentState::Exception, now, policy);
        self.updated_at = now;
        Ok(Event::ShipmentStuck)
    }

    /// After a successful interception the parcel is back with the sender: moves the shipment to
    /// `RETURNED_TO_SENDER` unless it is already terminal (then `None`, nothing changes).
    pub fn return_to_sender(&mut self, now: DateTime<Utc>) -> Option<Event> {
        if self.state.is_terminal() {
            return None;
        }
        self.state = ShipmentState::ReturnedToSender;
        self.milestone = ShipmentState::ReturnedToSender;
        self.exception_kind = None;
        self.eta = None;
        self.updated_at = now;
        Some(Event::ShipmentReturnedToSender)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use uuid::Uuid;

    pub fn at(hours: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000, 0).unwrap_or_default()
            + Duration::hours(hours)
    }

    pub fn actor(kind: ActorKind, id: &str) -> Actor {
        Actor {
            kind,
            id: id.into(),
        }
    }

    pub const MERCHANT: &str = "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a04";

    pub fn merchant() -> Actor {
        actor(ActorKind::Merchant, MERCHANT)
    }

    pub fn address() -> AddressInput<'static> {
        AddressInput {
            contact_name: "Han Meimei",
            phone: "13900000000",
            line1: "88 Century Avenue",
            city: "Shanghai",
            country_code: "CN",
            ..Default::default()
        }
    }

    pub fn draft(direction: Direction) -> ShipmentDraft<'static> {
        ShipmentDraft {
            direction: Some(direction),
            courier_code: "SF",
            tracking_number: "SF1000",
            order_id: "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a01",
            case_id: "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a02",
            repair_id: "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a03",
            merchant_id: MERCHANT,
            origin: None,
            destination: Some(address()),
            shipping_fee: Some((1200, "CNY")),
            fee_payer: Some(FeePayer::Merchant),
        }
    }

    /// A forward shipment by SF created at `at(0)`.
    pub fn shipment() -> Shipment {
        let new = draft(Direction::Forward).validate().unwrap();
        Shipment::create(
            ShipmentId(Uuid::nil()),
            new,
            &merchant(),
            at(0),
            &Policy::default(),
        )
        .unwrap()
        .0
    }

    fn fields(e: DomainError) -> Vec<String> {
        match e {
            DomainError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            DomainError::Rule(r) => vec![format!("rule:{}", r.rule)],
        }
    }

    #[test]
    fn enums_round_trip_as_text() {
        for d in Direction::ALL {
            assert_eq!(Direction::parse(d.as_str()), Some(d));
        }
        for w in WaybillState::ALL {
            assert_eq!(WaybillState::parse(w.as_str()), Some(w));
        }
        for s in ShipmentState::ALL {
            assert_eq!(ShipmentState::parse(s.as_str()), Some(s));
        }
        for f in FeePayer::ALL {
            assert_eq!(FeePayer::parse(f.as_str()), Some(f));
        }
        assert_eq!(Direction::parse("sideways"), None);
        assert_eq!(WaybillState::parse(""), None);
        assert_eq!(ShipmentState::parse("SIGNED"), None);
        assert_eq!(FeePayer::parse("nobody"), None);
    }

    #[test]
    fn draft_requires_references_per_direction() {
        let cases: &[(Direction, bool, bool, &[&str])] = &[
            (Direction::Forward, false, false, &[]),
            (Direction::Return, false, false, &["case_id"]),
            (Direction::Reship, false, false, &["case_id"]),
            (Direction::Replacement, false, false, &["case_id"]),
            (Direction::Replacement, true, false, &[]),
            (Direction::ToRepairCenter, false, false, &["repair_id"]),
            (Direction::FromRepairCenter, false, false, &["repair_id"]),
            (Direction::FromRepairCenter, false, true, &[]),
        ];
        for (direction, with_case, with_repair, want) in cases {
            let mut d = draft(*direction);
            if !with_case {
                d.case_id = "";
            }
            if !with_repair {
                d.repair_id = "";
            }
            let got = d.validate().err().map(fields).unwrap_or_default();
            assert_eq!(got, *want, "{direction:?}");
        }
    }

    #[test]
    fn draft_reports_every_bad_field() {
        let d = ShipmentDraft {
            order_id: "nope",
            case_id: "bad",
            shipping_fee: Some((-1, "CNY")),
            ..Default::default()
        };
        assert_eq!(
            fields(d.validate().unwrap_err()),
            [
                "direction",
                "courier_code",
                "tracking_number",
                "order_id",
                "case_id",
                "merchant_id",
                "destination",
                "shipping_fee.minor_units",
                "fee_payer"
            ]
        );
        let bad_origin = ShipmentDraft {
            origin: Some(AddressInput {
                city: "",
                ..address()
            }),
            ..draft(Direction::Forward)
        };
        assert_eq!(fields(bad_origin.validate().unwrap_err()), ["origin.city"]);
        let free = ShipmentDraft {
            shipping_fee: None,
            ..draft(Direction::Forward)
        };
        assert_eq!(free.validate().map(|n| n.shipping_fee), Ok(None));
    }

    #[test]
    fn create_checks_the_actor() {
        let cases: &[(ActorKind, Direction, bool)] = &[
            (ActorKind::Merchant, Direction::Forward, true),
            (ActorKind::Staff, Direction::Reship, true),
            (ActorKind::System, Direction::ToRepairCenter, true),
            (ActorKind::Buyer, Direction::Return, true),
            (ActorKind::Buyer, Direction::Forward, false),
            (ActorKind::Buyer, Direction::Replacement, false),
            (ActorKind::Partner, Direction::Forward, false),
            (ActorKind::Partner, Direction::Return, false),
        ];
        for (kind, direction, ok) in cases {
            let new = draft(*direction).validate().unwrap();
            let got = Shipment::create(
                ShipmentId::generate(),
                new,
                &actor(*kind, "x"),
                at(0),
                &Policy::default(),
            );
            match (got, ok) {
                (Ok((s, e)), true) => {
                    assert_eq!(e, Event::ShipmentCreated);
                    assert_eq!(s.state, ShipmentState::Created);
                    assert_eq!(s.waybill_state, WaybillState::Created);
                    assert_eq!(s.eta, Some(at(96)));
                }
                (Err(e), false) => assert_eq!(e.rule_name(), Some("actor_not_allowed")),
                (got, _) => panic!("{kind:?} {direction:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn waybill_state_machine() {
        use WaybillState::*;
        let allowed = [
            (Created, Printed),
            (Printed, Uploaded),
            (Created, Voided),
            (Printed, Voided),
            (Uploaded, Voided),
        ];
        for from in WaybillState::ALL {
            for to in WaybillState::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn print_upload_void_follow_the_machine() {
        let m = merchant();
        let mut s = shipment();
        assert_eq!(
            s.upload_waybill(&m, at(1)).unwrap_err().rule_name(),
            Some("invalid_waybill_transition")
        );
        assert_eq!(s.print_waybill(&m, at(1)), Ok(Event::WaybillPrinted));
        assert_eq!(s.printed_at, Some(at(1)));
        assert_eq!(
            s.print_waybill(&m, at(1)).unwrap_err().rule_name(),
            Some("invalid_waybill_transition")
        );
        assert_eq!(s.upload_waybill(&m, at(2)), Ok(Event::WaybillUploaded));
        assert_eq!(s.uploaded_at, Some(at(2)));
        assert_eq!(
            s.print_waybill(&m, at(3)).unwrap_err().rule_name(),
            Some("invalid_waybill_transition")
        );
        assert_eq!(
            s.void_waybill(&m, Some("order canceled".into()), at(3)),
            Ok(Event::WaybillVoided)
        );
        assert_eq!(
            (s.waybill_state, s.state, s.eta),
            (WaybillState::Voided, ShipmentState::Voided, None)
        );
        assert_eq!(s.void_reason.as_deref(), Some("order canceled"));
        assert_eq!(
            s.void_waybill(&m, None, at(4)).unwrap_err().rule_name(),
            Some("invalid_waybill_transition")
        );
        assert_eq!(
            s.print_waybill(&m, at(4)).unwrap_err().rule_name(),
            Some("invalid_waybill_transition")
        );
    }

    #[test]
    fn void_allowed_from_each_waybill_state_before_pickup_only() {
        let m = merchant();
        for steps in 0..3 {
            for picked_up in [false, true] {
                let mut s = shipment();
                if steps >= 1 {
                    s.print_waybill(&m, at(1)).unwrap();
                }
                if steps >= 2 {
                    s.upload_waybill(&m, at(1)).unwrap();
                }
                if picked_up {
                    s.state = ShipmentState::PickedUp;
                }
                let got = s.void_waybill(&m, None, at(2));
                if picked_up {
                    assert_eq!(
                        got.unwrap_err().rule_name(),
                        Some("shipment_already_picked_up")
                    );
                } else {
                    assert_eq!(got, Ok(Event::WaybillVoided), "steps {steps}");
                }
            }
        }
    }

    #[test]
    fn waybill_actions_need_a_shipper() {
        for kind in [ActorKind::Buyer, ActorKind::Partner] {
            let a = actor(kind, "SF");
            let mut s = shipment();
            assert_eq!(
                s.print_waybill(&a, at(1)).unwrap_err().rule_name(),
                Some("actor_not_allowed")
            );
            assert_eq!(
                s.upload_waybill(&a, at(1)).unwrap_err().rule_name(),
                Some("actor_not_allowed")
            );
            assert_eq!(
                s.void_waybill(&a, None, at(1)).unwrap_err().rule_name(),
                Some("actor_not_allowed")
            );
            assert_eq!(s.waybill_state, WaybillState::Created);
        }
    }

    #[test]
    fn is_stuck_boundaries() {
        let p = Policy::default();
        let cases: &[(Option<i64>, i64, bool)] = &[
            (None, 1000, false),
            (Some(0), 47, false),
            (Some(0), 48, true),
            (Some(0), 49, true),
            (Some(10), 57, false),
            (Some(10), 58, true),
        ];
        for (scan, now, want) in cases {
            assert_eq!(
                is_stuck(scan.map(at), at(*now), &p),
                *want,
                "{scan:?} {now}"
            );
        }
        let almost = at(48) - Duration::seconds(1);
        assert!(!is_stuck(Some(at(0)), almost, &p));
        assert_eq!(stuck_cutoff(at(48), &p), at(0));
        let short = Policy {
            stuck_after_seconds: 3600,
            ..Policy::default()
        };
        assert!(is_stuck(Some(at(0)), at(1), &short));
    }

    #[test]
    fn mark_stuck_by_state() {
        let p = Policy::default();
        for state in ShipmentState::ALL {
            let mut s = shipment();
            s.state = state;
            s.last_scan_at = Some(at(0));
            let got = s.mark_stuck(at(48), &p);
            if state.can_become_stuck() {
                assert_eq!(got, Ok(Event::ShipmentStuck), "{state:?}");
                assert_eq!(s.state, ShipmentState::Exception);
                assert_eq!(s.exception_kind, Some(ExceptionKind::Stuck));
                assert_eq!(s.eta, Some(at(48 + 72)));
            } else {
                assert_eq!(
                    got.unwrap_err().rule_name(),
                    Some("shipment_not_in_transit"),
                    "{state:?}"
                );
            }
        }
        let mut fresh = shipment();
        fresh.state = ShipmentState::InTransit;
        fresh.last_scan_at = Some(at(1));
        assert_eq!(
            fresh.mark_stuck(at(48), &p).unwrap_err().rule_name(),
            Some("shipment_not_stuck")
        );
        assert_eq!(fresh.state, ShipmentState::InTransit);
    }

    #[test]
    fn eta_per_state() {
        let p = Policy::default();
        let cases: &[(ShipmentState, Option<i64>)] = &[
            (ShipmentState::Created, Some(96)),
            (ShipmentState::PickedUp, Some(72)),
            (ShipmentState::InTransit, Some(48)),
            (ShipmentState::OutForDelivery, Some(6)),
            (ShipmentState::Exception, Some(72)),
            (ShipmentState::Signed, None),
            (ShipmentState::ReturnedToSender, None),
            (ShipmentState::Voided, None),
        ];
        for (state, hours) in cases {
            assert_eq!(compute_eta(*state, at(0), &p), hours.map(at), "{state:?}");
        }
    }

    #[test]
    fn return_to_sender_only_from_open_states() {
        for state in ShipmentState::ALL {
            let mut s = shipment();
            s.state = state;
            let got = s.return_to_sender(at(5));
            if state.is_terminal() {
                assert_eq!(got, None, "{state:?}");
                assert_eq!(s.state, state);
            } else {
                assert_eq!(got, Some(Event::ShipmentReturnedToSender), "{state:?}");
                assert_eq!((s.state, s.eta), (ShipmentState::ReturnedToSender, None));
            }
        }
    }
}
