//! Saga commands in tests: publish a command envelope to a real service under a [`TestEnv`]'s
//! prefix, and read the replies it sends to the orchestrator (see
//! `aftersales_platform::commands` for the contract).

use crate::{Probe, TestEnv};
use aftersales_platform::amqp::{Exchange, Topology};
use aftersales_proto::messaging::v1::{Envelope, Reply, ReplyOutcome};
use lapin::{
    Connection,
    options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions},
    types::FieldTable,
};
use prost::{Message, Name};
use std::time::Duration;

pub use aftersales_platform::commands::command_envelope;

/// One reply received from a service.
#[derive(Debug, Clone)]
pub struct ReceivedReply {
    pub routing_key: String,
    pub envelope: Envelope,
    pub reply: Reply,
}

impl ReceivedReply {
    pub fn outcome(&self) -> ReplyOutcome {
        ReplyOutcome::try_from(self.reply.outcome).unwrap_or(ReplyOutcome::Unspecified)
    }

    /// Decodes the result of a `SUCCESS` reply as `M`.
    ///
    /// # Panics
    /// When the reply is not a success carrying an `M`.
    pub fn result<M: Message + Name + Default>(&self) -> M {
        assert_eq!(
            self.outcome(),
            ReplyOutcome::Success,
            "expected a success, got {:?}",
            self.reply
        );
        assert_eq!(self.reply.result_type, M::full_name(), "result type");
        M::decode(self.reply.result.as_slice()).expect("decodable result")
    }
}

/// A temporary queue bound to the env's replies exchange with routing key `orchestrator`: it sees
/// every reply any service sends under the prefix.
pub struct ReplyProbe {
    probe: Probe,
}

impl ReplyProbe {
    pub async fn bind(prefix: &str) -> Self {
        let key = aftersales_platform::commands::REPLY_ROUTING_KEY;
        Self {
            probe: Probe::bind(prefix, Exchange::Replies, key).await,
        }
    }

    /// Waits up to `timeout` for a reply matching `pred`; other replies are skipped.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&ReceivedReply) -> bool,
    ) -> Option<ReceivedReply> {
        let build = |routing_key, envelope, reply| ReceivedReply {
            routing_key,
            envelope,
            reply,
        };
        self.probe.wait_for(timeout, build, pred).await
    }

    /// Waits up to `timeout` for the reply to `command` (its `causation_id` is the command's
    /// message id).
    pub async fn reply_to(
        &mut self,
        command: &Envelope,
        timeout: Duration,
    ) -> Option<ReceivedReply> {
        let id = command.message_id.clone();
        self.wait_for(timeout, move |r| r.envelope.causation_id == id)
            .await
    }

    /// Every reply that arrives within `window` (for counting duplicates).
    pub async fn collect(&mut self, window: Duration) -> Vec<ReceivedReply> {
        let deadline = tokio::time::Instant::now() + window;
        let mut out = Vec::new();
        while let Some(r) = self
            .wait_for(
                deadline.saturating_duration_since(tokio::time::Instant::now()),
                |_| true,
            )
            .await
        {
            out.push(r);
        }
        out
    }
}

impl TestEnv {
    /// A probe receiving every reply sent to the orchestrator under this env's prefix; bind it
    /// before publishing the commands whose replies it should see.
    pub async fn reply_probe(&self) -> ReplyProbe {
        ReplyProbe::bind(&self.prefix).await
    }

    /// Publishes `command` (with publisher confirms) on this env's commands exchange with routing
    /// key `service`, once `service`'s command queue exists (the service declares it when its
    /// consumer starts, which may be just after its health check turns SERVING).
    pub async fn publish_command(&self, service: &str, command: &Envelope) {
        let (conn, _) = self.amqp_channel().await;
        let queue =
            Topology::new(&self.prefix).queue(&aftersales_platform::commands::queue(service));
        wait_for_queue(&conn, &queue, Duration::from_secs(30)).await;
        publish_on(&conn, &self.prefix, Exchange::Commands, service, command).await;
    }

    /// Publishes `envelope` (with publisher confirms) on this env's `exchange` with
    /// `routing_key`, e.g. a copy of a reply to test that the orchestrator applies it once.
    pub async fn publish_envelope(
        &self,
        exchange: Exchange,
        routing_key: &str,
        envelope: &Envelope,
    ) {
        let (conn, _) = self.amqp_channel().await;
        publish_on(&conn, &self.prefix, exchange, routing_key, envelope).await;
    }

    /// Publishes `command` to `service` and waits up to `timeout` for its reply on `probe`.
    ///
    /// # Panics
    /// When no reply arrives in time.
    pub async fn send_command(
        &self,
        probe: &mut ReplyProbe,
        service: &str,
        command: &Envelope,
        timeout: Duration,
    ) -> ReceivedReply {
        self.publish_command(service, command).await;
        probe.reply_to(command, timeout).await.unwrap_or_else(|| {
            panic!(
                "no reply from {service} to {} ({}) within {timeout:?}",
                command.r#type, command.message_id
            )
        })
    }
}

/// Waits until `queue` exists (a passive declare succeeds); each failed attempt closes its channel.
async fn wait_for_queue(conn: &Connection, queue: &str, timeout: Duration) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let ch = conn.create_channel().await.expect("channel");
        let declared = ch
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        if declared.is_ok() {
            let _ = ch.close(200, "found".into()).await;
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "queue {queue} was not declared within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn publish_on(
    conn: &Connection,
    prefix: &str,
    exchange: Exchange,
    routing_key: &str,
    envelope: &Envelope,
) {
    let ch = conn.create_channel().await.expect("channel");
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    let exchange = Topology::new(prefix).exchange(exchange);
    let props = aftersales_platform::outbox::properties(envelope, &serde_json::Value::Null);
    let confirm = ch
        .basic_publish(
            exchange.as_str().into(),
            routing_key.into(),
            BasicPublishOptions::default(),
            &envelope.encode_to_vec(),
            props,
        )
        .await
        .expect("publish")
        .await
        .expect("confirmed");
    assert!(confirm.is_ack(), "broker refused the message");
    let _ = conn.close(200, "published".into()).await;
}
