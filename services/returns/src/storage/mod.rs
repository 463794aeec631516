//! PostgreSQL storage: sea-orm entities, the case repository, the order replica and the
//! migrations.

pub mod entities;
pub mod migrations;
pub mod replica;
pub mod repo;

use sea_orm_migration::MigrationTrait;

/// The service's migrations, applied after the platform tables.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(migrations::m0001_init::Migration),
        Box::new(migrations::m0002_exchange_replacements::Migration),
    ]
}
