//! Refund-only before shipment (急速退款): every forward waybill of the order is voided for the
//! case, all or nothing, before the lines are canceled and the money goes back; the saga's
//! compensation reissues what that case voided.

use super::actor::{Actor, OPERATORS};
use super::event::Event;
use super::ids::{CaseId, ShipmentId};
use super::policy::Policy;
use super::shipment::{Direction, NewShipment, Shipment, ShipmentState, WaybillState};
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};
use std::collections::HashSet;

/// Voids the waybill of every forward shipment in `shipments` (the order's shipments, locked)
/// whose waybill is not voided yet, recording `case` as the case it was voided for. Returns the
/// index of each shipment it voided with its event (possibly none: an order without a waybill
/// yet is not an error). All or nothing: when any such shipment is past `CREATED` (the courier
/// picked it up, or it is further along or in exception), `shipment_already_picked_up` and
/// nothing changes. Actors: staff, system.
pub fn void_order_waybills(
    shipments: &mut [Shipment],
    case: CaseId,
    actor: &Actor,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Vec<(usize, Event)>, DomainError> {
    actor.require(OPERATORS, "void the waybills of an order")?;
    let open: Vec<usize> = shipments
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.direction == Direction::Forward && s.waybill_state != WaybillState::Voided
        })
        .map(|(i, _)| i)
        .collect();
    if let Some(s) = open
        .iter()
        .map(|i| &shipments[*i])
        .find(|s| s.state != ShipmentState::Created)
    {
        return Err(DomainError::rule(
            "shipment_already_picked_up",
            format!(
                "forward shipment {} is {}: intercept it instead",
                s.id,
                s.state.as_str()
            ),
        ));
    }
    let mut voided = Vec::with_capacity(open.len());
    for i in open {
        let s = &mut shipments[i];
        let event = s.void_waybill(actor, Some(reason.to_owned()), now)?;
        s.voided_for_case = Some(case);
        voided.push((i, event));
    }
    Ok(voided)
}

/// The compensation of [`void_order_waybills`]: for each forward shipment in `shipments` (the
/// order's shipments, locked) that was voided for `case` and that no shipment in `shipments`
/// replaces yet, a new forward shipment copying it (id from `next_id`; same courier, tracking
/// number, merchant, addresses and fee; waybill and shipment `CREATED`). Returns the new
/// shipments with their events (possibly none). Actors: staff, system.
pub fn reissue_order_waybills(
    shipments: &[Shipment],
    case: CaseId,
    actor: &Actor,
    now: DateTime<Utc>,
    policy: &Policy,
    mut next_id: impl FnMut() -> ShipmentId,
) -> Result<Vec<(Shipment, Event)>, DomainError> {
    actor.require(OPERATORS, "reissue the waybills of an order")?;
    let replaced: HashSet<ShipmentId> = shipments.iter().filter_map(|s| s.reissued_from).collect();
    shipments
        .iter()
        .filter(|s| {
            s.direction == Direction::Forward
                && s.state == ShipmentState::Voided
                && s.voided_for_case == Some(case)
                && !replaced.contains(&s.id)
        })
        .map(|s| reissue(s, next_id(), actor, now, policy))
        .collect()
}

/// A fresh shipment (waybill `CREATED`) carrying `voided`'s parcel data.
fn reissue(
    voided: &Shipment,
    id: ShipmentId,
    actor: &Actor,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(Shipment, Event), DomainError> {
    let parcel = NewShipment {
        direction: voided.direction,
        courier_code: voided.courier_code.clone(),
        tracking_number: voided.tracking_number.clone(),
        order_id: voided.order_id,
        case_id: voided.case_id,
        repair_id: voided.repair_id,
        merchant_id: voided.merchant_id,
        origin: voided.origin.clone(),
        destination: voided.destination.clone(),
        shipping_fee: voided.shipping_fee,
        fee_payer: voided.fee_payer,
    };
    let (mut shipment, event) = Shipment::create(id, parcel, actor, now, policy)?;
    shipment.reissued_from = Some(voided.id);
    Ok((shipment, event))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ActorKind;
    use crate::domain::shipment::tests::{actor, at, draft, merchant, shipment};
    use uuid::Uuid;

    fn case(n: u128) -> CaseId {
        CaseId(Uuid::from_u128(n))
    }

    fn system() -> Actor {
        actor(ActorKind::System, "orchestrator")
    }

    /// A forward shipment `n` of the fixture order, moved to `state` (waybill printed if `printed`).
    fn forward(n: u128, state: ShipmentState, printed: bool) -> Shipment {
        let mut s = shipment();
        s.id = ShipmentId(Uuid::from_u128(n));
        s.tracking_number = format!("SF{n}");
        if printed {
            s.print_waybill(&merchant(), at(1)).unwrap();
        }
        if state == ShipmentState::Voided {
            s.void_waybill(&merchant(), None, at(1)).unwrap();
        } else {
            s.state = state;
        }
        s
    }

    fn of(direction: Direction, state: ShipmentState) -> Shipment {
        let new = draft(direction).validate().unwrap();
        let mut s = Shipment::create(
            ShipmentId(Uuid::from_u128(99)),
            new,
            &merchant(),
            at(0),
            &Policy::default(),
        )
        .unwrap()
        .0;
        s.state = state;
        s
    }

    #[test]
    fn voids_every_open_forward_waybill_or_nothing() {
        use ShipmentState::*;
        // (shipments, expected voided indexes or rule)
        type Case = (Vec<Shipment>, Result<Vec<usize>, &'static str>);
        let cases: Vec<Case> = vec![
            (vec![], Ok(vec![])),
            (vec![forward(1, Created, false)], Ok(vec![0])),
            (vec![forward(1, Created, true)], Ok(vec![0])),
            (
                vec![forward(1, Created, false), forward(2, Created, true)],
                Ok(vec![0, 1]),
            ),
            // already voided: nothing left to void, not an error
            (vec![forward(1, Voided, false)], Ok(vec![])),
            (
                vec![forward(1, Voided, true), forward(2, Created, false)],
                Ok(vec![1]),
            ),
            // any picked-up forward shipment refuses the whole call
            (
                vec![forward(1, Created, false), forward(2, PickedUp, true)],
                Err("shipment_already_picked_up"),
            ),
            (
                vec![forward(1, InTransit, true)],
                Err("shipment_already_picked_up"),
            ),
            (
                vec![forward(1, Signed, true)],
                Err("shipment_already_picked_up"),
            ),
            (
                vec![forward(1, Exception, true)],
                Err("shipment_already_picked_up"),
            ),
            (
                vec![forward(1, ReturnedToSender, true)],
                Err("shipment_already_picked_up"),
            ),
            // other directions are not the order's forward waybills
            (vec![of(Direction::Return, InTransit)], Ok(vec![])),
            (
                vec![of(Direction::Reship, Created), forward(2, Created, false)],
                Ok(vec![1]),
            ),
        ];
        for (mut shipments, want) in cases {
            let before = shipments.clone();
            let got = void_order_waybills(&mut shipments, case(7), &system(), "refund-only", at(3));
            match (got, want) {
                (Ok(voided), Ok(want)) => {
                    let idx: Vec<usize> = voided.iter().map(|(i, _)| *i).collect();
                    assert_eq!(idx, want, "{before:?}");
                    for (i, event) in voided {
                        let s = &shipments[i];
                        assert_eq!(event, Event::WaybillVoided);
                        assert_eq!(
                            (s.state, s.waybill_state, s.voided_at),
                            (Voided, WaybillState::Voided, Some(at(3)))
                        );
                        assert_eq!(s.voided_for_case, Some(case(7)));
                        assert_eq!(s.void_reason.as_deref(), Some("refund-only"));
                    }
                    for (i, s) in shipments.iter().enumerate() {
                        if !want.contains(&i) {
                            assert_eq!(s, &before[i], "untouched");
                        }
                    }
                }
                (Err(e), Err(rule)) => {
                    assert_eq!(e.rule_name(), Some(rule));
                    assert_eq!(shipments, before, "nothing changes");
                }
                (got, want) => panic!("{before:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn only_operators_void_or_reissue() {
        for kind in [ActorKind::Merchant, ActorKind::Buyer, ActorKind::Partner] {
            let a = actor(kind, "x");
            let mut shipments = vec![forward(1, ShipmentState::Created, false)];
            let err = void_order_waybills(&mut shipments, case(7), &a, "r", at(3)).unwrap_err();
            assert_eq!(err.rule_name(), Some("actor_not_allowed"));
            assert_eq!(shipments[0].state, ShipmentState::Created);
            let err =
                reissue_order_waybills(&shipments, case(7), &a, at(3), &Policy::default(), || {
                    ShipmentId::generate()
                })
                .unwrap_err();
            assert_eq!(err.rule_name(), Some("actor_not_allowed"));
        }
        let staff = actor(ActorKind::Staff, "cs-1");
        let mut shipments = vec![forward(1, ShipmentState::Created, false)];
        assert!(void_order_waybills(&mut shipments, case(7), &staff, "r", at(3)).is_ok());
    }

    #[test]
    fn reissue_copies_what_the_case_voided_once() {
        let p = Policy::default();
        let mut shipments = vec![
            forward(1, ShipmentState::Created, true),
            forward(2, ShipmentState::Created, false),
            forward(3, ShipmentState::Voided, false), // voided by someone else
        ];
        void_order_waybills(&mut shipments, case(7), &system(), "refund-only", at(3)).unwrap();
        let mut n = 100;
        let mut ids = || {
            n += 1;
            ShipmentId(Uuid::from_u128(n))
        };
        // another case voided nothing
        assert_eq!(
            reissue_order_waybills(&shipments, case(8), &system(), at(4), &p, &mut ids).unwrap(),
            []
        );
        let new =
            reissue_order_waybills(&shipments, case(7), &system(), at(4), &p, &mut ids).unwrap();
        assert_eq!(new.len(), 2);
        for ((s, event), from) in new.iter().zip([&shipments[0], &shipments[1]]) {
            assert_eq!(*event, Event::ShipmentCreated);
            assert_ne!(s.id, from.id);
            assert_eq!(s.reissued_from, Some(from.id));
            assert_eq!(
                (s.direction, s.state, s.waybill_state, s.milestone),
                (
                    Direction::Forward,
                    ShipmentState::Created,
                    WaybillState::Created,
                    ShipmentState::Created
                )
            );
            assert_eq!(
                (
                    &s.courier_code,
                    &s.tracking_number,
                    s.order_id,
                    s.merchant_id
                ),
                (
                    &from.courier_code,
                    &from.tracking_number,
                    from.order_id,
                    from.merchant_id
                )
            );
            assert_eq!(
                (&s.destination, s.shipping_fee, s.fee_payer),
                (&from.destination, from.shipping_fee, from.fee_payer)
            );
            assert_eq!(
                (s.printed_at, s.voided_at, s.void_reason.as_deref()),
                (None, None, None)
            );
            assert_eq!((s.created_at, s.eta), (at(4), Some(at(4 + 96))));
            assert_eq!(s.created_by, system());
            assert_eq!(s.voided_for_case, None);
        }
        // once reissued, a second compensation has nothing left to do
        shipments.extend(new.into_iter().map(|(s, _)| s));
        assert_eq!(
            reissue_order_waybills(&shipments, case(7), &system(), at(5), &p, &mut ids).unwrap(),
            []
        );
        // voided again for the same case (a new saga attempt), it is reissued again
        let voided =
            void_order_waybills(&mut shipments, case(7), &system(), "again", at(6)).unwrap();
        assert_eq!(voided.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [3, 4]);
        let again =
            reissue_order_waybills(&shipments, case(7), &system(), at(7), &p, &mut ids).unwrap();
        let from: Vec<_> = again.iter().map(|(s, _)| s.reissued_from).collect();
        assert_eq!(from, [Some(shipments[3].id), Some(shipments[4].id)]);
    }
}
