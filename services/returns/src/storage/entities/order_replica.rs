//! `order_replicas`: the returns service's copy of an order, fed by the orders events.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "order_replicas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub state: String,
    pub version: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub snapshot: Json,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
