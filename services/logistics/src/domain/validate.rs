//! Turns raw request input into domain values, naming the field on error.

use aftersales_kernel::{DomainError, FieldViolation, Money, limits};
use serde::{Deserialize, Serialize};

fn too_long(field: &str, max: usize) -> DomainError {
    DomainError::field(field, format!("must be at most {max} characters"))
}

/// A required short text (trimmed, non-empty, at most `limits::SHORT_TEXT` characters).
pub fn required_short(field: &str, value: &str) -> Result<String, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Err(DomainError::field(field, "is required"));
    }
    if v.chars().count() > limits::SHORT_TEXT {
        return Err(too_long(field, limits::SHORT_TEXT));
    }
    Ok(v.to_owned())
}

/// An optional short text: empty (after trimming) means absent.
pub fn optional_short(field: &str, value: &str) -> Result<Option<String>, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > limits::SHORT_TEXT {
        return Err(too_long(field, limits::SHORT_TEXT));
    }
    Ok(Some(v.to_owned()))
}

/// A required long text (notes, reasons): non-empty, at most `limits::LONG_TEXT` characters.
pub fn required_long(field: &str, value: &str) -> Result<String, DomainError> {
    optional_long(field, value)?.ok_or_else(|| DomainError::field(field, "is required"))
}

/// An optional long text: empty (after trimming) means absent.
pub fn optional_long(field: &str, value: &str) -> Result<Option<String>, DomainError> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > limits::LONG_TEXT {
        return Err(too_long(field, limits::LONG_TEXT));
    }
    Ok(Some(v.to_owned()))
}

/// A required idempotency key, at most `limits::IDEMPOTENCY_KEY` characters (not trimmed).
pub fn idempotency_key(value: &str) -> Result<String, DomainError> {
    if value.is_empty() {
        return Err(DomainError::field("idempotency_key", "is required"));
    }
    if value.chars().count() > limits::IDEMPOTENCY_KEY {
        return Err(too_long("idempotency_key", limits::IDEMPOTENCY_KEY));
    }
    Ok(value.to_owned())
}

/// A courier code: required short text of ASCII letters, digits, `-` or `_`.
pub fn courier_code(field: &str, value: &str) -> Result<String, DomainError> {
    let v = required_short(field, value)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(DomainError::field(
            field,
            "must contain only letters, digits, '-' or '_'",
        ));
    }
    Ok(v)
}

/// A tracking number: required short text without whitespace.
pub fn tracking_number(field: &str, value: &str) -> Result<String, DomainError> {
    let v = required_short(field, value)?;
    if v.chars().any(char::is_whitespace) {
        return Err(DomainError::field(field, "must not contain whitespace"));
    }
    Ok(v)
}

/// A money amount from raw minor units and currency code (>= 0, iso currency).
pub fn money(field: &str, minor_units: i64, currency: &str) -> Result<Money, DomainError> {
    Money::parse(minor_units, currency).map_err(|e| {
        let sub = match e {
            aftersales_kernel::MoneyError::BadCurrency => "currency",
            _ => "minor_units",
        };
        DomainError::field(format!("{field}.{sub}"), e.to_string())
    })
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub contact_name: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2, upper case.
    pub country_code: String,
}

/// Raw address input, as the api layer reads it from the request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressInput<'a> {
    pub contact_name: &'a str,
    pub phone: &'a str,
    pub line1: &'a str,
    pub line2: &'a str,
    pub city: &'a str,
    pub region: &'a str,
    pub postal_code: &'a str,
    pub country_code: &'a str,
}

impl Address {
    /// Validates every field and reports all violations at once, prefixed with `field`
    /// (e.g. `destination.city`).
    pub fn parse(field: &str, input: &AddressInput<'_>) -> Result<Self, DomainError> {
        let mut errors: Vec<FieldViolation> = Vec::new();
        let mut take = |r: Result<String, DomainError>| match r {
            Ok(v) => v,
            Err(DomainError::Invalid(v)) => {
                errors.extend(v);
                String::new()
            }
            Err(DomainError::Rule(_)) => String::new(),
        };
        let path = |name: &str| format!("{field}.{name}");
        let contact_name = take(required_short(&path("contact_name"), input.contact_name));
        let phone = take(required_short(&path("phone"), input.phone));
        let line1 = take(required_short(&path("line1"), input.line1));
        let line2 =
            take(optional_short(&path("line2"), input.line2).map(Option::unwrap_or_default));
        let city = take(required_short(&path("city"), input.city));
        let region =
            take(optional_short(&path("region"), input.region).map(Option::unwrap_or_default));
        let postal_code = take(
            optional_short(&path("postal_code"), input.postal_code).map(Option::unwrap_or_default),
        );
        let country_code = take(required_short(&path("country_code"), input.country_code));
        let cc_ok = country_code.len() == 2 && country_code.bytes().all(|b| b.is_ascii_uppercase());
        if !country_code.is_empty() && !cc_ok {
            errors.push(FieldViolation::new(
                path("country_code"),
                "must be an iso 3166-1 alpha-2 code such as CN",
            ));
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let opt = |s: String| if s.is_empty() { None } else { Some(s) };
        Ok(Self {
            contact_name,
            phone,
            line1,
            line2: opt(line2),
            city,
            region: opt(region),
            postal_code: opt(postal_code),
            country_code,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: DomainError) -> Vec<String> {
        match e {
            DomainError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            DomainError::Rule(r) => vec![format!("rule:{}", r.rule)],
        }
    }

    #[test]
    fn short_text_bounds() {
        let max = "a".repeat(limits::SHORT_TEXT);
        let over = "a".repeat(limits::SHORT_TEXT + 1);
        let cases: &[(&str, Result<String, ()>)] = &[
            ("", Err(())),
            ("  ", Err(())),
            (" ok ", Ok("ok".into())),
            (&max, Ok(max.clone())),
            (&over, Err(())),
        ];
        for (input, want) in cases {
            assert_eq!(
                &required_short("f", input).map_err(|_| ()),
                want,
                "{input:?}"
            );
        }
        assert_eq!(optional_short("f", " "), Ok(None));
        assert!(optional_short("f", &over).is_err());
    }

    #[test]
    fn long_text_bounds() {
        let max = "a".repeat(limits::LONG_TEXT);
        let over = "a".repeat(limits::LONG_TEXT + 1);
        assert_eq!(required_long("reason", &max), Ok(max.clone()));
        assert_eq!(
            fields(required_long("reason", &over).unwrap_err()),
            ["reason"]
        );
        assert_eq!(fields(required_long("reason", "").unwrap_err()), ["reason"]);
        assert_eq!(optional_long("reason", ""), Ok(None));
    }

    #[test]
    fn idempotency_key_bounds() {
        let max = "k".repeat(limits::IDEMPOTENCY_KEY);
        let over = "k".repeat(limits::IDEMPOTENCY_KEY + 1);
        assert_eq!(idempotency_key(&max), Ok(max.clone()));
        assert!(idempotency_key(&over).is_err());
        assert_eq!(
            fields(idempotency_key("").unwrap_err()),
            ["idempotency_key"]
        );
    }

    #[test]
    fn courier_codes_and_tracking_numbers() {
        let cases: &[(&str, bool)] = &[
            ("SF", true),
            ("JD-EXPRESS", true),
            ("yto_1", true),
            ("S F", false),
            ("顺丰", false),
            ("", false),
        ];
        for (code, ok) in cases {
            assert_eq!(courier_code("courier_code", code).is_ok(), *ok, "{code}");
        }
        let cases: &[(&str, bool)] = &[
            ("SF1234567890", true),
            ("SF 123", false),
            ("", false),
            ("a\tb", false),
        ];
        for (n, ok) in cases {
            assert_eq!(tracking_number("tracking_number", n).is_ok(), *ok, "{n:?}");
        }
    }

    #[test]
    fn money_names_the_sub_field() {
        assert_eq!(money("shipping_fee", 0, "CNY").map(|m| m.minor()), Ok(0));
        assert_eq!(
            fields(money("shipping_fee", -1, "CNY").unwrap_err()),
            ["shipping_fee.minor_units"]
        );
        assert_eq!(
            fields(money("shipping_fee", 1, "cny").unwrap_err()),
            ["shipping_fee.currency"]
        );
        assert_eq!(
            fields(money("shipping_fee", Money::MAX_MINOR + 1, "CNY").unwrap_err()),
            ["shipping_fee.minor_units"]
        );
    }

    #[test]
    fn address_reports_every_bad_field() {
        let good = AddressInput {
            contact_name: "Li Lei",
            phone: "13800000000",
            line1: "1 Road",
            city: "Shanghai",
            country_code: "CN",
            ..Default::default()
        };
        let a = Address::parse("destination", &good).unwrap();
        assert_eq!(a.line2, None);
        assert_eq!(a.country_code, "CN");

        let bad = AddressInput {
            country_code: "chn",
            ..Default::default()
        };
        assert_eq!(
            fields(Address::parse("destination", &bad).unwrap_err()),
            [
                "destination.contact_name",
                "destination.phone",
                "destination.line1",
                "destination.city",
                "destination.country_code"
            ]
        );
        let lower = AddressInput {
            country_code: "cn",
            ..good.clone()
        };
        assert_eq!(
            fields(Address::parse("origin", &lower).unwrap_err()),
            ["origin.country_code"]
        );
        let over = "x".repeat(limits::SHORT_TEXT + 1);
        let long_line2 = AddressInput {
            line2: &over,
            ..good
        };
        assert_eq!(
            fields(Address::parse("origin", &long_line2).unwrap_err()),
            ["origin.line2"]
        );
    }
}
