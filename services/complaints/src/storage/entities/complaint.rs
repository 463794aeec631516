//! Table `complaints`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "complaints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub customer_id: Uuid,
    pub order_id: Option<Uuid>,
    pub case_id: Option<Uuid>,
    pub repair_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub channel: String,
    pub category: String,
    pub severity: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub assignee: Option<String>,
    pub first_response_due_at: DateTimeUtc,
    pub first_responded_at: Option<DateTimeUtc>,
    pub first_response_breached: bool,
    pub escalation_count: i32,
    pub escalated_at: Option<DateTimeUtc>,
    pub escalation_trigger: Option<String>,
    pub escalation_reason: Option<String>,
    pub escalated_from: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_at: Option<DateTimeUtc>,
    pub resolution_sent_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub reopen_count: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
