//! The unit of work of every mutating RPC: one transaction for the state change, its outbox
//! messages and its idempotency record; the outbox relay is woken after commit.

use crate::{
    error::{AppError, AppResult},
    outbox::{self, OutboundMessage, Outbox},
};
use aftersales_kernel::limits;
use futures::future::BoxFuture;
use prost::Message;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, Statement, TransactionTrait,
};
use sha2::{Digest, Sha256};
use tracing::Instrument as _;

/// Database pool plus outbox handle: what every service's storage layer starts from.
#[derive(Clone)]
pub struct Store {
    pub db: DatabaseConnection,
    outbox: Outbox,
    /// The database name, for the `db.namespace` of transaction spans.
    namespace: std::sync::Arc<str>,
}

/// A transaction that collects outbox messages to write before it commits.
pub struct Tx {
    txn: DatabaseTransaction,
}

impl Tx {
    pub fn conn(&self) -> &DatabaseTransaction {
        &self.txn
    }

    /// Queues `msg` for publication if and only if this transaction commits.
    pub async fn publish(&self, msg: &OutboundMessage) -> AppResult<()> {
        outbox::enqueue(&self.txn, msg).await?;
        Ok(())
    }
}

impl std::ops::Deref for Tx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

/// Validates an idempotency key: required, at most 128 characters.
pub fn check_idempotency_key(key: &str) -> AppResult<()> {
    if key.trim().is_empty() {
        return Err(AppError::field("idempotency_key", "is required"));
    }
    if key.len() > limits::IDEMPOTENCY_KEY {
        return Err(AppError::field(
            "idempotency_key",
            format!("must be at most {} characters", limits::IDEMPOTENCY_KEY),
        ));
    }
    Ok(())
}

impl Store {
    pub fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self {
            db,
            outbox,
            namespace: "postgres".into(),
        }
    }

    /// Names the database in transaction spans.
    pub fn named(mut self, database: &str) -> Self {
        self.namespace = database.into();
        self
    }

    /// Runs `work` in one transaction and commits; wakes the outbox relay afterwards.
    pub async fn transaction<R, F>(&self, work: F) -> AppResult<R>
    where
        R: Send,
        F: for<'t> FnOnce(&'t Tx) -> BoxFuture<'t, AppResult<R>> + Send,
    {
        async {
            let tx = Tx {
                txn: self.db.begin().await?,
            };
            let out = work(&tx).await?;
            tx.txn.commit().await?;
            self.outbox.notify();
            Ok(out)
        }
        .instrument(crate::trace::db_span(&self.namespace))
        .await
    }

    /// Runs a mutating request exactly once per `(scope, key)`.
    ///
    /// The first call runs `work` and stores its response in the same transaction; a replay with
    /// the same request returns the stored response and changes nothing; a replay with a
    /// different request is refused (`idempotency_key_reused`). Concurrent duplicates wait for
    /// the first to finish. Failed requests store nothing, so they may be retried with the key.
    pub async fn idempotent<Req, R, F>(
        &self,
        scope: &str,
        key: &str,
        request: &Req,
        work: F,
    ) -> AppResult<R>
    where
        Req: Message,
        R: Message + Default + Send,
        F: for<'t> FnOnce(&'t Tx) -> BoxFuture<'t, AppResult<R>> + Send,
    {
        check_idempotency_key(key)?;
        let hash = hex::encode(Sha256::digest(request.encode_to_vec()));
        self.idempotent_tx(scope, key, hash, work)
            .instrument(crate::trace::db_span(&self.namespace))
            .await
    }

    async fn idempotent_tx<R, F>(
        &self,
        scope: &str,
        key: &str,
        hash: String,
        work: F,
    ) -> AppResult<R>
    where
        R: Message + Default + Send,
        F: for<'t> FnOnce(&'t Tx) -> BoxFuture<'t, AppResult<R>> + Send,
    {
        let tx = Tx {
            txn: self.db.begin().await?,
        };
        let backend = tx.txn.get_database_backend();
        let inserted = tx
            .txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) \
                 ON CONFLICT (scope, key) DO NOTHING",
                [scope.into(), key.into(), hash.clone().into()],
            ))
            .await?
            .rows_affected()
            == 1;
        if !inserted {
            let row = tx
                .txn
                .query_one_raw(Statement::from_sql_and_values(
                    backend,
                    "SELECT request_hash, response FROM idempotency_keys WHERE scope = $1 AND key = $2",
                    [scope.into(), key.into()],
                ))
                .await?
                .ok_or_else(|| AppError::Conflict("idempotency record vanished, retry".into()))?;
            tx.txn.commit().await?;
            let stored_hash: String = row.try_get_by("request_hash")?;
            if stored_hash != hash {
                return Err(AppError::rule(
                    "idempotency_key_reused",
                    "this idempotency key was already used for a different request",
                ));
            }
            let response: Option<Vec<u8>> = row.try_get_by("response")?;
            let bytes =
                response.ok_or_else(|| AppError::Conflict("request in progress, retry".into()))?;
            return R::decode(bytes.as_slice()).map_err(|e| {
                AppError::Internal(anyhow::anyhow!("stored response undecodable: {e}"))
            });
        }
        let out = work(&tx).await?;
        tx.txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE idempotency_keys SET response = $3 WHERE scope = $1 AND key = $2",
                [scope.into(), key.into(), out.encode_to_vec().into()],
            ))
            .await?;
        tx.txn.commit().await?;
        self.outbox.notify();
        Ok(out)
    }
}
