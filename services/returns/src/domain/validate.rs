//! Turns raw request values into domain values, naming the offending field.
//!
//! The api layer calls these while converting protobuf requests; every error is a
//! [`FieldViolation`] (`INVALID_ARGUMENT`).

use aftersales_kernel::{FieldViolation, Money, MoneyError, limits};
use serde::{Deserialize, Serialize};

/// A reference to a photo or video held in object storage (a key, not the media itself).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EvidenceRef(pub String);

impl EvidenceRef {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Required idempotency key, at most [`limits::IDEMPOTENCY_KEY`] characters.
pub fn idempotency_key(field: &str, value: &str) -> Result<String, FieldViolation> {
    bounded(field, value, limits::IDEMPOTENCY_KEY, true).map(|v| v.unwrap_or_default())
}

/// Required short text (codes, tracking numbers, partner ids).
pub fn required_short_text(field: &str, value: &str) -> Result<String, FieldViolation> {
    bounded(field, value, limits::SHORT_TEXT, true).map(|v| v.unwrap_or_default())
}

/// Optional short text; empty means absent.
pub fn optional_short_text(field: &str, value: &str) -> Result<Option<String>, FieldViolation> {
    bounded(field, value, limits::SHORT_TEXT, false)
}

/// Required long text: reasons (overrides, rejections, rulings), statements.
pub fn required_long_text(field: &str, value: &str) -> Result<String, FieldViolation> {
    bounded(field, value, limits::LONG_TEXT, true).map(|v| v.unwrap_or_default())
}

/// Optional long text (descriptions, notes); empty means absent.
pub fn optional_long_text(field: &str, value: &str) -> Result<Option<String>, FieldViolation> {
    bounded(field, value, limits::LONG_TEXT, false)
}

fn bounded(
    field: &str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<Option<String>, FieldViolation> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return if required {
            Err(FieldViolation::new(field, "is required"))
        } else {
            Ok(None)
        };
    }
    if value.chars().count() > max {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(Some(trimmed.to_string()))
}

/// A money amount `>= 0` with a valid currency; `field` is the message field, e.g. `amount`.
pub fn money(field: &str, minor_units: i64, currency: &str) -> Result<Money, FieldViolation> {
    Money::parse(minor_units, currency).map_err(|e| match e {
        MoneyError::BadCurrency => FieldViolation::new(format!("{field}.currency"), e.to_string()),
        _ => FieldViolation::new(format!("{field}.minor_units"), e.to_string()),
    })
}

/// A money amount in an expected currency (the order's).
pub fn money_in(
    field: &str,
    minor_units: i64,
    currency: &str,
    expected: aftersales_kernel::Currency,
) -> Result<Money, FieldViolation> {
    let m = money(field, minor_units, currency)?;
    if m.currency() != expected {
        return Err(FieldViolation::new(
            format!("{field}.currency"),
            format!("must be the order currency {expected}"),
        ));
    }
    Ok(m)
}

/// A repeated field with at most [`limits::MAX_ITEMS`] entries (and at least one if `required`).
pub fn list_len(field: &str, len: usize, required: bool) -> Result<(), FieldViolation> {
    if required && len == 0 {
        return Err(FieldViolation::new(field, "must have at least one entry"));
    }
    if len > limits::MAX_ITEMS {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {} entries", limits::MAX_ITEMS),
        ));
    }
    Ok(())
}

/// Evidence references: at most [`limits::MAX_ITEMS`], each a non-empty short key.
pub fn evidence_refs(field: &str, values: &[String]) -> Result<Vec<EvidenceRef>, FieldViolation> {
    list_len(field, values.len(), false)?;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| required_short_text(&format!("{field}[{i}]"), v).map(EvidenceRef))
        .collect()
}

/// A unit quantity, at least 1.
pub fn quantity(field: &str, value: u32) -> Result<u32, FieldViolation> {
    if value == 0 {
        return Err(FieldViolation::new(field, "must be at least 1"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_bounds() {
        let long = "x".repeat(limits::LONG_TEXT + 1);
        let short_max = "y".repeat(limits::SHORT_TEXT);
        let short_over = "y".repeat(limits::SHORT_TEXT + 1);
        assert_eq!(required_short_text("f", " a "), Ok("a".to_string()));
        assert_eq!(required_short_text("f", &short_max), Ok(short_max.clone()));
        assert_eq!(
            required_short_text("f", "").unwrap_err().description,
            "is required"
        );
        assert_eq!(
            required_short_text("f", "   ").unwrap_err().description,
            "is required"
        );
        assert_eq!(
            required_short_text("f", &short_over)
                .unwrap_err()
                .description,
            "must be at most 128 characters"
        );
        assert_eq!(optional_short_text("f", ""), Ok(None));
        assert_eq!(optional_long_text("f", "note"), Ok(Some("note".into())));
        assert_eq!(optional_long_text("note", &long).unwrap_err().field, "note");
        assert_eq!(
            required_long_text("reason", "").unwrap_err().field,
            "reason"
        );
        // Multi-byte characters count as one.
        assert!(required_short_text("f", &"退".repeat(limits::SHORT_TEXT)).is_ok());
    }

    #[test]
    fn idempotency_key_bounds() {
        let max = "k".repeat(128);
        let over = "k".repeat(129);
        let cases: [(&str, bool); 4] = [("", false), ("k1", true), (&max, true), (&over, false)];
        for (input, ok) in cases {
            assert_eq!(
                idempotency_key("idempotency_key", input).is_ok(),
                ok,
                "{}",
                input.len()
            );
        }
    }

    #[test]
    fn money_names_the_sub_field() {
        assert_eq!(money("amount", 0, "CNY").map(|m| m.minor()), Ok(0));
        assert_eq!(
            money("amount", -1, "CNY").unwrap_err().field,
            "amount.minor_units"
        );
        assert_eq!(
            money("amount", 1, "cny").unwrap_err().field,
            "amount.currency"
        );
        let cny = aftersales_kernel::Currency::parse("CNY").unwrap();
        assert!(money_in("amount", 5, "CNY", cny).is_ok());
        let err = money_in("amount", 5, "USD", cny).unwrap_err();
        assert_eq!(err.field, "amount.currency");
    }

    #[test]
    fn lists_and_quantities() {
        assert!(list_len("items", 0, true).is_err());
        assert!(list_len("items", 0, false).is_ok());
        assert!(list_len("items", limits::MAX_ITEMS, true).is_ok());
        assert!(list_len("items", limits::MAX_ITEMS + 1, true).is_err());
        assert_eq!(
            quantity("items[0].quantity", 0).unwrap_err().field,
            "items[0].quantity"
        );
        assert_eq!(quantity("q", 1), Ok(1));
        let refs = evidence_refs("evidence", &["a".into(), "b".into()]).unwrap();
        assert_eq!(refs[1].as_str(), "b");
        assert_eq!(
            evidence_refs("evidence", &["a".into(), "".into()])
                .unwrap_err()
                .field,
            "evidence[1]"
        );
    }
}
