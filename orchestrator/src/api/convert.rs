//! Saga state to protobuf, at the edge.

use crate::engine::driver::{SOURCE, step_name};
use crate::engine::flow::Flow;
use crate::engine::instance::{Instance, Status};
use crate::storage::{AuditRow, SagaRow, TimelineRow};
use aftersales_platform::edge::{optional_timestamp_to_pb, timestamp_to_pb};
use aftersales_platform::messages::domain_event;
use aftersales_platform::outbox::OutboundMessage;
use aftersales_proto::common::v1 as common;
use aftersales_proto::orchestrator::v1 as pb;
use serde_json::Value;

pub fn status_to_pb(s: Status) -> pb::SagaStatus {
    match s {
        Status::Running => pb::SagaStatus::Running,
        Status::Compensating => pb::SagaStatus::Compensating,
        Status::Paused => pb::SagaStatus::Paused,
        Status::NeedsAttention => pb::SagaStatus::NeedsAttention,
        Status::Completed => pb::SagaStatus::Completed,
        Status::Compensated => pb::SagaStatus::Compensated,
    }
}

pub fn status_from_pb(s: pb::SagaStatus) -> Option<Status> {
    Some(match s {
        pb::SagaStatus::Unspecified => return None,
        pb::SagaStatus::Running => Status::Running,
        pb::SagaStatus::Compensating => Status::Compensating,
        pb::SagaStatus::Paused => Status::Paused,
        pb::SagaStatus::NeedsAttention => Status::NeedsAttention,
        pb::SagaStatus::Completed => Status::Completed,
        pb::SagaStatus::Compensated => Status::Compensated,
    })
}

pub fn summary(row: &SagaRow) -> pb::SagaSummary {
    let i = &row.instance;
    pb::SagaSummary {
        saga_id: i.id.to_string(),
        flow: i.flow.clone(),
        flow_version: i.version,
        business_key: i.business_key.clone(),
        status: status_to_pb(i.status) as i32,
        current_step: row.current_step.clone(),
        attempt: row.attempt,
        last_error: i.last_error.clone().unwrap_or_default(),
        trace_id: row.trace_id.clone(),
        created_at: Some(timestamp_to_pb(i.created_at)),
        updated_at: Some(timestamp_to_pb(i.updated_at)),
        next_wake_at: optional_timestamp_to_pb(row.next_wake_at),
        past_pivot: i.past_pivot,
    }
}

pub fn saga(row: &SagaRow, timeline: &[TimelineRow], audit: &[AuditRow]) -> pb::Saga {
    pb::Saga {
        summary: Some(summary(row)),
        data_json: serde_json::to_string_pretty(&Value::Object(row.instance.data.clone()))
            .unwrap_or_default(),
        timeline: timeline
            .iter()
            .map(|e| pb::TimelineEntry {
                seq: e.seq,
                step: e.step.clone(),
                kind: e.kind.clone(),
                attempt: e.attempt,
                outcome: e.outcome.clone(),
                detail: e.detail.clone(),
                at: Some(timestamp_to_pb(e.at)),
                elapsed_ms: e.elapsed_ms,
            })
            .collect(),
        audit: audit
            .iter()
            .map(|a| pb::AuditEntry {
                actor: Some(common::Actor {
                    kind: common::ActorKind::from_str_name(&a.actor_kind)
                        .unwrap_or(common::ActorKind::Unspecified) as i32,
                    id: a.actor_id.clone(),
                }),
                action: a.action.clone(),
                reason: a.reason.clone(),
                at: Some(timestamp_to_pb(a.at)),
            })
            .collect(),
    }
}

/// `orchestrator.saga.<what>` with the saga's summary as snapshot.
pub fn lifecycle_event(inst: &Instance, flow: &Flow, what: &str) -> OutboundMessage {
    let row = SagaRow {
        instance: inst.clone(),
        current_step: step_name(flow, inst),
        attempt: inst.activities.iter().map(|a| a.attempt).max().unwrap_or(0),
        next_wake_at: None,
        trace_id: String::new(),
    };
    let mut keys = vec![
        ("saga_id", inst.id.to_string()),
        ("flow", inst.flow.clone()),
        ("business_key", inst.business_key.clone()),
    ];
    for k in ["case_id", "order_id"] {
        if let Some(v) = inst.data.get(k).and_then(Value::as_str) {
            keys.push((k, v.to_owned()));
        }
    }
    domain_event(
        SOURCE,
        &format!("orchestrator.saga.{what}"),
        inst.id,
        inst.status.as_str(),
        &keys,
        &summary(&row),
    )
}
