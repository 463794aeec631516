//! Aftersales complaints service: complaints with a first-response SLA, cross-department work
//! orders with their own SLA and transfer log, follow-up visits, service ratings and DSR ratings.

pub mod api;
pub mod domain;
pub mod messaging;
pub mod metrics;
pub mod storage;

use aftersales_platform::{Runtime, ServiceDef, sea_orm_migration::MigrationTrait};
use aftersales_proto::complaints::v1::complaints_service_server::ComplaintsServiceServer;
use serde::Deserialize;

/// The `[service]` section: the *(config)* values of DOMAIN.md for complaints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// First response due this many seconds after creation (24 h).
    pub first_response_secs: i64,
    /// First response due for urgent complaints (2 h).
    pub urgent_first_response_secs: i64,
    /// Work order SLA from creation (48 h).
    pub work_order_sla_secs: i64,
    /// IANA time zone of the DSR calendar month (`Asia/Shanghai`).
    pub dsr_time_zone: String,
    /// Rated transactions per buyer, merchant and month that count toward the DSR (3).
    pub dsr_counted_per_month: u32,
    /// How often this process sweeps for SLA breaches (CheckSlaBreaches), in seconds; 0 leaves
    /// the sweep to an outside scheduler.
    pub sla_sweep_secs: u64,
}

impl Config {
    /// The domain policy, or an error naming the bad `service.*` key.
    pub fn policy(&self) -> anyhow::Result<domain::Policy> {
        let dsr_time_zone = self.dsr_time_zone.parse::<chrono_tz::Tz>().map_err(|_| {
            anyhow::anyhow!(
                "invalid configuration: service.dsr_time_zone: unknown time zone {:?}",
                self.dsr_time_zone
            )
        })?;
        let policy = domain::Policy {
            first_response_secs: self.first_response_secs,
            urgent_first_response_secs: self.urgent_first_response_secs,
            work_order_sla_secs: self.work_order_sla_secs,
            dsr_time_zone,
            dsr_counted_per_month: self.dsr_counted_per_month,
        };
        policy.validate().map_err(|v| {
            // The domain names its keys `complaints.*`; the config section is `service`.
            let key = v.field.replacen("complaints.", "service.", 1);
            let description = v.description.replace("complaints.", "service.");
            anyhow::anyhow!("invalid configuration: {key}: {description}")
        })?;
        Ok(policy)
    }
}

/// The complaints service.
pub struct Complaints;

impl ServiceDef for Complaints {
    const NAME: &'static str = "complaints";
    const GRPC_SERVICE: &'static str = "aftersales.complaints.v1.ComplaintsService";
    const DEFAULTS: &'static str = include_str!("../config/default.toml");
    type Config = Config;

    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        storage::migrations()
    }

    async fn build(rt: &Runtime<Config>) -> anyhow::Result<aftersales_platform::grpc::Router> {
        let policy = rt.settings.service.policy()?;
        // Both series exist from the start (at 0), so alerts can use increase() at once.
        metrics::sla_breaches("first_response", 0);
        metrics::sla_breaches("work_order", 0);
        messaging::closed_subjects::spawn(rt);
        let api = api::ComplaintsApi::new(rt.store.clone(), policy);
        messaging::commands::router(api.clone()).spawn(rt);
        let every = std::time::Duration::from_secs(rt.settings.service.sla_sweep_secs);
        let sweeper = api.clone();
        aftersales_platform::sweep::spawn(rt, "sla_breaches", every, move || {
            sweeper.clone().sweep_sla_breaches()
        });
        Ok(aftersales_platform::grpc::builder().add_service(ComplaintsServiceServer::new(api)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Config {
        Config {
            first_response_secs: 86400,
            urgent_first_response_secs: 7200,
            work_order_sla_secs: 172800,
            dsr_time_zone: "Asia/Shanghai".into(),
            dsr_counted_per_month: 3,
            sla_sweep_secs: 60,
        }
    }

    #[test]
    fn defaults_make_the_default_policy() {
        assert_eq!(defaults().policy().unwrap(), domain::Policy::default());
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut c = defaults();
        c.dsr_time_zone = "Mars/Base".into();
        let err = c.policy().unwrap_err().to_string();
        assert!(err.contains("service.dsr_time_zone"), "{err}");
        let mut c = defaults();
        c.work_order_sla_secs = 0;
        let err = c.policy().unwrap_err().to_string();
        assert!(err.contains("service.work_order_sla_secs"), "{err}");
    }
}
