//! Aftersales payments service: captured payments, refunds through the provider adapter (or to
//! store credit), chargebacks, compensations, the append-only store credit ledger and repair
//! charges.
//!
//! - [`domain`]: the pure rules (state machines, caps, ledger)
//! - [`api`]: the gRPC `PaymentsService`, protobuf conversions
//! - [`provider`]: the payment provider adapter and its sandbox
//! - [`storage`]: sea-orm entities, repository, migrations
//! - [`messaging`]: the domain events published through the outbox, the saga commands consumed

pub mod api;
pub mod domain;
pub mod messaging;
pub mod provider;
pub mod storage;

use aftersales_platform::{Runtime, ServiceDef};
use aftersales_proto::payments::v1::payments_service_server::PaymentsServiceServer;
use domain::{Policy, SandboxSettings};
use sea_orm_migration::MigrationTrait;
use serde::Deserialize;

/// The `[service]` section: the payments *(config)* values.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A refund or cash compensation still PENDING this long is due for manual review (900).
    pub pending_review_after_secs: i64,
    /// Whether refunds may fall back to store credit (true).
    pub store_credit_fallback: bool,
    /// The sandbox payment provider.
    pub sandbox: SandboxConfig,
}

/// The `[service.sandbox]` section: latency and failure rates of the sandbox provider.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
    pub latency_ms: u64,
    pub failure_rate: f64,
    pub timeout_rate: f64,
    pub late_confirmation_rate: f64,
    pub late_confirmation_delay_ms: u64,
    pub timeout_ms: u64,
}

impl Config {
    /// The domain policy; fails naming the `service.<key>` at fault.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let s = &self.sandbox;
        let policy = Policy {
            pending_review_after_secs: self.pending_review_after_secs,
            store_credit_fallback: self.store_credit_fallback,
            sandbox: SandboxSettings {
                latency_ms: s.latency_ms,
                failure_rate: s.failure_rate,
                timeout_rate: s.timeout_rate,
                late_confirmation_rate: s.late_confirmation_rate,
                late_confirmation_delay_ms: s.late_confirmation_delay_ms,
                timeout_ms: s.timeout_ms,
            },
        };
        policy.validate().map_err(|v| {
            let key = v.field.strip_prefix("payments.").unwrap_or(&v.field);
            anyhow::anyhow!("invalid configuration: service.{key}: {}", v.description)
        })?;
        Ok(policy)
    }
}

/// The payments service definition.
pub struct Payments;

impl ServiceDef for Payments {
    const NAME: &'static str = "payments";
    const GRPC_SERVICE: &'static str = "aftersales.payments.v1.PaymentsService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let api = api::PaymentsApi::new(rt)?;
        messaging::commands::router(api.clone()).spawn(rt);
        Ok(aftersales_platform::grpc::builder().add_service(PaymentsServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Config {
        let settings: aftersales_platform::config::Settings<Config> =
            aftersales_platform::config::load_from(Payments::DEFAULTS, None, Vec::new()).unwrap();
        settings.service
    }

    #[test]
    fn defaults_load_and_validate() {
        let c = defaults();
        let p = c.policy().unwrap();
        assert_eq!(p.pending_review_after_secs, 900);
        assert!(p.store_credit_fallback);
        assert_eq!(p.sandbox.latency_ms, 0);
        assert_eq!(p.sandbox.failure_rate, 0.0);
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = defaults();
        c.sandbox.failure_rate = 1.5;
        let err = c.policy().unwrap_err().to_string();
        assert!(err.contains("service.sandbox.failure_rate"), "{err}");
        let mut c = defaults();
        c.pending_review_after_secs = 0;
        let err = c.policy().unwrap_err().to_string();
        assert!(err.contains("service.pending_review_after_secs"), "{err}");
    }
}
