//! Competing consumers with manual acks after commit, an inbox for exactly-once effects, local
//! retries with backoff, dead-lettering after the configured attempts, and automatic resumption
//! after every reconnect of the broker connection.

use crate::{
    amqp::{Broker, Exchange},
    error::AppError,
    inbox,
    store::{Store, Tx},
};
use aftersales_proto::messaging::v1::Envelope;
use futures::{StreamExt, future::BoxFuture};
use lapin::{
    Channel,
    message::Delivery,
    options::{BasicAckOptions, BasicConsumeOptions, BasicRejectOptions},
    types::FieldTable,
};
use prost::Message as _;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// Handles one envelope inside the transaction that also records it in the inbox.
pub type Handler =
    Arc<dyn for<'t> Fn(&'t Tx, Envelope) -> BoxFuture<'t, Result<(), AppError>> + Send + Sync>;

/// What a consumer listens to.
#[derive(Debug, Clone)]
pub struct ConsumerSpec {
    /// Queue name without prefix, also the inbox consumer name (e.g. `returns.order-replica`).
    pub queue: String,
    pub bindings: Vec<(Exchange, String)>,
}

/// Whether an error is worth retrying (transient) or must go to the dead-letter queue.
fn is_transient(err: &AppError) -> bool {
    matches!(
        err,
        AppError::Unavailable(_) | AppError::Conflict(_) | AppError::Internal(_)
    )
}

/// Starts a consumer task that runs until `shutdown` is cancelled.
pub fn spawn(
    broker: Broker,
    store: Store,
    spec: ConsumerSpec,
    handler: Handler,
    shutdown: CancellationToken,
) {
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
            let Some(live) = live else { continue };
            match run_once(&broker, &store, &spec, &handler, &live, &shutdown).await {
                Ok(()) if shutdown.is_cancelled() => return,
                Ok(()) => {
                    tracing::warn!(queue = %spec.queue, "consumer stream ended, resubscribing")
                }
                Err(err) => {
                    tracing::warn!(queue = %spec.queue, error = %err, "consumer failed, resubscribing")
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    });
}

async fn run_once(
    broker: &Broker,
    store: &Store,
    spec: &ConsumerSpec,
    handler: &Handler,
    live: &crate::amqp::Live,
    shutdown: &CancellationToken,
) -> Result<(), lapin::Error> {
    let channel = broker.consumer_channel(live).await?;
    let queue = broker.topology().queue(&spec.queue);
    broker
        .declare_queue(&channel, &queue, &spec.bindings)
        .await?;
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %queue, "consuming");
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            next = deliveries.next() => next,
        };
        match next {
            None => return Ok(()),
            Some(Err(err)) => return Err(err),
            Some(Ok(delivery)) => {
                process(broker, store, spec, handler, &channel, delivery).await?;
            }
        }
    }
}

async fn process(
    broker: &Broker,
    store: &Store,
    spec: &ConsumerSpec,
    handler: &Handler,
    _channel: &Channel,
    delivery: Delivery,
) -> Result<(), lapin::Error> {
    let envelope = match Envelope::decode(delivery.data.as_slice()) {
        Ok(env) if !env.message_id.is_empty() => env,
        _ => {
            count_dead_letter(&spec.queue);
            tracing::error!(queue = %spec.queue, "undecodable message dead-lettered");
            delivery
                .reject(BasicRejectOptions { requeue: false })
                .await?;
            return Ok(());
        }
    };
    let span = crate::trace::process_span(
        &spec.queue,
        delivery.exchange.as_str(),
        delivery.routing_key.as_str(),
        &envelope.message_id,
        delivery.redelivered,
        delivery.properties.headers().as_ref(),
    );
    handle(broker, store, spec, handler, delivery, envelope)
        .instrument(span)
        .await
}

async fn handle(
    broker: &Broker,
    store: &Store,
    spec: &ConsumerSpec,
    handler: &Handler,
    delivery: Delivery,
    envelope: Envelope,
) -> Result<(), lapin::Error> {
    let metrics = crate::metrics::core();
    let queue = crate::metrics::QueueLabels {
        queue: spec.queue.clone(),
    };
    if delivery.redelivered {
        metrics.redelivered.get_or_create(&queue).inc();
    }
    let max_attempts = broker.settings().max_attempts.max(1);
    let mut backoff = Duration::from_millis(100);
    for attempt in 1..=max_attempts {
        let env = envelope.clone();
        let consumer = spec.queue.clone();
        let h = handler.clone();
        let result = store
            .transaction(move |tx| {
                Box::pin(async move {
                    if !inbox::claim(tx.conn(), &consumer, &env.message_id).await? {
                        tracing::debug!(message_id = %env.message_id, "duplicate delivery ignored");
                        return Ok("duplicate");
                    }
                    h(tx, env).await.map(|()| "processed")
                })
            })
            .await;
        match result {
            Ok(outcome) => {
                delivery.ack(BasicAckOptions::default()).await?;
                metrics
                    .consumed
                    .get_or_create(&crate::metrics::ConsumedLabels {
                        queue: spec.queue.clone(),
                        outcome,
                    })
                    .inc();
                return Ok(());
            }
            Err(err) if is_transient(&err) && attempt < max_attempts => {
                metrics.retried.get_or_create(&queue).inc();
                tracing::warn!(queue = %spec.queue, message_id = %envelope.message_id, attempt, error = %err, "handler failed, retrying");
                tokio::time::sleep(backoff + jitter(backoff)).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
            Err(err) => {
                tracing::Span::current().record("otel.status_code", "ERROR");
                count_dead_letter(&spec.queue);
                tracing::error!(queue = %spec.queue, message_id = %envelope.message_id, attempt, error = %err, "message dead-lettered");
                delivery
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
                return Ok(());
            }
        }
    }
    Ok(())
}

fn count_dead_letter(queue: &str) {
    let m = crate::metrics::core();
    m.dead_lettered
        .get_or_create(&crate::metrics::QueueLabels {
            queue: queue.to_owned(),
        })
        .inc();
    m.consumed
        .get_or_create(&crate::metrics::ConsumedLabels {
            queue: queue.to_owned(),
            outcome: "dead_lettered",
        })
        .inc();
}

fn jitter(base: Duration) -> Duration {
    let max = u64::try_from(base.as_millis() / 2).unwrap_or(0).max(1);
    Duration::from_millis(rand::random_range(0..max))
}
