//! Follow-up shipments: the legs an after-sale flow adds to an order (a return label, a reship, a
//! replacement, the trip to the repair depot and back), addressed from what logistics already
//! knows so that no caller types an address. The order's newest forward shipment not voided gives
//! the buyer (its destination), the merchant's warehouse (its origin), the courier and the
//! merchant; the configured repair depot ([`Policy::repair_depot`]) is the far end of repair legs.

use super::actor::{Actor, OPERATORS};
use super::event::Event;
use super::ids::{CaseId, OrderId, RepairId, ShipmentId, parse_optional};
use super::policy::Policy;
use super::shipment::{
    Direction, FeePayer, NewShipment, Shipment, WaybillState, collect, require_references,
};
use super::validate::{self, Address};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};

const FOLLOW_UP_DIRECTIONS: &str =
    "must be return, reship, replacement, to_repair_center or from_repair_center";

/// Raw follow-up input as the api layer reads it (enums `None` when UNSPECIFIED).
#[derive(Debug, Clone, Default)]
pub struct FollowUpDraft<'a> {
    pub order_id: &'a str,
    pub direction: Option<Direction>,
    pub case_id: &'a str,
    pub repair_id: &'a str,
    pub fee_payer: Option<FeePayer>,
    /// `(minor_units, currency)` when the request has a fee.
    pub shipping_fee: Option<(i64, &'a str)>,
}

/// A validated follow-up request: what the flow names; the forward shipment gives the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFollowUp {
    pub order_id: OrderId,
    /// Never `Forward`.
    pub direction: Direction,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub fee_payer: FeePayer,
    pub shipping_fee: Option<Money>,
}

impl FollowUpDraft<'_> {
    /// Validates every field, reporting all violations at once: a follow-up direction (not
    /// `FORWARD`) and the reference it needs (`case_id`, `repair_id`).
    pub fn validate(&self) -> Result<NewFollowUp, DomainError> {
        let mut e = Vec::new();
        let order_id = collect(&mut e, OrderId::parse("order_id", self.order_id));
        let direction = collect(
            &mut e,
            match self.direction {
                None => Err(DomainError::field("direction", "is required")),
                Some(Direction::Forward) => {
                    Err(DomainError::field("direction", FOLLOW_UP_DIRECTIONS))
                }
                Some(d) => Ok(d),
            },
        );
        let case_id = collect(&mut e, parse_optional::<CaseId>("case_id", self.case_id)).flatten();
        let repair_id = collect(
            &mut e,
            parse_optional::<RepairId>("repair_id", self.repair_id),
        )
        .flatten();
        if let Some(d) = direction {
            require_references(&mut e, d, self.case_id, self.repair_id);
        }
        let fee_payer = collect(
            &mut e,
            self.fee_payer
                .ok_or_else(|| DomainError::field("fee_payer", "is required")),
        );
        let shipping_fee = match self.shipping_fee {
            Some((minor, cur)) => collect(&mut e, validate::money("shipping_fee", minor, cur)),
            None => None,
        };
        match (order_id, direction, fee_payer) {
            (Some(order_id), Some(direction), Some(fee_payer)) if e.is_empty() => Ok(NewFollowUp {
                order_id,
                direction,
                case_id,
                repair_id,
                fee_payer,
                shipping_fee,
            }),
            _ => Err(DomainError::Invalid(e)),
        }
    }
}

/// The order's newest forward shipment whose waybill is not voided, among `shipments` (oldest
/// first, as the repository lists an order's shipments).
pub fn live_forward_shipment(shipments: &[Shipment]) -> Option<&Shipment> {
    shipments
        .iter()
        .rev()
        .find(|s| s.direction == Direction::Forward && s.waybill_state != WaybillState::Voided)
}

/// Where a follow-up leg starts (absent when unknown) and ends, from the forward shipment of the
/// order and the repair depot. RETURN: buyer -> warehouse (`forward_origin_unknown` when the
/// forward shipment recorded no origin); RESHIP and REPLACEMENT: warehouse (possibly unknown) ->
/// buyer; TO_REPAIR_CENTER: buyer -> depot; FROM_REPAIR_CENTER: depot -> buyer. `Forward` is not
/// a follow-up (a field violation on `direction`).
pub fn follow_up_route(
    direction: Direction,
    forward: &Shipment,
    depot: &Address,
) -> Result<(Option<Address>, Address), DomainError> {
    let buyer = forward.destination.clone();
    let warehouse = forward.origin.clone();
    match direction {
        Direction::Return => match warehouse {
            Some(w) => Ok((Some(buyer), w)),
            None => Err(DomainError::rule(
                "forward_origin_unknown",
                format!(
                    "forward shipment {} recorded no origin: no warehouse to return to",
                    forward.id
                ),
            )),
        },
        Direction::Reship | Direction::Replacement => Ok((warehouse, buyer)),
        Direction::ToRepairCenter => Ok((Some(buyer), depot.clone())),
        Direction::FromRepairCenter => Ok((Some(depot.clone()), buyer)),
        Direction::Forward => Err(DomainError::field("direction", FOLLOW_UP_DIRECTIONS)),
    }
}

/// The tracking number logistics allocates to follow-up shipment `id` (the courier's label):
/// `AS` and the low 64 bits of the id in 16 upper-case hex digits. They are the random part of a
/// UUID v7, so the number is unique in practice and derived from the id alone.
pub fn follow_up_tracking_number(id: ShipmentId) -> String {
    format!("AS{:016X}", id.0.as_u64_pair().1)
}

/// Creates follow-up shipment `id` for `request`, from `shipments` (the order's forward
/// shipments, oldest first): the courier and the merchant of the newest one not voided, the
/// addresses of [`follow_up_route`], the tracking number of [`follow_up_tracking_number`];
/// waybill and shipment `CREATED` as [`Shipment::create`] makes them. Actors: staff, system
/// (`actor_not_allowed`). Rules: `no_forward_shipment`, `forward_origin_unknown`.
pub fn create_follow_up(
    id: ShipmentId,
    request: NewFollowUp,
    shipments: &[Shipment],
    actor: &Actor,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(Shipment, Event), DomainError> {
    actor.require(
        OPERATORS,
        &format!("create a {} follow-up shipment", request.direction.as_str()),
    )?;
    let forward = live_forward_shipment(shipments).ok_or_else(|| {
        DomainError::rule(
            "no_forward_shipment",
            format!(
                "order {} has no forward shipment that is not voided",
                request.order_id
            ),
        )
    })?;
    let (origin, destination) = follow_up_route(request.direction, forward, &policy.repair_depot)?;
    let new = NewShipment {
        direction: request.direction,
        courier_code: forward.courier_code.clone(),
        tracking_number: follow_up_tracking_number(id),
        order_id: request.order_id,
        case_id: request.case_id,
        repair_id: request.repair_id,
        merchant_id: forward.merchant_id,
        origin,
        destination,
        shipping_fee: request.shipping_fee,
        fee_payer: request.fee_payer,
    };
    Shipment::create(id, new, actor, now, policy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ActorKind;
    use crate::domain::shipment::tests::{actor, address, at, merchant, shipment};
    use crate::domain::{MerchantId, ShipmentState};
    use uuid::Uuid;

    const ORDER: &str = "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a01";
    const CASE: &str = "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a02";
    const REPAIR: &str = "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a03";

    fn system() -> Actor {
        actor(ActorKind::System, "orchestrator")
    }

    fn fields(e: DomainError) -> Vec<String> {
        match e {
            DomainError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            DomainError::Rule(r) => vec![format!("rule:{}", r.rule)],
        }
    }

    fn buyer() -> Address {
        Address::parse("destination", &address()).unwrap()
    }

    fn warehouse() -> Address {
        Address {
            contact_name: "Warehouse 3".into(),
            city: "Suzhou".into(),
            ..buyer()
        }
    }

    fn depot() -> Address {
        Policy::default().repair_depot
    }

    /// A forward shipment `n` of the fixture order from the warehouse (or from nowhere known)
    /// to the buyer, by `courier`.
    fn forward(n: u128, courier: &str, with_origin: bool) -> Shipment {
        let mut s = shipment();
        s.id = ShipmentId(Uuid::from_u128(n));
        s.courier_code = courier.into();
        s.tracking_number = format!("{courier}{n}");
        s.origin = with_origin.then(warehouse);
        s
    }

    fn draft(direction: Direction) -> FollowUpDraft<'static> {
        FollowUpDraft {
            order_id: ORDER,
            direction: Some(direction),
            case_id: if direction.needs_case() { CASE } else { "" },
            repair_id: if direction.needs_repair() { REPAIR } else { "" },
            fee_payer: Some(FeePayer::Merchant),
            shipping_fee: None,
        }
    }

    fn request(direction: Direction) -> NewFollowUp {
        draft(direction).validate().unwrap()
    }

    #[test]
    fn draft_accepts_follow_up_directions_with_their_reference() {
        for d in Direction::ALL
            .into_iter()
            .filter(|d| *d != Direction::Forward)
        {
            let r = request(d);
            assert_eq!(r.direction, d);
            assert_eq!(r.case_id.is_some(), d.needs_case(), "{d:?}");
            assert_eq!(r.repair_id.is_some(), d.needs_repair(), "{d:?}");
            assert_eq!(r.shipping_fee, None);
        }
        let paid = FollowUpDraft {
            shipping_fee: Some((0, "CNY")),
            ..draft(Direction::Return)
        };
        assert_eq!(
            paid.validate().unwrap().shipping_fee.map(|m| m.minor()),
            Some(0)
        );
    }

    #[test]
    fn draft_reports_every_bad_field() {
        type Edit = fn(&mut FollowUpDraft<'static>);
        let cases: &[(Direction, Edit, &[&str])] = &[
            (Direction::Return, |d| d.direction = None, &["direction"]),
            (
                Direction::Return,
                |d| d.direction = Some(Direction::Forward),
                &["direction"],
            ),
            (Direction::Return, |d| d.case_id = "", &["case_id"]),
            (Direction::Reship, |d| d.case_id = "", &["case_id"]),
            (Direction::Replacement, |d| d.case_id = "nope", &["case_id"]),
            (
                Direction::ToRepairCenter,
                |d| d.repair_id = "",
                &["repair_id"],
            ),
            (
                Direction::FromRepairCenter,
                |d| d.repair_id = "",
                &["repair_id"],
            ),
            (Direction::Return, |d| d.order_id = "", &["order_id"]),
            (Direction::Return, |d| d.order_id = "x", &["order_id"]),
            (Direction::Return, |d| d.fee_payer = None, &["fee_payer"]),
            (
                Direction::Return,
                |d| d.shipping_fee = Some((-1, "CNY")),
                &["shipping_fee.minor_units"],
            ),
            (
                Direction::Return,
                |d| d.shipping_fee = Some((1, "cny")),
                &["shipping_fee.currency"],
            ),
        ];
        for (direction, edit, want) in cases {
            let mut d = draft(*direction);
            edit(&mut d);
            assert_eq!(fields(d.validate().unwrap_err()), *want, "{d:?}");
        }
        let empty = FollowUpDraft::default();
        assert_eq!(
            fields(empty.validate().unwrap_err()),
            ["order_id", "direction", "fee_payer"]
        );
    }

    #[test]
    fn route_per_direction() {
        let f = forward(1, "SF", true);
        let unknown = forward(1, "SF", false);
        type Want = Result<(Option<Address>, Address), &'static str>;
        let cases: Vec<(Direction, &Shipment, Want)> = vec![
            (Direction::Return, &f, Ok((Some(buyer()), warehouse()))),
            (
                Direction::Return,
                &unknown,
                Err("rule:forward_origin_unknown"),
            ),
            (Direction::Reship, &f, Ok((Some(warehouse()), buyer()))),
            (Direction::Reship, &unknown, Ok((None, buyer()))),
            (Direction::Replacement, &f, Ok((Some(warehouse()), buyer()))),
            (Direction::Replacement, &unknown, Ok((None, buyer()))),
            (Direction::ToRepairCenter, &f, Ok((Some(buyer()), depot()))),
            (
                Direction::ToRepairCenter,
                &unknown,
                Ok((Some(buyer()), depot())),
            ),
            (
                Direction::FromRepairCenter,
                &f,
                Ok((Some(depot()), buyer())),
            ),
            (
                Direction::FromRepairCenter,
                &unknown,
                Ok((Some(depot()), buyer())),
            ),
            (Direction::Forward, &f, Err("direction")),
        ];
        for (direction, forward, want) in cases {
            let got = follow_up_route(direction, forward, &depot()).map_err(fields);
            let want = want.map_err(|f| vec![f.to_owned()]);
            assert_eq!(got, want, "{direction:?} origin {:?}", forward.origin);
        }
    }

    #[test]
    fn picks_the_newest_forward_shipment_not_voided() {
        let older = forward(1, "SF", true);
        let newer = forward(2, "YTO", true);
        let mut voided = forward(3, "JD", true);
        voided.void_waybill(&merchant(), None, at(1)).unwrap();
        let mut ret = forward(4, "ZTO", true);
        ret.direction = Direction::Return;
        let cases: Vec<(Vec<Shipment>, Option<u128>)> = vec![
            (vec![], None),
            (vec![voided.clone()], None),
            (vec![ret.clone()], None),
            (vec![older.clone()], Some(1)),
            (vec![older.clone(), newer.clone()], Some(2)),
            (vec![older.clone(), newer.clone(), voided.clone()], Some(2)),
            (vec![older.clone(), voided.clone(), ret.clone()], Some(1)),
        ];
        for (shipments, want) in cases {
            let got = live_forward_shipment(&shipments).map(|s| s.id.0.as_u128());
            assert_eq!(got, want, "{shipments:?}");
        }
    }

    #[test]
    fn creates_every_direction_from_the_forward_shipment() {
        let p = Policy::default();
        let mut f = forward(1, "SF", true);
        f.merchant_id = MerchantId(Uuid::from_u128(42));
        f.state = ShipmentState::Signed;
        let shipments = [f.clone()];
        let id = ShipmentId(Uuid::from_u128(0x0190_a000_0000_7000_8abc_def0_1234_5678));
        for direction in Direction::ALL
            .into_iter()
            .filter(|d| *d != Direction::Forward)
        {
            let (s, event) =
                create_follow_up(id, request(direction), &shipments, &system(), at(5), &p).unwrap();
            assert_eq!(event, Event::ShipmentCreated);
            let route = follow_up_route(direction, &f, &p.repair_depot).unwrap();
            assert_eq!((s.origin.clone(), s.destination.clone()), route);
            assert_eq!(
                (s.id, s.direction, s.order_id, s.merchant_id),
                (id, direction, f.order_id, f.merchant_id)
            );
            assert_eq!(s.courier_code, "SF");
            assert_eq!(s.tracking_number, "AS8ABCDEF012345678");
            assert_eq!(
                (s.case_id.is_some(), s.repair_id.is_some()),
                (direction.needs_case(), direction.needs_repair())
            );
            assert_eq!(
                (s.state, s.waybill_state, s.milestone),
                (
                    ShipmentState::Created,
                    WaybillState::Created,
                    ShipmentState::Created
                )
            );
            assert_eq!((s.fee_payer, s.shipping_fee), (FeePayer::Merchant, None));
            assert_eq!((s.created_at, s.eta), (at(5), Some(at(5 + 96))));
            assert_eq!(s.created_by, system());
            assert_eq!((s.voided_for_case, s.reissued_from), (None, None));
        }
    }

    #[test]
    fn refuses_without_a_forward_shipment_or_its_origin() {
        let p = Policy::default();
        let id = ShipmentId::generate();
        let mut voided = forward(1, "SF", true);
        voided.void_waybill(&merchant(), None, at(1)).unwrap();
        for shipments in [vec![], vec![voided]] {
            for direction in [
                Direction::Return,
                Direction::Reship,
                Direction::ToRepairCenter,
            ] {
                let err =
                    create_follow_up(id, request(direction), &shipments, &system(), at(2), &p)
                        .unwrap_err();
                assert_eq!(
                    err.rule_name(),
                    Some("no_forward_shipment"),
                    "{direction:?}"
                );
            }
        }
        let no_origin = [forward(2, "SF", false)];
        let err = create_follow_up(
            id,
            request(Direction::Return),
            &no_origin,
            &system(),
            at(2),
            &p,
        )
        .unwrap_err();
        assert_eq!(err.rule_name(), Some("forward_origin_unknown"));
        let (reship, _) = create_follow_up(
            id,
            request(Direction::Reship),
            &no_origin,
            &system(),
            at(2),
            &p,
        )
        .unwrap();
        assert_eq!((reship.origin, reship.destination), (None, buyer()));
    }

    #[test]
    fn only_operators_create_follow_ups() {
        let p = Policy::default();
        let shipped = [forward(1, "SF", true)];
        let cases = [
            (ActorKind::Staff, true),
            (ActorKind::System, true),
            (ActorKind::Merchant, false),
            (ActorKind::Buyer, false),
            (ActorKind::Partner, false),
        ];
        for (kind, allowed) in cases {
            // The actor is checked first, even where the order has no forward shipment.
            for shipments in [&shipped[..], &[]] {
                let got = create_follow_up(
                    ShipmentId::generate(),
                    request(Direction::Return),
                    shipments,
                    &actor(kind, "x"),
                    at(2),
                    &p,
                )
                .map(|_| ())
                .map_err(|e| e.rule_name());
                let want = match (allowed, shipments.is_empty()) {
                    (false, _) => Err(Some("actor_not_allowed")),
                    (true, true) => Err(Some("no_forward_shipment")),
                    (true, false) => Ok(()),
                };
                assert_eq!(got, want, "{kind:?} {}", shipments.len());
            }
        }
    }

    #[test]
    fn tracking_numbers_come_from_the_id() {
        let id = ShipmentId(Uuid::from_u128(0x0190_a000_0000_7000_8000_0000_0000_00ff));
        assert_eq!(follow_up_tracking_number(id), "AS80000000000000FF");
        let a = ShipmentId::generate();
        let b = ShipmentId::generate();
        assert_eq!(follow_up_tracking_number(a), follow_up_tracking_number(a));
        assert_ne!(follow_up_tracking_number(a), follow_up_tracking_number(b));
        let n = follow_up_tracking_number(a);
        assert_eq!(n.len(), 18);
        assert!(validate::tracking_number("tracking_number", &n).is_ok());
        assert!(
            n[2..]
                .chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
    }
}
