//! Database connection, creation of a missing database, and the platform's own tables
//! (outbox, inbox, idempotency keys) as migrations every service includes.

use crate::config::DatabaseSettings;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, Statement};
use sea_orm_migration::prelude::*;
use std::time::Duration;

/// Connects a pool to the service database, creating the database first when configured to.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    if settings.create_if_missing {
        ensure_database(settings.url.expose()).await?;
    }
    let mut opts = ConnectOptions::new(settings.url.expose().to_owned());
    opts.max_connections(settings.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    Ok(Database::connect(opts).await?)
}

/// Splits `postgres://.../name?opts` into the server URL (pointing at `postgres`) and `name`.
pub fn split_database_url(url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (server, name) = base
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("database url has no database name"))?;
    if name.is_empty() || server.ends_with('/') {
        anyhow::bail!("database url has no database name");
    }
    let mut admin = format!("{server}/postgres");
    if let Some(q) = query {
        admin.push('?');
        admin.push_str(q);
    }
    Ok((admin, name.to_owned()))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the database named in `url` if it does not exist.
pub async fn ensure_database(url: &str) -> anyhow::Result<()> {
    let (admin_url, name) = split_database_url(url)?;
    let admin = Database::connect(admin_url).await?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 FROM pg_database WHERE datname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        let created = admin
            .execute_unprepared(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await;
        // A concurrent creator may have won the race; that is fine.
        if let Err(e) = created
            && !e.to_string().contains("already exists")
        {
            return Err(e.into());
        }
        tracing::info!(database = %name, "database created");
    }
    admin.close().await?;
    Ok(())
}

/// Drops the database named in `url` (tests), disconnecting its sessions first.
pub async fn drop_database(url: &str) -> anyhow::Result<()> {
    let (admin_url, name) = split_database_url(url)?;
    let admin = Database::connect(admin_url).await?;
    admin
        .execute_unprepared(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&name)
        ))
        .await?;
    admin.close().await?;
    Ok(())
}

/// Migrations of the platform tables; services append their own after these.
pub fn platform_migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(PlatformTables), Box::new(OutboxRejects)]
}

/// Outbox rows that can never be published (unknown exchange, undecodable body) are set aside
/// with a reason instead of blocking the rows behind them.
struct OutboxRejects;

impl MigrationName for OutboxRejects {
    fn name(&self) -> &str {
        "m0000_platform_outbox_rejects"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for OutboxRejects {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS rejected_at TIMESTAMPTZ, \
                 ADD COLUMN IF NOT EXISTS rejected_reason TEXT",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "ALTER TABLE outbox DROP COLUMN IF EXISTS rejected_at, DROP COLUMN IF EXISTS rejected_reason",
            )
            .await?;
        Ok(())
    }
}

struct PlatformTables;

impl MigrationName for PlatformTables {
    fn name(&self) -> &str {
        "m0000_platform_tables"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for PlatformTables {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE IF NOT EXISTS outbox (
    id              BIGSERIAL PRIMARY KEY,
    message_id      UUID NOT NULL UNIQUE,
    exchange        TEXT NOT NULL,
    routing_key     TEXT NOT NULL,
    message_type    TEXT NOT NULL,
    correlation_id  TEXT NOT NULL DEFAULT '',
    headers         JSONB NOT NULL DEFAULT '{}'::jsonb,
    body            BYTEA NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    attempts        INT NOT NULL DEFAULT 0,
    published_at    TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

CREATE TABLE IF NOT EXISTS inbox (
    consumer      TEXT NOT NULL,
    message_id    TEXT NOT NULL,
    processed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope          TEXT NOT NULL,
    key            TEXT NOT NULL,
    request_hash   TEXT NOT NULL,
    response       BYTEA,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE IF EXISTS idempotency_keys, inbox, outbox")
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        let (admin, name) =
            split_database_url("postgres://u@h:5432/orders?sslmode=disable").unwrap();
        assert_eq!(admin, "postgres://u@h:5432/postgres?sslmode=disable");
        assert_eq!(name, "orders");
        assert!(split_database_url("postgres://u@h:5432/").is_err());
    }
}
