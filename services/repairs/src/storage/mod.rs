//! PostgreSQL storage: sea-orm entities, the repositories and the migrations.
//!
//! - [`repo`]: repair orders and repair centers
//! - [`replica`]: the local replica of the orders service's orders and lines

pub mod entities;
pub mod migrations;
pub mod replica;
pub mod repo;

use sea_orm_migration::MigrationTrait;

/// The service's migrations, applied after the platform tables.
pub fn migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![Box::new(migrations::m0001_init::Migration)]
}
