//! `order_replicas`: the newest known version of an order of the orders service. Its row lock
//! serializes the repair requests of the order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "order_replicas")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub state: String,
    pub paid_at: DateTimeUtc,
    pub version: i64,
    pub replicated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
