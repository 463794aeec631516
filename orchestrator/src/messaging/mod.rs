//! The orchestrator's messaging: replies from services, domain events that start sagas or end
//! waits, the durable timer poller and the buffered-event sweeper.

use crate::engine::driver::Driver;
use crate::engine::flow::CmdResult;
use crate::engine::machine::{Input, ReplyKind};
use crate::storage;
use aftersales_platform::amqp::{Broker, Exchange};
use aftersales_platform::consumer::{self, ConsumerSpec, Handler};
use aftersales_platform::{AppError, AppResult, Store, Tx};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope, Reply, ReplyOutcome};
use prost::{Message, Name};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Services that receive commands; their queues are declared here too so that no command is
/// published before its queue exists.
pub const COMMAND_TARGETS: [&str; 6] = [
    "orders",
    "returns",
    "repairs",
    "logistics",
    "payments",
    "complaints",
];

/// Starts the reply and event consumers.
pub fn start_consumers(
    broker: &Broker,
    store: &Store,
    driver: &Driver,
    shutdown: &CancellationToken,
) {
    let d = driver.clone();
    let replies: Handler = Arc::new(move |tx, env| {
        let d = d.clone();
        Box::pin(async move { on_reply(&d, tx, env).await })
    });
    consumer::spawn(
        broker.clone(),
        store.clone(),
        ConsumerSpec {
            queue: "orchestrator.replies".into(),
            bindings: vec![(Exchange::Replies, "orchestrator".into())],
        },
        replies,
        shutdown.clone(),
    );
    let d = driver.clone();
    let events: Handler = Arc::new(move |tx, env| {
        let d = d.clone();
        Box::pin(async move { on_event(&d, tx, env).await })
    });
    consumer::spawn(
        broker.clone(),
        store.clone(),
        ConsumerSpec {
            queue: "orchestrator.events".into(),
            bindings: driver
                .registry
                .event_names()
                .into_iter()
                .map(|n| (Exchange::Events, n.to_owned()))
                .collect(),
        },
        events,
        shutdown.clone(),
    );
}

/// Declares every service's command queue (same arguments the services use) after each connect.
pub fn declare_command_queues(broker: Broker, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut watch = broker.watch();
        loop {
            let live = tokio::select! {
                _ = shutdown.cancelled() => return,
                live = watch.wait_for(Option::is_some) => match live {
                    Ok(l) => l.clone(),
                    Err(_) => return,
                },
            };
            if let Some(live) = live {
                match declare_all(&broker, &live).await {
                    Ok(()) => {}
                    Err(err) => tracing::warn!(error = %err, "declaring command queues failed"),
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                changed = watch.wait_for(Option::is_none) => if changed.is_err() { return },
            }
        }
    });
}

async fn declare_all(
    broker: &Broker,
    live: &aftersales_platform::amqp::Live,
) -> Result<(), lapin::Error> {
    let channel = live.connection.create_channel().await?;
    for service in COMMAND_TARGETS {
        let queue = broker.topology().queue(&format!("{service}.commands"));
        broker
            .declare_queue(
                &channel,
                &queue,
                &[(Exchange::Commands, service.to_owned())],
            )
            .await?;
    }
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

async fn on_reply(driver: &Driver, tx: &Tx, env: Envelope) -> AppResult<()> {
    if env.r#type != Reply::full_name() {
        tracing::warn!(r#type = %env.r#type, "unexpected message on the replies queue");
        return Ok(());
    }
    let reply = Reply::decode(env.payload.as_slice())
        .map_err(|e| AppError::field("payload", format!("undecodable reply: {e}")))?;
    let (Ok(saga), Ok(message_id)) = (
        Uuid::parse_str(&env.correlation_id),
        Uuid::parse_str(&env.causation_id),
    ) else {
        tracing::warn!(correlation_id = %env.correlation_id, "reply without saga or command id ignored");
        return Ok(());
    };
    let kind = match ReplyOutcome::try_from(reply.outcome) {
        Ok(ReplyOutcome::Success) => ReplyKind::Success,
        Ok(ReplyOutcome::BusinessFailure) => ReplyKind::BusinessFailure,
        _ => ReplyKind::RetryableFailure,
    };
    let reason = if reply.message.is_empty() {
        reply.reason.clone()
    } else if reply.message.starts_with(&reply.reason) {
        reply.message.clone()
    } else {
        format!("{}: {}", reply.reason, reply.message)
    };
    let input = Input::Reply {
        message_id,
        kind,
        reason,
        result: CmdResult {
            result_type: reply.result_type,
            payload: reply.result,
        },
    };
    match driver.apply(tx, saga, input).await? {
        None => tracing::warn!(%saga, "reply for an unknown saga ignored"),
        Some(Err(refused)) => tracing::warn!(%saga, %refused, "reply refused"),
        Some(Ok(_)) => {}
    }
    Ok(())
}

fn event_keys(event: &DomainEvent) -> Vec<String> {
    let mut keys: Vec<String> = event.keys.iter().map(|(k, v)| format!("{k}={v}")).collect();
    keys.sort();
    keys
}

async fn on_event(driver: &Driver, tx: &Tx, env: Envelope) -> AppResult<()> {
    let event = DomainEvent::decode(env.payload.as_slice())
        .map_err(|e| AppError::field("payload", format!("undecodable event: {e}")))?;
    // Start the sagas this event triggers.
    for flow in driver.registry.latest() {
        if flow.trigger.event != event.name {
            continue;
        }
        match (flow.trigger.start)(&event) {
            Ok(Some((key, data))) => match driver.start(tx, flow, key.clone(), data).await? {
                Some(id) => {
                    tracing::info!(saga = %id, flow = flow.name, business_key = %key, "saga started")
                }
                None => {
                    tracing::info!(flow = flow.name, business_key = %key, "an active saga already holds this key")
                }
            },
            Ok(None) => {}
            Err(reason) => tracing::warn!(flow = flow.name, %reason, "trigger event not usable"),
        }
    }
    // Hand it to the waits that listen for it, and keep it for those not there yet.
    if driver.wait_events.contains(&event.name.as_str()) {
        let keys = event_keys(&event);
        storage::buffer_event(
            tx.conn(),
            &env.message_id,
            &event.name,
            &keys,
            env.payload.clone(),
        )
        .await?;
        for saga in storage::waiting_on(tx.conn(), &keys).await? {
            deliver_buffered(driver, tx, saga).await?;
        }
    }
    Ok(())
}

/// Lets a waiting saga take its buffered events.
async fn deliver_buffered(driver: &Driver, tx: &Tx, saga: Uuid) -> AppResult<()> {
    let Some((inst, root)) = storage::lock(tx.conn(), saga).await? else {
        return Ok(());
    };
    if driver.registry.get(&inst.flow, inst.version).is_none() {
        return Ok(());
    }
    driver.deliver_buffered(tx, inst, &root).await
}

/// Fires due timers, one transaction per timer, claiming them with `SKIP LOCKED` so that many
/// replicas share the work; and every few seconds sweeps buffered events to waiting sagas.
pub fn start_timers(store: Store, driver: Driver, poll: Duration, shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut ticks: u32 = 0;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(poll) => {}
            }
            fire_due_timers(&store, &driver).await;
            ticks = ticks.wrapping_add(1);
            if ticks.is_multiple_of(10) {
                sweep(&store, &driver).await;
                sample_gauges(&store, &driver).await;
            }
        }
    });
}

/// Fires the due timers, one transaction each. A timer whose transition fails is deferred and
/// logged; it never blocks the others.
async fn fire_due_timers(store: &Store, driver: &Driver) {
    for _ in 0..10 {
        let tokens = match storage::due_timers(&store.db, 200).await {
            Ok(t) if t.is_empty() => return,
            Ok(t) => t,
            Err(err) => {
                tracing::warn!(error = %err, "reading due timers failed");
                return;
            }
        };
        for token in tokens {
            let d = driver.clone();
            let fired = store
                .transaction(move |tx| {
                    Box::pin(async move {
                        let Some(saga) = storage::claim_timer(tx.conn(), token).await? else {
                            return Ok(());
                        };
                        if let Some(Err(refused)) = d.apply(tx, saga, Input::Timer(token)).await? {
                            tracing::warn!(%saga, %refused, "timer refused");
                        }
                        Ok(())
                    })
                })
                .await;
            if let Err(err) = fired {
                tracing::error!(%token, error = %err, "timer transition failed, deferred 30 s");
                if let Err(err) = storage::defer_timer(&store.db, token, 30).await {
                    tracing::warn!(%token, error = %err, "deferring the timer failed");
                }
            }
        }
    }
}

/// Sets the parked-sagas and due-timers gauges (every flow, so a flow back to 0 shows 0).
async fn sample_gauges(store: &Store, driver: &Driver) {
    let (parked, due) = match storage::attention_and_due(&store.db).await {
        Ok(v) => v,
        Err(err) => {
            tracing::debug!(error = %err, "saga gauges not sampled");
            return;
        }
    };
    let m = crate::metrics::get();
    for flow in driver.registry.latest() {
        let n = parked
            .iter()
            .find(|(f, _)| f == flow.name)
            .map_or(0, |(_, n)| *n);
        m.needing_attention
            .get_or_create(&crate::metrics::FlowLabels {
                flow: flow.name.to_owned(),
            })
            .set(n);
    }
    m.timers_due.set(due);
}

async fn sweep(store: &Store, driver: &Driver) {
    let sagas = match storage::sagas_with_buffered_events(&store.db).await {
        Ok(s) => s,
        Err(err) => {
            tracing::warn!(error = %err, "buffered event sweep failed");
            return;
        }
    };
    for saga in sagas {
        let d = driver.clone();
        let res = store
            .transaction(move |tx| Box::pin(async move { deliver_buffered(&d, tx, saga).await }))
            .await;
        if let Err(err) = res {
            tracing::warn!(%saga, error = %err, "delivering buffered events failed");
        }
    }
}
