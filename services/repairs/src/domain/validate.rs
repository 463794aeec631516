//! Validation helpers that turn raw input into domain values, naming the offending field.
//!
//! The api layer calls these with the request's field paths, so a bad request becomes
//! `INVALID_ARGUMENT` with one field violation per problem.

use super::actor::Actor;
use super::enums::ActorKind;
use super::policy::MAX_WARRANTY_MONTHS;
use aftersales_kernel::{Currency, DomainError, FieldViolation, Money, RuleViolation, limits};
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
        bounded(field, value, limits::IDEMPOTENCY_KEY).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A required, non-blank reason (overrides, cancellations, suspensions), at most
/// [`limits::LONG_TEXT`] characters. Domain methods that need a reason take this type, so a
/// missing reason cannot reach them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldViolation> {
        required_text(field, value, limits::LONG_TEXT).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
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

/// Required short text (sku, serial number, codes, names): [`limits::SHORT_TEXT`].
pub fn short_text(field: &str, value: &str) -> Result<String, FieldViolation> {
    required_text(field, value, limits::SHORT_TEXT)
}

/// Required long text (symptom, findings): [`limits::LONG_TEXT`].
pub fn long_text(field: &str, value: &str) -> Result<String, FieldViolation> {
    required_text(field, value, limits::LONG_TEXT)
}

/// Optional long text (notes, descriptions).
pub fn optional_long_text(field: &str, value: &str) -> Result<Option<String>, FieldViolation> {
    optional_text(field, value, limits::LONG_TEXT)
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

/// Evidence references (photo/video ids): at most [`limits::MAX_ITEMS`], each non-blank short
/// text. Violations name the element, e.g. `evidence_refs[2]`.
pub fn evidence_refs(field: &str, refs: &[String]) -> Result<Vec<String>, DomainError> {
    if refs.len() > limits::MAX_ITEMS {
        return Err(DomainError::field(
            field,
            format!("must have at most {} items", limits::MAX_ITEMS),
        ));
    }
    let mut out = Vec::with_capacity(refs.len());
    let mut bad = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        match short_text(&format!("{field}[{i}]"), r) {
            Ok(v) => out.push(v),
            Err(e) => bad.push(e),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(DomainError::Invalid(bad))
    }
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

/// Money that must be strictly positive (quotes, charges).
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

/// Warranty months from a policy snapshot: absent means the policy default; at most
/// [`MAX_WARRANTY_MONTHS`].
pub fn warranty_months(field: &str, raw: Option<u32>) -> Result<Option<u32>, FieldViolation> {
    match raw {
        Some(m) if m > MAX_WARRANTY_MONTHS => Err(FieldViolation::new(
            field,
            format!("must be at most {MAX_WARRANTY_MONTHS}"),
        )),
        other => Ok(other),
    }
}

/// The caller: `kind` is `None` when the wire value was absent or unspecified. A partner's id
/// must be its repair center id (a uuid).
pub fn actor(field: &str, kind: Option<ActorKind>, id: &str) -> Result<Actor, DomainError> {
    let mut bad = Vec::new();
    if kind.is_none() {
        bad.push(FieldViolation::new(format!("{field}.kind"), "is required"));
    }
    let id_field = format!("{field}.id");
    let id = match short_text(&id_field, id) {
        Ok(id) => Some(id),
        Err(e) => {
            bad.push(e);
            None
        }
    };
    if let (Some(ActorKind::Partner), Some(id)) = (kind, &id)
        && uuid::Uuid::parse_str(id).is_err()
    {
        bad.push(FieldViolation::new(
            id_field,
            "must be the repair center id (a uuid)",
        ));
    }
    match (kind, id) {
        (Some(kind), Some(id)) if bad.is_empty() => Ok(Actor::new(kind, id)),
        _ => Err(DomainError::Invalid(bad)),
    }
}

/// Collects the violations of several checks into one error, so that a request with several
/// bad fields names them all.
#[derive(Debug, Default)]
pub struct Violations {
    fields: Vec<FieldViolation>,
    rule: Option<RuleViolation>,
}

impl Violations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value, or records the violation(s) and returns `None`.
    pub fn check<T, E: Into<DomainError>>(&mut self, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                match e.into() {
                    DomainError::Invalid(v) => self.fields.extend(v),
                    DomainError::Rule(r) => {
                        self.rule.get_or_insert(r);
                    }
                }
                None
            }
        }
    }

    pub fn push(&mut self, v: FieldViolation) {
        self.fields.push(v);
    }

    /// `Ok(())` when nothing was recorded; otherwise every field violation, or the first rule
    /// violation when there are no field violations.
    pub fn finish(self) -> Result<(), DomainError> {
        match (self.fields.is_empty(), self.rule) {
            (true, None) => Ok(()),
            (true, Some(r)) => Err(DomainError::Rule(r)),
            (false, _) => Err(DomainError::Invalid(self.fields)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: &DomainError) -> Vec<String> {
        match e {
            DomainError::Invalid(v) => v.iter().map(|f| f.field.clone()).collect(),
            DomainError::Rule(r) => panic!("unexpected rule {r}"),
        }
    }

    #[test]
    fn idempotency_key_bounds() {
        let max = "k".repeat(limits::IDEMPOTENCY_KEY);
        let over = "k".repeat(limits::IDEMPOTENCY_KEY + 1);
        let cases = [
            ("", false),
            ("  ", false),
            ("a", true),
            (max.as_str(), true),
            (over.as_str(), false),
        ];
        for (raw, ok) in cases {
            assert_eq!(
                IdempotencyKey::parse("idempotency_key", raw).is_ok(),
                ok,
                "{}",
                raw.len()
            );
        }
    }

    #[test]
    fn text_bounds() {
        let short_max = "s".repeat(limits::SHORT_TEXT);
        let short_over = "s".repeat(limits::SHORT_TEXT + 1);
        let long_max = "l".repeat(limits::LONG_TEXT);
        let long_over = "l".repeat(limits::LONG_TEXT + 1);
        assert_eq!(short_text("sku", " A1 "), Ok("A1".to_owned()));
        assert!(short_text("sku", &short_max).is_ok());
        assert_eq!(short_text("sku", &short_over).unwrap_err().field, "sku");
        assert_eq!(
            short_text("sku", " ").unwrap_err().description,
            "is required"
        );
        assert!(long_text("symptom", &long_max).is_ok());
        assert!(long_text("symptom", &long_over).is_err());
        assert_eq!(optional_long_text("notes", "  "), Ok(None));
        assert_eq!(optional_long_text("notes", "x"), Ok(Some("x".to_owned())));
        assert!(optional_long_text("notes", &long_over).is_err());
        // Multi-byte characters count as one.
        assert!(short_text("sku", &"维".repeat(limits::SHORT_TEXT)).is_ok());
    }

    #[test]
    fn reason_is_required() {
        assert_eq!(Reason::parse("reason", "").unwrap_err().field, "reason");
        assert_eq!(
            Reason::parse("reason", " water damage ").unwrap().as_str(),
            "water damage"
        );
    }

    #[test]
    fn evidence_refs_name_the_element() {
        assert_eq!(evidence_refs("evidence_refs", &[]), Ok(vec![]));
        let refs = vec![
            "a".to_owned(),
            " ".to_owned(),
            "s".repeat(limits::SHORT_TEXT + 1),
        ];
        let err = evidence_refs("evidence_refs", &refs).unwrap_err();
        assert_eq!(field_of(&err), ["evidence_refs[1]", "evidence_refs[2]"]);
        let max = vec!["r".to_owned(); limits::MAX_ITEMS];
        assert_eq!(
            evidence_refs("evidence_refs", &max).map(|v| v.len()),
            Ok(limits::MAX_ITEMS)
        );
        let over = vec!["r".to_owned(); limits::MAX_ITEMS + 1];
        assert_eq!(
            field_of(&evidence_refs("evidence_refs", &over).unwrap_err()),
            ["evidence_refs"]
        );
    }

    /// (wire money, must be positive, minor units or the violated field).
    type MoneyCase<'a> = (Option<(i64, &'a str)>, bool, Result<i64, &'a str>);

    #[test]
    fn money_checks() {
        let cases: &[MoneyCase] = &[
            (None, false, Err("amount")),
            (Some((0, "CNY")), false, Ok(0)),
            (Some((0, "CNY")), true, Err("amount.minor_units")),
            (Some((1, "CNY")), true, Ok(1)),
            (Some((-1, "CNY")), false, Err("amount.minor_units")),
            (Some((5, "cny")), false, Err("amount.currency")),
        ];
        for &(raw, positive, ref want) in cases {
            let got = if positive {
                positive_money("amount", raw)
            } else {
                money("amount", raw)
            };
            let got = got.map(|m| m.minor()).map_err(|e| e.field);
            assert_eq!(
                got.as_ref().map_err(String::as_str),
                want.as_ref().map_err(|s| *s),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn warranty_months_bounds() {
        assert_eq!(warranty_months("w", None), Ok(None));
        assert_eq!(warranty_months("w", Some(0)), Ok(Some(0)));
        assert_eq!(
            warranty_months("w", Some(MAX_WARRANTY_MONTHS)),
            Ok(Some(MAX_WARRANTY_MONTHS))
        );
        assert!(warranty_months("w", Some(MAX_WARRANTY_MONTHS + 1)).is_err());
    }

    #[test]
    fn actor_checks() {
        let center = uuid::Uuid::new_v4().to_string();
        assert_eq!(
            actor("actor", Some(ActorKind::Staff), "u1"),
            Ok(Actor::staff("u1"))
        );
        assert!(actor("actor", Some(ActorKind::Partner), &center).is_ok());
        let cases: &[(Option<ActorKind>, &str, &[&str])] = &[
            (None, "u1", &["actor.kind"]),
            (Some(ActorKind::Buyer), "", &["actor.id"]),
            (None, "", &["actor.kind", "actor.id"]),
            (Some(ActorKind::Partner), "center-7", &["actor.id"]),
        ];
        for &(kind, id, want) in cases {
            assert_eq!(
                field_of(&actor("actor", kind, id).unwrap_err()),
                want,
                "{kind:?} {id}"
            );
        }
    }

    #[test]
    fn violations_collects() {
        let mut v = Violations::new();
        assert_eq!(v.check(short_text("a", "x")), Some("x".to_owned()));
        assert_eq!(v.check(short_text("b", "")), None);
        assert_eq!(v.check(evidence_refs("c", &[String::new()])), None);
        assert_eq!(field_of(&v.finish().unwrap_err()), ["b", "c[0]"]);
        assert_eq!(Violations::new().finish(), Ok(()));
        let mut v = Violations::new();
        assert_eq!(v.check::<(), _>(Err(DomainError::rule("r1", "x"))), None);
        assert_eq!(v.check::<(), _>(Err(DomainError::rule("r2", "y"))), None);
        assert_eq!(v.finish().unwrap_err().rule_name(), Some("r1"));
    }
}
