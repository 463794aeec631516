//! `repair_orders`: the repair order aggregate (diagnosis and warranty override as JSONB value
//! objects, the quote flattened so that its price and deadline are columns).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "repair_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub line_id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub sku: String,
    pub serial_number: String,
    pub purchased_at: DateTimeUtc,
    pub warranty_months: i32,
    pub warranty_ends_at: DateTimeUtc,
    pub computed_in_warranty: bool,
    pub in_warranty: bool,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub warranty_override: Option<Json>,
    pub symptom: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub evidence_refs: Json,
    pub channel: Option<String>,
    pub state: String,
    pub repair_center_id: Option<Uuid>,
    pub inbound_shipment_id: Option<Uuid>,
    pub return_shipment_id: Option<Uuid>,
    pub receipt_note: Option<String>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub diagnosis: Option<Json>,
    pub quote_amount_minor: Option<i64>,
    pub quote_currency: Option<String>,
    pub quote_description: Option<String>,
    pub quote_submitted_at: Option<DateTimeUtc>,
    pub quote_sent_at: Option<DateTimeUtc>,
    pub quote_expires_at: Option<DateTimeUtc>,
    pub quote_decision: Option<String>,
    pub quote_decided_at: Option<DateTimeUtc>,
    pub quote_decline_reason: Option<String>,
    pub quote_charge_id: Option<Uuid>,
    pub quote_paid_at: Option<DateTimeUtc>,
    pub repair_notes: Option<String>,
    pub unrepairable_reason: Option<String>,
    pub resolution: Option<String>,
    pub converted_case_id: Option<Uuid>,
    pub unrepaired_reason: Option<String>,
    pub cancel_reason: Option<String>,
    pub requested_at: DateTimeUtc,
    pub received_at: Option<DateTimeUtc>,
    pub repaired_at: Option<DateTimeUtc>,
    pub shipped_back_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
