//! Interceptions: asking the courier to stop a parcel in transit and send it back.
//! `REQUESTED -> ACCEPTED -> INTERCEPTED -> RETURNED_TO_SENDER`, or `FAILED`.

use super::actor::{Actor, COURIER_REPORTERS, SHIPPERS};
use super::event::Event;
use super::ids::{CaseId, InterceptionId, ShipmentId};
use super::shipment::Shipment;
use super::tracking::TrackingStatus;
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InterceptionState {
    Requested,
    Accepted,
    Intercepted,
    ReturnedToSender,
    Failed,
}

impl InterceptionState {
    pub const ALL: [InterceptionState; 5] = [
        Self::Requested,
        Self::Accepted,
        Self::Intercepted,
        Self::ReturnedToSender,
        Self::Failed,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::Intercepted => "intercepted",
            Self::ReturnedToSender => "returned_to_sender",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::ReturnedToSender | Self::Failed)
    }

    /// The interception state machine.
    pub fn can_become(&self, to: InterceptionState) -> bool {
        use InterceptionState::*;
        matches!(
            (self, to),
            (Requested, Accepted)
                | (Accepted, Intercepted)
                | (Intercepted, ReturnedToSender)
                | (Requested | Accepted, Failed)
        )
    }
}

/// Outcome a courier reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum InterceptionResult {
    Accepted,
    Intercepted,
    ReturnedToSender,
    Failed,
}

impl InterceptionResult {
    pub fn target_state(&self) -> InterceptionState {
        match self {
            Self::Accepted => InterceptionState::Accepted,
            Self::Intercepted => InterceptionState::Intercepted,
            Self::ReturnedToSender => InterceptionState::ReturnedToSender,
            Self::Failed => InterceptionState::Failed,
        }
    }
}

/// An interception of one shipment. At most one is open per shipment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interception {
    pub id: InterceptionId,
    pub shipment_id: ShipmentId,
    /// Copied from the shipment, for courier scoping.
    pub courier_code: String,
    pub state: InterceptionState,
    pub reason: String,
    pub failure_reason: Option<String>,
    pub case_id: Option<CaseId>,
    pub requested_by: Actor,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Interception {
    /// Requests an interception of a shipment in transit. `has_open` tells whether the shipment
    /// already has a non-terminal interception. Rules: `actor_not_allowed`,
    /// `interception_not_possible`, `interception_already_open`.
    pub fn request(
        id: InterceptionId,
        shipment: &Shipment,
        has_open: bool,
        reason: String,
        case_id: Option<CaseId>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(Interception, Event), DomainError> {
        actor.require(SHIPPERS, "request an interception")?;
        if !shipment.state.can_be_intercepted() {
            let detail = match shipment.state {
                super::ShipmentState::Created => {
                    "the parcel is not picked up yet: void the waybill instead".to_owned()
                }
                s => format!("the shipment is already {}", s.as_str()),
            };
            return Err(DomainError::rule("interception_not_possible", detail));
        }
        if has_open {
            return Err(DomainError::rule(
                "interception_already_open",
                "the shipment already has an open interception",
            ));
        }
        let interception = Interception {
            id,
            shipment_id: shipment.id,
            courier_code: shipment.courier_code.clone(),
            state: InterceptionState::Requested,
            reason,
            failure_reason: None,
            case_id,
            requested_by: actor.clone(),
            requested_at: now,
            updated_at: now,
            closed_at: None,
        };
        Ok((interception, Event::InterceptionRequested))
    }

    fn move_to(&mut self, to: InterceptionState, now: DateTime<Utc>) -> Result<Event, DomainError> {
        if !self.state.can_become(to) {
            return Err(DomainError::rule(
                "invalid_interception_transition",
                format!(
                    "a {} interception cannot become {}",
                    self.state.as_str(),
                    to.as_str()
                ),
            ));
        }
        self.state = to;
        self.updated_at = now;
        if to.is_terminal() {
            self.closed_at = Some(now);
        }
        Ok(match to {
            InterceptionState::Requested => Event::InterceptionRequested,
            InterceptionState::Accepted => Event::InterceptionAccepted,
            InterceptionState::Intercepted => Event::InterceptionIntercepted,
            InterceptionState::ReturnedToSender => Event::InterceptionReturnedToSender,
            InterceptionState::Failed => Event::InterceptionFailed,
        })
    }

    /// The courier reports an outcome. `FAILED` needs a `failure_reason` (field error).
    /// On `RETURNED_TO_SENDER` also call [`Shipment::return_to_sender`].
    /// Rules: `actor_not_allowed`, `courier_mismatch`, `invalid_interception_transition`.
    pub fn record_result(
        &mut self,
        result: InterceptionResult,
        failure_reason: Option<String>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.require(COURIER_REPORTERS, "record an interception result")?;
        actor.ensure_courier(&self.courier_code)?;
        if result == InterceptionResult::Failed && failure_reason.is_none() {
            return Err(DomainError::field(
                "failure_reason",
                "is required when the result is failed",
            ));
        }
        let event = self.move_to(result.target_state(), now)?;
        if result == InterceptionResult::Failed {
            self.failure_reason = failure_reason;
        }
        Ok(event)
    }

    /// Settles an open interception from an applied tracking scan: a SIGNED parcel can no longer
    /// be intercepted (-> FAILED, "already signed"); a parcel RETURNED_TO_SENDER completes it.
    /// Returns `None` when the scan does not concern the interception.
    pub fn on_shipment_scan(
        &mut self,
        status: TrackingStatus,
        now: DateTime<Utc>,
    ) -> Option<Event> {
        use InterceptionState::*;
        match (status, self.state) {
            (TrackingStatus::Signed, Requested | Accepted) => {
                // Requested and Accepted can always fail; the match arm guarantees it.
                let event = self.move_to(Failed, now).ok()?;
                self.failure_reason = Some("already signed".into());
                Some(event)
            }
            (TrackingStatus::ReturnedToSender, Requested | Accepted | Intercepted) => {
                self.state = ReturnedToSender;
                self.updated_at = now;
                self.closed_at = Some(now);
                Some(Event::InterceptionReturnedToSender)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ShipmentState;
    use crate::domain::actor::ActorKind;
    use crate::domain::shipment::tests::{actor, at, merchant, shipment};

    fn open(state: InterceptionState) -> Interception {
        let mut s = shipment();
        s.state = ShipmentState::InTransit;
        let (mut i, _) = Interception::request(
            InterceptionId::generate(),
            &s,
            false,
            "refund only".into(),
            None,
            &merchant(),
            at(1),
        )
        .unwrap();
        i.state = state;
        i
    }

    #[test]
    fn state_round_trips_and_machine() {
        use InterceptionState::*;
        for s in InterceptionState::ALL {
            assert_eq!(InterceptionState::parse(s.as_str()), Some(s));
        }
        assert_eq!(InterceptionState::parse("done"), None);
        let allowed = [
            (Requested, Accepted),
            (Accepted, Intercepted),
            (Intercepted, ReturnedToSender),
            (Requested, Failed),
            (Accepted, Failed),
        ];
        for from in InterceptionState::ALL {
            for to in InterceptionState::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn request_by_shipment_state() {
        for state in ShipmentState::ALL {
            let mut s = shipment();
            s.state = state;
            let got = Interception::request(
                InterceptionId::generate(),
                &s,
                false,
                "r".into(),
                None,
                &merchant(),
                at(2),
            );
            if state.can_be_intercepted() {
                let (i, e) = got.unwrap();
                assert_eq!(
                    (i.state, e),
                    (InterceptionState::Requested, Event::InterceptionRequested)
                );
                assert_eq!(i.courier_code, "SF");
            } else {
                assert_eq!(
                    got.unwrap_err().rule_name(),
                    Some("interception_not_possible"),
                    "{state:?}"
                );
            }
        }
    }

    #[test]
    fn request_rules() {
        let mut s = shipment();
        s.state = ShipmentState::InTransit;
        let cases: &[(ActorKind, bool, Option<&str>)] = &[
            (ActorKind::Merchant, false, None),
            (ActorKind::System, false, None),
            (ActorKind::Staff, false, None),
            (ActorKind::Merchant, true, Some("interception_already_open")),
            (ActorKind::Buyer, false, Some("actor_not_allowed")),
            (ActorKind::Partner, false, Some("actor_not_allowed")),
        ];
        for (kind, has_open, rule) in cases {
            let got = Interception::request(
                InterceptionId::generate(),
                &s,
                *has_open,
                "r".into(),
                None,
                &actor(*kind, "SF"),
                at(2),
            );
            assert_eq!(
                got.err().and_then(|e| e.rule_name()),
                *rule,
                "{kind:?} {has_open}"
            );
        }
    }

    #[test]
    fn results_follow_the_machine() {
        use InterceptionResult as R;
        use InterceptionState as S;
        let results = [R::Accepted, R::Intercepted, R::ReturnedToSender, R::Failed];
        for from in S::ALL {
            for result in results {
                let mut i = open(from);
                let got = i.record_result(
                    result,
                    Some("signed already".into()),
                    &actor(ActorKind::Partner, "SF"),
                    at(3),
                );
                if from.can_become(result.target_state()) {
                    assert!(got.is_ok(), "{from:?} {result:?}");
                    assert_eq!(i.state, result.target_state());
                    assert_eq!(i.closed_at.is_some(), i.state.is_terminal());
                } else {
                    assert_eq!(
                        got.unwrap_err().rule_name(),
                        Some("invalid_interception_transition"),
                        "{from:?} {result:?}"
                    );
                    assert_eq!(i.state, from);
                }
            }
        }
    }

    #[test]
    fn failed_needs_a_reason_and_scoping_applies() {
        let mut i = open(InterceptionState::Requested);
        let sf = actor(ActorKind::Partner, "SF");
        assert!(matches!(
            i.record_result(InterceptionResult::Failed, None, &sf, at(3)),
            Err(DomainError::Invalid(_))
        ));
        assert_eq!(
            i.record_result(
                InterceptionResult::Failed,
                Some("signed".into()),
                &sf,
                at(3)
            ),
            Ok(Event::InterceptionFailed)
        );
        assert_eq!(i.failure_reason.as_deref(), Some("signed"));
        let mut i = open(InterceptionState::Requested);
        let yto = actor(ActorKind::Partner, "YTO");
        assert_eq!(
            i.record_result(InterceptionResult::Accepted, None, &yto, at(3))
                .unwrap_err()
                .rule_name(),
            Some("courier_mismatch")
        );
        assert_eq!(
            i.record_result(InterceptionResult::Accepted, None, &merchant(), at(3))
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
        assert_eq!(
            i.record_result(InterceptionResult::Accepted, None, &sf, at(3)),
            Ok(Event::InterceptionAccepted)
        );
    }

    #[test]
    fn scans_settle_open_interceptions() {
        use InterceptionState as S;
        use TrackingStatus as T;
        let cases: &[(S, T, Option<Event>, S)] = &[
            (
                S::Requested,
                T::Signed,
                Some(Event::InterceptionFailed),
                S::Failed,
            ),
            (
                S::Accepted,
                T::Signed,
                Some(Event::InterceptionFailed),
                S::Failed,
            ),
            (S::Intercepted, T::Signed, None, S::Intercepted),
            (
                S::Requested,
                T::ReturnedToSender,
                Some(Event::InterceptionReturnedToSender),
                S::ReturnedToSender,
            ),
            (
                S::Intercepted,
                T::ReturnedToSender,
                Some(Event::InterceptionReturnedToSender),
                S::ReturnedToSender,
            ),
            (S::Failed, T::ReturnedToSender, None, S::Failed),
            (S::ReturnedToSender, T::Signed, None, S::ReturnedToSender),
            (S::Accepted, T::InTransit, None, S::Accepted),
            (S::Accepted, T::Exception, None, S::Accepted),
        ];
        for (from, status, event, to) in cases {
            let mut i = open(*from);
            assert_eq!(
                i.on_shipment_scan(*status, at(4)),
                *event,
                "{from:?} {status:?}"
            );
            assert_eq!(i.state, *to);
            if *to == S::Failed && *from != S::Failed {
                assert_eq!(i.failure_reason.as_deref(), Some("already signed"));
            }
        }
    }
}
