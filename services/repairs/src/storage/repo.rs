//! Repositories of repair orders and repair centers: map the aggregates to their rows and back,
//! and classify storage errors (unique violations) at this boundary.
//!
//! Every writer takes the aggregate's row lock ([`load_for_update`], [`load_center_for_update`])
//! before checking invariants; CHECK constraints and the partial unique index on open repair
//! orders are the second line of defence.

use super::entities::{repair_center, repair_order};
use crate::domain::{
    BuyerId, CaseId, Channel, ChargeId, Diagnosis, LineId, MerchantId, OrderId, Quote,
    QuoteDecision, RepairCenter, RepairCenterId, RepairCenterState, RepairOrder, RepairOrderFilter,
    RepairOrderId, RepairState, ShipmentId, UnrepairableResolution, UnrepairedReason, Warranty,
    WarrantyOverride,
};
use aftersales_kernel::Money;
use aftersales_platform::{AppError, AppResult, edge, edge::Page};
use aftersales_proto::common::v1::PageResponse;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, SqlErr,
    sea_query::{Expr, ExprTrait},
};
use serde::{Serialize, de::DeserializeOwned};

/// Name of the partial unique index behind `repair_order_already_open`.
const ONE_OPEN_PER_ITEM: &str = "repair_orders_one_open_per_item";
/// Name of the unique constraint behind `repair_center_code_taken`.
const CENTER_CODE_KEY: &str = "repair_centers_code_key";

fn corrupt(what: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("corrupt repair row: {what}"))
}

fn unique_violation(e: &DbErr, name: &str) -> bool {
    matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(detail)) if detail.contains(name))
}

// ---------------------------------------------------------------- repair orders

/// Loads a repair order (no lock): read RPCs.
pub async fn load<C: ConnectionTrait>(conn: &C, id: RepairOrderId) -> AppResult<RepairOrder> {
    let row = repair_order::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("repair order", id))?;
    to_domain(row)
}

/// Loads a repair order under `SELECT ... FOR UPDATE`: every change goes through this lock.
pub async fn load_for_update<C: ConnectionTrait>(
    conn: &C,
    id: RepairOrderId,
) -> AppResult<RepairOrder> {
    let row = repair_order::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("repair order", id))?;
    to_domain(row)
}

/// The open repair order of an item (order line + serial number), if any.
pub async fn find_open<C: ConnectionTrait>(
    conn: &C,
    line_id: LineId,
    serial_number: &str,
) -> AppResult<Option<RepairOrderId>> {
    let terminal: Vec<&str> = RepairState::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.as_str())
        .collect();
    let row = repair_order::Entity::find()
        .filter(repair_order::Column::LineId.eq(line_id.0))
        .filter(repair_order::Column::SerialNumber.eq(serial_number))
        .filter(repair_order::Column::State.is_not_in(terminal))
        .one(conn)
        .await?;
    Ok(row.map(|r| RepairOrderId(r.id)))
}

/// Inserts a new repair order; a concurrent open order for the same item (the partial unique
/// index) becomes `repair_order_already_open`.
pub async fn insert<C: ConnectionTrait>(conn: &C, o: &RepairOrder) -> AppResult<()> {
    let mut model = to_model(o)?;
    model.version = 1;
    match model.into_active_model().insert(conn).await {
        Ok(_) => Ok(()),
        Err(e) if unique_violation(&e, ONE_OPEN_PER_ITEM) => Err(AppError::rule(
            "repair_order_already_open",
            "a repair order is already open for this item",
        )),
        Err(e) => Err(e.into()),
    }
}

/// Writes a repair order (the caller holds its row lock) and bumps its version.
pub async fn save<C: ConnectionTrait>(conn: &C, o: &RepairOrder) -> AppResult<()> {
    let mut am = to_model(o)?.into_active_model().reset_all();
    am.version = ActiveValue::NotSet;
    am.id = ActiveValue::NotSet;
    let result = repair_order::Entity::update_many()
        .set(am)
        .col_expr(
            repair_order::Column::Version,
            Expr::col(repair_order::Column::Version).add(1),
        )
        .filter(repair_order::Column::Id.eq(o.id.0))
        .exec(conn)
        .await?;
    if result.rows_affected != 1 {
        return Err(AppError::not_found("repair order", o.id));
    }
    Ok(())
}

/// Lists repair orders matching `filter` (already scoped to the actor), oldest first (ids are
/// UUIDv7), one page.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &RepairOrderFilter,
    page: Page,
) -> AppResult<(Vec<RepairOrder>, PageResponse)> {
    use repair_order::Column as C;
    let mut q = repair_order::Entity::find();
    if let Some(v) = filter.order_id {
        q = q.filter(C::OrderId.eq(v.0));
    }
    if let Some(v) = filter.buyer_id {
        q = q.filter(C::BuyerId.eq(v.0));
    }
    if let Some(v) = filter.merchant_id {
        q = q.filter(C::MerchantId.eq(v.0));
    }
    if let Some(v) = filter.repair_center_id {
        q = q.filter(C::RepairCenterId.eq(v.0));
    }
    if let Some(v) = &filter.sku {
        q = q.filter(C::Sku.eq(v.clone()));
    }
    if let Some(v) = &filter.serial_number {
        q = q.filter(C::SerialNumber.eq(v.clone()));
    }
    if !filter.states.is_empty() {
        q = q.filter(C::State.is_in(filter.states.iter().map(|s| s.as_str())));
    }
    if let Some(v) = filter.in_warranty {
        q = q.filter(C::InWarranty.eq(v));
    }
    if let Some(v) = filter.requested_after {
        q = q.filter(C::RequestedAt.gte(v));
    }
    if let Some(v) = filter.requested_before {
        q = q.filter(C::RequestedAt.lt(v));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.gt(after));
    }
    let mut rows = q.order_by_asc(C::Id).limit(page.size + 1).all(conn).await?;
    let next = edge::next_page(&mut rows, page, |r| r.id);
    let orders = rows
        .into_iter()
        .map(to_domain)
        .collect::<AppResult<Vec<_>>>()?;
    Ok((orders, next))
}

fn to_json<T: Serialize>(v: &T) -> AppResult<serde_json::Value> {
    serde_json::to_value(v).map_err(|e| AppError::Internal(e.into()))
}

fn from_json<T: DeserializeOwned>(v: serde_json::Value, what: &str) -> AppResult<T> {
    serde_json::from_value(v).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn to_i32(v: u32) -> AppResult<i32> {
    i32::try_from(v).map_err(|_| corrupt("warranty months out of range"))
}

fn parse<T>(text: &str, parse: fn(&str) -> Option<T>, what: &str) -> AppResult<T> {
    parse(text).ok_or_else(|| corrupt(format!("{what} {text:?}")))
}

fn parse_opt<T>(
    text: Option<String>,
    p: fn(&str) -> Option<T>,
    what: &str,
) -> AppResult<Option<T>> {
    text.map(|t| parse(&t, p, what)).transpose()
}

fn to_model(o: &RepairOrder) -> AppResult<repair_order::Model> {
    let q = o.quote.as_ref();
    Ok(repair_order::Model {
        id: o.id.0,
        order_id: o.order_id.0,
        line_id: o.line_id.0,
        buyer_id: o.buyer_id.0,
        merchant_id: o.merchant_id.0,
        sku: o.sku.clone(),
        serial_number: o.serial_number.clone(),
        purchased_at: o.purchased_at,
        warranty_months: to_i32(o.warranty.months)?,
        warranty_ends_at: o.warranty.ends_at,
        computed_in_warranty: o.warranty.computed_in_warranty,
        in_warranty: o.in_warranty(),
        warranty_override: o.warranty.overridden.as_ref().map(to_json).transpose()?,
        symptom: o.symptom.clone(),
        evidence_refs: to_json(&o.evidence_refs)?,
        channel: o.channel.map(|c| c.as_str().to_owned()),
        state: o.state.as_str().to_owned(),
        repair_center_id: o.repair_center_id.map(|v| v.0),
        inbound_shipment_id: o.inbound_shipment_id.map(|v| v.0),
        return_shipment_id: o.return_shipment_id.map(|v| v.0),
        receipt_note: o.receipt_note.clone(),
        diagnosis: o.diagnosis.as_ref().map(to_json).transpose()?,
        quote_amount_minor: q.map(|q| q.amount.minor()),
        quote_currency: q.map(|q| q.amount.currency().to_string()),
        quote_description: q.and_then(|q| q.description.clone()),
        quote_submitted_at: q.map(|q| q.submitted_at),
        quote_sent_at: q.and_then(|q| q.sent_at),
        quote_expires_at: q.and_then(|q| q.expires_at),
        quote_decision: q.and_then(|q| q.decision).map(|d| d.as_str().to_owned()),
        quote_decided_at: q.and_then(|q| q.decided_at),
        quote_decline_reason: q.and_then(|q| q.decline_reason.clone()),
        quote_charge_id: q.and_then(|q| q.charge_id).map(|c| c.0),
        quote_paid_at: q.and_then(|q| q.paid_at),
        repair_notes: o.repair_notes.clone(),
        unrepairable_reason: o.unrepairable_reason.clone(),
        resolution: o.resolution.map(|r| r.as_str().to_owned()),
        converted_case_id: o.converted_case_id.map(|v| v.0),
        unrepaired_reason: o.unrepaired_reason.map(|r| r.as_str().to_owned()),
        cancel_reason: o.cancel_reason.clone(),
        requested_at: o.requested_at,
        received_at: o.received_at,
        repaired_at: o.repaired_at,
        shipped_back_at: o.shipped_back_at,
        completed_at: o.completed_at,
        updated_at: o.updated_at,
        version: 0,
    })
}

fn to_domain(r: repair_order::Model) -> AppResult<RepairOrder> {
    let quote = match (r.quote_amount_minor, r.quote_currency, r.quote_submitted_at) {
        (Some(minor), Some(currency), Some(submitted_at)) => Some(Quote {
            amount: Money::parse(minor, &currency).map_err(corrupt)?,
            description: r.quote_description,
            submitted_at,
            sent_at: r.quote_sent_at,
            expires_at: r.quote_expires_at,
            decision: parse_opt(r.quote_decision, QuoteDecision::parse, "quote decision")?,
            decided_at: r.quote_decided_at,
            decline_reason: r.quote_decline_reason,
            charge_id: r.quote_charge_id.map(ChargeId),
            paid_at: r.quote_paid_at,
        }),
        (None, None, _) => None,
        _ => return Err(corrupt("partial quote")),
    };
    let overridden: Option<WarrantyOverride> = r
        .warranty_override
        .map(|v| from_json(v, "warranty override"))
        .transpose()?;
    let diagnosis: Option<Diagnosis> =
        r.diagnosis.map(|v| from_json(v, "diagnosis")).transpose()?;
    Ok(RepairOrder {
        id: RepairOrderId(r.id),
        order_id: OrderId(r.order_id),
        line_id: LineId(r.line_id),
        buyer_id: BuyerId(r.buyer_id),
        merchant_id: MerchantId(r.merchant_id),
        sku: r.sku,
        serial_number: r.serial_number,
        purchased_at: r.purchased_at,
        warranty: Warranty {
            months: u32::try_from(r.warranty_months).map_err(corrupt)?,
            ends_at: r.warranty_ends_at,
            computed_in_warranty: r.computed_in_warranty,
            overridden,
        },
        symptom: r.symptom,
        evidence_refs: from_json(r.evidence_refs, "evidence refs")?,
        channel: parse_opt(r.channel, Channel::parse, "channel")?,
        state: parse(&r.state, RepairState::parse, "state")?,
        repair_center_id: r.repair_center_id.map(RepairCenterId),
        inbound_shipment_id: r.inbound_shipment_id.map(ShipmentId),
        return_shipment_id: r.return_shipment_id.map(ShipmentId),
        receipt_note: r.receipt_note,
        diagnosis,
        quote,
        repair_notes: r.repair_notes,
        unrepairable_reason: r.unrepairable_reason,
        resolution: parse_opt(r.resolution, UnrepairableResolution::parse, "resolution")?,
        converted_case_id: r.converted_case_id.map(CaseId),
        unrepaired_reason: parse_opt(r.unrepaired_reason, UnrepairedReason::parse, "reason")?,
        cancel_reason: r.cancel_reason,
        requested_at: r.requested_at,
        received_at: r.received_at,
        repaired_at: r.repaired_at,
        shipped_back_at: r.shipped_back_at,
        completed_at: r.completed_at,
        updated_at: r.updated_at,
    })
}

// ---------------------------------------------------------------- repair centers

/// Loads a repair center (no lock).
pub async fn load_center<C: ConnectionTrait>(
    conn: &C,
    id: RepairCenterId,
) -> AppResult<RepairCenter> {
    let row = repair_center::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("repair center", id))?;
    center_to_domain(row)
}

/// Loads a repair center under `FOR UPDATE` (suspend, reactivate).
pub async fn load_center_for_update<C: ConnectionTrait>(
    conn: &C,
    id: RepairCenterId,
) -> AppResult<RepairCenter> {
    let row = repair_center::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("repair center", id))?;
    center_to_domain(row)
}

/// Loads a repair center under `FOR SHARE`: an assignment sees a state no suspension can change
/// before it commits.
pub async fn load_center_for_share<C: ConnectionTrait>(
    conn: &C,
    id: RepairCenterId,
) -> AppResult<RepairCenter> {
    let row = repair_center::Entity::find_by_id(id.0)
        .lock_shared()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("repair center", id))?;
    center_to_domain(row)
}

fn code_taken(code: &str) -> AppError {
    AppError::AlreadyExists(format!(
        "repair_center_code_taken: repair center code {code:?} is already registered"
    ))
}

/// Inserts a new center; a taken code is `repair_center_code_taken` (ALREADY_EXISTS), whether
/// seen before the insert or raised by the unique constraint under a concurrent insert.
pub async fn insert_center<C: ConnectionTrait>(conn: &C, c: &RepairCenter) -> AppResult<()> {
    let taken = repair_center::Entity::find()
        .filter(repair_center::Column::Code.eq(c.code.clone()))
        .one(conn)
        .await?;
    if taken.is_some() {
        return Err(code_taken(&c.code));
    }
    match center_model(c).into_active_model().insert(conn).await {
        Ok(_) => Ok(()),
        Err(e) if unique_violation(&e, CENTER_CODE_KEY) => Err(code_taken(&c.code)),
        Err(e) => Err(e.into()),
    }
}

/// Writes a center (the caller holds its row lock).
pub async fn save_center<C: ConnectionTrait>(conn: &C, c: &RepairCenter) -> AppResult<()> {
    center_model(c)
        .into_active_model()
        .reset_all()
        .update(conn)
        .await?;
    Ok(())
}

/// Lists centers, optionally in one state, oldest first, one page.
pub async fn list_centers<C: ConnectionTrait>(
    conn: &C,
    state: Option<RepairCenterState>,
    page: Page,
) -> AppResult<(Vec<RepairCenter>, PageResponse)> {
    let mut q = repair_center::Entity::find();
    if let Some(s) = state {
        q = q.filter(repair_center::Column::State.eq(s.as_str()));
    }
    if let Some(after) = page.after {
        q = q.filter(repair_center::Column::Id.gt(after));
    }
    let mut rows = q
        .order_by_asc(repair_center::Column::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let next = edge::next_page(&mut rows, page, |r| r.id);
    let centers = rows
        .into_iter()
        .map(center_to_domain)
        .collect::<AppResult<Vec<_>>>()?;
    Ok((centers, next))
}

fn center_model(c: &RepairCenter) -> repair_center::Model {
    repair_center::Model {
        id: c.id.0,
        code: c.code.clone(),
        name: c.name.clone(),
        state: c.state.as_str().to_owned(),
        suspend_reason: c.suspend_reason.clone(),
        created_at: c.created_at,
        updated_at: c.updated_at,
    }
}

fn center_to_domain(r: repair_center::Model) -> AppResult<RepairCenter> {
    Ok(RepairCenter {
        id: RepairCenterId(r.id),
        code: r.code,
        name: r.name,
        state: parse(&r.state, RepairCenterState::parse, "center state")?,
        suspend_reason: r.suspend_reason,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}
