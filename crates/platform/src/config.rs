//! Layered configuration: embedded defaults, then an optional file, then `AFTERSALES__SECTION__KEY`
//! environment variables. Invalid configuration fails at start with the key path named.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use std::{fmt, net::SocketAddr, path::Path, time::Duration};

/// Defaults shared by every process; each process adds its own on top.
const PLATFORM_DEFAULTS: &str = r#"
[grpc]
addr = "127.0.0.1:50050"

[database]
url = "postgres://postgres@127.0.0.1:5432/aftersales"
max_connections = 10
migrate_on_start = true
create_if_missing = true

[amqp]
url = "amqp://guest:guest@127.0.0.1:5672/%2f"
prefix = ""
queue_type = "quorum"
prefetch = 32
max_attempts = 5

[outbox]
poll_interval_ms = 500
batch_size = 100

[telemetry]
log_format = "text"
log_filter = "info"
"#;

/// Settings of one process: the shared sections plus the service's own `service` section.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings<S> {
    pub grpc: GrpcSettings,
    pub database: DatabaseSettings,
    pub amqp: AmqpSettings,
    pub outbox: OutboxSettings,
    pub telemetry: TelemetrySettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    pub service: S,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrpcSettings {
    pub addr: SocketAddr,
}

/// Where Prometheus scrapes `GET /metrics` (ports 9550–9556 by default; unset: not served).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub addr: Option<SocketAddr>,
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: Secret,
    pub max_connections: u32,
    /// Run pending migrations when `serve` starts.
    pub migrate_on_start: bool,
    /// Create the database when it does not exist (local development and tests).
    pub create_if_missing: bool,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &self.url)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Quorum,
    Classic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    pub url: Secret,
    /// Prepended to every exchange and queue name, so that test runs never share them.
    pub prefix: String,
    pub queue_type: QueueType,
    pub prefetch: u16,
    /// Deliveries of one message before it is dead-lettered.
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// How often the relay looks for rows not yet confirmed (it is also woken after each commit).
    pub poll_interval_ms: u64,
    pub batch_size: u64,
}

impl OutboxSettings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub log_format: LogFormat,
    /// `tracing` filter directives; `RUST_LOG` wins when set.
    pub log_filter: String,
}

/// A string that never prints (connection URLs carry passwords).
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Loads settings: platform defaults, the service's defaults, an optional file, then the environment.
pub fn load<S: DeserializeOwned>(
    service_defaults: &str,
    file: Option<&Path>,
) -> Result<Settings<S>, ConfigError> {
    load_from(service_defaults, file, std::env::vars())
}

/// Like [`load`], with the environment given explicitly (tests).
pub fn load_from<S: DeserializeOwned>(
    service_defaults: &str,
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings<S>, ConfigError> {
    use config::{Config, Environment, File, FileFormat};
    let env: std::collections::HashMap<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("AFTERSALES__"))
        .collect();
    let mut builder = Config::builder()
        .add_source(File::from_str(PLATFORM_DEFAULTS, FileFormat::Toml))
        .add_source(File::from_str(service_defaults, FileFormat::Toml));
    if let Some(path) = file {
        builder = builder.add_source(File::from(path).required(true));
    }
    builder = builder.add_source(
        Environment::with_prefix("AFTERSALES")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .source(Some(env)),
    );
    let cfg = builder.build().map_err(|e| ConfigError(e.to_string()))?;
    cfg.try_deserialize()
        .map_err(|e| ConfigError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Svc {
        window_days: u32,
    }

    const SVC: &str = "[grpc]\naddr = \"127.0.0.1:50051\"\n[service]\nwindow_days = 7\n";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn layers_defaults_then_env() {
        let s: Settings<Svc> = load_from(SVC, None, env(&[])).unwrap();
        assert_eq!(s.grpc.addr.port(), 50051);
        assert_eq!(s.service.window_days, 7);
        assert_eq!(s.amqp.queue_type, QueueType::Quorum);

        let s: Settings<Svc> = load_from(
            SVC,
            None,
            env(&[
                ("AFTERSALES__SERVICE__WINDOW_DAYS", "9"),
                ("AFTERSALES__AMQP__PREFIX", "t1."),
            ]),
        )
        .unwrap();
        assert_eq!(s.service.window_days, 9);
        assert_eq!(s.amqp.prefix, "t1.");
    }

    #[test]
    fn invalid_value_names_the_key() {
        let err = load_from::<Svc>(SVC, None, env(&[("AFTERSALES__GRPC__ADDR", "not-an-addr")]))
            .unwrap_err();
        assert!(err.to_string().contains("grpc.addr"), "{err}");
        let err = load_from::<Svc>(SVC, None, env(&[("AFTERSALES__AMQP__QUEUE_TYPE", "fancy")]))
            .unwrap_err();
        assert!(err.to_string().contains("queue_type"), "{err}");
    }

    #[test]
    fn secrets_do_not_print() {
        let s: Settings<Svc> = load_from(SVC, None, env(&[])).unwrap();
        assert!(!format!("{:?}", s.amqp).contains("guest"));
    }
}
