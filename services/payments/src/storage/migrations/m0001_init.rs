//! Payments, refunds, chargebacks, compensations, the store credit ledger and repair charges.
//! Money is BIGINT minor units plus a TEXT currency; CHECK constraints repeat the domain
//! invariants as a second line of defence.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE payments (
    id                       UUID PRIMARY KEY,
    order_id                 UUID NOT NULL,
    merchant_id              UUID NOT NULL,
    buyer_id                 UUID NOT NULL,
    method                   TEXT NOT NULL,
    currency                 TEXT NOT NULL,
    captured_minor           BIGINT NOT NULL CHECK (captured_minor > 0),
    refunds_in_flight_minor  BIGINT NOT NULL DEFAULT 0 CHECK (refunds_in_flight_minor >= 0),
    refunded_minor           BIGINT NOT NULL DEFAULT 0 CHECK (refunded_minor >= 0),
    charged_back_minor       BIGINT NOT NULL DEFAULT 0 CHECK (charged_back_minor >= 0),
    failed_refunds           INTEGER NOT NULL DEFAULT 0 CHECK (failed_refunds >= 0),
    open_chargeback_id       UUID,
    provider_reference       TEXT NOT NULL,
    idempotency_key          TEXT NOT NULL,
    recorded_by              JSONB NOT NULL,
    captured_at              TIMESTAMPTZ NOT NULL,
    created_at               TIMESTAMPTZ NOT NULL,
    updated_at               TIMESTAMPTZ NOT NULL,
    -- The refund cap: non-failed refunds never exceed the captured amount.
    CONSTRAINT payments_refund_cap CHECK (refunds_in_flight_minor + refunded_minor <= captured_minor)
);
-- One payment per order.
CREATE UNIQUE INDEX payments_order_uq ON payments (order_id);
CREATE INDEX payments_merchant_idx ON payments (merchant_id, id);
CREATE INDEX payments_buyer_idx ON payments (buyer_id, id);

CREATE TABLE refunds (
    id                  UUID PRIMARY KEY,
    payment_id          UUID NOT NULL REFERENCES payments (id),
    order_id            UUID NOT NULL,
    merchant_id         UUID NOT NULL,
    buyer_id            UUID NOT NULL,
    case_id             UUID,
    idempotency_key     TEXT NOT NULL,
    currency            TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    destination         TEXT NOT NULL,
    status              TEXT NOT NULL,
    reason              TEXT NOT NULL,
    override_reason     TEXT,
    provider_reference  TEXT,
    failure_reason      TEXT,
    requested_by        JSONB NOT NULL,
    resolved_by         JSONB,
    resolution_note     TEXT,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL,
    completed_at        TIMESTAMPTZ
);
-- Refund idempotency keys are unique per merchant.
CREATE UNIQUE INDEX refunds_merchant_key_uq ON refunds (merchant_id, idempotency_key);
CREATE INDEX refunds_payment_idx ON refunds (payment_id, id);
CREATE INDEX refunds_order_idx ON refunds (order_id, id);
CREATE INDEX refunds_case_idx ON refunds (case_id, id) WHERE case_id IS NOT NULL;

CREATE TABLE chargebacks (
    id                  UUID PRIMARY KEY,
    payment_id          UUID NOT NULL REFERENCES payments (id),
    currency            TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    status              TEXT NOT NULL,
    resolution          TEXT,
    reason              TEXT NOT NULL,
    provider_reference  TEXT,
    idempotency_key     TEXT NOT NULL,
    opened_by           JSONB NOT NULL,
    closed_by           JSONB,
    opened_at           TIMESTAMPTZ NOT NULL,
    closed_at           TIMESTAMPTZ,
    CHECK ((status = 'OPEN') = (resolution IS NULL))
);
-- At most one open chargeback per payment.
CREATE UNIQUE INDEX chargebacks_open_uq ON chargebacks (payment_id) WHERE status = 'OPEN';

CREATE TABLE compensations (
    id                     UUID PRIMARY KEY,
    buyer_id               UUID NOT NULL,
    merchant_id            UUID NOT NULL,
    order_id               UUID,
    case_id                UUID,
    complaint_id           UUID,
    repair_id              UUID,
    kind                   TEXT NOT NULL,
    payout                 TEXT NOT NULL,
    currency               TEXT NOT NULL,
    amount_minor           BIGINT NOT NULL CHECK (amount_minor > 0),
    status                 TEXT NOT NULL,
    reason                 TEXT NOT NULL CHECK (reason <> ''),
    coupon_code            TEXT,
    store_credit_entry_id  UUID,
    provider_reference     TEXT,
    failure_reason         TEXT,
    idempotency_key        TEXT NOT NULL,
    issued_by              JSONB NOT NULL,
    resolved_by            JSONB,
    resolution_note        TEXT,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    CHECK (order_id IS NOT NULL OR kind = 'GOODWILL')
);
CREATE INDEX compensations_buyer_idx ON compensations (buyer_id, id);
CREATE INDEX compensations_order_idx ON compensations (order_id, id) WHERE order_id IS NOT NULL;

-- The running balance of one buyer in one currency (the sum of its ledger entries).
CREATE TABLE store_credit_accounts (
    buyer_id       UUID NOT NULL,
    currency       TEXT NOT NULL,
    balance_minor  BIGINT NOT NULL CHECK (balance_minor >= 0),
    updated_at     TIMESTAMPTZ,
    PRIMARY KEY (buyer_id, currency)
);

-- Append-only ledger: entries are never changed or deleted (enforced by a trigger).
CREATE TABLE store_credit_entries (
    id                   UUID PRIMARY KEY,
    buyer_id             UUID NOT NULL,
    kind                 TEXT NOT NULL CHECK (kind IN ('CREDIT', 'DEBIT')),
    currency             TEXT NOT NULL,
    amount_minor         BIGINT NOT NULL CHECK (amount_minor > 0),
    balance_after_minor  BIGINT NOT NULL CHECK (balance_after_minor >= 0),
    source               TEXT NOT NULL,
    source_id            UUID,
    reason               TEXT NOT NULL,
    actor                JSONB NOT NULL,
    created_at           TIMESTAMPTZ NOT NULL,
    FOREIGN KEY (buyer_id, currency) REFERENCES store_credit_accounts (buyer_id, currency)
);
CREATE INDEX store_credit_entries_buyer_idx ON store_credit_entries (buyer_id, id);

CREATE FUNCTION store_credit_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'store credit entries are append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER store_credit_entries_no_change
    BEFORE UPDATE OR DELETE ON store_credit_entries
    FOR EACH ROW EXECUTE FUNCTION store_credit_entries_append_only();

CREATE TABLE charges (
    id                  UUID PRIMARY KEY,
    repair_id           UUID NOT NULL,
    quote_id            UUID,
    buyer_id            UUID NOT NULL,
    merchant_id         UUID NOT NULL,
    currency            TEXT NOT NULL,
    amount_minor        BIGINT NOT NULL CHECK (amount_minor > 0),
    method              TEXT NOT NULL,
    status              TEXT NOT NULL,
    provider_reference  TEXT,
    failure_reason      TEXT,
    void_reason         TEXT,
    refund_on_void      BOOLEAN NOT NULL DEFAULT FALSE,
    idempotency_key     TEXT NOT NULL,
    requested_by        JSONB NOT NULL,
    voided_by           JSONB,
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
-- One pending or succeeded charge per repair.
CREATE UNIQUE INDEX charges_active_uq ON charges (repair_id) WHERE status IN ('PENDING', 'SUCCEEDED');
CREATE INDEX charges_buyer_idx ON charges (buyer_id, id);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }
}
