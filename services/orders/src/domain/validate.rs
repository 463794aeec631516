//! Validation helpers that turn raw input into domain values, naming the offending field.
//!
//! The api layer calls these while converting a request, so that every error names the request
//! field (`lines[0].unit_price.minor_units`) and maps to `INVALID_ARGUMENT`.

use aftersales_kernel::{Currency, DomainError, FieldViolation, Money, limits};

/// Most units on one order line.
pub const MAX_LINE_QUANTITY: u32 = 10_000;
/// Default and largest page size of list RPCs.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

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
            return Err(too_long(field, limits::IDEMPOTENCY_KEY));
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

/// A required reason (cancel, compensation reversal): at most [`limits::LONG_TEXT`] characters.
pub fn reason(field: &str, value: &str) -> Result<String, FieldViolation> {
    required_text(field, value, limits::LONG_TEXT)
}

fn bounded(field: &str, v: &str, max: usize) -> Result<String, FieldViolation> {
    if v.chars().count() > max {
        return Err(too_long(field, max));
    }
    Ok(v.to_owned())
}

fn too_long(field: &str, max: usize) -> FieldViolation {
    FieldViolation::new(field, format!("must be at most {max} characters"))
}

/// A category code: lower-case ASCII letters, digits and `_`, at most [`limits::SHORT_TEXT`].
pub fn category(field: &str, value: &str) -> Result<String, FieldViolation> {
    let v = required_text(field, value, limits::SHORT_TEXT)?;
    if !v
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(FieldViolation::new(
            field,
            "must be lower snake case, e.g. custom_made",
        ));
    }
    Ok(v)
}

/// Money from the wire (`field.minor_units`, `field.currency`), >= 0. `None`: message absent.
pub fn money(field: &str, raw: Option<(i64, &str)>) -> Result<Money, FieldViolation> {
    let (minor, currency) = raw.ok_or_else(|| FieldViolation::new(field, "is required"))?;
    let currency = Currency::parse(currency)
        .map_err(|e| FieldViolation::new(format!("{field}.currency"), e.to_string()))?;
    Money::new(minor, currency)
        .map_err(|e| FieldViolation::new(format!("{field}.minor_units"), e.to_string()))
}

/// Optional money: an absent message means `None` (the caller picks the default, usually zero).
pub fn optional_money(
    field: &str,
    raw: Option<(i64, &str)>,
) -> Result<Option<Money>, FieldViolation> {
    raw.map(|r| money(field, Some(r))).transpose()
}

/// A unit count of 1..=[`MAX_LINE_QUANTITY`].
pub fn quantity(field: &str, value: u32) -> Result<u32, FieldViolation> {
    match value {
        0 => Err(FieldViolation::new(field, "must be at least 1")),
        v if v > MAX_LINE_QUANTITY => Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_LINE_QUANTITY}"),
        )),
        v => Ok(v),
    }
}

/// Page size of a list request: 0 means [`DEFAULT_PAGE_SIZE`]; at most [`MAX_PAGE_SIZE`].
pub fn page_size(field: &str, value: u32) -> Result<u32, FieldViolation> {
    match value {
        0 => Ok(DEFAULT_PAGE_SIZE),
        v if v > MAX_PAGE_SIZE => Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
        v => Ok(v),
    }
}

/// A required message or value: `None` is reported as `field` "is required".
pub fn required<T>(field: &str, value: Option<T>) -> Result<T, FieldViolation> {
    value.ok_or_else(|| FieldViolation::new(field, "is required"))
}

/// Collects every field violation of a request instead of stopping at the first.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    /// Keeps the value of a successful check, records the violation of a failed one.
    pub fn check<T>(&mut self, result: Result<T, FieldViolation>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded, else one `DomainError::Invalid` with all of them.
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
        for (value, ok) in cases {
            assert_eq!(
                IdempotencyKey::parse("idempotency_key", value).is_ok(),
                *ok,
                "{}",
                value.len()
            );
        }
        assert_eq!(IdempotencyKey::parse("k", "abc").unwrap().as_str(), "abc");
    }

    #[test]
    fn text_bounds_and_trimming() {
        let max = "x".repeat(limits::SHORT_TEXT);
        let over = "x".repeat(limits::SHORT_TEXT + 1);
        assert_eq!(required_text("f", "  a  ", 128), Ok("a".to_owned()));
        assert_eq!(
            required_text("f", "", 128).unwrap_err().description,
            "is required"
        );
        assert_eq!(
            required_text("f", &max, limits::SHORT_TEXT),
            Ok(max.clone())
        );
        assert_eq!(
            required_text("f", &over, limits::SHORT_TEXT)
                .unwrap_err()
                .description,
            "must be at most 128 characters"
        );
        assert_eq!(optional_text("f", " ", 128), Ok(None));
        assert_eq!(optional_text("f", "b", 128), Ok(Some("b".to_owned())));
        assert!(optional_text("f", &over, limits::SHORT_TEXT).is_err());
        assert!(reason("reason", "").is_err());
        assert!(reason("reason", &"r".repeat(limits::LONG_TEXT)).is_ok());
        assert!(reason("reason", &"r".repeat(limits::LONG_TEXT + 1)).is_err());
    }

    #[test]
    fn category_codes() {
        let cases: &[(&str, bool)] = &[
            ("apparel", true),
            ("custom_made", true),
            ("tv_4k", true),
            ("", false),
            ("Apparel", false),
            ("custom-made", false),
            ("a b", false),
        ];
        for (value, ok) in cases {
            assert_eq!(category("lines[0].category", value).is_ok(), *ok, "{value}");
        }
    }

    #[test]
    fn money_names_the_sub_field() {
        assert_eq!(money("paid_amount", Some((0, "CNY"))).unwrap().minor(), 0);
        assert_eq!(money("paid_amount", None).unwrap_err().field, "paid_amount");
        assert_eq!(
            money("paid_amount", Some((-1, "CNY"))).unwrap_err().field,
            "paid_amount.minor_units"
        );
        assert_eq!(
            money("paid_amount", Some((1, "cny"))).unwrap_err().field,
            "paid_amount.currency"
        );
        assert_eq!(
            money("p", Some((Money::MAX_MINOR + 1, "CNY")))
                .unwrap_err()
                .field,
            "p.minor_units"
        );
        assert_eq!(optional_money("p", None), Ok(None));
        assert_eq!(
            optional_money("p", Some((5, "CNY")))
                .unwrap()
                .unwrap()
                .minor(),
            5
        );
        assert!(optional_money("p", Some((-5, "CNY"))).is_err());
    }

    #[test]
    fn quantity_and_page_size_bounds() {
        let q: &[(u32, Option<u32>)] = &[
            (0, None),
            (1, Some(1)),
            (MAX_LINE_QUANTITY, Some(MAX_LINE_QUANTITY)),
            (MAX_LINE_QUANTITY + 1, None),
        ];
        for (v, want) in q {
            assert_eq!(quantity("quantity", *v).ok(), *want, "{v}");
        }
        let p: &[(u32, Option<u32>)] =
            &[(0, Some(50)), (1, Some(1)), (200, Some(200)), (201, None)];
        for (v, want) in p {
            assert_eq!(page_size("page.page_size", *v).ok(), *want, "{v}");
        }
    }

    #[test]
    fn violations_collect_all() {
        let mut v = Violations::new();
        assert!(v.is_empty());
        assert_eq!(v.check(quantity("a", 1)), Some(1));
        assert_eq!(v.check(quantity("b", 0)), None);
        v.push("c", "bad");
        assert_eq!(required("d", Some(1)), Ok(1));
        assert!(required::<u8>("d", None).is_err());
        match v.finish() {
            Err(DomainError::Invalid(list)) => {
                assert_eq!(
                    list.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                    ["b", "c"]
                );
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(Violations::new().finish(), Ok(()));
    }
}
