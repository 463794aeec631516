//! `shipments`: the shipment root with its waybill; its row lock serializes every change of the
//! shipment, its tracking events and its interceptions.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "shipments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub direction: String,
    pub courier_code: String,
    pub tracking_number: String,
    pub order_id: Uuid,
    pub case_id: Option<Uuid>,
    pub repair_id: Option<Uuid>,
    pub merchant_id: Uuid,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub origin: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub destination: Json,
    pub shipping_fee_minor: Option<i64>,
    pub shipping_fee_currency: Option<String>,
    pub fee_payer: String,
    pub waybill_state: String,
    pub state: String,
    pub exception_kind: Option<String>,
    pub milestone: String,
    pub eta: Option<DateTimeUtc>,
    pub last_scan_at: Option<DateTimeUtc>,
    pub last_event_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub printed_at: Option<DateTimeUtc>,
    pub uploaded_at: Option<DateTimeUtc>,
    pub voided_at: Option<DateTimeUtc>,
    pub void_reason: Option<String>,
    pub picked_up_at: Option<DateTimeUtc>,
    pub signed_at: Option<DateTimeUtc>,
    pub correction_count: i32,
    pub created_by_kind: String,
    pub created_by_id: String,
    pub voided_for_case_id: Option<Uuid>,
    pub reissued_from_id: Option<Uuid>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
