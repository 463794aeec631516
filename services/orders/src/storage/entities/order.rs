//! `orders`: the order root; its row lock serializes every change of the order and its lines.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub state: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub shipping_address: Json,
    pub payment_reference: String,
    pub currency: String,
    pub paid_minor: i64,
    pub shipping_fee_minor: i64,
    pub member_tier: String,
    pub shipping_insurance: bool,
    pub paid_at: DateTimeUtc,
    pub promised_eta: DateTimeUtc,
    pub waybill_printed_at: Option<DateTimeUtc>,
    pub shipped_at: Option<DateTimeUtc>,
    pub signed_at: Option<DateTimeUtc>,
    pub completed_at: Option<DateTimeUtc>,
    pub canceled_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
    pub canceled_from: Option<String>,
    pub courier_code: Option<String>,
    pub tracking_number: Option<String>,
    pub shipment_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
