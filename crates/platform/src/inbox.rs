//! Transactional inbox: a consumer records each processed message id in the same transaction as
//! its effect, so a redelivered message has no second effect.

use sea_orm::{ConnectionTrait, DbErr, Statement};

/// Records `message_id` for `consumer`; returns false when it was already processed.
pub async fn claim<C: ConnectionTrait>(
    conn: &C,
    consumer: &str,
    message_id: &str,
) -> Result<bool, DbErr> {
    let res = conn
        .execute_raw(Statement::from_sql_and_values(
            conn.get_database_backend(),
            "INSERT INTO inbox (consumer, message_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            [consumer.into(), message_id.into()],
        ))
        .await?;
    Ok(res.rows_affected() == 1)
}
