use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "charges")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub repair_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub quote_id: Option<Uuid>,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub currency: String,
    pub amount_minor: i64,
    pub method: String,
    pub status: String,
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub void_reason: Option<String>,
    pub refund_on_void: bool,
    pub idempotency_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub requested_by: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub voided_by: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
