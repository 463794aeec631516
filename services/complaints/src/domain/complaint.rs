//! Complaints: `NEW → ACKNOWLEDGED → INVESTIGATING ⇄ WAITING → RESOLVED → CLOSED`, `REOPENED`,
//! `ESCALATED`, with a first-response due time and a resolution note that must reach the customer
//! before the complaint can close.

use aftersales_kernel::{DomainError, limits};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::validate;
use crate::domain::{
    Actor, CaseId, ComplaintId, CustomerId, Event, MerchantId, OrderId, Policy, RepairId,
    invalid_transition,
};

text_enum!(
    /// State of a complaint.
    ComplaintStatus {
        New => "NEW",
        Acknowledged => "ACKNOWLEDGED",
        Investigating => "INVESTIGATING",
        Waiting => "WAITING",
        Resolved => "RESOLVED",
        Closed => "CLOSED",
        Reopened => "REOPENED",
        Escalated => "ESCALATED",
    }
);

impl ComplaintStatus {
    /// States in which the complaint is still being handled (sweeps and open counts).
    pub fn is_open(&self) -> bool {
        !matches!(self, Self::Resolved | Self::Closed)
    }
}

text_enum!(
    /// Channel a complaint came in through (the app is not a complaint channel).
    ComplaintChannel {
        Hotline => "HOTLINE",
        OnlineCs => "ONLINE_CS",
        Email => "EMAIL",
        Social => "SOCIAL",
    }
);

text_enum!(
    /// How serious a complaint is.
    Severity {
        Normal => "NORMAL",
        High => "HIGH",
        Urgent => "URGENT",
    }
);

text_enum!(
    /// What a complaint is about.
    ComplaintCategory {
        Quality => "QUALITY",
        Safety => "SAFETY",
        Delivery => "DELIVERY",
        Service => "SERVICE",
        Refund => "REFUND",
        Merchant => "MERCHANT",
        Other => "OTHER",
    }
);

impl ComplaintCategory {
    /// Quality and safety complaints are always urgent.
    pub fn forces_urgent(&self) -> bool {
        matches!(self, Self::Quality | Self::Safety)
    }
}

text_enum!(
    /// What started the last escalation.
    EscalationTrigger {
        Manual => "MANUAL",
        FirstResponseBreach => "FIRST_RESPONSE_BREACH",
    }
);

/// Effective severity: the requested one (default normal), raised to urgent for quality or safety.
pub fn effective_severity(category: ComplaintCategory, requested: Option<Severity>) -> Severity {
    if category.forces_urgent() {
        Severity::Urgent
    } else {
        requested.unwrap_or(Severity::Normal)
    }
}

/// Input of [`Complaint::open`]; text fields are validated there, naming the request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewComplaint {
    pub customer_id: CustomerId,
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub merchant_id: Option<MerchantId>,
    pub channel: ComplaintChannel,
    pub category: ComplaintCategory,
    /// `None` when unspecified on the wire (normal).
    pub severity: Option<Severity>,
    /// Field `subject`, at most [`limits::SHORT_TEXT`].
    pub subject: String,
    /// Field `description`, at most [`limits::LONG_TEXT`].
    pub description: String,
}

/// A customer complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Complaint {
    pub id: ComplaintId,
    pub customer_id: CustomerId,
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub merchant_id: Option<MerchantId>,
    pub channel: ComplaintChannel,
    pub category: ComplaintCategory,
    pub severity: Severity,
    pub subject: String,
    pub description: String,
    pub status: ComplaintStatus,
    /// Staff member who gave the first response.
    pub assignee: Option<String>,
    pub first_response_due_at: DateTime<Utc>,
    pub first_responded_at: Option<DateTime<Utc>>,
    /// Set once the first response was late or missing at the due time; never reset.
    pub first_response_breached: bool,
    pub escalation_count: u32,
    pub escalated_at: Option<DateTime<Utc>>,
    pub escalation_trigger: Option<EscalationTrigger>,
    pub escalation_reason: Option<String>,
    /// Status before the last escalation.
    pub escalated_from: Option<ComplaintStatus>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_sent_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub reopen_count: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Complaint {
    /// Opens a complaint in NEW with its first-response due time. Buyers may only complain for
    /// themselves; staff and system on behalf of anyone.
    pub fn open(
        new: NewComplaint,
        actor: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        actor
            .ensure_internal_or_customer(&new.customer_id, "open a complaint for this customer")?;
        let mut v = validate::Violations::new();
        let subject = v.check(validate::required_text(
            "subject",
            &new.subject,
            limits::SHORT_TEXT,
        ));
        let description = v.check(validate::required_text(
            "description",
            &new.description,
            limits::LONG_TEXT,
        ));
        v.finish()?;
        let severity = effective_severity(new.category, new.severity);
        let complaint = Self {
            id: ComplaintId::generate(now),
            customer_id: new.customer_id,
            order_id: new.order_id,
            case_id: new.case_id,
            repair_id: new.repair_id,
            merchant_id: new.merchant_id,
            channel: new.channel,
            category: new.category,
            severity,
            subject: subject.unwrap_or_default(),
            description: description.unwrap_or_default(),
            status: ComplaintStatus::New,
            assignee: None,
            first_response_due_at: now + policy.first_response_window(severity),
            first_responded_at: None,
            first_response_breached: false,
            escalation_count: 0,
            escalated_at: None,
            escalation_trigger: None,
            escalation_reason: None,
            escalated_from: None,
            resolution_note: None,
            resolved_at: None,
            resolution_sent_at: None,
            closed_at: None,
            reopen_count: 0,
            created_at: now,
            updated_at: now,
        };
        Ok((complaint, Event::ComplaintCreated))
    }

    /// A buyer sees only its own complaints; staff and system see all.
    pub fn is_visible_to(&self, actor: &Actor) -> bool {
        actor.is_internal() || actor.is_customer(&self.customer_id)
    }

    pub fn is_closed(&self) -> bool {
        self.status == ComplaintStatus::Closed
    }

    /// True when no first response was given and the due time has passed (`now > due`).
    pub fn is_first_response_overdue(&self, now: DateTime<Utc>) -> bool {
        self.first_responded_at.is_none()
            && self.status.is_open()
            && now > self.first_response_due_at
    }

    /// Seconds from creation to the first response, once given.
    pub fn first_response_seconds(&self) -> Option<i64> {
        self.first_responded_at
            .map(|at| (at - self.created_at).num_seconds())
    }

    /// First response: NEW, or ESCALATED before any response, → ACKNOWLEDGED. A response after
    /// the due time is recorded as a breach.
    pub fn acknowledge(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<Event, DomainError> {
        actor.ensure_internal("acknowledge a complaint")?;
        let allowed = match self.status {
            ComplaintStatus::New => true,
            ComplaintStatus::Escalated => self.first_responded_at.is_none(),
            _ => false,
        };
        if !allowed {
            return Err(self.refuse("acknowledged"));
        }
        if now > self.first_response_due_at {
            self.first_response_breached = true;
        }
        self.first_responded_at = Some(now);
        if actor.kind == crate::domain::ActorKind::Staff {
            self.assignee = Some(actor.id.clone());
        }
        self.set_status(ComplaintStatus::Acknowledged, now);
        Ok(Event::ComplaintAcknowledged)
    }

    /// ACKNOWLEDGED, REOPENED or ESCALATED (after a first response) → INVESTIGATING.
    pub fn start_investigation(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal("investigate a complaint")?;
        match self.status {
            ComplaintStatus::Acknowledged | ComplaintStatus::Reopened => {}
            ComplaintStatus::Escalated => self.ensure_first_response()?,
            _ => return Err(self.refuse("investigated")),
        }
        self.set_status(ComplaintStatus::Investigating, now);
        Ok(Event::ComplaintInvestigationStarted)
    }

    /// INVESTIGATING → WAITING for the customer.
    pub fn wait_for_customer(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal("put a complaint on hold")?;
        if self.status != ComplaintStatus::Investigating {
            return Err(self.refuse("put on hold"));
        }
        self.set_status(ComplaintStatus::Waiting, now);
        Ok(Event::ComplaintWaitingForCustomer)
    }

    /// WAITING → INVESTIGATING.
    pub fn resume_investigation(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal("resume a complaint")?;
        if self.status != ComplaintStatus::Waiting {
            return Err(self.refuse("resumed"));
        }
        self.set_status(ComplaintStatus::Investigating, now);
        Ok(Event::ComplaintInvestigationResumed)
    }

    /// INVESTIGATING, WAITING or ESCALATED (after a first response) → RESOLVED with a note
    /// (field `resolution_note`), sent to the customer at once when `send_to_customer`.
    /// `open_work_orders` counts the linked work orders not yet DONE, REJECTED or VERIFIED.
    pub fn resolve(
        &mut self,
        actor: &Actor,
        note: &str,
        send_to_customer: bool,
        open_work_orders: usize,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal("resolve a complaint")?;
        let note = validate::reason("resolution_note", note)?;
        match self.status {
            ComplaintStatus::Investigating | ComplaintStatus::Waiting => {}
            ComplaintStatus::Escalated => self.ensure_first_response()?,
            _ => return Err(self.refuse("resolved")),
        }
        if open_work_orders > 0 {
            return Err(DomainError::rule(
                "work_orders_open",
                format!("{open_work_orders} work order(s) of the complaint are not finished"),
            ));
        }
        self.resolution_note = Some(note);
        self.resolved_at = Some(now);
        self.resolution_sent_at = send_to_customer.then_some(now);
        self.set_status(ComplaintStatus::Resolved, now);
        Ok(Event::ComplaintResolved)
    }

    /// Records that the resolution note of a RESOLVED complaint reached the customer.
    /// `None` when it was already sent (nothing changes).
    pub fn send_resolution_note(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Option<Event>, DomainError> {
        actor.ensure_internal("send a resolution note")?;
        if self.status != ComplaintStatus::Resolved {
            return Err(self.refuse("sent a resolution note"));
        }
        if self.resolution_sent_at.is_some() {
            return Ok(None);
        }
        self.resolution_sent_at = Some(now);
        self.updated_at = now;
        Ok(Some(Event::ComplaintResolutionNoteSent))
    }

    /// RESOLVED → CLOSED; refused with `resolution_note_required` unless the resolution note was
    /// sent to the customer.
    pub fn close(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<Event, DomainError> {
        actor.ensure_internal("close a complaint")?;
        if self.status != ComplaintStatus::Resolved {
            return Err(self.refuse("closed"));
        }
        if self.resolution_note.is_none() || self.resolution_sent_at.is_none() {
            return Err(DomainError::rule(
                "resolution_note_required",
                "a complaint closes only after its resolution note was sent to the customer",
            ));
        }
        self.closed_at = Some(now);
        self.set_status(ComplaintStatus::Closed, now);
        Ok(Event::ComplaintClosed)
    }

    /// RESOLVED or CLOSED → REOPENED by the customer or staff, with a reason (field `reason`).
    /// The resolution is cleared: closing again needs a new note.
    pub fn reopen(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal_or_customer(&self.customer_id, "reopen this complaint")?;
        validate::reason("reason", reason)?;
        if !matches!(
            self.status,
            ComplaintStatus::Resolved | ComplaintStatus::Closed
        ) {
            return Err(self.refuse("reopened"));
        }
        self.resolution_note = None;
        self.resolved_at = None;
        self.resolution_sent_at = None;
        self.closed_at = None;
        self.reopen_count += 1;
        self.set_status(ComplaintStatus::Reopened, now);
        Ok(Event::ComplaintReopened)
    }

    /// Manual escalation of an open complaint (not RESOLVED, CLOSED or already ESCALATED) by the
    /// customer, staff or system, with a reason (field `reason`).
    pub fn escalate(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal_or_customer(&self.customer_id, "escalate this complaint")?;
        let reason = validate::reason("reason", reason)?;
        if !self.status.is_open() || self.status == ComplaintStatus::Escalated {
            return Err(self.refuse("escalated"));
        }
        self.record_escalation(EscalationTrigger::Manual, reason, now);
        Ok(Event::ComplaintEscalated)
    }

    /// Sweep step: an open complaint with no first response past its due time is marked breached
    /// and escalated (if not already). `None` when nothing changes (on time, answered, or the
    /// breach was already recorded).
    pub fn check_first_response(&mut self, now: DateTime<Utc>) -> Option<Event> {
        if self.first_response_breached || !self.is_first_response_overdue(now) {
            return None;
        }
        self.first_response_breached = true;
        self.record_escalation(
            EscalationTrigger::FirstResponseBreach,
            "first response overdue".to_owned(),
            now,
        );
        Some(Event::ComplaintFirstResponseBreached)
    }

    fn record_escalation(
        &mut self,
        trigger: EscalationTrigger,
        reason: String,
        now: DateTime<Utc>,
    ) {
        if self.status != ComplaintStatus::Escalated {
            self.escalated_from = Some(self.status);
        }
        self.escalation_count += 1;
        self.escalated_at = Some(now);
        self.escalation_trigger = Some(trigger);
        self.escalation_reason = Some(reason);
        self.set_status(ComplaintStatus::Escalated, now);
    }

    fn ensure_first_response(&self) -> Result<(), DomainError> {
        if self.first_responded_at.is_some() {
            Ok(())
        } else {
            Err(DomainError::rule(
                "first_response_required",
                "acknowledge the complaint first",
            ))
        }
    }

    fn set_status(&mut self, status: ComplaintStatus, now: DateTime<Utc>) {
        self.status = status;
        self.updated_at = now;
    }

    fn refuse(&self, action: &str) -> DomainError {
        invalid_transition("complaint", self.status.as_str(), action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ActorKind, fixtures::*};
    use chrono::Duration;
    use uuid::Uuid;

    use ComplaintStatus as S;

    fn staff() -> Actor {
        Actor::staff("agent-7")
    }

    /// A complaint driven into `status` through real transitions.
    fn complaint_in(status: S) -> Complaint {
        let mut c = new_complaint();
        let s = staff();
        let t = t0() + Duration::minutes(10);
        let path: &[S] = match status {
            S::New => &[],
            S::Acknowledged => &[S::Acknowledged],
            S::Investigating => &[S::Acknowledged, S::Investigating],
            S::Waiting => &[S::Acknowledged, S::Investigating, S::Waiting],
            S::Resolved => &[S::Acknowledged, S::Investigating, S::Resolved],
            S::Closed => &[S::Acknowledged, S::Investigating, S::Resolved, S::Closed],
            S::Reopened => &[S::Acknowledged, S::Investigating, S::Resolved, S::Reopened],
            S::Escalated => &[S::Acknowledged, S::Escalated],
        };
        for step in path {
            match step {
                S::Acknowledged => c.acknowledge(&s, t).map(|_| ()),
                S::Investigating => c.start_investigation(&s, t).map(|_| ()),
                S::Waiting => c.wait_for_customer(&s, t).map(|_| ()),
                S::Resolved => c.resolve(&s, "refunded shipping", true, 0, t).map(|_| ()),
                S::Closed => c.close(&s, t).map(|_| ()),
                S::Reopened => c.reopen(&s, "still broken", t).map(|_| ()),
                S::Escalated => c.escalate(&s, "vip", t).map(|_| ()),
                S::New => Ok(()),
            }
            .unwrap();
        }
        assert_eq!(c.status, status);
        c
    }

    #[test]
    fn status_round_trips() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(*s));
        }
        assert_eq!(S::parse("new"), None);
        for c in ComplaintChannel::ALL {
            assert_eq!(ComplaintChannel::parse(c.as_str()), Some(*c));
        }
        for c in ComplaintCategory::ALL {
            assert_eq!(ComplaintCategory::parse(c.as_str()), Some(*c));
        }
        for c in Severity::ALL {
            assert_eq!(Severity::parse(c.as_str()), Some(*c));
        }
        for c in EscalationTrigger::ALL {
            assert_eq!(EscalationTrigger::parse(c.as_str()), Some(*c));
        }
    }

    #[test]
    fn severity_is_urgent_for_quality_or_safety() {
        use ComplaintCategory as C;
        let cases: &[(C, Option<Severity>, Severity)] = &[
            (C::Quality, None, Severity::Urgent),
            (C::Quality, Some(Severity::Normal), Severity::Urgent),
            (C::Safety, Some(Severity::High), Severity::Urgent),
            (C::Delivery, None, Severity::Normal),
            (C::Service, Some(Severity::High), Severity::High),
            (C::Other, Some(Severity::Urgent), Severity::Urgent),
        ];
        for (cat, req, want) in cases {
            assert_eq!(effective_severity(*cat, *req), *want, "{cat:?} {req:?}");
        }
    }

    #[test]
    fn open_sets_first_response_due() {
        let cases: &[(ComplaintCategory, Option<Severity>, i64)] = &[
            (ComplaintCategory::Delivery, None, 24),
            (ComplaintCategory::Delivery, Some(Severity::High), 24),
            (ComplaintCategory::Delivery, Some(Severity::Urgent), 2),
            (ComplaintCategory::Safety, None, 2),
        ];
        for (cat, sev, hours) in cases {
            let mut n = complaint_input();
            n.category = *cat;
            n.severity = *sev;
            let (c, e) = Complaint::open(n, &staff(), &Policy::default(), t0()).unwrap();
            assert_eq!(e, Event::ComplaintCreated);
            assert_eq!(c.status, S::New);
            assert_eq!(
                c.first_response_due_at,
                t0() + Duration::hours(*hours),
                "{cat:?} {sev:?}"
            );
        }
    }

    #[test]
    fn open_validates_text_and_actor() {
        let n = complaint_input();
        let long_subject = "s".repeat(limits::SHORT_TEXT + 1);
        let long_description = "d".repeat(limits::LONG_TEXT + 1);
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("late parcel", "ok", None),
            ("", "ok", Some("subject")),
            (&long_subject, "ok", Some("subject")),
            ("x", " ", Some("description")),
            ("x", &long_description, Some("description")),
        ];
        for (subject, description, bad) in cases {
            let mut input = n.clone();
            input.subject = (*subject).to_owned();
            input.description = (*description).to_owned();
            match (
                Complaint::open(input, &staff(), &Policy::default(), t0()),
                bad,
            ) {
                (Ok(_), None) => {}
                (Err(DomainError::Invalid(v)), Some(f)) => assert_eq!(v[0].field, *f),
                (got, _) => panic!("{subject:?}: {got:?}"),
            }
        }
        // Both text fields reported at once.
        let mut both = n.clone();
        both.subject.clear();
        both.description.clear();
        match Complaint::open(both, &staff(), &Policy::default(), t0()) {
            Err(DomainError::Invalid(v)) => assert_eq!(v.len(), 2),
            other => panic!("{other:?}"),
        }
        let actors: &[(Actor, bool)] = &[
            (Actor::buyer(n.customer_id), true),
            (Actor::buyer(CustomerId(Uuid::new_v4())), false),
            (Actor::system("bff"), true),
            (
                Actor {
                    kind: ActorKind::Merchant,
                    id: "m".into(),
                },
                false,
            ),
        ];
        for (actor, ok) in actors {
            let got = Complaint::open(n.clone(), actor, &Policy::default(), t0());
            assert_eq!(got.is_ok(), *ok, "{actor:?}");
            if let Err(e) = got {
                assert_eq!(e.rule_name(), Some("actor_not_allowed"));
            }
        }
    }

    type Op = fn(&mut Complaint, &Actor, DateTime<Utc>) -> Result<Event, DomainError>;

    fn op(name: &str) -> Op {
        match name {
            "acknowledge" => |c, a, t| c.acknowledge(a, t),
            "investigate" => |c, a, t| c.start_investigation(a, t),
            "wait" => |c, a, t| c.wait_for_customer(a, t),
            "resume" => |c, a, t| c.resume_investigation(a, t),
            "resolve" => |c, a, t| c.resolve(a, "note", true, 0, t),
            "send" => |c, a, t| {
                c.send_resolution_note(a, t)
                    .map(|e| e.unwrap_or(Event::ComplaintResolutionNoteSent))
            },
            "close" => |c, a, t| c.close(a, t),
            "reopen" => |c, a, t| c.reopen(a, "why", t),
            "escalate" => |c, a, t| c.escalate(a, "why", t),
            other => panic!("unknown op {other}"),
        }
    }

    #[test]
    fn state_machine_edges() {
        // (operation, from, Some(to) when allowed)
        let all = S::ALL;
        let allowed: &[(&str, S, S)] = &[
            ("acknowledge", S::New, S::Acknowledged),
            ("investigate", S::Acknowledged, S::Investigating),
            ("investigate", S::Reopened, S::Investigating),
            ("investigate", S::Escalated, S::Investigating),
            ("wait", S::Investigating, S::Waiting),
            ("resume", S::Waiting, S::Investigating),
            ("resolve", S::Investigating, S::Resolved),
            ("resolve", S::Waiting, S::Resolved),
            ("resolve", S::Escalated, S::Resolved),
            ("send", S::Resolved, S::Resolved),
            ("close", S::Resolved, S::Closed),
            ("reopen", S::Resolved, S::Reopened),
            ("reopen", S::Closed, S::Reopened),
            ("escalate", S::New, S::Escalated),
            ("escalate", S::Acknowledged, S::Escalated),
            ("escalate", S::Investigating, S::Escalated),
            ("escalate", S::Waiting, S::Escalated),
            ("escalate", S::Reopened, S::Escalated),
        ];
        let ops = [
            "acknowledge",
            "investigate",
            "wait",
            "resume",
            "resolve",
            "send",
            "close",
            "reopen",
            "escalate",
        ];
        for name in ops {
            for from in all {
                let mut c = complaint_in(*from);
                let want = allowed
                    .iter()
                    .find(|(n, f, _)| *n == name && f == from)
                    .map(|(_, _, to)| *to);
                let got = op(name)(&mut c, &staff(), t0() + Duration::hours(1));
                match want {
                    Some(to) => {
                        assert!(got.is_ok(), "{name} from {from:?}: {got:?}");
                        assert_eq!(c.status, to, "{name} from {from:?}");
                    }
                    None => {
                        assert_eq!(
                            got.unwrap_err().rule_name(),
                            Some("invalid_transition"),
                            "{name} from {from:?}"
                        );
                        assert_eq!(c.status, *from);
                    }
                }
            }
        }
    }

    #[test]
    fn events_per_transition() {
        let cases: &[(&str, S, Event)] = &[
            ("acknowledge", S::New, Event::ComplaintAcknowledged),
            (
                "investigate",
                S::Acknowledged,
                Event::ComplaintInvestigationStarted,
            ),
            ("wait", S::Investigating, Event::ComplaintWaitingForCustomer),
            ("resume", S::Waiting, Event::ComplaintInvestigationResumed),
            ("resolve", S::Investigating, Event::ComplaintResolved),
            ("close", S::Resolved, Event::ComplaintClosed),
            ("reopen", S::Closed, Event::ComplaintReopened),
            ("escalate", S::New, Event::ComplaintEscalated),
        ];
        for (name, from, event) in cases {
            let mut c = complaint_in(*from);
            assert_eq!(op(name)(&mut c, &staff(), t0()), Ok(*event), "{name}");
        }
    }

    #[test]
    fn acknowledge_records_first_response_and_breach_at_boundary() {
        let due = t0() + Duration::hours(24);
        let cases: &[(DateTime<Utc>, bool)] = &[
            (t0(), false),
            (due - Duration::seconds(1), false),
            (due, false),
            (due + Duration::seconds(1), true),
        ];
        for (at, breached) in cases {
            let mut c = new_complaint();
            c.acknowledge(&staff(), *at).unwrap();
            assert_eq!(c.first_responded_at, Some(*at));
            assert_eq!(c.first_response_breached, *breached, "{at}");
            assert_eq!(c.assignee.as_deref(), Some("agent-7"));
            assert_eq!(c.first_response_seconds(), Some((*at - t0()).num_seconds()));
        }
        // System acknowledgement (auto-reply) keeps the assignee empty.
        let mut c = new_complaint();
        c.acknowledge(&Actor::system("bot"), t0()).unwrap();
        assert_eq!(c.assignee, None);
    }

    #[test]
    fn escalated_before_response_must_be_acknowledged_first() {
        let mut c = new_complaint();
        c.escalate(&staff(), "angry", t0()).unwrap();
        assert_eq!(c.escalated_from, Some(S::New));
        let t = t0() + Duration::minutes(5);
        assert_eq!(
            c.clone()
                .start_investigation(&staff(), t)
                .unwrap_err()
                .rule_name(),
            Some("first_response_required")
        );
        assert_eq!(
            c.clone()
                .resolve(&staff(), "n", true, 0, t)
                .unwrap_err()
                .rule_name(),
            Some("first_response_required")
        );
        c.acknowledge(&staff(), t).unwrap();
        assert_eq!(c.status, S::Acknowledged);
        // Acknowledged once: a later escalation cannot be "acknowledged" again.
        c.escalate(&staff(), "again", t).unwrap();
        assert_eq!(c.escalation_count, 2);
        assert_eq!(
            c.clone().acknowledge(&staff(), t).unwrap_err().rule_name(),
            Some("invalid_transition")
        );
    }

    #[test]
    fn first_response_sweep() {
        let due = t0() + Duration::hours(24);
        let cases: &[(DateTime<Utc>, bool)] = &[
            (due - Duration::seconds(1), false),
            (due, false),
            (due + Duration::seconds(1), true),
        ];
        for (now, breach) in cases {
            let mut c = new_complaint();
            assert_eq!(c.is_first_response_overdue(*now), *breach);
            let got = c.check_first_response(*now);
            assert_eq!(got.is_some(), *breach, "{now}");
            if *breach {
                assert_eq!(got, Some(Event::ComplaintFirstResponseBreached));
                assert_eq!(c.status, S::Escalated);
                assert_eq!(c.escalated_from, Some(S::New));
                assert_eq!(
                    c.escalation_trigger,
                    Some(EscalationTrigger::FirstResponseBreach)
                );
                assert!(c.first_response_breached);
                // Recorded once only.
                assert_eq!(c.check_first_response(*now + Duration::hours(1)), None);
                assert_eq!(c.escalation_count, 1);
            } else {
                assert_eq!(c.status, S::New);
            }
        }
        // Urgent: 2 h.
        let mut n = complaint_input();
        n.category = ComplaintCategory::Safety;
        let (mut c, _) = Complaint::open(n, &staff(), &Policy::default(), t0()).unwrap();
        assert_eq!(c.check_first_response(t0() + Duration::hours(2)), None);
        assert!(
            c.check_first_response(t0() + Duration::hours(2) + Duration::seconds(1))
                .is_some()
        );
        // Already escalated by hand: the breach is recorded, the status stays, escalated_from kept.
        let mut c = new_complaint();
        c.escalate(&staff(), "angry", t0()).unwrap();
        assert!(c.check_first_response(due + Duration::seconds(1)).is_some());
        assert_eq!(
            (c.status, c.escalated_from, c.escalation_count),
            (S::Escalated, Some(S::New), 2)
        );
        // Answered complaints never breach.
        let mut c = complaint_in(S::Acknowledged);
        assert_eq!(c.check_first_response(due + Duration::days(3)), None);
        assert!(!c.first_response_breached);
    }

    #[test]
    fn resolve_rules() {
        let mut c = complaint_in(S::Investigating);
        assert_eq!(
            c.clone()
                .resolve(&staff(), "n", true, 1, t0())
                .unwrap_err()
                .rule_name(),
            Some("work_orders_open")
        );
        match c.clone().resolve(&staff(), "  ", true, 0, t0()) {
            Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, "resolution_note"),
            other => panic!("{other:?}"),
        }
        c.resolve(&staff(), " replaced the item ", false, 0, t0())
            .unwrap();
        assert_eq!(c.resolution_note.as_deref(), Some("replaced the item"));
        assert_eq!(c.resolution_sent_at, None);
    }

    #[test]
    fn close_requires_a_sent_resolution_note() {
        let mut c = complaint_in(S::Investigating);
        c.resolve(&staff(), "refund issued", false, 0, t0())
            .unwrap();
        assert_eq!(
            c.clone().close(&staff(), t0()).unwrap_err().rule_name(),
            Some("resolution_note_required")
        );
        assert_eq!(
            c.send_resolution_note(&staff(), t0()),
            Ok(Some(Event::ComplaintResolutionNoteSent))
        );
        // Second send is a no-op.
        assert_eq!(
            c.send_resolution_note(&staff(), t0() + Duration::hours(1)),
            Ok(None)
        );
        assert_eq!(c.resolution_sent_at, Some(t0()));
        c.close(&staff(), t0()).unwrap();
        assert!(c.is_closed());
        assert_eq!(c.closed_at, Some(t0()));
    }

    #[test]
    fn reopen_clears_the_resolution() {
        let mut c = complaint_in(S::Closed);
        let buyer = Actor::buyer(c.customer_id);
        match c.clone().reopen(&buyer, "", t0()) {
            Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, "reason"),
            other => panic!("{other:?}"),
        }
        c.reopen(&buyer, "still broken", t0()).unwrap();
        assert_eq!(
            (
                c.reopen_count,
                c.resolution_note.clone(),
                c.resolution_sent_at,
                c.closed_at
            ),
            (1, None, None, None)
        );
        c.start_investigation(&staff(), t0()).unwrap();
        c.resolve(&staff(), "second fix", false, 0, t0()).unwrap();
        assert_eq!(
            c.close(&staff(), t0()).unwrap_err().rule_name(),
            Some("resolution_note_required")
        );
    }

    #[test]
    fn who_may_do_what() {
        let c = complaint_in(S::Investigating);
        let owner = Actor::buyer(c.customer_id);
        let stranger = Actor::buyer(CustomerId(Uuid::new_v4()));
        let merchant = Actor {
            kind: ActorKind::Merchant,
            id: "m".into(),
        };
        // (operation, from, actor, allowed)
        let cases: &[(&str, S, &Actor, bool)] = &[
            ("acknowledge", S::New, &owner, false),
            ("investigate", S::Acknowledged, &merchant, false),
            ("wait", S::Investigating, &owner, false),
            ("resume", S::Waiting, &owner, false),
            ("resolve", S::Investigating, &owner, false),
            ("send", S::Resolved, &owner, false),
            ("close", S::Resolved, &owner, false),
            ("reopen", S::Closed, &owner, true),
            ("reopen", S::Closed, &stranger, false),
            ("reopen", S::Closed, &merchant, false),
            ("escalate", S::Investigating, &owner, true),
            ("escalate", S::Investigating, &stranger, false),
        ];
        for (name, from, actor, ok) in cases {
            let mut other = complaint_in(*from);
            other.customer_id = c.customer_id;
            let got = op(name)(&mut other, actor, t0());
            assert_eq!(got.is_ok(), *ok, "{name} by {actor:?}: {got:?}");
            if let Err(e) = got {
                assert_eq!(e.rule_name(), Some("actor_not_allowed"));
            }
        }
        assert!(c.is_visible_to(&owner));
        assert!(c.is_visible_to(&staff()));
        assert!(!c.is_visible_to(&stranger));
        assert!(!c.is_visible_to(&merchant));
    }
}
