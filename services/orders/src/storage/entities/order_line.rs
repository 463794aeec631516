//! `order_lines`: one line with its frozen policy (JSONB) and its after-sale counters.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "order_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub position: i32,
    pub sku: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price_minor: i64,
    pub discount_minor: i64,
    #[sea_orm(column_type = "JsonBinary")]
    pub policy: Json,
    pub requested: i32,
    pub returned_received: i32,
    pub refunded: i32,
    pub replaced: i32,
    pub reshipped: i32,
    pub canceled: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
