//! Validation helpers that turn raw input into domain values, naming the offending field.

use aftersales_kernel::{Currency, DomainError, FieldViolation, Money, MoneyError, limits};

/// A validated idempotency key: non-blank, at most [`limits::IDEMPOTENCY_KEY`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

/// A required reason (audit, overrides): at most [`limits::LONG_TEXT`] characters.
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

/// Money from the wire (`field.minor_units`, `field.currency`), >= 0.
/// `None` means the message was absent.
pub fn money(field: &str, raw: Option<(i64, &str)>) -> Result<Money, FieldViolation> {
    let (minor, currency) = raw.ok_or_else(|| FieldViolation::new(field, "is required"))?;
    let currency = Currency::parse(currency)
        .map_err(|e| FieldViolation::new(format!("{field}.currency"), e.to_string()))?;
    Money::new(minor, currency)
        .map_err(|e| FieldViolation::new(format!("{field}.minor_units"), e.to_string()))
}

/// Money that must be strictly positive (refunds, charges, compensations, ledger entries).
pub fn positive_money(field: &str, raw: Option<(i64, &str)>) -> Result<Money, FieldViolation> {
    let m = money(field, raw)?;
    if m.minor() == 0 {
        return Err(FieldViolation::new(
            format!("{field}.minor_units"),
            "must be greater than zero",
        ));
    }
    Ok(m)
}

/// An optional currency filter: empty means `None`.
pub fn optional_currency(field: &str, value: &str) -> Result<Option<Currency>, FieldViolation> {
    if value.is_empty() {
        return Ok(None);
    }
    Currency::parse(value)
        .map(Some)
        .map_err(|e| FieldViolation::new(field, e.to_string()))
}

/// A required enum value: `None` (unspecified or unknown on the wire) names the field.
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, FieldViolation> {
    value.ok_or_else(|| FieldViolation::new(field, "is required"))
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

/// Maps a money arithmetic error to a rule violation (mismatched currency) or field error.
pub(crate) fn money_rule(field: &str, e: MoneyError) -> DomainError {
    match e {
        MoneyError::CurrencyMismatch => DomainError::rule(
            "currency_mismatch",
            format!("{field} currency differs from the payment"),
        ),
        other => DomainError::field(field, other.to_string()),
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
    }

    #[test]
    fn money_validation() {
        type Case = (Option<(i64, &'static str)>, Result<i64, &'static str>);
        let cases: &[Case] = &[
            (None, Err("amount")),
            (Some((0, "CNY")), Ok(0)),
            (Some((1, "CNY")), Ok(1)),
            (Some((-1, "CNY")), Err("amount.minor_units")),
            (Some((Money::MAX_MINOR, "CNY")), Ok(Money::MAX_MINOR)),
            (
                Some((Money::MAX_MINOR + 1, "CNY")),
                Err("amount.minor_units"),
            ),
            (Some((1, "cny")), Err("amount.currency")),
        ];
        for (raw, want) in cases {
            let got = money("amount", *raw)
                .map(|m| m.minor())
                .map_err(|v| v.field);
            assert_eq!(got, want.map_err(str::to_owned), "{raw:?}");
        }
        assert_eq!(
            positive_money("amount", Some((0, "CNY")))
                .unwrap_err()
                .field,
            "amount.minor_units"
        );
        assert_eq!(
            positive_money("amount", Some((1, "CNY"))).unwrap().minor(),
            1
        );
    }

    #[test]
    fn currency_and_enum_helpers() {
        assert_eq!(optional_currency("currency", ""), Ok(None));
        assert!(optional_currency("currency", "USD").unwrap().is_some());
        assert_eq!(
            optional_currency("currency", "usd").unwrap_err().field,
            "currency"
        );
        assert_eq!(required::<u8>("kind", None).unwrap_err().field, "kind");
        assert_eq!(required("kind", Some(3)), Ok(3));
    }

    #[test]
    fn violations_collect_all() {
        let mut v = Violations::new();
        assert_eq!(v.check(required_text("a", "x", 5)), Some("x".to_owned()));
        assert_eq!(v.check(required_text("b", "", 5)), None);
        assert_eq!(v.check(required_text("c", "", 5)), None);
        match v.finish() {
            Err(DomainError::Invalid(list)) => {
                assert_eq!(
                    list.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                    ["b", "c"]
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(Violations::new().finish().is_ok());
    }
}
