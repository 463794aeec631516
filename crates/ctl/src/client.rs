//! The orchestrator's gRPC client with the CLI's deadline and error classification.

use crate::error::{self, CtlError};
use aftersales_proto::{
    common::v1::Actor,
    orchestrator::v1::{
        CancelSagaRequest, GetSagaRequest, ListSagasRequest, ListSagasResponse, PauseSagaRequest,
        ResumeSagaRequest, RetrySagaRequest, Saga,
        orchestrator_service_client::OrchestratorServiceClient,
    },
};
use std::{error::Error as _, future::Future, time::Duration};
use tonic::{
    Code, Request, Response, Status,
    transport::{Channel, Endpoint},
};

/// An operator action on one saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Retry,
    Cancel,
    Pause,
    Resume,
}

/// What every action carries.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    pub saga_id: String,
    pub actor: Actor,
    pub reason: String,
    pub idempotency_key: String,
}

pub struct Client {
    inner: OrchestratorServiceClient<Channel>,
    addr: String,
    timeout: Duration,
}

impl Client {
    /// Connects, giving up after `timeout`.
    pub async fn connect(addr: &str, timeout: Duration) -> Result<Self, CtlError> {
        let endpoint = Endpoint::from_shared(addr.to_owned())
            .map_err(|e| CtlError::Usage(format!("invalid --addr {addr}: {e}")))?
            .connect_timeout(timeout);
        let channel = match tokio::time::timeout(timeout, endpoint.connect()).await {
            Ok(Ok(channel)) => channel,
            Ok(Err(err)) => {
                return Err(CtlError::Unreachable {
                    addr: addr.to_owned(),
                    detail: error::chain(&err.to_string(), err.source()),
                    idempotency_key: None,
                });
            }
            Err(_) => {
                return Err(CtlError::TimedOut {
                    addr: addr.to_owned(),
                    timeout,
                    idempotency_key: None,
                });
            }
        };
        Ok(Self {
            inner: OrchestratorServiceClient::new(channel),
            addr: addr.to_owned(),
            timeout,
        })
    }

    pub async fn list(&mut self, req: ListSagasRequest) -> Result<ListSagasResponse, CtlError> {
        let req = self.request(req);
        let call = self.inner.list_sagas(req);
        finish(call, &self.addr, self.timeout, None).await
    }

    pub async fn get(&mut self, saga_id: String) -> Result<Saga, CtlError> {
        let req = self.request(GetSagaRequest { saga_id });
        let call = self.inner.get_saga(req);
        let resp = finish(call, &self.addr, self.timeout, None).await?;
        resp.saga.ok_or_else(no_saga)
    }

    pub async fn act(&mut self, action: Action, a: ActionRequest) -> Result<Saga, CtlError> {
        let key = a.idempotency_key.clone();
        let (addr, timeout) = (self.addr.clone(), self.timeout);
        let key = Some(key.as_str());
        let saga = match action {
            Action::Retry => {
                let req = self.request(RetrySagaRequest {
                    idempotency_key: a.idempotency_key,
                    actor: Some(a.actor),
                    saga_id: a.saga_id,
                    reason: a.reason,
                });
                finish(self.inner.retry_saga(req), &addr, timeout, key)
                    .await?
                    .saga
            }
            Action::Cancel => {
                let req = self.request(CancelSagaRequest {
                    idempotency_key: a.idempotency_key,
                    actor: Some(a.actor),
                    saga_id: a.saga_id,
                    reason: a.reason,
                });
                finish(self.inner.cancel_saga(req), &addr, timeout, key)
                    .await?
                    .saga
            }
            Action::Pause => {
                let req = self.request(PauseSagaRequest {
                    idempotency_key: a.idempotency_key,
                    actor: Some(a.actor),
                    saga_id: a.saga_id,
                    reason: a.reason,
                });
                finish(self.inner.pause_saga(req), &addr, timeout, key)
                    .await?
                    .saga
            }
            Action::Resume => {
                let req = self.request(ResumeSagaRequest {
                    idempotency_key: a.idempotency_key,
                    actor: Some(a.actor),
                    saga_id: a.saga_id,
                    reason: a.reason,
                });
                finish(self.inner.resume_saga(req), &addr, timeout, key)
                    .await?
                    .saga
            }
        };
        saga.ok_or_else(no_saga)
    }

    /// A request carrying the deadline, so the server gives up when the CLI does.
    fn request<T>(&self, message: T) -> Request<T> {
        let mut req = Request::new(message);
        req.set_timeout(self.timeout);
        req
    }
}

/// Awaits a call within the deadline and classifies its failure.
async fn finish<T>(
    call: impl Future<Output = Result<Response<T>, Status>>,
    addr: &str,
    timeout: Duration,
    idempotency_key: Option<&str>,
) -> Result<T, CtlError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(resp)) => Ok(resp.into_inner()),
        Ok(Err(status)) if !server_gave_up(&status) => {
            Err(CtlError::from_status(status, addr, idempotency_key))
        }
        Ok(Err(_)) | Err(_) => Err(CtlError::TimedOut {
            addr: addr.to_owned(),
            timeout,
            idempotency_key: idempotency_key.map(str::to_owned),
        }),
    }
}

/// The server ran out of the deadline the request carried (tonic reports that as `CANCELLED`
/// "Timeout expired"); this is the same event as the client's own timer firing.
fn server_gave_up(status: &Status) -> bool {
    status.code() == Code::DeadlineExceeded
        || (status.code() == Code::Cancelled && status.message() == "Timeout expired")
}

fn no_saga() -> CtlError {
    CtlError::Protocol("the response has no saga".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EXIT_UNREACHABLE;

    #[tokio::test]
    async fn nothing_listening_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        drop(listener);
        let Err(err) = Client::connect(&addr, Duration::from_secs(5)).await else {
            panic!("connected to a closed port");
        };
        assert_eq!(err.exit_code(), EXIT_UNREACHABLE);
        assert!(err.report().contains(&addr), "{}", err.report());
    }
}
