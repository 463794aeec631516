//! Validation helpers that turn raw input into domain values, naming the offending field.

use aftersales_kernel::{DomainError, FieldViolation, limits};
use serde::{Deserialize, Serialize};

/// A validated idempotency key: non-blank, at most [`limits::IDEMPOTENCY_KEY`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        if value.trim().is_empty() {
            return Err(FieldViolation::new(field, "is required"));
        }
        if value.chars().count() > limits::IDEMPOTENCY_KEY {
            return Err(FieldViolation::new(
                field,
                format!("must be at most {} characters", limits::IDEMPOTENCY_KEY),
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Required text, trimmed, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldViolation> {
    let v = value.trim();
    if v.is_empty() {
        return Err(FieldViolation::new(field, "is required"));
    }
    bounded(field, v, max)
}

/// Optional text: blank means `None`; otherwise trimmed and at most `max` characters.
pub fn optional_text(
    field: &str,
    value: &str,
    max: usize,
) -> Result<Option<String>, FieldViolation> {
    let v = value.trim();
    if v.is_empty() {
        Ok(None)
    } else {
        bounded(field, v, max).map(Some)
    }
}

/// A required reason or note: at most [`limits::LONG_TEXT`] characters.
pub fn reason(field: &str, value: &str) -> Result<String, FieldViolation> {
    required_text(field, value, limits::LONG_TEXT)
}

fn bounded(field: &str, v: &str, max: usize) -> Result<String, FieldViolation> {
    if v.chars().count() > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(v.to_owned())
}

/// A required enum value: `None` (unspecified or unknown on the wire) names the field.
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, FieldViolation> {
    value.ok_or_else(|| FieldViolation::new(field, "is required"))
}

/// Default page size of list RPCs.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size of list RPCs.
pub const MAX_PAGE_SIZE: u32 = 200;

/// `PageRequest.page_size`: 0 means [`DEFAULT_PAGE_SIZE`], at most [`MAX_PAGE_SIZE`].
pub fn page_size(field: &str, value: u32) -> Result<u32, FieldViolation> {
    match value {
        0 => Ok(DEFAULT_PAGE_SIZE),
        v if v <= MAX_PAGE_SIZE => Ok(v),
        _ => Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Batch size of the SLA sweep: 0 means 100, at most [`MAX_PAGE_SIZE`].
pub fn sweep_limit(field: &str, value: u32) -> Result<u32, FieldViolation> {
    match value {
        0 => Ok(100),
        v if v <= MAX_PAGE_SIZE => Ok(v),
        _ => Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
    }
}

/// Collects several field checks into one `DomainError::Invalid` with every violation.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value when valid, records the violation otherwise.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// `Ok(())` when no violation was recorded.
    pub fn finish(self) -> Result<(), DomainError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(self.0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_key_bounds() {
        let max = "k".repeat(limits::IDEMPOTENCY_KEY);
        let over = "k".repeat(limits::IDEMPOTENCY_KEY + 1);
        let cases: &[(&str, bool)] = &[
            ("", false),
            ("   ", false),
            ("a", true),
            (&max, true),
            (&over, false),
        ];
        for (raw, ok) in cases {
            let got = IdempotencyKey::parse("idempotency_key", raw);
            assert_eq!(got.is_ok(), *ok, "len {}", raw.len());
            if let Ok(k) = &got {
                assert_eq!(k.as_str(), *raw);
            }
            if let Err(v) = got {
                assert_eq!(v.field, "idempotency_key");
            }
        }
    }

    #[test]
    fn text_bounds() {
        let max = "r".repeat(limits::LONG_TEXT);
        let over = "r".repeat(limits::LONG_TEXT + 1);
        assert_eq!(reason("reason", " why ").unwrap(), "why");
        assert!(reason("reason", &max).is_ok());
        assert_eq!(reason("reason", &over).unwrap_err().field, "reason");
        assert_eq!(reason("reason", "").unwrap_err().description, "is required");
        assert_eq!(optional_text("note", " ", 5), Ok(None));
        assert_eq!(optional_text("note", "abcde", 5), Ok(Some("abcde".into())));
        assert!(optional_text("note", "abcdef", 5).is_err());
        // Multi-byte characters count as one each.
        assert!(
            required_text("name", &"数".repeat(limits::SHORT_TEXT), limits::SHORT_TEXT).is_ok()
        );
        assert!(
            required_text(
                "name",
                &"数".repeat(limits::SHORT_TEXT + 1),
                limits::SHORT_TEXT
            )
            .is_err()
        );
    }

    #[test]
    fn page_and_sweep_sizes() {
        let cases: &[(u32, Option<u32>, Option<u32>)] = &[
            (0, Some(50), Some(100)),
            (1, Some(1), Some(1)),
            (200, Some(200), Some(200)),
            (201, None, None),
        ];
        for (raw, page, sweep) in cases {
            assert_eq!(page_size("page.page_size", *raw).ok(), *page, "{raw}");
            assert_eq!(sweep_limit("limit", *raw).ok(), *sweep, "{raw}");
        }
    }

    #[test]
    fn required_and_violations() {
        assert_eq!(required("department", Some(3)), Ok(3));
        assert_eq!(
            required::<u8>("department", None).unwrap_err().field,
            "department"
        );
        let mut v = Violations::new();
        assert_eq!(v.check(required_text("a", "x", 5)), Some("x".to_owned()));
        assert_eq!(v.check(required_text("b", "", 5)), None);
        assert_eq!(v.check(required_text("c", "toolong", 5)), None);
        match v.finish() {
            Err(DomainError::Invalid(list)) => {
                assert_eq!(
                    list.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                    ["b", "c"]
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(Violations::new().finish(), Ok(()));
    }
}
