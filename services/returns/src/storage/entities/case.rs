//! `cases`: the case root; its row lock serializes every change of the case and its items.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "cases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub case_type: String,
    pub reason: String,
    pub responsibility: String,
    pub shipment_state_at_request: String,
    pub channel: String,
    pub description: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub evidence: Json,
    pub status: String,
    pub return_required: bool,
    pub merchant_pays_return_shipping: bool,
    pub currency: String,
    pub refund_items_minor: i64,
    pub refund_shipping_minor: i64,
    pub refund_deduction_minor: i64,
    pub refund_total_minor: i64,
    pub requested_minor: i64,
    pub approved_minor: Option<i64>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub amount_override: Option<Json>,
    pub refund_amount_minor: Option<i64>,
    pub refunded_minor: Option<i64>,
    pub refund_reference: Option<String>,
    pub merchant_decision_deadline: Option<DateTimeUtc>,
    pub buyer_shipment_deadline: Option<DateTimeUtc>,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub return_shipment: Option<Json>,
    pub replacement_shipment_ref: Option<String>,
    pub interception: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub offers: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub arbitration: Option<Json>,
    pub arbitration_status: Option<String>,
    pub rejection_reason: Option<String>,
    pub close_reason: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub type_changes: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub created_by: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
