//! Shipments (with their waybill), tracking events, interceptions and the audit trail of
//! tracking number corrections. Rows are never deleted.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                r#"
CREATE TABLE shipments (
    id                     UUID PRIMARY KEY,
    direction              TEXT NOT NULL CHECK (direction IN ('forward', 'return', 'reship',
                             'replacement', 'to_repair_center', 'from_repair_center')),
    courier_code           TEXT NOT NULL CHECK (char_length(courier_code) BETWEEN 1 AND 128),
    tracking_number        TEXT NOT NULL CHECK (char_length(tracking_number) BETWEEN 1 AND 128),
    order_id               UUID NOT NULL,
    case_id                UUID,
    repair_id              UUID,
    merchant_id            UUID NOT NULL,
    origin                 JSONB,
    destination            JSONB NOT NULL,
    shipping_fee_minor     BIGINT CHECK (shipping_fee_minor >= 0),
    shipping_fee_currency  TEXT CHECK (char_length(shipping_fee_currency) = 3),
    fee_payer              TEXT NOT NULL CHECK (fee_payer IN ('buyer', 'merchant', 'platform', 'insurer')),
    waybill_state          TEXT NOT NULL CHECK (waybill_state IN ('created', 'printed', 'uploaded', 'voided')),
    state                  TEXT NOT NULL CHECK (state IN ('created', 'picked_up', 'in_transit',
                             'out_for_delivery', 'signed', 'exception', 'returned_to_sender', 'voided')),
    exception_kind         TEXT CHECK (exception_kind IN ('stuck', 'lost', 'damaged', 'out_of_area', 'refused')),
    milestone              TEXT NOT NULL CHECK (milestone <> 'exception'),
    eta                    TIMESTAMPTZ,
    last_scan_at           TIMESTAMPTZ,
    last_event_at          TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL,
    updated_at             TIMESTAMPTZ NOT NULL,
    printed_at             TIMESTAMPTZ,
    uploaded_at            TIMESTAMPTZ,
    voided_at              TIMESTAMPTZ,
    void_reason            TEXT,
    picked_up_at           TIMESTAMPTZ,
    signed_at              TIMESTAMPTZ,
    correction_count       INTEGER NOT NULL DEFAULT 0 CHECK (correction_count >= 0),
    created_by_kind        TEXT NOT NULL,
    created_by_id          TEXT NOT NULL,
    CONSTRAINT shipments_fee_complete CHECK ((shipping_fee_minor IS NULL) = (shipping_fee_currency IS NULL)),
    CONSTRAINT shipments_exception_kind CHECK ((state = 'exception') = (exception_kind IS NOT NULL)),
    CONSTRAINT shipments_voided_together CHECK ((state = 'voided') = (waybill_state = 'voided'))
);
-- One shipment per courier and tracking number (`tracking_number_taken`).
CREATE UNIQUE INDEX shipments_courier_tracking_key ON shipments (courier_code, tracking_number);
CREATE INDEX shipments_order_idx ON shipments (order_id);
CREATE INDEX shipments_case_idx ON shipments (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX shipments_repair_idx ON shipments (repair_id) WHERE repair_id IS NOT NULL;
CREATE INDEX shipments_merchant_idx ON shipments (merchant_id);
-- The stuck sweep.
CREATE INDEX shipments_stuck_idx ON shipments (last_scan_at)
    WHERE state IN ('picked_up', 'in_transit', 'out_for_delivery');

CREATE TABLE tracking_events (
    id                UUID PRIMARY KEY,
    shipment_id       UUID NOT NULL REFERENCES shipments (id),
    courier_code      TEXT NOT NULL,
    courier_event_id  TEXT NOT NULL CHECK (char_length(courier_event_id) BETWEEN 1 AND 128),
    status            TEXT NOT NULL CHECK (status IN ('picked_up', 'in_transit', 'out_for_delivery',
                        'signed', 'exception', 'returned_to_sender')),
    exception_kind    TEXT CHECK (exception_kind IN ('stuck', 'lost', 'damaged', 'out_of_area', 'refused')),
    occurred_at       TIMESTAMPTZ NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL,
    location          TEXT,
    description       TEXT,
    applied           BOOLEAN NOT NULL,
    CONSTRAINT tracking_events_exception_kind CHECK ((status = 'exception') = (exception_kind IS NOT NULL))
);
-- A courier's own event id identifies one scan (duplicates are ignored).
CREATE UNIQUE INDEX tracking_events_courier_event_key ON tracking_events (courier_code, courier_event_id);
CREATE INDEX tracking_events_shipment_idx ON tracking_events (shipment_id, occurred_at, id);

CREATE TABLE interceptions (
    id                 UUID PRIMARY KEY,
    shipment_id        UUID NOT NULL REFERENCES shipments (id),
    courier_code       TEXT NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('requested', 'accepted', 'intercepted',
                         'returned_to_sender', 'failed')),
    reason             TEXT NOT NULL,
    failure_reason     TEXT,
    case_id            UUID,
    requested_by_kind  TEXT NOT NULL,
    requested_by_id    TEXT NOT NULL,
    requested_at       TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL,
    closed_at          TIMESTAMPTZ,
    CONSTRAINT interceptions_closed CHECK ((state IN ('returned_to_sender', 'failed')) = (closed_at IS NOT NULL)),
    CONSTRAINT interceptions_failure_reason CHECK (state <> 'failed' OR failure_reason IS NOT NULL)
);
-- At most one open interception per shipment (`interception_already_open`).
CREATE UNIQUE INDEX interceptions_one_open ON interceptions (shipment_id)
    WHERE state IN ('requested', 'accepted', 'intercepted');
CREATE INDEX interceptions_courier_idx ON interceptions (courier_code);
CREATE INDEX interceptions_case_idx ON interceptions (case_id) WHERE case_id IS NOT NULL;

CREATE TABLE tracking_corrections (
    id                   UUID PRIMARY KEY,
    shipment_id          UUID NOT NULL REFERENCES shipments (id),
    old_tracking_number  TEXT NOT NULL,
    new_tracking_number  TEXT NOT NULL,
    corrected_by_kind    TEXT NOT NULL,
    corrected_by_id      TEXT NOT NULL,
    corrected_at         TIMESTAMPTZ NOT NULL,
    reason               TEXT,
    CHECK (old_tracking_number <> new_tracking_number)
);
CREATE INDEX tracking_corrections_shipment_idx ON tracking_corrections (shipment_id, id);
"#,
            )
            .await?;
        Ok(())
    }
}
