//! Aftersales orders service: orders, their lines, the return policy frozen on each line and the
//! per-line after-sale counters the other services and the saga orchestrator move.
//!
//! - [`domain`]: the pure rules (state machine, counters, policy snapshot)
//! - [`api`]: the gRPC `OrdersService`, protobuf conversions
//! - [`storage`]: sea-orm entities, repository, migrations
//! - [`messaging`]: the domain events published through the outbox, the saga commands consumed

pub mod api;
pub mod domain;
pub mod messaging;
pub mod storage;

use aftersales_platform::{Runtime, ServiceDef};
use aftersales_proto::orders::v1::orders_service_server::OrdersServiceServer;
use domain::{MemberTier, Settings};
use sea_orm_migration::MigrationTrait;
use serde::{Deserialize, Deserializer};

/// The `[service]` section: DOMAIN.md's *(config)* values for orders.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Exchange/quality window in days from signed-at (15).
    pub exchange_quality_days: u32,
    /// Warranty in months from signed-at (12).
    pub warranty_months: u32,
    /// Categories excluded from no-reason returns (perishable, custom_made, digital).
    #[serde(deserialize_with = "string_list")]
    pub no_reason_excluded_categories: Vec<String>,
    /// Member tiers granting free returns (GOLD, PLATINUM).
    #[serde(deserialize_with = "string_list")]
    pub free_return_tiers: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        let s = Settings::default();
        Self {
            exchange_quality_days: s.exchange_quality_days,
            warranty_months: s.warranty_months,
            no_reason_excluded_categories: s.no_reason_excluded_categories,
            free_return_tiers: s
                .free_return_tiers
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
        }
    }
}

impl Config {
    /// The domain settings; fails naming the `service.<key>` at fault.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut tiers = Vec::with_capacity(self.free_return_tiers.len());
        for (i, t) in self.free_return_tiers.iter().enumerate() {
            let tier = MemberTier::parse(&t.trim().to_uppercase()).ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid configuration: service.free_return_tiers[{i}]: unknown member tier {t:?} (NONE, SILVER, GOLD, PLATINUM)"
                )
            })?;
            tiers.push(tier);
        }
        let settings = Settings {
            exchange_quality_days: self.exchange_quality_days,
            warranty_months: self.warranty_months,
            no_reason_excluded_categories: self
                .no_reason_excluded_categories
                .iter()
                .map(|c| c.trim().to_owned())
                .collect(),
            free_return_tiers: tiers,
        };
        if let Err(e) = settings.validate("service") {
            let text = match e {
                aftersales_kernel::DomainError::Invalid(v) => v
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.description))
                    .collect::<Vec<_>>()
                    .join("; "),
                aftersales_kernel::DomainError::Rule(r) => r.to_string(),
            };
            anyhow::bail!("invalid configuration: {text}");
        }
        Ok(settings)
    }
}

/// Accepts a TOML list or a comma-separated string (environment variables).
fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::List(v) => v,
        Raw::Text(s) => s
            .split(',')
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
    })
}

/// The orders service definition for the platform runtime.
pub struct Orders;

impl ServiceDef for Orders {
    const NAME: &'static str = "orders";
    const GRPC_SERVICE: &'static str = "aftersales.orders.v1.OrdersService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let api = api::OrdersApi::new(rt)?;
        messaging::commands::router(api.clone()).spawn(rt);
        Ok(aftersales_platform::grpc::builder().add_service(OrdersServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_domain() {
        let s = aftersales_platform::config::load_from::<Config>(
            Orders::DEFAULTS,
            None,
            Vec::<(String, String)>::new(),
        )
        .unwrap();
        assert_eq!(s.service, Config::default());
        assert_eq!(s.service.settings().unwrap(), Settings::default());
        assert_eq!(s.grpc.addr.port(), 50051);
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let s = aftersales_platform::config::load_from::<Config>(
            Orders::DEFAULTS,
            None,
            env(&[
                (
                    "AFTERSALES__SERVICE__NO_REASON_EXCLUDED_CATEGORIES",
                    "digital, fresh_food",
                ),
                ("AFTERSALES__SERVICE__FREE_RETURN_TIERS", "platinum"),
                ("AFTERSALES__SERVICE__WARRANTY_MONTHS", "24"),
            ]),
        )
        .unwrap();
        let settings = s.service.settings().unwrap();
        assert_eq!(
            settings.no_reason_excluded_categories,
            ["digital", "fresh_food"]
        );
        assert_eq!(settings.free_return_tiers, [MemberTier::Platinum]);
        assert_eq!(settings.warranty_months, 24);

        let bad = Config {
            warranty_months: 0,
            ..Config::default()
        };
        let err = bad.settings().unwrap_err().to_string();
        assert!(err.contains("service.warranty_months"), "{err}");
        let bad = Config {
            free_return_tiers: vec!["DIAMOND".into()],
            ..Config::default()
        };
        let err = bad.settings().unwrap_err().to_string();
        assert!(err.contains("service.free_return_tiers[0]"), "{err}");
    }
}
