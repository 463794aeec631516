//! The persisted state of one saga and what a transition asks the driver to do.

use super::flow::Data;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Running,
    Compensating,
    Paused,
    NeedsAttention,
    Completed,
    Compensated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "RUNNING",
            Status::Compensating => "COMPENSATING",
            Status::Paused => "PAUSED",
            Status::NeedsAttention => "NEEDS_ATTENTION",
            Status::Completed => "COMPLETED",
            Status::Compensated => "COMPENSATED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Status::Running,
            Status::Compensating,
            Status::Paused,
            Status::NeedsAttention,
            Status::Completed,
            Status::Compensated,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Compensated)
    }
}

/// Where an activity is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ActState {
    /// Command sent, reply awaited (step timeout armed).
    InFlight,
    /// A retry is scheduled (backoff timer armed).
    Backoff,
    /// Waiting for an event (deadline armed).
    Waiting,
    Done,
    Failed {
        reason: String,
    },
}

/// One running command or wait: a sequential step has one, a parallel step one per item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Activity {
    pub branch: u32,
    pub item: Option<Value>,
    pub state: ActState,
    /// Deliveries of this command so far (resets on an operator retry).
    pub attempt: u32,
    /// Idempotency round: part of the command's key; moves on only after a definite result was
    /// stored under the previous key, so a re-send never has a second effect.
    pub round: u32,
    pub round_burned: bool,
    /// The command may have taken effect (sent and never answered): compensate it too.
    pub maybe_effect: bool,
    pub message_id: Option<Uuid>,
    pub timer: Option<Uuid>,
    /// A timer fired while the saga was paused: act on it on resume.
    pub deferred: bool,
    /// The activity failed in a way that parks the saga whatever the pivot (a wait's deadline).
    #[serde(default)]
    pub park: bool,
    /// Done, but with no effect for a compensation to undo.
    #[serde(default)]
    pub no_effect: bool,
    pub started_at: DateTime<Utc>,
    /// For waits: the `name=value` key being matched.
    pub wait_key: Option<String>,
    /// For waits: buffered events were already looked at.
    pub buffer_checked: bool,
}

impl Activity {
    /// A fresh activity of branch `branch`, not yet sent or waiting.
    pub fn new(branch: u32, item: Option<Value>, now: DateTime<Utc>) -> Self {
        Self {
            branch,
            item,
            state: ActState::InFlight,
            attempt: 0,
            round: 1,
            round_burned: false,
            maybe_effect: false,
            message_id: None,
            timer: None,
            deferred: false,
            park: false,
            no_effect: false,
            started_at: now,
            wait_key: None,
            buffer_checked: false,
        }
    }
}

/// A completed step that has a compensation, with the branches that succeeded (or may have).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completed {
    pub step: usize,
    pub branches: Vec<(u32, Option<Value>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Forward,
    Compensating,
}

/// One saga instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub id: Uuid,
    pub flow: String,
    pub version: u32,
    pub business_key: String,
    pub status: Status,
    /// Status to return to after a park (RUNNING or COMPENSATING).
    pub resume_to: Option<Status>,
    /// Status to return to after a pause.
    #[serde(default)]
    pub paused_from: Option<Status>,
    /// An operator canceled: in-flight commands are awaited, then everything is compensated.
    #[serde(default)]
    pub cancel_requested: bool,
    pub phase: Phase,
    /// Forward: the current step. Compensating: the step being compensated.
    pub step: usize,
    pub activities: Vec<Activity>,
    /// Compensable completed steps, oldest first; compensation pops from the end.
    pub completed: Vec<Completed>,
    pub past_pivot: bool,
    pub data: Data,
    pub last_error: Option<String>,
    /// Operator re-runs from an earlier step; part of every idempotency round.
    #[serde(default)]
    pub reruns: u32,
    /// Counter for operator work orders opened by parking.
    pub parks: u32,
    /// Timeline sequence counter.
    pub seq: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Instance {
    /// The tokens of the armed timers (a timer whose token is not here is stale).
    pub fn current_timers(&self) -> Vec<Uuid> {
        self.activities.iter().filter_map(|a| a.timer).collect()
    }

    /// `name=value` keys of the waits in progress.
    pub fn wait_keys(&self) -> Vec<String> {
        self.activities
            .iter()
            .filter(|a| a.state == ActState::Waiting)
            .filter_map(|a| a.wait_key.clone())
            .collect()
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub seq: u64,
    pub step: String,
    pub kind: &'static str,
    pub attempt: u32,
    pub outcome: &'static str,
    pub detail: String,
    pub at: DateTime<Utc>,
    pub elapsed_ms: u64,
}

/// What a transition asks the driver to do, inside the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Publish a command (through the outbox).
    Send {
        message_id: Uuid,
        service: &'static str,
        message_type: String,
        payload: Vec<u8>,
        idempotency_key: String,
        attempt: u32,
    },
    /// Arm a durable timer; a firing whose token is no longer current is ignored.
    Arm { token: Uuid, due: DateTime<Utc> },
    /// Append to the timeline.
    Log(Entry),
    /// Publish a saga lifecycle event (`orchestrator.saga.<what>`).
    Lifecycle(&'static str),
}
