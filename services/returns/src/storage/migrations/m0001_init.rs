//! The order replica, cases, their items and their audit trail.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
-- Local copy of the orders the orders service announced (never read from its database).
-- Its row lock serializes every change that depends on the other cases of the order.
CREATE TABLE order_replicas (
    order_id        UUID PRIMARY KEY,
    buyer_id        UUID NOT NULL,
    merchant_id     UUID NOT NULL,
    state           TEXT NOT NULL,
    version         BIGINT NOT NULL CHECK (version >= 0),
    snapshot        JSONB NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE cases (
    id                              UUID PRIMARY KEY,
    order_id                        UUID NOT NULL REFERENCES order_replicas (order_id),
    buyer_id                        UUID NOT NULL,
    merchant_id                     UUID NOT NULL,
    case_type                       TEXT NOT NULL CHECK (case_type IN
                                      ('REFUND_ONLY', 'RETURN_REFUND', 'EXCHANGE', 'RESHIP', 'COMPENSATION')),
    reason                          TEXT NOT NULL,
    responsibility                  TEXT NOT NULL,
    shipment_state_at_request       TEXT NOT NULL,
    channel                         TEXT NOT NULL,
    description                     TEXT,
    evidence                        JSONB NOT NULL,
    status                          TEXT NOT NULL CHECK (status IN
                                      ('REQUESTED', 'PENDING_MERCHANT', 'APPROVED', 'REJECTED', 'NEGOTIATING',
                                       'AWAITING_BUYER_SHIPMENT', 'RETURN_IN_TRANSIT', 'RECEIVED', 'INSPECTED',
                                       'REFUNDING', 'REPLACEMENT_SHIPPED', 'COMPLETED', 'WITHDRAWN', 'CLOSED')),
    return_required                 BOOLEAN NOT NULL,
    merchant_pays_return_shipping   BOOLEAN NOT NULL,
    currency                        TEXT NOT NULL CHECK (char_length(currency) = 3),
    refund_items_minor              BIGINT NOT NULL CHECK (refund_items_minor >= 0),
    refund_shipping_minor           BIGINT NOT NULL CHECK (refund_shipping_minor >= 0),
    refund_deduction_minor          BIGINT NOT NULL CHECK (refund_deduction_minor >= 0),
    refund_total_minor              BIGINT NOT NULL CHECK (refund_total_minor >= 0),
    requested_minor                 BIGINT NOT NULL CHECK (requested_minor >= 0),
    approved_minor                  BIGINT CHECK (approved_minor >= 0),
    amount_override                 JSONB,
    refund_amount_minor             BIGINT CHECK (refund_amount_minor >= 0),
    refunded_minor                  BIGINT CHECK (refunded_minor >= 0),
    refund_reference                TEXT,
    merchant_decision_deadline      TIMESTAMPTZ,
    buyer_shipment_deadline         TIMESTAMPTZ,
    return_shipment                 JSONB,
    replacement_shipment_ref        TEXT,
    interception                    TEXT,
    offers                          JSONB NOT NULL,
    arbitration                     JSONB,
    arbitration_status              TEXT,
    rejection_reason                TEXT,
    close_reason                    TEXT,
    type_changes                    JSONB NOT NULL,
    created_by                      JSONB NOT NULL,
    created_at                      TIMESTAMPTZ NOT NULL,
    updated_at                      TIMESTAMPTZ NOT NULL,
    version                         BIGINT NOT NULL CHECK (version >= 1),
    -- money never moves twice: what was refunded never exceeds what was fixed for refunding
    CHECK (refunded_minor IS NULL OR (refund_amount_minor IS NOT NULL AND refunded_minor <= refund_amount_minor))
);
CREATE INDEX cases_order_idx ON cases (order_id, id);
CREATE INDEX cases_buyer_idx ON cases (buyer_id, id DESC);
CREATE INDEX cases_merchant_idx ON cases (merchant_id, id DESC);
CREATE INDEX cases_status_idx ON cases (status, id DESC);

CREATE TABLE case_items (
    id                  UUID PRIMARY KEY,
    case_id             UUID NOT NULL REFERENCES cases (id),
    position            INTEGER NOT NULL CHECK (position >= 0),
    line_id             UUID NOT NULL,
    sku                 TEXT NOT NULL,
    quantity            INTEGER NOT NULL CHECK (quantity >= 1),
    refund_minor        BIGINT NOT NULL CHECK (refund_minor >= 0),
    reception           TEXT NOT NULL,
    received_quantity   INTEGER NOT NULL CHECK (received_quantity >= 0 AND received_quantity <= quantity),
    received_at         TIMESTAMPTZ,
    inspection          TEXT NOT NULL,
    condition           JSONB,
    inspected_at        TIMESTAMPTZ,
    disposition         TEXT NOT NULL,
    -- mirrors the case: true while the case is open (not completed, withdrawn or closed)
    case_open           BOOLEAN NOT NULL,
    UNIQUE (case_id, position)
);
-- backstop of the rule `line_has_open_case`: one open case per order line
CREATE UNIQUE INDEX case_items_one_open_case_per_line ON case_items (line_id) WHERE case_open;
CREATE INDEX case_items_line_idx ON case_items (line_id);

-- Append-only audit trail of every transition.
CREATE TABLE case_history (
    id          UUID PRIMARY KEY,
    case_id     UUID NOT NULL REFERENCES cases (id),
    at          TIMESTAMPTZ NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    event       TEXT NOT NULL,
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    note        TEXT
);
CREATE INDEX case_history_case_idx ON case_history (case_id, id);
"#,
            )
            .await?;
        Ok(())
    }
}
