use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "compensations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub order_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub complaint_id: Option<Uuid>,
    pub repair_id: Option<Uuid>,
    pub kind: String,
    pub payout: String,
    pub currency: String,
    pub amount_minor: i64,
    pub status: String,
    pub reason: String,
    pub coupon_code: Option<String>,
    pub store_credit_entry_id: Option<Uuid>,
    pub provider_reference: Option<String>,
    pub failure_reason: Option<String>,
    pub idempotency_key: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub issued_by: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub resolved_by: Option<Json>,
    pub resolution_note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
