use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "chargebacks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub payment_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    pub status: String,
    pub resolution: Option<String>,
    pub reason: String,
    pub provider_reference: Option<String>,
    pub idempotency_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub opened_by: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub closed_by: Option<Json>,
    pub opened_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
