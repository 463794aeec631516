//! Repositories: map the domain aggregates to their rows and back.
//!
//! Writers lock the aggregate root row first (`SELECT ... FOR UPDATE`): a complaint before its
//! work orders, a work order before its transfer log, the `dsr_pair_months` row of a buyer,
//! merchant and month before counting its DSR ratings, and the rated subject (complaint or
//! closed-subject row) before checking for an existing service rating. Sweeps claim rows with
//! `FOR UPDATE SKIP LOCKED`, so replicas never handle the same row twice.

use super::entities::{
    closed_subject, complaint, dsr_pair_month, dsr_rating, follow_up, service_rating, work_order,
    work_order_transfer,
};
use crate::domain::{
    Actor, ActorKind, CaseId, Complaint, ComplaintCategory, ComplaintChannel, ComplaintId,
    ComplaintStats, ComplaintStatus, CustomerId, Department, DsrMonth, DsrRating, DsrRatingId,
    DsrScores, EscalationTrigger, FollowUp, FollowUpId, FollowUpMethod, FollowUpOutcome,
    MerchantId, OrderId, RatingSubject, RatingSubjectType, RepairId, Score, ServiceRating,
    ServiceRatingId, ServiceScores, Severity, ShipmentId, SlaStatus, Target, TransferId, WorkOrder,
    WorkOrderId, WorkOrderStatus, WorkOrderTransfer,
};
use aftersales_platform::{AppError, AppResult, edge::Page};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Statement,
    sea_query::{LockBehavior, LockType},
};
use uuid::Uuid;

/// A stored value the domain cannot read: a bug or a manual edit, never user input.
fn corrupt(what: &str, value: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("stored {what} is invalid: {value}"))
}

fn parse_text<T>(what: &str, value: &str, parse: impl Fn(&str) -> Option<T>) -> AppResult<T> {
    parse(value).ok_or_else(|| corrupt(what, value))
}

fn parse_opt_text<T>(
    what: &str,
    value: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
) -> AppResult<Option<T>> {
    value.map(|v| parse_text(what, v, &parse)).transpose()
}

fn count_u32(what: &str, v: i32) -> AppResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what, v))
}

fn count_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn score(what: &str, v: i16) -> AppResult<Score> {
    let raw = u32::try_from(v).map_err(|_| corrupt(what, v))?;
    Score::parse(what, raw).map_err(|_| corrupt(what, v))
}

fn actor(kind: &str, id: String) -> AppResult<Actor> {
    Ok(Actor {
        kind: parse_text("actor kind", kind, ActorKind::parse)?,
        id,
    })
}

// ------------------------------------------------------------------------------------------
// Complaints
// ------------------------------------------------------------------------------------------

fn complaint_to_model(c: &Complaint) -> complaint::Model {
    complaint::Model {
        id: c.id.0,
        customer_id: c.customer_id.0,
        order_id: c.order_id.map(|x| x.0),
        case_id: c.case_id.map(|x| x.0),
        repair_id: c.repair_id.map(|x| x.0),
        merchant_id: c.merchant_id.map(|x| x.0),
        channel: c.channel.as_str().to_owned(),
        category: c.category.as_str().to_owned(),
        severity: c.severity.as_str().to_owned(),
        subject: c.subject.clone(),
        description: c.description.clone(),
        status: c.status.as_str().to_owned(),
        assignee: c.assignee.clone(),
        first_response_due_at: c.first_response_due_at,
        first_responded_at: c.first_responded_at,
        first_response_breached: c.first_response_breached,
        escalation_count: count_i32(c.escalation_count),
        escalated_at: c.escalated_at,
        escalation_trigger: c.escalation_trigger.map(|t| t.as_str().to_owned()),
        escalation_reason: c.escalation_reason.clone(),
        escalated_from: c.escalated_from.map(|s| s.as_str().to_owned()),
        resolution_note: c.resolution_note.clone(),
        resolved_at: c.resolved_at,
        resolution_sent_at: c.resolution_sent_at,
        closed_at: c.closed_at,
        reopen_count: count_i32(c.reopen_count),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn complaint_from_model(m: complaint::Model) -> AppResult<Complaint> {
    Ok(Complaint {
        id: ComplaintId(m.id),
        customer_id: CustomerId(m.customer_id),
        order_id: m.order_id.map(OrderId),
        case_id: m.case_id.map(CaseId),
        repair_id: m.repair_id.map(RepairId),
        merchant_id: m.merchant_id.map(MerchantId),
        channel: parse_text("channel", &m.channel, ComplaintChannel::parse)?,
        category: parse_text("category", &m.category, ComplaintCategory::parse)?,
        severity: parse_text("severity", &m.severity, Severity::parse)?,
        subject: m.subject,
        description: m.description,
        status: parse_text("complaint status", &m.status, ComplaintStatus::parse)?,
        assignee: m.assignee,
        first_response_due_at: m.first_response_due_at,
        first_responded_at: m.first_responded_at,
        first_response_breached: m.first_response_breached,
        escalation_count: count_u32("escalation_count", m.escalation_count)?,
        escalated_at: m.escalated_at,
        escalation_trigger: parse_opt_text(
            "escalation_trigger",
            m.escalation_trigger.as_deref(),
            EscalationTrigger::parse,
        )?,
        escalation_reason: m.escalation_reason,
        escalated_from: parse_opt_text(
            "escalated_from",
            m.escalated_from.as_deref(),
            ComplaintStatus::parse,
        )?,
        resolution_note: m.resolution_note,
        resolved_at: m.resolved_at,
        resolution_sent_at: m.resolution_sent_at,
        closed_at: m.closed_at,
        reopen_count: count_u32("reopen_count", m.reopen_count)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

/// Loads a complaint (read RPCs).
pub async fn load_complaint<C: ConnectionTrait>(conn: &C, id: ComplaintId) -> AppResult<Complaint> {
    let row = complaint::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("complaint", id))?;
    complaint_from_model(row)
}

/// Loads a complaint under a row lock: every change of a complaint goes through this.
pub async fn load_complaint_for_update<C: ConnectionTrait>(
    conn: &C,
    id: ComplaintId,
) -> AppResult<Complaint> {
    let row = complaint::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("complaint", id))?;
    complaint_from_model(row)
}

pub async fn insert_complaint<C: ConnectionTrait>(conn: &C, c: &Complaint) -> AppResult<()> {
    complaint_to_model(c)
        .into_active_model()
        .insert(conn)
        .await?;
    Ok(())
}

pub async fn save_complaint<C: ConnectionTrait>(conn: &C, c: &Complaint) -> AppResult<()> {
    complaint_to_model(c)
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

/// Filters of a complaint listing (already scoped to what the actor may see).
#[derive(Debug, Clone, Default)]
pub struct ComplaintFilter {
    pub customer_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub statuses: Vec<ComplaintStatus>,
    pub severity: Option<Severity>,
    pub category: Option<ComplaintCategory>,
    pub channel: Option<ComplaintChannel>,
    pub breached_only: bool,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

/// Newest first; fetches `page.size + 1` rows so the caller can tell whether more follow.
pub async fn list_complaints<C: ConnectionTrait>(
    conn: &C,
    f: &ComplaintFilter,
    page: Page,
) -> AppResult<Vec<Complaint>> {
    use complaint::Column as Col;
    let mut q = complaint::Entity::find();
    if let Some(v) = f.customer_id {
        q = q.filter(Col::CustomerId.eq(v));
    }
    if let Some(v) = f.order_id {
        q = q.filter(Col::OrderId.eq(v));
    }
    if let Some(v) = f.case_id {
        q = q.filter(Col::CaseId.eq(v));
    }
    if let Some(v) = f.merchant_id {
        q = q.filter(Col::MerchantId.eq(v));
    }
    if !f.statuses.is_empty() {
        q = q.filter(Col::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(v) = f.severity {
        q = q.filter(Col::Severity.eq(v.as_str()));
    }
    if let Some(v) = f.category {
        q = q.filter(Col::Category.eq(v.as_str()));
    }
    if let Some(v) = f.channel {
        q = q.filter(Col::Channel.eq(v.as_str()));
    }
    if f.breached_only {
        q = q.filter(Col::FirstResponseBreached.eq(true));
    }
    if let Some(v) = f.created_from {
        q = q.filter(Col::CreatedAt.gte(v));
    }
    if let Some(v) = f.created_to {
        q = q.filter(Col::CreatedAt.lt(v));
    }
    if let Some(after) = page.after {
        q = q.filter(Col::Id.lt(after));
    }
    let rows = q
        .order_by_desc(Col::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    rows.into_iter().map(complaint_from_model).collect()
}

/// Claims (`FOR UPDATE SKIP LOCKED`) open complaints without a first response whose due time
/// passed and whose breach is not recorded yet, oldest due first.
pub async fn claim_overdue_complaints<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<Complaint>> {
    use complaint::Column as Col;
    let rows = complaint::Entity::find()
        .filter(Col::FirstRespondedAt.is_null())
        .filter(Col::FirstResponseBreached.eq(false))
        .filter(Col::Status.is_not_in([
            ComplaintStatus::Resolved.as_str(),
            ComplaintStatus::Closed.as_str(),
        ]))
        .filter(Col::FirstResponseDueAt.lt(now))
        .order_by_asc(Col::FirstResponseDueAt)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(conn)
        .await?;
    rows.into_iter().map(complaint_from_model).collect()
}

/// Work orders of a complaint that are not DONE, REJECTED or VERIFIED (the caller holds the
/// complaint lock; work orders of a complaint are created under that lock).
pub async fn count_open_work_orders<C: ConnectionTrait>(
    conn: &C,
    complaint: ComplaintId,
) -> AppResult<usize> {
    use work_order::Column as Col;
    let ids: Vec<Uuid> = work_order::Entity::find()
        .select_only()
        .column(Col::Id)
        .filter(Col::ComplaintId.eq(complaint.0))
        .filter(Col::Status.is_in([
            WorkOrderStatus::Open.as_str(),
            WorkOrderStatus::Assigned.as_str(),
            WorkOrderStatus::InProgress.as_str(),
        ]))
        .into_tuple()
        .all(conn)
        .await?;
    Ok(ids.len())
}

// ------------------------------------------------------------------------------------------
// Work orders
// ------------------------------------------------------------------------------------------

fn work_order_to_model(w: &WorkOrder) -> work_order::Model {
    work_order::Model {
        id: w.id.0,
        complaint_id: w.complaint_id.map(|x| x.0),
        order_id: w.order_id.map(|x| x.0),
        case_id: w.case_id.map(|x| x.0),
        repair_id: w.repair_id.map(|x| x.0),
        shipment_id: w.shipment_id.map(|x| x.0),
        department: w.department.as_str().to_owned(),
        merchant_id: w.merchant_id.map(|x| x.0),
        title: w.title.clone(),
        description: w.description.clone(),
        status: w.status.as_str().to_owned(),
        assignee: w.assignee.clone(),
        sla_due_at: w.sla_due_at,
        sla_status: w.sla_status.as_str().to_owned(),
        escalated: w.escalated,
        escalated_at: w.escalated_at,
        result: w.result.clone(),
        verification_note: w.verification_note.clone(),
        transfer_count: count_i32(w.transfer_count),
        created_by_kind: w.created_by.kind.as_str().to_owned(),
        created_by_id: w.created_by.id.clone(),
        created_at: w.created_at,
        updated_at: w.updated_at,
        assigned_at: w.assigned_at,
        started_at: w.started_at,
        finished_at: w.finished_at,
        verified_at: w.verified_at,
    }
}

fn work_order_from_model(m: work_order::Model) -> AppResult<WorkOrder> {
    Ok(WorkOrder {
        id: WorkOrderId(m.id),
        complaint_id: m.complaint_id.map(ComplaintId),
        order_id: m.order_id.map(OrderId),
        case_id: m.case_id.map(CaseId),
        repair_id: m.repair_id.map(RepairId),
        shipment_id: m.shipment_id.map(ShipmentId),
        department: parse_text("department", &m.department, Department::parse)?,
        merchant_id: m.merchant_id.map(MerchantId),
        title: m.title,
        description: m.description,
        status: parse_text("work order status", &m.status, WorkOrderStatus::parse)?,
        assignee: m.assignee,
        sla_due_at: m.sla_due_at,
        sla_status: parse_text("sla status", &m.sla_status, SlaStatus::parse)?,
        escalated: m.escalated,
        escalated_at: m.escalated_at,
        result: m.result,
        verification_note: m.verification_note,
        transfer_count: count_u32("transfer_count", m.transfer_count)?,
        created_by: actor(&m.created_by_kind, m.created_by_id)?,
        created_at: m.created_at,
        updated_at: m.updated_at,
        assigned_at: m.assigned_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
        verified_at: m.verified_at,
    })
}

pub async fn load_work_order<C: ConnectionTrait>(
    conn: &C,
    id: WorkOrderId,
) -> AppResult<WorkOrder> {
    let row = work_order::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("work order", id))?;
    work_order_from_model(row)
}

/// Loads a work order under a row lock: every change of a work order goes through this.
pub async fn load_work_order_for_update<C: ConnectionTrait>(
    conn: &C,
    id: WorkOrderId,
) -> AppResult<WorkOrder> {
    let row = work_order::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("work order", id))?;
    work_order_from_model(row)
}

pub async fn insert_work_order<C: ConnectionTrait>(conn: &C, w: &WorkOrder) -> AppResult<()> {
    work_order_to_model(w)
        .into_active_model()
        .insert(conn)
        .await?;
    Ok(())
}

pub async fn save_work_order<C: ConnectionTrait>(conn: &C, w: &WorkOrder) -> AppResult<()> {
    work_order_to_model(w)
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

/// Filters of a work order listing (already scoped to what the actor may see).
#[derive(Debug, Clone, Default)]
pub struct WorkOrderFilter {
    pub complaint_id: Option<Uuid>,
    pub department: Option<Department>,
    pub merchant_id: Option<Uuid>,
    pub assignee: Option<String>,
    pub statuses: Vec<WorkOrderStatus>,
    pub sla_status: Option<SlaStatus>,
    pub escalated_only: bool,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
}

/// Newest first; fetches `page.size + 1` rows.
pub async fn list_work_orders<C: ConnectionTrait>(
    conn: &C,
    f: &WorkOrderFilter,
    page: Page,
) -> AppResult<Vec<WorkOrder>> {
    use work_order::Column as Col;
    let mut q = work_order::Entity::find();
    if let Some(v) = f.complaint_id {
        q = q.filter(Col::ComplaintId.eq(v));
    }
    if let Some(v) = f.department {
        q = q.filter(Col::Department.eq(v.as_str()));
    }
    if let Some(v) = f.merchant_id {
        q = q.filter(Col::MerchantId.eq(v));
    }
    if let Some(v) = &f.assignee {
        q = q.filter(Col::Assignee.eq(v.as_str()));
    }
    if !f.statuses.is_empty() {
        q = q.filter(Col::Status.is_in(f.statuses.iter().map(|s| s.as_str())));
    }
    if let Some(v) = f.sla_status {
        q = q.filter(Col::SlaStatus.eq(v.as_str()));
    }
    if f.escalated_only {
        q = q.filter(Col::Escalated.eq(true));
    }
    if let Some(v) = f.created_from {
        q = q.filter(Col::CreatedAt.gte(v));
    }
    if let Some(v) = f.created_to {
        q = q.filter(Col::CreatedAt.lt(v));
    }
    if let Some(after) = page.after {
        q = q.filter(Col::Id.lt(after));
    }
    let rows = q
        .order_by_desc(Col::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    rows.into_iter().map(work_order_from_model).collect()
}

/// Claims (`FOR UPDATE SKIP LOCKED`) unfinished work orders whose SLA is still ongoing and due.
pub async fn claim_overdue_work_orders<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<WorkOrder>> {
    use work_order::Column as Col;
    let rows = work_order::Entity::find()
        .filter(Col::SlaStatus.eq(SlaStatus::Ongoing.as_str()))
        .filter(Col::Status.is_in([
            WorkOrderStatus::Open.as_str(),
            WorkOrderStatus::Assigned.as_str(),
            WorkOrderStatus::InProgress.as_str(),
        ]))
        .filter(Col::SlaDueAt.lt(now))
        .order_by_asc(Col::SlaDueAt)
        .limit(limit)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(conn)
        .await?;
    rows.into_iter().map(work_order_from_model).collect()
}

fn transfer_from_model(m: work_order_transfer::Model) -> AppResult<WorkOrderTransfer> {
    Ok(WorkOrderTransfer {
        id: TransferId(m.id),
        work_order_id: WorkOrderId(m.work_order_id),
        from: Target {
            department: parse_text("department", &m.from_department, Department::parse)?,
            merchant_id: m.from_merchant_id.map(MerchantId),
        },
        to: Target {
            department: parse_text("department", &m.to_department, Department::parse)?,
            merchant_id: m.to_merchant_id.map(MerchantId),
        },
        reason: m.reason,
        actor: actor(&m.actor_kind, m.actor_id)?,
        transferred_at: m.transferred_at,
    })
}

pub async fn insert_transfer<C: ConnectionTrait>(conn: &C, t: &WorkOrderTransfer) -> AppResult<()> {
    work_order_transfer::Model {
        id: t.id.0,
        work_order_id: t.work_order_id.0,
        from_department: t.from.department.as_str().to_owned(),
        from_merchant_id: t.from.merchant_id.map(|x| x.0),
        to_department: t.to.department.as_str().to_owned(),
        to_merchant_id: t.to.merchant_id.map(|x| x.0),
        reason: t.reason.clone(),
        actor_kind: t.actor.kind.as_str().to_owned(),
        actor_id: t.actor.id.clone(),
        transferred_at: t.transferred_at,
    }
    .into_active_model()
    .insert(conn)
    .await?;
    Ok(())
}

/// Oldest first; fetches `page.size + 1` rows.
pub async fn list_transfers<C: ConnectionTrait>(
    conn: &C,
    work_order: WorkOrderId,
    page: Page,
) -> AppResult<Vec<WorkOrderTransfer>> {
    use work_order_transfer::Column as Col;
    let mut q = work_order_transfer::Entity::find().filter(Col::WorkOrderId.eq(work_order.0));
    if let Some(after) = page.after {
        q = q.filter(Col::Id.gt(after));
    }
    let rows = q
        .order_by_asc(Col::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    rows.into_iter().map(transfer_from_model).collect()
}

// ------------------------------------------------------------------------------------------
// Follow-ups
// ------------------------------------------------------------------------------------------

pub async fn insert_follow_up<C: ConnectionTrait>(conn: &C, f: &FollowUp) -> AppResult<()> {
    follow_up::Model {
        id: f.id.0,
        complaint_id: f.complaint_id.0,
        method: f.method.as_str().to_owned(),
        outcome: f.outcome.as_str().to_owned(),
        note: f.note.clone(),
        actor_kind: f.actor.kind.as_str().to_owned(),
        actor_id: f.actor.id.clone(),
        visited_at: f.visited_at,
    }
    .into_active_model()
    .insert(conn)
    .await?;
    Ok(())
}

/// Oldest first; fetches `page.size + 1` rows.
pub async fn list_follow_ups<C: ConnectionTrait>(
    conn: &C,
    complaint: ComplaintId,
    page: Page,
) -> AppResult<Vec<FollowUp>> {
    use follow_up::Column as Col;
    let mut q = follow_up::Entity::find().filter(Col::ComplaintId.eq(complaint.0));
    if let Some(after) = page.after {
        q = q.filter(Col::Id.gt(after));
    }
    let rows = q
        .order_by_asc(Col::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|m| {
            Ok(FollowUp {
                id: FollowUpId(m.id),
                complaint_id: ComplaintId(m.complaint_id),
                method: parse_text("follow-up method", &m.method, FollowUpMethod::parse)?,
                outcome: parse_text("follow-up outcome", &m.outcome, FollowUpOutcome::parse)?,
                note: m.note,
                actor: actor(&m.actor_kind, m.actor_id)?,
                visited_at: m.visited_at,
            })
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Service ratings and closed subjects
// ------------------------------------------------------------------------------------------

fn score_i16(s: Score) -> i16 {
    i16::from(s.value())
}

/// The rating of one subject, if given.
pub async fn find_service_rating<C: ConnectionTrait>(
    conn: &C,
    subject: RatingSubject,
) -> AppResult<Option<ServiceRating>> {
    use service_rating::Column as Col;
    let row = service_rating::Entity::find()
        .filter(Col::SubjectType.eq(subject.kind.as_str()))
        .filter(Col::SubjectId.eq(subject.id))
        .one(conn)
        .await?;
    row.map(|m| {
        Ok(ServiceRating {
            id: ServiceRatingId(m.id),
            subject: RatingSubject {
                kind: parse_text("subject type", &m.subject_type, RatingSubjectType::parse)?,
                id: m.subject_id,
            },
            customer_id: CustomerId(m.customer_id),
            scores: ServiceScores {
                attitude: score("attitude", m.attitude)?,
                professionalism: score("professionalism", m.professionalism)?,
                timeliness: score("timeliness", m.timeliness)?,
            },
            comment: m.comment,
            rated_at: m.rated_at,
        })
    })
    .transpose()
}

pub async fn insert_service_rating<C: ConnectionTrait>(
    conn: &C,
    r: &ServiceRating,
) -> AppResult<()> {
    service_rating::Model {
        id: r.id.0,
        subject_type: r.subject.kind.as_str().to_owned(),
        subject_id: r.subject.id,
        customer_id: r.customer_id.0,
        attitude: score_i16(r.scores.attitude),
        professionalism: score_i16(r.scores.professionalism),
        timeliness: score_i16(r.scores.timeliness),
        comment: r.comment.clone(),
        rated_at: r.rated_at,
    }
    .into_active_model()
    .insert(conn)
    .await?;
    Ok(())
}

/// A case or repair order of another service that reached a final state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedSubject {
    pub kind: RatingSubjectType,
    pub id: Uuid,
    pub state: String,
    pub customer_id: Option<Uuid>,
    pub closed_at: DateTime<Utc>,
}

/// Records a closed case or repair; the first record wins (final states do not change).
pub async fn record_closed_subject<C: ConnectionTrait>(
    conn: &C,
    s: &ClosedSubject,
) -> AppResult<()> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO closed_subjects (subject_type, subject_id, state, customer_id, closed_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (subject_type, subject_id) DO NOTHING",
        [
            s.kind.as_str().into(),
            s.id.into(),
            s.state.clone().into(),
            s.customer_id.into(),
            s.closed_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// The closed record of a case or repair, locked (ratings of it are serialised on this row).
pub async fn lock_closed_subject<C: ConnectionTrait>(
    conn: &C,
    kind: RatingSubjectType,
    id: Uuid,
) -> AppResult<Option<ClosedSubject>> {
    let row = closed_subject::Entity::find_by_id((kind.as_str().to_owned(), id))
        .lock_exclusive()
        .one(conn)
        .await?;
    Ok(row.map(|m| ClosedSubject {
        kind,
        id: m.subject_id,
        state: m.state,
        customer_id: m.customer_id,
        closed_at: m.closed_at,
    }))
}

// ------------------------------------------------------------------------------------------
// DSR ratings
// ------------------------------------------------------------------------------------------

fn dsr_from_model(m: dsr_rating::Model) -> AppResult<DsrRating> {
    Ok(DsrRating {
        id: DsrRatingId(m.id),
        order_id: OrderId(m.order_id),
        buyer_id: CustomerId(m.buyer_id),
        merchant_id: MerchantId(m.merchant_id),
        scores: DsrScores {
            description_match: score("description_match", m.description_match)?,
            service: score("service", m.service)?,
            logistics: score("logistics", m.logistics)?,
        },
        month: DsrMonth::parse("month", &m.month).map_err(|_| corrupt("month", &m.month))?,
        counted: m.counted,
        rated_at: m.rated_at,
    })
}

pub async fn find_dsr_for_order<C: ConnectionTrait>(
    conn: &C,
    order: OrderId,
) -> AppResult<Option<DsrRating>> {
    dsr_rating::Entity::find()
        .filter(dsr_rating::Column::OrderId.eq(order.0))
        .one(conn)
        .await?
        .map(dsr_from_model)
        .transpose()
}

/// Locks the row of a buyer, merchant and month (creating it) and returns how many counted
/// ratings it holds.
pub async fn lock_dsr_pair_month<C: ConnectionTrait>(
    conn: &C,
    buyer: CustomerId,
    merchant: MerchantId,
    month: DsrMonth,
) -> AppResult<u32> {
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO dsr_pair_months (buyer_id, merchant_id, month, counted) VALUES ($1, $2, $3, 0) \
         ON CONFLICT (buyer_id, merchant_id, month) DO NOTHING",
        [buyer.0.into(), merchant.0.into(), month.to_string().into()],
    ))
    .await?;
    let row = dsr_pair_month::Entity::find_by_id((buyer.0, merchant.0, month.to_string()))
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::Conflict("dsr counter vanished, retry".into()))?;
    count_u32("dsr counted", row.counted)
}

/// Stores a DSR rating and, when it counts, bumps its pair-month counter (lock held).
pub async fn insert_dsr<C: ConnectionTrait>(conn: &C, r: &DsrRating) -> AppResult<()> {
    dsr_rating::Model {
        id: r.id.0,
        order_id: r.order_id.0,
        buyer_id: r.buyer_id.0,
        merchant_id: r.merchant_id.0,
        description_match: score_i16(r.scores.description_match),
        service: score_i16(r.scores.service),
        logistics: score_i16(r.scores.logistics),
        month: r.month.to_string(),
        counted: r.counted,
        rated_at: r.rated_at,
    }
    .into_active_model()
    .insert(conn)
    .await?;
    if r.counted {
        conn.execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE dsr_pair_months SET counted = counted + 1 \
             WHERE buyer_id = $1 AND merchant_id = $2 AND month = $3",
            [
                r.buyer_id.0.into(),
                r.merchant_id.0.into(),
                r.month.to_string().into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

/// Every DSR rating of a merchant in a month.
pub async fn dsr_for_month<C: ConnectionTrait>(
    conn: &C,
    merchant: MerchantId,
    month: DsrMonth,
) -> AppResult<Vec<DsrRating>> {
    use dsr_rating::Column as Col;
    let rows = dsr_rating::Entity::find()
        .filter(Col::MerchantId.eq(merchant.0))
        .filter(Col::Month.eq(month.to_string()))
        .all(conn)
        .await?;
    rows.into_iter().map(dsr_from_model).collect()
}

// ------------------------------------------------------------------------------------------
// Statistics
// ------------------------------------------------------------------------------------------

/// Period and scope of [`stats`].
#[derive(Debug, Clone, Default)]
pub struct StatsFilter {
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    pub department: Option<Department>,
    pub merchant_id: Option<Uuid>,
}

fn u32_of(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

/// Aggregates computed in SQL with the same definitions as [`ComplaintStats::add_complaint`]
/// and [`ComplaintStats::add_work_order`] (overdue ones not yet swept count as breached).
pub async fn stats<C: ConnectionTrait>(
    conn: &C,
    f: &StatsFilter,
    now: DateTime<Utc>,
) -> AppResult<ComplaintStats> {
    let backend = conn.get_database_backend();
    let complaint_breached = "(first_response_breached OR (first_responded_at IS NULL \
        AND status NOT IN ('RESOLVED', 'CLOSED') AND first_response_due_at < $1))";
    let sql = format!(
        "SELECT COUNT(*)::BIGINT AS total, \
           COUNT(first_responded_at)::BIGINT AS responded, \
           COALESCE(SUM(GREATEST(FLOOR(EXTRACT(EPOCH FROM (first_responded_at - created_at))), 0)), 0)::BIGINT AS seconds, \
           COUNT(*) FILTER (WHERE {complaint_breached})::BIGINT AS breached, \
           COUNT(*) FILTER (WHERE first_responded_at IS NOT NULL OR {complaint_breached})::BIGINT AS settled \
         FROM complaints \
         WHERE ($2::TIMESTAMPTZ IS NULL OR created_at >= $2) \
           AND ($3::TIMESTAMPTZ IS NULL OR created_at < $3) \
           AND ($4::UUID IS NULL OR merchant_id = $4)"
    );
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                now.into(),
                f.created_from.into(),
                f.created_to.into(),
                f.merchant_id.into(),
            ],
        ))
        .await?
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("complaint aggregate returned no row"))
        })?;
    let mut s = ComplaintStats {
        complaints_total: u32_of(row.try_get_by("total")?),
        complaints_responded: u32_of(row.try_get_by("responded")?),
        first_response_seconds_total: row.try_get_by("seconds")?,
        first_response_breached: u32_of(row.try_get_by("breached")?),
        first_response_settled: u32_of(row.try_get_by("settled")?),
        ..ComplaintStats::default()
    };
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT COUNT(*)::BIGINT AS total, \
               COUNT(*) FILTER (WHERE sla_status = 'REACHED')::BIGINT AS reached, \
               COUNT(*) FILTER (WHERE sla_status = 'FAILED' OR (sla_status = 'ONGOING' \
                 AND status IN ('OPEN', 'ASSIGNED', 'IN_PROGRESS') AND sla_due_at < $1))::BIGINT AS failed \
             FROM work_orders \
             WHERE ($2::TIMESTAMPTZ IS NULL OR created_at >= $2) \
               AND ($3::TIMESTAMPTZ IS NULL OR created_at < $3) \
               AND ($4::UUID IS NULL OR merchant_id = $4) \
               AND ($5::TEXT IS NULL OR department = $5)",
            [
                now.into(),
                f.created_from.into(),
                f.created_to.into(),
                f.merchant_id.into(),
                f.department.map(|d| d.as_str().to_owned()).into(),
            ],
        ))
        .await?
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("work order aggregate returned no row"))
        })?;
    s.work_orders_total = u32_of(row.try_get_by("total")?);
    s.work_orders_sla_reached = u32_of(row.try_get_by("reached")?);
    s.work_orders_sla_failed = u32_of(row.try_get_by("failed")?);
    Ok(s)
}
