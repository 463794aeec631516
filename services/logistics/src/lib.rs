//! Aftersales logistics service: shipments and their waybills, courier tracking events,
//! interceptions, tracking number corrections, stuck detection and the ETA.
//!
//! - [`domain`]: the pure rules (state machines, out-of-order scans, windows)
//! - [`api`]: the gRPC `LogisticsService`, protobuf conversions
//! - [`storage`]: sea-orm entities, repository, migrations
//! - [`messaging`]: the domain events published through the outbox, the saga commands consumed

pub mod api;
pub mod domain;
pub mod messaging;
pub mod storage;

use aftersales_platform::{Runtime, ServiceDef};
use aftersales_proto::logistics::v1::logistics_service_server::LogisticsServiceServer;
use domain::{Address, AddressInput, EtaHours, Policy};
use sea_orm_migration::MigrationTrait;
use serde::Deserialize;

/// The `[service]` section: DOMAIN.md's *(config)* values for logistics.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// No scan for this long marks an in-transit shipment stuck (48 h), in seconds.
    pub stuck_after_seconds: i64,
    /// Tracking number correction window after the upload or creation (24 h), in seconds.
    pub correction_window_seconds: i64,
    /// Allowed clock skew of a courier's `occurred_at` (10 min), in seconds.
    pub max_clock_skew_seconds: i64,
    /// ETA model: remaining hours per state after the last applied event.
    pub eta_created_hours: i64,
    pub eta_picked_up_hours: i64,
    pub eta_in_transit_hours: i64,
    pub eta_out_for_delivery_hours: i64,
    pub eta_exception_hours: i64,
    /// Where TO_REPAIR_CENTER legs go and FROM_REPAIR_CENTER legs start.
    pub repair_depot: RepairDepotConfig,
    /// How often this process sweeps for stuck shipments (MarkStuckShipments), in seconds;
    /// 0 leaves the sweep to an outside scheduler.
    pub stuck_sweep_seconds: u64,
}

/// The `[service.repair_depot]` section: the repair depot's postal address. Required:
/// contact_name, phone, line1, city, country_code (ISO 3166-1 alpha-2, upper case); line2,
/// region and postal_code may be empty; each at most 128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RepairDepotConfig {
    pub contact_name: String,
    pub phone: String,
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country_code: String,
}

impl From<&Address> for RepairDepotConfig {
    fn from(a: &Address) -> Self {
        Self {
            contact_name: a.contact_name.clone(),
            phone: a.phone.clone(),
            line1: a.line1.clone(),
            line2: a.line2.clone().unwrap_or_default(),
            city: a.city.clone(),
            region: a.region.clone().unwrap_or_default(),
            postal_code: a.postal_code.clone().unwrap_or_default(),
            country_code: a.country_code.clone(),
        }
    }
}

impl RepairDepotConfig {
    /// The depot address; fails naming the `service.repair_depot.<key>` at fault.
    fn address(&self) -> anyhow::Result<Address> {
        let input = AddressInput {
            contact_name: &self.contact_name,
            phone: &self.phone,
            line1: &self.line1,
            line2: &self.line2,
            city: &self.city,
            region: &self.region,
            postal_code: &self.postal_code,
            country_code: &self.country_code,
        };
        Address::parse("repair_depot", &input).map_err(|e| match e {
            aftersales_kernel::DomainError::Invalid(v) if !v.is_empty() => anyhow::anyhow!(
                "invalid configuration: service.{} {}",
                v[0].field,
                v[0].description
            ),
            other => anyhow::anyhow!("invalid configuration: service.repair_depot: {other}"),
        })
    }
}

impl Default for Config {
    fn default() -> Self {
        let p = Policy::default();
        Self {
            stuck_after_seconds: p.stuck_after_seconds,
            correction_window_seconds: p.correction_window_seconds,
            max_clock_skew_seconds: p.max_clock_skew_seconds,
            eta_created_hours: p.eta.created,
            eta_picked_up_hours: p.eta.picked_up,
            eta_in_transit_hours: p.eta.in_transit,
            eta_out_for_delivery_hours: p.eta.out_for_delivery,
            eta_exception_hours: p.eta.exception,
            repair_depot: RepairDepotConfig::from(&p.repair_depot),
            stuck_sweep_seconds: 300,
        }
    }
}

impl Config {
    /// The domain policy; fails naming the `service.<key>` at fault.
    pub fn policy(&self) -> anyhow::Result<Policy> {
        let policy = Policy {
            stuck_after_seconds: self.stuck_after_seconds,
            correction_window_seconds: self.correction_window_seconds,
            max_clock_skew_seconds: self.max_clock_skew_seconds,
            eta: EtaHours {
                created: self.eta_created_hours,
                picked_up: self.eta_picked_up_hours,
                in_transit: self.eta_in_transit_hours,
                out_for_delivery: self.eta_out_for_delivery_hours,
                exception: self.eta_exception_hours,
            },
            repair_depot: self.repair_depot.address()?,
        };
        policy.validate().map_err(|e| {
            let e = e.replacen("eta.", "eta_", 1);
            let e = match e.split_once(' ') {
                Some((key, rest)) if key.starts_with("eta_") => format!("{key}_hours {rest}"),
                _ => e,
            };
            anyhow::anyhow!("invalid configuration: service.{e}")
        })?;
        Ok(policy)
    }
}

/// The logistics service definition for the platform runtime.
pub struct Logistics;

impl ServiceDef for Logistics {
    const NAME: &'static str = "logistics";
    const GRPC_SERVICE: &'static str = "aftersales.logistics.v1.LogisticsService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let api = api::LogisticsApi::new(rt)?;
        messaging::commands::router(api.clone()).spawn(rt);
        let every = std::time::Duration::from_secs(rt.settings.service.stuck_sweep_seconds);
        let sweeper = api.clone();
        aftersales_platform::sweep::spawn(rt, "stuck_shipments", every, move || {
            sweeper.clone().sweep_stuck()
        });
        Ok(aftersales_platform::grpc::builder().add_service(LogisticsServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_and_match_domain() {
        let s = aftersales_platform::config::load_from::<Config>(
            Logistics::DEFAULTS,
            None,
            Vec::<(String, String)>::new(),
        )
        .unwrap();
        assert_eq!(s.service, Config::default());
        assert_eq!(s.service.policy().unwrap(), Policy::default());
        assert_eq!(s.grpc.addr.port(), 50054);
    }

    #[test]
    fn env_overrides_and_bad_values_name_the_key() {
        let s = aftersales_platform::config::load_from::<Config>(
            Logistics::DEFAULTS,
            None,
            vec![(
                "AFTERSALES__SERVICE__CORRECTION_WINDOW_SECONDS".to_owned(),
                "2".to_owned(),
            )],
        )
        .unwrap();
        assert_eq!(s.service.policy().unwrap().correction_window_seconds, 2);
        let bad = Config {
            stuck_after_seconds: 0,
            ..Config::default()
        };
        let err = bad.policy().unwrap_err().to_string();
        assert!(err.contains("service.stuck_after_seconds"), "{err}");
        let bad = Config {
            eta_in_transit_hours: -1,
            ..Config::default()
        };
        let err = bad.policy().unwrap_err().to_string();
        assert!(err.contains("service.eta_in_transit_hours"), "{err}");
    }

    #[test]
    fn repair_depot_is_configurable_and_validated() {
        let s = aftersales_platform::config::load_from::<Config>(
            Logistics::DEFAULTS,
            None,
            vec![
                (
                    "AFTERSALES__SERVICE__REPAIR_DEPOT__CITY".to_owned(),
                    "Hangzhou".to_owned(),
                ),
                (
                    "AFTERSALES__SERVICE__REPAIR_DEPOT__LINE2".to_owned(),
                    "Building 7".to_owned(),
                ),
            ],
        )
        .unwrap();
        let depot = s.service.policy().unwrap().repair_depot;
        assert_eq!(depot.city, "Hangzhou");
        assert_eq!(depot.line2.as_deref(), Some("Building 7"));
        assert_eq!(depot.country_code, "CN");
        type Edit = fn(&mut RepairDepotConfig);
        let edits: &[(Edit, &str)] = &[
            (|d| d.city = " ".into(), "service.repair_depot.city"),
            (|d| d.phone = String::new(), "service.repair_depot.phone"),
            (
                |d| d.country_code = "china".into(),
                "service.repair_depot.country_code",
            ),
        ];
        for (edit, key) in edits {
            let mut bad = Config::default();
            edit(&mut bad.repair_depot);
            let err = bad.policy().unwrap_err().to_string();
            assert!(err.contains(key), "{err}");
        }
    }
}
