//! The engine's state machine against an in-memory store: a fake clock, durable timers in a
//! list, buffered events and wait subscriptions in memory, and test code playing the services.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::flow::*;
use super::instance::{Effect, Entry, Instance, Status};
use super::machine::{Input, Machine, OpAction, ReplyKind, RetryPolicy, Settings};
use aftersales_proto::common::v1::Money;
use aftersales_proto::messaging::v1::DomainEvent;
use chrono::{DateTime, Duration as Cd, Utc};
use prost::Message;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

/// A sent command as the fake services see it.
#[derive(Debug, Clone)]
struct Sent {
    message_id: Uuid,
    service: &'static str,
    /// `Money.currency` carries the step name, `minor_units` nothing.
    what: String,
    key: String,
    attempt: u32,
}

/// The in-memory store and driver.
struct Mem {
    flow: Flow,
    settings: Settings,
    inst: Instance,
    now: DateTime<Utc>,
    timers: Vec<(Uuid, DateTime<Utc>)>,
    outbox: Vec<Sent>,
    timeline: Vec<Entry>,
    lifecycle: Vec<&'static str>,
    buffered: Vec<DomainEvent>,
}

fn cmd(service: &'static str, what: &str) -> Cmd {
    Cmd::new(
        service,
        &Money {
            minor_units: 0,
            currency: what.into(),
        },
    )
}

fn cmd_step(name: &'static str, comp: bool, pivot: bool) -> CommandStep {
    CommandStep {
        name,
        action: Action {
            build: |c| Ok(cmd("svc", &format!("do:{}", c.key))),
            on_result: Some(|data, item, result| {
                if result.result_type == "retry" {
                    return Outcome::Retry("refused by provider".into());
                }
                let n = data.get("done").and_then(Value::as_u64).unwrap_or(0);
                data.insert("done".into(), json!(n + 1));
                if let Some(i) = item {
                    data.insert(format!("item_{i}"), json!(true));
                }
                Outcome::Done
            }),
        },
        compensation: comp.then_some(Action {
            build: |c| Ok(cmd("svc", &format!("undo:{}", c.key))),
            on_result: None,
        }),
        pivot,
        department: Department::Finance,
    }
}

fn test_flow() -> Flow {
    Flow {
        name: "test",
        version: 1,
        trigger: Trigger {
            event: "test.started",
            start: |_| Ok(None),
        },
        steps: vec![
            Step::Command(cmd_step("a", true, false)),
            Step::Parallel(ParallelStep {
                name: "b",
                items: |_| Ok(vec![json!(1), json!(2)]),
                branch: Branch::Command(cmd_step("b", true, false)),
            }),
            Step::Command(cmd_step("c", false, true)),
            Step::Decision(DecisionStep {
                name: "d",
                decide: |data| {
                    Ok(if data.get("skip_wait").is_some() {
                        Next::Goto("e")
                    } else {
                        Next::Continue
                    })
                },
            }),
            Step::Wait(WaitStep {
                name: "w",
                events: &["svc.thing.done", "svc.thing.failed"],
                key_name: "thing_id",
                key_value: |_| Ok("t1".into()),
                on_event: |_, _, e| match e.name.as_str() {
                    "svc.thing.done" => WaitOutcome::Done,
                    _ => WaitOutcome::Fail("thing failed".into()),
                },
                deadline: ("thing", Duration::from_secs(3600)),
                on_timeout: OnTimeout::Park("thing not done in time"),
                retry_from: Some("c"),
                department: Department::Finance,
            }),
            Step::Command(cmd_step("e", false, false)),
        ],
    }
}

fn settings() -> Settings {
    Settings {
        command_timeout: Duration::from_secs(30),
        retry: RetryPolicy {
            max_attempts: 3,
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        },
        compensation_retry: RetryPolicy {
            max_attempts: 2,
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
        },
        deadlines: Default::default(),
    }
}

impl Mem {
    fn start() -> Self {
        Self::start_with(test_flow(), Default::default())
    }

    fn start_with(flow: Flow, data: Data) -> Self {
        let settings = settings();
        let now = DateTime::parse_from_rfc3339("2026-11-24T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let machine = Machine {
            settings: &settings,
            jitter: || 0.0,
        };
        let (inst, effects) = machine.start(&flow, Uuid::now_v7(), "k".into(), data, now);
        let mut mem = Mem {
            flow,
            settings: settings.clone(),
            inst,
            now,
            timers: Vec::new(),
            outbox: Vec::new(),
            timeline: Vec::new(),
            lifecycle: Vec::new(),
            buffered: Vec::new(),
        };
        mem.absorb(effects);
        mem
    }

    fn absorb(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send {
                    message_id,
                    service,
                    payload,
                    idempotency_key,
                    attempt,
                    ..
                } => {
                    let what = Money::decode(payload.as_slice())
                        .map(|m| m.currency)
                        .unwrap_or_else(|_| "work_order".into());
                    self.outbox.push(Sent {
                        message_id,
                        service,
                        what,
                        key: idempotency_key,
                        attempt,
                    })
                }
                Effect::Arm { token, due } => self.timers.push((token, due)),
                Effect::Log(entry) => self.timeline.push(entry),
                Effect::Lifecycle(what) => self.lifecycle.push(what),
            }
        }
        // Only current timers survive, as in `prune_timers`.
        let current = self.inst.current_timers();
        self.timers.retain(|(t, _)| current.contains(t));
        self.check_buffer();
    }

    fn apply(&mut self, input: Input<'_>) -> Result<(), super::machine::Refused> {
        let machine = Machine {
            settings: &self.settings,
            jitter: || 0.0,
        };
        let effects = machine.apply(&self.flow, &mut self.inst, input, self.now)?;
        self.absorb(effects);
        Ok(())
    }

    fn check_buffer(&mut self) {
        for key in self.inst.wait_keys() {
            if let Some(pos) = self
                .buffered
                .iter()
                .position(|e| e.keys.iter().any(|(k, v)| format!("{k}={v}") == key))
            {
                let event = self.buffered.remove(pos);
                self.apply(Input::Event(&event)).unwrap();
                return;
            }
        }
    }

    /// Commands sent since the last call.
    fn take(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.outbox)
    }

    fn reply(&mut self, s: &Sent, kind: ReplyKind) {
        self.apply(Input::Reply {
            message_id: s.message_id,
            kind,
            reason: if kind == ReplyKind::Success {
                String::new()
            } else {
                "broken".into()
            },
            result: CmdResult::default(),
        })
        .unwrap();
    }

    fn ok_all(&mut self) -> Vec<Sent> {
        let sent = self.take();
        for s in &sent {
            self.reply(s, ReplyKind::Success);
        }
        sent
    }

    /// Advances the clock and fires every due timer, as the poller does.
    fn advance(&mut self, by: Cd) {
        self.now += by;
        loop {
            let due: Vec<Uuid> = self
                .timers
                .iter()
                .filter(|(_, d)| *d <= self.now)
                .map(|(t, _)| *t)
                .collect();
            let Some(token) = due.first().copied() else {
                break;
            };
            self.timers.retain(|(t, _)| *t != token);
            self.apply(Input::Timer(token)).unwrap();
        }
    }

    /// Delivers an event, buffering it when no wait matches yet.
    fn event(&mut self, name: &str) {
        let event = DomainEvent {
            name: name.into(),
            keys: [("thing_id".to_owned(), "t1".to_owned())].into(),
            ..Default::default()
        };
        if self.inst.wait_keys().contains(&"thing_id=t1".to_owned()) {
            self.apply(Input::Event(&event)).unwrap();
        } else {
            self.buffered.push(event);
        }
    }

    fn whats(sent: &[Sent]) -> Vec<String> {
        sent.iter()
            .map(|s| {
                s.what.split(':').next().unwrap_or_default().to_owned() + ":" + &step_of(&s.key)
            })
            .collect()
    }

    fn outcomes(&self) -> Vec<String> {
        self.timeline
            .iter()
            .map(|e| format!("{}/{}", e.step, e.outcome))
            .collect()
    }
}

/// The step index in an idempotency key `saga:step:branch:phase:round`.
fn step_of(key: &str) -> String {
    key.split(':').nth(1).unwrap_or_default().to_owned()
}

/// Runs a fresh saga up to the wait (a, b×2, c done).
fn up_to_wait() -> Mem {
    let mut m = Mem::start();
    m.ok_all(); // a
    m.ok_all(); // b×2
    m.ok_all(); // c
    m
}

#[test]
fn happy_path_runs_every_step_once_and_completes() {
    let mut m = Mem::start();
    let a = m.ok_all();
    assert_eq!(a.len(), 1);
    let b = m.ok_all();
    assert_eq!(b.len(), 2, "parallel fan-out sends both branches at once");
    assert_ne!(b[0].key, b[1].key);
    m.ok_all(); // c (pivot)
    assert!(m.inst.past_pivot);
    assert_eq!(m.inst.status, Status::Running);
    assert_eq!(m.inst.wait_keys(), vec!["thing_id=t1".to_owned()]);
    m.event("svc.thing.done");
    let e = m.ok_all();
    assert_eq!(e.len(), 1);
    assert_eq!(m.inst.status, Status::Completed);
    assert_eq!(m.inst.data["done"], json!(5));
    assert_eq!(m.lifecycle, vec!["started", "completed"]);
    assert!(m.timers.is_empty(), "no timer outlives its step");
    assert!(m.outcomes().contains(&"d/decided".to_owned()));
}

#[test]
fn idempotency_keys_are_deterministic_per_saga_step_branch_and_round() {
    let mut m = Mem::start();
    let a = m.take();
    let id = m.inst.id;
    assert_eq!(a[0].key, format!("{id}:0:0:do:0.1"));
    m.reply(&a[0], ReplyKind::Success);
    let b = m.take();
    assert_eq!(b[1].key, format!("{id}:1:1:do:0.1"));
}

#[test]
fn business_failure_compensates_in_strict_reverse_order() {
    let mut m = Mem::start();
    m.ok_all(); // a
    m.ok_all(); // b×2
    let c = m.take();
    m.reply(&c[0], ReplyKind::BusinessFailure);
    assert_eq!(m.inst.status, Status::Compensating);
    let undo_b = m.take();
    assert_eq!(
        Mem::whats(&undo_b),
        vec!["undo:1", "undo:1"],
        "b's branches are undone together, a waits"
    );
    m.reply(&undo_b[0], ReplyKind::Success);
    assert!(m.take().is_empty(), "a is undone only after every b branch");
    m.reply(&undo_b[1], ReplyKind::Success);
    let undo_a = m.take();
    assert_eq!(Mem::whats(&undo_a), vec!["undo:0"]);
    m.reply(&undo_a[0], ReplyKind::Success);
    assert_eq!(m.inst.status, Status::Compensated);
    assert_eq!(m.lifecycle.last(), Some(&"compensated"));
}

#[test]
fn a_failing_parallel_branch_waits_for_its_siblings_then_undoes_the_ones_that_succeeded() {
    let mut m = Mem::start();
    m.ok_all(); // a
    let b = m.take();
    m.reply(&b[0], ReplyKind::BusinessFailure);
    assert!(m.take().is_empty(), "branch 1 is still in flight");
    m.reply(&b[1], ReplyKind::Success);
    let undo = m.take();
    assert_eq!(undo.len(), 1, "only the branch that succeeded is undone");
    assert!(undo[0].key.contains(":1:1:undo:"));
    m.ok_all_replies(&undo);
    let undo_a = m.ok_all();
    assert_eq!(Mem::whats(&undo_a), vec!["undo:0"]);
    assert_eq!(m.inst.status, Status::Compensated);
}

#[test]
fn retryable_failures_back_off_and_resend_under_the_same_key() {
    let mut m = Mem::start();
    let first = m.take();
    m.reply(&first[0], ReplyKind::RetryableFailure);
    assert!(m.take().is_empty(), "nothing is re-sent before the backoff");
    m.advance(Cd::milliseconds(999));
    assert!(m.take().is_empty());
    m.advance(Cd::milliseconds(1));
    let second = m.take();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].key, first[0].key);
    assert_ne!(second[0].message_id, first[0].message_id);
    assert_eq!(second[0].attempt, 2);
    // A late reply to the first delivery is stale and changes nothing.
    m.reply(&first[0], ReplyKind::Success);
    assert!(m.outcomes().contains(&"/stale_reply".to_owned()));
    m.reply(&second[0], ReplyKind::RetryableFailure);
    m.advance(Cd::seconds(2)); // 1 s · 2^1
    let third = m.take();
    assert_eq!(third[0].attempt, 3);
    m.reply(&third[0], ReplyKind::RetryableFailure);
    // Policy spent before the pivot: nothing to compensate yet, the saga is compensated.
    assert_eq!(m.inst.status, Status::Compensated);
}

#[test]
fn backoff_grows_exponentially_is_capped_and_jittered() {
    let p = RetryPolicy {
        max_attempts: 10,
        base: Duration::from_millis(100),
        max: Duration::from_secs(1),
    };
    assert_eq!(p.backoff(1, 0.0), Duration::from_millis(100));
    assert_eq!(p.backoff(2, 0.0), Duration::from_millis(200));
    assert_eq!(p.backoff(4, 0.0), Duration::from_millis(800));
    assert_eq!(p.backoff(5, 0.0), Duration::from_secs(1));
    assert_eq!(p.backoff(40, 0.0), Duration::from_secs(1));
    assert_eq!(p.backoff(1, 1.0), Duration::from_millis(150));
}

#[test]
fn a_step_timeout_resends_and_an_unanswered_step_is_compensated_too() {
    let mut m2 = Mem::start();
    let a1 = m2.take();
    m2.advance(Cd::seconds(30));
    let a2 = m2.take();
    assert_eq!(a2.len(), 1, "timed out: re-sent at once");
    assert_eq!(a2[0].key, a1[0].key);
    m2.advance(Cd::seconds(30));
    let a3 = m2.take();
    assert_eq!(a3[0].attempt, 3);
    m2.advance(Cd::seconds(30));
    // Never answered: its effect is unknown, so its compensation runs.
    assert_eq!(m2.inst.status, Status::Compensating);
    let undo = m2.take();
    assert_eq!(Mem::whats(&undo), vec!["undo:0"]);
    m2.reply(&undo[0], ReplyKind::Success);
    assert_eq!(m2.inst.status, Status::Compensated);
    assert!(m2.outcomes().iter().any(|o| o == "a/timed_out"));
}

#[test]
fn past_the_pivot_a_failure_parks_with_a_work_order_and_an_operator_retry_finishes() {
    let mut m = up_to_wait();
    m.event("svc.thing.done");
    let e = m.take();
    m.reply(&e[0], ReplyKind::BusinessFailure);
    assert_eq!(m.inst.status, Status::NeedsAttention);
    let wo = m.take();
    assert_eq!(wo.len(), 1);
    assert_eq!(wo[0].service, "complaints");
    assert_eq!(m.lifecycle.last(), Some(&"parked"));
    // An operator fixes the cause and retries: the same key (nothing was stored by the failure).
    m.apply(Input::Operator(OpAction::Retry)).unwrap();
    let again = m.take();
    assert_eq!(again[0].key, e[0].key);
    m.reply(&again[0], ReplyKind::Success);
    assert_eq!(m.inst.status, Status::Completed);
}

#[test]
fn a_compensation_that_keeps_failing_parks_and_retry_completes_it() {
    let mut m = Mem::start();
    m.ok_all(); // a
    let b = m.take();
    m.reply(&b[0], ReplyKind::BusinessFailure);
    m.reply(&b[1], ReplyKind::BusinessFailure);
    let undo_a = m.take();
    m.reply(&undo_a[0], ReplyKind::RetryableFailure);
    m.advance(Cd::seconds(1));
    let undo_a2 = m.take();
    m.reply(&undo_a2[0], ReplyKind::RetryableFailure);
    assert_eq!(
        m.inst.status,
        Status::NeedsAttention,
        "compensation policy spent"
    );
    assert_eq!(
        m.take()[0].service,
        "complaints",
        "an operator work order is opened"
    );
    assert!(m.timers.is_empty());
    m.advance(Cd::hours(5));
    assert!(m.take().is_empty(), "a parked saga does nothing on its own");
    m.apply(Input::Operator(OpAction::Retry)).unwrap();
    assert_eq!(m.inst.status, Status::Compensating);
    let undo_a3 = m.take();
    assert_eq!(undo_a3[0].key, undo_a[0].key);
    m.reply(&undo_a3[0], ReplyKind::Success);
    assert_eq!(m.inst.status, Status::Compensated);
}

#[test]
fn an_event_that_arrives_before_the_wait_is_buffered_not_lost() {
    let mut m = Mem::start();
    m.ok_all(); // a
    m.ok_all(); // b
    m.event("svc.thing.done"); // early: the saga is still at b... then c
    assert_eq!(m.buffered.len(), 1);
    m.ok_all(); // c → decision → wait → takes the buffered event → e
    assert!(m.buffered.is_empty());
    let e = m.take();
    assert_eq!(Mem::whats(&e), vec!["do:5"]);
}

#[test]
fn a_wait_deadline_parks_and_retry_reruns_from_the_named_step_under_new_keys() {
    let mut m = up_to_wait();
    let c_key = m
        .timeline
        .iter()
        .rev()
        .find(|e| e.step == "c" && e.outcome == "sent")
        .map(|e| e.detail.clone())
        .unwrap();
    m.advance(Cd::hours(1));
    assert_eq!(m.inst.status, Status::NeedsAttention);
    assert!(m.outcomes().contains(&"w/deadline_passed".to_owned()));
    m.take(); // work order
    m.apply(Input::Operator(OpAction::Retry)).unwrap();
    let c = m.take();
    assert_eq!(Mem::whats(&c), vec!["do:2"]);
    assert!(c[0].key.ends_with(":do:1.1"), "a new round: {}", c[0].key);
    assert!(!c_key.contains(&c[0].key));
    m.ok_all_replies(&c);
    m.event("svc.thing.done");
    m.ok_all();
    assert_eq!(m.inst.status, Status::Completed, "{:?}", m.outcomes());
}

#[test]
fn a_definite_failed_result_is_retried_under_a_new_round() {
    let mut m = Mem::start();
    let a = m.take();
    m.apply(Input::Reply {
        message_id: a[0].message_id,
        kind: ReplyKind::Success,
        reason: String::new(),
        result: CmdResult {
            result_type: "retry".into(),
            payload: Vec::new(),
        },
    })
    .unwrap();
    m.advance(Cd::seconds(1));
    let again = m.take();
    assert!(a[0].key.ends_with(":do:0.1"));
    assert!(again[0].key.ends_with(":do:0.2"));
}

#[test]
fn pause_holds_the_saga_and_resume_continues_where_it_stopped() {
    let mut m = Mem::start();
    let a = m.take();
    m.apply(Input::Operator(OpAction::Pause)).unwrap();
    assert_eq!(m.inst.status, Status::Paused);
    m.reply(&a[0], ReplyKind::Success);
    assert!(m.take().is_empty(), "no new step starts while paused");
    m.apply(Input::Operator(OpAction::Resume)).unwrap();
    assert_eq!(m.inst.status, Status::Running);
    assert_eq!(m.take().len(), 2);
}

#[test]
fn a_timer_falling_due_while_paused_acts_on_resume() {
    let mut m = Mem::start();
    let a = m.take();
    m.reply(&a[0], ReplyKind::RetryableFailure);
    m.apply(Input::Operator(OpAction::Pause)).unwrap();
    m.advance(Cd::seconds(5));
    assert!(m.take().is_empty());
    m.apply(Input::Operator(OpAction::Resume)).unwrap();
    let again = m.take();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].attempt, 2);
}

#[test]
fn cancel_awaits_commands_in_flight_then_compensates_what_acted() {
    let mut m = Mem::start();
    m.ok_all(); // a
    let b = m.take(); // both branches in flight
    m.apply(Input::Operator(OpAction::Cancel)).unwrap();
    assert!(
        m.take().is_empty(),
        "nothing is undone while a command may still act"
    );
    m.reply(&b[0], ReplyKind::Success);
    m.reply(&b[1], ReplyKind::RetryableFailure);
    // Branch 0 acted and is undone; branch 1 failed without effect and is not retried.
    let undo_b = m.take();
    assert_eq!(undo_b.len(), 1);
    assert!(undo_b[0].key.contains(":1:0:undo:"));
    m.ok_all_replies(&undo_b);
    let undo_a = m.ok_all();
    assert_eq!(Mem::whats(&undo_a), vec!["undo:0"]);
    assert_eq!(m.inst.status, Status::Compensated);

    let mut m = up_to_wait();
    let err = m.apply(Input::Operator(OpAction::Cancel)).unwrap_err();
    assert_eq!(err.rule, "saga_past_pivot");
}

#[test]
fn cancel_is_refused_while_the_pivot_may_have_moved_money() {
    let mut m = Mem::start();
    m.ok_all(); // a
    m.ok_all(); // b
    let c = m.take();
    assert_eq!(
        m.apply(Input::Operator(OpAction::Cancel)).unwrap_err().rule,
        "saga_past_pivot",
        "the refund is in flight"
    );
    m.advance(Cd::seconds(30)); // timed out: unknown effect
    assert_eq!(
        m.apply(Input::Operator(OpAction::Cancel)).unwrap_err().rule,
        "saga_past_pivot"
    );
    // A definite business failure of the pivot compensates as usual.
    let again = m.take();
    m.reply(&again[0], ReplyKind::BusinessFailure);
    assert_eq!(m.inst.status, Status::Compensating);
    drop(c);
}

#[test]
fn a_pivot_success_that_cannot_be_read_parks_instead_of_compensating() {
    let mut flow = test_flow();
    if let Step::Command(c) = &mut flow.steps[2] {
        c.action.on_result = Some(|_, _, _| Outcome::Fail("undecodable result".into()));
    }
    let mut m = Mem::start_with(flow, Default::default());
    m.ok_all(); // a
    m.ok_all(); // b
    m.ok_all(); // c: success, but unreadable
    assert_eq!(m.inst.status, Status::NeedsAttention);
    assert_eq!(m.take()[0].service, "complaints");
}

#[test]
fn a_rerun_after_a_burned_round_never_reuses_a_key() {
    let mut m = Mem::start();
    m.ok_all(); // a
    m.ok_all(); // b
    let c1 = m.take();
    m.apply(Input::Reply {
        message_id: c1[0].message_id,
        kind: ReplyKind::Success,
        reason: String::new(),
        result: CmdResult {
            result_type: "retry".into(),
            payload: Vec::new(),
        },
    })
    .unwrap();
    m.advance(Cd::seconds(1));
    let c2 = m.ok_all(); // round 2 succeeds
    m.event("svc.thing.failed"); // past the pivot: parks
    m.take();
    m.apply(Input::Operator(OpAction::Retry)).unwrap(); // re-run from c
    let c3 = m.take();
    let keys = [&c1[0].key, &c2[0].key, &c3[0].key];
    assert_eq!(
        keys.iter().collect::<std::collections::HashSet<_>>().len(),
        3,
        "{keys:?}"
    );
}

#[test]
fn pausing_a_parked_saga_keeps_where_it_resumes() {
    let mut m = Mem::start();
    m.ok_all(); // a
    let b = m.take();
    m.reply(&b[0], ReplyKind::BusinessFailure);
    m.reply(&b[1], ReplyKind::BusinessFailure);
    let undo = m.take();
    m.reply(&undo[0], ReplyKind::BusinessFailure);
    assert_eq!(m.inst.status, Status::NeedsAttention);
    m.apply(Input::Operator(OpAction::Pause)).unwrap();
    m.apply(Input::Operator(OpAction::Resume)).unwrap();
    assert_eq!(m.inst.status, Status::NeedsAttention);
    m.apply(Input::Operator(OpAction::Retry)).unwrap();
    assert_eq!(m.inst.status, Status::Compensating);
}

impl Mem {
    fn ok_all_replies(&mut self, sent: &[Sent]) {
        for s in sent {
            self.reply(s, ReplyKind::Success);
        }
    }
}

#[test]
fn operator_actions_the_state_does_not_allow_are_refused() {
    let mut m = Mem::start();
    assert_eq!(
        m.apply(Input::Operator(OpAction::Resume)).unwrap_err().rule,
        "saga_not_paused"
    );
    assert_eq!(
        m.apply(Input::Operator(OpAction::Retry)).unwrap_err().rule,
        "saga_not_retryable"
    );
    m.apply(Input::Operator(OpAction::Pause)).unwrap();
    assert_eq!(
        m.apply(Input::Operator(OpAction::Pause)).unwrap_err().rule,
        "saga_already_paused"
    );
    let mut done = up_to_wait();
    done.event("svc.thing.done");
    done.ok_all();
    assert_eq!(
        done.apply(Input::Operator(OpAction::Pause))
            .unwrap_err()
            .rule,
        "saga_finished"
    );
}

#[test]
fn a_failing_event_past_the_pivot_parks() {
    let mut m = up_to_wait();
    m.event("svc.thing.failed");
    assert_eq!(m.inst.status, Status::NeedsAttention);
    assert_eq!(m.inst.last_error.as_deref(), Some("thing failed"));
}

#[test]
fn an_instance_survives_a_json_round_trip() {
    let m = up_to_wait();
    let json = serde_json::to_value(&m.inst).unwrap();
    let back: Instance = serde_json::from_value(json).unwrap();
    assert_eq!(back, m.inst);
}

#[test]
fn registry_pins_versions_and_lists_what_it_listens_to() {
    let mut v2 = test_flow();
    v2.version = 2;
    let reg = Registry::new(vec![test_flow(), v2]).unwrap();
    assert_eq!(reg.get("test", 1).unwrap().version, 1);
    assert_eq!(reg.latest()[0].version, 2);
    assert_eq!(
        reg.event_names(),
        vec!["svc.thing.done", "svc.thing.failed", "test.started"]
    );
    let mut dup = test_flow();
    dup.steps.push(Step::Command(cmd_step("a", false, false)));
    assert!(Registry::new(vec![dup]).is_err());
}

#[test]
fn a_pivot_that_keeps_failing_parks_instead_of_compensating() {
    let mut m = Mem::start();
    m.ok_all(); // a
    m.ok_all(); // b
    for _ in 0..3 {
        let c = m.take();
        m.reply(&c[0], ReplyKind::RetryableFailure);
        m.advance(Cd::seconds(10));
    }
    assert_eq!(m.inst.status, Status::NeedsAttention);
    assert!(!m.inst.past_pivot);
    let wo = m.take();
    assert_eq!(wo.len(), 1);
    assert_eq!(wo[0].service, "complaints");
}
