//! Saga commands, the service side: every domain service consumes the commands the orchestrator
//! sends it and answers each with exactly one reply.
//!
//! # The contract
//!
//! - A **command** is an [`Envelope`] published on [`Exchange::Commands`] with routing key = the
//!   target service's name (e.g. `payments`). `type` is the full protobuf name of one of that
//!   service's gRPC *request* messages (e.g. `aftersales.payments.v1.CreateRefundRequest`, as
//!   given by [`prost::Name::full_name`]), `payload` the encoded request, `correlation_id` the
//!   saga id, `idempotency_key` the key the orchestrator also put into the request's own
//!   `idempotency_key` field, and `source` = `orchestrator`.
//! - Each service consumes the queue `<service>.commands` ([`queue`]) bound to
//!   `(Exchange::Commands, "<service>")` through [`consumer::spawn`], so the inbox claims the
//!   command's message id in the same transaction that writes the reply.
//! - A command runs the service's own gRPC method with `tonic::Request::new(request)`: the same
//!   validation, rules and idempotency as the public API. The API's own `Store::idempotent`
//!   transaction commits the effect; the reply is then written in the consumer's inbox
//!   transaction. A crash in between means redelivery: the method replays with the same
//!   idempotency key, the stored first response comes back, and there is exactly one effect.
//! - The **reply** is an `aftersales.messaging.v1.Reply` envelope published (through the outbox)
//!   on [`Exchange::Replies`] with routing key [`REPLY_ROUTING_KEY`]: `correlation_id` and
//!   `idempotency_key` copied from the command, `causation_id` = the command's message id,
//!   `source` = the service. Its outcome ([`reply_for_status`]):
//!   - `SUCCESS`: `result` = the encoded response, `result_type` = its full protobuf name;
//!   - `BUSINESS_FAILURE` (do not retry, compensate): `INVALID_ARGUMENT`
//!     (`invalid_argument:<first field>`), `FAILED_PRECONDITION` (the rule name), `NOT_FOUND`,
//!     `ALREADY_EXISTS`, `PERMISSION_DENIED`, `OUT_OF_RANGE` (the code in snake case), an unknown
//!     command type (`unknown_command`) or an undecodable payload (`malformed_command`);
//!   - `RETRYABLE_FAILURE` for every other code (`UNAVAILABLE`, `ABORTED`, `INTERNAL`, ...), with
//!     the code in snake case as the reason. The orchestrator owns the retry policy.
//!
//!   `message` is the status message.
//! - Only an infrastructure failure while recording the command and its reply (database down,
//!   a lost race on the inbox) fails the consumer's transaction; it then follows the consumer's
//!   normal path: local retries with backoff, then the dead-letter queue.
//!
//! A service registers every mutating RPC with [`command_router!`] and starts the consumer with
//! [`CommandRouter::spawn`] from its `build()`.

use crate::{
    amqp::Exchange,
    app::Runtime,
    consumer::{self, ConsumerSpec},
    error::AppResult,
    messages,
    outbox::OutboundMessage,
    store::Tx,
};
use aftersales_proto::messaging::v1::{Envelope, Reply, ReplyOutcome};
use futures::future::BoxFuture;
use prost::{Message, Name};
use std::{
    collections::{BTreeMap, HashMap},
    future::Future,
    sync::Arc,
};
use tonic::{Code, Request, Response, Status};
use tonic_types::StatusExt;

/// `source` of the commands the orchestrator sends.
pub const ORCHESTRATOR: &str = "orchestrator";

/// Routing key of every reply on [`Exchange::Replies`].
pub const REPLY_ROUTING_KEY: &str = "orchestrator";

/// Reason of a reply to a command whose type the service does not handle.
pub const UNKNOWN_COMMAND: &str = "unknown_command";

/// Reason of a reply to a command whose payload is not the request its type names.
pub const MALFORMED_COMMAND: &str = "malformed_command";

/// Queue (without prefix, also the inbox consumer name) on which `service` receives commands.
pub fn queue(service: &str) -> String {
    format!("{service}.commands")
}

type Route = Arc<dyn Fn(&[u8]) -> BoxFuture<'static, Reply> + Send + Sync>;

/// Maps request type names to the service methods that execute them.
pub struct CommandRouter {
    service: &'static str,
    routes: HashMap<String, Route>,
}

impl std::fmt::Debug for CommandRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandRouter")
            .field("service", &self.service)
            .field("types", &self.types())
            .finish()
    }
}

impl CommandRouter {
    /// An empty router for `service` (the routing key and reply source).
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            routes: HashMap::new(),
        }
    }

    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Registers `method` for commands of type `Req::full_name()`. The method is called with
    /// `tonic::Request::new(request)` exactly as a gRPC client would call it.
    ///
    /// # Panics
    /// When `Req` is registered twice (a programming error caught by the first test or start).
    #[must_use]
    pub fn route<Req, Resp, F, Fut>(mut self, method: F) -> Self
    where
        Req: Message + Name + Default + 'static,
        Resp: Message + Name + 'static,
        F: Fn(Request<Req>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response<Resp>, Status>> + Send + 'static,
    {
        let route: Route = Arc::new(move |payload: &[u8]| -> BoxFuture<'static, Reply> {
            match Req::decode(payload) {
                Ok(req) => {
                    let call = method(Request::new(req));
                    Box::pin(async move {
                        match call.await {
                            Ok(resp) => success(resp.get_ref()),
                            Err(status) => reply_for_status(&status),
                        }
                    })
                }
                Err(err) => {
                    let reply = business_failure(
                        MALFORMED_COMMAND,
                        format!("payload is not a {}: {err}", Req::full_name()),
                    );
                    Box::pin(std::future::ready(reply))
                }
            }
        });
        let name = Req::full_name();
        assert!(
            self.routes.insert(name.clone(), route).is_none(),
            "command {name} registered twice"
        );
        self
    }

    /// The request type names this router handles, sorted.
    pub fn types(&self) -> Vec<String> {
        let mut types: Vec<String> = self.routes.keys().cloned().collect();
        types.sort();
        types
    }

    /// Runs one command and returns its reply; never fails (every failure is a reply).
    pub async fn dispatch(&self, command: &Envelope) -> Reply {
        match self.routes.get(&command.r#type) {
            Some(route) => route(&command.payload).await,
            None => business_failure(
                UNKNOWN_COMMAND,
                format!(
                    "{} does not handle commands of type {:?}",
                    self.service, command.r#type
                ),
            ),
        }
    }

    /// Runs one command inside the consumer's inbox transaction `tx` and writes its reply to the
    /// outbox of that transaction. Fails only when the reply cannot be written.
    pub async fn handle(&self, tx: &Tx, command: Envelope) -> AppResult<()> {
        let reply = self.dispatch(&command).await;
        let outcome = ReplyOutcome::try_from(reply.outcome).unwrap_or(ReplyOutcome::Unspecified);
        tracing::info!(
            command = %command.r#type,
            message_id = %command.message_id,
            saga_id = %command.correlation_id,
            outcome = outcome.as_str_name(),
            reason = %reply.reason,
            "command handled"
        );
        tx.publish(&reply_message(self.service, &command, &reply))
            .await
    }

    /// Starts the consumer of `<service>.commands` (see the module documentation).
    /// Starts consuming `<service>.commands` on the service's runtime until it shuts down.
    pub fn spawn<C>(self, rt: &Runtime<C>) {
        let spec = ConsumerSpec {
            queue: queue(self.service),
            bindings: vec![(Exchange::Commands, self.service.to_owned())],
        };
        let router = Arc::new(self);
        let handler: consumer::Handler = Arc::new(move |tx, env| {
            let router = router.clone();
            Box::pin(async move { router.handle(tx, env).await })
        });
        consumer::spawn(
            rt.broker.clone(),
            rt.store.clone(),
            spec,
            handler,
            rt.shutdown.clone(),
        );
    }
}

/// Builds a [`CommandRouter`] for `service` over a cloneable `api` value implementing the
/// service's tonic trait (which must be in scope), one `RequestType => method` pair per command:
///
/// ```ignore
/// use aftersales_proto::payments::v1::{self as pb, payments_service_server::PaymentsService};
/// let router = aftersales_platform::command_router!("payments", api, {
///     pb::CreateRefundRequest => create_refund,
///     pb::ConfirmRefundRequest => confirm_refund,
/// });
/// ```
#[macro_export]
macro_rules! command_router {
    ($service:expr, $api:expr, { $($req:ty => $method:ident),+ $(,)? }) => {{
        let api = $api;
        $crate::commands::CommandRouter::new($service)
        $(
            .route({
                let api = api.clone();
                move |request: ::tonic::Request<$req>| {
                    let api = api.clone();
                    async move { api.$method(request).await }
                }
            })
        )+
    }};
}

/// A `SUCCESS` reply carrying `response`.
pub fn success<M: Message + Name>(response: &M) -> Reply {
    Reply {
        outcome: ReplyOutcome::Success as i32,
        reason: String::new(),
        message: String::new(),
        result: response.encode_to_vec(),
        result_type: M::full_name(),
    }
}

/// A `BUSINESS_FAILURE` reply: the command broke a rule; the orchestrator compensates.
pub fn business_failure(reason: impl Into<String>, message: impl Into<String>) -> Reply {
    failure(ReplyOutcome::BusinessFailure, reason.into(), message.into())
}

/// A `RETRYABLE_FAILURE` reply: the orchestrator may send the command again.
pub fn retryable_failure(reason: impl Into<String>, message: impl Into<String>) -> Reply {
    failure(
        ReplyOutcome::RetryableFailure,
        reason.into(),
        message.into(),
    )
}

fn failure(outcome: ReplyOutcome, reason: String, message: String) -> Reply {
    Reply {
        outcome: outcome as i32,
        reason,
        message,
        result: Vec::new(),
        result_type: String::new(),
    }
}

/// The reply to a command whose service method answered `status` (see the module docs).
pub fn reply_for_status(status: &Status) -> Reply {
    let message = status.message().to_owned();
    match status.code() {
        Code::InvalidArgument => {
            let field = status
                .get_error_details()
                .bad_request()
                .and_then(|b| b.field_violations.first())
                .map(|v| v.field.clone());
            let reason = match field {
                Some(f) => format!("invalid_argument:{f}"),
                None => "invalid_argument".to_owned(),
            };
            business_failure(reason, message)
        }
        Code::FailedPrecondition => business_failure(rule_name(status), message),
        code @ (Code::NotFound
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::OutOfRange) => business_failure(code_name(code), message),
        code => retryable_failure(code_name(code), message),
    }
}

/// The rule a `FAILED_PRECONDITION` names: the type of its first precondition violation, else
/// the rule name that starts its message (`rule_name: detail`), else `failed_precondition`.
fn rule_name(status: &Status) -> String {
    let details = status.get_error_details();
    if let Some(v) = details
        .precondition_failure()
        .and_then(|p| p.violations.first())
        .filter(|v| !v.r#type.is_empty())
    {
        return v.r#type.clone();
    }
    match status.message().split_once(':') {
        Some((rule, _))
            if !rule.is_empty()
                && rule
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') =>
        {
            rule.to_owned()
        }
        _ => code_name(Code::FailedPrecondition).to_owned(),
    }
}

/// The gRPC code's name in snake case (`deadline_exceeded`).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown",
        Code::InvalidArgument => "invalid_argument",
        Code::DeadlineExceeded => "deadline_exceeded",
        Code::NotFound => "not_found",
        Code::AlreadyExists => "already_exists",
        Code::PermissionDenied => "permission_denied",
        Code::ResourceExhausted => "resource_exhausted",
        Code::FailedPrecondition => "failed_precondition",
        Code::Aborted => "aborted",
        Code::OutOfRange => "out_of_range",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal",
        Code::Unavailable => "unavailable",
        Code::DataLoss => "data_loss",
        Code::Unauthenticated => "unauthenticated",
    }
}

/// The reply envelope to `command`, addressed to the orchestrator (see the module docs).
pub fn reply_message(service: &str, command: &Envelope, reply: &Reply) -> OutboundMessage {
    let mut envelope = messages::envelope(service, reply);
    envelope.correlation_id = command.correlation_id.clone();
    envelope.causation_id = command.message_id.clone();
    envelope.idempotency_key = command.idempotency_key.clone();
    OutboundMessage {
        exchange: Exchange::Replies,
        routing_key: REPLY_ROUTING_KEY.to_owned(),
        envelope,
        headers: BTreeMap::new(),
    }
}

/// A command envelope for `service` carrying `request` (what the orchestrator publishes on
/// [`Exchange::Commands`] with routing key `service`).
pub fn command_envelope<M: Message + Name>(
    saga_id: &str,
    idempotency_key: &str,
    request: &M,
) -> Envelope {
    let mut envelope = messages::envelope(ORCHESTRATOR, request);
    envelope.correlation_id = saga_id.to_owned();
    envelope.idempotency_key = idempotency_key.to_owned();
    envelope
}

/// Full names of the request messages of `grpc_service` (e.g.
/// `aftersales.payments.v1.PaymentsService`) that carry an `idempotency_key`: its mutating RPCs,
/// each of which a service registers as a command. Read from the compiled descriptors.
pub fn mutating_requests(grpc_service: &str) -> anyhow::Result<Vec<String>> {
    use prost_types::FileDescriptorSet;
    let set = FileDescriptorSet::decode(aftersales_proto::FILE_DESCRIPTOR_SET)?;
    let messages: HashMap<String, &prost_types::DescriptorProto> = set
        .file
        .iter()
        .flat_map(|f| {
            f.message_type
                .iter()
                .map(move |m| (format!(".{}.{}", f.package(), m.name()), m))
        })
        .collect();
    let service = set
        .file
        .iter()
        .flat_map(|f| f.service.iter().map(move |s| (f.package(), s)))
        .find(|(package, s)| format!("{package}.{}", s.name()) == grpc_service)
        .map(|(_, s)| s)
        .ok_or_else(|| anyhow::anyhow!("no gRPC service {grpc_service} in the descriptors"))?;
    let mut out = Vec::new();
    for method in &service.method {
        let input = method.input_type();
        let message = messages
            .get(input)
            .ok_or_else(|| anyhow::anyhow!("no message {input} in the descriptors"))?;
        if message.field.iter().any(|f| f.name() == "idempotency_key") {
            out.push(input.trim_start_matches('.').to_owned());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use aftersales_proto::common::v1::Money;
    use tonic_types::ErrorDetails;

    fn outcome(r: &Reply) -> ReplyOutcome {
        ReplyOutcome::try_from(r.outcome).unwrap()
    }

    #[test]
    fn status_maps_to_outcome_and_reason() {
        use ReplyOutcome::{BusinessFailure as B, RetryableFailure as R};
        let cases: Vec<(Status, ReplyOutcome, &str)> = vec![
            (
                AppError::field("lines[0].quantity", "must be positive").into(),
                B,
                "invalid_argument:lines[0].quantity",
            ),
            (
                AppError::Invalid(vec![
                    aftersales_kernel::FieldViolation::new("payment_id", "bad"),
                    aftersales_kernel::FieldViolation::new("amount", "bad"),
                ])
                .into(),
                B,
                "invalid_argument:payment_id",
            ),
            (
                Status::invalid_argument("no details"),
                B,
                "invalid_argument",
            ),
            (
                AppError::rule("refund_exceeds_captured", "too much").into(),
                B,
                "refund_exceeds_captured",
            ),
            (
                Status::failed_precondition("order_canceled: the order is canceled"),
                B,
                "order_canceled",
            ),
            (
                Status::failed_precondition("Not a rule name: text"),
                B,
                "failed_precondition",
            ),
            (AppError::not_found("order", "o-1").into(), B, "not_found"),
            (
                AppError::AlreadyExists("tracking_number_taken: x".into()).into(),
                B,
                "already_exists",
            ),
            (
                AppError::PermissionDenied("actor_not_allowed: no".into()).into(),
                B,
                "permission_denied",
            ),
            (Status::out_of_range("page"), B, "out_of_range"),
            (
                AppError::Unavailable("database unavailable".into()).into(),
                R,
                "unavailable",
            ),
            (AppError::Conflict("raced".into()).into(), R, "aborted"),
            (
                AppError::Internal(anyhow::anyhow!("secret")).into(),
                R,
                "internal",
            ),
            (Status::deadline_exceeded("slow"), R, "deadline_exceeded"),
            (Status::resource_exhausted("full"), R, "resource_exhausted"),
            (Status::unknown("?"), R, "unknown"),
            (Status::cancelled("gone"), R, "cancelled"),
            (Status::unimplemented("no"), R, "unimplemented"),
            (Status::unauthenticated("who"), R, "unauthenticated"),
            (Status::data_loss("lost"), R, "data_loss"),
        ];
        for (status, want, reason) in cases {
            let r = reply_for_status(&status);
            assert_eq!(outcome(&r), want, "{status:?}");
            assert_eq!(r.reason, reason, "{status:?}");
            assert_eq!(r.message, status.message());
            assert!(r.result.is_empty() && r.result_type.is_empty());
        }
    }

    #[test]
    fn precondition_detail_wins_over_the_message() {
        let s = Status::with_error_details(
            Code::FailedPrecondition,
            "something else: text",
            ErrorDetails::with_precondition_failure_violation("shipment_already_picked_up", "", ""),
        );
        assert_eq!(reply_for_status(&s).reason, "shipment_already_picked_up");
    }

    #[test]
    fn success_carries_the_encoded_response() {
        let m = Money {
            minor_units: 5,
            currency: "CNY".into(),
        };
        let r = success(&m);
        assert_eq!(outcome(&r), ReplyOutcome::Success);
        assert_eq!(r.result_type, "aftersales.common.v1.Money");
        assert_eq!(Money::decode(r.result.as_slice()).unwrap(), m);
        assert!(r.reason.is_empty());
    }

    #[test]
    fn code_names_are_snake_case() {
        for code in [
            Code::Ok,
            Code::Cancelled,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Unauthenticated,
        ] {
            let name = code_name(code);
            assert!(name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
        assert_eq!(code_name(Code::DeadlineExceeded), "deadline_exceeded");
    }

    fn money_router() -> CommandRouter {
        // A stand-in "method": answers with the request, or fails per the currency.
        CommandRouter::new("test").route(|req: Request<Money>| async move {
            let m = req.into_inner();
            match m.currency.as_str() {
                "XXX" => Err(AppError::rule("currency_mismatch", "no").into()),
                "BUSY" => Err(Status::unavailable("busy")),
                _ => Ok(Response::new(m)),
            }
        })
    }

    #[tokio::test]
    async fn dispatch_routes_by_type() {
        let router = money_router();
        assert_eq!(router.types(), ["aftersales.common.v1.Money"]);
        let ok = Money {
            minor_units: 7,
            currency: "CNY".into(),
        };
        let cmd = command_envelope("saga-1", "k-1", &ok);
        let r = router.dispatch(&cmd).await;
        assert_eq!(outcome(&r), ReplyOutcome::Success);
        assert_eq!(Money::decode(r.result.as_slice()).unwrap(), ok);

        let bad = command_envelope(
            "saga-1",
            "k-2",
            &Money {
                minor_units: 1,
                currency: "XXX".into(),
            },
        );
        let r = router.dispatch(&bad).await;
        assert_eq!(
            (outcome(&r), r.reason.as_str()),
            (ReplyOutcome::BusinessFailure, "currency_mismatch")
        );

        let busy = command_envelope(
            "saga-1",
            "k-3",
            &Money {
                minor_units: 1,
                currency: "BUSY".into(),
            },
        );
        let r = router.dispatch(&busy).await;
        assert_eq!(
            (outcome(&r), r.reason.as_str()),
            (ReplyOutcome::RetryableFailure, "unavailable")
        );

        let mut unknown = cmd.clone();
        unknown.r#type = "aftersales.nope.v1.Nothing".into();
        let r = router.dispatch(&unknown).await;
        assert_eq!(
            (outcome(&r), r.reason.as_str()),
            (ReplyOutcome::BusinessFailure, UNKNOWN_COMMAND)
        );

        let mut malformed = cmd.clone();
        malformed.payload = vec![0xff, 0xff, 0xff];
        let r = router.dispatch(&malformed).await;
        assert_eq!(
            (outcome(&r), r.reason.as_str()),
            (ReplyOutcome::BusinessFailure, MALFORMED_COMMAND)
        );
    }

    #[test]
    fn reply_envelope_answers_the_command() {
        let cmd = command_envelope(
            "saga-9",
            "saga-9:refund:1",
            &Money {
                minor_units: 1,
                currency: "CNY".into(),
            },
        );
        assert_eq!(cmd.source, ORCHESTRATOR);
        let msg = reply_message("payments", &cmd, &business_failure("x", "y"));
        assert_eq!(msg.exchange, Exchange::Replies);
        assert_eq!(msg.routing_key, REPLY_ROUTING_KEY);
        let env = &msg.envelope;
        assert_eq!(env.r#type, "aftersales.messaging.v1.Reply");
        assert_eq!(env.correlation_id, "saga-9");
        assert_eq!(env.causation_id, cmd.message_id);
        assert_eq!(env.idempotency_key, "saga-9:refund:1");
        assert_eq!(env.source, "payments");
        assert_ne!(env.message_id, cmd.message_id);
        assert_eq!(Reply::decode(env.payload.as_slice()).unwrap().reason, "x");
        assert_eq!(queue("payments"), "payments.commands");
    }

    #[test]
    #[should_panic(expected = "registered twice")]
    fn a_type_is_registered_once() {
        let _ = money_router().route(|req: Request<Money>| async move {
            Ok::<_, Status>(Response::new(req.into_inner()))
        });
    }

    #[test]
    fn mutating_requests_come_from_the_descriptors() {
        let m = mutating_requests("aftersales.payments.v1.PaymentsService").unwrap();
        assert!(m.contains(&"aftersales.payments.v1.CreateRefundRequest".to_owned()));
        assert!(!m.contains(&"aftersales.payments.v1.GetRefundRequest".to_owned()));
        assert!(mutating_requests("aftersales.nope.v1.Nothing").is_err());
    }
}
