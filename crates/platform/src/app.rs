//! The thin `main` every service shares: `serve` and `migrate` subcommands, layered config,
//! telemetry, database, broker, outbox relay, gRPC server and graceful shutdown.

use crate::{
    amqp::Broker,
    config::{self, Settings},
    db, grpc,
    outbox::Outbox,
    shutdown,
    store::Store,
    telemetry,
};
use clap::{Parser, Subcommand};
use sea_orm::DatabaseConnection;
use sea_orm_migration::{MigrationTrait, MigratorTrait};
use serde::de::DeserializeOwned;
use std::{future::Future, marker::PhantomData, path::PathBuf, process::ExitCode};
use tokio_util::sync::CancellationToken;

/// What a service tells the platform about itself.
pub trait ServiceDef: Send + Sync + Sized + 'static {
    /// Short name, e.g. `orders`: logs, event source, service name in traces.
    const NAME: &'static str;
    /// Fully qualified gRPC service name, for the health service.
    const GRPC_SERVICE: &'static str;
    /// The service's default configuration (TOML): at least `grpc.addr`, `database.url` and
    /// the `[service]` section.
    const DEFAULTS: &'static str;
    type Config: DeserializeOwned + Clone + Send + Sync + 'static;

    /// The service's own migrations, applied after the platform tables.
    fn migrations() -> Vec<Box<dyn MigrationTrait>>;

    /// Builds the API router and starts the service's consumers and background tasks.
    fn build(
        rt: &Runtime<Self::Config>,
    ) -> impl Future<Output = anyhow::Result<grpc::Router>> + Send;
}

/// Everything a running service needs.
#[derive(Clone)]
pub struct Runtime<C> {
    pub name: &'static str,
    pub settings: Settings<C>,
    pub store: Store,
    pub broker: Broker,
    pub shutdown: CancellationToken,
}

/// Sea-orm migrator over the platform tables plus the service's tables.
pub struct Migrator<S>(PhantomData<S>);

impl<S: ServiceDef> MigratorTrait for Migrator<S> {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut all = db::platform_migrations();
        all.extend(S::migrations());
        all
    }
}

#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Optional configuration file (TOML or YAML); `AFTERSALES__SECTION__KEY` variables win over it.
    #[arg(long, short, global = true, env = "AFTERSALES_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC server, consumers and outbox relay until SIGTERM/SIGINT.
    Serve,
    /// Create the database if configured to, apply pending migrations, and exit.
    Migrate,
}

/// Entry point of a service binary.
pub fn main<S: ServiceDef>() -> ExitCode {
    let cli = Cli::parse();
    let settings: Settings<S::Config> = match config::load(S::DEFAULTS, cli.config.as_deref()) {
        Ok(s) => s,
        Err(err) => {
            eprintln!("{}: {err}", S::NAME);
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("{}: cannot start the async runtime: {err}", S::NAME);
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let _telemetry = telemetry::init(S::NAME, &settings.telemetry);
        let result = match cli.command {
            Command::Migrate => migrate::<S>(&settings).await.map(|_| ()),
            Command::Serve => serve::<S>(settings).await,
        };
        match result {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                tracing::error!(error = format!("{err:#}"), "{} failed", S::NAME);
                ExitCode::FAILURE
            }
        }
    })
}

async fn migrate<S: ServiceDef>(
    settings: &Settings<S::Config>,
) -> anyhow::Result<DatabaseConnection> {
    let conn = db::connect(&settings.database).await?;
    Migrator::<S>::up(&conn, None).await?;
    tracing::info!("migrations applied");
    Ok(conn)
}

/// Runs a service until its shutdown token is cancelled (by a signal, or by a test).
pub async fn serve<S: ServiceDef>(settings: Settings<S::Config>) -> anyhow::Result<()> {
    let shutdown = CancellationToken::new();
    shutdown::cancel_on_signal(shutdown.clone());
    run::<S>(settings, shutdown).await
}

/// Like [`serve`] with a caller-owned shutdown token.
pub async fn run<S: ServiceDef>(
    settings: Settings<S::Config>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let conn = if settings.database.migrate_on_start {
        migrate::<S>(&settings).await?
    } else {
        db::connect(&settings.database).await?
    };
    let broker = Broker::start(settings.amqp.clone(), shutdown.clone());
    let relay_stop = CancellationToken::new();
    let outbox = Outbox::start_relay(
        conn.clone(),
        broker.clone(),
        settings.outbox.clone(),
        relay_stop.clone(),
    );
    let rt = Runtime {
        name: S::NAME,
        settings: settings.clone(),
        store: Store::new(conn.clone(), outbox).named(
            &db::split_database_url(settings.database.url.expose())
                .map(|(_, name)| name)
                .unwrap_or_default(),
        ),
        broker,
        shutdown: shutdown.clone(),
    };
    if let Some(addr) = settings.metrics.addr {
        let stop = shutdown.clone();
        tokio::spawn(async move {
            if let Err(err) = crate::metrics::serve(addr, stop).await {
                tracing::error!(%addr, error = %err, "metrics endpoint stopped");
            }
        });
    }
    let router = S::build(&rt).await?;
    let listener = tokio::net::TcpListener::bind(settings.grpc.addr).await?;
    grpc::serve(router, S::GRPC_SERVICE, listener, shutdown.clone()).await?;
    // In-flight requests are drained; let the relay publish what they committed.
    relay_stop.cancel();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    conn.close().await?;
    tracing::info!("{} stopped", S::NAME);
    Ok(())
}
