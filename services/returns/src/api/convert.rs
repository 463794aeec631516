//! Protobuf <-> domain conversions. Every request check names the offending field; protobuf
//! types never enter `domain/`.

use crate::domain::{
    Actor, ActorKind, Arbitration, ArbitrationStatus, Case, CaseId, CaseItem, CaseItemId,
    CaseStatus, CaseType, Channel, Disposition, EvidenceRef, HistoryEntry, InspectionStatus,
    InterceptionStatus, ItemCondition, NewCase, NewCaseItem, OfferStatus, OrderLineId,
    PriceDifference, ReasonCode, ReceptionStatus, RefundBreakdown, Replacement, Responsibility,
    ReturnProgress, RulingOutcome, ShipmentState,
};
use aftersales_kernel::Money;
use aftersales_platform::{AppError, AppResult, edge};
use aftersales_proto::common::v1 as common;
use aftersales_proto::returns::v1 as pb;
use edge::{money_to_pb, optional_timestamp_to_pb, timestamp_to_pb};

/// A closed domain enum with its protobuf twin (same variant names).
pub trait PbEnum: Sized + Copy {
    fn to_pb(self) -> i32;
    /// `None` for unspecified (0) and values this server does not know.
    fn from_pb(value: i32) -> Option<Self>;
}

macro_rules! pb_enum {
    ($dom:ident => $pb:path { $($v:ident),+ $(,)? }) => {
        impl PbEnum for $dom {
            fn to_pb(self) -> i32 {
                use $pb as P;
                match self {
                    $($dom::$v => P::$v as i32),+
                }
            }
            fn from_pb(value: i32) -> Option<Self> {
                use $pb as P;
                match P::try_from(value).ok()? {
                    $(P::$v => Some($dom::$v),)+
                    _ => None,
                }
            }
        }
    };
}

pb_enum!(CaseType => pb::CaseType { RefundOnly, ReturnRefund, Exchange, Reship, Compensation });
pb_enum!(ReasonCode => pb::ReasonCode {
    NoReason, Quality, Damaged, WrongItem, MissingItem, NotAsDescribed, NotReceived
});
pb_enum!(ShipmentState => pb::ShipmentState { NotShipped, InTransit, Delivered });
pb_enum!(CaseStatus => pb::CaseStatus {
    Requested, PendingMerchant, Approved, Rejected, Negotiating, AwaitingBuyerShipment,
    ReturnInTransit, Received, Inspected, Refunding, ReplacementShipped, Completed, Withdrawn,
    Closed
});
pb_enum!(ReturnProgress => pb::ReturnProgress {
    NotApplicable, AwaitingShipment, InTransit, PartiallyReceived, Received, PartiallyInspected,
    Inspected
});
pb_enum!(ReceptionStatus => pb::ReceptionStatus {
    AwaitingShipment, InTransit, Received, Lost, Short, WrongItem
});
pb_enum!(InspectionStatus => pb::InspectionStatus { Pending, Accepted, Rejected, ManualReview });
pb_enum!(Disposition => pb::Disposition {
    Pending, Restock, Scrap, ToRepair, ReturnToVendor, ReturnToBuyer
});
pb_enum!(InterceptionStatus => pb::InterceptionStatus { Requested, Intercepted, Failed });
pb_enum!(OfferStatus => pb::OfferStatus { Pending, Accepted, Declined, Superseded });
pb_enum!(ArbitrationStatus => pb::ArbitrationStatus {
    AwaitingMerchantEvidence, UnderReview, Ruled, Appealed, Final, Withdrawn
});
pb_enum!(RulingOutcome => pb::RulingOutcome { ForBuyer, ForMerchant, Split });
pb_enum!(Responsibility => common::Responsibility { Buyer, Merchant, Courier, Platform });
pb_enum!(Channel => common::Channel { App, Hotline, OnlineCs, Email, Social });
pb_enum!(ActorKind => common::ActorKind { Buyer, Merchant, Staff, Partner, System });

// ----- request values -----

/// A required enum field: unspecified and unknown values are refused, naming the field.
pub fn enum_field<E: PbEnum>(field: &str, value: i32) -> AppResult<E> {
    if value == 0 {
        return Err(AppError::field(field, "is required"));
    }
    E::from_pb(value).ok_or_else(|| AppError::field(field, format!("unknown value {value}")))
}

/// An optional enum field: unspecified means absent.
pub fn optional_enum_field<E: PbEnum>(field: &str, value: i32) -> AppResult<Option<E>> {
    if value == 0 {
        Ok(None)
    } else {
        enum_field(field, value).map(Some)
    }
}

/// The required `actor`.
pub fn actor(value: Option<&common::Actor>) -> AppResult<Actor> {
    let a = value.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind = enum_field("actor.kind", a.kind)?;
    let id = edge::required_text("actor.id", &a.id)?;
    Ok(Actor::new(kind, id.trim()))
}

pub fn case_id(value: &str) -> AppResult<CaseId> {
    Ok(CaseId(edge::uuid("case_id", value)?))
}

pub fn item_id(value: &str) -> AppResult<CaseItemId> {
    Ok(CaseItemId(edge::uuid("item_id", value)?))
}

/// A required long text (reasons): non-blank, at most 4096 characters.
pub fn required_long_text(field: &str, value: &str) -> AppResult<String> {
    if value.trim().is_empty() {
        return Err(AppError::field(field, "is required"));
    }
    Ok(edge::long_text(field, value)?.trim().to_owned())
}

/// An optional long text (notes): empty means absent.
pub fn optional_long_text(field: &str, value: &str) -> AppResult<Option<String>> {
    let v = edge::long_text(field, value)?;
    let v = v.trim();
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

/// Object keys of photos or videos: at most 100, each non-blank and at most 128 characters.
pub fn evidence_refs(field: &str, values: &[String]) -> AppResult<Vec<EvidenceRef>> {
    edge::item_count(field, values, 0)?;
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            edge::required_text(&format!("{field}[{i}]"), v).map(|s| EvidenceRef(s.trim().into()))
        })
        .collect()
}

/// A required money amount (`>= 0`, known currency).
pub fn money(field: &str, value: Option<&common::Money>) -> AppResult<Money> {
    edge::money(field, value)
}

/// Case items asked for: 1..=100, each a line id and a quantity >= 1, lines distinct, with an
/// optional replacement (an exchange's variant; the domain checks the rest).
pub fn case_items(items: &[pb::CaseItemInput]) -> AppResult<Vec<NewCaseItem>> {
    edge::item_count("items", items, 1)?;
    let mut out: Vec<NewCaseItem> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let line = OrderLineId(edge::uuid(&format!("items[{i}].line_id"), &item.line_id)?);
        if item.quantity == 0 {
            return Err(AppError::field(
                format!("items[{i}].quantity"),
                "must be at least 1",
            ));
        }
        if out.iter().any(|o| o.line_id == line) {
            return Err(AppError::field(
                format!("items[{i}].line_id"),
                "is duplicated",
            ));
        }
        let replacement = item
            .replacement
            .as_ref()
            .map(|r| {
                Ok::<_, AppError>(Replacement {
                    sku: r.sku.trim().to_owned(),
                    unit_price: money(
                        &format!("items[{i}].replacement.unit_price"),
                        r.unit_price.as_ref(),
                    )?,
                })
            })
            .transpose()?;
        out.push(NewCaseItem {
            item_id: CaseItemId(uuid::Uuid::now_v7()),
            line_id: line,
            quantity: item.quantity,
            replacement,
        });
    }
    Ok(out)
}

/// A validated CreateCase request (ids chosen here: UUIDv7).
pub struct CreateCase {
    pub actor: Actor,
    pub order_id: uuid::Uuid,
    pub new_case: NewCase,
}

impl TryFrom<&pb::CreateCaseRequest> for CreateCase {
    type Error = AppError;

    fn try_from(req: &pb::CreateCaseRequest) -> AppResult<Self> {
        let actor = actor(req.actor.as_ref())?;
        let order_id = edge::uuid("order_id", &req.order_id)?;
        let case_type = enum_field("case_type", req.case_type)?;
        let reason = enum_field("reason", req.reason)?;
        let responsibility = optional_enum_field("responsibility", req.responsibility)?;
        let channel = optional_enum_field("channel", req.channel)?.unwrap_or(Channel::App);
        let description = optional_long_text("description", &req.description)?;
        let evidence = evidence_refs("evidence_refs", &req.evidence_refs)?;
        let items = case_items(&req.items)?;
        if responsibility.is_some() && actor.kind != ActorKind::Staff {
            return Err(AppError::PermissionDenied(
                "only staff may set the responsibility".into(),
            ));
        }
        Ok(Self {
            actor,
            order_id,
            new_case: NewCase {
                case_id: CaseId(uuid::Uuid::now_v7()),
                case_type,
                reason,
                responsibility,
                channel,
                description,
                evidence,
                items,
            },
        })
    }
}

/// What a CheckEligibility request asks about, as a case request that is never stored.
pub struct Eligibility {
    pub actor: Actor,
    pub order_id: uuid::Uuid,
    pub new_case: NewCase,
}

impl TryFrom<&pb::CheckEligibilityRequest> for Eligibility {
    type Error = AppError;

    fn try_from(req: &pb::CheckEligibilityRequest) -> AppResult<Self> {
        let actor = actor(req.actor.as_ref())?;
        let order_id = edge::uuid("order_id", &req.order_id)?;
        let case_type = enum_field("case_type", req.case_type)?;
        let reason = enum_field("reason", req.reason)?;
        let items = case_items(&req.items)?;
        let evidence = if req.has_evidence {
            vec![EvidenceRef("eligibility-check".into())]
        } else {
            Vec::new()
        };
        Ok(Self {
            actor,
            order_id,
            new_case: NewCase {
                case_id: CaseId(uuid::Uuid::now_v7()),
                case_type,
                reason,
                responsibility: None,
                channel: Channel::App,
                description: None,
                evidence,
                items,
            },
        })
    }
}

/// The inspection's condition (required): `resellable` is derived, ignored on input.
pub fn condition(value: Option<&pb::ItemCondition>) -> AppResult<ItemCondition> {
    let c = value.ok_or_else(|| AppError::field("condition", "is required"))?;
    Ok(ItemCondition {
        packaging_intact: c.packaging_intact,
        second_sale_damage: c.second_sale_damage,
        note: optional_long_text("condition.note", &c.note)?,
    })
}

/// Bounded short text, required (codes, tracking numbers, ids from partners).
pub fn short_text(field: &str, value: &str) -> AppResult<String> {
    Ok(edge::required_text(field, value)?.trim().to_owned())
}

// ----- domain -> protobuf -----

pub fn actor_to_pb(a: &Actor) -> common::Actor {
    common::Actor {
        kind: a.kind.to_pb(),
        id: a.id.clone(),
    }
}

pub fn refund_to_pb(r: &RefundBreakdown) -> pb::RefundBreakdown {
    pb::RefundBreakdown {
        items_amount: Some(money_to_pb(r.items_amount)),
        shipping_refund: Some(money_to_pb(r.shipping_refund)),
        return_shipping_deduction: Some(money_to_pb(r.return_shipping_deduction)),
        total: Some(money_to_pb(r.total)),
    }
}

fn item_to_pb(i: &CaseItem) -> pb::CaseItem {
    pb::CaseItem {
        item_id: i.id.to_string(),
        line_id: i.line_id.to_string(),
        sku: i.sku.clone(),
        quantity: i.quantity,
        refund_amount: Some(money_to_pb(i.refund_amount)),
        reception: i.reception.to_pb(),
        received_quantity: i.received_quantity,
        received_at: optional_timestamp_to_pb(i.received_at),
        inspection: i.inspection.to_pb(),
        condition: i.condition.as_ref().map(|c| pb::ItemCondition {
            packaging_intact: c.packaging_intact,
            second_sale_damage: c.second_sale_damage,
            resellable: c.resellable(),
            note: c.note.clone().unwrap_or_default(),
        }),
        inspected_at: optional_timestamp_to_pb(i.inspected_at),
        disposition: i.disposition.to_pb(),
        replacement: i.replacement.as_ref().map(|r| pb::Replacement {
            sku: r.sku.clone(),
            unit_price: Some(money_to_pb(r.unit_price)),
        }),
        difference_to_pay: match i.price_difference() {
            PriceDifference::BuyerPays(m) => Some(money_to_pb(m)),
            _ => None,
        },
        difference_to_refund: match i.price_difference() {
            PriceDifference::BuyerGetsBack(m) => Some(money_to_pb(m)),
            _ => None,
        },
    }
}

fn arbitration_to_pb(a: &Arbitration) -> pb::Arbitration {
    pb::Arbitration {
        status: a.status.to_pb(),
        opened_by: Some(actor_to_pb(&a.opened_by)),
        opened_at: Some(timestamp_to_pb(a.opened_at)),
        reason: a.reason.clone(),
        case_status_at_escalation: a.case_status_at_escalation.to_pb(),
        merchant_evidence_deadline: Some(timestamp_to_pb(a.merchant_evidence_deadline)),
        merchant_evidence_refs: a
            .merchant_evidence
            .iter()
            .map(|e| e.as_str().to_owned())
            .collect(),
        merchant_statement: a.merchant_statement.clone().unwrap_or_default(),
        rulings: a
            .rulings
            .iter()
            .map(|r| pb::Ruling {
                outcome: r.outcome.to_pb(),
                buyer_amount: r.buyer_amount.map(money_to_pb),
                reason: r.reason.clone(),
                by: Some(actor_to_pb(&r.by)),
                at: Some(timestamp_to_pb(r.at)),
            })
            .collect(),
        appeal_deadline: optional_timestamp_to_pb(a.appeal_deadline),
        appeal: a.appeal.as_ref().map(|ap| pb::Appeal {
            by: Some(actor_to_pb(&ap.by)),
            reason: ap.reason.clone(),
            at: Some(timestamp_to_pb(ap.at)),
        }),
    }
}

/// The case as the API and the event snapshots show it.
pub fn case_to_pb(c: &Case) -> pb::Case {
    pb::Case {
        case_id: c.id.to_string(),
        order_id: c.order_id.to_string(),
        buyer_id: c.buyer_id.to_string(),
        merchant_id: c.merchant_id.to_string(),
        case_type: c.case_type.to_pb(),
        reason: c.reason.to_pb(),
        responsibility: c.responsibility.to_pb(),
        shipment_state_at_request: c.shipment_state_at_request.to_pb(),
        channel: c.channel.to_pb(),
        description: c.description.clone().unwrap_or_default(),
        evidence_refs: c.evidence.iter().map(|e| e.as_str().to_owned()).collect(),
        status: c.status.to_pb(),
        return_progress: c.return_progress().to_pb(),
        items: c.items.iter().map(item_to_pb).collect(),
        return_required: c.return_required,
        merchant_pays_return_shipping: c.merchant_pays_return_shipping,
        refund: Some(refund_to_pb(&c.refund)),
        requested_amount: Some(money_to_pb(c.requested_amount)),
        approved_amount: c.approved_amount.map(money_to_pb),
        amount_override: c.amount_override.as_ref().map(|o| pb::AmountOverride {
            amount: Some(money_to_pb(o.amount)),
            reason: o.reason.clone(),
            by: Some(actor_to_pb(&o.by)),
            at: Some(timestamp_to_pb(o.at)),
        }),
        refund_due: Some(money_to_pb(c.refund_due())),
        refund_amount: c.refund_amount.map(money_to_pb),
        refunded_amount: c.refunded_amount.map(money_to_pb),
        refund_id: c.refund_reference.clone().unwrap_or_default(),
        merchant_decision_deadline: optional_timestamp_to_pb(c.merchant_decision_deadline),
        buyer_shipment_deadline: optional_timestamp_to_pb(c.buyer_shipment_deadline),
        return_shipment: c.return_shipment.as_ref().map(|s| pb::ReturnShipment {
            courier_code: s.courier_code.clone(),
            tracking_number: s.tracking_number.clone(),
            shipped_at: Some(timestamp_to_pb(s.shipped_at)),
        }),
        replacement_shipment_id: c.replacement_shipment_ref.clone().unwrap_or_default(),
        interception: c.interception.map(PbEnum::to_pb).unwrap_or_default(),
        offers: c
            .offers
            .iter()
            .map(|o| pb::Offer {
                amount: Some(money_to_pb(o.amount)),
                note: o.note.clone().unwrap_or_default(),
                status: o.status.to_pb(),
                offered_by: Some(actor_to_pb(&o.offered_by)),
                offered_at: Some(timestamp_to_pb(o.offered_at)),
                answered_at: optional_timestamp_to_pb(o.answered_at),
            })
            .collect(),
        arbitration: c.arbitration.as_ref().map(arbitration_to_pb),
        rejection_reason: c.rejection_reason.clone().unwrap_or_default(),
        close_reason: c.close_reason.clone().unwrap_or_default(),
        type_changes: c
            .type_changes
            .iter()
            .map(|t| pb::TypeChange {
                from_type: t.from.to_pb(),
                to_type: t.to.to_pb(),
                by: Some(actor_to_pb(&t.by)),
                at: Some(timestamp_to_pb(t.at)),
            })
            .collect(),
        created_by: Some(actor_to_pb(&c.created_by)),
        created_at: Some(timestamp_to_pb(c.created_at)),
        updated_at: Some(timestamp_to_pb(c.updated_at)),
        version: c.version,
    }
}

pub fn history_to_pb(h: &HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        at: Some(timestamp_to_pb(h.at)),
        actor: Some(actor_to_pb(&h.actor)),
        event: h.event.as_str().to_owned(),
        from_status: h.from.to_pb(),
        to_status: h.to.to_pb(),
        note: h.note.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_refuse_unknown() {
        for s in CaseStatus::ALL {
            assert_eq!(CaseStatus::from_pb(s.to_pb()), Some(*s));
        }
        for t in CaseType::ALL {
            assert_eq!(CaseType::from_pb(t.to_pb()), Some(*t));
        }
        for k in ActorKind::ALL {
            assert_eq!(ActorKind::from_pb(k.to_pb()), Some(*k));
        }
        let err = enum_field::<CaseType>("case_type", 99).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "case_type"));
        let err = enum_field::<CaseType>("case_type", 0).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].description == "is required"));
    }

    #[test]
    fn items_name_the_bad_entry() {
        let line = uuid::Uuid::now_v7().to_string();
        let items = vec![
            pb::CaseItemInput {
                line_id: line.clone(),
                quantity: 1,
                ..Default::default()
            },
            pb::CaseItemInput {
                line_id: line,
                quantity: 1,
                ..Default::default()
            },
        ];
        let err = case_items(&items).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "items[1].line_id"));
        let err = case_items(&[]).unwrap_err();
        assert!(matches!(err, AppError::Invalid(ref v) if v[0].field == "items"));
    }
}
