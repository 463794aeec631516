//! Work orders to departments: `OPEN → ASSIGNED → IN_PROGRESS → DONE | REJECTED → VERIFIED`, with
//! logged transfers and an SLA `ONGOING → REACHED | FAILED` (failed stays failed).

use aftersales_kernel::{DomainError, limits};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::validate;
use crate::domain::{
    Actor, CaseId, Complaint, ComplaintId, Event, MerchantId, OrderId, Policy, RepairId,
    ShipmentId, TransferId, WorkOrderId, invalid_transition, not_allowed,
};

text_enum!(
    /// Department a work order is sent to.
    Department {
        Warehouse => "WAREHOUSE",
        Delivery => "DELIVERY",
        Repair => "REPAIR",
        Finance => "FINANCE",
        Merchant => "MERCHANT",
        CustomerService => "CUSTOMER_SERVICE",
    }
);

text_enum!(
    /// State of a work order.
    WorkOrderStatus {
        Open => "OPEN",
        Assigned => "ASSIGNED",
        InProgress => "IN_PROGRESS",
        Done => "DONE",
        Rejected => "REJECTED",
        Verified => "VERIFIED",
    }
);

impl WorkOrderStatus {
    /// DONE, REJECTED or VERIFIED: the department has answered (a complaint may be resolved).
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Done | Self::Rejected | Self::Verified)
    }
}

text_enum!(
    /// SLA of a work order; REACHED and FAILED are final.
    SlaStatus {
        Ongoing => "ONGOING",
        Reached => "REACHED",
        Failed => "FAILED",
    }
);

/// Where a work order goes: a department, plus the merchant for [`Department::Merchant`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Target {
    pub department: Department,
    pub merchant_id: Option<MerchantId>,
}

impl Target {
    /// A merchant target needs the merchant (field `merchant_field`); others must not have one.
    pub fn new(
        department: Department,
        merchant_id: Option<MerchantId>,
        merchant_field: &str,
    ) -> Result<Self, DomainError> {
        match (department, merchant_id) {
            (Department::Merchant, None) => Err(DomainError::field(
                merchant_field,
                "is required for the merchant department",
            )),
            (Department::Merchant, Some(_)) | (_, None) => Ok(Self {
                department,
                merchant_id,
            }),
            (_, Some(_)) => Err(DomainError::field(
                merchant_field,
                "must be empty unless the department is merchant",
            )),
        }
    }
}

/// Input of [`WorkOrder::open`]; text fields are validated there, naming the request field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorkOrder {
    pub complaint_id: Option<ComplaintId>,
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub shipment_id: Option<ShipmentId>,
    pub department: Department,
    /// Field `merchant_id`: required for the merchant department, refused otherwise.
    pub merchant_id: Option<MerchantId>,
    /// Field `title`, at most [`limits::SHORT_TEXT`].
    pub title: String,
    /// Field `description`, at most [`limits::LONG_TEXT`].
    pub description: String,
    /// Field `assignee`: blank for none; otherwise the work order starts ASSIGNED.
    pub assignee: String,
}

/// A task sent to a department.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrder {
    pub id: WorkOrderId,
    pub complaint_id: Option<ComplaintId>,
    pub order_id: Option<OrderId>,
    pub case_id: Option<CaseId>,
    pub repair_id: Option<RepairId>,
    pub shipment_id: Option<ShipmentId>,
    pub department: Department,
    pub merchant_id: Option<MerchantId>,
    pub title: String,
    pub description: String,
    pub status: WorkOrderStatus,
    pub assignee: Option<String>,
    /// Due time of the SLA, fixed at creation (kept on transfer).
    pub sla_due_at: DateTime<Utc>,
    pub sla_status: SlaStatus,
    pub escalated: bool,
    pub escalated_at: Option<DateTime<Utc>>,
    /// Result note (DONE) or rejection reason (REJECTED).
    pub result: Option<String>,
    pub verification_note: Option<String>,
    pub transfer_count: u32,
    pub created_by: Actor,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached DONE or REJECTED (cleared on rework).
    pub finished_at: Option<DateTime<Utc>>,
    pub verified_at: Option<DateTime<Utc>>,
}

/// One logged transfer between departments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkOrderTransfer {
    pub id: TransferId,
    pub work_order_id: WorkOrderId,
    pub from: Target,
    pub to: Target,
    pub reason: String,
    pub actor: Actor,
    pub transferred_at: DateTime<Utc>,
}

impl WorkOrder {
    /// Opens a work order (staff or system) with its SLA due time. `complaint` is the linked
    /// complaint when `new.complaint_id` is set: it must not be CLOSED (`complaint_closed`).
    pub fn open(
        new: NewWorkOrder,
        complaint: Option<&Complaint>,
        actor: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        actor.ensure_internal("open a work order")?;
        let mut v = validate::Violations::new();
        let target = v.check(
            Target::new(new.department, new.merchant_id, "merchant_id").map_err(first_violation),
        );
        let title = v.check(validate::required_text(
            "title",
            &new.title,
            limits::SHORT_TEXT,
        ));
        let description = v.check(validate::required_text(
            "description",
            &new.description,
            limits::LONG_TEXT,
        ));
        let assignee = v.check(validate::optional_text(
            "assignee",
            &new.assignee,
            limits::SHORT_TEXT,
        ));
        v.finish()?;
        if complaint.is_some_and(Complaint::is_closed) {
            return Err(DomainError::rule(
                "complaint_closed",
                "a closed complaint takes no new work orders",
            ));
        }
        let target = target.unwrap_or(Target {
            department: new.department,
            merchant_id: new.merchant_id,
        });
        let assignee = assignee.flatten();
        let wo = Self {
            id: WorkOrderId::generate(now),
            complaint_id: new.complaint_id.or(complaint.map(|c| c.id)),
            order_id: new.order_id,
            case_id: new.case_id,
            repair_id: new.repair_id,
            shipment_id: new.shipment_id,
            department: target.department,
            merchant_id: target.merchant_id,
            title: title.unwrap_or_default(),
            description: description.unwrap_or_default(),
            status: if assignee.is_some() {
                WorkOrderStatus::Assigned
            } else {
                WorkOrderStatus::Open
            },
            assigned_at: assignee.as_ref().map(|_| now),
            assignee,
            sla_due_at: now + policy.work_order_sla(),
            sla_status: SlaStatus::Ongoing,
            escalated: false,
            escalated_at: None,
            result: None,
            verification_note: None,
            transfer_count: 0,
            created_by: actor.clone(),
            created_at: now,
            updated_at: now,
            started_at: None,
            finished_at: None,
            verified_at: None,
        };
        Ok((wo, Event::WorkOrderCreated))
    }

    pub fn target(&self) -> Target {
        Target {
            department: self.department,
            merchant_id: self.merchant_id,
        }
    }

    /// Staff and system see every work order; a merchant only those sent to it.
    pub fn is_visible_to(&self, actor: &Actor) -> bool {
        actor.is_internal() || self.is_merchants_own(actor)
    }

    fn is_merchants_own(&self, actor: &Actor) -> bool {
        self.department == Department::Merchant
            && self.merchant_id.is_some_and(|m| actor.is_merchant(&m))
    }

    /// Department-side operations: staff, system, or the merchant of a merchant work order.
    fn ensure_handler(&self, actor: &Actor, action: &str) -> Result<(), DomainError> {
        if self.is_visible_to(actor) {
            Ok(())
        } else {
            Err(not_allowed(actor, action))
        }
    }

    /// OPEN or ASSIGNED (reassignment) → ASSIGNED to `assignee` (field `assignee`).
    pub fn assign(
        &mut self,
        actor: &Actor,
        assignee: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.ensure_handler(actor, "assign this work order")?;
        let assignee = validate::required_text("assignee", assignee, limits::SHORT_TEXT)?;
        if !matches!(
            self.status,
            WorkOrderStatus::Open | WorkOrderStatus::Assigned
        ) {
            return Err(self.refuse("assigned"));
        }
        self.assignee = Some(assignee);
        self.assigned_at = Some(now);
        self.set_status(WorkOrderStatus::Assigned, now);
        Ok(Event::WorkOrderAssigned)
    }

    /// ASSIGNED → IN_PROGRESS.
    pub fn start(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<Event, DomainError> {
        self.ensure_handler(actor, "start this work order")?;
        if self.status != WorkOrderStatus::Assigned {
            return Err(self.refuse("started"));
        }
        self.started_at = Some(now);
        self.set_status(WorkOrderStatus::InProgress, now);
        Ok(Event::WorkOrderStarted)
    }

    /// IN_PROGRESS → DONE with a result (field `result`); settles the SLA.
    pub fn complete(
        &mut self,
        actor: &Actor,
        result: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.ensure_handler(actor, "complete this work order")?;
        let result = validate::reason("result", result)?;
        if self.status != WorkOrderStatus::InProgress {
            return Err(self.refuse("completed"));
        }
        self.finish(WorkOrderStatus::Done, result, now);
        Ok(Event::WorkOrderCompleted)
    }

    /// ASSIGNED or IN_PROGRESS → REJECTED with a reason (field `reason`); settles the SLA.
    pub fn reject(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.ensure_handler(actor, "reject this work order")?;
        let reason = validate::reason("reason", reason)?;
        if !matches!(
            self.status,
            WorkOrderStatus::Assigned | WorkOrderStatus::InProgress
        ) {
            return Err(self.refuse("rejected"));
        }
        self.finish(WorkOrderStatus::Rejected, reason, now);
        Ok(Event::WorkOrderRejected)
    }

    fn finish(&mut self, status: WorkOrderStatus, result: String, now: DateTime<Utc>) {
        self.result = Some(result);
        self.finished_at = Some(now);
        self.settle_sla(now);
        self.set_status(status, now);
    }

    /// Settles an ONGOING SLA when the department answers: REACHED at or before the due time,
    /// FAILED after it. REACHED and FAILED never change again.
    fn settle_sla(&mut self, now: DateTime<Utc>) {
        if self.sla_status == SlaStatus::Ongoing {
            self.sla_status = if now <= self.sla_due_at {
                SlaStatus::Reached
            } else {
                SlaStatus::Failed
            };
        }
    }

    /// Requester's check (staff or system): DONE or REJECTED → VERIFIED when `accepted`;
    /// otherwise → ASSIGNED for rework, with a note (field `note`) required. `complaint` is the
    /// linked complaint when `complaint_id` is set: rework reopens the work order, so it is
    /// refused once that complaint is RESOLVED or CLOSED (`complaint_resolved`), since it was
    /// resolved on the strength of this work being finished. Accepting stays possible.
    pub fn verify(
        &mut self,
        actor: &Actor,
        complaint: Option<&Complaint>,
        accepted: bool,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_internal("verify a work order")?;
        let note = if accepted {
            validate::optional_text("note", note, limits::LONG_TEXT)?
        } else {
            Some(validate::reason("note", note)?)
        };
        if !matches!(
            self.status,
            WorkOrderStatus::Done | WorkOrderStatus::Rejected
        ) {
            return Err(self.refuse("verified"));
        }
        if !accepted && let Some(c) = complaint.filter(|c| !c.status.is_open()) {
            return Err(DomainError::rule(
                "complaint_resolved",
                format!(
                    "complaint is {}; reopen it before sending its work order back for rework",
                    c.status.as_str().to_lowercase()
                ),
            ));
        }
        self.verification_note = note;
        if accepted {
            self.verified_at = Some(now);
            self.set_status(WorkOrderStatus::Verified, now);
            Ok(Event::WorkOrderVerified)
        } else {
            self.finished_at = None;
            self.result = None;
            self.set_status(WorkOrderStatus::Assigned, now);
            Ok(Event::WorkOrderReworkRequested)
        }
    }

    /// Moves an OPEN, ASSIGNED or IN_PROGRESS work order to another department (staff or
    /// system), back to OPEN and unassigned; the SLA due time is kept. `to_merchant_id` uses
    /// field `to_merchant_id`, the reason field `reason`. Returns the transfer to log.
    pub fn transfer(
        &mut self,
        actor: &Actor,
        to_department: Department,
        to_merchant_id: Option<MerchantId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(WorkOrderTransfer, Event), DomainError> {
        actor.ensure_internal("transfer a work order")?;
        let mut v = validate::Violations::new();
        let to = v.check(
            Target::new(to_department, to_merchant_id, "to_merchant_id").map_err(first_violation),
        );
        let reason = v.check(validate::reason("reason", reason));
        v.finish()?;
        let (Some(to), Some(reason)) = (to, reason) else {
            return Err(DomainError::field("to_department", "is invalid"));
        };
        if !matches!(
            self.status,
            WorkOrderStatus::Open | WorkOrderStatus::Assigned | WorkOrderStatus::InProgress
        ) {
            return Err(self.refuse("transferred"));
        }
        let from = self.target();
        if from == to {
            return Err(DomainError::rule(
                "transfer_same_department",
                format!(
                    "work order is already with {}",
                    to.department.as_str().to_lowercase()
                ),
            ));
        }
        self.department = to.department;
        self.merchant_id = to.merchant_id;
        self.assignee = None;
        self.assigned_at = None;
        self.started_at = None;
        self.transfer_count += 1;
        self.set_status(WorkOrderStatus::Open, now);
        let transfer = WorkOrderTransfer {
            id: TransferId::generate(now),
            work_order_id: self.id,
            from,
            to,
            reason,
            actor: actor.clone(),
            transferred_at: now,
        };
        Ok((transfer, Event::WorkOrderTransferred))
    }

    /// True when the SLA is still ONGOING, the department has not answered and `now > due`.
    pub fn is_sla_overdue(&self, now: DateTime<Utc>) -> bool {
        self.sla_status == SlaStatus::Ongoing && !self.status.is_finished() && now > self.sla_due_at
    }

    /// Sweep step: an overdue work order gets SLA status FAILED and is escalated. `None` when
    /// nothing changes.
    pub fn check_sla(&mut self, now: DateTime<Utc>) -> Option<Event> {
        if !self.is_sla_overdue(now) {
            return None;
        }
        self.sla_status = SlaStatus::Failed;
        self.escalated = true;
        self.escalated_at = Some(now);
        self.updated_at = now;
        Some(Event::WorkOrderSlaBreached)
    }

    fn set_status(&mut self, status: WorkOrderStatus, now: DateTime<Utc>) {
        self.status = status;
        self.updated_at = now;
    }

    fn refuse(&self, action: &str) -> DomainError {
        invalid_transition("work order", self.status.as_str(), action)
    }
}

fn first_violation(e: DomainError) -> aftersales_kernel::FieldViolation {
    match e {
        DomainError::Invalid(mut v) if !v.is_empty() => v.remove(0),
        other => aftersales_kernel::FieldViolation::new("request", other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ActorKind, ComplaintStatus, fixtures::*};
    use chrono::Duration;
    use uuid::Uuid;

    use WorkOrderStatus as S;

    fn staff() -> Actor {
        Actor::staff("lead")
    }

    fn input(department: Department, merchant: Option<MerchantId>) -> NewWorkOrder {
        NewWorkOrder {
            complaint_id: None,
            order_id: Some(OrderId(Uuid::new_v4())),
            case_id: None,
            repair_id: None,
            shipment_id: None,
            department,
            merchant_id: merchant,
            title: "check parcel".into(),
            description: "customer says the box was empty".into(),
            assignee: String::new(),
        }
    }

    fn open_wo() -> WorkOrder {
        WorkOrder::open(
            input(Department::Warehouse, None),
            None,
            &staff(),
            &Policy::default(),
            t0(),
        )
        .unwrap()
        .0
    }

    fn wo_in(status: S) -> WorkOrder {
        let mut w = open_wo();
        let s = staff();
        let t = t0() + Duration::hours(1);
        let path: &[S] = match status {
            S::Open => &[],
            S::Assigned => &[S::Assigned],
            S::InProgress => &[S::Assigned, S::InProgress],
            S::Done => &[S::Assigned, S::InProgress, S::Done],
            S::Rejected => &[S::Assigned, S::InProgress, S::Rejected],
            S::Verified => &[S::Assigned, S::InProgress, S::Done, S::Verified],
        };
        for step in path {
            match step {
                S::Assigned => w.assign(&s, "bob", t),
                S::InProgress => w.start(&s, t),
                S::Done => w.complete(&s, "found it", t),
                S::Rejected => w.reject(&s, "not ours", t),
                S::Verified => w.verify(&s, None, true, "", t),
                S::Open => Ok(Event::WorkOrderCreated),
            }
            .unwrap();
        }
        assert_eq!(w.status, status);
        w
    }

    #[test]
    fn enums_round_trip() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(*s));
        }
        for d in Department::ALL {
            assert_eq!(Department::parse(d.as_str()), Some(*d));
        }
        for s in SlaStatus::ALL {
            assert_eq!(SlaStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Department::parse("warehouse"), None);
    }

    #[test]
    fn open_sets_sla_and_validates() {
        let (w, e) = WorkOrder::open(
            input(Department::Delivery, None),
            None,
            &staff(),
            &Policy::default(),
            t0(),
        )
        .unwrap();
        assert_eq!(e, Event::WorkOrderCreated);
        assert_eq!(
            (w.status, w.sla_status, w.sla_due_at),
            (S::Open, SlaStatus::Ongoing, t0() + Duration::hours(48))
        );
        let m = MerchantId(Uuid::new_v4());
        let cases: &[(Department, Option<MerchantId>, Option<&str>)] = &[
            (Department::Merchant, Some(m), None),
            (Department::Merchant, None, Some("merchant_id")),
            (Department::Finance, Some(m), Some("merchant_id")),
            (Department::Finance, None, None),
        ];
        for (dep, merchant, bad) in cases {
            match (
                WorkOrder::open(
                    input(*dep, *merchant),
                    None,
                    &staff(),
                    &Policy::default(),
                    t0(),
                ),
                bad,
            ) {
                (Ok(_), None) => {}
                (Err(DomainError::Invalid(v)), Some(f)) => assert_eq!(v[0].field, *f),
                (got, _) => panic!("{dep:?} {merchant:?}: {got:?}"),
            }
        }
        let mut bad = input(Department::Repair, None);
        bad.title = "t".repeat(limits::SHORT_TEXT + 1);
        bad.description.clear();
        bad.assignee = "a".repeat(limits::SHORT_TEXT + 1);
        match WorkOrder::open(bad, None, &staff(), &Policy::default(), t0()) {
            Err(DomainError::Invalid(v)) => {
                assert_eq!(
                    v.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                    ["title", "description", "assignee"]
                );
            }
            other => panic!("{other:?}"),
        }
        // Assigned at once.
        let mut with_assignee = input(Department::Repair, None);
        with_assignee.assignee = " eve ".into();
        let (w, _) =
            WorkOrder::open(with_assignee, None, &staff(), &Policy::default(), t0()).unwrap();
        assert_eq!(
            (w.status, w.assignee.as_deref(), w.assigned_at),
            (S::Assigned, Some("eve"), Some(t0()))
        );
        // Only internal actors open work orders.
        let got = WorkOrder::open(
            input(Department::Repair, None),
            None,
            &Actor::merchant(m),
            &Policy::default(),
            t0(),
        );
        assert_eq!(got.unwrap_err().rule_name(), Some("actor_not_allowed"));
    }

    #[test]
    fn open_refuses_closed_complaint() {
        for (status, ok) in [
            (ComplaintStatus::Investigating, true),
            (ComplaintStatus::Closed, false),
        ] {
            let mut c = new_complaint();
            c.status = status;
            let mut n = input(Department::Finance, None);
            n.complaint_id = Some(c.id);
            let got = WorkOrder::open(n, Some(&c), &staff(), &Policy::default(), t0());
            assert_eq!(got.is_ok(), ok, "{status:?}");
            match got {
                Ok((w, _)) => assert_eq!(w.complaint_id, Some(c.id)),
                Err(e) => assert_eq!(e.rule_name(), Some("complaint_closed")),
            }
        }
    }

    #[test]
    fn rework_is_refused_once_the_complaint_is_resolved() {
        use ComplaintStatus as C;
        for (status, rework_ok) in [
            (C::Investigating, true),
            (C::Reopened, true),
            (C::Escalated, true),
            (C::Resolved, false),
            (C::Closed, false),
        ] {
            let mut c = new_complaint();
            c.status = status;
            let mut w = wo_in(S::Done);
            w.complaint_id = Some(c.id);
            let got = w.clone().verify(&staff(), Some(&c), false, "redo", t0());
            match got {
                Ok(e) => {
                    assert!(rework_ok, "{status:?}");
                    assert_eq!(e, Event::WorkOrderReworkRequested);
                }
                Err(e) => {
                    assert!(!rework_ok, "{status:?}");
                    assert_eq!(e.rule_name(), Some("complaint_resolved"));
                }
            }
            // Accepting the finished work is never blocked by the complaint.
            assert_eq!(
                w.verify(&staff(), Some(&c), true, "", t0()),
                Ok(Event::WorkOrderVerified),
                "{status:?}"
            );
        }
        // Without a complaint, rework is a plain state change.
        let mut w = wo_in(S::Rejected);
        assert_eq!(
            w.verify(&staff(), None, false, "redo", t0()),
            Ok(Event::WorkOrderReworkRequested)
        );
        // The state check comes first: a refused edge stays invalid_transition.
        let mut c = new_complaint();
        c.status = C::Resolved;
        let got = wo_in(S::Assigned).verify(&staff(), Some(&c), false, "redo", t0());
        assert_eq!(got.unwrap_err().rule_name(), Some("invalid_transition"));
    }

    type Op = fn(&mut WorkOrder, &Actor, DateTime<Utc>) -> Result<Event, DomainError>;

    fn op(name: &str) -> Op {
        match name {
            "assign" => |w, a, t| w.assign(a, "carol", t),
            "start" => |w, a, t| w.start(a, t),
            "complete" => |w, a, t| w.complete(a, "done", t),
            "reject" => |w, a, t| w.reject(a, "cannot", t),
            "verify" => |w, a, t| w.verify(a, None, true, "", t),
            "rework" => |w, a, t| w.verify(a, None, false, "redo", t),
            "transfer" => |w, a, t| {
                w.transfer(a, Department::Finance, None, "money", t)
                    .map(|(_, e)| e)
            },
            other => panic!("unknown op {other}"),
        }
    }

    #[test]
    fn state_machine_edges() {
        let allowed: &[(&str, S, S, Event)] = &[
            ("assign", S::Open, S::Assigned, Event::WorkOrderAssigned),
            ("assign", S::Assigned, S::Assigned, Event::WorkOrderAssigned),
            ("start", S::Assigned, S::InProgress, Event::WorkOrderStarted),
            (
                "complete",
                S::InProgress,
                S::Done,
                Event::WorkOrderCompleted,
            ),
            ("reject", S::Assigned, S::Rejected, Event::WorkOrderRejected),
            (
                "reject",
                S::InProgress,
                S::Rejected,
                Event::WorkOrderRejected,
            ),
            ("verify", S::Done, S::Verified, Event::WorkOrderVerified),
            ("verify", S::Rejected, S::Verified, Event::WorkOrderVerified),
            (
                "rework",
                S::Done,
                S::Assigned,
                Event::WorkOrderReworkRequested,
            ),
            (
                "rework",
                S::Rejected,
                S::Assigned,
                Event::WorkOrderReworkRequested,
            ),
            ("transfer", S::Open, S::Open, Event::WorkOrderTransferred),
            (
                "transfer",
                S::Assigned,
                S::Open,
                Event::WorkOrderTransferred,
            ),
            (
                "transfer",
                S::InProgress,
                S::Open,
                Event::WorkOrderTransferred,
            ),
        ];
        for name in [
            "assign", "start", "complete", "reject", "verify", "rework", "transfer",
        ] {
            for from in S::ALL {
                let mut w = wo_in(*from);
                let want = allowed.iter().find(|(n, f, _, _)| *n == name && f == from);
                let got = op(name)(&mut w, &staff(), t0() + Duration::hours(2));
                match want {
                    Some((_, _, to, event)) => {
                        assert_eq!(got, Ok(*event), "{name} from {from:?}");
                        assert_eq!(w.status, *to, "{name} from {from:?}");
                    }
                    None => {
                        assert_eq!(
                            got.unwrap_err().rule_name(),
                            Some("invalid_transition"),
                            "{name} from {from:?}"
                        );
                        assert_eq!(w.status, *from);
                    }
                }
            }
        }
    }

    #[test]
    fn sla_settles_on_answer_at_boundary() {
        let due = t0() + Duration::hours(48);
        let cases: &[(&str, DateTime<Utc>, SlaStatus)] = &[
            ("complete", due - Duration::seconds(1), SlaStatus::Reached),
            ("complete", due, SlaStatus::Reached),
            ("complete", due + Duration::seconds(1), SlaStatus::Failed),
            ("reject", due, SlaStatus::Reached),
            ("reject", due + Duration::seconds(1), SlaStatus::Failed),
        ];
        for (name, at, want) in cases {
            let mut w = wo_in(S::InProgress);
            op(name)(&mut w, &staff(), *at).unwrap();
            assert_eq!(w.sla_status, *want, "{name} at {at}");
            assert_eq!(w.finished_at, Some(*at));
        }
    }

    #[test]
    fn sla_sweep_fails_and_escalates_once_and_failed_stays_failed() {
        let due = t0() + Duration::hours(48);
        for (now, breach) in [(due, false), (due + Duration::seconds(1), true)] {
            let mut w = wo_in(S::Assigned);
            assert_eq!(w.check_sla(now).is_some(), breach, "{now}");
            assert_eq!(w.escalated, breach);
        }
        let mut w = wo_in(S::InProgress);
        assert_eq!(
            w.check_sla(due + Duration::hours(1)),
            Some(Event::WorkOrderSlaBreached)
        );
        assert_eq!(
            (w.sla_status, w.escalated_at),
            (SlaStatus::Failed, Some(due + Duration::hours(1)))
        );
        assert_eq!(w.check_sla(due + Duration::hours(2)), None);
        // Completing later, or even before the due time on a clock that went back, keeps FAILED.
        w.complete(&staff(), "late", t0()).unwrap();
        assert_eq!(w.sla_status, SlaStatus::Failed);
        // Answered work orders are not swept; REACHED stays REACHED through rework.
        let mut w = wo_in(S::Done);
        assert_eq!(w.check_sla(due + Duration::days(1)), None);
        w.verify(&staff(), None, false, "incomplete", t0()).unwrap();
        assert_eq!(w.sla_status, SlaStatus::Reached);
        assert_eq!((w.finished_at, w.result.clone()), (None, None));
        assert_eq!(w.check_sla(due + Duration::days(1)), None);
    }

    #[test]
    fn transfer_is_logged_and_keeps_the_sla() {
        let mut w = wo_in(S::InProgress);
        let m = MerchantId(Uuid::new_v4());
        let (t, e) = w
            .transfer(
                &staff(),
                Department::Merchant,
                Some(m),
                "merchant must answer",
                t0(),
            )
            .unwrap();
        assert_eq!(e, Event::WorkOrderTransferred);
        assert_eq!(
            t.from,
            Target {
                department: Department::Warehouse,
                merchant_id: None
            }
        );
        assert_eq!(
            t.to,
            Target {
                department: Department::Merchant,
                merchant_id: Some(m)
            }
        );
        assert_eq!(
            (t.work_order_id, t.reason.as_str()),
            (w.id, "merchant must answer")
        );
        assert_eq!(
            (w.status, w.assignee.clone(), w.transfer_count),
            (S::Open, None, 1)
        );
        assert_eq!(w.sla_due_at, t0() + Duration::hours(48));
        // Same department refused; another merchant is a different target.
        let got = w.transfer(&staff(), Department::Merchant, Some(m), "again", t0());
        assert_eq!(
            got.unwrap_err().rule_name(),
            Some("transfer_same_department")
        );
        assert!(
            w.transfer(
                &staff(),
                Department::Merchant,
                Some(MerchantId(Uuid::new_v4())),
                "other shop",
                t0()
            )
            .is_ok()
        );
        // Field checks.
        let cases: &[(Department, Option<MerchantId>, &str, &str)] = &[
            (Department::Merchant, None, "why", "to_merchant_id"),
            (Department::Finance, Some(m), "why", "to_merchant_id"),
            (Department::Finance, None, " ", "reason"),
        ];
        for (dep, merchant, reason, field) in cases {
            match w.clone().transfer(&staff(), *dep, *merchant, reason, t0()) {
                Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, *field),
                other => panic!("{dep:?}: {other:?}"),
            }
        }
        assert_eq!(
            w.clone()
                .transfer(&Actor::merchant(m), Department::Finance, None, "x", t0())
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
    }

    type Op1 = fn(&mut WorkOrder) -> Result<Event, DomainError>;

    #[test]
    fn field_checks_on_transitions() {
        let cases: &[(S, Op1, &str)] = &[
            (
                S::Open,
                |w| w.assign(&Actor::staff("s"), "", t0()),
                "assignee",
            ),
            (
                S::InProgress,
                |w| w.complete(&Actor::staff("s"), " ", t0()),
                "result",
            ),
            (
                S::InProgress,
                |w| w.reject(&Actor::staff("s"), "", t0()),
                "reason",
            ),
            (
                S::Done,
                |w| w.verify(&Actor::staff("s"), None, false, "", t0()),
                "note",
            ),
        ];
        for (from, f, field) in cases {
            let mut w = wo_in(*from);
            match f(&mut w) {
                Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, *field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn merchant_scoping() {
        let m = MerchantId(Uuid::new_v4());
        let (mut w, _) = WorkOrder::open(
            input(Department::Merchant, Some(m)),
            None,
            &staff(),
            &Policy::default(),
            t0(),
        )
        .unwrap();
        let own = Actor::merchant(m);
        let other = Actor::merchant(MerchantId(Uuid::new_v4()));
        let buyer = Actor {
            kind: ActorKind::Buyer,
            id: "b".into(),
        };
        assert!(w.is_visible_to(&own) && w.is_visible_to(&staff()));
        assert!(!w.is_visible_to(&other) && !w.is_visible_to(&buyer));
        assert_eq!(
            w.clone().assign(&other, "x", t0()).unwrap_err().rule_name(),
            Some("actor_not_allowed")
        );
        w.assign(&own, "shop clerk", t0()).unwrap();
        w.start(&own, t0()).unwrap();
        w.complete(&own, "resent", t0()).unwrap();
        // Verification is the requester's job.
        assert_eq!(
            w.clone()
                .verify(&own, None, true, "", t0())
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
        w.verify(&staff(), None, true, "checked", t0()).unwrap();
        assert_eq!(w.verification_note.as_deref(), Some("checked"));
        // A warehouse work order is not the merchant's.
        let wh = open_wo();
        assert!(!wh.is_visible_to(&own));
        assert_eq!(
            wh.clone().start(&own, t0()).unwrap_err().rule_name(),
            Some("actor_not_allowed")
        );
    }
}
