//! The gRPC `LogisticsService`: parses and validates every request before touching the
//! database, then runs each change as one transaction (shipment row lock, domain transition,
//! rows, outbox events, idempotency record).

pub mod convert;

use crate::Config;
use crate::domain::{
    self, Actor, CaseId, CorrectionId, Event, FollowUpDraft, Interception, InterceptionFilter,
    InterceptionId, InterceptionResult, MerchantId, OPERATORS, OrderId, Policy, RepairId, Shipment,
    ShipmentDraft, ShipmentFilter, ShipmentId, TrackingEventId, TrackingReportInput,
};
use crate::messaging::events;
use crate::storage::repo;
use aftersales_kernel::DomainError;
use aftersales_platform::{AppError, AppResult, Runtime, Store, Tx, edge};
use aftersales_proto::logistics::v1::{self as pb, logistics_service_server::LogisticsService};
use chrono::{DateTime, Timelike, Utc};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The logistics API over the store and the configured policy.
#[derive(Clone)]
pub struct LogisticsApi {
    store: Store,
    policy: Arc<Policy>,
}

impl LogisticsApi {
    /// Builds the API; fails when the `[service]` configuration is invalid (naming the key).
    pub fn new(rt: &Runtime<Config>) -> anyhow::Result<Self> {
        Ok(Self::with_policy(
            rt.store.clone(),
            rt.settings.service.policy()?,
        ))
    }

    pub fn with_policy(store: Store, policy: Policy) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
        }
    }

    /// One pass of the stuck-shipment sweep as the scheduler runs it; `true` when more remain.
    pub async fn sweep_stuck(self) -> anyhow::Result<bool> {
        let resp = self
            .mark_stuck_shipments(Request::new(pb::MarkStuckShipmentsRequest {
                idempotency_key: uuid::Uuid::now_v7().to_string(),
                actor: Some(aftersales_proto::common::v1::Actor {
                    kind: aftersales_proto::common::v1::ActorKind::System as i32,
                    id: "logistics-sweep".into(),
                }),
                limit: 100,
            }))
            .await
            .map_err(|s| anyhow::anyhow!("MarkStuckShipments: {}", s.message()))?;
        Ok(resp.into_inner().more)
    }

    /// Runs one waybill change of a shipment exactly once per idempotency key: locks the
    /// shipment, applies `apply`, writes it, publishes the event and returns `wrap(shipment)`.
    async fn change_shipment<Req, R, A>(
        &self,
        scope: &'static str,
        req: &Req,
        key: &str,
        id: ShipmentId,
        wrap: fn(pb::Shipment) -> R,
        apply: A,
    ) -> AppResult<R>
    where
        Req: prost::Message,
        R: prost::Message + Default + Send + 'static,
        A: FnOnce(&mut Shipment) -> Result<Event, DomainError> + Send + 'static,
    {
        self.store
            .idempotent(scope, key, req, move |tx| {
                Box::pin(async move {
                    let mut shipment = repo::load_for_update(tx.conn(), id).await?;
                    let event = apply(&mut shipment).map_err(convert::domain_error)?;
                    repo::save(tx.conn(), &shipment).await?;
                    tx.publish(&events::shipment_event(&shipment, event)?)
                        .await?;
                    log_change(&shipment, scope);
                    Ok(wrap(convert::shipment_to_pb(&shipment)))
                })
            })
            .await
    }
}

fn log_change(s: &Shipment, rpc: &str) {
    tracing::info!(
        shipment_id = %s.id,
        state = s.state.as_str(),
        waybill_state = s.waybill_state.as_str(),
        rpc,
        "shipment changed"
    );
}

/// Publishes `event` about `interception` after saving it.
async fn publish_interception(
    tx: &Tx,
    interception: &Interception,
    shipment: &Shipment,
    event: Event,
) -> AppResult<()> {
    repo::save_interception(tx.conn(), interception).await?;
    tx.publish(&events::interception_event(interception, shipment, event)?)
        .await?;
    tracing::info!(
        interception_id = %interception.id,
        state = interception.state.as_str(),
        "interception changed"
    );
    Ok(())
}

/// Writes a shipment just created (its tracking number must be free: ALREADY_EXISTS
/// `tracking_number_taken` otherwise) and publishes its `event`.
async fn insert_created(tx: &Tx, shipment: &Shipment, event: Event, rpc: &str) -> AppResult<()> {
    repo::ensure_tracking_number_free(
        tx.conn(),
        &shipment.courier_code,
        &shipment.tracking_number,
        shipment.id,
    )
    .await?;
    repo::insert(tx.conn(), shipment).await?;
    tx.publish(&events::shipment_event(shipment, event)?)
        .await?;
    log_change(shipment, rpc);
    Ok(())
}

/// The current time at PostgreSQL's precision (microseconds), so that a response and a later
/// read agree.
fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

/// Earliest accepted `occurred_at`: older values are typos (and outside what storage keeps).
fn earliest_scan() -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(946_684_800, 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

fn dom<T>(r: Result<T, DomainError>) -> AppResult<T> {
    r.map_err(convert::domain_error)
}

/// The order's newest forward shipment whose waybill is not voided, locked.
async fn live_forward_shipment(tx: &Tx, order: OrderId) -> AppResult<Shipment> {
    let shipments = repo::forward_shipments_for_update(tx.conn(), order).await?;
    domain::live_forward_shipment(&shipments)
        .cloned()
        .ok_or_else(|| AppError::not_found("forward shipment of order", order.0))
}

fn shipment_id(field: &str, value: &str) -> AppResult<ShipmentId> {
    edge::uuid(field, value).map(ShipmentId)
}

fn optional_text(field: &str, value: &str) -> AppResult<Option<String>> {
    dom(domain::optional_long(field, value))
}

fn scoped_read(actor: &Actor, courier_code: &str) -> AppResult<()> {
    dom(actor.ensure_courier(courier_code))
}

#[tonic::async_trait]
impl LogisticsService for LogisticsApi {
    async fn create_shipment(
        &self,
        request: Request<pb::CreateShipmentRequest>,
    ) -> Result<Response<pb::CreateShipmentResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let draft = ShipmentDraft {
            direction: convert::direction("direction", req.direction)?,
            courier_code: &req.courier_code,
            tracking_number: &req.tracking_number,
            order_id: &req.order_id,
            case_id: &req.case_id,
            repair_id: &req.repair_id,
            merchant_id: &req.merchant_id,
            origin: req.origin.as_ref().map(convert::address_input),
            destination: req.destination.as_ref().map(convert::address_input),
            shipping_fee: req
                .shipping_fee
                .as_ref()
                .map(|m| (m.minor_units, m.currency.as_str())),
            fee_payer: convert::fee_payer("fee_payer", req.fee_payer)?,
        };
        let new = dom(draft.validate())?;
        let now = now();
        let (shipment, event) = dom(Shipment::create(
            ShipmentId::generate(),
            new,
            &actor,
            now,
            &self.policy,
        ))?;
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.CreateShipment", &key, &req, move |tx| {
                Box::pin(async move {
                    insert_created(tx, &shipment, event, "CreateShipment").await?;
                    Ok(pb::CreateShipmentResponse {
                        shipment: Some(convert::shipment_to_pb(&shipment)),
                    })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_shipment(
        &self,
        request: Request<pb::GetShipmentRequest>,
    ) -> Result<Response<pb::GetShipmentResponse>, Status> {
        let req = request.into_inner();
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let shipment = repo::load(&self.store.db, id).await?;
        scoped_read(&actor, &shipment.courier_code)?;
        Ok(Response::new(pb::GetShipmentResponse {
            shipment: Some(convert::shipment_to_pb(&shipment)),
        }))
    }

    async fn list_shipments(
        &self,
        request: Request<pb::ListShipmentsRequest>,
    ) -> Result<Response<pb::ListShipmentsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let courier_code = match req.courier_code.as_str() {
            "" => None,
            c => Some(dom(domain::courier_code("courier_code", c))?),
        };
        let tracking_number = match req.tracking_number.as_str() {
            "" => None,
            t => Some(dom(domain::tracking_number("tracking_number", t))?),
        };
        let filter = ShipmentFilter {
            courier_code,
            direction: convert::direction("direction", req.direction)?,
            state: convert::shipment_state("state", req.state)?,
            waybill_state: convert::waybill_state("waybill_state", req.waybill_state)?,
            exception_kind: convert::exception_kind("exception_kind", req.exception_kind)?,
            order_id: edge::optional_uuid("order_id", &req.order_id)?.map(OrderId),
            case_id: edge::optional_uuid("case_id", &req.case_id)?.map(CaseId),
            repair_id: edge::optional_uuid("repair_id", &req.repair_id)?.map(RepairId),
            merchant_id: edge::optional_uuid("merchant_id", &req.merchant_id)?.map(MerchantId),
            tracking_number,
        };
        let filter = dom(filter.scoped(&actor))?;
        let (items, next) = repo::list(&self.store.db, &filter, page).await?;
        Ok(Response::new(pb::ListShipmentsResponse {
            items: items.iter().map(convert::shipment_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn print_waybill(
        &self,
        request: Request<pb::PrintWaybillRequest>,
    ) -> Result<Response<pb::PrintWaybillResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let now = now();
        let resp = self
            .change_shipment(
                "logistics.PrintWaybill",
                &req,
                &req.idempotency_key,
                id,
                |s| pb::PrintWaybillResponse { shipment: Some(s) },
                move |s| s.print_waybill(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn upload_waybill(
        &self,
        request: Request<pb::UploadWaybillRequest>,
    ) -> Result<Response<pb::UploadWaybillResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let now = now();
        let resp = self
            .change_shipment(
                "logistics.UploadWaybill",
                &req,
                &req.idempotency_key,
                id,
                |s| pb::UploadWaybillResponse { shipment: Some(s) },
                move |s| s.upload_waybill(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn void_waybill(
        &self,
        request: Request<pb::VoidWaybillRequest>,
    ) -> Result<Response<pb::VoidWaybillResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let reason = optional_text("reason", &req.reason)?;
        let now = now();
        let resp = self
            .change_shipment(
                "logistics.VoidWaybill",
                &req,
                &req.idempotency_key,
                id,
                |s| pb::VoidWaybillResponse { shipment: Some(s) },
                move |s| s.void_waybill(&actor, reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn void_order_waybills(
        &self,
        request: Request<pb::VoidOrderWaybillsRequest>,
    ) -> Result<Response<pb::VoidOrderWaybillsResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let order_id = edge::uuid("order_id", &req.order_id).map(OrderId)?;
        let case_id = edge::uuid("case_id", &req.case_id).map(CaseId)?;
        let reason = dom(domain::required_long("reason", &req.reason))?;
        let now = now();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.VoidOrderWaybills", &key, &req, move |tx| {
                Box::pin(async move {
                    let conn = tx.conn();
                    let mut shipments = repo::forward_shipments_for_update(conn, order_id).await?;
                    let voided = dom(domain::void_order_waybills(
                        &mut shipments,
                        case_id,
                        &actor,
                        &reason,
                        now,
                    ))?;
                    let mut out = Vec::with_capacity(voided.len());
                    for (i, event) in voided {
                        let s = &shipments[i];
                        repo::save(conn, s).await?;
                        tx.publish(&events::shipment_event(s, event)?).await?;
                        log_change(s, "VoidOrderWaybills");
                        out.push(convert::shipment_to_pb(s));
                    }
                    tracing::info!(%order_id, %case_id, voided = out.len(), "order waybills voided");
                    Ok(pb::VoidOrderWaybillsResponse { shipments: out })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn reissue_order_waybills(
        &self,
        request: Request<pb::ReissueOrderWaybillsRequest>,
    ) -> Result<Response<pb::ReissueOrderWaybillsResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let order_id = edge::uuid("order_id", &req.order_id).map(OrderId)?;
        let case_id = edge::uuid("case_id", &req.case_id).map(CaseId)?;
        let reason = dom(domain::required_long("reason", &req.reason))?;
        let now = now();
        let policy = self.policy.clone();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.ReissueOrderWaybills", &key, &req, move |tx| {
                Box::pin(async move {
                    let conn = tx.conn();
                    let shipments = repo::forward_shipments_for_update(conn, order_id).await?;
                    let reissued = dom(domain::reissue_order_waybills(
                        &shipments,
                        case_id,
                        &actor,
                        now,
                        &policy,
                        ShipmentId::generate,
                    ))?;
                    let mut out = Vec::with_capacity(reissued.len());
                    for (s, event) in reissued {
                        insert_created(tx, &s, event, "ReissueOrderWaybills").await?;
                        out.push(convert::shipment_to_pb(&s));
                    }
                    tracing::info!(
                        %order_id,
                        %case_id,
                        reissued = out.len(),
                        %reason,
                        "order waybills reissued"
                    );
                    Ok(pb::ReissueOrderWaybillsResponse { shipments: out })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn create_follow_up_shipment(
        &self,
        request: Request<pb::CreateFollowUpShipmentRequest>,
    ) -> Result<Response<pb::CreateFollowUpShipmentResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let draft = FollowUpDraft {
            order_id: &req.order_id,
            direction: convert::direction("direction", req.direction)?,
            case_id: &req.case_id,
            repair_id: &req.repair_id,
            fee_payer: convert::fee_payer("fee_payer", req.fee_payer)?,
            shipping_fee: req
                .shipping_fee
                .as_ref()
                .map(|m| (m.minor_units, m.currency.as_str())),
        };
        let follow_up = dom(draft.validate())?;
        let id = ShipmentId::generate();
        let now = now();
        let policy = self.policy.clone();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.CreateFollowUpShipment", &key, &req, move |tx| {
                Box::pin(async move {
                    let forward =
                        repo::forward_shipments_for_update(tx.conn(), follow_up.order_id).await?;
                    let (shipment, event) = dom(domain::create_follow_up(
                        id, follow_up, &forward, &actor, now, &policy,
                    ))?;
                    insert_created(tx, &shipment, event, "CreateFollowUpShipment").await?;
                    Ok(pb::CreateFollowUpShipmentResponse {
                        shipment: Some(convert::shipment_to_pb(&shipment)),
                    })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn record_tracking_event(
        &self,
        request: Request<pb::RecordTrackingEventRequest>,
    ) -> Result<Response<pb::RecordTrackingEventResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let now = now();
        enum Target {
            Id(ShipmentId),
            Tracking(String),
        }
        let target = match (req.shipment_id.is_empty(), req.tracking_number.is_empty()) {
            (false, true) => Target::Id(shipment_id("shipment_id", &req.shipment_id)?),
            (true, false) => Target::Tracking(dom(domain::tracking_number(
                "tracking_number",
                &req.tracking_number,
            ))?),
            _ => {
                return Err(AppError::field(
                    "shipment_id",
                    "exactly one of shipment_id or tracking_number is required",
                )
                .into());
            }
        };
        // Kept at PostgreSQL's precision so that the response, later reads and the duplicate
        // answer agree.
        let occurred_at =
            edge::optional_timestamp("occurred_at", req.occurred_at.as_ref())?.map(|t| {
                t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
                    .unwrap_or(t)
            });
        if occurred_at.is_some_and(|t| t < earliest_scan()) {
            return Err(AppError::field("occurred_at", "must be after 2000-01-01").into());
        }
        let input = TrackingReportInput {
            courier_code: &req.courier_code,
            courier_event_id: &req.courier_event_id,
            status: convert::tracking_status("status", req.status)?,
            exception_kind: convert::exception_kind("exception_kind", req.exception_kind)?,
            occurred_at,
            location: &req.location,
            description: &req.description,
        };
        let report = dom(input.validate(now, &self.policy))?;
        dom(actor.require(domain::COURIER_REPORTERS, "record a tracking event"))?;
        dom(actor.ensure_courier(&report.courier_code))?;
        let policy = self.policy.clone();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.RecordTrackingEvent", &key, &req, move |tx| {
                Box::pin(async move {
                    let id = match target {
                        Target::Id(id) => id,
                        Target::Tracking(number) => {
                            repo::find_by_tracking_number(tx.conn(), &report.courier_code, &number)
                                .await?
                                .ok_or_else(|| {
                                    AppError::not_found(
                                        "shipment",
                                        format!(
                                            "with {} tracking number {number}",
                                            report.courier_code
                                        ),
                                    )
                                })?
                        }
                    };
                    let mut shipment = repo::load_for_update(tx.conn(), id).await?;
                    let known =
                        repo::find_event(tx.conn(), &report.courier_code, &report.courier_event_id)
                            .await?;
                    let status = report.status;
                    let outcome = dom(shipment.record_scan(
                        TrackingEventId::generate(),
                        report,
                        known.as_ref(),
                        &actor,
                        now,
                        &policy,
                    ))?;
                    if outcome.duplicate {
                        tracing::info!(
                            shipment_id = %shipment.id,
                            courier_event_id = outcome.event.courier_event_id.as_str(),
                            "duplicate tracking event ignored"
                        );
                        return Ok(pb::RecordTrackingEventResponse {
                            event: Some(convert::event_to_pb(&outcome.event)),
                            shipment: Some(convert::shipment_to_pb(&shipment)),
                            duplicate: true,
                        });
                    }
                    repo::insert_event(tx.conn(), &outcome.event).await?;
                    repo::save(tx.conn(), &shipment).await?;
                    for e in &outcome.events {
                        tx.publish(&events::shipment_event(&shipment, *e)?).await?;
                    }
                    if outcome.applied
                        && let Some(mut open) =
                            repo::open_interception_for_update(tx.conn(), shipment.id).await?
                        && let Some(e) = open.on_shipment_scan(status, now)
                    {
                        publish_interception(tx, &open, &shipment, e).await?;
                    }
                    log_change(&shipment, "RecordTrackingEvent");
                    Ok(pb::RecordTrackingEventResponse {
                        event: Some(convert::event_to_pb(&outcome.event)),
                        shipment: Some(convert::shipment_to_pb(&shipment)),
                        duplicate: false,
                    })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn list_tracking_events(
        &self,
        request: Request<pb::ListTrackingEventsRequest>,
    ) -> Result<Response<pb::ListTrackingEventsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let shipment = repo::load(&self.store.db, id).await?;
        scoped_read(&actor, &shipment.courier_code)?;
        let (items, next) = repo::list_events(&self.store.db, id, page).await?;
        Ok(Response::new(pb::ListTrackingEventsResponse {
            items: items.iter().map(convert::event_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn request_interception(
        &self,
        request: Request<pb::RequestInterceptionRequest>,
    ) -> Result<Response<pb::RequestInterceptionResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        enum Target {
            Shipment(ShipmentId),
            Order(OrderId),
        }
        let target = match (req.shipment_id.is_empty(), req.order_id.is_empty()) {
            (false, true) => Target::Shipment(shipment_id("shipment_id", &req.shipment_id)?),
            (true, false) => Target::Order(OrderId(edge::uuid("order_id", &req.order_id)?)),
            _ => {
                return Err(AppError::field(
                    "shipment_id",
                    "exactly one of shipment_id and order_id is required",
                )
                .into());
            }
        };
        let reason = dom(domain::required_long("reason", &req.reason))?;
        let case_id = edge::optional_uuid("case_id", &req.case_id)?.map(CaseId);
        let now = now();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.RequestInterception", &key, &req, move |tx| {
                Box::pin(async move {
                    let shipment = match target {
                        Target::Shipment(id) => repo::load_for_update(tx.conn(), id).await?,
                        Target::Order(order) => live_forward_shipment(tx, order).await?,
                    };
                    let id = shipment.id;
                    let has_open = repo::open_interception_for_update(tx.conn(), id)
                        .await?
                        .is_some();
                    let (interception, event) = dom(Interception::request(
                        InterceptionId::generate(),
                        &shipment,
                        has_open,
                        reason,
                        case_id,
                        &actor,
                        now,
                    ))?;
                    repo::insert_interception(tx.conn(), &interception).await?;
                    tx.publish(&events::interception_event(
                        &interception,
                        &shipment,
                        event,
                    )?)
                    .await?;
                    tracing::info!(
                        interception_id = %interception.id,
                        shipment_id = %shipment.id,
                        "interception requested"
                    );
                    Ok(pb::RequestInterceptionResponse {
                        interception: Some(convert::interception_to_pb(&interception)),
                    })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn record_interception_result(
        &self,
        request: Request<pb::RecordInterceptionResultRequest>,
    ) -> Result<Response<pb::RecordInterceptionResultResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = edge::uuid("interception_id", &req.interception_id).map(InterceptionId)?;
        let result = convert::interception_result("result", req.result)?;
        let failure_reason = optional_text("failure_reason", &req.failure_reason)?;
        if result == InterceptionResult::Failed && failure_reason.is_none() {
            return Err(
                AppError::field("failure_reason", "is required when the result is failed").into(),
            );
        }
        let now = now();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent(
                "logistics.RecordInterceptionResult",
                &key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        // Lock order: shipment, then interception (as RecordTrackingEvent).
                        let shipment_id = repo::load_interception(tx.conn(), id).await?.shipment_id;
                        let mut shipment = repo::load_for_update(tx.conn(), shipment_id).await?;
                        let mut interception =
                            repo::load_interception_for_update(tx.conn(), id).await?;
                        let event =
                            dom(interception.record_result(result, failure_reason, &actor, now))?;
                        publish_interception(tx, &interception, &shipment, event).await?;
                        if result == InterceptionResult::ReturnedToSender
                            && let Some(e) = shipment.return_to_sender(now)
                        {
                            repo::save(tx.conn(), &shipment).await?;
                            tx.publish(&events::shipment_event(&shipment, e)?).await?;
                            log_change(&shipment, "RecordInterceptionResult");
                        }
                        Ok(pb::RecordInterceptionResultResponse {
                            interception: Some(convert::interception_to_pb(&interception)),
                            shipment: Some(convert::shipment_to_pb(&shipment)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_interception(
        &self,
        request: Request<pb::GetInterceptionRequest>,
    ) -> Result<Response<pb::GetInterceptionResponse>, Status> {
        let req = request.into_inner();
        let id = edge::uuid("interception_id", &req.interception_id).map(InterceptionId)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let interception = repo::load_interception(&self.store.db, id).await?;
        scoped_read(&actor, &interception.courier_code)?;
        Ok(Response::new(pb::GetInterceptionResponse {
            interception: Some(convert::interception_to_pb(&interception)),
        }))
    }

    async fn list_interceptions(
        &self,
        request: Request<pb::ListInterceptionsRequest>,
    ) -> Result<Response<pb::ListInterceptionsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let courier_code = match req.courier_code.as_str() {
            "" => None,
            c => Some(dom(domain::courier_code("courier_code", c))?),
        };
        let filter = InterceptionFilter {
            shipment_id: edge::optional_uuid("shipment_id", &req.shipment_id)?.map(ShipmentId),
            courier_code,
            state: convert::interception_state("state", req.state)?,
            case_id: edge::optional_uuid("case_id", &req.case_id)?.map(CaseId),
        };
        let filter = dom(filter.scoped(&actor))?;
        let (items, next) = repo::list_interceptions(&self.store.db, &filter, page).await?;
        Ok(Response::new(pb::ListInterceptionsResponse {
            items: items.iter().map(convert::interception_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn correct_tracking_number(
        &self,
        request: Request<pb::CorrectTrackingNumberRequest>,
    ) -> Result<Response<pb::CorrectTrackingNumberResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let new_number = dom(domain::tracking_number(
            "new_tracking_number",
            &req.new_tracking_number,
        ))?;
        let reason = optional_text("reason", &req.reason)?;
        let now = now();
        let policy = self.policy.clone();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.CorrectTrackingNumber", &key, &req, move |tx| {
                Box::pin(async move {
                    let mut shipment = repo::load_for_update(tx.conn(), id).await?;
                    let (record, event) = dom(shipment.correct_tracking_number(
                        CorrectionId::generate(),
                        new_number,
                        &actor,
                        reason,
                        now,
                        &policy,
                    ))?;
                    repo::ensure_tracking_number_free(
                        tx.conn(),
                        &shipment.courier_code,
                        &shipment.tracking_number,
                        shipment.id,
                    )
                    .await?;
                    repo::save(tx.conn(), &shipment).await?;
                    repo::insert_correction(tx.conn(), &record).await?;
                    tx.publish(&events::shipment_event(&shipment, event)?)
                        .await?;
                    log_change(&shipment, "CorrectTrackingNumber");
                    Ok(pb::CorrectTrackingNumberResponse {
                        shipment: Some(convert::shipment_to_pb(&shipment)),
                        correction: Some(convert::correction_to_pb(&record)),
                    })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn list_tracking_corrections(
        &self,
        request: Request<pb::ListTrackingCorrectionsRequest>,
    ) -> Result<Response<pb::ListTrackingCorrectionsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let id = shipment_id("shipment_id", &req.shipment_id)?;
        let shipment = repo::load(&self.store.db, id).await?;
        scoped_read(&actor, &shipment.courier_code)?;
        let (items, next) = repo::list_corrections(&self.store.db, id, page).await?;
        Ok(Response::new(pb::ListTrackingCorrectionsResponse {
            items: items.iter().map(convert::correction_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn mark_stuck_shipments(
        &self,
        request: Request<pb::MarkStuckShipmentsRequest>,
    ) -> Result<Response<pb::MarkStuckShipmentsResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let limit = dom(domain::sweep_limit(req.limit))?;
        dom(actor.require(OPERATORS, "mark stuck shipments"))?;
        let now = now();
        let policy = self.policy.clone();
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("logistics.MarkStuckShipments", &key, &req, move |tx| {
                Box::pin(async move {
                    let cutoff = domain::stuck_cutoff(now, &policy);
                    let mut ids =
                        repo::stuck_candidates(tx.conn(), cutoff, u64::from(limit) + 1).await?;
                    let more = ids.len() > limit as usize;
                    ids.truncate(limit as usize);
                    let mut items = Vec::with_capacity(ids.len());
                    for id in ids {
                        let mut shipment = repo::load_for_update(tx.conn(), id).await?;
                        let event = match shipment.mark_stuck(now, &policy) {
                            Ok(e) => e,
                            Err(DomainError::Rule(r)) => {
                                tracing::debug!(shipment_id = %id, rule = r.rule, "skipped");
                                continue;
                            }
                            Err(e) => return Err(convert::domain_error(e)),
                        };
                        repo::save(tx.conn(), &shipment).await?;
                        tx.publish(&events::shipment_event(&shipment, event)?)
                            .await?;
                        log_change(&shipment, "MarkStuckShipments");
                        items.push(convert::shipment_to_pb(&shipment));
                    }
                    Ok(pb::MarkStuckShipmentsResponse { items, more })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }
}
