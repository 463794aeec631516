//! Transactional outbox: messages are written in the same transaction as the state change that
//! causes them; right after commit the relay is woken and publishes them (with confirms); rows not
//! confirmed stay unpublished and are retried on every poll, so a crash never loses a message.
//! Duplicates are possible and consumers dedupe by message id (see [`crate::inbox`]).

use crate::{
    amqp::{Broker, Exchange},
    config::OutboxSettings,
};
use aftersales_proto::messaging::v1::Envelope;
use lapin::{BasicProperties, types::FieldTable};
use prost::Message as _;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait};
use std::{collections::BTreeMap, sync::Arc};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

/// A message waiting to be published.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub exchange: Exchange,
    pub routing_key: String,
    pub envelope: Envelope,
    /// Extra AMQP headers (trace context and the like).
    pub headers: BTreeMap<String, String>,
}

/// Writes `msg` to the outbox inside the caller's transaction, with the trace context of the
/// current span unless the message names its own.
pub async fn enqueue<C: ConnectionTrait>(conn: &C, msg: &OutboundMessage) -> Result<(), DbErr> {
    let message_id = uuid::Uuid::parse_str(&msg.envelope.message_id)
        .map_err(|e| DbErr::Custom(format!("envelope message_id is not a uuid: {e}")))?;
    let mut headers = msg.headers.clone();
    if !headers.contains_key("traceparent") {
        headers.extend(crate::trace::current());
    }
    let headers = serde_json::to_value(&headers).map_err(|e| DbErr::Custom(e.to_string()))?;
    conn.execute_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "INSERT INTO outbox (message_id, exchange, routing_key, message_type, correlation_id, headers, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        [
            message_id.into(),
            msg.exchange.as_str().into(),
            msg.routing_key.clone().into(),
            msg.envelope.r#type.clone().into(),
            msg.envelope.correlation_id.clone().into(),
            headers.into(),
            msg.envelope.encode_to_vec().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Handle used to wake the relay after a commit.
#[derive(Clone, Default)]
pub struct Outbox {
    notify: Arc<Notify>,
}

impl Outbox {
    /// Wakes the relay so freshly committed messages go out at once.
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    /// Starts the relay task; it stops when `shutdown` is cancelled (after one last pass).
    pub fn start_relay(
        db: DatabaseConnection,
        broker: Broker,
        settings: OutboxSettings,
        shutdown: CancellationToken,
    ) -> Self {
        let outbox = Outbox::default();
        let notify = outbox.notify.clone();
        tokio::spawn(async move {
            loop {
                let stopping = tokio::select! {
                    _ = notify.notified() => false,
                    _ = tokio::time::sleep(settings.poll_interval()) => false,
                    _ = shutdown.cancelled() => true,
                };
                loop {
                    match relay_batch(&db, &broker, settings.batch_size).await {
                        Ok(n) if n as u64 >= settings.batch_size => continue,
                        Ok(_) => break,
                        Err(err) => {
                            tracing::warn!(error = %err, "outbox relay pass failed");
                            break;
                        }
                    }
                }
                if let Err(err) = sample_backlog(&db).await {
                    tracing::debug!(error = %err, "outbox backlog not sampled");
                }
                if stopping {
                    break;
                }
            }
        });
        outbox
    }
}

/// Publishes one batch of unpublished rows; returns how many rows it claimed.
pub async fn relay_batch(
    db: &DatabaseConnection,
    broker: &Broker,
    batch_size: u64,
) -> anyhow::Result<usize> {
    let txn = db.begin().await?;
    let rows = txn
        .query_all_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "SELECT id, exchange, routing_key, headers, body FROM outbox \
             WHERE published_at IS NULL AND rejected_at IS NULL \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
            [(batch_size as i64).into()],
        ))
        .await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let claimed = rows.len();
    let mut published: Vec<i64> = Vec::with_capacity(claimed);
    let mut failed: Vec<i64> = Vec::new();
    // Rows that can never be published are set aside (and logged) so they block nothing.
    let mut rejected: Vec<(i64, String)> = Vec::new();
    for row in rows {
        let id: i64 = row.try_get_by("id")?;
        let exchange: String = row.try_get_by("exchange")?;
        let routing_key: String = row.try_get_by("routing_key")?;
        let headers: serde_json::Value = row.try_get_by("headers")?;
        let body: Vec<u8> = row.try_get_by("body")?;
        let Some(exchange) = Exchange::parse(&exchange) else {
            tracing::error!(
                id,
                exchange,
                "outbox row names an unknown exchange, set aside"
            );
            rejected.push((id, format!("unknown exchange {exchange}")));
            continue;
        };
        let envelope = match Envelope::decode(body.as_slice()) {
            Ok(e) => e,
            Err(err) => {
                tracing::error!(id, error = %err, "outbox row is not an envelope, set aside");
                rejected.push((id, format!("undecodable envelope: {err}")));
                continue;
            }
        };
        let name = broker.topology().exchange(exchange);
        // The publish span continues the trace of the span that wrote the row, and the message
        // carries the publish span's context.
        let stored: crate::trace::Headers =
            serde_json::from_value(headers.clone()).unwrap_or_default();
        let span = crate::trace::publish_span(&name, &routing_key, &envelope.message_id, &stored);
        let props = {
            let _entered = span.enter();
            let mut headers = headers.clone();
            if let Some(map) = headers.as_object_mut() {
                for (k, v) in crate::trace::current() {
                    map.insert(k, serde_json::Value::String(v));
                }
            }
            properties(&envelope, &headers)
        };
        let sent = broker
            .publish(&name, &routing_key, &body, props)
            .instrument(span.clone())
            .await;
        if let Err(err) = &sent {
            span.record("otel.status_code", "ERROR");
            tracing::debug!(parent: &span, error = %err, "publish failed");
        }
        match sent {
            Ok(()) => {
                crate::metrics::core()
                    .published
                    .get_or_create(&crate::metrics::ExchangeLabels {
                        exchange: exchange.as_str().to_owned(),
                    })
                    .inc();
                published.push(id)
            }
            Err(err) => {
                tracing::warn!(id, error = %err, "outbox publish failed, will retry");
                failed.push(id);
                break;
            }
        }
    }
    if !published.is_empty() {
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "UPDATE outbox SET published_at = now(), attempts = attempts + 1 WHERE id = ANY($1)",
            [published.clone().into()],
        ))
        .await?;
    }
    if !failed.is_empty() {
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "UPDATE outbox SET attempts = attempts + 1 WHERE id = ANY($1)",
            [failed.into()],
        ))
        .await?;
    }
    for (id, reason) in &rejected {
        txn.execute_raw(Statement::from_sql_and_values(
            txn.get_database_backend(),
            "UPDATE outbox SET rejected_at = now(), rejected_reason = $2 WHERE id = $1",
            [(*id).into(), reason.clone().into()],
        ))
        .await?;
    }
    txn.commit().await?;
    if published.len() + rejected.len() < claimed {
        anyhow::bail!(
            "{} of {claimed} outbox messages not confirmed",
            claimed - published.len() - rejected.len()
        );
    }
    Ok(claimed)
}

/// Sets the backlog gauges: rows waiting to be published and the age of the oldest.
async fn sample_backlog(db: &DatabaseConnection) -> Result<(), DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT count(*) AS backlog, \
             COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 AS oldest \
             FROM outbox WHERE published_at IS NULL AND rejected_at IS NULL",
        ))
        .await?;
    if let Some(row) = row {
        let backlog: i64 = row.try_get_by("backlog")?;
        let oldest: f64 = row.try_get_by("oldest")?;
        let m = crate::metrics::core();
        m.outbox_backlog.set(backlog);
        m.outbox_oldest_age.set(oldest.max(0.0));
    }
    Ok(())
}

/// AMQP properties of an envelope: persistent, protobuf, ids, type, and the stored headers.
pub fn properties(envelope: &Envelope, headers: &serde_json::Value) -> BasicProperties {
    let mut table = FieldTable::default();
    if let Some(map) = headers.as_object() {
        for (k, v) in map {
            if let Some(v) = v.as_str() {
                table.insert(k.as_str().into(), crate::amqp::long_string(v));
            }
        }
    }
    let mut props = BasicProperties::default()
        .with_content_type("application/x-protobuf".into())
        .with_delivery_mode(2)
        .with_message_id(envelope.message_id.as_str().into())
        .with_type(envelope.r#type.as_str().into())
        .with_headers(table);
    if !envelope.correlation_id.is_empty() {
        props = props.with_correlation_id(envelope.correlation_id.as_str().into());
    }
    if let Some(ts) = envelope.occurred_at.as_ref()
        && let Ok(secs) = u64::try_from(ts.seconds)
    {
        props = props.with_timestamp(secs);
    }
    props
}
