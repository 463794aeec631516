//! `tracking_events`: courier scans as recorded (append-only).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tracking_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub courier_code: String,
    pub courier_event_id: String,
    pub status: String,
    pub exception_kind: Option<String>,
    pub occurred_at: DateTimeUtc,
    pub received_at: DateTimeUtc,
    pub location: Option<String>,
    pub description: Option<String>,
    pub applied: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
