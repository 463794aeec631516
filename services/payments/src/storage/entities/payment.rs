use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub merchant_id: Uuid,
    pub buyer_id: Uuid,
    pub method: String,
    pub currency: String,
    pub captured_minor: i64,
    pub refunds_in_flight_minor: i64,
    pub refunded_minor: i64,
    pub charged_back_minor: i64,
    pub failed_refunds: i32,
    pub open_chargeback_id: Option<Uuid>,
    pub provider_reference: String,
    pub idempotency_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub recorded_by: Json,
    pub captured_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
