//! Repair centers, repair orders and the local replica of orders and their lines.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE repair_centers (
    id              UUID PRIMARY KEY,
    code            TEXT NOT NULL,
    name            TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('ACTIVE', 'SUSPENDED')),
    suspend_reason  TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL,
    CONSTRAINT repair_centers_code_key UNIQUE (code),
    CHECK ((state = 'SUSPENDED') = (suspend_reason IS NOT NULL))
);

-- Replica of the orders service's orders, fed by `orders.order.*` events; only the newest
-- version is kept.
CREATE TABLE order_replicas (
    order_id        UUID PRIMARY KEY,
    buyer_id        UUID NOT NULL,
    merchant_id     UUID NOT NULL,
    state           TEXT NOT NULL,
    paid_at         TIMESTAMPTZ NOT NULL,
    version         BIGINT NOT NULL CHECK (version >= 0),
    replicated_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE order_line_replicas (
    line_id         UUID PRIMARY KEY,
    order_id        UUID NOT NULL REFERENCES order_replicas (order_id) ON DELETE CASCADE,
    sku             TEXT NOT NULL,
    -- The line's policy snapshot; NULL when the snapshot had none.
    warranty_months INTEGER CHECK (warranty_months >= 0)
);
CREATE INDEX order_line_replicas_order_idx ON order_line_replicas (order_id);

CREATE TABLE repair_orders (
    id                      UUID PRIMARY KEY,
    order_id                UUID NOT NULL,
    line_id                 UUID NOT NULL,
    buyer_id                UUID NOT NULL,
    merchant_id             UUID NOT NULL,
    sku                     TEXT NOT NULL,
    serial_number           TEXT NOT NULL,
    purchased_at            TIMESTAMPTZ NOT NULL,
    warranty_months         INTEGER NOT NULL CHECK (warranty_months >= 0),
    warranty_ends_at        TIMESTAMPTZ NOT NULL,
    computed_in_warranty    BOOLEAN NOT NULL,
    -- The effective decision (override when there is one), for filtering.
    in_warranty             BOOLEAN NOT NULL,
    -- {in_warranty, reason, by: {kind, id}, at}
    warranty_override       JSONB,
    symptom                 TEXT NOT NULL,
    evidence_refs           JSONB NOT NULL,
    channel                 TEXT,
    state                   TEXT NOT NULL CHECK (state IN
                              ('REQUESTED', 'AWAITING_ITEM', 'AT_REPAIR_CENTER', 'RECEIVED',
                               'DIAGNOSING', 'QUOTED', 'AWAITING_APPROVAL', 'APPROVED',
                               'REPAIRING', 'REPAIRED', 'RETURNING_UNREPAIRED', 'SHIPPED_BACK',
                               'COMPLETED', 'UNREPAIRABLE', 'CONVERTED', 'CANCELED')),
    repair_center_id        UUID REFERENCES repair_centers (id),
    inbound_shipment_id     UUID,
    return_shipment_id      UUID,
    receipt_note            TEXT,
    -- {findings, fault_code, diagnosed_at}
    diagnosis               JSONB,
    quote_amount_minor      BIGINT CHECK (quote_amount_minor > 0),
    quote_currency          TEXT CHECK (char_length(quote_currency) = 3),
    quote_description       TEXT,
    quote_submitted_at      TIMESTAMPTZ,
    quote_sent_at           TIMESTAMPTZ,
    quote_expires_at        TIMESTAMPTZ,
    quote_decision          TEXT CHECK (quote_decision IN ('APPROVED', 'DECLINED', 'EXPIRED', 'WITHDRAWN')),
    quote_decided_at        TIMESTAMPTZ,
    quote_decline_reason    TEXT,
    quote_charge_id         UUID,
    quote_paid_at           TIMESTAMPTZ,
    repair_notes            TEXT,
    unrepairable_reason     TEXT,
    resolution              TEXT CHECK (resolution IN ('EXCHANGE', 'REFUND')),
    converted_case_id       UUID,
    unrepaired_reason       TEXT CHECK (unrepaired_reason IN ('QUOTE_DECLINED', 'QUOTE_EXPIRED', 'CANCELED')),
    cancel_reason           TEXT,
    requested_at            TIMESTAMPTZ NOT NULL,
    received_at             TIMESTAMPTZ,
    repaired_at             TIMESTAMPTZ,
    shipped_back_at         TIMESTAMPTZ,
    completed_at            TIMESTAMPTZ,
    updated_at              TIMESTAMPTZ NOT NULL,
    version                 BIGINT NOT NULL CHECK (version >= 1),
    -- A quote has both parts of its price or neither; it is charged at most once, exactly.
    CHECK ((quote_amount_minor IS NULL) = (quote_currency IS NULL)),
    CHECK (quote_submitted_at IS NOT NULL OR quote_amount_minor IS NULL),
    CHECK (quote_charge_id IS NULL OR quote_decision = 'APPROVED'),
    CHECK (state = 'REQUESTED' OR state = 'CANCELED' OR repair_center_id IS NOT NULL),
    CHECK (state <> 'APPROVED' OR quote_amount_minor IS NOT NULL)
);

-- One open repair order per order line and serial number (second line of defence: the API
-- checks it under the replica's order row lock first).
CREATE UNIQUE INDEX repair_orders_one_open_per_item ON repair_orders (line_id, serial_number)
    WHERE state NOT IN ('COMPLETED', 'CONVERTED', 'CANCELED');
CREATE INDEX repair_orders_order_idx ON repair_orders (order_id);
CREATE INDEX repair_orders_buyer_idx ON repair_orders (buyer_id, id);
CREATE INDEX repair_orders_merchant_idx ON repair_orders (merchant_id, id);
CREATE INDEX repair_orders_center_idx ON repair_orders (repair_center_id, id);
CREATE INDEX repair_orders_serial_idx ON repair_orders (serial_number);
-- Quotes waiting for the buyer, by deadline (the orchestrator's expiry timer).
CREATE INDEX repair_orders_quote_expiry_idx ON repair_orders (quote_expires_at)
    WHERE state = 'AWAITING_APPROVAL';
"#,
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "DROP TABLE IF EXISTS repair_orders; DROP TABLE IF EXISTS order_line_replicas; \
                 DROP TABLE IF EXISTS order_replicas; DROP TABLE IF EXISTS repair_centers;",
            )
            .await?;
        Ok(())
    }
}
