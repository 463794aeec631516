//! An in-process stand-in for the orchestrator's operator API: canned answers, recorded requests.

use aftersales_proto::{
    common::v1::{Actor, ActorKind, PageResponse},
    orchestrator::v1::{
        AuditEntry, CancelSagaRequest, CancelSagaResponse, GetSagaRequest, GetSagaResponse,
        ListSagasRequest, ListSagasResponse, PauseSagaRequest, PauseSagaResponse,
        ResumeSagaRequest, ResumeSagaResponse, RetrySagaRequest, RetrySagaResponse, Saga,
        SagaStatus, SagaSummary, TimelineEntry,
        orchestrator_service_server::{OrchestratorService, OrchestratorServiceServer},
    },
};
use prost_types::Timestamp;
use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};
use tonic::{Code, Request, Response, Status, transport::server::TcpIncoming};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// The saga id the fake does not know.
pub const MISSING: &str = "missing";
/// The saga id whose actions answer only after a minute.
pub const SLOW: &str = "slow";

/// An action as the fake received it.
#[derive(Debug, Clone, PartialEq)]
pub struct Acted {
    pub action: &'static str,
    pub idempotency_key: String,
    pub actor: Option<Actor>,
    pub saga_id: String,
    pub reason: String,
}

#[derive(Default)]
pub struct Recorded {
    pub lists: Vec<ListSagasRequest>,
    pub actions: Vec<Acted>,
    /// The `grpc-timeout` header of the last request.
    pub grpc_timeout: Option<String>,
}

#[derive(Clone, Default)]
pub struct Fake {
    pub recorded: Arc<Mutex<Recorded>>,
}

impl Fake {
    /// Serves the fake on a free loopback port until the test's runtime ends.
    pub async fn start() -> (Self, String) {
        let fake = Self::default();
        let incoming =
            TcpIncoming::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind a loopback port");
        let addr = format!("http://{}", incoming.local_addr().expect("bound address"));
        let service = OrchestratorServiceServer::new(fake.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming),
        );
        (fake, addr)
    }

    pub fn recorded(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().expect("fake state lock")
    }

    fn note<T>(&self, req: &Request<T>) {
        self.recorded().grpc_timeout = req
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
    }

    async fn act(
        &self,
        action: &'static str,
        idempotency_key: String,
        actor: Option<Actor>,
        saga_id: String,
        reason: String,
    ) -> Result<Saga, Status> {
        if reason == "bad" {
            return Err(Status::with_error_details(
                Code::InvalidArgument,
                "invalid argument: reason: too vague",
                ErrorDetails::with_bad_request(vec![FieldViolation::new("reason", "too vague")]),
            ));
        }
        let slow = saga_id == SLOW;
        self.recorded().actions.push(Acted {
            action,
            idempotency_key,
            actor,
            saga_id: saga_id.clone(),
            reason,
        });
        if slow {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Ok(saga(&saga_id))
    }
}

fn ts(seconds: i64) -> Option<Timestamp> {
    Some(Timestamp { seconds, nanos: 0 })
}

pub fn summary(saga_id: &str) -> SagaSummary {
    SagaSummary {
        saga_id: saga_id.into(),
        flow: "return_refund".into(),
        flow_version: 1,
        business_key: "case:7".into(),
        status: SagaStatus::NeedsAttention as i32,
        current_step: "refund_payment".into(),
        attempt: 4,
        last_error: "payments: connection reset".into(),
        trace_id: String::new(),
        created_at: ts(1_767_225_600),
        updated_at: ts(1_767_229_200),
        next_wake_at: None,
        past_pivot: false,
    }
}

pub fn saga(saga_id: &str) -> Saga {
    Saga {
        summary: Some(summary(saga_id)),
        data_json: r#"{"case_id":"7","refund_minor":2500}"#.into(),
        timeline: vec![
            TimelineEntry {
                seq: 1,
                step: "receive_return".into(),
                kind: "wait".into(),
                attempt: 1,
                outcome: "event_received".into(),
                detail: "logistics.shipment.delivered".into(),
                at: ts(1_767_226_000),
                elapsed_ms: 400_000,
            },
            TimelineEntry {
                seq: 2,
                step: "refund_payment".into(),
                kind: "command".into(),
                attempt: 4,
                outcome: "parked".into(),
                detail: "payments: connection reset".into(),
                at: ts(1_767_229_200),
                elapsed_ms: 3_200_000,
            },
        ],
        audit: vec![AuditEntry {
            actor: Some(Actor {
                kind: ActorKind::Staff as i32,
                id: "carol".into(),
            }),
            action: "pause".into(),
            reason: "finance asked".into(),
            at: ts(1_767_228_000),
        }],
    }
}

#[tonic::async_trait]
impl OrchestratorService for Fake {
    async fn list_sagas(
        &self,
        request: Request<ListSagasRequest>,
    ) -> Result<Response<ListSagasResponse>, Status> {
        self.note(&request);
        self.recorded().lists.push(request.into_inner());
        Ok(Response::new(ListSagasResponse {
            sagas: vec![summary("s-1"), summary("s-2")],
            page: Some(PageResponse {
                next_page_token: "page-2".into(),
            }),
        }))
    }

    async fn get_saga(
        &self,
        request: Request<GetSagaRequest>,
    ) -> Result<Response<GetSagaResponse>, Status> {
        self.note(&request);
        let id = request.into_inner().saga_id;
        if id == MISSING {
            return Err(Status::not_found(format!("saga {id} not found")));
        }
        Ok(Response::new(GetSagaResponse {
            saga: Some(saga(&id)),
        }))
    }

    async fn retry_saga(
        &self,
        request: Request<RetrySagaRequest>,
    ) -> Result<Response<RetrySagaResponse>, Status> {
        self.note(&request);
        let r = request.into_inner();
        let saga = self
            .act("retry", r.idempotency_key, r.actor, r.saga_id, r.reason)
            .await?;
        Ok(Response::new(RetrySagaResponse { saga: Some(saga) }))
    }

    async fn cancel_saga(
        &self,
        request: Request<CancelSagaRequest>,
    ) -> Result<Response<CancelSagaResponse>, Status> {
        self.note(&request);
        let _ = request;
        Err(Status::with_error_details(
            Code::FailedPrecondition,
            "saga_past_pivot: the refund was sent",
            ErrorDetails::with_precondition_failure_violation(
                "saga_past_pivot",
                "",
                "the refund was sent",
            ),
        ))
    }

    async fn pause_saga(
        &self,
        request: Request<PauseSagaRequest>,
    ) -> Result<Response<PauseSagaResponse>, Status> {
        self.note(&request);
        let r = request.into_inner();
        let saga = self
            .act("pause", r.idempotency_key, r.actor, r.saga_id, r.reason)
            .await?;
        Ok(Response::new(PauseSagaResponse { saga: Some(saga) }))
    }

    async fn resume_saga(
        &self,
        request: Request<ResumeSagaRequest>,
    ) -> Result<Response<ResumeSagaResponse>, Status> {
        self.note(&request);
        let r = request.into_inner();
        let saga = self
            .act("resume", r.idempotency_key, r.actor, r.saga_id, r.reason)
            .await?;
        Ok(Response::new(ResumeSagaResponse { saga: Some(saga) }))
    }
}
