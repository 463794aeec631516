//! Aftersales repairs service: repair orders (warranty decision, diagnosis, quote, repair, ship
//! back) and the repair centers (partners) that do the work.
//!
//! - [`domain`]: the pure rules (state machine, warranty, scoping)
//! - [`api`]: the gRPC `RepairsService`, protobuf conversions
//! - [`storage`]: sea-orm entities, repositories, migrations (including the order replica)
//! - [`messaging`]: domain events published through the outbox, the order replica consumer,
//!   saga commands

pub mod api;
pub mod domain;
pub mod messaging;
pub mod storage;

use aftersales_platform::amqp::Exchange;
use aftersales_platform::consumer::{self, ConsumerSpec};
use aftersales_platform::{Runtime, ServiceDef};
use aftersales_proto::repairs::v1::repairs_service_server::RepairsServiceServer;
use domain::Policy;
use sea_orm_migration::MigrationTrait;
use serde::Deserialize;
use std::sync::Arc;

/// The `[service]` section: DOMAIN.md's *(config)* values for repairs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Warranty months used when a line's policy snapshot has none (12).
    pub default_warranty_months: u32,
    /// Days the buyer has to answer a quote before it expires (7).
    pub quote_approval_days: u32,
}

impl Default for Config {
    fn default() -> Self {
        let p = Policy::default();
        Self {
            default_warranty_months: p.default_warranty_months,
            quote_approval_days: p.quote_approval_days,
        }
    }
}

impl Config {
    /// The domain policy; fails naming the `service.<key>` at fault.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let policy = Policy {
            default_warranty_months: self.default_warranty_months,
            quote_approval_days: self.quote_approval_days,
        };
        policy
            .validate()
            .map_err(|e| anyhow::anyhow!("invalid configuration: service.{e}"))?;
        Ok(policy)
    }
}

/// Queue of the order replica consumer (also its inbox name).
pub const ORDER_EVENTS_QUEUE: &str = "repairs.order-events";

/// The repairs service definition for the platform runtime.
pub struct Repairs;

impl ServiceDef for Repairs {
    const NAME: &'static str = "repairs";
    const GRPC_SERVICE: &'static str = "aftersales.repairs.v1.RepairsService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let api = api::RepairsApi::new(rt)?;
        messaging::commands::router(api.clone()).spawn(rt);
        consumer::spawn(
            rt.broker.clone(),
            rt.store.clone(),
            ConsumerSpec {
                queue: ORDER_EVENTS_QUEUE.into(),
                bindings: vec![(Exchange::Events, "orders.order.#".into())],
            },
            Arc::new(|tx, env| Box::pin(messaging::apply_order_event(tx, env))),
            rt.shutdown.clone(),
        );
        Ok(aftersales_platform::grpc::builder().add_service(RepairsServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_parse_and_match_domain() {
        let s = aftersales_platform::config::load_from::<Config>(Repairs::DEFAULTS, None, env(&[]))
            .unwrap();
        assert_eq!(s.service, Config::default());
        assert_eq!(s.service.policy().unwrap(), Policy::default());
        assert_eq!(s.grpc.addr.port(), 50053);
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        let s = aftersales_platform::config::load_from::<Config>(
            Repairs::DEFAULTS,
            None,
            env(&[("AFTERSALES__SERVICE__QUOTE_APPROVAL_DAYS", "3")]),
        )
        .unwrap();
        assert_eq!(s.service.policy().unwrap().quote_approval_days, 3);
        let bad = Config {
            quote_approval_days: 0,
            ..Config::default()
        };
        let err = bad.policy().unwrap_err().to_string();
        assert!(err.contains("service.quote_approval_days"), "{err}");
        let unknown = aftersales_platform::config::load_from::<Config>(
            Repairs::DEFAULTS,
            None,
            env(&[("AFTERSALES__SERVICE__WARRANTY_DAYS", "3")]),
        );
        assert!(unknown.is_err());
    }
}
