//! Orders, their lines (policy snapshot + after-sale counters) and the audit of counter moves.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE orders (
    id                  UUID PRIMARY KEY,
    buyer_id            UUID NOT NULL,
    merchant_id         UUID NOT NULL,
    state               TEXT NOT NULL CHECK (state IN
                          ('PAID', 'AWAITING_SHIPMENT', 'SHIPPED', 'DELIVERED', 'COMPLETED', 'CANCELED')),
    shipping_address    JSONB NOT NULL,
    payment_reference   TEXT NOT NULL,
    currency            TEXT NOT NULL CHECK (char_length(currency) = 3),
    paid_minor          BIGINT NOT NULL CHECK (paid_minor >= 0),
    shipping_fee_minor  BIGINT NOT NULL CHECK (shipping_fee_minor >= 0 AND shipping_fee_minor <= paid_minor),
    member_tier         TEXT NOT NULL,
    shipping_insurance  BOOLEAN NOT NULL,
    paid_at             TIMESTAMPTZ NOT NULL,
    promised_eta        TIMESTAMPTZ NOT NULL,
    waybill_printed_at  TIMESTAMPTZ,
    shipped_at          TIMESTAMPTZ,
    signed_at           TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    canceled_at         TIMESTAMPTZ,
    cancel_reason       TEXT,
    courier_code        TEXT,
    tracking_number     TEXT,
    shipment_id         UUID,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    version             BIGINT NOT NULL CHECK (version >= 1),
    -- once printed, the order can no longer be canceled
    CHECK (NOT (state = 'CANCELED' AND waybill_printed_at IS NOT NULL))
);
CREATE INDEX orders_buyer_idx ON orders (buyer_id, id DESC);
CREATE INDEX orders_merchant_idx ON orders (merchant_id, id DESC);
CREATE INDEX orders_courier_idx ON orders (courier_code, id DESC) WHERE courier_code IS NOT NULL;
CREATE INDEX orders_state_idx ON orders (state, id DESC);

CREATE TABLE order_lines (
    id                  UUID PRIMARY KEY,
    order_id            UUID NOT NULL REFERENCES orders (id),
    position            INTEGER NOT NULL CHECK (position >= 0),
    sku                 TEXT NOT NULL,
    category            TEXT NOT NULL,
    quantity            INTEGER NOT NULL CHECK (quantity >= 1),
    unit_price_minor    BIGINT NOT NULL CHECK (unit_price_minor >= 0),
    discount_minor      BIGINT NOT NULL CHECK (discount_minor >= 0),
    policy              JSONB NOT NULL,
    requested           INTEGER NOT NULL DEFAULT 0 CHECK (requested >= 0 AND requested <= quantity),
    returned_received   INTEGER NOT NULL DEFAULT 0 CHECK (returned_received >= 0 AND returned_received <= quantity),
    refunded            INTEGER NOT NULL DEFAULT 0 CHECK (refunded >= 0 AND refunded <= quantity),
    replaced            INTEGER NOT NULL DEFAULT 0 CHECK (replaced >= 0 AND replaced <= quantity),
    reshipped           INTEGER NOT NULL DEFAULT 0 CHECK (reshipped >= 0 AND reshipped <= quantity),
    CONSTRAINT order_lines_outcomes_within_quantity
        CHECK (refunded::BIGINT + replaced + reshipped <= quantity),
    UNIQUE (order_id, position)
);

CREATE TABLE order_line_movements (
    id          UUID PRIMARY KEY,
    order_id    UUID NOT NULL REFERENCES orders (id),
    line_id     UUID NOT NULL REFERENCES order_lines (id),
    counter     TEXT NOT NULL,
    delta       INTEGER NOT NULL CHECK (delta <> 0),
    case_id     UUID,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    reason      TEXT,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX order_line_movements_line_idx ON order_line_movements (line_id, created_at);
CREATE INDEX order_line_movements_case_idx ON order_line_movements (case_id) WHERE case_id IS NOT NULL;
"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "DROP TABLE IF EXISTS order_line_movements; DROP TABLE IF EXISTS order_lines; DROP TABLE IF EXISTS orders;",
            )
            .await?;
        Ok(())
    }
}
