//! The platform's messaging and unit-of-work guarantees, against the real PostgreSQL and RabbitMQ.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aftersales_platform::{
    AppError,
    amqp::{Broker, Exchange},
    app::Migrator,
    config::{AmqpSettings, OutboxSettings, QueueType, Secret},
    consumer::{self, ConsumerSpec},
    db, messages,
    outbox::{self, Outbox},
    store::Store,
};
use aftersales_proto::common::v1::{Money, PageResponse};
use aftersales_test_support::{AMQP_URL, TestEnv};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use sea_orm_migration::MigratorTrait;
use std::{sync::Arc, time::Duration};
use tokio_util::sync::CancellationToken;

struct NoService;
impl aftersales_platform::ServiceDef for NoService {
    const NAME: &'static str = "platform-test";
    const GRPC_SERVICE: &'static str = "none";
    const DEFAULTS: &'static str = "";
    type Config = ();
    fn migrations() -> Vec<Box<dyn sea_orm_migration::MigrationTrait>> {
        Vec::new()
    }
    async fn build(
        _rt: &aftersales_platform::Runtime<()>,
    ) -> anyhow::Result<aftersales_platform::grpc::Router> {
        anyhow::bail!("not used")
    }
}

struct Harness {
    env: TestEnv,
    db: DatabaseConnection,
    broker: Broker,
    store: Store,
    stop: CancellationToken,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn harness() -> Harness {
    let env = TestEnv::new();
    let url = env.database_url("platform");
    env.track_database(&url);
    db::ensure_database(&url).await.unwrap();
    let conn = sea_orm::Database::connect(&url).await.unwrap();
    Migrator::<NoService>::up(&conn, None).await.unwrap();
    let stop = CancellationToken::new();
    let broker = Broker::start(
        AmqpSettings {
            url: Secret::new(AMQP_URL),
            prefix: env.prefix.clone(),
            queue_type: QueueType::Quorum,
            prefetch: 16,
            max_attempts: 3,
        },
        stop.clone(),
    );
    assert!(
        broker.connected(Duration::from_secs(10)).await.is_some(),
        "broker connects"
    );
    let outbox = Outbox::start_relay(
        conn.clone(),
        broker.clone(),
        OutboxSettings {
            poll_interval_ms: 100,
            batch_size: 50,
        },
        stop.clone(),
    );
    let store = Store::new(conn.clone(), outbox);
    Harness {
        env,
        db: conn,
        broker,
        store,
        stop,
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn idempotent_replay_returns_first_response_and_writes_once() {
    let h = harness().await;
    let req = Money {
        minor_units: 5,
        currency: "CNY".into(),
    };
    let run = |token: &'static str| {
        let store = h.store.clone();
        let req = req.clone();
        async move {
            store
                .idempotent("test.Op", "k-1", &req, move |tx| {
                    Box::pin(async move {
                        tx.execute_unprepared("CREATE TABLE IF NOT EXISTS effects (n int)")
                            .await?;
                        tx.execute_unprepared("INSERT INTO effects VALUES (1)")
                            .await?;
                        Ok(PageResponse {
                            next_page_token: token.into(),
                        })
                    })
                })
                .await
        }
    };
    let first = run("first").await.unwrap();
    let second = run("second").await.unwrap();
    assert_eq!(first.next_page_token, "first");
    assert_eq!(
        second.next_page_token, "first",
        "replay returns the stored response"
    );
    assert_eq!(
        count(&h.db, "SELECT count(*)::bigint FROM effects").await,
        1
    );

    let other = Money {
        minor_units: 6,
        currency: "CNY".into(),
    };
    let err = h
        .store
        .idempotent("test.Op", "k-1", &other, |_tx| {
            Box::pin(async { Ok(PageResponse::default()) })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Rule(ref r) if r.rule == "idempotency_key_reused"));

    let err = h
        .store
        .idempotent("test.Op", "", &other, |_tx| {
            Box::pin(async { Ok(PageResponse::default()) })
        })
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "idempotency_key"));
}

#[tokio::test]
async fn concurrent_duplicates_run_once() {
    let h = harness().await;
    h.db.execute_unprepared("CREATE TABLE effects (n int)")
        .await
        .unwrap();
    let req = Money {
        minor_units: 1,
        currency: "CNY".into(),
    };
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let store = h.store.clone();
            let req = req.clone();
            tokio::spawn(async move {
                store
                    .idempotent("test.Op", "same", &req, |tx| {
                        Box::pin(async move {
                            tx.execute_unprepared("INSERT INTO effects VALUES (1)")
                                .await?;
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            Ok(PageResponse {
                                next_page_token: "done".into(),
                            })
                        })
                    })
                    .await
            })
        })
        .collect();
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        assert_eq!(out.next_page_token, "done");
    }
    assert_eq!(
        count(&h.db, "SELECT count(*)::bigint FROM effects").await,
        1
    );
}

#[tokio::test]
async fn committed_events_are_published_and_rolled_back_ones_are_not() {
    let h = harness().await;
    let mut probe = h.env.event_probe("test.#").await;
    let snap = Money {
        minor_units: 1,
        currency: "CNY".into(),
    };
    let committed = messages::domain_event("test", "test.thing.created", "t-1", "NEW", &[], &snap);
    let rolled_back = messages::domain_event("test", "test.thing.ghost", "t-2", "NEW", &[], &snap);
    let rb = rolled_back.clone();
    let _ = h
        .store
        .transaction(move |tx| {
            Box::pin(async move {
                tx.publish(&rb).await?;
                Err::<(), _>(AppError::rule("nope", "rolled back"))
            })
        })
        .await;
    h.store
        .transaction(move |tx| Box::pin(async move { tx.publish(&committed).await }))
        .await
        .unwrap();
    let got = probe
        .wait_for(Duration::from_secs(10), |_| true)
        .await
        .expect("event published");
    assert_eq!(got.routing_key, "test.thing.created");
    assert_eq!(got.event.entity_id, "t-1");
    assert!(
        probe
            .wait_for(Duration::from_millis(500), |_| true)
            .await
            .is_none()
    );
    assert_eq!(
        count(
            &h.db,
            "SELECT count(*)::bigint FROM outbox WHERE published_at IS NULL"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn unconfirmed_rows_are_republished_by_the_relay() {
    let h = harness().await;
    let mut probe = h.env.event_probe("test.#").await;
    // A row committed without waking the relay (as after a crash between commit and publish).
    let snap = Money {
        minor_units: 1,
        currency: "CNY".into(),
    };
    let msg = messages::domain_event("test", "test.thing.orphan", "t-3", "NEW", &[], &snap);
    outbox::enqueue(&h.db, &msg).await.unwrap();
    let got = probe
        .wait_for(Duration::from_secs(10), |_| true)
        .await
        .expect("relay publishes");
    assert_eq!(got.routing_key, "test.thing.orphan");
}

#[tokio::test]
async fn redelivered_messages_have_one_effect_and_poison_is_dead_lettered() {
    let h = harness().await;
    h.db.execute_unprepared("CREATE TABLE effects (id text)")
        .await
        .unwrap();
    let handler: consumer::Handler = Arc::new(|tx, env| {
        Box::pin(async move {
            if env.source == "poison" {
                return Err(AppError::rule("poison", "cannot handle"));
            }
            tx.execute_raw(Statement::from_sql_and_values(
                tx.get_database_backend(),
                "INSERT INTO effects VALUES ($1)",
                [env.message_id.into()],
            ))
            .await?;
            Ok(())
        })
    });
    consumer::spawn(
        h.broker.clone(),
        h.store.clone(),
        ConsumerSpec {
            queue: "test.consumer".into(),
            bindings: vec![(Exchange::Events, "test.#".into())],
        },
        handler,
        h.stop.clone(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await; // queue declared and bound
    let snap = Money {
        minor_units: 1,
        currency: "CNY".into(),
    };
    let msg = messages::domain_event("test", "test.thing.twice", "t-4", "NEW", &[], &snap);
    let mut poison = messages::domain_event("test", "test.thing.poison", "t-5", "NEW", &[], &snap);
    poison.envelope.source = "poison".into();
    let exchange = h.broker.topology().exchange(Exchange::Events);
    for m in [&msg, &msg, &poison] {
        let body = prost::Message::encode_to_vec(&m.envelope);
        let props = outbox::properties(&m.envelope, &serde_json::json!({}));
        h.broker
            .publish(&exchange, &m.routing_key, &body, props)
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let dead = dead_letters(&h).await;
        if dead >= 1 || tokio::time::Instant::now() > deadline {
            assert_eq!(dead, 1, "poison message dead-lettered");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        count(&h.db, "SELECT count(*)::bigint FROM effects").await,
        1,
        "one effect"
    );
    assert_eq!(count(&h.db, "SELECT count(*)::bigint FROM inbox").await, 1);
}

async fn dead_letters(h: &Harness) -> u32 {
    let (_conn, ch) = h.env.amqp_channel().await;
    let q = ch
        .queue_declare(
            h.broker.topology().dead_letter_queue().as_str().into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    q.message_count()
}

#[tokio::test]
async fn a_poison_outbox_row_is_set_aside_and_blocks_nothing() {
    let h = harness().await;
    let mut probe = h.env.event_probe("test.#").await;
    h.db.execute_unprepared(
        "INSERT INTO outbox (message_id, exchange, routing_key, message_type, body) \
         VALUES (gen_random_uuid(), 'events', 'test.thing.bad', 'x', '\\x0102ff'::bytea)",
    )
    .await
    .unwrap();
    let snap = Money {
        minor_units: 1,
        currency: "CNY".into(),
    };
    let good = messages::domain_event("test", "test.thing.good", "t-6", "NEW", &[], &snap);
    h.store
        .transaction(move |tx| Box::pin(async move { tx.publish(&good).await }))
        .await
        .unwrap();
    let got = probe
        .wait_for(Duration::from_secs(10), |_| true)
        .await
        .expect("good row published");
    assert_eq!(got.routing_key, "test.thing.good");
    // The relay commits its bookkeeping just after the broker confirms: poll for it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rejected = count(
            &h.db,
            "SELECT count(*)::bigint FROM outbox WHERE rejected_at IS NOT NULL",
        )
        .await;
        if rejected == 1 || tokio::time::Instant::now() > deadline {
            assert_eq!(rejected, 1, "the poison row is set aside");
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
