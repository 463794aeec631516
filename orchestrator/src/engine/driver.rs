//! Runs the pure machine inside PostgreSQL transactions: lock the saga row, apply the input,
//! and write the new state, timeline, timers, wait subscriptions, commands and lifecycle events
//! (through the outbox) in the same transaction.

use super::flow::{Flow, Registry, Step, Unit};
use super::instance::{ActState, Effect, Instance};
use super::machine::{Input, Machine, Refused, Settings};
use super::spans;
use crate::storage;
use aftersales_platform::amqp::Exchange;
use aftersales_platform::outbox::OutboundMessage;
use aftersales_platform::trace;
use aftersales_platform::{AppError, AppResult, Tx};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope};
use chrono::Utc;
use prost::Message;
use std::sync::Arc;
use tracing::Instrument as _;
use uuid::Uuid;

pub const SOURCE: &str = "orchestrator";

/// The engine bound to its definitions and settings.
#[derive(Clone)]
pub struct Driver {
    pub registry: Arc<Registry>,
    pub settings: Arc<Settings>,
    /// Event names some wait listens to, computed once: every event is checked against them.
    pub wait_events: Arc<[&'static str]>,
}

impl Driver {
    pub fn new(registry: Registry, settings: Settings) -> Self {
        Self {
            wait_events: registry.wait_event_names().into(),
            registry: Arc::new(registry),
            settings: Arc::new(settings),
        }
    }

    fn machine(&self) -> Machine<'_> {
        Machine {
            settings: &self.settings,
            jitter: rand::random::<f64>,
        }
    }

    fn flow_of(&self, inst: &Instance) -> AppResult<&Flow> {
        self.registry.get(&inst.flow, inst.version).ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!(
                "saga {} runs {}@{}, which this build does not know",
                inst.id,
                inst.flow,
                inst.version
            ))
        })
    }

    /// Starts a saga of `flow`; `None` when an active saga already holds the business key.
    pub async fn start(
        &self,
        tx: &Tx,
        flow: &Flow,
        business_key: String,
        data: super::flow::Data,
    ) -> AppResult<Option<Uuid>> {
        let id = Uuid::now_v7();
        let (mut inst, effects) = self
            .machine()
            .start(flow, id, business_key, data, Utc::now());
        // The saga's root span, a child of the trigger's trace: every later transition joins it.
        let span = spans::transition(&inst, &step_name(flow, &inst), "start", &Default::default());
        let root = span.in_scope(trace::current);
        // Insert the bare row first (with its root trace context): a second saga on the same key
        // is refused before any effect is written.
        if !storage::insert(tx.conn(), &inst, &step_name(flow, &inst), &root).await? {
            return Ok(None);
        }
        async {
            self.persist(tx, flow, &inst, effects).await?;
            self.check_buffer(tx, flow, &mut inst).await
        }
        .instrument(span)
        .await?;
        Ok(Some(id))
    }

    /// Applies one input to a saga. `Ok(None)` when the saga does not exist.
    pub async fn apply(
        &self,
        tx: &Tx,
        saga: Uuid,
        input: Input<'_>,
    ) -> AppResult<Option<Result<Instance, Refused>>> {
        let Some((mut inst, root)) = storage::lock(tx.conn(), saga).await? else {
            return Ok(None);
        };
        let flow = self.flow_of(&inst)?;
        let span = spans::transition(
            &inst,
            &step_name(flow, &inst),
            &spans::input_label(&input),
            &root,
        );
        async {
            let effects = match self.machine().apply(flow, &mut inst, input, Utc::now()) {
                Ok(e) => e,
                Err(refused) => return Ok(Some(Err(refused))),
            };
            self.persist(tx, flow, &inst, effects).await?;
            self.check_buffer(tx, flow, &mut inst).await?;
            Ok(Some(Ok(inst)))
        }
        .instrument(span)
        .await
    }

    /// Lets a saga waiting on `inst` take the events buffered for it, in the saga's trace.
    pub async fn deliver_buffered(
        &self,
        tx: &Tx,
        mut inst: Instance,
        root: &trace::Headers,
    ) -> AppResult<()> {
        let flow = self.flow_of(&inst)?;
        for a in &mut inst.activities {
            a.buffer_checked = false;
        }
        let span = spans::transition(&inst, &step_name(flow, &inst), "event", root);
        self.check_buffer(tx, flow, &mut inst)
            .instrument(span)
            .await
    }

    /// Feeds buffered events to waits that have not looked at the buffer yet (an event that
    /// arrived before its saga reached the wait).
    pub async fn check_buffer(&self, tx: &Tx, flow: &Flow, inst: &mut Instance) -> AppResult<()> {
        // Bounded: each round either consumes an event or marks every wait as checked.
        for _ in 0..64 {
            let pending: Vec<(usize, String)> = inst
                .activities
                .iter()
                .enumerate()
                .filter(|(_, a)| a.state == ActState::Waiting && !a.buffer_checked)
                .filter_map(|(i, a)| a.wait_key.clone().map(|k| (i, k)))
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            let Some(Unit::Wait(w)) = flow.steps.get(inst.step).and_then(Step::unit) else {
                return Ok(());
            };
            let mut found = None;
            for (i, key) in &pending {
                if let Some(body) =
                    storage::take_buffered(tx.conn(), inst.id, w.events, key).await?
                {
                    found = Some(body);
                    break;
                }
                inst.activities[*i].buffer_checked = true;
            }
            let effects = match found {
                Some(body) => {
                    let event = DomainEvent::decode(body.as_slice())
                        .map_err(|e| AppError::Internal(anyhow::anyhow!("buffered event: {e}")))?;
                    self.machine()
                        .apply(flow, inst, Input::Event(&event), Utc::now())
                        .map_err(|r| AppError::Internal(anyhow::anyhow!("{r}")))?
                }
                None => Vec::new(),
            };
            self.persist(tx, flow, inst, effects).await?;
        }
        Ok(())
    }

    async fn persist(
        &self,
        tx: &Tx,
        flow: &Flow,
        inst: &Instance,
        effects: Vec<Effect>,
    ) -> AppResult<()> {
        let conn = tx.conn();
        let mut entries = Vec::new();
        for (n, effect) in effects.iter().enumerate() {
            match effect {
                Effect::Send {
                    message_id,
                    service,
                    message_type,
                    payload,
                    idempotency_key,
                    attempt,
                } => {
                    // The timeline entry that follows a send names its step and kind.
                    let (step, kind) = effects[n..]
                        .iter()
                        .find_map(|e| match e {
                            Effect::Log(entry) => Some((entry.step.as_str(), entry.kind)),
                            _ => None,
                        })
                        .map(|(s, k)| {
                            if s.is_empty() {
                                ("park", "work_order")
                            } else {
                                (s, k)
                            }
                        })
                        .unwrap_or(("saga", "command"));
                    let span = spans::command(inst, step, kind, service, message_type, *attempt);
                    let headers = span.in_scope(trace::current);
                    let envelope = Envelope {
                        message_id: message_id.to_string(),
                        r#type: message_type.clone(),
                        correlation_id: inst.id.to_string(),
                        causation_id: String::new(),
                        idempotency_key: idempotency_key.clone(),
                        attempt: *attempt,
                        occurred_at: Some(aftersales_platform::edge::timestamp_to_pb(Utc::now())),
                        source: SOURCE.into(),
                        payload: payload.clone(),
                    };
                    tx.publish(&OutboundMessage {
                        exchange: Exchange::Commands,
                        routing_key: (*service).to_owned(),
                        envelope,
                        headers,
                    })
                    .await?;
                }
                Effect::Arm { token, due } => storage::arm(conn, inst.id, *token, *due).await?,
                Effect::Log(entry) => {
                    if entry.outcome != "sent" {
                        spans::entry(inst, entry);
                    }
                    crate::metrics::step_outcome(
                        &inst.flow,
                        &entry.step,
                        entry.kind,
                        entry.outcome,
                        entry.elapsed_ms,
                    );
                    entries.push(entry)
                }
                Effect::Lifecycle(what) => {
                    crate::metrics::lifecycle(&inst.flow, what);
                    tx.publish(&crate::api::convert::lifecycle_event(inst, flow, what))
                        .await?;
                }
            }
        }
        storage::append_timeline(conn, inst.id, &entries).await?;
        let next_wake = storage::prune_timers(conn, inst.id, &inst.current_timers()).await?;
        storage::set_waits(conn, inst.id, &inst.wait_keys()).await?;
        storage::save(conn, inst, &step_name(flow, inst), next_wake).await?;
        Ok(())
    }
}

/// The name of the step the saga is at (empty once finished).
pub fn step_name(flow: &Flow, inst: &Instance) -> String {
    if inst.status.is_terminal() {
        return String::new();
    }
    flow.steps
        .get(inst.step)
        .map(|s| s.name().to_owned())
        .unwrap_or_default()
}
