//! Conversions for the shared protobuf types at the gRPC edge, each naming the field it checks.

use crate::error::{AppError, AppResult};
use aftersales_kernel::{Money, limits};
use aftersales_proto::common::v1 as pb;
use chrono::{DateTime, TimeZone, Utc};

/// A required money field.
pub fn money(field: &str, value: Option<&pb::Money>) -> AppResult<Money> {
    let v = value.ok_or_else(|| AppError::field(field, "is required"))?;
    Money::parse(v.minor_units, &v.currency).map_err(|e| AppError::money(field, e))
}

/// An optional money field (absent stays absent).
pub fn optional_money(field: &str, value: Option<&pb::Money>) -> AppResult<Option<Money>> {
    value.map(|v| money(field, Some(v))).transpose()
}

pub fn money_to_pb(m: Money) -> pb::Money {
    pb::Money {
        minor_units: m.minor(),
        currency: m.currency().to_string(),
    }
}

/// A required timestamp field.
pub fn timestamp(field: &str, value: Option<&prost_types::Timestamp>) -> AppResult<DateTime<Utc>> {
    let ts = value.ok_or_else(|| AppError::field(field, "is required"))?;
    timestamp_value(field, ts)
}

pub fn optional_timestamp(
    field: &str,
    value: Option<&prost_types::Timestamp>,
) -> AppResult<Option<DateTime<Utc>>> {
    value.map(|ts| timestamp_value(field, ts)).transpose()
}

fn timestamp_value(field: &str, ts: &prost_types::Timestamp) -> AppResult<DateTime<Utc>> {
    let nanos =
        u32::try_from(ts.nanos).map_err(|_| AppError::field(field, "nanos out of range"))?;
    Utc.timestamp_opt(ts.seconds, nanos)
        .single()
        .ok_or_else(|| AppError::field(field, "is not a valid timestamp"))
}

pub fn timestamp_to_pb(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub fn optional_timestamp_to_pb(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    t.map(timestamp_to_pb)
}

/// A required short text (names, codes): non-blank and at most [`limits::SHORT_TEXT`] characters.
pub fn required_text(field: &str, value: &str) -> AppResult<String> {
    if value.trim().is_empty() {
        return Err(AppError::field(field, "is required"));
    }
    bounded_text(field, value, limits::SHORT_TEXT)
}

/// An optional long text (notes, reasons), at most [`limits::LONG_TEXT`] characters.
pub fn long_text(field: &str, value: &str) -> AppResult<String> {
    bounded_text(field, value, limits::LONG_TEXT)
}

/// Any text bounded by `max` characters.
pub fn bounded_text(field: &str, value: &str, max: usize) -> AppResult<String> {
    if value.chars().count() > max {
        return Err(AppError::field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A required UUID field.
pub fn uuid(field: &str, value: &str) -> AppResult<uuid::Uuid> {
    Ok(aftersales_kernel::parse_uuid(field, value)?)
}

/// An optional UUID field (empty means absent).
pub fn optional_uuid(field: &str, value: &str) -> AppResult<Option<uuid::Uuid>> {
    if value.is_empty() {
        Ok(None)
    } else {
        uuid(field, value).map(Some)
    }
}

/// A required enum field: rejects unspecified (0) and values this server does not know.
pub fn enum_value<E: TryFrom<i32>>(field: &str, value: i32) -> AppResult<E> {
    if value == 0 {
        return Err(AppError::field(field, "is required"));
    }
    E::try_from(value).map_err(|_| AppError::field(field, format!("unknown value {value}")))
}

/// An optional enum filter: 0 means no filter.
pub fn optional_enum<E: TryFrom<i32>>(field: &str, value: i32) -> AppResult<Option<E>> {
    if value == 0 {
        Ok(None)
    } else {
        enum_value(field, value).map(Some)
    }
}

/// A repeated field that must hold between `min` and [`limits::MAX_ITEMS`] entries.
pub fn item_count<T>(field: &str, items: &[T], min: usize) -> AppResult<()> {
    if items.len() < min {
        return Err(AppError::field(
            field,
            format!("needs at least {min} entries"),
        ));
    }
    if items.len() > limits::MAX_ITEMS {
        return Err(AppError::field(
            field,
            format!("must have at most {} entries", limits::MAX_ITEMS),
        ));
    }
    Ok(())
}

/// Keyset pagination over UUIDv7 ids (time-ordered): `after` is the last id of the previous page.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    pub size: u64,
    pub after: Option<uuid::Uuid>,
}

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 200;

pub fn page(value: Option<&pb::PageRequest>) -> AppResult<Page> {
    let (size, token) = value
        .map(|p| (p.page_size, p.page_token.as_str()))
        .unwrap_or((0, ""));
    if size > MAX_PAGE_SIZE {
        return Err(AppError::field(
            "page.page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        ));
    }
    let size = if size == 0 { DEFAULT_PAGE_SIZE } else { size };
    let after = if token.is_empty() {
        None
    } else {
        Some(
            uuid::Uuid::parse_str(token)
                .map_err(|_| AppError::field("page.page_token", "is not a token from this api"))?,
        )
    };
    Ok(Page {
        size: u64::from(size),
        after,
    })
}

/// Builds the response page from the fetched rows: fetch `size + 1` rows, pass their ids here.
pub fn next_page<T>(
    rows: &mut Vec<T>,
    page: Page,
    id: impl Fn(&T) -> uuid::Uuid,
) -> pb::PageResponse {
    let size = usize::try_from(page.size).unwrap_or(usize::MAX);
    if rows.len() > size {
        rows.truncate(size);
        let token = rows.last().map(|r| id(r).to_string()).unwrap_or_default();
        pb::PageResponse {
            next_page_token: token,
        }
    } else {
        pb::PageResponse {
            next_page_token: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fields() {
        let err = money(
            "refund.amount",
            Some(&pb::Money {
                minor_units: -5,
                currency: "CNY".into(),
            }),
        )
        .unwrap_err();
        assert!(
            matches!(err, AppError::Invalid(ref v) if v[0].field == "refund.amount.minor_units")
        );
        let err = money("amount", None).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "amount"));
        let err = required_text("sku", &"x".repeat(200)).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "sku"));
        let err = page(Some(&pb::PageRequest {
            page_size: 1000,
            page_token: String::new(),
        }))
        .unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "page.page_size"));
        let err = enum_value::<pb::ActorKind>("actor.kind", 99).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "actor.kind"));
    }

    #[test]
    fn pages() {
        let p = page(Some(&pb::PageRequest {
            page_size: 2,
            page_token: String::new(),
        }))
        .unwrap();
        let ids: Vec<uuid::Uuid> = (0..3).map(|_| uuid::Uuid::now_v7()).collect();
        let mut rows = ids.clone();
        let next = next_page(&mut rows, p, |r| *r);
        assert_eq!(rows.len(), 2);
        assert_eq!(next.next_page_token, ids[1].to_string());
    }
}
