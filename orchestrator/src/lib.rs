//! Aftersales saga orchestrator: drives the multi-step after-sales flows across the services
//! with commands and replies over RabbitMQ, durable waits and timers, and compensations.
//!
//! - [`engine`]: flow definition types, the pure state machine, and its PostgreSQL driver
//! - [`flows`]: the flow definitions, one file each
//! - [`storage`]: saga tables and migrations
//! - [`messaging`]: reply and event consumers, the timer poller
//! - [`api`]: the operator gRPC API (`OrchestratorService`)

pub mod api;
pub mod engine;
pub mod flows;
pub mod messaging;
pub mod metrics;
pub mod storage;

use aftersales_platform::{Runtime, ServiceDef};
use aftersales_proto::orchestrator::v1::orchestrator_service_server::OrchestratorServiceServer;
use engine::machine::{RetryPolicy, Settings};
use sea_orm_migration::MigrationTrait;
use serde::Deserialize;
use std::collections::HashMap;
use std::time::Duration;

/// The `[service]` section.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub command_timeout_ms: u64,
    pub timer_poll_ms: u64,
    pub stuck_after_secs: u64,
    pub retry: RetryConfig,
    pub compensation_retry: RetryConfig,
    #[serde(default)]
    pub deadlines_ms: HashMap<String, u64>,
}

/// A retry policy in the config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    pub max_attempts: u32,
    pub base_ms: u64,
    pub max_ms: u64,
}

impl RetryConfig {
    fn policy(&self, key: &str) -> anyhow::Result<RetryPolicy> {
        if self.max_attempts == 0 {
            anyhow::bail!("invalid configuration: service.{key}.max_attempts: must be at least 1");
        }
        if self.base_ms == 0 || self.max_ms < self.base_ms {
            anyhow::bail!(
                "invalid configuration: service.{key}.max_ms: must be at least base_ms, which must be positive"
            );
        }
        Ok(RetryPolicy {
            max_attempts: self.max_attempts,
            base: Duration::from_millis(self.base_ms),
            max: Duration::from_millis(self.max_ms),
        })
    }
}

impl Config {
    /// The engine settings; fails naming the `service.<key>` at fault.
    pub fn engine(&self) -> anyhow::Result<Settings> {
        if self.command_timeout_ms == 0 {
            anyhow::bail!("invalid configuration: service.command_timeout_ms: must be positive");
        }
        if self.timer_poll_ms == 0 {
            anyhow::bail!("invalid configuration: service.timer_poll_ms: must be positive");
        }
        let flows = flows::registry().map_err(|e| anyhow::anyhow!(e))?;
        let known: Vec<&str> = flows.deadline_names();
        for name in self.deadlines_ms.keys() {
            if !known.contains(&name.as_str()) {
                anyhow::bail!(
                    "invalid configuration: service.deadlines_ms.{name}: no wait has this deadline (known: {})",
                    known.join(", ")
                );
            }
        }
        Ok(Settings {
            command_timeout: Duration::from_millis(self.command_timeout_ms),
            retry: self.retry.policy("retry")?,
            compensation_retry: self.compensation_retry.policy("compensation_retry")?,
            deadlines: self
                .deadlines_ms
                .iter()
                .map(|(k, v)| (k.clone(), Duration::from_millis(*v)))
                .collect(),
        })
    }
}

/// The orchestrator process definition.
pub struct Orchestrator;

impl ServiceDef for Orchestrator {
    const NAME: &'static str = "orchestrator";
    const GRPC_SERVICE: &'static str = "aftersales.orchestrator.v1.OrchestratorService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let cfg = &rt.settings.service;
        let settings = cfg.engine()?;
        let registry = flows::registry().map_err(|e| anyhow::anyhow!(e))?;
        // Registered now, so that the saga metrics are listed before the first saga.
        metrics::get();
        let driver = engine::driver::Driver::new(registry, settings);
        messaging::declare_command_queues(rt.broker.clone(), rt.shutdown.clone());
        messaging::start_consumers(&rt.broker, &rt.store, &driver, &rt.shutdown);
        messaging::start_timers(
            rt.store.clone(),
            driver.clone(),
            Duration::from_millis(cfg.timer_poll_ms),
            rt.shutdown.clone(),
        );
        let api = api::OrchestratorApi::new(rt.store.clone(), driver, cfg.stuck_after_secs);
        Ok(aftersales_platform::grpc::builder().add_service(OrchestratorServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn defaults() -> Config {
        let settings: aftersales_platform::config::Settings<Config> =
            aftersales_platform::config::load_from(Orchestrator::DEFAULTS, None, Vec::new())
                .unwrap();
        settings.service
    }

    #[test]
    fn defaults_load_and_validate() {
        let s = defaults().engine().unwrap();
        assert_eq!(s.command_timeout, Duration::from_secs(30));
        assert_eq!(s.retry.max_attempts, 5);
        assert_eq!(s.compensation_retry.max_attempts, 8);
        assert!(s.deadlines.is_empty());
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = defaults();
        c.retry.max_attempts = 0;
        let err = c.engine().unwrap_err().to_string();
        assert!(err.contains("service.retry.max_attempts"), "{err}");
        let mut c = defaults();
        c.compensation_retry.max_ms = 1;
        let err = c.engine().unwrap_err().to_string();
        assert!(err.contains("service.compensation_retry.max_ms"), "{err}");
        let mut c = defaults();
        c.deadlines_ms.insert("no_such_wait".into(), 5);
        let err = c.engine().unwrap_err().to_string();
        assert!(err.contains("service.deadlines_ms.no_such_wait"), "{err}");
        let mut c = defaults();
        c.deadlines_ms.insert("refund_confirmation".into(), 5);
        assert_eq!(
            c.engine().unwrap().deadlines["refund_confirmation"],
            Duration::from_millis(5)
        );
    }
}
