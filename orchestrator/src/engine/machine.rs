//! The saga state machine: pure functions from (definition, instance, input, now) to the new
//! instance and the effects to persist in the same transaction. No IO here.
//!
//! Forward: each step runs one activity (command or wait), or one per item for a parallel step;
//! when all are done the step is recorded for compensation and the next step starts. A
//! retryable failure or a step timeout re-sends with backoff and jitter up to the retry policy;
//! a business failure (or an exhausted retry) before the pivot compensates the completed steps
//! in strict reverse order (branches of one parallel step concurrently); past the pivot, or
//! when a compensation keeps failing, the saga parks as NEEDS_ATTENTION with an event and an
//! operator work order.

use super::flow::{
    Action, Cmd, CmdResult, Ctx, Department, Flow, Next, OnTimeout, Outcome, Step, Unit,
    WaitOutcome,
};
use super::instance::{ActState, Activity, Completed, Effect, Entry, Instance, Phase, Status};
use aftersales_proto::common::v1::{Actor, ActorKind};
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::messaging::v1::DomainEvent;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// Retries with exponential backoff and jitter.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Deliveries before giving up (first one included).
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
}

impl RetryPolicy {
    /// Delay before delivery `attempt + 1`: base·2^(attempt-1), capped, plus up to 50 % jitter.
    pub fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max);
        capped + capped.mul_f64(jitter.clamp(0.0, 1.0) * 0.5)
    }
}

/// Engine settings (from the orchestrator's config).
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a command may go unanswered before it is re-sent.
    pub command_timeout: Duration,
    pub retry: RetryPolicy,
    pub compensation_retry: RetryPolicy,
    /// Overrides of wait deadlines by name.
    pub deadlines: HashMap<String, Duration>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            command_timeout: Duration::from_secs(30),
            retry: RetryPolicy {
                max_attempts: 5,
                base: Duration::from_millis(500),
                max: Duration::from_secs(60),
            },
            compensation_retry: RetryPolicy {
                max_attempts: 8,
                base: Duration::from_millis(500),
                max: Duration::from_secs(60),
            },
            deadlines: HashMap::new(),
        }
    }
}

/// What a reply said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    Success,
    BusinessFailure,
    RetryableFailure,
}

/// An operator action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpAction {
    Retry,
    Cancel,
    Pause,
    Resume,
}

impl OpAction {
    pub fn as_str(self) -> &'static str {
        match self {
            OpAction::Retry => "retry",
            OpAction::Cancel => "cancel",
            OpAction::Pause => "pause",
            OpAction::Resume => "resume",
        }
    }
}

/// Something that happened to a saga.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    Reply {
        message_id: Uuid,
        kind: ReplyKind,
        reason: String,
        result: CmdResult,
    },
    Event(&'a DomainEvent),
    Timer(Uuid),
    Operator(OpAction),
}

/// An operator action the saga's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {detail}")]
pub struct Refused {
    pub rule: &'static str,
    pub detail: String,
}

fn refused(rule: &'static str, detail: impl Into<String>) -> Refused {
    Refused {
        rule,
        detail: detail.into(),
    }
}

/// The engine: settings plus a source of jitter and ids (deterministic in tests).
pub struct Machine<'s> {
    pub settings: &'s Settings,
    pub jitter: fn() -> f64,
}

/// One transition in progress.
struct Tr<'a> {
    flow: &'a Flow,
    inst: &'a mut Instance,
    now: DateTime<Utc>,
    effects: Vec<Effect>,
    settings: &'a Settings,
    jitter: fn() -> f64,
}

impl Machine<'_> {
    /// A new saga at its first step.
    pub fn start(
        &self,
        flow: &Flow,
        id: Uuid,
        business_key: String,
        data: super::flow::Data,
        now: DateTime<Utc>,
    ) -> (Instance, Vec<Effect>) {
        let mut inst = Instance {
            id,
            flow: flow.name.to_owned(),
            version: flow.version,
            business_key,
            status: Status::Running,
            resume_to: None,
            paused_from: None,
            cancel_requested: false,
            phase: Phase::Forward,
            step: 0,
            activities: Vec::new(),
            completed: Vec::new(),
            past_pivot: false,
            data,
            last_error: None,
            parks: 0,
            reruns: 0,
            seq: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tr = self.tr(flow, &mut inst, now);
        tr.log_saga("started", String::new());
        tr.effects.push(Effect::Lifecycle("started"));
        tr.enter_step();
        let effects = tr.effects;
        (inst, effects)
    }

    /// Applies one input. Operator actions the state does not allow are refused and change
    /// nothing; every other input is absorbed (stale replies and timers are logged and ignored).
    pub fn apply(
        &self,
        flow: &Flow,
        inst: &mut Instance,
        input: Input<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Effect>, Refused> {
        if let Input::Operator(action) = input {
            check_operator(flow, inst, action)?;
        }
        let mut tr = self.tr(flow, inst, now);
        match input {
            Input::Reply {
                message_id,
                kind,
                reason,
                result,
            } => tr.on_reply(message_id, kind, reason, result),
            Input::Event(event) => tr.on_event(event),
            Input::Timer(token) => tr.on_timer(token),
            Input::Operator(action) => tr.on_operator(action),
        }
        tr.inst.updated_at = now;
        Ok(tr.effects)
    }

    fn tr<'a>(&'a self, flow: &'a Flow, inst: &'a mut Instance, now: DateTime<Utc>) -> Tr<'a> {
        Tr {
            flow,
            inst,
            now,
            effects: Vec::new(),
            settings: self.settings,
            jitter: self.jitter,
        }
    }
}

/// The current step is the pivot and one of its commands may have acted (in flight, unanswered,
/// or given up with an unknown result).
fn pivot_in_doubt(flow: &Flow, inst: &Instance) -> bool {
    let is_pivot = inst.phase == Phase::Forward
        && matches!(
            flow.steps.get(inst.step).and_then(Step::unit),
            Some(Unit::Command(c)) if c.pivot
        );
    is_pivot
        && inst.activities.iter().any(|a| {
            a.state == ActState::InFlight || a.maybe_effect || a.park || a.state == ActState::Done
        })
}

fn check_operator(flow: &Flow, inst: &Instance, action: OpAction) -> Result<(), Refused> {
    let s = inst.status;
    match action {
        OpAction::Retry => {
            let retryable = s == Status::NeedsAttention
                || (matches!(s, Status::Running | Status::Compensating)
                    && inst.activities.iter().any(|a| a.state == ActState::Backoff));
            if !retryable {
                return Err(refused(
                    "saga_not_retryable",
                    format!("a {} saga has no failed step to retry", s.as_str()),
                ));
            }
        }
        OpAction::Cancel => {
            if s.is_terminal() {
                return Err(refused("saga_finished", "the saga has finished"));
            }
            if inst.past_pivot {
                return Err(refused(
                    "saga_past_pivot",
                    "money has moved: the saga can only go forward",
                ));
            }
            if inst.phase == Phase::Compensating || inst.cancel_requested {
                return Err(refused(
                    "saga_already_compensating",
                    "the saga is already compensating",
                ));
            }
            if pivot_in_doubt(flow, inst) {
                return Err(refused(
                    "saga_past_pivot",
                    "the refund may have moved money: retry it to a definite result instead",
                ));
            }
        }
        OpAction::Pause => {
            if s.is_terminal() {
                return Err(refused("saga_finished", "the saga has finished"));
            }
            if s == Status::Paused {
                return Err(refused("saga_already_paused", "the saga is already paused"));
            }
        }
        OpAction::Resume => {
            if s != Status::Paused {
                return Err(refused("saga_not_paused", "the saga is not paused"));
            }
        }
    }
    Ok(())
}

impl<'a> Tr<'a> {
    fn step_def(&self) -> Option<&'a Step> {
        let flow: &'a Flow = self.flow;
        flow.steps.get(self.inst.step)
    }

    fn step_name(&self) -> String {
        self.step_def()
            .map(|s| s.name().to_owned())
            .unwrap_or_default()
    }

    fn log(&mut self, kind: &'static str, attempt: u32, outcome: &'static str, detail: String) {
        self.log_at(kind, attempt, outcome, detail, None)
    }

    fn log_at(
        &mut self,
        kind: &'static str,
        attempt: u32,
        outcome: &'static str,
        detail: String,
        started: Option<DateTime<Utc>>,
    ) {
        self.inst.seq += 1;
        let elapsed_ms = started
            .map(|s| u64::try_from((self.now - s).num_milliseconds()).unwrap_or(0))
            .unwrap_or(0);
        let step = self.step_name();
        self.effects.push(Effect::Log(Entry {
            seq: self.inst.seq,
            step,
            kind,
            attempt,
            outcome,
            detail,
            at: self.now,
            elapsed_ms,
        }));
    }

    fn log_saga(&mut self, outcome: &'static str, detail: String) {
        self.inst.seq += 1;
        self.effects.push(Effect::Log(Entry {
            seq: self.inst.seq,
            step: String::new(),
            kind: "saga",
            attempt: 0,
            outcome,
            detail,
            at: self.now,
            elapsed_ms: 0,
        }));
    }

    fn compensating(&self) -> bool {
        self.inst.phase == Phase::Compensating
    }

    fn unit_kind(&self) -> &'static str {
        if self.compensating() {
            "compensation"
        } else {
            self.step_def().map(Step::kind).unwrap_or("saga")
        }
    }

    // ---- forward -------------------------------------------------------------------------

    /// Starts the current step (forward phase).
    fn enter_step(&mut self) {
        self.inst.activities.clear();
        let Some(step) = self.flow.steps.get(self.inst.step) else {
            return self.complete();
        };
        match step {
            Step::Decision(d) => {
                let decided = (d.decide)(&self.inst.data);
                match decided {
                    Ok(Next::Continue) => {
                        self.log("decision", 1, "decided", "continue".into());
                        self.inst.step += 1;
                        self.enter_step();
                    }
                    Ok(Next::Goto(target)) => {
                        self.log("decision", 1, "decided", format!("go to {target}"));
                        match self.flow.step_index(target) {
                            Some(i) => {
                                self.inst.step = i;
                                self.enter_step();
                            }
                            None => self.fail(format!("decision names unknown step {target}")),
                        }
                    }
                    Ok(Next::Complete) => {
                        self.log("decision", 1, "decided", "complete".into());
                        self.complete();
                    }
                    Err(reason) => {
                        self.log("decision", 1, "business_failure", reason.clone());
                        self.fail(reason);
                    }
                }
            }
            Step::Parallel(p) => match (p.items)(&self.inst.data) {
                Ok(items) => {
                    self.log(
                        "parallel",
                        1,
                        "fan_out",
                        format!("{} branches", items.len()),
                    );
                    let branches = (0..).zip(items.into_iter().map(Some)).collect();
                    self.launch(branches);
                }
                Err(reason) => self.fail(reason),
            },
            Step::Command(_) | Step::Wait(_) => self.launch(vec![(0, None)]),
        }
    }

    /// Creates and starts one activity per `(branch, item)` of the current step (either phase).
    fn launch(&mut self, branches: Vec<(u32, Option<Value>)>) {
        let now = self.now;
        self.inst.activities = branches
            .into_iter()
            .map(|(branch, item)| Activity::new(branch, item, now))
            .collect();
        for i in 0..self.inst.activities.len() {
            self.begin(i);
        }
        self.settle();
    }

    /// Sends the command of activity `i` (a first delivery or a retry), or starts its wait.
    fn begin(&mut self, i: usize) {
        let Some(unit) = self.step_def().and_then(Step::unit) else {
            return;
        };
        match unit {
            Unit::Command(c) => {
                let action = if self.compensating() {
                    c.compensation
                } else {
                    Some(c.action)
                };
                match action {
                    Some(action) => self.send(i, action),
                    None => self.inst.activities[i].state = ActState::Done,
                }
            }
            Unit::Wait(w) => {
                let act = &self.inst.activities[i];
                let key =
                    idempotency_key(self.inst.id, self.inst.step, self.inst.reruns, act, false);
                let ctx = Ctx {
                    data: &self.inst.data,
                    item: act.item.as_ref(),
                    key: &key,
                };
                match (w.key_value)(&ctx) {
                    Ok(value) => {
                        let deadline = self
                            .settings
                            .deadlines
                            .get(w.deadline.0)
                            .copied()
                            .unwrap_or(w.deadline.1);
                        let due = at(self.now, deadline);
                        let token = Uuid::now_v7();
                        let act = &mut self.inst.activities[i];
                        act.state = ActState::Waiting;
                        act.park = false;
                        act.wait_key = Some(format!("{}={value}", w.key_name));
                        act.timer = Some(token);
                        act.buffer_checked = false;
                        act.started_at = self.now;
                        act.attempt += 1;
                        let attempt = act.attempt;
                        self.effects.push(Effect::Arm { token, due });
                        self.log(
                            "wait",
                            attempt,
                            "waiting",
                            format!(
                                "{} for {}={value} until {}",
                                w.events.join("|"),
                                w.key_name,
                                due.to_rfc3339()
                            ),
                        );
                    }
                    Err(reason) => {
                        self.inst.activities[i].state = ActState::Failed {
                            reason: reason.clone(),
                        };
                        self.log("wait", 1, "business_failure", reason);
                    }
                }
            }
        }
    }

    fn send(&mut self, i: usize, action: Action) {
        let compensating = self.compensating();
        let step = self.inst.step;
        let act = &mut self.inst.activities[i];
        if act.round_burned {
            act.round += 1;
            act.round_burned = false;
        }
        act.attempt += 1;
        let key = idempotency_key(self.inst.id, step, self.inst.reruns, act, compensating);
        let ctx = Ctx {
            data: &self.inst.data,
            item: act.item.as_ref(),
            key: &key,
        };
        let built: Result<Cmd, String> = (action.build)(&ctx);
        let attempt = act.attempt;
        match built {
            Ok(cmd) => {
                let message_id = Uuid::now_v7();
                let token = Uuid::now_v7();
                let act = &mut self.inst.activities[i];
                act.state = ActState::InFlight;
                act.message_id = Some(message_id);
                act.timer = Some(token);
                if attempt == 1 {
                    act.started_at = self.now;
                }
                let started = act.started_at;
                let due = at(self.now, self.settings.command_timeout);
                let detail = format!("{} to {} key {key}", cmd.message_type, cmd.service);
                self.effects.push(Effect::Send {
                    message_id,
                    service: cmd.service,
                    message_type: cmd.message_type,
                    payload: cmd.payload,
                    idempotency_key: key,
                    attempt,
                });
                self.effects.push(Effect::Arm { token, due });
                let kind = self.unit_kind();
                self.log_at(kind, attempt, "sent", detail, Some(started));
            }
            Err(reason) => {
                self.inst.activities[i].state = ActState::Failed {
                    reason: reason.clone(),
                };
                let kind = self.unit_kind();
                self.log(kind, attempt, "business_failure", reason);
            }
        }
    }

    fn on_reply(&mut self, message_id: Uuid, kind: ReplyKind, reason: String, result: CmdResult) {
        let Some(i) = self
            .inst
            .activities
            .iter()
            .position(|a| a.message_id == Some(message_id) && a.state == ActState::InFlight)
        else {
            let detail = if result.result_type.is_empty() {
                format!("{kind:?} {reason}")
            } else {
                result.result_type.clone()
            };
            self.log_saga("stale_reply", detail);
            return;
        };
        let unit = self.step_def().and_then(Step::unit);
        let Some(Unit::Command(step)) = unit else {
            return;
        };
        let action = if self.compensating() {
            step.compensation
        } else {
            Some(step.action)
        };
        let ukind = self.unit_kind();
        let act = &mut self.inst.activities[i];
        act.timer = None;
        act.message_id = None;
        let (attempt, started) = (act.attempt, act.started_at);
        match kind {
            ReplyKind::Success => {
                let item = act.item.clone();
                let outcome = match action.and_then(|a| a.on_result) {
                    Some(f) => f(&mut self.inst.data, item.as_ref(), &result),
                    None => Outcome::Done,
                };
                match outcome {
                    Outcome::Done => {
                        self.inst.activities[i].state = ActState::Done;
                        self.inst.activities[i].maybe_effect = false;
                        self.log_at(ukind, attempt, "succeeded", String::new(), Some(started));
                    }
                    Outcome::DoneWithoutEffect => {
                        self.inst.activities[i].state = ActState::Done;
                        self.inst.activities[i].maybe_effect = false;
                        self.inst.activities[i].no_effect = true;
                        self.log_at(
                            ukind,
                            attempt,
                            "succeeded",
                            "no effect: nothing to undo".into(),
                            Some(started),
                        );
                    }
                    Outcome::Retry(why) => {
                        self.inst.activities[i].round_burned = true;
                        self.inst.activities[i].maybe_effect = false;
                        self.log_at(ukind, attempt, "failed_result", why.clone(), Some(started));
                        self.retry_or_give_up(i, why);
                    }
                    Outcome::Fail(why) => {
                        // The command succeeded: on the pivot, money may have moved, so an
                        // operator must look rather than compensations run.
                        self.inst.activities[i].park = step.pivot && !self.compensating();
                        self.inst.activities[i].maybe_effect = false;
                        self.log_at(
                            ukind,
                            attempt,
                            "business_failure",
                            why.clone(),
                            Some(started),
                        );
                        self.inst.activities[i].state = ActState::Failed { reason: why };
                    }
                }
            }
            ReplyKind::BusinessFailure => {
                act.maybe_effect = false;
                self.log_at(
                    ukind,
                    attempt,
                    "business_failure",
                    reason.clone(),
                    Some(started),
                );
                self.inst.activities[i].state = ActState::Failed { reason };
            }
            ReplyKind::RetryableFailure => {
                // An earlier delivery under this key may still be running: keep maybe_effect.
                self.log_at(
                    ukind,
                    attempt,
                    "retryable_failure",
                    reason.clone(),
                    Some(started),
                );
                self.retry_or_give_up(i, reason);
            }
        }
        self.settle();
    }

    fn policy(&self) -> &RetryPolicy {
        if self.compensating() {
            &self.settings.compensation_retry
        } else {
            &self.settings.retry
        }
    }

    /// Schedules a re-send with backoff, or gives the activity up when the policy is spent.
    fn retry_or_give_up(&mut self, i: usize, reason: String) {
        let policy = self.policy().clone();
        let attempt = self.inst.activities[i].attempt;
        self.inst.last_error = Some(reason.clone());
        let canceling = self.inst.cancel_requested && !self.compensating();
        if attempt < policy.max_attempts && !canceling {
            let delay = policy.backoff(attempt, (self.jitter)());
            let token = Uuid::now_v7();
            let act = &mut self.inst.activities[i];
            act.state = ActState::Backoff;
            act.timer = Some(token);
            self.effects.push(Effect::Arm {
                token,
                due: at(self.now, delay),
            });
        } else {
            // Money may be in an unknown state when the pivot gives up: finance must look, so
            // the saga parks instead of compensating.
            let pivot = !self.compensating()
                && matches!(self.step_def().and_then(Step::unit), Some(Unit::Command(c)) if c.pivot);
            let act = &mut self.inst.activities[i];
            act.state = ActState::Failed {
                reason: format!("retries exhausted after {attempt} attempts: {reason}"),
            };
            act.timer = None;
            act.park = pivot;
        }
    }

    fn on_timer(&mut self, token: Uuid) {
        let Some(i) = self
            .inst
            .activities
            .iter()
            .position(|a| a.timer == Some(token))
        else {
            return; // stale: the activity moved on
        };
        self.inst.activities[i].timer = None;
        if self.inst.status == Status::Paused || self.inst.status == Status::NeedsAttention {
            self.inst.activities[i].deferred = true;
            self.log(
                self.unit_kind(),
                self.inst.activities[i].attempt,
                "timer_deferred",
                "saga not running".into(),
            );
            return;
        }
        self.fire(i);
        self.settle();
    }

    /// Acts on activity `i`'s timer.
    fn fire(&mut self, i: usize) {
        let ukind = self.unit_kind();
        let act = &mut self.inst.activities[i];
        act.deferred = false;
        match act.state.clone() {
            ActState::Backoff => self.resend(i),
            ActState::InFlight => {
                act.maybe_effect = true;
                act.message_id = None;
                let (attempt, started) = (act.attempt, act.started_at);
                self.log_at(
                    ukind,
                    attempt,
                    "timed_out",
                    "no reply within the step timeout".into(),
                    Some(started),
                );
                self.retry_or_give_up(i, "step timed out".into());
                // A timed-out command is re-sent at once when retries remain: its key is the
                // same, so a late first delivery and the re-send have one effect.
                if self.inst.activities[i].state == ActState::Backoff {
                    self.resend(i);
                }
            }
            ActState::Waiting => self.deadline_passed(i),
            ActState::Done | ActState::Failed { .. } => {}
        }
    }

    fn resend(&mut self, i: usize) {
        let Some(Unit::Command(c)) = self.step_def().and_then(Step::unit) else {
            return;
        };
        let action = if self.compensating() {
            c.compensation
        } else {
            Some(c.action)
        };
        if let Some(action) = action {
            self.send(i, action);
        }
    }

    fn deadline_passed(&mut self, i: usize) {
        let Some(Unit::Wait(w)) = self.step_def().and_then(Step::unit) else {
            return;
        };
        let (attempt, started) = (
            self.inst.activities[i].attempt,
            self.inst.activities[i].started_at,
        );
        self.inst.activities[i].timer = None;
        match w.on_timeout {
            OnTimeout::Continue => {
                self.log_at(
                    "wait",
                    attempt,
                    "deadline_passed",
                    "continue".into(),
                    Some(started),
                );
                self.inst.activities[i].state = ActState::Done;
            }
            OnTimeout::Fail(reason) | OnTimeout::Park(reason) => {
                self.log_at(
                    "wait",
                    attempt,
                    "deadline_passed",
                    reason.into(),
                    Some(started),
                );
                self.inst.activities[i].state = ActState::Failed {
                    reason: reason.into(),
                };
                // A wait that parks goes to an operator even before the pivot.
                self.inst.activities[i].park = matches!(w.on_timeout, OnTimeout::Park(_));
            }
        }
    }

    fn on_event(&mut self, event: &DomainEvent) {
        let Some(Unit::Wait(w)) = self.step_def().and_then(Step::unit) else {
            return;
        };
        if !w.events.contains(&event.name.as_str()) {
            return;
        }
        let key = event
            .keys
            .get(w.key_name)
            .map(|v| format!("{}={v}", w.key_name));
        let Some(i) = self
            .inst
            .activities
            .iter()
            .position(|a| a.state == ActState::Waiting && a.wait_key == key && key.is_some())
        else {
            return;
        };
        let item = self.inst.activities[i].item.clone();
        let (attempt, started) = (
            self.inst.activities[i].attempt,
            self.inst.activities[i].started_at,
        );
        match (w.on_event)(&mut self.inst.data, item.as_ref(), event) {
            WaitOutcome::Ignore => {
                self.log("wait", attempt, "event_ignored", event.name.clone());
                return;
            }
            WaitOutcome::Done => {
                self.log_at(
                    "wait",
                    attempt,
                    "event_received",
                    event.name.clone(),
                    Some(started),
                );
                self.inst.activities[i].state = ActState::Done;
            }
            WaitOutcome::Fail(reason) => {
                self.log_at(
                    "wait",
                    attempt,
                    "business_failure",
                    format!("{}: {reason}", event.name),
                    Some(started),
                );
                self.inst.activities[i].state = ActState::Failed { reason };
            }
        }
        self.inst.activities[i].timer = None;
        if self.inst.status == Status::Paused {
            return;
        }
        self.settle();
    }

    /// Moves on when every activity of the current step has finished.
    fn settle(&mut self) {
        if matches!(self.inst.status, Status::Paused | Status::NeedsAttention)
            || self.inst.status.is_terminal()
        {
            return;
        }
        let busy = self.inst.activities.iter().any(|a| {
            matches!(
                a.state,
                ActState::InFlight | ActState::Backoff | ActState::Waiting
            )
        });
        if busy {
            return;
        }
        let failure = self.inst.activities.iter().find_map(|a| match &a.state {
            ActState::Failed { reason } => Some(reason.clone()),
            _ => None,
        });
        if self.compensating() {
            match failure {
                None => self.next_compensation(),
                Some(reason) => self.park(format!("compensation failed: {reason}")),
            }
            return;
        }
        if self.inst.cancel_requested {
            // Every in-flight command has answered or timed out: undo all that did or may have.
            self.record_for_compensation(true);
            return self.fail("canceled by an operator".into());
        }
        let park_wait = self.inst.activities.iter().any(|a| a.park);
        match failure {
            None => self.step_done(),
            Some(reason) if park_wait || self.inst.past_pivot => self.park(reason),
            Some(reason) => {
                self.record_for_compensation(true);
                self.fail(reason);
            }
        }
    }

    fn step_done(&mut self) {
        self.record_for_compensation(false);
        if let Some(Step::Command(c)) = self.step_def()
            && c.pivot
        {
            self.inst.past_pivot = true;
            self.log(
                "command",
                0,
                "pivot_passed",
                "the saga now only moves forward".into(),
            );
        }
        self.inst.step += 1;
        self.enter_step();
    }

    /// Remembers the current step's branches that succeeded (and, on failure, those whose
    /// effect is unknown) if the step has a compensation.
    fn record_for_compensation(&mut self, include_unknown: bool) {
        let has_comp = matches!(self.step_def().and_then(Step::unit), Some(Unit::Command(c)) if c.compensation.is_some());
        if !has_comp {
            return;
        }
        let branches: Vec<(u32, Option<Value>)> = self
            .inst
            .activities
            .iter()
            .filter(|a| {
                (a.state == ActState::Done && !a.no_effect) || (include_unknown && a.maybe_effect)
            })
            .map(|a| (a.branch, a.item.clone()))
            .collect();
        if !branches.is_empty() {
            self.inst.completed.push(Completed {
                step: self.inst.step,
                branches,
            });
        }
    }

    /// A business failure before the pivot: compensate in reverse order.
    fn fail(&mut self, reason: String) {
        self.inst.last_error = Some(reason.clone());
        self.log_saga("compensating", reason);
        self.inst.status = Status::Compensating;
        self.inst.phase = Phase::Compensating;
        self.inst.activities.clear();
        self.next_compensation();
    }

    fn next_compensation(&mut self) {
        match self.inst.completed.pop() {
            None => {
                self.inst.activities.clear();
                self.inst.status = Status::Compensated;
                self.inst.step = self.flow.steps.len();
                self.log_saga("compensated", String::new());
                self.effects.push(Effect::Lifecycle("compensated"));
            }
            Some(done) => {
                self.inst.step = done.step;
                self.launch(done.branches);
            }
        }
    }

    fn complete(&mut self) {
        self.inst.activities.clear();
        self.inst.step = self.flow.steps.len();
        self.inst.status = Status::Completed;
        self.log_saga("completed", String::new());
        self.effects.push(Effect::Lifecycle("completed"));
    }

    /// Parks the saga: NEEDS_ATTENTION, an event and an operator work order.
    fn park(&mut self, reason: String) {
        self.inst.resume_to = Some(if self.compensating() {
            Status::Compensating
        } else {
            Status::Running
        });
        self.inst.status = Status::NeedsAttention;
        self.inst.last_error = Some(reason.clone());
        self.inst.parks += 1;
        let department = match self.step_def().and_then(Step::unit) {
            Some(Unit::Command(c)) => c.department,
            Some(Unit::Wait(w)) => w.department,
            None => Department::CustomerService,
        };
        let step = self.step_name();
        let data_str = |k: &str| {
            self.inst
                .data
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let key = format!("{}:park:{}", self.inst.id, self.inst.parks);
        let request = complaints::CreateWorkOrderRequest {
            idempotency_key: key.clone(),
            actor: Some(system_actor()),
            order_id: data_str("order_id"),
            case_id: data_str("case_id"),
            department: match department {
                Department::Finance => complaints::Department::Finance,
                Department::CustomerService => complaints::Department::CustomerService,
                Department::Warehouse => complaints::Department::Warehouse,
                Department::Delivery => complaints::Department::Delivery,
            } as i32,
            title: truncate(
                &format!("saga {} needs attention at {step}", self.inst.flow),
                128,
            ),
            description: truncate(
                &format!(
                    "saga {} ({}) parked at step {step}: {reason}. Fix the cause, then `aftersalesctl saga retry {}`.",
                    self.inst.id, self.inst.business_key, self.inst.id
                ),
                4096,
            ),
            ..Default::default()
        };
        let cmd = Cmd::new("complaints", &request);
        self.effects.push(Effect::Send {
            message_id: Uuid::now_v7(),
            service: cmd.service,
            message_type: cmd.message_type,
            payload: cmd.payload,
            idempotency_key: key,
            attempt: 1,
        });
        self.log_saga("parked", reason);
        self.effects.push(Effect::Lifecycle("parked"));
    }

    fn on_operator(&mut self, action: OpAction) {
        match action {
            OpAction::Pause => {
                self.inst.paused_from = Some(self.inst.status);
                self.inst.status = Status::Paused;
                self.log_saga("paused", String::new());
                self.effects.push(Effect::Lifecycle("paused"));
            }
            OpAction::Resume => {
                let to = self.inst.paused_from.take().unwrap_or(Status::Running);
                self.inst.status = to;
                self.log_saga("resumed", String::new());
                self.effects.push(Effect::Lifecycle("resumed"));
                if to == Status::NeedsAttention {
                    return;
                }
                for i in 0..self.inst.activities.len() {
                    if self.inst.activities[i].deferred {
                        self.fire(i);
                    }
                }
                self.settle();
            }
            OpAction::Cancel => {
                self.inst.paused_from = None;
                self.inst.resume_to = None;
                self.inst.status = Status::Running;
                self.inst.cancel_requested = true;
                self.log_saga("cancel_requested", String::new());
                // Nothing new starts: scheduled retries and waits end now; commands in flight
                // are awaited (or time out) so that what they did is known before undoing it.
                for i in 0..self.inst.activities.len() {
                    let act = &mut self.inst.activities[i];
                    match act.state {
                        ActState::Backoff | ActState::Waiting => {
                            act.state = ActState::Failed {
                                reason: "canceled by an operator".into(),
                            };
                            act.timer = None;
                            act.deferred = false;
                        }
                        ActState::InFlight if act.deferred => self.fire(i),
                        _ => {}
                    }
                }
                self.settle();
            }
            OpAction::Retry => {
                if self.inst.status == Status::NeedsAttention {
                    self.inst.status = self.inst.resume_to.take().unwrap_or(Status::Running);
                }
                self.inst.last_error = None;
                self.log_saga("retry_requested", String::new());
                self.retry_now();
            }
        }
    }

    /// Operator retry: failed and backing-off activities of the current step start again with a
    /// fresh retry budget; a parked wait restarts from its `retry_from` step.
    fn retry_now(&mut self) {
        if !self.compensating()
            && let Some(Unit::Wait(w)) = self.step_def().and_then(Step::unit)
        {
            if let Some(target) = w.retry_from.and_then(|t| self.flow.step_index(t)) {
                // Re-run from the named step under fresh idempotency rounds: the earlier
                // results are definite and stored under the old keys.
                self.inst.reruns += 1;
                self.inst.step = target;
                self.inst.completed.retain(|c| c.step < target);
                self.enter_step();
                return;
            }
            for i in 0..self.inst.activities.len() {
                if matches!(self.inst.activities[i].state, ActState::Failed { .. }) {
                    self.inst.activities[i].attempt = 0;
                    self.begin(i);
                }
            }
            self.settle();
            return;
        }
        for i in 0..self.inst.activities.len() {
            let act = &mut self.inst.activities[i];
            let again =
                matches!(act.state, ActState::Failed { .. } | ActState::Backoff) || act.deferred;
            if again {
                act.attempt = 0;
                act.timer = None;
                act.deferred = false;
                act.park = false;
                self.resend(i);
            }
        }
        self.settle();
    }
}

/// `saga:step:branch:do|undo:reruns.round`: operator re-runs and definite failures each move
/// to keys never used before; re-sends of one attempt share the key.
fn idempotency_key(
    saga: Uuid,
    step: usize,
    reruns: u32,
    act: &Activity,
    compensating: bool,
) -> String {
    let phase = if compensating { "undo" } else { "do" };
    format!(
        "{saga}:{step}:{}:{phase}:{reruns}.{}",
        act.branch, act.round
    )
}

/// `now + d`, saturating at the end of time instead of overflowing.
fn at(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The orchestrator acting on its own.
pub fn system_actor() -> Actor {
    Actor {
        kind: ActorKind::System as i32,
        id: "orchestrator".into(),
    }
}
