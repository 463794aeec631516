use std::fmt;

/// One invalid input field: maps to `INVALID_ARGUMENT` with a `BadRequest` field violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, e.g. `lines[0].unit_price.minor_units`.
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// A business rule that forbids the operation now: maps to `FAILED_PRECONDITION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleViolation {
    /// Stable machine-readable rule name, e.g. `no_reason_window_expired`.
    pub rule: &'static str,
    /// Human-readable explanation, lowercase, no trailing period.
    pub detail: String,
}

impl RuleViolation {
    pub fn new(rule: &'static str, detail: impl Into<String>) -> Self {
        Self {
            rule,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for RuleViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.rule, self.detail)
    }
}

/// Errors a pure domain function can return.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid argument: {}", .0.iter().map(|v| format!("{}: {}", v.field, v.description)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldViolation>),
    #[error("{0}")]
    Rule(RuleViolation),
}

impl DomainError {
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldViolation::new(field, description)])
    }

    pub fn rule(rule: &'static str, detail: impl Into<String>) -> Self {
        Self::Rule(RuleViolation::new(rule, detail))
    }

    /// The rule name when this is a rule violation (handy in tests).
    pub fn rule_name(&self) -> Option<&'static str> {
        match self {
            Self::Rule(r) => Some(r.rule),
            Self::Invalid(_) => None,
        }
    }
}

impl From<RuleViolation> for DomainError {
    fn from(v: RuleViolation) -> Self {
        Self::Rule(v)
    }
}

impl From<FieldViolation> for DomainError {
    fn from(v: FieldViolation) -> Self {
        Self::Invalid(vec![v])
    }
}
