//! Table `work_order_transfers` (append-only).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "work_order_transfers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub work_order_id: Uuid,
    pub from_department: String,
    pub from_merchant_id: Option<Uuid>,
    pub to_department: String,
    pub to_merchant_id: Option<Uuid>,
    pub reason: String,
    pub actor_kind: String,
    pub actor_id: String,
    pub transferred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
