//! Protobuf <-> domain conversions. Every parse error names the request field; protobuf types
//! never enter the domain.

use crate::domain::{
    Actor, ActorKind, Address, AddressInput, Direction, ExceptionKind, FeePayer, Interception,
    InterceptionResult, InterceptionState, Shipment, ShipmentState, TrackingCorrection,
    TrackingEvent, TrackingStatus, WaybillState,
};
use aftersales_kernel::DomainError;
use aftersales_platform::{AppError, AppResult, edge};
use aftersales_proto::common::v1 as common;
use aftersales_proto::logistics::v1 as pb;
use chrono::{DateTime, Utc};

/// Domain errors to the api's codes: `courier_mismatch` and `actor_not_allowed` are
/// PERMISSION_DENIED, `tracking_number_taken` is ALREADY_EXISTS (the message starts with the
/// rule name); every other rule is FAILED_PRECONDITION.
pub fn domain_error(e: DomainError) -> AppError {
    match e {
        DomainError::Rule(r) if matches!(r.rule, "courier_mismatch" | "actor_not_allowed") => {
            AppError::PermissionDenied(r.to_string())
        }
        DomainError::Rule(r) if r.rule == "tracking_number_taken" => {
            AppError::AlreadyExists(r.to_string())
        }
        other => AppError::from(other),
    }
}

/// The caller: required, kind known, id required.
pub fn actor(value: Option<&common::Actor>) -> AppResult<Actor> {
    let a = value.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind = edge::optional_enum::<common::ActorKind>("actor.kind", a.kind)?.and_then(|k| {
        Some(match k {
            common::ActorKind::Buyer => ActorKind::Buyer,
            common::ActorKind::Merchant => ActorKind::Merchant,
            common::ActorKind::Staff => ActorKind::Staff,
            common::ActorKind::Partner => ActorKind::Partner,
            common::ActorKind::System => ActorKind::System,
            common::ActorKind::Unspecified => return None,
        })
    });
    Actor::new(kind, &a.id).map_err(domain_error)
}

pub fn actor_to_pb(a: &Actor) -> common::Actor {
    let kind = match a.kind {
        ActorKind::Buyer => common::ActorKind::Buyer,
        ActorKind::Merchant => common::ActorKind::Merchant,
        ActorKind::Staff => common::ActorKind::Staff,
        ActorKind::Partner => common::ActorKind::Partner,
        ActorKind::System => common::ActorKind::System,
    };
    common::Actor {
        kind: kind as i32,
        id: a.id.clone(),
    }
}

/// Raw address input for the domain (which checks each part as `field.part`).
pub fn address_input(a: &pb::Address) -> AddressInput<'_> {
    AddressInput {
        contact_name: &a.contact_name,
        phone: &a.phone,
        line1: &a.line1,
        line2: &a.line2,
        city: &a.city,
        region: &a.region,
        postal_code: &a.postal_code,
        country_code: &a.country_code,
    }
}

fn address_to_pb(a: &Address) -> pb::Address {
    pb::Address {
        contact_name: a.contact_name.clone(),
        phone: a.phone.clone(),
        line1: a.line1.clone(),
        line2: a.line2.clone().unwrap_or_default(),
        city: a.city.clone(),
        region: a.region.clone().unwrap_or_default(),
        postal_code: a.postal_code.clone().unwrap_or_default(),
        country_code: a.country_code.clone(),
    }
}

// ----- enums: protobuf -> domain (0 = None; unknown values are field errors) -----

pub fn direction(field: &str, v: i32) -> AppResult<Option<Direction>> {
    Ok(
        edge::optional_enum::<pb::Direction>(field, v)?.and_then(|d| {
            Some(match d {
                pb::Direction::Forward => Direction::Forward,
                pb::Direction::Return => Direction::Return,
                pb::Direction::Reship => Direction::Reship,
                pb::Direction::Replacement => Direction::Replacement,
                pb::Direction::ToRepairCenter => Direction::ToRepairCenter,
                pb::Direction::FromRepairCenter => Direction::FromRepairCenter,
                pb::Direction::Unspecified => return None,
            })
        }),
    )
}

pub fn fee_payer(field: &str, v: i32) -> AppResult<Option<FeePayer>> {
    Ok(
        edge::optional_enum::<pb::FeePayer>(field, v)?.and_then(|f| {
            Some(match f {
                pb::FeePayer::Buyer => FeePayer::Buyer,
                pb::FeePayer::Merchant => FeePayer::Merchant,
                pb::FeePayer::Platform => FeePayer::Platform,
                pb::FeePayer::Insurer => FeePayer::Insurer,
                pb::FeePayer::Unspecified => return None,
            })
        }),
    )
}

pub fn waybill_state(field: &str, v: i32) -> AppResult<Option<WaybillState>> {
    Ok(
        edge::optional_enum::<pb::WaybillState>(field, v)?.and_then(|w| {
            Some(match w {
                pb::WaybillState::Created => WaybillState::Created,
                pb::WaybillState::Printed => WaybillState::Printed,
                pb::WaybillState::Uploaded => WaybillState::Uploaded,
                pb::WaybillState::Voided => WaybillState::Voided,
                pb::WaybillState::Unspecified => return None,
            })
        }),
    )
}

pub fn shipment_state(field: &str, v: i32) -> AppResult<Option<ShipmentState>> {
    Ok(
        edge::optional_enum::<pb::ShipmentState>(field, v)?.and_then(|s| {
            Some(match s {
                pb::ShipmentState::Created => ShipmentState::Created,
                pb::ShipmentState::PickedUp => ShipmentState::PickedUp,
                pb::ShipmentState::InTransit => ShipmentState::InTransit,
                pb::ShipmentState::OutForDelivery => ShipmentState::OutForDelivery,
                pb::ShipmentState::Signed => ShipmentState::Signed,
                pb::ShipmentState::Exception => ShipmentState::Exception,
                pb::ShipmentState::ReturnedToSender => ShipmentState::ReturnedToSender,
                pb::ShipmentState::Voided => ShipmentState::Voided,
                pb::ShipmentState::Unspecified => return None,
            })
        }),
    )
}

pub fn tracking_status(field: &str, v: i32) -> AppResult<Option<TrackingStatus>> {
    Ok(
        edge::optional_enum::<pb::TrackingStatus>(field, v)?.and_then(|s| {
            Some(match s {
                pb::TrackingStatus::PickedUp => TrackingStatus::PickedUp,
                pb::TrackingStatus::InTransit => TrackingStatus::InTransit,
                pb::TrackingStatus::OutForDelivery => TrackingStatus::OutForDelivery,
                pb::TrackingStatus::Signed => TrackingStatus::Signed,
                pb::TrackingStatus::Exception => TrackingStatus::Exception,
                pb::TrackingStatus::ReturnedToSender => TrackingStatus::ReturnedToSender,
                pb::TrackingStatus::Unspecified => return None,
            })
        }),
    )
}

pub fn exception_kind(field: &str, v: i32) -> AppResult<Option<ExceptionKind>> {
    Ok(
        edge::optional_enum::<pb::ExceptionKind>(field, v)?.and_then(|k| {
            Some(match k {
                pb::ExceptionKind::Stuck => ExceptionKind::Stuck,
                pb::ExceptionKind::Lost => ExceptionKind::Lost,
                pb::ExceptionKind::Damaged => ExceptionKind::Damaged,
                pb::ExceptionKind::OutOfArea => ExceptionKind::OutOfArea,
                pb::ExceptionKind::Refused => ExceptionKind::Refused,
                pb::ExceptionKind::Unspecified => return None,
            })
        }),
    )
}

pub fn interception_state(field: &str, v: i32) -> AppResult<Option<InterceptionState>> {
    Ok(
        edge::optional_enum::<pb::InterceptionState>(field, v)?.and_then(|s| {
            Some(match s {
                pb::InterceptionState::Requested => InterceptionState::Requested,
                pb::InterceptionState::Accepted => InterceptionState::Accepted,
                pb::InterceptionState::Intercepted => InterceptionState::Intercepted,
                pb::InterceptionState::ReturnedToSender => InterceptionState::ReturnedToSender,
                pb::InterceptionState::Failed => InterceptionState::Failed,
                pb::InterceptionState::Unspecified => return None,
            })
        }),
    )
}

/// A required interception result.
pub fn interception_result(field: &str, v: i32) -> AppResult<InterceptionResult> {
    Ok(
        match edge::enum_value::<pb::InterceptionResult>(field, v)? {
            pb::InterceptionResult::Accepted => InterceptionResult::Accepted,
            pb::InterceptionResult::Intercepted => InterceptionResult::Intercepted,
            pb::InterceptionResult::ReturnedToSender => InterceptionResult::ReturnedToSender,
            pb::InterceptionResult::Failed => InterceptionResult::Failed,
            pb::InterceptionResult::Unspecified => {
                return Err(AppError::field(field, "is required"));
            }
        },
    )
}

// ----- enums: domain -> protobuf -----

fn direction_to_pb(d: Direction) -> pb::Direction {
    match d {
        Direction::Forward => pb::Direction::Forward,
        Direction::Return => pb::Direction::Return,
        Direction::Reship => pb::Direction::Reship,
        Direction::Replacement => pb::Direction::Replacement,
        Direction::ToRepairCenter => pb::Direction::ToRepairCenter,
        Direction::FromRepairCenter => pb::Direction::FromRepairCenter,
    }
}

fn fee_payer_to_pb(f: FeePayer) -> pb::FeePayer {
    match f {
        FeePayer::Buyer => pb::FeePayer::Buyer,
        FeePayer::Merchant => pb::FeePayer::Merchant,
        FeePayer::Platform => pb::FeePayer::Platform,
        FeePayer::Insurer => pb::FeePayer::Insurer,
    }
}

fn waybill_state_to_pb(w: WaybillState) -> pb::WaybillState {
    match w {
        WaybillState::Created => pb::WaybillState::Created,
        WaybillState::Printed => pb::WaybillState::Printed,
        WaybillState::Uploaded => pb::WaybillState::Uploaded,
        WaybillState::Voided => pb::WaybillState::Voided,
    }
}

fn shipment_state_to_pb(s: ShipmentState) -> pb::ShipmentState {
    match s {
        ShipmentState::Created => pb::ShipmentState::Created,
        ShipmentState::PickedUp => pb::ShipmentState::PickedUp,
        ShipmentState::InTransit => pb::ShipmentState::InTransit,
        ShipmentState::OutForDelivery => pb::ShipmentState::OutForDelivery,
        ShipmentState::Signed => pb::ShipmentState::Signed,
        ShipmentState::Exception => pb::ShipmentState::Exception,
        ShipmentState::ReturnedToSender => pb::ShipmentState::ReturnedToSender,
        ShipmentState::Voided => pb::ShipmentState::Voided,
    }
}

fn tracking_status_to_pb(s: TrackingStatus) -> pb::TrackingStatus {
    match s {
        TrackingStatus::PickedUp => pb::TrackingStatus::PickedUp,
        TrackingStatus::InTransit => pb::TrackingStatus::InTransit,
        TrackingStatus::OutForDelivery => pb::TrackingStatus::OutForDelivery,
        TrackingStatus::Signed => pb::TrackingStatus::Signed,
        TrackingStatus::Exception => pb::TrackingStatus::Exception,
        TrackingStatus::ReturnedToSender => pb::TrackingStatus::ReturnedToSender,
    }
}

fn exception_kind_to_pb(k: Option<ExceptionKind>) -> pb::ExceptionKind {
    match k {
        None => pb::ExceptionKind::Unspecified,
        Some(ExceptionKind::Stuck) => pb::ExceptionKind::Stuck,
        Some(ExceptionKind::Lost) => pb::ExceptionKind::Lost,
        Some(ExceptionKind::Damaged) => pb::ExceptionKind::Damaged,
        Some(ExceptionKind::OutOfArea) => pb::ExceptionKind::OutOfArea,
        Some(ExceptionKind::Refused) => pb::ExceptionKind::Refused,
    }
}

fn interception_state_to_pb(s: InterceptionState) -> pb::InterceptionState {
    match s {
        InterceptionState::Requested => pb::InterceptionState::Requested,
        InterceptionState::Accepted => pb::InterceptionState::Accepted,
        InterceptionState::Intercepted => pb::InterceptionState::Intercepted,
        InterceptionState::ReturnedToSender => pb::InterceptionState::ReturnedToSender,
        InterceptionState::Failed => pb::InterceptionState::Failed,
    }
}

// ----- messages -----

fn ts(t: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    edge::optional_timestamp_to_pb(t)
}

pub fn shipment_to_pb(s: &Shipment) -> pb::Shipment {
    pb::Shipment {
        shipment_id: s.id.to_string(),
        direction: direction_to_pb(s.direction) as i32,
        courier_code: s.courier_code.clone(),
        tracking_number: s.tracking_number.clone(),
        order_id: s.order_id.to_string(),
        case_id: s.case_id.map(|c| c.to_string()).unwrap_or_default(),
        repair_id: s.repair_id.map(|r| r.to_string()).unwrap_or_default(),
        merchant_id: s.merchant_id.to_string(),
        origin: s.origin.as_ref().map(address_to_pb),
        destination: Some(address_to_pb(&s.destination)),
        shipping_fee: s.shipping_fee.map(edge::money_to_pb),
        fee_payer: fee_payer_to_pb(s.fee_payer) as i32,
        waybill_state: waybill_state_to_pb(s.waybill_state) as i32,
        state: shipment_state_to_pb(s.state) as i32,
        exception_kind: exception_kind_to_pb(s.exception_kind) as i32,
        milestone: shipment_state_to_pb(s.milestone) as i32,
        eta: ts(s.eta),
        last_scan_at: ts(s.last_scan_at),
        last_event_at: ts(s.last_event_at),
        created_at: ts(Some(s.created_at)),
        updated_at: ts(Some(s.updated_at)),
        printed_at: ts(s.printed_at),
        uploaded_at: ts(s.uploaded_at),
        voided_at: ts(s.voided_at),
        picked_up_at: ts(s.picked_up_at),
        signed_at: ts(s.signed_at),
        correction_count: s.correction_count,
        created_by: Some(actor_to_pb(&s.created_by)),
        void_reason: s.void_reason.clone().unwrap_or_default(),
        voided_for_case_id: s.voided_for_case.map(|c| c.to_string()).unwrap_or_default(),
        reissued_from_shipment_id: s.reissued_from.map(|r| r.to_string()).unwrap_or_default(),
    }
}

pub fn event_to_pb(e: &TrackingEvent) -> pb::TrackingEvent {
    pb::TrackingEvent {
        event_id: e.id.to_string(),
        shipment_id: e.shipment_id.to_string(),
        courier_code: e.courier_code.clone(),
        courier_event_id: e.courier_event_id.clone(),
        status: tracking_status_to_pb(e.status) as i32,
        exception_kind: exception_kind_to_pb(e.exception_kind) as i32,
        occurred_at: ts(Some(e.occurred_at)),
        received_at: ts(Some(e.received_at)),
        location: e.location.clone().unwrap_or_default(),
        description: e.description.clone().unwrap_or_default(),
        applied: e.applied,
    }
}

pub fn interception_to_pb(i: &Interception) -> pb::Interception {
    pb::Interception {
        interception_id: i.id.to_string(),
        shipment_id: i.shipment_id.to_string(),
        courier_code: i.courier_code.clone(),
        state: interception_state_to_pb(i.state) as i32,
        reason: i.reason.clone(),
        failure_reason: i.failure_reason.clone().unwrap_or_default(),
        requested_by: Some(actor_to_pb(&i.requested_by)),
        requested_at: ts(Some(i.requested_at)),
        updated_at: ts(Some(i.updated_at)),
        closed_at: ts(i.closed_at),
        case_id: i.case_id.map(|c| c.to_string()).unwrap_or_default(),
    }
}

pub fn correction_to_pb(c: &TrackingCorrection) -> pb::TrackingCorrection {
    pb::TrackingCorrection {
        correction_id: c.id.to_string(),
        shipment_id: c.shipment_id.to_string(),
        old_tracking_number: c.old_tracking_number.clone(),
        new_tracking_number: c.new_tracking_number.clone(),
        corrected_by: Some(actor_to_pb(&c.corrected_by)),
        corrected_at: ts(Some(c.corrected_at)),
        reason: c.reason.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn maps_rules_to_codes() {
        assert!(matches!(
            domain_error(DomainError::rule("courier_mismatch", "no")),
            AppError::PermissionDenied(ref m) if m.starts_with("courier_mismatch")
        ));
        assert!(matches!(
            domain_error(DomainError::rule("actor_not_allowed", "no")),
            AppError::PermissionDenied(ref m) if m.starts_with("actor_not_allowed")
        ));
        assert!(matches!(
            domain_error(DomainError::rule("tracking_number_taken", "no")),
            AppError::AlreadyExists(ref m) if m.starts_with("tracking_number_taken")
        ));
        assert!(matches!(
            domain_error(DomainError::rule("shipment_voided", "no")),
            AppError::Rule(ref r) if r.rule == "shipment_voided"
        ));
    }

    #[test]
    fn enums_name_the_field() {
        assert_eq!(direction("direction", 0).unwrap(), None);
        assert_eq!(
            fields(direction("direction", 99).unwrap_err()),
            ["direction"]
        );
        assert_eq!(
            fields(fee_payer("fee_payer", 9).unwrap_err()),
            ["fee_payer"]
        );
        assert_eq!(
            fields(tracking_status("status", -1).unwrap_err()),
            ["status"]
        );
        assert_eq!(
            fields(interception_result("result", 0).unwrap_err()),
            ["result"]
        );
        assert_eq!(
            interception_result("result", 4).unwrap(),
            InterceptionResult::Failed
        );
        assert_eq!(fields(actor(None).unwrap_err()), ["actor"]);
        let a = common::Actor {
            kind: 42,
            id: "x".into(),
        };
        assert_eq!(fields(actor(Some(&a)).unwrap_err()), ["actor.kind"]);
        let a = common::Actor {
            kind: 4,
            id: String::new(),
        };
        assert_eq!(fields(actor(Some(&a)).unwrap_err()), ["actor.id"]);
    }
}
