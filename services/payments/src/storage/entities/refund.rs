use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "refunds")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub merchant_id: Uuid,
    pub buyer_id: Uuid,
    pub case_id: Option<Uuid>,
    pub idempotency_key: String,
    pub currency: String,
    pub amount_minor: i64,
    pub destination: String,
    pub status: String,
    pub reason: String,
    pub override_reason: Option<String>,
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub requested_by: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub resolved_by: Option<Json>,
    pub resolution_note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub completed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
