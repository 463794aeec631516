use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "store_credit_entries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub buyer_id: Uuid,
    pub kind: String,
    pub currency: String,
    pub amount_minor: i64,
    pub balance_after_minor: i64,
    pub source: String,
    pub source_id: Option<Uuid>,
    pub reason: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub actor: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
