//! Why a command failed, how that is printed, and the exit code it maps to.

use crate::render::clean;
use std::{error::Error as _, fmt::Write as _, time::Duration};
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// Exit code of a usage error (clap uses the same for bad arguments).
pub const EXIT_USAGE: u8 = 2;
/// Exit code when the server answered with an error.
pub const EXIT_SERVER: u8 = 1;
/// Exit code when the orchestrator could not be reached or did not answer in time.
pub const EXIT_UNREACHABLE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    /// Bad input that only showed once the command ran.
    #[error("{0}")]
    Usage(String),
    /// No connection, or the connection broke during the call.
    #[error("cannot reach the orchestrator at {addr}: {detail}")]
    Unreachable {
        addr: String,
        detail: String,
        /// Set when an action may have been sent: replaying the key is safe.
        idempotency_key: Option<String>,
    },
    /// Connected (or connecting), but no answer before `--timeout`.
    #[error("no answer from the orchestrator at {addr} within {}", humantime::format_duration(*timeout))]
    TimedOut {
        addr: String,
        timeout: Duration,
        idempotency_key: Option<String>,
    },
    /// The orchestrator answered with a gRPC error.
    #[error("{}", status_line(.0))]
    Rpc(Box<Status>),
    /// The orchestrator answered something this tool cannot use.
    #[error("unexpected answer from the orchestrator: {0}")]
    Protocol(String),
    #[error("cannot render the output: {0}")]
    Render(#[from] serde_json::Error),
}

impl CtlError {
    /// Classifies a failed call: transport failures (the status carries the client-side error
    /// that caused it) mean the orchestrator is unreachable; the rest are the server's answer.
    pub fn from_status(status: Status, addr: &str, idempotency_key: Option<&str>) -> Self {
        if status.code() == Code::Unavailable && status.source().is_some() {
            return Self::Unreachable {
                addr: addr.to_owned(),
                detail: chain(status.message(), status.source()),
                idempotency_key: idempotency_key.map(str::to_owned),
            };
        }
        Self::Rpc(Box::new(status))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => EXIT_USAGE,
            Self::Unreachable { .. } | Self::TimedOut { .. } => EXIT_UNREACHABLE,
            Self::Rpc(_) | Self::Protocol(_) | Self::Render(_) => EXIT_SERVER,
        }
    }

    /// The lines printed on stderr: `error: ...`, then details and hints.
    pub fn report(&self) -> String {
        let mut out = format!("error: {self}\n");
        match self {
            Self::Rpc(status) => out.push_str(&status_details(status)),
            Self::Unreachable {
                addr,
                idempotency_key,
                ..
            }
            | Self::TimedOut {
                addr,
                idempotency_key,
                ..
            } => {
                if matches!(self, Self::TimedOut { .. }) {
                    out.push_str("hint: a slow orchestrator may need a longer --timeout\n");
                } else {
                    let _ = writeln!(
                        out,
                        "hint: is the orchestrator running and listening on {addr}? \
                         set --addr or AFTERSALES_ORCHESTRATOR_ADDR"
                    );
                }
                if let Some(key) = idempotency_key {
                    let _ = writeln!(
                        out,
                        "hint: the action may have been applied; repeat it with \
                         --idempotency-key {key} to retry it safely"
                    );
                }
            }
            Self::Usage(_) | Self::Protocol(_) | Self::Render(_) => {}
        }
        out
    }
}

/// `first: cause: cause...`, skipping causes that repeat what was already said (transport errors
/// tend to wrap the same message twice).
pub fn chain(first: &str, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !first.is_empty() {
        parts.push(first.to_owned());
    }
    while let Some(err) = source {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    parts.join(": ")
}

fn status_line(status: &Status) -> String {
    let message = status.message();
    if message.is_empty() {
        code_name(status.code()).to_owned()
    } else {
        format!("{}: {}", code_name(status.code()), clean(message))
    }
}

/// Field violations and precondition violations carried in the status' error details.
fn status_details(status: &Status) -> String {
    let details = status.get_error_details();
    let mut out = String::new();
    if let Some(bad) = details.bad_request() {
        for v in &bad.field_violations {
            let _ = writeln!(
                out,
                "  field {}: {}",
                clean(&v.field),
                clean(&v.description)
            );
        }
    }
    if let Some(failure) = details.precondition_failure() {
        for v in &failure.violations {
            let subject = if v.subject.is_empty() {
                String::new()
            } else {
                format!(" ({})", clean(&v.subject))
            };
            let _ = writeln!(
                out,
                "  precondition {}{subject}: {}",
                clean(&v.r#type),
                clean(&v.description)
            );
        }
    }
    out
}

/// The canonical gRPC name of a code, as the API docs spell it.
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tonic_types::{ErrorDetails, FieldViolation};

    #[test]
    fn a_rule_violation_prints_code_message_and_precondition() {
        let status = Status::with_error_details(
            Code::FailedPrecondition,
            "saga_past_pivot: the refund was sent",
            ErrorDetails::with_precondition_failure_violation(
                "saga_past_pivot",
                "",
                "the refund was sent",
            ),
        );
        let err = CtlError::from_status(status, "http://o:1", None);
        assert_eq!(err.exit_code(), EXIT_SERVER);
        assert_eq!(
            err.report(),
            "error: FAILED_PRECONDITION: saga_past_pivot: the refund was sent\n  \
             precondition saga_past_pivot: the refund was sent\n"
        );
    }

    #[test]
    fn bad_input_prints_every_field() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "invalid argument",
            ErrorDetails::with_bad_request(vec![
                FieldViolation::new("reason", "must not be empty"),
                FieldViolation::new("actor.kind", "must be STAFF or SYSTEM"),
            ]),
        );
        let report = CtlError::from_status(status, "http://o:1", None).report();
        assert!(report.starts_with("error: INVALID_ARGUMENT: invalid argument\n"));
        assert!(report.contains("  field reason: must not be empty\n"));
        assert!(report.contains("  field actor.kind: must be STAFF or SYSTEM\n"));
    }

    #[test]
    fn a_server_side_unavailable_is_a_server_error() {
        let err = CtlError::from_status(
            Status::unavailable("database unavailable"),
            "http://o:1",
            None,
        );
        assert_eq!(err.exit_code(), EXIT_SERVER);
        assert_eq!(err.report(), "error: UNAVAILABLE: database unavailable\n");
        let err = CtlError::from_status(Status::not_found(""), "http://o:1", None);
        assert_eq!(err.report(), "error: NOT_FOUND\n");
        let err = CtlError::from_status(Status::not_found("saga \u{1b}[2J"), "http://o:1", None);
        assert_eq!(err.report(), "error: NOT_FOUND: saga \\u{1b}[2J\n");
    }

    #[test]
    fn a_transport_failure_is_unreachable_with_hints() {
        let mut status = Status::unavailable("error trying to connect");
        status.set_source(Arc::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "connection refused",
        )));
        let err = CtlError::from_status(status, "http://o:1", Some("k-1"));
        assert_eq!(err.exit_code(), EXIT_UNREACHABLE);
        let report = err.report();
        assert!(report.starts_with(
            "error: cannot reach the orchestrator at http://o:1: error trying to connect: \
             connection refused\n"
        ));
        assert!(report.contains("listening on http://o:1?"));
        assert!(report.contains("--idempotency-key k-1"));
    }

    #[test]
    fn a_timeout_names_the_address_and_the_deadline() {
        let err = CtlError::TimedOut {
            addr: "http://o:1".into(),
            timeout: Duration::from_secs(10),
            idempotency_key: None,
        };
        assert_eq!(err.exit_code(), EXIT_UNREACHABLE);
        assert!(
            err.report()
                .starts_with("error: no answer from the orchestrator at http://o:1 within 10s\n")
        );
        assert_eq!(CtlError::Usage("x".into()).exit_code(), EXIT_USAGE);
    }
}
