//! `interceptions`: requests to stop a parcel in transit; at most one open per shipment.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "interceptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub shipment_id: Uuid,
    pub courier_code: String,
    pub state: String,
    pub reason: String,
    pub failure_reason: Option<String>,
    pub case_id: Option<Uuid>,
    pub requested_by_kind: String,
    pub requested_by_id: String,
    pub requested_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub closed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
