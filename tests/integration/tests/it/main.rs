//! Black-box tests: each test starts the real service binaries against the real PostgreSQL (a
//! throwaway database per test) and RabbitMQ (a unique prefix per test) and drives them over gRPC.
//! Build the binaries first: `just test` does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod commands;
mod complaints;
mod flows_complaints;
mod flows_delivery;
mod flows_exchange_reship;
mod flows_repair_arbitration;
mod logistics;
mod observability;
mod orders;
mod payments;
mod repairs;
mod returns;
#[path = "../support/saga_world.rs"]
mod saga_world;
mod sagas;
