//! Shared runtime glue for every Aftersales process. No business logic lives here.
//!
//! - [`config`]: layered settings (defaults, file, `AFTERSALES__SECTION__KEY`), validated at start
//! - [`telemetry`]: logs and OTLP trace export
//! - [`metrics`]: Prometheus metrics (RPC, messaging, outbox) on `GET /metrics`
//! - [`trace`]: trace context propagation over gRPC, the outbox and AMQP, and the spans of each hop
//! - [`grpc`]: the server with health, reflection and graceful shutdown
//! - [`db`]: connection, database creation, platform tables
//! - [`amqp`], [`outbox`], [`inbox`], [`consumer`], [`messages`]: RabbitMQ messaging
//! - [`commands`]: the service side of saga commands (command router, replies)
//! - [`sweep`]: periodic sweeps (the scheduler of timer RPCs)
//! - [`store`]: the transaction + idempotency unit of work of every mutating RPC
//! - [`error`], [`edge`]: errors to `tonic::Status`, protobuf field conversions
//! - [`app`]: the `serve`/`migrate` entry point every service binary calls

pub mod amqp;
pub mod app;
pub mod commands;
pub mod config;
pub mod consumer;
pub mod db;
pub mod edge;
pub mod error;
pub mod grpc;
pub mod inbox;
pub mod messages;
pub mod metrics;
pub mod outbox;
pub mod shutdown;
pub mod store;
pub mod sweep;
pub mod telemetry;
pub mod trace;

pub use app::{Runtime, ServiceDef};
pub use error::{AppError, AppResult};
pub use store::{Store, Tx};

/// Re-exports services need for their storage layer and migrations.
pub use sea_orm;
pub use sea_orm_migration;
