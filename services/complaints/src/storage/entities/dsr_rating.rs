//! Table `dsr_ratings` (immutable rows).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dsr_ratings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub order_id: Uuid,
    pub buyer_id: Uuid,
    pub merchant_id: Uuid,
    pub description_match: i16,
    pub service: i16,
    pub logistics: i16,
    pub month: String,
    pub counted: bool,
    pub rated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
