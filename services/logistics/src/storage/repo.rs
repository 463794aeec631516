//! The logistics repository: maps shipments, tracking events, interceptions and corrections to
//! their rows and back.
//!
//! Every writer of a shipment, its events or its interceptions takes the shipment row lock
//! ([`load_for_update`]) first, so changes to one shipment are serialized. The unique indexes
//! are the backstop of the uniqueness rules; their violations are reported as those rules.

use super::entities::{interception, shipment, tracking_correction, tracking_event};
use crate::domain::{
    Actor, ActorKind, Address, CaseId, CorrectionId, Direction, ExceptionKind, FeePayer,
    Interception, InterceptionFilter, InterceptionId, InterceptionState, MerchantId, OrderId,
    RepairId, Shipment, ShipmentFilter, ShipmentId, ShipmentState, TrackingCorrection,
    TrackingEvent, TrackingEventId, TrackingStatus, WaybillState,
};
use aftersales_kernel::Money;
use aftersales_platform::{
    AppError, AppResult,
    edge::{self, Page},
};
use aftersales_proto::common::v1::PageResponse;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};
use uuid::Uuid;

/// Index names whose violations are business rules.
const TRACKING_KEY: &str = "shipments_courier_tracking_key";
const COURIER_EVENT_KEY: &str = "tracking_events_courier_event_key";
const ONE_OPEN_INTERCEPTION: &str = "interceptions_one_open";

/// The error of a tracking number already used by another shipment of the courier.
pub fn tracking_number_taken(courier_code: &str, tracking_number: &str) -> AppError {
    AppError::AlreadyExists(format!(
        "tracking_number_taken: {courier_code} tracking number {tracking_number} belongs to another shipment"
    ))
}

fn unique_violation(e: DbErr, courier_code: &str, tracking_number: &str) -> AppError {
    let text = e.to_string();
    if text.contains(TRACKING_KEY) {
        return tracking_number_taken(courier_code, tracking_number);
    }
    if text.contains(COURIER_EVENT_KEY) {
        return AppError::rule(
            "courier_event_id_conflict",
            "this courier event id was recorded for another shipment",
        );
    }
    if text.contains(ONE_OPEN_INTERCEPTION) {
        return AppError::rule(
            "interception_already_open",
            "the shipment already has an open interception",
        );
    }
    AppError::from(e)
}

fn corrupt(what: &str, detail: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!(
        "stored logistics record is unreadable: {what}: {detail}"
    ))
}

fn parse<T>(what: &str, value: &str, f: impl Fn(&str) -> Option<T>) -> AppResult<T> {
    f(value).ok_or_else(|| corrupt(what, value))
}

fn parse_opt<T>(
    what: &str,
    value: Option<&str>,
    f: impl Fn(&str) -> Option<T>,
) -> AppResult<Option<T>> {
    value.map(|v| parse(what, v, &f)).transpose()
}

fn actor(kind: &str, id: String) -> AppResult<Actor> {
    Ok(Actor {
        kind: parse("actor kind", kind, ActorKind::parse)?,
        id,
    })
}

// ---------------------------------------------------------------------------------------------
// Shipments

/// Loads a shipment (no lock): read RPCs.
pub async fn load<C: ConnectionTrait>(conn: &C, id: ShipmentId) -> AppResult<Shipment> {
    let row = shipment::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("shipment", id))?;
    shipment_to_domain(row)
}

/// Loads a shipment under `SELECT ... FOR UPDATE`: every change of the shipment, its tracking
/// events and its interceptions goes through this lock.
pub async fn load_for_update<C: ConnectionTrait>(conn: &C, id: ShipmentId) -> AppResult<Shipment> {
    let row = shipment::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("shipment", id))?;
    shipment_to_domain(row)
}

/// The id of the shipment with this courier and tracking number, if any: the live one (a voided
/// waybill frees its number), else the most recently voided one.
pub async fn find_by_tracking_number<C: ConnectionTrait>(
    conn: &C,
    courier_code: &str,
    tracking_number: &str,
) -> AppResult<Option<ShipmentId>> {
    if let Some(id) = find_live_by_tracking_number(conn, courier_code, tracking_number).await? {
        return Ok(Some(id));
    }
    let row = shipment::Entity::find()
        .filter(shipment::Column::CourierCode.eq(courier_code))
        .filter(shipment::Column::TrackingNumber.eq(tracking_number))
        .order_by_desc(shipment::Column::Id)
        .one(conn)
        .await?;
    Ok(row.map(|r| ShipmentId(r.id)))
}

/// The id of the shipment not voided with this courier and tracking number, if any.
async fn find_live_by_tracking_number<C: ConnectionTrait>(
    conn: &C,
    courier_code: &str,
    tracking_number: &str,
) -> AppResult<Option<ShipmentId>> {
    let row = shipment::Entity::find()
        .filter(shipment::Column::CourierCode.eq(courier_code))
        .filter(shipment::Column::TrackingNumber.eq(tracking_number))
        .filter(shipment::Column::State.ne(ShipmentState::Voided.as_str()))
        .one(conn)
        .await?;
    Ok(row.map(|r| ShipmentId(r.id)))
}

/// Refuses a tracking number another live (not voided) shipment of the courier already has
/// (ALREADY_EXISTS `tracking_number_taken`); the partial unique index is the backstop.
pub async fn ensure_tracking_number_free<C: ConnectionTrait>(
    conn: &C,
    courier_code: &str,
    tracking_number: &str,
    except: ShipmentId,
) -> AppResult<()> {
    match find_live_by_tracking_number(conn, courier_code, tracking_number).await? {
        Some(id) if id != except => Err(tracking_number_taken(courier_code, tracking_number)),
        _ => Ok(()),
    }
}

/// The forward shipments of an order, oldest first, each under `SELECT ... FOR UPDATE`, after
/// taking the order's transaction-scoped advisory lock: order-wide changes (VoidOrderWaybills,
/// ReissueOrderWaybills, an interception by order) are serialized, and the second waits for the
/// first to commit and then sees its rows, including shipments the first created.
pub async fn forward_shipments_for_update<C: ConnectionTrait>(
    conn: &C,
    order_id: OrderId,
) -> AppResult<Vec<Shipment>> {
    conn.query_one_raw(Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        [format!("logistics.order:{order_id}").into()],
    ))
    .await?;
    shipment::Entity::find()
        .filter(shipment::Column::OrderId.eq(order_id.0))
        .filter(shipment::Column::Direction.eq(Direction::Forward.as_str()))
        .order_by_asc(shipment::Column::Id)
        .lock_exclusive()
        .all(conn)
        .await?
        .into_iter()
        .map(shipment_to_domain)
        .collect()
}

/// Inserts a new shipment.
pub async fn insert<C: ConnectionTrait>(conn: &C, s: &Shipment) -> AppResult<()> {
    shipment_model(s)?
        .into_active_model()
        .insert(conn)
        .await
        .map_err(|e| unique_violation(e, &s.courier_code, &s.tracking_number))?;
    Ok(())
}

/// Writes the shipment row (the caller holds its lock).
pub async fn save<C: ConnectionTrait>(conn: &C, s: &Shipment) -> AppResult<()> {
    shipment_model(s)?
        .into_active_model()
        .reset_all()
        .update(conn)
        .await
        .map_err(|e| unique_violation(e, &s.courier_code, &s.tracking_number))?;
    Ok(())
}

/// Lists shipments matching `filter`, newest first (ids are UUIDv7), one page.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    filter: &ShipmentFilter,
    page: Page,
) -> AppResult<(Vec<Shipment>, PageResponse)> {
    use shipment::Column as C;
    let mut q = shipment::Entity::find();
    if let Some(v) = &filter.courier_code {
        q = q.filter(C::CourierCode.eq(v.clone()));
    }
    if let Some(v) = filter.direction {
        q = q.filter(C::Direction.eq(v.as_str()));
    }
    if let Some(v) = filter.state {
        q = q.filter(C::State.eq(v.as_str()));
    }
    if let Some(v) = filter.waybill_state {
        q = q.filter(C::WaybillState.eq(v.as_str()));
    }
    if let Some(v) = filter.exception_kind {
        q = q.filter(C::ExceptionKind.eq(v.as_str()));
    }
    if let Some(v) = filter.order_id {
        q = q.filter(C::OrderId.eq(v.0));
    }
    if let Some(v) = filter.case_id {
        q = q.filter(C::CaseId.eq(v.0));
    }
    if let Some(v) = filter.repair_id {
        q = q.filter(C::RepairId.eq(v.0));
    }
    if let Some(v) = filter.merchant_id {
        q = q.filter(C::MerchantId.eq(v.0));
    }
    if let Some(v) = &filter.tracking_number {
        q = q.filter(C::TrackingNumber.eq(v.clone()));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    let mut rows = q
        .order_by_desc(C::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let next = edge::next_page(&mut rows, page, |r| r.id);
    let items = rows
        .into_iter()
        .map(shipment_to_domain)
        .collect::<AppResult<Vec<_>>>()?;
    Ok((items, next))
}

/// Ids of shipments in transit whose last scan is at or before `cutoff`, oldest scan first, at
/// most `limit`.
pub async fn stuck_candidates<C: ConnectionTrait>(
    conn: &C,
    cutoff: DateTime<Utc>,
    limit: u64,
) -> AppResult<Vec<ShipmentId>> {
    use shipment::Column as C;
    let rows = shipment::Entity::find()
        .select_only()
        .column(C::Id)
        .filter(C::State.is_in([
            ShipmentState::PickedUp.as_str(),
            ShipmentState::InTransit.as_str(),
            ShipmentState::OutForDelivery.as_str(),
        ]))
        .filter(C::LastScanAt.lte(cutoff))
        .order_by_asc(C::LastScanAt)
        .order_by_asc(C::Id)
        .limit(limit)
        .into_tuple::<Uuid>()
        .all(conn)
        .await?;
    Ok(rows.into_iter().map(ShipmentId).collect())
}

fn shipment_model(s: &Shipment) -> AppResult<shipment::Model> {
    let origin = s
        .origin
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|e| corrupt("origin", e))?;
    Ok(shipment::Model {
        id: s.id.0,
        direction: s.direction.as_str().to_owned(),
        courier_code: s.courier_code.clone(),
        tracking_number: s.tracking_number.clone(),
        order_id: s.order_id.0,
        case_id: s.case_id.map(|c| c.0),
        repair_id: s.repair_id.map(|r| r.0),
        merchant_id: s.merchant_id.0,
        origin,
        destination: serde_json::to_value(&s.destination).map_err(|e| corrupt("destination", e))?,
        shipping_fee_minor: s.shipping_fee.map(|m| m.minor()),
        shipping_fee_currency: s.shipping_fee.map(|m| m.currency().as_str().to_owned()),
        fee_payer: s.fee_payer.as_str().to_owned(),
        waybill_state: s.waybill_state.as_str().to_owned(),
        state: s.state.as_str().to_owned(),
        exception_kind: s.exception_kind.map(|k| k.as_str().to_owned()),
        milestone: s.milestone.as_str().to_owned(),
        eta: s.eta,
        last_scan_at: s.last_scan_at,
        last_event_at: s.last_event_at,
        created_at: s.created_at,
        updated_at: s.updated_at,
        printed_at: s.printed_at,
        uploaded_at: s.uploaded_at,
        voided_at: s.voided_at,
        void_reason: s.void_reason.clone(),
        picked_up_at: s.picked_up_at,
        signed_at: s.signed_at,
        correction_count: i32::try_from(s.correction_count)
            .map_err(|_| corrupt("correction_count", s.correction_count))?,
        created_by_kind: s.created_by.kind.as_str().to_owned(),
        created_by_id: s.created_by.id.clone(),
        voided_for_case_id: s.voided_for_case.map(|c| c.0),
        reissued_from_id: s.reissued_from.map(|r| r.0),
    })
}

fn shipment_to_domain(r: shipment::Model) -> AppResult<Shipment> {
    let shipping_fee = match (r.shipping_fee_minor, r.shipping_fee_currency.as_deref()) {
        (Some(minor), Some(cur)) => {
            Some(Money::parse(minor, cur).map_err(|e| corrupt("shipping_fee", e))?)
        }
        _ => None,
    };
    let origin: Option<Address> = r
        .origin
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| corrupt("origin", e))?;
    let destination: Address =
        serde_json::from_value(r.destination).map_err(|e| corrupt("destination", e))?;
    Ok(Shipment {
        id: ShipmentId(r.id),
        direction: parse("direction", &r.direction, Direction::parse)?,
        courier_code: r.courier_code,
        tracking_number: r.tracking_number,
        order_id: OrderId(r.order_id),
        case_id: r.case_id.map(CaseId),
        repair_id: r.repair_id.map(RepairId),
        merchant_id: MerchantId(r.merchant_id),
        origin,
        destination,
        shipping_fee,
        fee_payer: parse("fee_payer", &r.fee_payer, FeePayer::parse)?,
        waybill_state: parse("waybill_state", &r.waybill_state, WaybillState::parse)?,
        state: parse("state", &r.state, ShipmentState::parse)?,
        exception_kind: parse_opt(
            "exception_kind",
            r.exception_kind.as_deref(),
            ExceptionKind::parse,
        )?,
        milestone: parse("milestone", &r.milestone, ShipmentState::parse)?,
        eta: r.eta,
        last_scan_at: r.last_scan_at,
        last_event_at: r.last_event_at,
        created_at: r.created_at,
        updated_at: r.updated_at,
        printed_at: r.printed_at,
        uploaded_at: r.uploaded_at,
        voided_at: r.voided_at,
        void_reason: r.void_reason,
        picked_up_at: r.picked_up_at,
        signed_at: r.signed_at,
        correction_count: u32::try_from(r.correction_count)
            .map_err(|_| corrupt("correction_count", r.correction_count))?,
        created_by: actor(&r.created_by_kind, r.created_by_id)?,
        voided_for_case: r.voided_for_case_id.map(CaseId),
        reissued_from: r.reissued_from_id.map(ShipmentId),
    })
}

// ---------------------------------------------------------------------------------------------
// Tracking events

/// The event already recorded under `(courier_code, courier_event_id)`, if any: the duplicate
/// check of [`Shipment::record_scan`].
pub async fn find_event<C: ConnectionTrait>(
    conn: &C,
    courier_code: &str,
    courier_event_id: &str,
) -> AppResult<Option<TrackingEvent>> {
    tracking_event::Entity::find()
        .filter(tracking_event::Column::CourierCode.eq(courier_code))
        .filter(tracking_event::Column::CourierEventId.eq(courier_event_id))
        .one(conn)
        .await?
        .map(event_to_domain)
        .transpose()
}

/// Appends a tracking event.
pub async fn insert_event<C: ConnectionTrait>(conn: &C, e: &TrackingEvent) -> AppResult<()> {
    tracking_event::Model {
        id: e.id.0,
        shipment_id: e.shipment_id.0,
        courier_code: e.courier_code.clone(),
        courier_event_id: e.courier_event_id.clone(),
        status: e.status.as_str().to_owned(),
        exception_kind: e.exception_kind.map(|k| k.as_str().to_owned()),
        occurred_at: e.occurred_at,
        received_at: e.received_at,
        location: e.location.clone(),
        description: e.description.clone(),
        applied: e.applied,
    }
    .into_active_model()
    .insert(conn)
    .await
    .map_err(|err| unique_violation(err, "", ""))?;
    Ok(())
}

/// Lists the tracking events of one shipment ordered by `occurred_at` (then id); the page token
/// is the id of the last event of the previous page.
pub async fn list_events<C: ConnectionTrait>(
    conn: &C,
    shipment_id: ShipmentId,
    page: Page,
) -> AppResult<(Vec<TrackingEvent>, PageResponse)> {
    use tracking_event::Column as C;
    let mut q = tracking_event::Entity::find().filter(C::ShipmentId.eq(shipment_id.0));
    if let Some(after) = page.after {
        let last = tracking_event::Entity::find_by_id(after)
            .filter(C::ShipmentId.eq(shipment_id.0))
            .one(conn)
            .await?
            .ok_or_else(|| AppError::field("page.page_token", "is not a token from this api"))?;
        q = q.filter(
            Condition::any()
                .add(C::OccurredAt.gt(last.occurred_at))
                .add(
                    Condition::all()
                        .add(C::OccurredAt.eq(last.occurred_at))
                        .add(C::Id.gt(after)),
                ),
        );
    }
    let mut rows = q
        .order_by_asc(C::OccurredAt)
        .order_by_asc(C::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let next = edge::next_page(&mut rows, page, |r| r.id);
    let items = rows
        .into_iter()
        .map(event_to_domain)
        .collect::<AppResult<Vec<_>>>()?;
    Ok((items, next))
}

fn event_to_domain(r: tracking_event::Model) -> AppResult<TrackingEvent> {
    Ok(TrackingEvent {
        id: TrackingEventId(r.id),
        shipment_id: ShipmentId(r.shipment_id),
        courier_code: r.courier_code,
        courier_event_id: r.courier_event_id,
        status: parse("status", &r.status, TrackingStatus::parse)?,
        exception_kind: parse_opt(
            "exception_kind",
            r.exception_kind.as_deref(),
            ExceptionKind::parse,
        )?,
        occurred_at: r.occurred_at,
        received_at: r.received_at,
        location: r.location,
        description: r.description,
        applied: r.applied,
    })
}

// ---------------------------------------------------------------------------------------------
// Interceptions

/// Loads an interception (no lock).
pub async fn load_interception<C: ConnectionTrait>(
    conn: &C,
    id: InterceptionId,
) -> AppResult<Interception> {
    let row = interception::Entity::find_by_id(id.0)
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("interception", id))?;
    interception_to_domain(row)
}

/// Loads an interception under a row lock; take the shipment lock first.
pub async fn load_interception_for_update<C: ConnectionTrait>(
    conn: &C,
    id: InterceptionId,
) -> AppResult<Interception> {
    let row = interception::Entity::find_by_id(id.0)
        .lock_exclusive()
        .one(conn)
        .await?
        .ok_or_else(|| AppError::not_found("interception", id))?;
    interception_to_domain(row)
}

/// The open (non-terminal) interception of a shipment, locked; take the shipment lock first.
pub async fn open_interception_for_update<C: ConnectionTrait>(
    conn: &C,
    shipment_id: ShipmentId,
) -> AppResult<Option<Interception>> {
    interception::Entity::find()
        .filter(interception::Column::ShipmentId.eq(shipment_id.0))
        .filter(interception::Column::State.is_in([
            InterceptionState::Requested.as_str(),
            InterceptionState::Accepted.as_str(),
            InterceptionState::Intercepted.as_str(),
        ]))
        .lock_exclusive()
        .one(conn)
        .await?
        .map(interception_to_domain)
        .transpose()
}

pub async fn insert_interception<C: ConnectionTrait>(conn: &C, i: &Interception) -> AppResult<()> {
    interception_model(i)
        .into_active_model()
        .insert(conn)
        .await
        .map_err(|e| unique_violation(e, "", ""))?;
    Ok(())
}

pub async fn save_interception<C: ConnectionTrait>(conn: &C, i: &Interception) -> AppResult<()> {
    interception_model(i)
        .into_active_model()
        .reset_all()
        .update(conn)
        .await
        .map_err(|e| unique_violation(e, "", ""))?;
    Ok(())
}

/// Lists interceptions matching `filter`, newest first, one page.
pub async fn list_interceptions<C: ConnectionTrait>(
    conn: &C,
    filter: &InterceptionFilter,
    page: Page,
) -> AppResult<(Vec<Interception>, PageResponse)> {
    use interception::Column as C;
    let mut q = interception::Entity::find();
    if let Some(v) = filter.shipment_id {
        q = q.filter(C::ShipmentId.eq(v.0));
    }
    if let Some(v) = &filter.courier_code {
        q = q.filter(C::CourierCode.eq(v.clone()));
    }
    if let Some(v) = filter.state {
        q = q.filter(C::State.eq(v.as_str()));
    }
    if let Some(v) = filter.case_id {
        q = q.filter(C::CaseId.eq(v.0));
    }
    if let Some(after) = page.after {
        q = q.filter(C::Id.lt(after));
    }
    let mut rows = q
        .order_by_desc(C::Id)
        .limit(page.size + 1)
        .all(conn)
        .await?;
    let next = edge::next_page(&mut rows, page, |r| r.id);
    let items = rows
        .into_iter()
        .map(interception_to_domain)
        .collect::<AppResult<Vec<_>>>()?;
    Ok((items, next))
}

fn interception_model(i: &Interception) -> interception::Model {
    interception::Model {
        id: i.id.0,
        shipment_id: i.shipment_id.0,
        courier_code: i.courier_code.clone(),
        state: i.state.as_str().to_owned(),
        reason: i.reason.clone(),
        failure_reason: i.failure_reason.clone(),
        case_id: i.case_id.map(|c| c.0),
        requested_by_kind: i.requested_by.kind.as_str().to_owned(),
        requested_by_id: i.requested_by.id.clone(),
        requested_at: i.requested_at,
        updated_at: i.updated_at,
        closed_at: i.closed_at,
    }
}

fn interception_to_domain(r: interception::Model) -> AppResult<Interception> {
    Ok(Interception {
        id: InterceptionId(r.id),
        shipment_id: ShipmentId(r.shipment_id),
        courier_code: r.courier_code,
        state: parse("interception state", &r.state, InterceptionState::parse)?,
        reason: r.reason,
        failure_reason: r.failure_reason,
        case_id: r.case_id.map(CaseId),
        requested_by: actor(&r.requested_by_kind, r.requested_by_id)?,
        requested_at: r.requested_at,
        updated_at: r.updated_at,
        closed_at: r.closed_at,
    })
}

// ---------------------------------------------------------------------------------------------
// Tracking number corrections

/// Appends a correction audit record.
pub async fn insert_correction<C: ConnectionTrait>(
    conn: &C,
    c: &TrackingCorrection,
) -> AppResult<()> {
    tracking_correction::Model {
        id: c.id.0,
        shipment_id: c.shipment_id.0,
        old_tracking_number: c.old_tracking_number.clone(),
        new_tracking_number: c.new_tracking_number.clone(),
        corrected_by_kind: c.corrected_by.kind.as_str().to_owned(),
        corrected_by_id: c.corrected_by.id.clone(),
        corrected_at: c.corrected_at,
        reason: c.reason.clone(),
    }
    .into_active_model()
    .insert(conn)
    .await?;
    Ok(())
}

/// Lists the corrections of one shipment, oldest first, one page.
pub async fn list_corrections<C: ConnectionTrait>(
    conn: &C,
    shipment_id: ShipmentId,
    page: Page,
) -> AppResult<(Vec<TrackingCorrection>, PageResponse)> {
    use tracking_correction::Column as C;
    let mut q = tracking_correction::Entity::find().filter(C::ShipmentId.eq(shipment_id.0));
    if let Some(after) = page.after {
        q = q.filter(C::Id.gt(after));
    }
    let mut rows = q.order_by_asc(C::Id).limit(page.size + 1).all(conn).await?;
    let next = edge::next_page(&mut rows, page, |r| r.id);
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(TrackingCorrection {
                id: CorrectionId(r.id),
                shipment_id: ShipmentId(r.shipment_id),
                old_tracking_number: r.old_tracking_number,
                new_tracking_number: r.new_tracking_number,
                corrected_by: actor(&r.corrected_by_kind, r.corrected_by_id)?,
                corrected_at: r.corrected_at,
                reason: r.reason,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok((items, next))
}
