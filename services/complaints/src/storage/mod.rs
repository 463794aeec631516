//! Storage: sea-orm entities, repositories and migrations.

pub mod entities;
pub mod migrations;
pub mod repo;

use aftersales_platform::sea_orm_migration::MigrationTrait;

/// The service's migrations, applied after the platform tables.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(migrations::m0001_init::Migration)]
}
