//! Table `dsr_pair_months`: the lock row (and counter) of one buyer, merchant and month.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dsr_pair_months")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub buyer_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub merchant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub month: String,
    pub counted: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
