//! The small error taxonomy every process uses, and its mapping to `tonic::Status`.

use aftersales_kernel::{DomainError, FieldViolation, MoneyError, RuleViolation};
use sea_orm::{DbErr, SqlErr};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation as PbFieldViolation, StatusExt};

/// Errors returned by handlers and repositories; converted to `Status` at the gRPC edge.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Bad input: `INVALID_ARGUMENT` with one field violation per bad field.
    #[error("invalid argument")]
    Invalid(Vec<FieldViolation>),
    /// A business rule forbids the operation now: `FAILED_PRECONDITION` naming the rule.
    #[error("{0}")]
    Rule(RuleViolation),
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    PermissionDenied(String),
    /// A concurrent change won; the caller may retry: `ABORTED`.
    #[error("{0}")]
    Conflict(String),
    /// A dependency is down or overloaded; the caller may retry: `UNAVAILABLE`.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else: logged in full, returned opaque as `INTERNAL`.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn rule(rule: &'static str, detail: impl Into<String>) -> Self {
        Self::Rule(RuleViolation::new(rule, detail))
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    /// Attaches a field path to a money error raised while parsing a request.
    pub fn money(field: &str, err: MoneyError) -> Self {
        let (suffix, text) = match err {
            MoneyError::BadCurrency => ("currency", err.to_string()),
            _ => ("minor_units", err.to_string()),
        };
        Self::field(format!("{field}.{suffix}"), text)
    }
}

impl From<DomainError> for AppError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::Invalid(v) => Self::Invalid(v),
            DomainError::Rule(r) => Self::Rule(r),
        }
    }
}

impl From<FieldViolation> for AppError {
    fn from(v: FieldViolation) -> Self {
        Self::Invalid(vec![v])
    }
}

impl From<RuleViolation> for AppError {
    fn from(v: RuleViolation) -> Self {
        Self::Rule(v)
    }
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = e.sql_err() {
            return Self::Conflict(format!("concurrent change conflicted: {detail}"));
        }
        match &e {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => {
                Self::Unavailable("database unavailable".into())
            }
            DbErr::RecordNotFound(what) => Self::NotFound {
                entity: "record",
                id: what.clone(),
            },
            _ if is_serialization_failure(&e) => {
                Self::Conflict("concurrent change conflicted, retry".into())
            }
            _ => Self::Internal(anyhow::Error::new(e)),
        }
    }
}

fn is_serialization_failure(e: &DbErr) -> bool {
    let text = e.to_string();
    text.contains("40001") || text.contains("40P01") || text.contains("could not serialize")
}

impl From<AppError> for Status {
    fn from(e: AppError) -> Self {
        let status = to_status(e);
        crate::trace::record_error(status.code(), status.message());
        status
    }
}

fn to_status(e: AppError) -> Status {
    match e {
        AppError::Invalid(violations) => {
            let message = violations
                .iter()
                .map(|v| format!("{}: {}", v.field, v.description))
                .collect::<Vec<_>>()
                .join("; ");
            let pb: Vec<PbFieldViolation> = violations
                .into_iter()
                .map(|v| PbFieldViolation::new(v.field, v.description))
                .collect();
            Status::with_error_details(
                Code::InvalidArgument,
                format!("invalid argument: {message}"),
                ErrorDetails::with_bad_request(pb),
            )
        }
        AppError::Rule(r) => Status::with_error_details(
            Code::FailedPrecondition,
            format!("{}: {}", r.rule, r.detail),
            ErrorDetails::with_precondition_failure_violation(r.rule, "", r.detail),
        ),
        AppError::NotFound { entity, id } => Status::not_found(format!("{entity} {id} not found")),
        AppError::AlreadyExists(m) => Status::already_exists(m),
        AppError::PermissionDenied(m) => Status::permission_denied(m),
        AppError::Conflict(m) => Status::aborted(m),
        AppError::Unavailable(m) => Status::unavailable(m),
        AppError::Internal(err) => {
            tracing::error!(error = ?err, "internal error");
            Status::internal("internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_codes_and_names_fields_and_rules() {
        let s: Status = AppError::field("lines[0].quantity", "must be positive").into();
        assert_eq!(s.code(), Code::InvalidArgument);
        assert!(s.message().contains("lines[0].quantity"));
        let details = s.get_error_details();
        let bad = details.bad_request().expect("bad request details");
        assert_eq!(bad.field_violations[0].field, "lines[0].quantity");

        let s: Status = AppError::rule("waybill_already_printed", "too late").into();
        assert_eq!(s.code(), Code::FailedPrecondition);
        assert!(s.message().starts_with("waybill_already_printed"));

        let s: Status = AppError::Internal(anyhow::anyhow!("secret detail")).into();
        assert_eq!(s.code(), Code::Internal);
        assert!(!s.message().contains("secret"));

        let s: Status = AppError::money("amount", MoneyError::Negative).into();
        assert!(s.message().contains("amount.minor_units"));
    }
}
