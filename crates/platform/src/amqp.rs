//! RabbitMQ: one supervised connection per process that reconnects by itself after a broker
//! restart, the shared topology (exchanges, dead-letter queue), a publisher that only reports
//! success once the broker has confirmed, and consumers that come back after every reconnect.

use crate::config::{AmqpSettings, QueueType};
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, ExchangeDeclareOptions,
        QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use std::{sync::Arc, time::Duration};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// The logical exchanges of ARCHITECTURE.md section 2; real names carry the configured prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exchange {
    /// Direct, routing key = service name.
    Commands,
    /// Direct, to the orchestrator.
    Replies,
    /// Topic, `<service>.<entity>.<event>`.
    Events,
    /// Where rejected and over-delivered messages go.
    DeadLetter,
}

impl Exchange {
    pub const ALL: [Exchange; 4] = [
        Exchange::Commands,
        Exchange::Replies,
        Exchange::Events,
        Exchange::DeadLetter,
    ];

    /// Name stored in outbox rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Exchange::Commands => "commands",
            Exchange::Replies => "replies",
            Exchange::Events => "events",
            Exchange::DeadLetter => "dlx",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }

    /// The AMQP kind of the exchange (direct or topic).
    pub fn kind(self) -> ExchangeKind {
        match self {
            Exchange::Commands | Exchange::Replies => ExchangeKind::Direct,
            Exchange::Events | Exchange::DeadLetter => ExchangeKind::Topic,
        }
    }
}

/// Names of exchanges and queues under one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
}

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn exchange(&self, e: Exchange) -> String {
        format!("{}aftersales.{}", self.prefix, e.as_str())
    }

    pub fn queue(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The queue that collects every dead-lettered message, for operators.
    pub fn dead_letter_queue(&self) -> String {
        self.queue("aftersales.dead-letters")
    }
}

/// A live connection with its publishing channel (confirms on).
pub struct Live {
    pub connection: Connection,
    publisher: Channel,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("broker not connected")]
    NotConnected,
    #[error("broker refused the message")]
    Nacked,
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

/// Handle to the process's supervised broker connection. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    settings: Arc<AmqpSettings>,
    topology: Topology,
    live: watch::Receiver<Option<Arc<Live>>>,
}

impl Broker {
    /// Starts the supervisor, which connects, declares the topology, and reconnects with backoff
    /// whenever the connection is lost, until `shutdown` is cancelled. Returns at once.
    pub fn start(settings: AmqpSettings, shutdown: CancellationToken) -> Self {
        let topology = Topology::new(settings.prefix.clone());
        let (tx, rx) = watch::channel(None);
        let settings = Arc::new(settings);
        tokio::spawn(supervise(settings.clone(), topology.clone(), tx, shutdown));
        Self {
            settings,
            topology,
            live: rx,
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn settings(&self) -> &AmqpSettings {
        &self.settings
    }

    /// Waits up to `timeout` for a live connection.
    pub async fn connected(&self, timeout: Duration) -> Option<Arc<Live>> {
        let mut rx = self.live.clone();
        let wait = rx.wait_for(Option::is_some);
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(live)) => live.clone(),
            _ => None,
        }
    }

    /// Changes of the live connection (None while reconnecting).
    pub fn watch(&self) -> watch::Receiver<Option<Arc<Live>>> {
        self.live.clone()
    }

    /// Publishes one message and waits for the broker's confirm.
    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), PublishError> {
        let live = self
            .connected(Duration::from_secs(5))
            .await
            .ok_or(PublishError::NotConnected)?;
        let confirm = live
            .publisher
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                body,
                properties,
            )
            .await?
            .await?;
        if confirm.is_nack() {
            Err(PublishError::Nacked)
        } else {
            Ok(())
        }
    }

    /// Declares a durable queue (quorum or classic per config) dead-lettering to the DLX, and binds it.
    pub async fn declare_queue(
        &self,
        channel: &Channel,
        queue: &str,
        bindings: &[(Exchange, String)],
    ) -> Result<(), lapin::Error> {
        let mut args = FieldTable::default();
        let queue_type = match self.settings.queue_type {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        };
        args.insert("x-queue-type".into(), long_string(queue_type));
        args.insert(
            "x-dead-letter-exchange".into(),
            long_string(&self.topology.exchange(Exchange::DeadLetter)),
        );
        if self.settings.queue_type == QueueType::Quorum {
            // The broker itself dead-letters a message redelivered this many times (a crash loop).
            let limit =
                i32::try_from(self.settings.max_attempts.saturating_mul(2)).unwrap_or(i32::MAX);
            args.insert("x-delivery-limit".into(), AMQPValue::LongInt(limit));
        }
        channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                args,
            )
            .await?;
        for (exchange, key) in bindings {
            channel
                .queue_bind(
                    queue.into(),
                    self.topology.exchange(*exchange).into(),
                    key.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }

    /// Opens a consuming channel on the live connection with the configured prefetch.
    pub async fn consumer_channel(&self, live: &Live) -> Result<Channel, lapin::Error> {
        let channel = live.connection.create_channel().await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await?;
        Ok(channel)
    }
}

pub fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}

pub fn short(s: &str) -> ShortString {
    ShortString::from(s)
}

async fn supervise(
    settings: Arc<AmqpSettings>,
    topology: Topology,
    tx: watch::Sender<Option<Arc<Live>>>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(200);
    loop {
        if shutdown.is_cancelled() {
            break;
        }
        match connect(&settings, &topology).await {
            Ok(live) => {
                tracing::info!("amqp connected");
                backoff = Duration::from_millis(200);
                let live = Arc::new(live);
                tx.send_replace(Some(live.clone()));
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    }
                    if !live.connection.status().connected() || !live.publisher.status().connected()
                    {
                        tracing::warn!("amqp connection lost, reconnecting");
                        break;
                    }
                }
                tx.send_replace(None);
                if shutdown.is_cancelled() {
                    let _ = live.connection.close(200, "shutdown".into()).await;
                    break;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, retry_in_ms = backoff.as_millis() as u64, "amqp connect failed");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
    tx.send_replace(None);
}

async fn connect(settings: &AmqpSettings, topology: &Topology) -> Result<Live, lapin::Error> {
    let connection =
        Connection::connect(settings.url.expose(), ConnectionProperties::default()).await?;
    let publisher = connection.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    for exchange in Exchange::ALL {
        publisher
            .exchange_declare(
                topology.exchange(exchange).into(),
                exchange.kind(),
                ExchangeDeclareOptions {
                    durable: true,
                    ..ExchangeDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
    }
    // Dead letters are kept in one durable queue that operators can inspect.
    let mut args = FieldTable::default();
    let queue_type = match settings.queue_type {
        QueueType::Quorum => "quorum",
        QueueType::Classic => "classic",
    };
    args.insert("x-queue-type".into(), long_string(queue_type));
    publisher
        .queue_declare(
            topology.dead_letter_queue().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await?;
    publisher
        .queue_bind(
            topology.dead_letter_queue().into(),
            topology.exchange(Exchange::DeadLetter).into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Live {
        connection,
        publisher,
    })
}
