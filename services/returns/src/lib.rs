//! Aftersales returns service: after-sale cases (refund-only, return+refund, exchange, reship,
//! compensation), their items, negotiation and platform arbitration.
//!
//! - [`domain`]: the pure rules (eligibility, refund calculator, case state machine)
//! - [`api`]: the gRPC `ReturnsService`, protobuf conversions
//! - [`storage`]: sea-orm entities, repositories (cases, order replica), migrations
//! - [`messaging`]: case events through the outbox, the order replica consumer, saga commands

pub mod api;
pub mod domain;
pub mod messaging;
pub mod storage;

use aftersales_platform::{
    Runtime, ServiceDef,
    amqp::Exchange,
    consumer::{self, ConsumerSpec},
};
use aftersales_proto::returns::v1::returns_service_server::ReturnsServiceServer;
use domain::Settings;
use sea_orm_migration::MigrationTrait;
use serde::Deserialize;
use std::sync::Arc;

/// The `[service]` section: DOMAIN.md's *(config)* values for returns. Windows are durations
/// such as `"48h"` or `"7days"` (humantime syntax; at least one second).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A case the merchant leaves unanswered this long is auto-approved ("48h").
    pub merchant_decision: String,
    /// A return the buyer does not ship this long after approval is closed ("7days").
    pub buyer_shipment: String,
    /// Time the merchant has to upload evidence once a case is escalated ("72h").
    pub merchant_evidence: String,
    /// Time either party has to appeal a ruling ("7days").
    pub appeal_window: String,
    /// Quality problems on items worth at most this are refunded without a return (2000).
    pub low_value_threshold_minor: i64,
    /// Return shipping deducted from a no-reason return without privilege (1000).
    pub return_shipping_fee_minor: i64,
}

impl Default for Config {
    fn default() -> Self {
        let s = Settings::default();
        let d = |secs: i64| {
            humantime::format_duration(std::time::Duration::from_secs(secs.unsigned_abs()))
                .to_string()
        };
        Self {
            merchant_decision: d(s.merchant_decision_secs),
            buyer_shipment: d(s.buyer_shipment_secs),
            merchant_evidence: d(s.merchant_evidence_secs),
            appeal_window: d(s.appeal_window_secs),
            low_value_threshold_minor: s.low_value_threshold_minor,
            return_shipping_fee_minor: s.return_shipping_fee_minor,
        }
    }
}

/// Seconds of a duration key; fails naming `service.<key>`.
fn seconds(key: &str, value: &str) -> anyhow::Result<i64> {
    let d = humantime::parse_duration(value.trim()).map_err(|e| {
        anyhow::anyhow!("invalid configuration: service.{key}: `{value}` is not a duration ({e})")
    })?;
    i64::try_from(d.as_secs())
        .map_err(|_| anyhow::anyhow!("invalid configuration: service.{key}: too long"))
}

impl Config {
    /// The domain settings; fails naming the `service.<key>` at fault.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let settings = Settings {
            merchant_decision_secs: seconds("merchant_decision", &self.merchant_decision)?,
            buyer_shipment_secs: seconds("buyer_shipment", &self.buyer_shipment)?,
            merchant_evidence_secs: seconds("merchant_evidence", &self.merchant_evidence)?,
            appeal_window_secs: seconds("appeal_window", &self.appeal_window)?,
            low_value_threshold_minor: self.low_value_threshold_minor,
            return_shipping_fee_minor: self.return_shipping_fee_minor,
        };
        settings.validate("service.").map_err(|v| {
            anyhow::anyhow!("invalid configuration: {}: {}", v.field, v.description)
        })?;
        Ok(settings)
    }
}

/// The returns service definition for the platform runtime.
pub struct Returns;

impl ServiceDef for Returns {
    const NAME: &'static str = "returns";
    const GRPC_SERVICE: &'static str = "aftersales.returns.v1.ReturnsService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let api = api::ReturnsApi::new(rt)?;
        messaging::commands::router(api.clone()).spawn(rt);
        consumer::spawn(
            rt.broker.clone(),
            rt.store.clone(),
            ConsumerSpec {
                queue: messaging::ORDER_EVENTS_QUEUE.into(),
                bindings: vec![(Exchange::Events, "orders.order.#".into())],
            },
            Arc::new(|tx, env| Box::pin(messaging::apply_order_event(tx, env))),
            rt.shutdown.clone(),
        );
        Ok(aftersales_platform::grpc::builder().add_service(ReturnsServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_domain() {
        let s = aftersales_platform::config::load_from::<Config>(
            Returns::DEFAULTS,
            None,
            Vec::<(String, String)>::new(),
        )
        .unwrap();
        assert_eq!(s.service.settings().unwrap(), Settings::default());
        assert_eq!(
            Config::default().settings().unwrap(),
            Settings::default(),
            "the fallback written with humantime reads back the same"
        );
        assert_eq!(s.grpc.addr.port(), 50052);
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        let s = aftersales_platform::config::load_from::<Config>(
            Returns::DEFAULTS,
            None,
            vec![(
                "AFTERSALES__SERVICE__BUYER_SHIPMENT".to_string(),
                "3days".to_string(),
            )],
        )
        .unwrap();
        assert_eq!(
            s.service.settings().unwrap().buyer_shipment_secs,
            3 * 24 * 3600
        );
        let bad = Config {
            merchant_decision: "0s".into(),
            ..Config::default()
        };
        let err = bad.settings().unwrap_err().to_string();
        assert!(err.contains("service.merchant_decision"), "{err}");
        let bad = Config {
            appeal_window: "a week".into(),
            ..Config::default()
        };
        let err = bad.settings().unwrap_err().to_string();
        assert!(err.contains("service.appeal_window"), "{err}");
    }
}
