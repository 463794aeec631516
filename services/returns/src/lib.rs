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

/// The `[service]` section: DOMAIN.md's *(config)* values for returns.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// A case the merchant leaves unanswered this long is auto-approved (48).
    pub merchant_decision_hours: i64,
    /// A return the buyer does not ship this long after approval is closed (7).
    pub buyer_shipment_days: i64,
    /// Time the merchant has to upload evidence once a case is escalated (72).
    pub merchant_evidence_hours: i64,
    /// Time either party has to appeal a ruling (7).
    pub appeal_window_days: i64,
    /// Quality problems on items worth at most this are refunded without a return (2000).
    pub low_value_threshold_minor: i64,
    /// Return shipping deducted from a no-reason return without privilege (1000).
    pub return_shipping_fee_minor: i64,
}

impl Default for Config {
    fn default() -> Self {
        let s = Settings::default();
        Self {
            merchant_decision_hours: s.merchant_decision_hours,
            buyer_shipment_days: s.buyer_shipment_days,
            merchant_evidence_hours: s.merchant_evidence_hours,
            appeal_window_days: s.appeal_window_days,
            low_value_threshold_minor: s.low_value_threshold_minor,
            return_shipping_fee_minor: s.return_shipping_fee_minor,
        }
    }
}

impl Config {
    /// The domain settings; fails naming the `service.<key>` at fault.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let settings = Settings {
            merchant_decision_hours: self.merchant_decision_hours,
            buyer_shipment_days: self.buyer_shipment_days,
            merchant_evidence_hours: self.merchant_evidence_hours,
            appeal_window_days: self.appeal_window_days,
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

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<tonic::transport::server::Router> {
        let api = api::ReturnsApi::new(rt)?;
        messaging::commands::router(api.clone()).spawn(
            rt.broker.clone(),
            rt.store.clone(),
            rt.shutdown.clone(),
        );
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
        assert_eq!(s.service, Config::default());
        assert_eq!(s.service.settings().unwrap(), Settings::default());
        assert_eq!(s.grpc.addr.port(), 50052);
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        let s = aftersales_platform::config::load_from::<Config>(
            Returns::DEFAULTS,
            None,
            vec![(
                "AFTERSALES__SERVICE__BUYER_SHIPMENT_DAYS".to_string(),
                "3".to_string(),
            )],
        )
        .unwrap();
        assert_eq!(s.service.settings().unwrap().buyer_shipment_days, 3);
        let bad = Config {
            merchant_decision_hours: 0,
            ..Config::default()
        };
        let err = bad.settings().unwrap_err().to_string();
        assert!(err.contains("service.merchant_decision_hours"), "{err}");
    }
}
