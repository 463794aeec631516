//! Helpers shared by the integration test modules.

#![allow(dead_code)]

use aftersales_proto::common::v1::{Actor, ActorKind, Money};
use tonic::{Code, Status};
use tonic_types::StatusExt;

pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn cny(minor_units: i64) -> Option<Money> {
    Some(Money {
        minor_units,
        currency: "CNY".into(),
    })
}

pub fn actor(kind: ActorKind, id: &str) -> Option<Actor> {
    Some(Actor {
        kind: kind as i32,
        id: id.into(),
    })
}

pub fn ts(t: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// Asserts INVALID_ARGUMENT whose field violations name `field`.
pub fn assert_invalid(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let named = details
        .bad_request()
        .map(|b| b.field_violations.iter().any(|v| v.field == field))
        .unwrap_or(false);
    assert!(
        named,
        "expected a field violation on {field}, got {status:?}"
    );
}

/// Asserts FAILED_PRECONDITION naming `rule`.
pub fn assert_rule(status: &Status, rule: &str) {
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(
        status.message().starts_with(rule),
        "expected rule {rule}, got {status:?}"
    );
}
