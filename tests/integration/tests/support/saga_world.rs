//! The world a saga runs in: the real orchestrator and the services it commands, each with its
//! own database and this run's queue prefix. The parties of the flows (storefront, buyer,
//! merchant, checks of every service's final state) are `aftersales_demo::Parties`, the same
//! code `just demo` runs against a live system.

#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

pub use aftersales_demo::{Parties, actor, key, status, terminal};
use aftersales_proto::complaints::v1::complaints_service_client::ComplaintsServiceClient;
use aftersales_proto::logistics::v1::logistics_service_client::LogisticsServiceClient;
use aftersales_proto::orchestrator::v1::{
    self as orch, orchestrator_service_client::OrchestratorServiceClient,
};
use aftersales_proto::orders::v1::orders_service_client::OrdersServiceClient;
use aftersales_proto::payments::v1::payments_service_client::PaymentsServiceClient;
use aftersales_proto::repairs::v1::repairs_service_client::RepairsServiceClient;
use aftersales_proto::returns::v1::returns_service_client::ReturnsServiceClient;
use aftersales_test_support::TestEnv;
use std::time::Duration;

pub const SERVICES: [&str; 6] = [
    "orders",
    "returns",
    "repairs",
    "logistics",
    "payments",
    "complaints",
];

pub struct World {
    pub env: TestEnv,
    pub p: Parties,
    pub orch_env: Vec<(String, String)>,
    /// Orchestrator replicas started on one database (competing consumers, shared timers).
    pub orch_replicas: usize,
}

impl World {
    /// Starts the six services and the orchestrator (`orch_env`: its extra settings).
    pub async fn start(orch_env: &[(&str, &str)]) -> Self {
        Self::start_with(orch_env, &[]).await
    }

    /// Like [`start`], with extra settings for named services.
    pub async fn start_with(orch_env: &[(&str, &str)], service_env: &[(&str, &str, &str)]) -> Self {
        Self::start_replicated(orch_env, service_env, 1).await
    }

    /// Like [`start_with`], with `replicas` orchestrator processes on one database.
    pub async fn start_replicated(
        orch_env: &[(&str, &str)],
        service_env: &[(&str, &str, &str)],
        replicas: usize,
    ) -> Self {
        Self::start_in(TestEnv::new(), orch_env, service_env, replicas).await
    }

    /// Like [`start_replicated`], in `env` (e.g. one whose processes export their spans).
    pub async fn start_in(
        env: TestEnv,
        orch_env: &[(&str, &str)],
        service_env: &[(&str, &str, &str)],
        replicas: usize,
    ) -> Self {
        let replicas = replicas.max(1);
        let mut channels = Vec::new();
        for s in SERVICES {
            let extra: Vec<(&str, &str)> = service_env
                .iter()
                .filter(|(svc, _, _)| *svc == s)
                .map(|(_, k, v)| (*k, *v))
                .collect();
            channels.push(env.start(s, &extra).await);
        }
        let mut orch_ch = env.start("orchestrator", orch_env).await;
        for _ in 1..replicas {
            orch_ch = env.start("orchestrator", orch_env).await;
        }
        // SERVING comes before the consumers bind their queues: a trigger published before the
        // orchestrator's event queue is bound would be lost.
        let consumers = u32::try_from(replicas).unwrap_or(u32::MAX);
        env.wait_for_consumers("orchestrator.events", consumers, Duration::from_secs(30))
            .await;
        Self {
            p: Parties::new(
                channels[0].clone(),
                channels[1].clone(),
                channels[2].clone(),
                channels[3].clone(),
                channels[4].clone(),
                channels[5].clone(),
                orch_ch,
            ),
            orch_env: orch_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            orch_replicas: replicas,
            env,
        }
    }

    /// Kills the orchestrator with SIGKILL.
    pub fn kill_orchestrator(&self) {
        self.env.kill("orchestrator");
    }

    /// Starts the orchestrator replicas again on their database and reconnects the client.
    pub async fn restart_orchestrator(&mut self) {
        let env: Vec<(&str, &str)> = self
            .orch_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for _ in 0..self.orch_replicas {
            let ch = self.env.start("orchestrator", &env).await;
            self.p.orch = OrchestratorServiceClient::new(aftersales_demo::traced(ch));
        }
    }

    /// Restarts a service (after a kill) and reconnects its client.
    pub async fn restart_service(&mut self, service: &str, extra: &[(&str, &str)]) {
        let ch = self.env.start(service, extra).await;
        match service {
            "orders" => self.p.orders = OrdersServiceClient::new(aftersales_demo::traced(ch)),
            "returns" => self.p.returns = ReturnsServiceClient::new(aftersales_demo::traced(ch)),
            "repairs" => self.p.repairs = RepairsServiceClient::new(aftersales_demo::traced(ch)),
            "logistics" => {
                self.p.logistics = LogisticsServiceClient::new(aftersales_demo::traced(ch))
            }
            "payments" => self.p.payments = PaymentsServiceClient::new(aftersales_demo::traced(ch)),
            "complaints" => {
                self.p.complaints = ComplaintsServiceClient::new(aftersales_demo::traced(ch))
            }
            other => panic!("no client for service {other}"),
        }
    }

    /// Polls a case's saga until `done` says so, returning it; panics after `within`.
    pub async fn wait_saga(
        &mut self,
        case_id: &str,
        within: Duration,
        done: impl Fn(&orch::SagaSummary) -> bool,
    ) -> orch::SagaSummary {
        match self.p.try_wait_saga(case_id, within, done).await {
            Ok(s) => s,
            Err(last) => panic!("saga of case {case_id} never got there: {last:?}"),
        }
    }
}

impl std::ops::Deref for World {
    type Target = Parties;
    fn deref(&self) -> &Parties {
        &self.p
    }
}

impl std::ops::DerefMut for World {
    fn deref_mut(&mut self) -> &mut Parties {
        &mut self.p
    }
}
