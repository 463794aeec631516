//! The operator API: list and show sagas; retry, cancel, pause and resume them. Every action
//! runs in one idempotent transaction with the saga transition and its audit record.

pub mod convert;

use crate::engine::driver::Driver;
use crate::engine::machine::{Input, OpAction};
use crate::storage::{self, Filter};
use aftersales_kernel::limits;
use aftersales_platform::{AppError, AppResult, Store, Tx, edge};
use aftersales_proto::common::v1 as common;
use aftersales_proto::orchestrator::v1::{
    self as pb, orchestrator_service_server::OrchestratorService,
};
use chrono::Utc;
use tonic::{Request, Response, Status};
use uuid::Uuid;

#[derive(Clone)]
pub struct OrchestratorApi {
    store: Store,
    driver: Driver,
    stuck_after_secs: u64,
}

impl OrchestratorApi {
    pub fn new(store: Store, driver: Driver, stuck_after_secs: u64) -> Self {
        Self {
            store,
            driver,
            stuck_after_secs,
        }
    }

    async fn operate(
        &self,
        action: OpAction,
        key: &str,
        request: &impl prost::Message,
        fields: OpFields<'_>,
    ) -> AppResult<pb::Saga> {
        let saga = edge::uuid("saga_id", fields.saga_id)?;
        let (actor_kind, actor_id) = operator(fields.actor)?;
        if fields.reason.trim().is_empty() {
            return Err(AppError::field("reason", "is required: say why"));
        }
        let reason = edge::long_text("reason", fields.reason)?;
        let scope = format!("orchestrator.{}", action.as_str());
        let driver = self.driver.clone();
        let response: pb::GetSagaResponse = self
            .store
            .idempotent(&scope, key, request, move |tx| {
                Box::pin(async move {
                    match driver.apply(tx, saga, Input::Operator(action)).await? {
                        None => return Err(AppError::not_found("saga", saga)),
                        Some(Err(refused)) => return Err(AppError::rule(refused.rule, refused.detail)),
                        Some(Ok(_)) => {}
                    }
                    storage::audit(tx.conn(), saga, &actor_kind, &actor_id, action.as_str(), &reason)
                        .await?;
                    tracing::info!(%saga, action = action.as_str(), actor = %actor_id, %reason, "operator action");
                    Ok(pb::GetSagaResponse {
                        saga: Some(load(tx, saga).await?),
                    })
                })
            })
            .await?;
        response
            .saga
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored response without saga")))
    }
}

struct OpFields<'a> {
    saga_id: &'a str,
    actor: Option<&'a common::Actor>,
    reason: &'a str,
}

/// Operators are staff (or automation acting as the system).
fn operator(actor: Option<&common::Actor>) -> AppResult<(String, String)> {
    let actor = actor.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind: common::ActorKind = edge::enum_value("actor.kind", actor.kind)?;
    let id = edge::required_text("actor.id", &actor.id)?;
    match kind {
        common::ActorKind::Staff | common::ActorKind::System => {
            Ok((kind.as_str_name().to_owned(), id))
        }
        _ => Err(AppError::PermissionDenied(
            "only STAFF or SYSTEM actors may operate sagas".into(),
        )),
    }
}

async fn load(tx: &Tx, saga: Uuid) -> AppResult<pb::Saga> {
    let row = storage::get(tx.conn(), saga)
        .await?
        .ok_or_else(|| AppError::not_found("saga", saga))?;
    let timeline = storage::timeline(tx.conn(), saga).await?;
    let audit = storage::audit_log(tx.conn(), saga).await?;
    Ok(convert::saga(&row, &timeline, &audit))
}

#[tonic::async_trait]
impl OrchestratorService for OrchestratorApi {
    async fn list_sagas(
        &self,
        request: Request<pb::ListSagasRequest>,
    ) -> Result<Response<pb::ListSagasResponse>, Status> {
        let r = request.into_inner();
        let page = edge::page(r.page.as_ref())?;
        let status: Option<pb::SagaStatus> = edge::optional_enum("status", r.status)?;
        let opt = |field: &str, v: &str, max: usize| -> AppResult<Option<String>> {
            if v.is_empty() {
                Ok(None)
            } else {
                edge::bounded_text(field, v, max).map(Some)
            }
        };
        let secs = |field: &str, v: u64| -> AppResult<chrono::Duration> {
            i64::try_from(v)
                .ok()
                .and_then(chrono::Duration::try_seconds)
                .ok_or_else(|| AppError::field(field, "is too large"))
        };
        let now = Utc::now();
        let stuck_after = if r.stuck_after_seconds == 0 {
            self.stuck_after_secs
        } else {
            r.stuck_after_seconds
        };
        let filter = Filter {
            flow: opt("flow", &r.flow, limits::SHORT_TEXT)?,
            status: status.and_then(convert::status_from_pb),
            business_key: opt("business_key", &r.business_key, 256)?,
            created_before: if r.older_than_seconds == 0 {
                None
            } else {
                Some(now - secs("older_than_seconds", r.older_than_seconds)?)
            },
            stuck_since: if r.stuck {
                Some(now - secs("stuck_after_seconds", stuck_after)?)
            } else {
                None
            },
        };
        let mut rows = storage::list(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |r| r.instance.id);
        Ok(Response::new(pb::ListSagasResponse {
            sagas: rows.iter().map(convert::summary).collect(),
            page: Some(next),
        }))
    }

    async fn get_saga(
        &self,
        request: Request<pb::GetSagaRequest>,
    ) -> Result<Response<pb::GetSagaResponse>, Status> {
        let r = request.into_inner();
        let saga = edge::uuid("saga_id", &r.saga_id)?;
        let row = storage::get(&self.store.db, saga)
            .await?
            .ok_or_else(|| AppError::not_found("saga", saga))?;
        let timeline = storage::timeline(&self.store.db, saga).await?;
        let audit = storage::audit_log(&self.store.db, saga).await?;
        Ok(Response::new(pb::GetSagaResponse {
            saga: Some(convert::saga(&row, &timeline, &audit)),
        }))
    }

    async fn retry_saga(
        &self,
        request: Request<pb::RetrySagaRequest>,
    ) -> Result<Response<pb::RetrySagaResponse>, Status> {
        let r = request.into_inner();
        let saga = self
            .operate(
                OpAction::Retry,
                &r.idempotency_key,
                &r,
                OpFields {
                    saga_id: &r.saga_id,
                    actor: r.actor.as_ref(),
                    reason: &r.reason,
                },
            )
            .await?;
        Ok(Response::new(pb::RetrySagaResponse { saga: Some(saga) }))
    }

    async fn cancel_saga(
        &self,
        request: Request<pb::CancelSagaRequest>,
    ) -> Result<Response<pb::CancelSagaResponse>, Status> {
        let r = request.into_inner();
        let saga = self
            .operate(
                OpAction::Cancel,
                &r.idempotency_key,
                &r,
                OpFields {
                    saga_id: &r.saga_id,
                    actor: r.actor.as_ref(),
                    reason: &r.reason,
                },
            )
            .await?;
        Ok(Response::new(pb::CancelSagaResponse { saga: Some(saga) }))
    }

    async fn pause_saga(
        &self,
        request: Request<pb::PauseSagaRequest>,
    ) -> Result<Response<pb::PauseSagaResponse>, Status> {
        let r = request.into_inner();
        let saga = self
            .operate(
                OpAction::Pause,
                &r.idempotency_key,
                &r,
                OpFields {
                    saga_id: &r.saga_id,
                    actor: r.actor.as_ref(),
                    reason: &r.reason,
                },
            )
            .await?;
        Ok(Response::new(pb::PauseSagaResponse { saga: Some(saga) }))
    }

    async fn resume_saga(
        &self,
        request: Request<pb::ResumeSagaRequest>,
    ) -> Result<Response<pb::ResumeSagaResponse>, Status> {
        let r = request.into_inner();
        let saga = self
            .operate(
                OpAction::Resume,
                &r.idempotency_key,
                &r,
                OpFields {
                    saga_id: &r.saga_id,
                    actor: r.actor.as_ref(),
                    reason: &r.reason,
                },
            )
            .await?;
        Ok(Response::new(pb::ResumeSagaResponse { saga: Some(saga) }))
    }
}
