//! The variant an exchanged item is replaced by: its SKU and unit price (in the case's
//! currency). Both or neither are set; the price difference is computed from them, never stored.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
ALTER TABLE case_items
    ADD COLUMN replacement_sku TEXT,
    ADD COLUMN replacement_unit_price_minor BIGINT CHECK (replacement_unit_price_minor > 0),
    ADD CONSTRAINT case_items_replacement_whole
        CHECK ((replacement_sku IS NULL) = (replacement_unit_price_minor IS NULL));
"#,
            )
            .await?;
        Ok(())
    }
}
