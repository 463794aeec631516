//! `case_items`: the order lines (and quantities) of a case with their three statuses.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "case_items")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub case_id: Uuid,
    pub position: i32,
    pub line_id: Uuid,
    pub sku: String,
    pub quantity: i32,
    pub refund_minor: i64,
    pub reception: String,
    pub received_quantity: i32,
    pub received_at: Option<DateTimeUtc>,
    pub inspection: String,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub condition: Option<Json>,
    pub inspected_at: Option<DateTimeUtc>,
    pub disposition: String,
    pub case_open: bool,
    pub replacement_sku: Option<String>,
    pub replacement_unit_price_minor: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
