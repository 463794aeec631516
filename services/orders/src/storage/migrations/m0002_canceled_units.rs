//! Units canceled before shipment (refund-only before shipment): the `canceled` line counter,
//! which counts with the other outcomes, and the state an order came from when every unit was
//! canceled. Such an order may be canceled after its waybill was printed (the saga voided it);
//! a CancelOrder still may not.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
-- The unnamed "no cancel once printed" check of m0001 is replaced by a named one below.
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'orders'::regclass AND contype = 'c'
               AND pg_get_constraintdef(oid) LIKE '%waybill_printed_at%'
    LOOP
        EXECUTE format('ALTER TABLE orders DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;

ALTER TABLE orders
    ADD COLUMN canceled_from TEXT CHECK (canceled_from IN ('PAID', 'AWAITING_SHIPMENT')),
    ADD CONSTRAINT orders_canceled_from_only_when_canceled
        CHECK (canceled_from IS NULL OR state = 'CANCELED'),
    -- CancelOrder only before the waybill is printed; every unit canceled may be after it
    ADD CONSTRAINT orders_canceled_before_print
        CHECK (NOT (state = 'CANCELED' AND waybill_printed_at IS NOT NULL AND canceled_from IS NULL));

ALTER TABLE order_lines
    ADD COLUMN canceled INTEGER NOT NULL DEFAULT 0,
    ADD CONSTRAINT order_lines_canceled_within_quantity CHECK (canceled >= 0 AND canceled <= quantity),
    DROP CONSTRAINT order_lines_outcomes_within_quantity,
    ADD CONSTRAINT order_lines_outcomes_within_quantity
        CHECK (GREATEST(refunded, canceled)::BIGINT + replaced + reshipped <= quantity);
"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
ALTER TABLE order_lines
    DROP CONSTRAINT order_lines_outcomes_within_quantity,
    DROP CONSTRAINT order_lines_canceled_within_quantity,
    DROP COLUMN canceled,
    ADD CONSTRAINT order_lines_outcomes_within_quantity
        CHECK (refunded::BIGINT + replaced + reshipped <= quantity);
ALTER TABLE orders
    DROP CONSTRAINT orders_canceled_before_print,
    DROP CONSTRAINT orders_canceled_from_only_when_canceled,
    DROP COLUMN canceled_from,
    ADD CONSTRAINT orders_canceled_before_print
        CHECK (NOT (state = 'CANCELED' AND waybill_printed_at IS NOT NULL));
"#,
            )
            .await?;
        Ok(())
    }
}
