//! Saga instances (state as JSON, indexed columns for operators), their timelines, durable
//! timers, wait subscriptions, buffered events and the operator audit log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE sagas (
    id            UUID PRIMARY KEY,
    flow          TEXT NOT NULL,
    flow_version  INTEGER NOT NULL,
    business_key  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('RUNNING', 'COMPENSATING', 'PAUSED',
                    'NEEDS_ATTENTION', 'COMPLETED', 'COMPENSATED')),
    current_step  TEXT NOT NULL DEFAULT '',
    attempt       INTEGER NOT NULL DEFAULT 0,
    past_pivot    BOOLEAN NOT NULL DEFAULT FALSE,
    last_error    TEXT,
    state         JSONB NOT NULL,
    trace_context JSONB NOT NULL DEFAULT '{}',
    next_wake_at  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- One active saga per business key (one open case per order line, one flow per case).
CREATE UNIQUE INDEX sagas_one_active_per_key ON sagas (business_key)
    WHERE status NOT IN ('COMPLETED', 'COMPENSATED');
CREATE INDEX sagas_by_created ON sagas (created_at DESC, id DESC);
CREATE INDEX sagas_by_status ON sagas (status, updated_at);
CREATE INDEX sagas_by_flow ON sagas (flow, created_at DESC);
-- A flow runs once per business key: a repeated trigger event starts nothing.
CREATE INDEX sagas_by_flow_key ON sagas (flow, business_key);

CREATE TABLE saga_timeline (
    saga_id    UUID NOT NULL REFERENCES sagas (id),
    seq        BIGINT NOT NULL,
    step       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    attempt    INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    elapsed_ms BIGINT NOT NULL,
    PRIMARY KEY (saga_id, seq)
);

-- Durable timers: step timeouts, retry backoffs, wait deadlines. Claimed with SKIP LOCKED.
CREATE TABLE saga_timers (
    token   UUID PRIMARY KEY,
    saga_id UUID NOT NULL REFERENCES sagas (id),
    due_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX saga_timers_due ON saga_timers (due_at);

-- Waits in progress, by `name=value` business key.
CREATE TABLE saga_waits (
    saga_id  UUID NOT NULL REFERENCES sagas (id),
    wait_key TEXT NOT NULL,
    PRIMARY KEY (saga_id, wait_key)
);
CREATE INDEX saga_waits_by_key ON saga_waits (wait_key);

-- Events a wait listens to, kept so that one arriving before its saga reaches the wait is
-- not lost.
CREATE TABLE saga_events (
    id          BIGSERIAL PRIMARY KEY,
    message_id  TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    keys        TEXT[] NOT NULL,
    body        BYTEA NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    consumed_by UUID,
    consumed_at TIMESTAMPTZ
);
CREATE INDEX saga_events_unconsumed ON saga_events USING GIN (keys) WHERE consumed_by IS NULL;

CREATE TABLE saga_audit (
    id         BIGSERIAL PRIMARY KEY,
    saga_id    UUID NOT NULL REFERENCES sagas (id),
    actor_kind TEXT NOT NULL,
    actor_id   TEXT NOT NULL,
    action     TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX saga_audit_by_saga ON saga_audit (saga_id, id);
"#,
            )
            .await?;
        Ok(())
    }
}
