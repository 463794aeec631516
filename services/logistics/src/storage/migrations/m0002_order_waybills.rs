//! Refund-only before shipment: the case each waybill was voided for and the voided shipment a
//! reissued one replaces (at most one replacement each). A voided waybill frees its tracking
//! number, so the reissued shipment keeps it: the number is unique per courier among shipments
//! that are not voided.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
ALTER TABLE shipments
    ADD COLUMN voided_for_case_id UUID,
    ADD COLUMN reissued_from_id UUID REFERENCES shipments (id),
    ADD CONSTRAINT shipments_voided_for_case_when_voided
        CHECK (voided_for_case_id IS NULL OR state = 'voided');
CREATE UNIQUE INDEX shipments_reissued_from_key ON shipments (reissued_from_id)
    WHERE reissued_from_id IS NOT NULL;
CREATE INDEX shipments_voided_for_case_idx ON shipments (voided_for_case_id)
    WHERE voided_for_case_id IS NOT NULL;

-- One live shipment per courier and tracking number (`tracking_number_taken`).
DROP INDEX shipments_courier_tracking_key;
CREATE UNIQUE INDEX shipments_courier_tracking_key ON shipments (courier_code, tracking_number)
    WHERE state <> 'voided';
CREATE INDEX shipments_courier_tracking_idx ON shipments (courier_code, tracking_number);
"#,
            )
            .await?;
        Ok(())
    }
}
