//! What `aftersalesctl` prints: small serde views of the orchestrator's answers (so `--output
//! json` is stable, readable JSON rather than prost's shape) and their table rendering.
//!
//! Everything here is pure: prost messages in, strings out.

use aftersales_proto::{
    common::v1::{Actor, ActorKind},
    orchestrator::v1::{
        AuditEntry, ListSagasResponse, Saga, SagaStatus, SagaSummary, TimelineEntry,
    },
};
use chrono::{DateTime, SecondsFormat, Utc};
use clap::ValueEnum;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::{Deserialize, Serialize};
use std::{fmt::Write as _, time::Duration};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Human-readable blocks and tables.
    Table,
    /// One pretty-printed JSON document on stdout.
    Json,
}

/// A saga's status as a lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusView {
    Running,
    Compensating,
    Paused,
    NeedsAttention,
    Completed,
    Compensated,
    /// The server sent no status, or one this build does not know.
    #[serde(other)]
    Unknown,
}

impl StatusView {
    pub fn from_proto(status: i32) -> Self {
        match SagaStatus::try_from(status) {
            Ok(SagaStatus::Running) => Self::Running,
            Ok(SagaStatus::Compensating) => Self::Compensating,
            Ok(SagaStatus::Paused) => Self::Paused,
            Ok(SagaStatus::NeedsAttention) => Self::NeedsAttention,
            Ok(SagaStatus::Completed) => Self::Completed,
            Ok(SagaStatus::Compensated) => Self::Compensated,
            Ok(SagaStatus::Unspecified) | Err(_) => Self::Unknown,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Compensating => "compensating",
            Self::Paused => "paused",
            Self::NeedsAttention => "needs_attention",
            Self::Completed => "completed",
            Self::Compensated => "compensated",
            Self::Unknown => "unknown",
        }
    }
}

/// Who acted, with the kind as a lower-case name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorView {
    pub kind: String,
    pub id: String,
}

impl ActorView {
    fn from_proto(actor: &Actor) -> Self {
        let kind = match ActorKind::try_from(actor.kind) {
            Ok(ActorKind::Buyer) => "buyer",
            Ok(ActorKind::Merchant) => "merchant",
            Ok(ActorKind::Staff) => "staff",
            Ok(ActorKind::Partner) => "partner",
            Ok(ActorKind::System) => "system",
            Ok(ActorKind::Unspecified) | Err(_) => "unknown",
        };
        Self {
            kind: kind.to_owned(),
            id: actor.id.clone(),
        }
    }
}

/// A saga without its timeline, as listed by `saga list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaSummaryView {
    pub saga_id: String,
    pub flow: String,
    pub flow_version: u32,
    pub business_key: String,
    pub status: StatusView,
    pub current_step: Option<String>,
    pub attempt: u32,
    pub past_pivot: bool,
    pub trace_id: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub updated_at: Option<DateTime<Utc>>,
    pub next_wake_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
}

impl SagaSummaryView {
    pub fn from_proto(s: &SagaSummary) -> Self {
        Self {
            saga_id: s.saga_id.clone(),
            flow: s.flow.clone(),
            flow_version: s.flow_version,
            business_key: s.business_key.clone(),
            status: StatusView::from_proto(s.status),
            current_step: non_empty(&s.current_step),
            attempt: s.attempt,
            past_pivot: s.past_pivot,
            trace_id: non_empty(&s.trace_id),
            created_at: timestamp(s.created_at.as_ref()),
            updated_at: timestamp(s.updated_at.as_ref()),
            next_wake_at: timestamp(s.next_wake_at.as_ref()),
            last_error: non_empty(&s.last_error),
        }
    }
}

/// One line of a saga's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntryView {
    pub seq: u64,
    pub at: Option<DateTime<Utc>>,
    pub step: String,
    pub kind: String,
    pub attempt: u32,
    pub outcome: String,
    pub elapsed_ms: u64,
    pub detail: Option<String>,
}

impl TimelineEntryView {
    fn from_proto(e: &TimelineEntry) -> Self {
        Self {
            seq: e.seq,
            at: timestamp(e.at.as_ref()),
            step: e.step.clone(),
            kind: e.kind.clone(),
            attempt: e.attempt,
            outcome: e.outcome.clone(),
            elapsed_ms: e.elapsed_ms,
            detail: non_empty(&e.detail),
        }
    }
}

/// One operator action on a saga.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub at: Option<DateTime<Utc>>,
    pub actor: Option<ActorView>,
    pub action: String,
    pub reason: String,
}

impl AuditEntryView {
    fn from_proto(e: &AuditEntry) -> Self {
        Self {
            at: timestamp(e.at.as_ref()),
            actor: e.actor.as_ref().map(ActorView::from_proto),
            action: e.action.clone(),
            reason: e.reason.clone(),
        }
    }
}

/// A saga with its data, timeline and audit log, as shown by `saga show` and the actions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaView {
    #[serde(flatten)]
    pub summary: SagaSummaryView,
    /// The saga's data; a JSON string holding the raw text if the server sent invalid JSON.
    pub data: serde_json::Value,
    pub timeline: Vec<TimelineEntryView>,
    pub audit: Vec<AuditEntryView>,
}

impl SagaView {
    pub fn from_proto(saga: &Saga) -> Self {
        let summary = saga.summary.clone().unwrap_or_default();
        let data = if saga.data_json.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&saga.data_json)
                .unwrap_or_else(|_| serde_json::Value::String(saga.data_json.clone()))
        };
        Self {
            summary: SagaSummaryView::from_proto(&summary),
            data,
            timeline: saga
                .timeline
                .iter()
                .map(TimelineEntryView::from_proto)
                .collect(),
            audit: saga.audit.iter().map(AuditEntryView::from_proto).collect(),
        }
    }
}

/// One page of `saga list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SagaListView {
    pub sagas: Vec<SagaSummaryView>,
    /// Pass to `--page-token` for the next page; absent on the last page.
    pub next_page_token: Option<String>,
}

impl SagaListView {
    pub fn from_proto(r: &ListSagasResponse) -> Self {
        Self {
            sagas: r.sagas.iter().map(SagaSummaryView::from_proto).collect(),
            next_page_token: r.page.as_ref().and_then(|p| non_empty(&p.next_page_token)),
        }
    }
}

/// Renders a page of sagas.
pub fn saga_list(list: &SagaListView, output: Output) -> Result<String, serde_json::Error> {
    match output {
        Output::Json => json(list),
        Output::Table => Ok(saga_list_table(list)),
    }
}

/// Renders one saga.
pub fn saga(saga: &SagaView, output: Output) -> Result<String, serde_json::Error> {
    match output {
        Output::Json => json(saga),
        Output::Table => Ok(saga_table(saga)),
    }
}

fn json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let mut out = serde_json::to_string_pretty(value)?;
    out.push('\n');
    Ok(out)
}

fn saga_list_table(list: &SagaListView) -> String {
    if list.sagas.is_empty() {
        return "no sagas match\n".to_owned();
    }
    let mut table = table([
        "saga",
        "flow",
        "business key",
        "status",
        "step",
        "attempt",
        "past pivot",
        "updated",
        "next wake",
    ]);
    for s in &list.sagas {
        table.add_row(vec![
            clean(&s.saga_id),
            format!("{}@{}", clean(&s.flow), s.flow_version),
            clean(&s.business_key),
            s.status.name().to_owned(),
            opt(s.current_step.as_deref()),
            s.attempt.to_string(),
            if s.past_pivot { "yes" } else { "no" }.to_owned(),
            at(s.updated_at),
            at(s.next_wake_at),
        ]);
    }
    let mut out = format!("{table}\n");
    let count = list.sagas.len();
    let plural = if count == 1 { "" } else { "s" };
    // Writing to a String cannot fail.
    let _ = match &list.next_page_token {
        Some(token) => writeln!(
            out,
            "{count} saga{plural}; next page: --page-token {}",
            clean(token)
        ),
        None => writeln!(out, "{count} saga{plural}"),
    };
    out
}

fn saga_table(saga: &SagaView) -> String {
    let s = &saga.summary;
    let step = match &s.current_step {
        Some(step) => format!("{} (attempt {})", clean(step), s.attempt),
        None => "-".to_owned(),
    };
    let fields = [
        ("saga", clean(&s.saga_id)),
        ("flow", format!("{}@{}", clean(&s.flow), s.flow_version)),
        ("business key", clean(&s.business_key)),
        ("status", s.status.name().to_owned()),
        ("current step", step),
        (
            "past pivot",
            if s.past_pivot { "yes" } else { "no" }.to_owned(),
        ),
        ("trace id", opt(s.trace_id.as_deref())),
        ("created", at(s.created_at)),
        ("updated", at(s.updated_at)),
        ("next wake", at(s.next_wake_at)),
        ("last error", opt(s.last_error.as_deref())),
    ];
    let mut out = String::new();
    for (name, value) in fields {
        let _ = writeln!(out, "{name:<13} {value}");
    }

    out.push_str("\ntimeline\n");
    if saga.timeline.is_empty() {
        out.push_str("(empty)\n");
    } else {
        let mut table = table([
            "seq", "at", "step", "kind", "attempt", "outcome", "elapsed", "detail",
        ]);
        for e in &saga.timeline {
            table.add_row(vec![
                e.seq.to_string(),
                at(e.at),
                clean(&e.step),
                clean(&e.kind),
                e.attempt.to_string(),
                clean(&e.outcome),
                elapsed(e.elapsed_ms),
                opt(e.detail.as_deref()),
            ]);
        }
        let _ = writeln!(out, "{table}");
    }

    out.push_str("\naudit\n");
    if saga.audit.is_empty() {
        out.push_str("(no operator actions)\n");
    } else {
        let mut table = table(["at", "actor", "action", "reason"]);
        for e in &saga.audit {
            let actor = e.actor.as_ref().map_or_else(
                || "-".to_owned(),
                |a| format!("{}:{}", a.kind, clean(&a.id)),
            );
            table.add_row(vec![at(e.at), actor, clean(&e.action), clean(&e.reason)]);
        }
        let _ = writeln!(out, "{table}");
    }

    out.push_str("\ndata\n");
    // Control characters inside JSON strings are escaped by serde_json.
    let data = serde_json::to_string_pretty(&saga.data).unwrap_or_else(|_| "null".to_owned());
    let _ = writeln!(out, "{data}");
    out
}

fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_header(header);
    table
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

/// A protobuf timestamp as a UTC time; `None` when unset or out of range.
fn timestamp(ts: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    let ts = ts?;
    let nanos = u32::try_from(ts.nanos).ok()?;
    DateTime::from_timestamp(ts.seconds, nanos)
}

fn at(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "-".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

fn opt(s: Option<&str>) -> String {
    s.map_or_else(|| "-".to_owned(), clean)
}

fn elapsed(ms: u64) -> String {
    if ms == 0 {
        "-".to_owned()
    } else {
        humantime::format_duration(Duration::from_millis(ms)).to_string()
    }
}

/// Server text made safe for a terminal: control characters (escape sequences included) are
/// shown escaped instead of being interpreted; line breaks are kept.
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use aftersales_proto::common::v1::PageResponse;
    use prost_types::Timestamp;

    fn ts(seconds: i64) -> Option<Timestamp> {
        Some(Timestamp { seconds, nanos: 0 })
    }

    /// A refund saga parked on a failing payment step, after one operator pause.
    pub(crate) fn sample_saga() -> Saga {
        Saga {
            summary: Some(SagaSummary {
                saga_id: "0192f1a4-0000-7000-8000-000000000001".into(),
                flow: "refund_only_not_shipped".into(),
                flow_version: 2,
                business_key: "case:5b3c".into(),
                status: SagaStatus::NeedsAttention as i32,
                current_step: "refund_payment".into(),
                attempt: 5,
                last_error: "payments unavailable".into(),
                trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
                created_at: ts(1_767_225_600),
                updated_at: ts(1_767_225_900),
                next_wake_at: None,
                past_pivot: false,
            }),
            data_json: r#"{"case_id":"5b3c","amount":{"minor":1999,"currency":"EUR"}}"#.into(),
            timeline: vec![
                TimelineEntry {
                    seq: 1,
                    step: "approve_case".into(),
                    kind: "command".into(),
                    attempt: 1,
                    outcome: "sent".into(),
                    detail: String::new(),
                    at: ts(1_767_225_600),
                    elapsed_ms: 0,
                },
                TimelineEntry {
                    seq: 2,
                    step: "approve_case".into(),
                    kind: "command".into(),
                    attempt: 1,
                    outcome: "succeeded".into(),
                    detail: String::new(),
                    at: ts(1_767_225_601),
                    elapsed_ms: 1_250,
                },
                TimelineEntry {
                    seq: 3,
                    step: "refund_payment".into(),
                    kind: "command".into(),
                    attempt: 5,
                    outcome: "parked".into(),
                    detail: "payments unavailable \u{1b}[31m".into(),
                    at: ts(1_767_225_900),
                    elapsed_ms: 298_000,
                },
            ],
            audit: vec![AuditEntry {
                actor: Some(Actor {
                    kind: ActorKind::Staff as i32,
                    id: "alice".into(),
                }),
                action: "pause".into(),
                reason: "waiting for finance".into(),
                at: ts(1_767_225_700),
            }],
        }
    }

    #[test]
    fn saga_table_shows_summary_timeline_audit_and_data() {
        let out = saga(&SagaView::from_proto(&sample_saga()), Output::Table).unwrap();
        for expected in [
            "0192f1a4-0000-7000-8000-000000000001",
            "refund_only_not_shipped@2",
            "case:5b3c",
            "needs_attention",
            "refund_payment (attempt 5)",
            "2026-01-01T00:00:00Z",
            "approve_case",
            "succeeded",
            "parked",
            "1s 250ms",
            "4m 58s",
            "staff:alice",
            "waiting for finance",
            "\"currency\": \"EUR\"",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in\n{out}");
        }
        assert!(!out.contains('\u{1b}'), "escape sequence leaked:\n{out}");
        assert!(out.contains("\\u{1b}[31m"));
    }

    #[test]
    fn saga_json_round_trips_and_uses_readable_names() {
        let view = SagaView::from_proto(&sample_saga());
        let out = saga(&view, Output::Json).unwrap();
        let back: SagaView = serde_json::from_str(&out).unwrap();
        assert_eq!(back, view);

        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["status"], "needs_attention");
        assert_eq!(value["created_at"], "2026-01-01T00:00:00Z");
        assert_eq!(value["next_wake_at"], serde_json::Value::Null);
        assert_eq!(value["data"]["amount"]["minor"], 1999);
        assert_eq!(value["timeline"][2]["outcome"], "parked");
        assert_eq!(value["audit"][0]["actor"]["kind"], "staff");
    }

    #[test]
    fn list_renders_rows_and_the_next_page_token() {
        let resp = ListSagasResponse {
            sagas: vec![sample_saga().summary.unwrap()],
            page: Some(PageResponse {
                next_page_token: "abc".into(),
            }),
        };
        let view = SagaListView::from_proto(&resp);
        let table = saga_list(&view, Output::Table).unwrap();
        assert!(table.contains("refund_only_not_shipped@2"));
        assert!(table.contains("1 saga; next page: --page-token abc"));

        let json = saga_list(&view, Output::Json).unwrap();
        let back: SagaListView = serde_json::from_str(&json).unwrap();
        assert_eq!(back, view);

        let empty = SagaListView::from_proto(&ListSagasResponse::default());
        assert_eq!(
            saga_list(&empty, Output::Table).unwrap(),
            "no sagas match\n"
        );
        assert_eq!(empty.next_page_token, None);
    }

    #[test]
    fn odd_server_values_do_not_break_rendering() {
        let saga_in = Saga {
            summary: Some(SagaSummary {
                status: 42,
                created_at: Some(Timestamp {
                    seconds: i64::MAX,
                    nanos: -1,
                }),
                ..SagaSummary::default()
            }),
            data_json: "not json".into(),
            timeline: vec![],
            audit: vec![AuditEntry {
                actor: Some(Actor {
                    kind: 99,
                    id: "x".into(),
                }),
                ..AuditEntry::default()
            }],
        };
        let view = SagaView::from_proto(&saga_in);
        assert_eq!(view.summary.status, StatusView::Unknown);
        assert_eq!(view.summary.created_at, None);
        assert_eq!(view.data, serde_json::Value::String("not json".into()));
        assert_eq!(view.audit[0].actor.as_ref().unwrap().kind, "unknown");
        let table = saga(&view, Output::Table).unwrap();
        assert!(table.contains("status        unknown"));
        assert!(table.contains("(empty)"));

        let empty = SagaView::from_proto(&Saga::default());
        assert_eq!(empty.data, serde_json::Value::Null);
        saga(&empty, Output::Json).unwrap();
    }
}
