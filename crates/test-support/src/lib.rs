//! Helpers for black-box tests against the real PostgreSQL and RabbitMQ on loopback.
//!
//! Every [`TestEnv`] has its own id: each service it starts gets a throwaway database
//! (`it_<id>_<service>`) and every exchange and queue is prefixed with `it-<id>.`. Dropping the
//! env kills the processes, drops the databases and deletes the exchanges and queues.
//!
//! [`commands`]: publish saga commands to a real service and read its replies.

pub mod commands;
pub mod otlp;

pub use aftersales_platform::amqp::Exchange;
use aftersales_platform::amqp::Topology;
use aftersales_proto::messaging::v1::Envelope;
use futures::StreamExt;
use lapin::{
    Channel, Connection, ConnectionProperties,
    options::{
        BasicAckOptions, BasicConsumeOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
        QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    types::FieldTable,
};
use prost::Message as _;
use std::{
    net::{SocketAddr, TcpListener},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Mutex,
    time::{Duration, Instant},
};
use tonic::transport::Channel as GrpcChannel;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

pub use commands::{ReceivedReply, ReplyProbe, command_envelope};

pub const POSTGRES_SERVER: &str = "postgres://postgres@127.0.0.1:5432";
pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

/// Overrides for where PostgreSQL and RabbitMQ are (defaults: loopback).
fn postgres_server() -> String {
    std::env::var("AFTERSALES_TEST_POSTGRES").unwrap_or_else(|_| POSTGRES_SERVER.to_owned())
}
fn amqp_url() -> String {
    std::env::var("AFTERSALES_TEST_AMQP").unwrap_or_else(|_| AMQP_URL.to_owned())
}

/// One isolated test environment.
pub struct TestEnv {
    pub id: String,
    pub prefix: String,
    services: Mutex<Vec<ServiceProcess>>,
    databases: Mutex<Vec<String>>,
    /// Settings every process this env starts gets (e.g. the OTLP endpoint).
    shared_env: Mutex<Vec<(String, String)>>,
}

/// A service binary running as a child process.
pub struct ServiceProcess {
    pub name: String,
    pub addr: SocketAddr,
    pub database_url: String,
    pub log: PathBuf,
    child: Child,
}

impl ServiceProcess {
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends SIGKILL (crash tests) and reaps the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string()[..12].to_owned();
        Self {
            prefix: format!("it-{id}."),
            id,
            services: Mutex::new(Vec::new()),
            databases: Mutex::new(Vec::new()),
            shared_env: Mutex::new(Vec::new()),
        }
    }

    /// Gives `key=value` to every process started from now on.
    pub fn set_env(&self, key: &str, value: &str) {
        self.shared_env
            .lock()
            .expect("lock")
            .push((key.to_owned(), value.to_owned()));
    }

    /// Drops `url`'s database when this env is dropped (for databases a test creates itself).
    pub fn track_database(&self, url: &str) {
        self.databases.lock().expect("lock").push(url.to_owned());
    }

    /// Database URL for `service` in this env (the service creates it on start).
    pub fn database_url(&self, service: &str) -> String {
        format!("{}/it_{}_{}", postgres_server(), self.id, service)
    }

    /// Starts `aftersales-<service>` with its own database and this env's queue prefix, waits
    /// until its health check reports SERVING, and returns a channel to it.
    pub async fn start(&self, service: &str, extra_env: &[(&str, &str)]) -> GrpcChannel {
        let addr = free_port();
        let database_url = self.database_url(service);
        let bin = binary(service);
        let log_dir = bin
            .parent()
            .map(|p| p.join("test-logs").join(&self.id))
            .unwrap_or_else(|| PathBuf::from("test-logs"));
        let _ = std::fs::create_dir_all(&log_dir);
        let log = log_dir.join(format!("{service}.log"));
        let out = std::fs::File::create(&log).expect("create service log file");
        let err = out.try_clone().expect("clone log file handle");
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .env_remove("RUST_LOG")
            .env("AFTERSALES__GRPC__ADDR", addr.to_string())
            // Port 0: the process picks a free port and logs it (see `metrics_addr`), so metrics
            // ports never race the gRPC ports of parallel tests.
            .env("AFTERSALES__METRICS__ADDR", "127.0.0.1:0")
            .env("AFTERSALES__DATABASE__URL", &database_url)
            .env("AFTERSALES__DATABASE__MAX_CONNECTIONS", "20")
            .env("AFTERSALES__AMQP__URL", amqp_url())
            .env("AFTERSALES__AMQP__PREFIX", &self.prefix)
            .env("AFTERSALES__OUTBOX__POLL_INTERVAL_MS", "200")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        for (k, v) in self.shared_env.lock().expect("lock").iter() {
            cmd.env(k, v);
        }
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!("cannot start {}: {e}; build the binaries first (`cargo build --bins`, `just test` does)", bin.display())
        });
        self.databases
            .lock()
            .expect("lock")
            .push(database_url.clone());
        let process = ServiceProcess {
            name: service.to_owned(),
            addr,
            database_url,
            log: log.clone(),
            child,
        };
        self.services.lock().expect("lock").push(process);
        wait_serving(service, addr, &log).await
    }

    /// `http://addr` of the most recently started process of `service`.
    pub fn endpoint(&self, service: &str) -> Option<String> {
        let services = self.services.lock().expect("lock");
        services
            .iter()
            .rev()
            .find(|p| p.name == service)
            .map(ServiceProcess::endpoint)
    }

    /// Where the most recently started process of `service` serves `GET /metrics`.
    pub fn metrics_addr(&self, service: &str) -> Option<SocketAddr> {
        let log = self.log_path(service)?;
        let text = std::fs::read_to_string(log).ok()?;
        // `metrics listening addr=127.0.0.1:N` (text) or `"addr":"127.0.0.1:N"` (JSON).
        text.lines()
            .filter(|l| l.contains("metrics listening"))
            .find_map(|l| {
                let at = l
                    .find("addr=")
                    .map(|i| i + 5)
                    .or_else(|| l.find("\"addr\":\"").map(|i| i + 8))?;
                let rest = &l[at..];
                let end = rest
                    .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':'))
                    .unwrap_or(rest.len());
                rest[..end].parse().ok()
            })
    }

    /// The log file (stdout and stderr) of the most recently started process of `service`.
    pub fn log_path(&self, service: &str) -> Option<PathBuf> {
        let services = self.services.lock().expect("lock");
        services
            .iter()
            .rev()
            .find(|p| p.name == service)
            .map(|p| p.log.clone())
    }

    /// Kills (SIGKILL) the named service process.
    pub fn kill(&self, service: &str) {
        let mut services = self.services.lock().expect("lock");
        // Every process of that name: after a restart the live one is the last.
        for p in services.iter_mut().filter(|p| p.name == service) {
            p.kill();
        }
    }

    /// A probe receiving every domain event published under this env's prefix.
    pub async fn event_probe(&self, binding: &str) -> EventProbe {
        EventProbe::bind(&self.prefix, binding).await
    }

    /// Waits until this env's queue `queue` (e.g. `orchestrator.events`) has at least
    /// `consumers` consumers. A service reports SERVING before its consumers have declared and
    /// bound their queues; an event published before its queue is bound is lost, so a test that
    /// triggers a flow right after start must wait for this first.
    pub async fn wait_for_consumers(&self, queue: &str, consumers: u32, within: Duration) {
        let name = format!("{}{queue}", self.prefix);
        let deadline = Instant::now() + within;
        let (conn, _) = self.amqp_channel().await;
        loop {
            // A passive declare of a missing queue closes the channel: a fresh one each time.
            let ch = conn.create_channel().await.expect("amqp channel");
            let got = ch
                .queue_declare(
                    name.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await;
            if got.is_ok_and(|q| q.consumer_count() >= consumers) {
                break;
            }
            let _ = ch.close(200, "".into()).await;
            assert!(
                Instant::now() < deadline,
                "{name} has fewer than {consumers} consumers after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = conn.close(200, "done".into()).await;
    }

    /// Opens an AMQP channel (for tests that publish or inspect queues directly).
    pub async fn amqp_channel(&self) -> (Connection, Channel) {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect to rabbitmq");
        let ch = conn.create_channel().await.expect("amqp channel");
        (conn, ch)
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let services =
            std::mem::take(&mut *self.services.lock().unwrap_or_else(|e| e.into_inner()));
        drop(services);
        let databases =
            std::mem::take(&mut *self.databases.lock().unwrap_or_else(|e| e.into_inner()));
        let prefix = self.prefix.clone();
        // Drop runs inside a test's async runtime: clean up on a thread with its own runtime.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async move {
                    for url in databases {
                        if let Err(e) = aftersales_platform::db::drop_database(&url).await {
                            eprintln!("cleanup: cannot drop {url}: {e}");
                        }
                    }
                    delete_broker_objects(&prefix).await;
                });
            }
        });
        let _ = cleanup.join();
    }
}

/// Deletes every queue and exchange whose name starts with `prefix`.
async fn delete_broker_objects(prefix: &str) {
    let list = |what: &str| -> Vec<String> {
        Command::new("rabbitmqctl")
            .args([what, "name", "--silent"])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .map(|l| l.trim().to_owned())
                    .filter(|l| l.starts_with(prefix))
                    .collect()
            })
            .unwrap_or_default()
    };
    let queues = list("list_queues");
    let exchanges = list("list_exchanges");
    let Ok(conn) = Connection::connect(&amqp_url(), ConnectionProperties::default()).await else {
        return;
    };
    for q in queues {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
    }
    for e in exchanges {
        if let Ok(ch) = conn.create_channel().await {
            let _ = ch
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
    let _ = conn.close(200, "cleanup".into()).await;
}

/// Path of a service binary next to the test executable (`target/<profile>/aftersales-<name>`).
pub fn binary(service: &str) -> PathBuf {
    tool(&format!("aftersales-{service}"))
}

/// Path of any workspace binary next to the test executable (e.g. `aftersalesctl`).
pub fn tool(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("AFTERSALES_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    dir.join(name)
}

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    l.local_addr().expect("local addr")
}

async fn wait_serving(service: &str, addr: SocketAddr, log: &std::path::Path) -> GrpcChannel {
    let deadline = Instant::now() + Duration::from_secs(60);
    let endpoint = format!("http://{addr}");
    loop {
        if let Ok(ch) = GrpcChannel::from_shared(endpoint.clone())
            .expect("endpoint")
            .connect()
            .await
        {
            let mut health = HealthClient::new(ch.clone());
            if let Ok(resp) = health
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                && resp.get_ref().status == ServingStatus::Serving as i32
            {
                return ch;
            }
        }
        if Instant::now() > deadline {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            panic!(
                "{service} did not become healthy on {addr}; log {}:\n{tail}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A temporary queue bound to this env's events exchange.
pub struct EventProbe {
    probe: Probe,
}

/// A temporary exclusive queue bound to one of an env's exchanges, consumed with auto-ack: the
/// plumbing every probe shares.
pub(crate) struct Probe {
    _conn: Connection,
    consumer: lapin::Consumer,
}

impl Probe {
    /// Binds a fresh queue to the prefix's `exchange` (declared if missing) with `binding`.
    pub(crate) async fn bind(prefix: &str, exchange: Exchange, binding: &str) -> Self {
        let conn = Connection::connect(&amqp_url(), ConnectionProperties::default())
            .await
            .expect("connect to rabbitmq");
        let ch = conn.create_channel().await.expect("channel");
        let topology = Topology::new(prefix);
        let kind = exchange.kind();
        let exchange = topology.exchange(exchange);
        ch.exchange_declare(
            exchange.as_str().into(),
            kind,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare probed exchange");
        let queue = topology.queue(&format!("probe.{}", uuid::Uuid::new_v4().simple()));
        ch.queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("declare probe queue");
        ch.queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            binding.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("bind probe queue");
        let consumer = ch
            .basic_consume(
                queue.as_str().into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume probe queue");
        Self {
            _conn: conn,
            consumer,
        }
    }

    /// The next decodable envelope and its routing key before `deadline`; `None` on time out.
    pub(crate) async fn next(
        &mut self,
        deadline: tokio::time::Instant,
    ) -> Option<(String, Envelope)> {
        loop {
            let next = tokio::time::timeout_at(deadline, self.consumer.next())
                .await
                .ok()??;
            let delivery = next.ok()?;
            let _ = delivery.ack(BasicAckOptions::default()).await;
            if let Ok(envelope) = Envelope::decode(delivery.data.as_slice()) {
                return Some((delivery.routing_key.to_string(), envelope));
            }
        }
    }
}

/// One received domain event.
#[derive(Debug, Clone)]
pub struct ReceivedEvent {
    pub routing_key: String,
    pub envelope: Envelope,
    pub event: aftersales_proto::messaging::v1::DomainEvent,
}

impl Probe {
    /// Waits until `timeout` for a message whose payload decodes as `T` and, turned into `R`
    /// by `build`, matches `pred`; other messages are skipped.
    pub(crate) async fn wait_for<T: prost::Message + Default, R>(
        &mut self,
        timeout: Duration,
        build: impl Fn(String, Envelope, T) -> R,
        pred: impl Fn(&R) -> bool,
    ) -> Option<R> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (routing_key, envelope) = self.next(deadline).await?;
            let Ok(payload) = T::decode(envelope.payload.as_slice()) else {
                continue;
            };
            let received = build(routing_key, envelope, payload);
            if pred(&received) {
                return Some(received);
            }
        }
    }
}

impl EventProbe {
    pub async fn bind(prefix: &str, binding: &str) -> Self {
        Self {
            probe: Probe::bind(prefix, Exchange::Events, binding).await,
        }
    }

    /// Waits up to `timeout` for an event matching `pred`; other events are skipped.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&ReceivedEvent) -> bool,
    ) -> Option<ReceivedEvent> {
        let build = |routing_key, envelope, event| ReceivedEvent {
            routing_key,
            envelope,
            event,
        };
        self.probe.wait_for(timeout, build, pred).await
    }
}

/// `GET /metrics` from `addr` (plain HTTP/1.0 over TCP): the status line and the body.
pub async fn scrape(addr: SocketAddr) -> std::io::Result<(String, String)> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\nAccept: application/openmetrics-text\r\n\r\n")
        .await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text.as_str(), ""));
    Ok((head.to_owned(), body.to_owned()))
}

/// The value of the sample `name{labels}` in an OpenMetrics text, where `labels` are
/// `key="value"` pairs that must all be present (0 when there is no such sample).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}
