//! Protobuf <-> domain conversions. Every parser names the request field it rejects; protobuf
//! types stop here and never reach `domain/`.

use crate::domain::{
    self, Actor, ActorKind, Complaint, ComplaintCategory, ComplaintChannel, ComplaintStats,
    ComplaintStatus, Department, DsrRating, DsrSummary, EscalationTrigger, FollowUp,
    FollowUpMethod, FollowUpOutcome, RatingSubjectType, ServiceRating, Severity, SlaStatus,
    WorkOrder, WorkOrderStatus, WorkOrderTransfer,
};
use aftersales_kernel::{DomainError, limits};
use aftersales_platform::{AppError, AppResult, edge};
use aftersales_proto::common::v1 as common;
use aftersales_proto::complaints::v1 as pb;

/// Domain errors at the edge: `actor_not_allowed` is `PERMISSION_DENIED`, the other rules
/// `FAILED_PRECONDITION`, field violations `INVALID_ARGUMENT`.
pub fn app(e: DomainError) -> AppError {
    match e {
        DomainError::Rule(r) if r.rule == "actor_not_allowed" => {
            AppError::PermissionDenied(r.to_string())
        }
        other => other.into(),
    }
}

/// Maps a domain result to an [`AppResult`] with [`app`].
pub trait DomainResultExt<T> {
    fn app(self) -> AppResult<T>;
}

impl<T> DomainResultExt<T> for Result<T, DomainError> {
    fn app(self) -> AppResult<T> {
        self.map_err(app)
    }
}

impl<T> DomainResultExt<T> for Result<T, aftersales_kernel::FieldViolation> {
    fn app(self) -> AppResult<T> {
        self.map_err(AppError::from)
    }
}

/// Declares the two-way mapping between a protobuf enum and a domain enum.
macro_rules! enum_map {
    ($from_pb:ident, $to_pb:ident, $pbty:ty, $dom:ident { $($p:ident <=> $d:ident),+ $(,)? }) => {
        pub fn $from_pb(v: $pbty) -> Option<$dom> {
            #[allow(unreachable_patterns)]
            match v {
                $(<$pbty>::$p => Some($dom::$d),)+
                _ => None,
            }
        }

        pub fn $to_pb(v: $dom) -> $pbty {
            match v {
                $($dom::$d => <$pbty>::$p,)+
            }
        }
    };
}

enum_map!(actor_kind_from_pb, actor_kind_to_pb, common::ActorKind, ActorKind {
    Buyer <=> Buyer, Merchant <=> Merchant, Staff <=> Staff, Partner <=> Partner, System <=> System,
});
enum_map!(status_from_pb, status_to_pb, pb::ComplaintStatus, ComplaintStatus {
    New <=> New, Acknowledged <=> Acknowledged, Investigating <=> Investigating,
    Waiting <=> Waiting, Resolved <=> Resolved, Closed <=> Closed, Reopened <=> Reopened,
    Escalated <=> Escalated,
});
enum_map!(severity_from_pb, severity_to_pb, pb::ComplaintSeverity, Severity {
    Normal <=> Normal, High <=> High, Urgent <=> Urgent,
});
enum_map!(category_from_pb, category_to_pb, pb::ComplaintCategory, ComplaintCategory {
    Quality <=> Quality, Safety <=> Safety, Delivery <=> Delivery, Service <=> Service,
    Refund <=> Refund, Merchant <=> Merchant, Other <=> Other,
});
enum_map!(channel_from_pb, channel_to_pb, common::Channel, ComplaintChannel {
    Hotline <=> Hotline, OnlineCs <=> OnlineCs, Email <=> Email, Social <=> Social,
});
enum_map!(trigger_from_pb, trigger_to_pb, pb::EscalationTrigger, EscalationTrigger {
    Manual <=> Manual, FirstResponseBreach <=> FirstResponseBreach,
});
enum_map!(department_from_pb, department_to_pb, pb::Department, Department {
    Warehouse <=> Warehouse, Delivery <=> Delivery, Repair <=> Repair, Finance <=> Finance,
    Merchant <=> Merchant, CustomerService <=> CustomerService,
});
enum_map!(wo_status_from_pb, wo_status_to_pb, pb::WorkOrderStatus, WorkOrderStatus {
    Open <=> Open, Assigned <=> Assigned, InProgress <=> InProgress, Done <=> Done,
    Rejected <=> Rejected, Verified <=> Verified,
});
enum_map!(sla_from_pb, sla_to_pb, pb::SlaStatus, SlaStatus {
    Ongoing <=> Ongoing, Reached <=> Reached, Failed <=> Failed,
});
enum_map!(method_from_pb, method_to_pb, pb::FollowUpMethod, FollowUpMethod {
    Phone <=> Phone, Sms <=> Sms, Email <=> Email, InApp <=> InApp,
});
enum_map!(outcome_from_pb, outcome_to_pb, pb::FollowUpOutcome, FollowUpOutcome {
    Satisfied <=> Satisfied, Neutral <=> Neutral, Dissatisfied <=> Dissatisfied,
    Unreachable <=> Unreachable,
});
enum_map!(subject_from_pb, subject_to_pb, pb::RatingSubjectType, RatingSubjectType {
    Case <=> Case, Complaint <=> Complaint, Repair <=> Repair,
});

/// A required enum field: unspecified or unknown values are refused, naming the field.
pub fn enum_field<P: TryFrom<i32>, D>(
    field: &str,
    value: i32,
    map: fn(P) -> Option<D>,
) -> AppResult<D> {
    let p: P = edge::enum_value(field, value)?;
    map(p).ok_or_else(|| AppError::field(field, format!("value {value} is not accepted here")))
}

/// An optional enum field (filters): unspecified means absent.
pub fn optional_enum_field<P: TryFrom<i32>, D>(
    field: &str,
    value: i32,
    map: fn(P) -> Option<D>,
) -> AppResult<Option<D>> {
    if value == 0 {
        Ok(None)
    } else {
        enum_field(field, value, map).map(Some)
    }
}

/// Repeated enum filter values (`field[i]`).
pub fn enum_list<P: TryFrom<i32>, D>(
    field: &str,
    values: &[i32],
    map: fn(P) -> Option<D>,
) -> AppResult<Vec<D>> {
    edge::item_count(field, values, 0)?;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| enum_field(&format!("{field}[{i}]"), *v, map))
        .collect()
}

/// The required `actor`.
pub fn actor(value: Option<&common::Actor>) -> AppResult<Actor> {
    let a = value.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind = enum_field("actor.kind", a.kind, actor_kind_from_pb)?;
    Actor::new("actor", Some(kind), &a.id).app()
}

pub fn actor_to_pb(a: &Actor) -> common::Actor {
    common::Actor {
        kind: actor_kind_to_pb(a.kind) as i32,
        id: a.id.clone(),
    }
}

/// The complaint channel: HOTLINE, ONLINE_CS, EMAIL or SOCIAL (APP is refused).
pub fn channel(value: i32) -> AppResult<ComplaintChannel> {
    enum_field("channel", value, channel_from_pb).map_err(|e| match e {
        AppError::Invalid(_) if value == common::Channel::App as i32 => {
            AppError::field("channel", "APP is not a complaint channel")
        }
        other => other,
    })
}

/// A required long text (reasons, notes): non-blank, at most 4096 characters, trimmed.
pub fn reason(field: &str, value: &str) -> AppResult<String> {
    domain::validate::reason(field, value).app()
}

/// An optional long text: blank means absent.
pub fn optional_long_text(field: &str, value: &str) -> AppResult<Option<String>> {
    domain::validate::optional_text(field, value, limits::LONG_TEXT).app()
}

/// A required short text (titles, names): non-blank, at most 128 characters, trimmed.
pub fn short_text(field: &str, value: &str) -> AppResult<String> {
    domain::validate::required_text(field, value, limits::SHORT_TEXT).app()
}

/// An optional short text: blank means absent.
pub fn optional_short_text(field: &str, value: &str) -> AppResult<Option<String>> {
    domain::validate::optional_text(field, value, limits::SHORT_TEXT).app()
}

fn ts(t: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(edge::timestamp_to_pb(t))
}

fn opt_ts(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<prost_types::Timestamp> {
    edge::optional_timestamp_to_pb(t)
}

fn opt_id(v: Option<impl ToString>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

pub fn complaint_to_pb(c: &Complaint) -> pb::Complaint {
    pb::Complaint {
        complaint_id: c.id.to_string(),
        customer_id: c.customer_id.to_string(),
        order_id: opt_id(c.order_id),
        case_id: opt_id(c.case_id),
        repair_id: opt_id(c.repair_id),
        merchant_id: opt_id(c.merchant_id),
        channel: channel_to_pb(c.channel) as i32,
        category: category_to_pb(c.category) as i32,
        severity: severity_to_pb(c.severity) as i32,
        subject: c.subject.clone(),
        description: c.description.clone(),
        status: status_to_pb(c.status) as i32,
        assignee: c.assignee.clone().unwrap_or_default(),
        first_response_due_at: ts(c.first_response_due_at),
        first_responded_at: opt_ts(c.first_responded_at),
        first_response_breached: c.first_response_breached,
        escalation_count: c.escalation_count,
        escalated_at: opt_ts(c.escalated_at),
        escalation_trigger: c.escalation_trigger.map_or(0, |t| trigger_to_pb(t) as i32),
        escalation_reason: c.escalation_reason.clone().unwrap_or_default(),
        escalated_from: c.escalated_from.map_or(0, |s| status_to_pb(s) as i32),
        resolution_note: c.resolution_note.clone().unwrap_or_default(),
        resolved_at: opt_ts(c.resolved_at),
        resolution_sent_at: opt_ts(c.resolution_sent_at),
        closed_at: opt_ts(c.closed_at),
        reopen_count: c.reopen_count,
        created_at: ts(c.created_at),
        updated_at: ts(c.updated_at),
    }
}

pub fn work_order_to_pb(w: &WorkOrder) -> pb::WorkOrder {
    pb::WorkOrder {
        work_order_id: w.id.to_string(),
        complaint_id: opt_id(w.complaint_id),
        order_id: opt_id(w.order_id),
        case_id: opt_id(w.case_id),
        repair_id: opt_id(w.repair_id),
        shipment_id: opt_id(w.shipment_id),
        department: department_to_pb(w.department) as i32,
        merchant_id: opt_id(w.merchant_id),
        title: w.title.clone(),
        description: w.description.clone(),
        status: wo_status_to_pb(w.status) as i32,
        assignee: w.assignee.clone().unwrap_or_default(),
        sla_due_at: ts(w.sla_due_at),
        sla_status: sla_to_pb(w.sla_status) as i32,
        escalated: w.escalated,
        escalated_at: opt_ts(w.escalated_at),
        result: w.result.clone().unwrap_or_default(),
        verification_note: w.verification_note.clone().unwrap_or_default(),
        transfer_count: w.transfer_count,
        created_by: Some(actor_to_pb(&w.created_by)),
        created_at: ts(w.created_at),
        updated_at: ts(w.updated_at),
        assigned_at: opt_ts(w.assigned_at),
        started_at: opt_ts(w.started_at),
        finished_at: opt_ts(w.finished_at),
        verified_at: opt_ts(w.verified_at),
    }
}

pub fn transfer_to_pb(t: &WorkOrderTransfer) -> pb::WorkOrderTransfer {
    pb::WorkOrderTransfer {
        transfer_id: t.id.to_string(),
        work_order_id: t.work_order_id.to_string(),
        from_department: department_to_pb(t.from.department) as i32,
        to_department: department_to_pb(t.to.department) as i32,
        to_merchant_id: opt_id(t.to.merchant_id),
        reason: t.reason.clone(),
        actor: Some(actor_to_pb(&t.actor)),
        transferred_at: ts(t.transferred_at),
        from_merchant_id: opt_id(t.from.merchant_id),
    }
}

pub fn follow_up_to_pb(f: &FollowUp) -> pb::FollowUp {
    pb::FollowUp {
        follow_up_id: f.id.to_string(),
        complaint_id: f.complaint_id.to_string(),
        method: method_to_pb(f.method) as i32,
        outcome: outcome_to_pb(f.outcome) as i32,
        note: f.note.clone().unwrap_or_default(),
        actor: Some(actor_to_pb(&f.actor)),
        visited_at: ts(f.visited_at),
    }
}

pub fn service_rating_to_pb(r: &ServiceRating) -> pb::ServiceRating {
    pb::ServiceRating {
        rating_id: r.id.to_string(),
        subject_type: subject_to_pb(r.subject.kind) as i32,
        subject_id: r.subject.id.to_string(),
        customer_id: r.customer_id.to_string(),
        scores: Some(pb::ServiceScores {
            attitude: u32::from(r.scores.attitude.value()),
            professionalism: u32::from(r.scores.professionalism.value()),
            timeliness: u32::from(r.scores.timeliness.value()),
        }),
        comment: r.comment.clone().unwrap_or_default(),
        rated_at: ts(r.rated_at),
    }
}

pub fn dsr_rating_to_pb(r: &DsrRating) -> pb::DsrRating {
    pb::DsrRating {
        rating_id: r.id.to_string(),
        order_id: r.order_id.to_string(),
        buyer_id: r.buyer_id.to_string(),
        merchant_id: r.merchant_id.to_string(),
        scores: Some(pb::DsrScores {
            description_match: u32::from(r.scores.description_match.value()),
            service: u32::from(r.scores.service.value()),
            logistics: u32::from(r.scores.logistics.value()),
        }),
        month: r.month.to_string(),
        counted: r.counted,
        rated_at: ts(r.rated_at),
    }
}

pub fn dsr_summary_to_pb(s: &DsrSummary, time_zone: &str) -> pb::DsrSummary {
    pb::DsrSummary {
        merchant_id: s.merchant_id.to_string(),
        month: s.month.to_string(),
        time_zone: time_zone.to_owned(),
        counted_ratings: s.counted_ratings,
        total_ratings: s.total_ratings,
        description_match_average: s.description_match_average,
        service_average: s.service_average,
        logistics_average: s.logistics_average,
    }
}

pub fn stats_to_pb(s: &ComplaintStats) -> pb::ComplaintStats {
    pb::ComplaintStats {
        complaints_total: s.complaints_total,
        complaints_responded: s.complaints_responded,
        average_first_response_seconds: s.average_first_response_seconds(),
        first_response_breached: s.first_response_breached,
        first_response_breach_rate: s.first_response_breach_rate(),
        work_orders_total: s.work_orders_total,
        work_orders_sla_reached: s.work_orders_sla_reached,
        work_orders_sla_failed: s.work_orders_sla_failed,
        work_order_sla_breach_rate: s.work_order_sla_breach_rate(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip() {
        for s in ComplaintStatus::ALL {
            assert_eq!(status_from_pb(status_to_pb(*s)), Some(*s));
        }
        for d in Department::ALL {
            assert_eq!(department_from_pb(department_to_pb(*d)), Some(*d));
        }
        for c in ComplaintChannel::ALL {
            assert_eq!(channel_from_pb(channel_to_pb(*c)), Some(*c));
        }
        assert_eq!(status_from_pb(pb::ComplaintStatus::Unspecified), None);
    }

    #[test]
    fn fields_are_named() {
        let field = |r: AppResult<ComplaintChannel>| match r {
            Err(AppError::Invalid(v)) => v[0].field.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(channel(0)), "channel");
        assert_eq!(field(channel(common::Channel::App as i32)), "channel");
        assert_eq!(field(channel(99)), "channel");
        assert!(channel(common::Channel::Hotline as i32).is_ok());
        match actor(Some(&common::Actor {
            kind: 0,
            id: "x".into(),
        })) {
            Err(AppError::Invalid(v)) => assert_eq!(v[0].field, "actor.kind"),
            other => panic!("{other:?}"),
        }
        match actor(None) {
            Err(AppError::Invalid(v)) => assert_eq!(v[0].field, "actor"),
            other => panic!("{other:?}"),
        }
        let denied = app(DomainError::rule("actor_not_allowed", "no"));
        assert!(matches!(denied, AppError::PermissionDenied(_)));
        let rule = app(DomainError::rule("invalid_transition", "no"));
        assert!(matches!(rule, AppError::Rule(_)));
    }
}
