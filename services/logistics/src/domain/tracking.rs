//! Courier tracking events: normalisation, duplicate and out-of-order handling, ETA updates.

use super::actor::{Actor, COURIER_REPORTERS};
use super::event::Event;
use super::ids::{ShipmentId, TrackingEventId};
use super::policy::Policy;
use super::shipment::{Shipment, ShipmentState, compute_eta};
use super::validate;
use aftersales_kernel::{DomainError, FieldViolation};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Normalised status of a courier scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TrackingStatus {
    PickedUp,
    InTransit,
    OutForDelivery,
    Signed,
    /// Comes with an [`ExceptionKind`].
    Exception,
    ReturnedToSender,
}

impl TrackingStatus {
    pub const ALL: [TrackingStatus; 6] = [
        Self::PickedUp,
        Self::InTransit,
        Self::OutForDelivery,
        Self::Signed,
        Self::Exception,
        Self::ReturnedToSender,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PickedUp => "picked_up",
            Self::InTransit => "in_transit",
            Self::OutForDelivery => "out_for_delivery",
            Self::Signed => "signed",
            Self::Exception => "exception",
            Self::ReturnedToSender => "returned_to_sender",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// The shipment state this scan leads to.
    pub fn target_state(&self) -> ShipmentState {
        match self {
            Self::PickedUp => ShipmentState::PickedUp,
            Self::InTransit => ShipmentState::InTransit,
            Self::OutForDelivery => ShipmentState::OutForDelivery,
            Self::Signed => ShipmentState::Signed,
            Self::Exception => ShipmentState::Exception,
            Self::ReturnedToSender => ShipmentState::ReturnedToSender,
        }
    }
}

/// Kind of a delivery exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ExceptionKind {
    Stuck,
    Lost,
    Damaged,
    OutOfArea,
    Refused,
}

impl ExceptionKind {
    pub const ALL: [ExceptionKind; 5] = [
        Self::Stuck,
        Self::Lost,
        Self::Damaged,
        Self::OutOfArea,
        Self::Refused,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Stuck => "stuck",
            Self::Lost => "lost",
            Self::Damaged => "damaged",
            Self::OutOfArea => "out_of_area",
            Self::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// One courier scan as recorded (append-only). Unique per `(courier_code, courier_event_id)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEvent {
    pub id: TrackingEventId,
    pub shipment_id: ShipmentId,
    pub courier_code: String,
    pub courier_event_id: String,
    pub status: TrackingStatus,
    pub exception_kind: Option<ExceptionKind>,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
    /// False when the event arrived out of order or after a terminal state.
    pub applied: bool,
}

/// Raw scan input as the api layer reads it (enums `None` when UNSPECIFIED).
#[derive(Debug, Clone, Default)]
pub struct TrackingReportInput<'a> {
    pub courier_code: &'a str,
    pub courier_event_id: &'a str,
    pub status: Option<TrackingStatus>,
    pub exception_kind: Option<ExceptionKind>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub location: &'a str,
    pub description: &'a str,
}

/// A validated courier scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingReport {
    pub courier_code: String,
    pub courier_event_id: String,
    pub status: TrackingStatus,
    pub exception_kind: Option<ExceptionKind>,
    pub occurred_at: DateTime<Utc>,
    pub location: Option<String>,
    pub description: Option<String>,
}

impl TrackingReportInput<'_> {
    /// Validates a scan: required fields, `exception_kind` exactly for exceptions, and
    /// `occurred_at` no further in the future than the allowed clock skew.
    pub fn validate(
        &self,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<TrackingReport, DomainError> {
        let mut e: Vec<FieldViolation> = Vec::new();
        let mut take = |r: Result<String, DomainError>| match r {
            Ok(v) => Some(v),
            Err(DomainError::Invalid(v)) => {
                e.extend(v);
                None
            }
            Err(DomainError::Rule(_)) => None,
        };
        let courier_code = take(validate::courier_code("courier_code", self.courier_code));
        let courier_event_id = take(validate::required_short(
            "courier_event_id",
            self.courier_event_id,
        ));
        let location = take(
            validate::optional_short("location", self.location).map(Option::unwrap_or_default),
        );
        let description = take(
            validate::optional_long("description", self.description).map(Option::unwrap_or_default),
        );
        match (self.status, self.exception_kind) {
            (None, _) => e.push(FieldViolation::new("status", "is required")),
            (Some(TrackingStatus::Exception), None) => {
                e.push(FieldViolation::new(
                    "exception_kind",
                    "is required for an exception",
                ));
            }
            (Some(s), Some(_)) if s != TrackingStatus::Exception => {
                e.push(FieldViolation::new(
                    "exception_kind",
                    "is only allowed for an exception",
                ));
            }
            _ => {}
        }
        match self.occurred_at {
            None => e.push(FieldViolation::new("occurred_at", "is required")),
            Some(t) if t > now + policy.max_clock_skew() => {
                e.push(FieldViolation::new(
                    "occurred_at",
                    "must not be in the future",
                ));
            }
            Some(_) => {}
        }
        match (
            courier_code,
            courier_event_id,
            self.status,
            self.occurred_at,
        ) {
            (Some(courier_code), Some(courier_event_id), Some(status), Some(occurred_at))
                if e.is_empty() =>
            {
                let opt = |s: Option<String>| s.filter(|v| !v.is_empty());
                Ok(TrackingReport {
                    courier_code,
                    courier_event_id,
                    status,
                    exception_kind: self.exception_kind,
                    occurred_at,
                    location: opt(location),
                    description: opt(description),
                })
            }
            _ => Err(DomainError::Invalid(e)),
        }
    }
}

/// What recording a scan did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackingOutcome {
    /// The recorded event, or the earlier one when `duplicate`.
    pub event: TrackingEvent,
    /// The courier event id was already recorded: store nothing, change nothing.
    pub duplicate: bool,
    /// The event moved the shipment (or refreshed its state); false for out-of-order events.
    pub applied: bool,
    /// Domain events to publish (empty unless the state or exception kind changed).
    pub events: Vec<Event>,
}

impl Shipment {
    /// True when a scan with `status` that occurred at `occurred_at` may change the state: the
    /// shipment is not terminal, the scan is not older than the last applied one, and its rank is
    /// not below the milestone reached (exceptions keep the milestone's rank).
    pub fn accepts_scan(&self, status: TrackingStatus, occurred_at: DateTime<Utc>) -> bool {
        if self.state.is_terminal() {
            return false;
        }
        if self.last_event_at.is_some_and(|last| occurred_at < last) {
            return false;
        }
        match (status.target_state().rank(), self.milestone.rank()) {
            (Some(target), Some(reached)) => target >= reached,
            _ => true,
        }
    }

    /// Records one courier scan. `known` is the event already stored under the same
    /// `(courier_code, courier_event_id)`, if any: then this is a duplicate and nothing changes.
    /// An out-of-order scan is recorded with `applied = false` and the state stays.
    /// An applied scan recomputes the ETA. When it is applied and an interception is open, call
    /// [`super::Interception::on_shipment_scan`] too.
    /// Rules: `actor_not_allowed`, `courier_mismatch`, `courier_event_id_conflict`,
    /// `shipment_voided`.
    pub fn record_scan(
        &mut self,
        id: TrackingEventId,
        report: TrackingReport,
        known: Option<&TrackingEvent>,
        actor: &Actor,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<TrackingOutcome, DomainError> {
        actor.require(COURIER_REPORTERS, "record a tracking event")?;
        actor.ensure_courier(&self.courier_code)?;
        if report.courier_code != self.courier_code {
            return Err(DomainError::rule(
                "courier_mismatch",
                "the event's courier is not the shipment's courier",
            ));
        }
        if let Some(prev) = known {
            if prev.shipment_id != self.id {
                return Err(DomainError::rule(
                    "courier_event_id_conflict",
                    "this courier event id was recorded for another shipment",
                ));
            }
            return Ok(TrackingOutcome {
                event: prev.clone(),
                duplicate: true,
                applied: false,
                events: Vec::new(),
            });
        }
        if self.state == ShipmentState::Voided {
            return Err(DomainError::rule(
                "shipment_voided",
                "the waybill was voided",
            ));
        }
        let applied = self.accepts_scan(report.status, report.occurred_at);
        let mut events = Vec::new();
        if applied {
            events.extend(self.apply_scan(&report, policy));
        }
        self.last_scan_at = Some(
            self.last_scan_at
                .map_or(report.occurred_at, |t| t.max(report.occurred_at)),
        );
        self.updated_at = now;
        let event = TrackingEvent {
            id,
            shipment_id: self.id,
            courier_code: report.courier_code,
            courier_event_id: report.courier_event_id,
            status: report.status,
            exception_kind: report.exception_kind,
            occurred_at: report.occurred_at,
            received_at: now,
            location: report.location,
            description: report.description,
            applied,
        };
        Ok(TrackingOutcome {
            event,
            duplicate: false,
            applied,
            events,
        })
    }

    fn apply_scan(&mut self, report: &TrackingReport, policy: &Policy) -> Option<Event> {
        let before = (self.state, self.exception_kind);
        let target = report.status.target_state();
        let at = report.occurred_at;
        self.last_event_at = Some(at);
        if target == ShipmentState::Exception {
            self.state = ShipmentState::Exception;
            self.exception_kind = report.exception_kind;
        } else {
            self.state = target;
            self.milestone = target;
            self.exception_kind = None;
            if self.picked_up_at.is_none() && target != ShipmentState::Created {
                self.picked_up_at = Some(at);
            }
            if target == ShipmentState::Signed {
                self.signed_at = Some(at);
            }
        }
        self.eta = compute_eta(self.state, at, policy);
        if (self.state, self.exception_kind) == before {
            return None;
        }
        Some(match report.status {
            TrackingStatus::PickedUp => Event::ShipmentPickedUp,
            TrackingStatus::InTransit => Event::ShipmentInTransit,
            TrackingStatus::OutForDelivery => Event::ShipmentOutForDelivery,
            TrackingStatus::Signed => Event::ShipmentSigned,
            TrackingStatus::Exception if report.exception_kind == Some(ExceptionKind::Stuck) => {
                Event::ShipmentStuck
            }
            TrackingStatus::Exception => Event::ShipmentException,
            TrackingStatus::ReturnedToSender => Event::ShipmentReturnedToSender,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::actor::ActorKind;
    use crate::domain::shipment::tests::{actor, at, shipment};
    use chrono::Duration;

    fn report(id: &str, status: TrackingStatus, hour: i64) -> TrackingReport {
        TrackingReport {
            courier_code: "SF".into(),
            courier_event_id: id.into(),
            status,
            exception_kind: (status == TrackingStatus::Exception).then_some(ExceptionKind::Lost),
            occurred_at: at(hour),
            location: None,
            description: None,
        }
    }

    fn sf() -> Actor {
        actor(ActorKind::Partner, "SF")
    }

    fn scan(s: &mut Shipment, id: &str, status: TrackingStatus, hour: i64) -> TrackingOutcome {
        s.record_scan(
            TrackingEventId::generate(),
            report(id, status, hour),
            None,
            &sf(),
            at(hour),
            &Policy::default(),
        )
        .unwrap()
    }

    #[test]
    fn enums_round_trip_as_text() {
        for s in TrackingStatus::ALL {
            assert_eq!(TrackingStatus::parse(s.as_str()), Some(s));
        }
        for k in ExceptionKind::ALL {
            assert_eq!(ExceptionKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(TrackingStatus::parse("delivered"), None);
        assert_eq!(ExceptionKind::parse("late"), None);
    }

    #[test]
    fn report_validation() {
        let p = Policy::default();
        let base = TrackingReportInput {
            courier_code: "SF",
            courier_event_id: "e1",
            status: Some(TrackingStatus::InTransit),
            exception_kind: None,
            occurred_at: Some(at(0)),
            location: " Hangzhou ",
            description: "",
        };
        let ok = base.validate(at(0), &p).unwrap();
        assert_eq!(ok.location.as_deref(), Some("Hangzhou"));
        assert_eq!(ok.description, None);
        let skew = at(0) + Duration::minutes(10);
        let cases: Vec<(TrackingReportInput<'_>, Vec<&str>)> = vec![
            (
                TrackingReportInput {
                    occurred_at: Some(skew),
                    ..base.clone()
                },
                vec![],
            ),
            (
                TrackingReportInput {
                    occurred_at: Some(skew + Duration::seconds(1)),
                    ..base.clone()
                },
                vec!["occurred_at"],
            ),
            (
                TrackingReportInput {
                    occurred_at: None,
                    ..base.clone()
                },
                vec!["occurred_at"],
            ),
            (
                TrackingReportInput {
                    status: None,
                    ..base.clone()
                },
                vec!["status"],
            ),
            (
                TrackingReportInput {
                    status: Some(TrackingStatus::Exception),
                    ..base.clone()
                },
                vec!["exception_kind"],
            ),
            (
                TrackingReportInput {
                    status: Some(TrackingStatus::Exception),
                    exception_kind: Some(ExceptionKind::Refused),
                    ..base.clone()
                },
                vec![],
            ),
            (
                TrackingReportInput {
                    exception_kind: Some(ExceptionKind::Lost),
                    ..base.clone()
                },
                vec!["exception_kind"],
            ),
            (
                TrackingReportInput {
                    courier_code: "",
                    courier_event_id: "",
                    ..base.clone()
                },
                vec!["courier_code", "courier_event_id"],
            ),
        ];
        for (input, want) in cases {
            let got = match input.validate(at(0), &p) {
                Ok(_) => vec![],
                Err(DomainError::Invalid(v)) => v.into_iter().map(|f| f.field).collect(),
                Err(e) => panic!("{e}"),
            };
            assert_eq!(got, want, "{input:?}");
        }
    }

    #[test]
    fn happy_path_moves_forward_with_events_and_eta() {
        use TrackingStatus::*;
        let mut s = shipment();
        let steps = [
            (
                PickedUp,
                1,
                ShipmentState::PickedUp,
                Event::ShipmentPickedUp,
                Some(1 + 72),
            ),
            (
                InTransit,
                2,
                ShipmentState::InTransit,
                Event::ShipmentInTransit,
                Some(2 + 48),
            ),
            (
                OutForDelivery,
                30,
                ShipmentState::OutForDelivery,
                Event::ShipmentOutForDelivery,
                Some(36),
            ),
            (
                Signed,
                33,
                ShipmentState::Signed,
                Event::ShipmentSigned,
                None,
            ),
        ];
        for (i, (status, hour, state, event, eta)) in steps.into_iter().enumerate() {
            let out = scan(&mut s, &format!("e{i}"), status, hour);
            assert!(out.applied && !out.duplicate);
            assert_eq!(out.events, vec![event]);
            assert_eq!(s.state, state);
            assert_eq!(s.eta, eta.map(at));
            assert_eq!(s.last_scan_at, Some(at(hour)));
        }
        assert_eq!(s.picked_up_at, Some(at(1)));
        assert_eq!(s.signed_at, Some(at(33)));
    }

    #[test]
    fn duplicates_change_nothing() {
        let mut s = shipment();
        let first = scan(&mut s, "e1", TrackingStatus::PickedUp, 1);
        let before = s.clone();
        let again = s
            .record_scan(
                TrackingEventId::generate(),
                report("e1", TrackingStatus::Signed, 5),
                Some(&first.event),
                &sf(),
                at(5),
                &Policy::default(),
            )
            .unwrap();
        assert!(again.duplicate && !again.applied && again.events.is_empty());
        assert_eq!(again.event, first.event);
        assert_eq!(s, before);
    }

    #[test]
    fn courier_event_id_reused_on_another_shipment_is_refused() {
        let mut other = shipment();
        other.id = ShipmentId::generate();
        let first = scan(&mut other, "e1", TrackingStatus::PickedUp, 1);
        let mut s = shipment();
        let got = s.record_scan(
            TrackingEventId::generate(),
            report("e1", TrackingStatus::PickedUp, 1),
            Some(&first.event),
            &sf(),
            at(1),
            &Policy::default(),
        );
        assert_eq!(
            got.unwrap_err().rule_name(),
            Some("courier_event_id_conflict")
        );
    }

    #[test]
    fn out_of_order_never_moves_backwards() {
        use TrackingStatus::*;
        // (status, occurred hour) applied after an in-transit scan at hour 10.
        let cases: &[(TrackingStatus, i64, bool, ShipmentState)] = &[
            (PickedUp, 9, false, ShipmentState::InTransit), // older and lower
            (PickedUp, 11, false, ShipmentState::InTransit), // newer but lower rank
            (OutForDelivery, 9, false, ShipmentState::InTransit), // higher rank but older
            (InTransit, 10, true, ShipmentState::InTransit), // same time, same rank
            (InTransit, 12, true, ShipmentState::InTransit),
            (OutForDelivery, 10, true, ShipmentState::OutForDelivery), // boundary: equal time
            (Exception, 9, false, ShipmentState::InTransit),
            (Exception, 11, true, ShipmentState::Exception),
            (Signed, 11, true, ShipmentState::Signed),
            (ReturnedToSender, 11, true, ShipmentState::ReturnedToSender),
        ];
        for (status, hour, applied, state) in cases {
            let mut s = shipment();
            scan(&mut s, "e1", InTransit, 10);
            let out = scan(&mut s, "e2", *status, *hour);
            assert_eq!(out.applied, *applied, "{status:?} at {hour}");
            assert_eq!(out.event.applied, *applied);
            assert_eq!(s.state, *state, "{status:?} at {hour}");
            assert_eq!(
                out.events.is_empty(),
                !applied || *state == ShipmentState::InTransit
            );
            assert_eq!(s.last_scan_at, Some(at(10.max(*hour))));
        }
    }

    #[test]
    fn exceptions_keep_the_milestone_and_resume() {
        use TrackingStatus::*;
        let mut s = shipment();
        scan(&mut s, "e1", OutForDelivery, 1);
        let out = scan(&mut s, "e2", Exception, 2);
        assert_eq!(out.events, vec![Event::ShipmentException]);
        assert_eq!(
            (s.state, s.exception_kind, s.milestone),
            (
                ShipmentState::Exception,
                Some(ExceptionKind::Lost),
                ShipmentState::OutForDelivery
            )
        );
        assert_eq!(s.eta, Some(at(2 + 72)));
        // A lower-rank scan after the exception is still refused.
        assert!(!scan(&mut s, "e3", InTransit, 3).applied);
        assert_eq!(s.state, ShipmentState::Exception);
        // The same rank resumes.
        let out = scan(&mut s, "e4", OutForDelivery, 4);
        assert!(out.applied);
        assert_eq!(
            (s.state, s.exception_kind),
            (ShipmentState::OutForDelivery, None)
        );
        assert_eq!(out.events, vec![Event::ShipmentOutForDelivery]);
    }

    #[test]
    fn courier_reported_stuck_emits_stuck() {
        let mut s = shipment();
        scan(&mut s, "e1", TrackingStatus::InTransit, 1);
        let mut r = report("e2", TrackingStatus::Exception, 2);
        r.exception_kind = Some(ExceptionKind::Stuck);
        let out = s
            .record_scan(
                TrackingEventId::generate(),
                r,
                None,
                &sf(),
                at(2),
                &Policy::default(),
            )
            .unwrap();
        assert_eq!(out.events, vec![Event::ShipmentStuck]);
    }

    #[test]
    fn terminal_states_record_but_do_not_apply() {
        for terminal in [TrackingStatus::Signed, TrackingStatus::ReturnedToSender] {
            let mut s = shipment();
            scan(&mut s, "e1", terminal, 1);
            let out = scan(&mut s, "e2", TrackingStatus::InTransit, 2);
            assert!(!out.applied && !out.duplicate);
            assert_eq!(s.state, terminal.target_state());
        }
    }

    #[test]
    fn voided_shipments_refuse_scans() {
        let mut s = shipment();
        s.void_waybill(&actor(ActorKind::Merchant, "m"), None, at(1))
            .unwrap();
        let got = s.record_scan(
            TrackingEventId::generate(),
            report("e1", TrackingStatus::PickedUp, 2),
            None,
            &sf(),
            at(2),
            &Policy::default(),
        );
        assert_eq!(got.unwrap_err().rule_name(), Some("shipment_voided"));
    }

    #[test]
    fn only_the_shipments_courier_reports() {
        let cases: &[(ActorKind, &str, &str, Option<&str>)] = &[
            (ActorKind::Partner, "SF", "SF", None),
            (ActorKind::Partner, "YTO", "SF", Some("courier_mismatch")),
            (ActorKind::Partner, "YTO", "YTO", Some("courier_mismatch")),
            (ActorKind::Staff, "ops", "SF", None),
            (ActorKind::System, "adapter", "SF", None),
            (ActorKind::Staff, "ops", "YTO", Some("courier_mismatch")),
            (ActorKind::Merchant, "m", "SF", Some("actor_not_allowed")),
            (ActorKind::Buyer, "b", "SF", Some("actor_not_allowed")),
        ];
        for (kind, id, code, rule) in cases {
            let mut s = shipment();
            let mut r = report("e1", TrackingStatus::PickedUp, 1);
            r.courier_code = (*code).into();
            let got = s.record_scan(
                TrackingEventId::generate(),
                r,
                None,
                &actor(*kind, id),
                at(1),
                &Policy::default(),
            );
            assert_eq!(
                got.err().and_then(|e| e.rule_name()),
                *rule,
                "{kind:?} {id} {code}"
            );
        }
    }

    #[test]
    fn first_scan_past_pickup_sets_picked_up_at() {
        let mut s = shipment();
        scan(&mut s, "e1", TrackingStatus::InTransit, 3);
        assert_eq!(s.picked_up_at, Some(at(3)));
        assert_eq!(s.milestone, ShipmentState::InTransit);
    }
}
