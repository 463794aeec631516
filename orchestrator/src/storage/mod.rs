//! Saga persistence: instances (state as JSON plus indexed columns), timeline, timers, wait
//! subscriptions, buffered events and the audit log. Plain SQL over the sea-orm connection.

pub mod migrations;

use crate::engine::instance::{Entry, Instance, Status};
use aftersales_platform::edge::Page;
use aftersales_platform::{AppError, AppResult};
use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, QueryResult, Statement, Value};
use sea_orm_migration::MigrationTrait;
use uuid::Uuid;

pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(migrations::m0001_sagas::Migration)]
}

fn stmt(sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(sea_orm::DatabaseBackend::Postgres, sql, values)
}

fn corrupt(detail: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("saga row corrupt: {detail}"))
}

/// The indexed columns derived from an instance.
fn current_step(inst: &Instance, step_name: &str) -> (String, i32) {
    let attempt = inst.activities.iter().map(|a| a.attempt).max().unwrap_or(0);
    (
        step_name.to_owned(),
        i32::try_from(attempt).unwrap_or(i32::MAX),
    )
}

/// Inserts a new saga; returns false when an active saga already holds the business key, or
/// this flow already ran for it (a repeated trigger event never starts the flow twice).
pub async fn insert<C: ConnectionTrait>(
    conn: &C,
    inst: &Instance,
    step_name: &str,
    trace: &aftersales_platform::trace::Headers,
) -> AppResult<bool> {
    let state = serde_json::to_value(inst).map_err(|e| AppError::Internal(e.into()))?;
    let trace = serde_json::to_value(trace).map_err(|e| AppError::Internal(e.into()))?;
    let (step, attempt) = current_step(inst, step_name);
    let res = conn
        .execute_raw(stmt(
            "INSERT INTO sagas (id, flow, flow_version, business_key, status, current_step, attempt, \
             past_pivot, last_error, state, created_at, updated_at, trace_context) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12 \
             WHERE NOT EXISTS (SELECT 1 FROM sagas WHERE flow = $2 AND business_key = $4) \
             ON CONFLICT (business_key) WHERE status NOT IN ('COMPLETED', 'COMPENSATED') DO NOTHING",
            vec![
                inst.id.into(),
                inst.flow.clone().into(),
                i32::try_from(inst.version).unwrap_or(i32::MAX).into(),
                inst.business_key.clone().into(),
                inst.status.as_str().into(),
                step.into(),
                attempt.into(),
                inst.past_pivot.into(),
                inst.last_error.clone().into(),
                state.into(),
                inst.created_at.into(),
                trace.into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Loads a saga and locks its row for the rest of the transaction.
pub async fn lock<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> AppResult<Option<(Instance, aftersales_platform::trace::Headers)>> {
    let row = conn
        .query_one_raw(stmt(
            "SELECT state, trace_context FROM sagas WHERE id = $1 FOR UPDATE",
            vec![id.into()],
        ))
        .await?;
    row.map(|r| {
        let trace: serde_json::Value = r.try_get_by("trace_context")?;
        // The saga's root trace context (empty for sagas started without one).
        Ok((
            instance_of(&r)?,
            serde_json::from_value(trace).unwrap_or_default(),
        ))
    })
    .transpose()
}

fn instance_of(row: &QueryResult) -> AppResult<Instance> {
    let state: serde_json::Value = row.try_get_by("state")?;
    serde_json::from_value(state).map_err(corrupt)
}

/// Writes back a saga after a transition.
pub async fn save<C: ConnectionTrait>(
    conn: &C,
    inst: &Instance,
    step_name: &str,
    next_wake: Option<DateTime<Utc>>,
) -> AppResult<()> {
    let state = serde_json::to_value(inst).map_err(|e| AppError::Internal(e.into()))?;
    let (step, attempt) = current_step(inst, step_name);
    conn.execute_raw(stmt(
        "UPDATE sagas SET status = $2, current_step = $3, attempt = $4, past_pivot = $5, \
         last_error = $6, state = $7, next_wake_at = $8, updated_at = $9 WHERE id = $1",
        vec![
            inst.id.into(),
            inst.status.as_str().into(),
            step.into(),
            attempt.into(),
            inst.past_pivot.into(),
            inst.last_error.clone().into(),
            state.into(),
            next_wake.into(),
            inst.updated_at.into(),
        ],
    ))
    .await?;
    Ok(())
}

pub async fn append_timeline<C: ConnectionTrait>(
    conn: &C,
    saga: Uuid,
    entries: &[&Entry],
) -> AppResult<()> {
    for e in entries {
        conn.execute_raw(stmt(
            "INSERT INTO saga_timeline (saga_id, seq, step, kind, attempt, outcome, detail, at, elapsed_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            vec![
                saga.into(),
                i64::try_from(e.seq).unwrap_or(i64::MAX).into(),
                e.step.clone().into(),
                e.kind.into(),
                i32::try_from(e.attempt).unwrap_or(i32::MAX).into(),
                e.outcome.into(),
                e.detail.clone().into(),
                e.at.into(),
                i64::try_from(e.elapsed_ms).unwrap_or(i64::MAX).into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

pub async fn arm<C: ConnectionTrait>(
    conn: &C,
    saga: Uuid,
    token: Uuid,
    due: DateTime<Utc>,
) -> AppResult<()> {
    conn.execute_raw(stmt(
        "INSERT INTO saga_timers (token, saga_id, due_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        vec![token.into(), saga.into(), due.into()],
    ))
    .await?;
    Ok(())
}

/// Drops the saga's timers that are no longer current (those claimed by a poller right now are
/// skipped; they fire as stale and are ignored). Returns the earliest current due time.
pub async fn prune_timers<C: ConnectionTrait>(
    conn: &C,
    saga: Uuid,
    current: &[Uuid],
) -> AppResult<Option<DateTime<Utc>>> {
    conn.execute_raw(stmt(
        "DELETE FROM saga_timers WHERE token IN (SELECT token FROM saga_timers \
         WHERE saga_id = $1 AND NOT (token = ANY($2)) FOR UPDATE SKIP LOCKED)",
        vec![saga.into(), current.to_vec().into()],
    ))
    .await?;
    let row = conn
        .query_one_raw(stmt(
            "SELECT min(due_at) AS due FROM saga_timers WHERE saga_id = $1 AND token = ANY($2)",
            vec![saga.into(), current.to_vec().into()],
        ))
        .await?;
    Ok(match row {
        Some(r) => r.try_get_by::<Option<DateTime<Utc>>, _>("due")?,
        None => None,
    })
}

/// Tokens of up to `limit` due timers, oldest first (not locked: each is claimed on its own).
pub async fn due_timers<C: ConnectionTrait>(conn: &C, limit: i64) -> AppResult<Vec<Uuid>> {
    let rows = conn
        .query_all_raw(stmt(
            "SELECT token FROM saga_timers WHERE due_at <= now() ORDER BY due_at LIMIT $1",
            vec![limit.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get_by::<Uuid, _>("token").map_err(AppError::from))
        .collect()
}

/// Claims one due timer (unless another replica holds it or it is gone) and deletes it, in the
/// caller's transaction; returns its saga.
pub async fn claim_timer<C: ConnectionTrait>(conn: &C, token: Uuid) -> AppResult<Option<Uuid>> {
    let row = conn
        .query_one_raw(stmt(
            "DELETE FROM saga_timers WHERE token = (SELECT token FROM saga_timers \
             WHERE token = $1 AND due_at <= now() FOR UPDATE SKIP LOCKED) RETURNING saga_id",
            vec![token.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by::<Uuid, _>("saga_id"))
        .transpose()?)
}

/// Pushes a timer whose transition failed `secs` into the future, so that it neither blocks the
/// others nor is lost.
pub async fn defer_timer<C: ConnectionTrait>(conn: &C, token: Uuid, secs: i64) -> AppResult<()> {
    conn.execute_raw(stmt(
        "UPDATE saga_timers SET due_at = now() + make_interval(secs => $2) WHERE token = $1",
        vec![token.into(), (secs as f64).into()],
    ))
    .await?;
    Ok(())
}

/// Replaces the saga's wait subscriptions.
pub async fn set_waits<C: ConnectionTrait>(conn: &C, saga: Uuid, keys: &[String]) -> AppResult<()> {
    conn.execute_raw(stmt(
        "DELETE FROM saga_waits WHERE saga_id = $1",
        vec![saga.into()],
    ))
    .await?;
    for k in keys {
        conn.execute_raw(stmt(
            "INSERT INTO saga_waits (saga_id, wait_key) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            vec![saga.into(), k.clone().into()],
        ))
        .await?;
    }
    Ok(())
}

/// Sagas waiting on any of `keys` (`name=value`).
pub async fn waiting_on<C: ConnectionTrait>(conn: &C, keys: &[String]) -> AppResult<Vec<Uuid>> {
    let rows = conn
        .query_all_raw(stmt(
            "SELECT DISTINCT saga_id FROM saga_waits WHERE wait_key = ANY($1) ORDER BY saga_id",
            vec![keys.to_vec().into()],
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get_by::<Uuid, _>("saga_id").map_err(AppError::from))
        .collect()
}

/// Keeps an event a wait may need; false when this message was already kept.
pub async fn buffer_event<C: ConnectionTrait>(
    conn: &C,
    message_id: &str,
    name: &str,
    keys: &[String],
    body: Vec<u8>,
) -> AppResult<bool> {
    let res = conn
        .execute_raw(stmt(
            "INSERT INTO saga_events (message_id, name, keys, body) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (message_id) DO NOTHING",
            vec![
                message_id.into(),
                name.into(),
                keys.to_vec().into(),
                body.into(),
            ],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}

/// Takes (marks consumed by `saga`) the oldest unconsumed event named one of `names` carrying
/// `key`, returning its body.
pub async fn take_buffered<C: ConnectionTrait>(
    conn: &C,
    saga: Uuid,
    names: &[&str],
    key: &str,
) -> AppResult<Option<Vec<u8>>> {
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let row = conn
        .query_one_raw(stmt(
            "UPDATE saga_events SET consumed_by = $1, consumed_at = now() WHERE id = ( \
               SELECT id FROM saga_events WHERE consumed_by IS NULL AND name = ANY($2) \
               AND keys @> ARRAY[$3]::text[] ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING body",
            vec![saga.into(), names.into(), key.into()],
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get_by::<Vec<u8>, _>("body"))
        .transpose()?)
}

/// Sagas parked for an operator now, by flow, and the timers already due (for the gauges).
pub async fn attention_and_due<C: ConnectionTrait>(
    conn: &C,
) -> AppResult<(Vec<(String, i64)>, i64)> {
    let rows = conn
        .query_all_raw(stmt(
            "SELECT flow, count(*) AS n FROM sagas WHERE status = 'NEEDS_ATTENTION' GROUP BY flow",
            vec![],
        ))
        .await?;
    let parked = rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get_by::<String, _>("flow")?,
                r.try_get_by::<i64, _>("n")?,
            ))
        })
        .collect::<AppResult<Vec<_>>>()?;
    let due = conn
        .query_one_raw(stmt(
            "SELECT count(*) AS n FROM saga_timers WHERE due_at <= now()",
            vec![],
        ))
        .await?
        .map(|r| r.try_get_by::<i64, _>("n"))
        .transpose()?
        .unwrap_or(0);
    Ok((parked, due))
}

/// Waiting sagas for which an unconsumed buffered event with their key exists (the sweeper's
/// safety net for an event that raced its saga into the wait).
pub async fn sagas_with_buffered_events<C: ConnectionTrait>(conn: &C) -> AppResult<Vec<Uuid>> {
    let rows = conn
        .query_all_raw(stmt(
            "SELECT DISTINCT w.saga_id FROM saga_waits w JOIN saga_events e \
             ON e.consumed_by IS NULL AND e.keys @> ARRAY[w.wait_key] LIMIT 100",
            vec![],
        ))
        .await?;
    rows.iter()
        .map(|r| r.try_get_by::<Uuid, _>("saga_id").map_err(AppError::from))
        .collect()
}

pub async fn audit<C: ConnectionTrait>(
    conn: &C,
    saga: Uuid,
    actor_kind: &str,
    actor_id: &str,
    action: &str,
    reason: &str,
) -> AppResult<()> {
    conn.execute_raw(stmt(
        "INSERT INTO saga_audit (saga_id, actor_kind, actor_id, action, reason) VALUES ($1, $2, $3, $4, $5)",
        vec![
            saga.into(),
            actor_kind.into(),
            actor_id.into(),
            action.into(),
            reason.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// A saga row as operators see it.
#[derive(Debug, Clone)]
pub struct SagaRow {
    pub instance: Instance,
    pub current_step: String,
    pub attempt: u32,
    pub next_wake_at: Option<DateTime<Utc>>,
    pub trace_id: String,
}

fn saga_row(r: &QueryResult) -> AppResult<SagaRow> {
    let trace: serde_json::Value = r.try_get_by("trace_context")?;
    let trace_id = trace
        .get("traceparent")
        .and_then(serde_json::Value::as_str)
        .and_then(|tp| tp.split('-').nth(1))
        .unwrap_or_default()
        .to_owned();
    Ok(SagaRow {
        instance: instance_of(r)?,
        current_step: r.try_get_by("current_step")?,
        attempt: u32::try_from(r.try_get_by::<i32, _>("attempt")?).unwrap_or(0),
        next_wake_at: r.try_get_by("next_wake_at")?,
        trace_id,
    })
}

const ROW_COLUMNS: &str = "state, current_step, attempt, next_wake_at, trace_context";

pub async fn get<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<Option<SagaRow>> {
    let row = conn
        .query_one_raw(stmt(
            &format!("SELECT {ROW_COLUMNS} FROM sagas WHERE id = $1"),
            vec![id.into()],
        ))
        .await?;
    row.map(|r| saga_row(&r)).transpose()
}

/// Filters of the operator list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub flow: Option<String>,
    pub status: Option<Status>,
    pub business_key: Option<String>,
    pub created_before: Option<DateTime<Utc>>,
    pub stuck_since: Option<DateTime<Utc>>,
}

pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &Filter,
    page: Page,
) -> AppResult<Vec<SagaRow>> {
    let mut sql = format!("SELECT {ROW_COLUMNS} FROM sagas WHERE TRUE");
    let mut values: Vec<Value> = Vec::new();
    let mut add = |cond: &str, v: Value, sql: &mut String| {
        values.push(v);
        sql.push_str(&format!(" AND {cond} ${}", values.len()));
    };
    if let Some(f) = &filter.flow {
        add("flow =", f.clone().into(), &mut sql);
    }
    if let Some(s) = filter.status {
        add("status =", s.as_str().into(), &mut sql);
    }
    if let Some(k) = &filter.business_key {
        add("business_key =", k.clone().into(), &mut sql);
    }
    if let Some(t) = filter.created_before {
        add("created_at <=", t.into(), &mut sql);
    }
    if let Some(t) = filter.stuck_since {
        sql.push_str(" AND status NOT IN ('COMPLETED', 'COMPENSATED')");
        add("updated_at <=", t.into(), &mut sql);
    }
    if let Some(after) = page.after {
        add("id <", after.into(), &mut sql);
    }
    values.push(i64::try_from(page.size + 1).unwrap_or(i64::MAX).into());
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
    let rows = conn.query_all_raw(stmt(&sql, values)).await?;
    rows.iter().map(saga_row).collect()
}

/// One timeline line as stored.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    pub seq: u64,
    pub step: String,
    pub kind: String,
    pub attempt: u32,
    pub outcome: String,
    pub detail: String,
    pub at: DateTime<Utc>,
    pub elapsed_ms: u64,
}

pub async fn timeline<C: ConnectionTrait>(conn: &C, saga: Uuid) -> AppResult<Vec<TimelineRow>> {
    let rows = conn
        .query_all_raw(stmt(
            "SELECT seq, step, kind, attempt, outcome, detail, at, elapsed_ms FROM saga_timeline \
             WHERE saga_id = $1 ORDER BY seq",
            vec![saga.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TimelineRow {
                seq: u64::try_from(r.try_get_by::<i64, _>("seq")?).unwrap_or(0),
                step: r.try_get_by("step")?,
                kind: r.try_get_by("kind")?,
                attempt: u32::try_from(r.try_get_by::<i32, _>("attempt")?).unwrap_or(0),
                outcome: r.try_get_by("outcome")?,
                detail: r.try_get_by("detail")?,
                at: r.try_get_by("at")?,
                elapsed_ms: u64::try_from(r.try_get_by::<i64, _>("elapsed_ms")?).unwrap_or(0),
            })
        })
        .collect()
}

/// One audit line.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub actor_kind: String,
    pub actor_id: String,
    pub action: String,
    pub reason: String,
    pub at: DateTime<Utc>,
}

pub async fn audit_log<C: ConnectionTrait>(conn: &C, saga: Uuid) -> AppResult<Vec<AuditRow>> {
    let rows = conn
        .query_all_raw(stmt(
            "SELECT actor_kind, actor_id, action, reason, at FROM saga_audit WHERE saga_id = $1 ORDER BY id",
            vec![saga.into()],
        ))
        .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                actor_kind: r.try_get_by("actor_kind")?,
                actor_id: r.try_get_by("actor_id")?,
                action: r.try_get_by("action")?,
                reason: r.try_get_by("reason")?,
                at: r.try_get_by("at")?,
            })
        })
        .collect()
}
