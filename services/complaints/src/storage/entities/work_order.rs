//! Table `work_orders`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "work_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub complaint_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub repair_id: Option<Uuid>,
    pub shipment_id: Option<Uuid>,
    pub department: String,
    pub merchant_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    pub status: String,
    pub assignee: Option<String>,
    pub sla_due_at: DateTimeUtc,
    pub sla_status: String,
    pub escalated: bool,
    pub escalated_at: Option<DateTimeUtc>,
    pub result: Option<String>,
    pub verification_note: Option<String>,
    pub transfer_count: i32,
    pub created_by_kind: String,
    pub created_by_id: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub assigned_at: Option<DateTimeUtc>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub verified_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
