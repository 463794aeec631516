//! The case repository: maps the [`Case`] aggregate to its rows and back.
//!
//! Every writer locks the case row ([`load_for_update`]) first; changes that depend on the other
//! cases of the order (quantities, the refund cap) lock the order replica row before it (see
//! [`super::replica::lock`]), always in that order. The audit trail is append-only and is not
//! loaded with the case: [`load`] returns the case with an empty `history`, and [`save`] appends
//! whatever entries the change recorded.

use super::entities::{case, case_history, case_item};
use crate::domain::{
    Actor, ActorKind, ArbitrationStatus, BuyerId, Case, CaseEvent, CaseId, CaseItem, CaseItemId,
    CaseStatus, CaseType, Channel, Disposition, HistoryEntry, InspectionStatus, InterceptionStatus,
    MerchantId, OrderId, OrderLineId, ReasonCode, ReceptionStatus, RefundBreakdown, Replacement,
    Responsibility, ShipmentState,
};
use aftersales_kernel::{Currency, Money};
use aftersales_platform::{AppError, AppResult, edge::Page};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Serialize, de::DeserializeOwned};
use std::collections::HashMap;
use uuid::Uuid;

/// Filters of a case listing (already scoped to what the actor may see).
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub order_id: Option<Uuid>,
    pub buyer_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub statuses: Vec<CaseStatus>,
    pub case_types: Vec<CaseType>,
    pub arbitration_open_only: bool,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
}

/// Loads a case with its items (no lock, no history): read RPCs.
pub async fn load<C: ConnectionTrait>(conn: &C, id: CaseId) -> AppResult<Case> {
    let row = case::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("case", id))?;
    let mut items = load_items(conn, &[id.0]).await?;
    to_domain(row, items.remove(&id.0).unwrap_or_default())
}

/// Loads a case under `SELECT ... FOR UPDATE` on its row: every change goes through this lock.
pub async fn load_for_update<C: ConnectionTrait>(conn: &C, id: CaseId) -> AppResult<Case> {
    let row = case::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("case", id))?;
    let mut items = load_items(conn, &[id.0]).await?;
    to_domain(row, items.remove(&id.0).unwrap_or_default())
}

/// The order of a case (immutable), without loading the case.
pub async fn order_of<C: ConnectionTrait>(conn: &C, id: CaseId) -> AppResult<OrderId> {
    let order_id: Option<Uuid> = case::Entity::find_by_id(id.0)
        .select_only()
        .column(case::Column::OrderId)
        .into_tuple()
        .one(conn)
        .await?;
    order_id
        .map(OrderId)
        .ok_or_else(|| AppError::not_found("case", id))
}

/// Every case of an order, with items (the caller holds the order replica lock when it acts on
/// them).
pub async fn list_for_order<C: ConnectionTrait>(conn: &C, order: OrderId) -> AppResult<Vec<Case>> {
    let rows = case::Entity::find()
        .filter(case::Column::OrderId.eq(order.0))
        .order_by_asc(case::Column::Id)
        .all(conn)
        .await?;
    assemble(conn, rows).await
}

/// One page of cases, newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &CaseFilter,
    page: Page,
) -> AppResult<Vec<Case>> {
    let mut q = case::Entity::find();
    if let Some(id) = filter.order_id {
        q = q.filter(case::Column::OrderId.eq(id));
    }
    if let Some(id) = filter.buyer_id {
        q = q.filter(case::Column::BuyerId.eq(id));
    }
    if let Some(id) = filter.merchant_id {
        q = q.filter(case::Column::MerchantId.eq(id));
    }
    if !filter.statuses.is_empty() {
        q = q.filter(case::Column::Status.is_in(filter.statuses.iter().map(|s| s.as_str())));
    }
    if !filter.case_types.is_empty() {
        q = q.filter(case::Column::CaseType.is_in(filter.case_types.iter().map(|s| s.as_str())));
    }
    if filter.arbitration_open_only {
        let open = ArbitrationStatus::ALL.iter().filter(|s| s.is_open());
        q = q.filter(case::Column::ArbitrationStatus.is_in(open.map(|s| s.as_str())));
    }
    if let Some(t) = filter.created_after {
        q = q.filter(case::Column::CreatedAt.gte(t));
    }
    if let Some(t) = filter.created_before {
        q = q.filter(case::Column::CreatedAt.lt(t));
    }
    if let Some(after) = page.after {
        q = q.filter(case::Column::Id.lt(after));
    }
    let rows = q
        .order_by_desc(case::Column::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    assemble(conn, rows).await
}

/// One page of a case's audit trail, oldest first.
pub async fn history<C: ConnectionTrait>(
    conn: &C,
    id: CaseId,
    page: Page,
) -> AppResult<Vec<(Uuid, HistoryEntry)>> {
    let mut q = case_history::Entity::find().filter(case_history::Column::CaseId.eq(id.0));
    if let Some(after) = page.after {
        q = q.filter(case_history::Column::Id.gt(after));
    }
    let rows = q
        .order_by_asc(case_history::Column::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    rows.into_iter()
        .map(|r| {
            let entry = HistoryEntry {
                at: r.at,
                actor: Actor::new(parse(&r.actor_kind, ActorKind::parse)?, r.actor_id),
                event: parse(&r.event, CaseEvent::parse)?,
                from: parse(&r.from_status, CaseStatus::parse)?,
                to: parse(&r.to_status, CaseStatus::parse)?,
                note: r.note,
            };
            Ok((r.id, entry))
        })
        .collect()
}

/// Inserts a new case, its items and its first history entries.
pub async fn insert<C: ConnectionTrait>(conn: &C, c: &Case) -> AppResult<()> {
    case_model(c)?.into_active_model().insert(conn).await?;
    for (position, item) in c.items.iter().enumerate() {
        item_model(c, position, item)?
            .into_active_model()
            .insert(conn)
            .await?;
    }
    append_history(conn, c).await
}

/// Writes a changed case (the caller holds its lock): refuses to overwrite a version other than
/// `loaded_version` (`ABORTED`, retryable), updates the items and appends the new history.
pub async fn save<C: ConnectionTrait>(conn: &C, c: &Case, loaded_version: i64) -> AppResult<()> {
    let result = case::Entity::update_many()
        .set(case_model(c)?.into_active_model().reset_all())
        .filter(case::Column::Id.eq(c.id.0))
        .filter(case::Column::Version.eq(loaded_version))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Err(AppError::Conflict(format!(
            "case {} changed concurrently, retry",
            c.id
        )));
    }
    for (position, item) in c.items.iter().enumerate() {
        item_model(c, position, item)?
            .into_active_model()
            .reset_all()
            .update(conn)
            .await?;
    }
    append_history(conn, c).await
}

async fn append_history<C: ConnectionTrait>(conn: &C, c: &Case) -> AppResult<()> {
    for h in &c.history {
        case_history::Model {
            id: Uuid::now_v7(),
            case_id: c.id.0,
            at: h.at,
            actor_kind: h.actor.kind.as_str().to_owned(),
            actor_id: h.actor.id.clone(),
            event: h.event.as_str().to_owned(),
            from_status: h.from.as_str().to_owned(),
            to_status: h.to.as_str().to_owned(),
            note: h.note.clone(),
        }
        .into_active_model()
        .insert(conn)
        .await?;
    }
    Ok(())
}

async fn assemble<C: ConnectionTrait>(conn: &C, rows: Vec<case::Model>) -> AppResult<Vec<Case>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut items = load_items(conn, &ids).await?;
    rows.into_iter()
        .map(|r| {
            let its = items.remove(&r.id).unwrap_or_default();
            to_domain(r, its)
        })
        .collect()
}

async fn load_items<C: ConnectionTrait>(
    conn: &C,
    case_ids: &[Uuid],
) -> AppResult<HashMap<Uuid, Vec<case_item::Model>>> {
    if case_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = case_item::Entity::find()
        .filter(case_item::Column::CaseId.is_in(case_ids.iter().copied()))
        .order_by_asc(case_item::Column::CaseId)
        .order_by_asc(case_item::Column::Position)
        .all(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<case_item::Model>> = HashMap::new();
    for r in rows {
        out.entry(r.case_id).or_default().push(r);
    }
    Ok(out)
}

// ----- mapping -----

fn corrupt(what: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("stored case is invalid: {what}"))
}

fn parse<T>(text: &str, f: fn(&str) -> Option<T>) -> AppResult<T> {
    f(text).ok_or_else(|| corrupt(format!("unknown value {text:?}")))
}

fn to_json<T: Serialize>(v: &T) -> AppResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()))
}

fn from_json<T: DeserializeOwned>(v: serde_json::Value) -> AppResult<T> {
    serde_json::from_value(v).map_err(corrupt)
}

fn money(minor: i64, currency: Currency) -> AppResult<Money> {
    Money::new(minor, currency).map_err(corrupt)
}

fn count(n: u32) -> AppResult<i32> {
    i32::try_from(n).map_err(corrupt)
}

fn case_model(c: &Case) -> AppResult<case::Model> {
    Ok(case::Model {
        id: c.id.0,
        order_id: c.order_id.0,
        buyer_id: c.buyer_id.0,
        merchant_id: c.merchant_id.0,
        case_type: c.case_type.as_str().to_owned(),
        reason: c.reason.as_str().to_owned(),
        responsibility: c.responsibility.as_str().to_owned(),
        shipment_state_at_request: c.shipment_state_at_request.as_str().to_owned(),
        channel: c.channel.as_str().to_owned(),
        description: c.description.clone(),
        evidence: to_json(&c.evidence)?,
        status: c.status.as_str().to_owned(),
        return_required: c.return_required,
        merchant_pays_return_shipping: c.merchant_pays_return_shipping,
        currency: c.requested_amount.currency().to_string(),
        refund_items_minor: c.refund.items_amount.minor(),
        refund_shipping_minor: c.refund.shipping_refund.minor(),
        refund_deduction_minor: c.refund.return_shipping_deduction.minor(),
        refund_total_minor: c.refund.total.minor(),
        requested_minor: c.requested_amount.minor(),
        approved_minor: c.approved_amount.map(|m| m.minor()),
        amount_override: c.amount_override.as_ref().map(to_json).transpose()?,
        refund_amount_minor: c.refund_amount.map(|m| m.minor()),
        refunded_minor: c.refunded_amount.map(|m| m.minor()),
        refund_reference: c.refund_reference.clone(),
        merchant_decision_deadline: c.merchant_decision_deadline,
        buyer_shipment_deadline: c.buyer_shipment_deadline,
        return_shipment: c.return_shipment.as_ref().map(to_json).transpose()?,
        replacement_shipment_ref: c.replacement_shipment_ref.clone(),
        interception: c.interception.map(|i| i.as_str().to_owned()),
        offers: to_json(&c.offers)?,
        arbitration: c.arbitration.as_ref().map(to_json).transpose()?,
        arbitration_status: c.arbitration.as_ref().map(|a| a.status.as_str().to_owned()),
        rejection_reason: c.rejection_reason.clone(),
        close_reason: c.close_reason.clone(),
        type_changes: to_json(&c.type_changes)?,
        created_by: to_json(&c.created_by)?,
        created_at: c.created_at,
        updated_at: c.updated_at,
        version: c.version,
    })
}

fn item_model(c: &Case, position: usize, i: &CaseItem) -> AppResult<case_item::Model> {
    Ok(case_item::Model {
        id: i.id.0,
        case_id: c.id.0,
        position: i32::try_from(position).map_err(corrupt)?,
        line_id: i.line_id.0,
        sku: i.sku.clone(),
        quantity: count(i.quantity)?,
        refund_minor: i.refund_amount.minor(),
        reception: i.reception.as_str().to_owned(),
        received_quantity: count(i.received_quantity)?,
        received_at: i.received_at,
        inspection: i.inspection.as_str().to_owned(),
        condition: i.condition.as_ref().map(to_json).transpose()?,
        inspected_at: i.inspected_at,
        disposition: i.disposition.as_str().to_owned(),
        case_open: c.status.is_open(),
        replacement_sku: i.replacement.as_ref().map(|r| r.sku.clone()),
        replacement_unit_price_minor: i.replacement.as_ref().map(|r| r.unit_price.minor()),
    })
}

fn to_domain(r: case::Model, items: Vec<case_item::Model>) -> AppResult<Case> {
    let cur = Currency::parse(&r.currency).map_err(corrupt)?;
    let items = items
        .into_iter()
        .map(|i| {
            Ok(CaseItem {
                id: CaseItemId(i.id),
                line_id: OrderLineId(i.line_id),
                sku: i.sku,
                quantity: u32::try_from(i.quantity).map_err(corrupt)?,
                refund_amount: money(i.refund_minor, cur)?,
                reception: parse(&i.reception, ReceptionStatus::parse)?,
                received_quantity: u32::try_from(i.received_quantity).map_err(corrupt)?,
                received_at: i.received_at,
                inspection: parse(&i.inspection, InspectionStatus::parse)?,
                condition: i.condition.map(from_json).transpose()?,
                inspected_at: i.inspected_at,
                disposition: parse(&i.disposition, Disposition::parse)?,
                replacement: match (i.replacement_sku, i.replacement_unit_price_minor) {
                    (Some(sku), Some(price)) => Some(Replacement {
                        sku,
                        unit_price: money(price, cur)?,
                    }),
                    _ => None,
                },
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    let opt_money = |m: Option<i64>| m.map(|v| money(v, cur)).transpose();
    Ok(Case {
        id: CaseId(r.id),
        order_id: OrderId(r.order_id),
        buyer_id: BuyerId(r.buyer_id),
        merchant_id: MerchantId(r.merchant_id),
        case_type: parse(&r.case_type, CaseType::parse)?,
        reason: parse(&r.reason, ReasonCode::parse)?,
        responsibility: parse(&r.responsibility, Responsibility::parse)?,
        shipment_state_at_request: parse(&r.shipment_state_at_request, ShipmentState::parse)?,
        channel: parse(&r.channel, Channel::parse)?,
        description: r.description,
        evidence: from_json(r.evidence)?,
        status: parse(&r.status, CaseStatus::parse)?,
        items,
        return_required: r.return_required,
        merchant_pays_return_shipping: r.merchant_pays_return_shipping,
        refund: RefundBreakdown {
            items_amount: money(r.refund_items_minor, cur)?,
            shipping_refund: money(r.refund_shipping_minor, cur)?,
            return_shipping_deduction: money(r.refund_deduction_minor, cur)?,
            total: money(r.refund_total_minor, cur)?,
        },
        requested_amount: money(r.requested_minor, cur)?,
        approved_amount: opt_money(r.approved_minor)?,
        amount_override: r.amount_override.map(from_json).transpose()?,
        refund_amount: opt_money(r.refund_amount_minor)?,
        refunded_amount: opt_money(r.refunded_minor)?,
        refund_reference: r.refund_reference,
        merchant_decision_deadline: r.merchant_decision_deadline,
        buyer_shipment_deadline: r.buyer_shipment_deadline,
        return_shipment: r.return_shipment.map(from_json).transpose()?,
        replacement_shipment_ref: r.replacement_shipment_ref,
        interception: r
            .interception
            .map(|i| parse(&i, InterceptionStatus::parse))
            .transpose()?,
        offers: from_json(r.offers)?,
        arbitration: r.arbitration.map(from_json).transpose()?,
        rejection_reason: r.rejection_reason,
        close_reason: r.close_reason,
        type_changes: from_json(r.type_changes)?,
        history: Vec::new(),
        created_by: from_json(r.created_by)?,
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}
