//! Charges for an exchange's price difference: a charge pays for exactly one repair or one
//! case, and a case has at most one pending or succeeded charge, as a repair does.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
ALTER TABLE charges
    ALTER COLUMN repair_id DROP NOT NULL,
    ADD COLUMN case_id UUID,
    ADD CONSTRAINT charges_for_one_subject CHECK ((repair_id IS NULL) <> (case_id IS NULL));
CREATE UNIQUE INDEX charges_case_active_uq ON charges (case_id)
    WHERE case_id IS NOT NULL AND status IN ('PENDING', 'SUCCEEDED');
-- The charges of a case (ListCharges by case, the active-charge check).
CREATE INDEX charges_case_idx ON charges (case_id, id) WHERE case_id IS NOT NULL;
"#,
            )
            .await?;
        Ok(())
    }
}
