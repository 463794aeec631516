//! Complaints, work orders and their transfer log, follow-up visits, ratings, DSR ratings and
//! the record of closed cases and repairs fed by their events.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &str = r#"
CREATE TABLE complaints (
    id UUID PRIMARY KEY,
    customer_id UUID NOT NULL,
    order_id UUID,
    case_id UUID,
    repair_id UUID,
    merchant_id UUID,
    channel TEXT NOT NULL CHECK (channel IN ('HOTLINE', 'ONLINE_CS', 'EMAIL', 'SOCIAL')),
    category TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('NORMAL', 'HIGH', 'URGENT')),
    subject TEXT NOT NULL CHECK (char_length(subject) BETWEEN 1 AND 128),
    description TEXT NOT NULL CHECK (char_length(description) BETWEEN 1 AND 4096),
    status TEXT NOT NULL CHECK (status IN ('NEW', 'ACKNOWLEDGED', 'INVESTIGATING', 'WAITING',
        'RESOLVED', 'CLOSED', 'REOPENED', 'ESCALATED')),
    assignee TEXT,
    first_response_due_at TIMESTAMPTZ NOT NULL,
    first_responded_at TIMESTAMPTZ,
    first_response_breached BOOLEAN NOT NULL DEFAULT FALSE,
    escalation_count INTEGER NOT NULL DEFAULT 0 CHECK (escalation_count >= 0),
    escalated_at TIMESTAMPTZ,
    escalation_trigger TEXT,
    escalation_reason TEXT,
    escalated_from TEXT,
    resolution_note TEXT,
    resolved_at TIMESTAMPTZ,
    resolution_sent_at TIMESTAMPTZ,
    closed_at TIMESTAMPTZ,
    reopen_count INTEGER NOT NULL DEFAULT 0 CHECK (reopen_count >= 0),
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    -- A closed complaint always has a resolution note that reached the customer.
    CHECK (status <> 'CLOSED' OR (resolution_note IS NOT NULL AND resolution_sent_at IS NOT NULL)),
    CHECK ((category NOT IN ('QUALITY', 'SAFETY')) OR severity = 'URGENT')
);
CREATE INDEX complaints_customer_idx ON complaints (customer_id, id);
CREATE INDEX complaints_merchant_idx ON complaints (merchant_id, id) WHERE merchant_id IS NOT NULL;
CREATE INDEX complaints_order_idx ON complaints (order_id) WHERE order_id IS NOT NULL;
CREATE INDEX complaints_case_idx ON complaints (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX complaints_created_idx ON complaints (created_at);
-- The first-response sweep: unanswered, not yet breached.
CREATE INDEX complaints_first_response_due_idx ON complaints (first_response_due_at)
    WHERE first_responded_at IS NULL AND NOT first_response_breached;

CREATE TABLE work_orders (
    id UUID PRIMARY KEY,
    complaint_id UUID REFERENCES complaints (id),
    order_id UUID,
    case_id UUID,
    repair_id UUID,
    shipment_id UUID,
    department TEXT NOT NULL CHECK (department IN ('WAREHOUSE', 'DELIVERY', 'REPAIR', 'FINANCE',
        'MERCHANT', 'CUSTOMER_SERVICE')),
    merchant_id UUID,
    title TEXT NOT NULL CHECK (char_length(title) BETWEEN 1 AND 128),
    description TEXT NOT NULL CHECK (char_length(description) BETWEEN 1 AND 4096),
    status TEXT NOT NULL CHECK (status IN ('OPEN', 'ASSIGNED', 'IN_PROGRESS', 'DONE', 'REJECTED',
        'VERIFIED')),
    assignee TEXT,
    sla_due_at TIMESTAMPTZ NOT NULL,
    sla_status TEXT NOT NULL CHECK (sla_status IN ('ONGOING', 'REACHED', 'FAILED')),
    escalated BOOLEAN NOT NULL DEFAULT FALSE,
    escalated_at TIMESTAMPTZ,
    result TEXT,
    verification_note TEXT,
    transfer_count INTEGER NOT NULL DEFAULT 0 CHECK (transfer_count >= 0),
    created_by_kind TEXT NOT NULL,
    created_by_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    assigned_at TIMESTAMPTZ,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    verified_at TIMESTAMPTZ,
    -- Exactly the merchant department names a merchant.
    CHECK ((department = 'MERCHANT') = (merchant_id IS NOT NULL)),
    CHECK (status = 'OPEN' OR assignee IS NOT NULL)
);
CREATE INDEX work_orders_complaint_idx ON work_orders (complaint_id) WHERE complaint_id IS NOT NULL;
CREATE INDEX work_orders_merchant_idx ON work_orders (merchant_id, id) WHERE merchant_id IS NOT NULL;
CREATE INDEX work_orders_created_idx ON work_orders (created_at);
-- The SLA sweep: still ongoing and not finished.
CREATE INDEX work_orders_sla_due_idx ON work_orders (sla_due_at)
    WHERE sla_status = 'ONGOING' AND status IN ('OPEN', 'ASSIGNED', 'IN_PROGRESS');

CREATE TABLE work_order_transfers (
    id UUID PRIMARY KEY,
    work_order_id UUID NOT NULL REFERENCES work_orders (id),
    from_department TEXT NOT NULL,
    from_merchant_id UUID,
    to_department TEXT NOT NULL,
    to_merchant_id UUID,
    reason TEXT NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 4096),
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    transferred_at TIMESTAMPTZ NOT NULL,
    CHECK (from_department <> to_department OR from_merchant_id IS DISTINCT FROM to_merchant_id)
);
CREATE INDEX work_order_transfers_work_order_idx ON work_order_transfers (work_order_id, id);

CREATE TABLE follow_ups (
    id UUID PRIMARY KEY,
    complaint_id UUID NOT NULL REFERENCES complaints (id),
    method TEXT NOT NULL,
    outcome TEXT NOT NULL,
    note TEXT,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    visited_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX follow_ups_complaint_idx ON follow_ups (complaint_id, id);

CREATE TABLE service_ratings (
    id UUID PRIMARY KEY,
    subject_type TEXT NOT NULL CHECK (subject_type IN ('CASE', 'COMPLAINT', 'REPAIR')),
    subject_id UUID NOT NULL,
    customer_id UUID NOT NULL,
    attitude SMALLINT NOT NULL CHECK (attitude BETWEEN 1 AND 5),
    professionalism SMALLINT NOT NULL CHECK (professionalism BETWEEN 1 AND 5),
    timeliness SMALLINT NOT NULL CHECK (timeliness BETWEEN 1 AND 5),
    comment TEXT,
    rated_at TIMESTAMPTZ NOT NULL,
    -- One rating per closed item.
    UNIQUE (subject_type, subject_id)
);

CREATE TABLE dsr_ratings (
    id UUID PRIMARY KEY,
    -- One rating per order.
    order_id UUID NOT NULL UNIQUE,
    buyer_id UUID NOT NULL,
    merchant_id UUID NOT NULL,
    description_match SMALLINT NOT NULL CHECK (description_match BETWEEN 1 AND 5),
    service SMALLINT NOT NULL CHECK (service BETWEEN 1 AND 5),
    logistics SMALLINT NOT NULL CHECK (logistics BETWEEN 1 AND 5),
    month TEXT NOT NULL CHECK (month ~ '^[0-9]{4}-[0-9]{2}$'),
    counted BOOLEAN NOT NULL,
    rated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX dsr_ratings_merchant_month_idx ON dsr_ratings (merchant_id, month);
CREATE INDEX dsr_ratings_pair_month_idx ON dsr_ratings (buyer_id, merchant_id, month);

-- One row per buyer, merchant and month: locked while a DSR rating is counted, so that
-- concurrent ratings of the same pair count once each.
CREATE TABLE dsr_pair_months (
    buyer_id UUID NOT NULL,
    merchant_id UUID NOT NULL,
    month TEXT NOT NULL,
    counted INTEGER NOT NULL DEFAULT 0 CHECK (counted >= 0),
    PRIMARY KEY (buyer_id, merchant_id, month)
);

-- Cases (returns) and repair orders (repairs) that reached a final state, from their domain
-- events: what a service rating of a CASE or REPAIR subject is checked against.
CREATE TABLE closed_subjects (
    subject_type TEXT NOT NULL CHECK (subject_type IN ('CASE', 'REPAIR')),
    subject_id UUID NOT NULL,
    state TEXT NOT NULL,
    customer_id UUID,
    closed_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subject_type, subject_id)
);
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection().execute_unprepared(UP).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.get_connection()
            .execute_unprepared(
                "DROP TABLE IF EXISTS closed_subjects, dsr_pair_months, dsr_ratings, \
                 service_ratings, follow_ups, work_order_transfers, work_orders, complaints",
            )
            .await?;
        Ok(())
    }
}
