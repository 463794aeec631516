//! Protobuf <-> domain conversions. Every parse names the request field it checks; protobuf
//! types stop here and never reach `domain/`.

use crate::domain::{
    self, Actor, ActorKind, Channel, Diagnosis, Quote, RepairCenter, RepairCenterState,
    RepairOrder, RepairState, UnrepairableResolution, validate,
};
use aftersales_kernel::{DomainError, FieldViolation};
use aftersales_platform::{AppError, AppResult, edge};
use aftersales_proto::common::v1 as common;
use aftersales_proto::repairs::v1 as pb;

/// Rules that mean "you may not do this" rather than "not now": PERMISSION_DENIED.
const PERMISSION_RULES: &[&str] = &[
    "actor_not_allowed",
    "repair_center_mismatch",
    "not_repair_buyer",
    "not_repair_merchant",
];

/// Domain errors to the platform taxonomy: field errors are INVALID_ARGUMENT, the actor and
/// scoping rules PERMISSION_DENIED (message `rule: detail`), other rules FAILED_PRECONDITION.
pub fn domain_error(e: DomainError) -> AppError {
    match e {
        DomainError::Rule(r) if PERMISSION_RULES.contains(&r.rule) => {
            AppError::PermissionDenied(r.to_string())
        }
        other => AppError::from(other),
    }
}

/// Collects the field violations of several parses, so that one response names every bad field.
#[derive(Default)]
pub struct Check {
    fields: Vec<FieldViolation>,
    other: Option<AppError>,
}

impl Check {
    /// Keeps the value, or records the error and returns `None`.
    pub fn take<T>(&mut self, r: AppResult<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(AppError::Invalid(v)) => {
                self.fields.extend(v);
                None
            }
            Err(e) => {
                self.other.get_or_insert(e);
                None
            }
        }
    }

    /// Every field violation, else the first other error, else `Ok`.
    pub fn done(self) -> AppResult<()> {
        if !self.fields.is_empty() {
            return Err(AppError::Invalid(self.fields));
        }
        match self.other {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The caller: required, kind known and specified, id required (a repair center id for partners).
pub fn actor(value: Option<&common::Actor>) -> AppResult<Actor> {
    let a = value.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind = match edge::optional_enum::<common::ActorKind>("actor.kind", a.kind)? {
        None | Some(common::ActorKind::Unspecified) => None,
        Some(k) => ActorKind::parse(k.as_str_name().trim_start_matches("ACTOR_KIND_")),
    };
    validate::actor("actor", kind, &a.id).map_err(domain_error)
}

/// An optional channel: unspecified means none.
pub fn channel(value: i32) -> AppResult<Option<Channel>> {
    Ok(edge::optional_enum::<common::Channel>("channel", value)?
        .and_then(|c| Channel::parse(c.as_str_name().trim_start_matches("CHANNEL_"))))
}

/// A required resolution (EXCHANGE or REFUND).
pub fn resolution(value: i32) -> AppResult<UnrepairableResolution> {
    let r = edge::enum_value::<pb::UnrepairableResolution>("resolution", value)?;
    UnrepairableResolution::parse(
        r.as_str_name()
            .trim_start_matches("UNREPAIRABLE_RESOLUTION_"),
    )
    .ok_or_else(|| AppError::field("resolution", format!("unknown value {value}")))
}

/// Repeated state filter: every entry must be a known, specified state (`states[i]`).
pub fn states(values: &[i32]) -> AppResult<Vec<RepairState>> {
    edge::item_count("states", values, 0)?;
    let mut out = Vec::with_capacity(values.len());
    let mut bad = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let field = format!("states[{i}]");
        match edge::enum_value::<pb::RepairState>(&field, *v) {
            Ok(s) => {
                match RepairState::parse(s.as_str_name().trim_start_matches("REPAIR_STATE_")) {
                    Some(s) => out.push(s),
                    None => bad.push(FieldViolation::new(field, format!("unknown value {v}"))),
                }
            }
            Err(AppError::Invalid(v)) => bad.extend(v),
            Err(e) => return Err(e),
        }
    }
    if bad.is_empty() {
        Ok(out)
    } else {
        Err(AppError::Invalid(bad))
    }
}

/// An optional center state filter: unspecified means any.
pub fn center_state(value: i32) -> AppResult<Option<RepairCenterState>> {
    Ok(
        edge::optional_enum::<pb::RepairCenterState>("state", value)?.and_then(|s| {
            RepairCenterState::parse(s.as_str_name().trim_start_matches("REPAIR_CENTER_STATE_"))
        }),
    )
}

/// A required, non-blank reason (<= 4096 chars).
pub fn reason(field: &str, value: &str) -> AppResult<domain::Reason> {
    Ok(domain::Reason::parse(field, value)?)
}

/// Optional long text (<= 4096 chars), blank means none.
pub fn optional_long_text(field: &str, value: &str) -> AppResult<Option<String>> {
    Ok(validate::optional_long_text(field, value)?)
}

fn pb_enum<E: Into<i32>>(v: Option<E>) -> i32 {
    v.map_or(0, Into::into)
}

fn state_to_pb(s: RepairState) -> i32 {
    pb_enum(pb::RepairState::from_str_name(&format!(
        "REPAIR_STATE_{}",
        s.as_str()
    )))
}

fn actor_to_pb(a: &Actor) -> common::Actor {
    common::Actor {
        kind: pb_enum(common::ActorKind::from_str_name(&format!(
            "ACTOR_KIND_{}",
            a.kind.as_str()
        ))),
        id: a.id.clone(),
    }
}

fn text(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

fn id_text(v: Option<impl ToString>) -> String {
    v.map(|i| i.to_string()).unwrap_or_default()
}

fn diagnosis_to_pb(d: &Diagnosis) -> pb::Diagnosis {
    pb::Diagnosis {
        findings: d.findings.clone(),
        fault_code: text(&d.fault_code),
        diagnosed_at: Some(edge::timestamp_to_pb(d.diagnosed_at)),
    }
}

fn quote_to_pb(q: &Quote) -> pb::Quote {
    pb::Quote {
        amount: Some(edge::money_to_pb(q.amount)),
        description: text(&q.description),
        submitted_at: Some(edge::timestamp_to_pb(q.submitted_at)),
        sent_at: edge::optional_timestamp_to_pb(q.sent_at),
        expires_at: edge::optional_timestamp_to_pb(q.expires_at),
        decision: pb_enum(q.decision.and_then(|d| {
            pb::QuoteDecision::from_str_name(&format!("QUOTE_DECISION_{}", d.as_str()))
        })),
        decided_at: edge::optional_timestamp_to_pb(q.decided_at),
        charge_id: id_text(q.charge_id),
        paid_at: edge::optional_timestamp_to_pb(q.paid_at),
        decline_reason: text(&q.decline_reason),
    }
}

/// The repair order message (API responses and event snapshots).
pub fn repair_order_to_pb(o: &RepairOrder) -> pb::RepairOrder {
    let w = &o.warranty;
    let over = w.overridden.as_ref();
    pb::RepairOrder {
        repair_order_id: o.id.to_string(),
        order_id: o.order_id.to_string(),
        line_id: o.line_id.to_string(),
        buyer_id: o.buyer_id.to_string(),
        merchant_id: o.merchant_id.to_string(),
        sku: o.sku.clone(),
        serial_number: o.serial_number.clone(),
        purchased_at: Some(edge::timestamp_to_pb(o.purchased_at)),
        warranty: Some(pb::Warranty {
            warranty_months: w.months,
            ends_at: Some(edge::timestamp_to_pb(w.ends_at)),
            computed_in_warranty: w.computed_in_warranty,
            in_warranty: w.in_warranty(),
            source: pb_enum(pb::WarrantySource::from_str_name(&format!(
                "WARRANTY_SOURCE_{}",
                w.source().as_str()
            ))),
            override_reason: over.map(|v| v.reason.clone()).unwrap_or_default(),
            overridden_by: over.map(|v| actor_to_pb(&v.by)),
            overridden_at: over.map(|v| edge::timestamp_to_pb(v.at)),
        }),
        symptom: o.symptom.clone(),
        evidence_refs: o.evidence_refs.clone(),
        channel: pb_enum(
            o.channel
                .and_then(|c| common::Channel::from_str_name(&format!("CHANNEL_{}", c.as_str()))),
        ),
        state: state_to_pb(o.state),
        repair_center_id: id_text(o.repair_center_id),
        inbound_shipment_id: id_text(o.inbound_shipment_id),
        return_shipment_id: id_text(o.return_shipment_id),
        diagnosis: o.diagnosis.as_ref().map(diagnosis_to_pb),
        quote: o.quote.as_ref().map(quote_to_pb),
        repair_notes: text(&o.repair_notes),
        unrepairable_reason: text(&o.unrepairable_reason),
        resolution: pb_enum(o.resolution.and_then(|r| {
            pb::UnrepairableResolution::from_str_name(&format!(
                "UNREPAIRABLE_RESOLUTION_{}",
                r.as_str()
            ))
        })),
        converted_case_id: id_text(o.converted_case_id),
        unrepaired_reason: pb_enum(o.unrepaired_reason.and_then(|r| {
            pb::UnrepairedReason::from_str_name(&format!("UNREPAIRED_REASON_{}", r.as_str()))
        })),
        cancel_reason: text(&o.cancel_reason),
        requested_at: Some(edge::timestamp_to_pb(o.requested_at)),
        received_at: edge::optional_timestamp_to_pb(o.received_at),
        repaired_at: edge::optional_timestamp_to_pb(o.repaired_at),
        shipped_back_at: edge::optional_timestamp_to_pb(o.shipped_back_at),
        completed_at: edge::optional_timestamp_to_pb(o.completed_at),
        updated_at: Some(edge::timestamp_to_pb(o.updated_at)),
        receipt_note: text(&o.receipt_note),
    }
}

/// The repair center message (API responses and event snapshots).
pub fn repair_center_to_pb(c: &RepairCenter) -> pb::RepairCenter {
    pb::RepairCenter {
        repair_center_id: c.id.to_string(),
        code: c.code.clone(),
        name: c.name.clone(),
        state: pb_enum(pb::RepairCenterState::from_str_name(&format!(
            "REPAIR_CENTER_STATE_{}",
            c.state.as_str()
        ))),
        suspend_reason: text(&c.suspend_reason),
        created_at: Some(edge::timestamp_to_pb(c.created_at)),
        updated_at: Some(edge::timestamp_to_pb(c.updated_at)),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_domain_enum_has_a_wire_value() {
        for s in RepairState::ALL {
            assert_ne!(state_to_pb(*s), 0, "{s}");
        }
        for k in ActorKind::ALL {
            assert_ne!(actor_to_pb(&Actor::new(*k, "x")).kind, 0, "{k}");
        }
        for c in Channel::ALL {
            let v = pb_enum(common::Channel::from_str_name(&format!("CHANNEL_{c}")));
            assert_eq!(channel(v).unwrap(), Some(*c));
        }
        for r in UnrepairableResolution::ALL {
            let v = pb_enum(pb::UnrepairableResolution::from_str_name(&format!(
                "UNREPAIRABLE_RESOLUTION_{r}"
            )));
            assert_eq!(resolution(v).unwrap(), *r);
        }
    }

    #[test]
    fn parses_name_the_field() {
        let err = actor(Some(&common::Actor {
            kind: 0,
            id: "x".into(),
        }))
        .unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "actor.kind"));
        let err = actor(None).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "actor"));
        let err = states(&[1, 0, 99]).unwrap_err();
        let AppError::Invalid(v) = err else {
            panic!("field errors")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["states[1]", "states[2]"]);
        assert!(matches!(resolution(0), Err(AppError::Invalid(_))));
    }

    #[test]
    fn scoping_rules_are_permission_denied() {
        for rule in PERMISSION_RULES {
            let e = domain_error(DomainError::rule(rule, "x"));
            assert!(matches!(e, AppError::PermissionDenied(ref m) if m.starts_with(rule)));
        }
        let e = domain_error(DomainError::rule("invalid_state_transition", "x"));
        assert!(matches!(e, AppError::Rule(_)));
    }
}
