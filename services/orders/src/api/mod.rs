//! The gRPC `OrdersService`: parses and validates every request before touching the database,
//! then runs each change as one transaction (order row lock, domain transition, rows, outbox
//! events, idempotency record).

pub mod convert;

use crate::Config;
use crate::domain::{
    Actor, CaseId, CounterKind, Event, Order, OrderId, OrderLineId, Settings, ShipmentId, Shipping,
};
use crate::messaging::events;
use crate::storage::repo;
use aftersales_kernel::DomainError;
use aftersales_platform::{AppError, AppResult, Runtime, Store, edge};
use aftersales_proto::orders::v1::{self as pb, orders_service_server::OrdersService};
use chrono::{DateTime, Timelike, Utc};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The orders API over the store and the configured policy settings.
#[derive(Clone)]
pub struct OrdersApi {
    store: Store,
    settings: Arc<Settings>,
}

/// A counter move to persist and audit alongside the order change.
struct LineMove {
    line_id: OrderLineId,
    kind: CounterKind,
    delta: i64,
    case_id: Option<CaseId>,
    actor: Actor,
    reason: Option<String>,
}

impl OrdersApi {
    /// Builds the API; fails when the `[service]` configuration is invalid (naming the key).
    pub fn new(rt: &Runtime<Config>) -> anyhow::Result<Self> {
        Ok(Self::with_settings(
            rt.store.clone(),
            rt.settings.service.settings()?,
        ))
    }

    pub fn with_settings(store: Store, settings: Settings) -> Self {
        Self {
            store,
            settings: Arc::new(settings),
        }
    }

    /// Runs one change of an existing order exactly once per idempotency key: locks the order
    /// row, applies `apply`, writes the order (and the moved line counter), publishes one event
    /// per domain event, and returns `wrap(order after the change)`.
    async fn change<Req, R, A>(
        &self,
        scope: &'static str,
        req: &Req,
        order_id: OrderId,
        line_move: Option<LineMove>,
        wrap: fn(pb::Order) -> R,
        apply: A,
    ) -> AppResult<R>
    where
        Req: prost::Message + Keyed,
        R: prost::Message + Default + Send + 'static,
        A: FnOnce(&mut Order) -> Result<Vec<Event>, DomainError> + Send + 'static,
    {
        self.store
            .idempotent(scope, req.idempotency_key(), req, move |tx| {
                Box::pin(async move {
                    let mut order = repo::load_for_update(tx.conn(), order_id).await?;
                    let emitted = apply(&mut order).map_err(convert::domain_error)?;
                    repo::save(tx.conn(), &order).await?;
                    let case_id = line_move.as_ref().and_then(|m| m.case_id);
                    if let Some(m) = line_move {
                        repo::save_line_counters(tx.conn(), &order, m.line_id).await?;
                        repo::record_movement(
                            tx.conn(),
                            repo::Movement {
                                order_id,
                                line_id: m.line_id,
                                counter: m.kind,
                                delta: m.delta,
                                case_id: m.case_id,
                                actor: &m.actor,
                                reason: m.reason,
                                at: order.updated_at,
                            },
                        )
                        .await?;
                    }
                    for e in &emitted {
                        tx.publish(&events::order_event(&order, e, case_id)?)
                            .await?;
                    }
                    tracing::info!(
                        order_id = %order.id,
                        state = order.state.as_str(),
                        version = order.version,
                        rpc = scope,
                        "order changed"
                    );
                    Ok(wrap(convert::order_to_pb(&order)?))
                })
            })
            .await
    }
}

/// Requests of mutating RPCs: all carry an idempotency key.
trait Keyed {
    fn idempotency_key(&self) -> &str;
}

macro_rules! keyed {
    ($($t:ty),+ $(,)?) => {$(
        impl Keyed for $t {
            fn idempotency_key(&self) -> &str {
                &self.idempotency_key
            }
        }
    )+};
}

keyed!(
    pb::StartFulfilmentRequest,
    pb::CancelOrderRequest,
    pb::ChangeShippingAddressRequest,
    pb::MarkWaybillPrintedRequest,
    pb::MarkShippedRequest,
    pb::ConfirmDeliveryRequest,
    pb::CompleteOrderRequest,
    pb::ReserveAfterSaleRequest,
    pb::ReleaseAfterSaleRequest,
    pb::RecordLineProgressRequest,
    pb::ReverseLineProgressRequest,
);

/// The current time at PostgreSQL's precision (microseconds), so that a response and a later
/// read of the same order agree.
fn now() -> DateTime<Utc> {
    let t = Utc::now();
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}

fn order_id(value: &str) -> AppResult<OrderId> {
    edge::uuid("order_id", value).map(OrderId)
}

fn line_id(value: &str) -> AppResult<OrderLineId> {
    edge::uuid("line_id", value).map(OrderLineId)
}

fn case_id(value: &str) -> AppResult<Option<CaseId>> {
    Ok(edge::optional_uuid("case_id", value)?.map(CaseId))
}

fn shipment_id(value: &str) -> AppResult<Option<ShipmentId>> {
    Ok(edge::optional_uuid("shipment_id", value)?.map(ShipmentId))
}

/// A required reason: non-blank, at most 4096 characters.
fn required_reason(value: &str) -> AppResult<String> {
    let r = edge::long_text("reason", value)?;
    if r.trim().is_empty() {
        return Err(AppError::field("reason", "is required"));
    }
    Ok(r)
}

#[tonic::async_trait]
impl OrdersService for OrdersApi {
    async fn create_order(
        &self,
        request: Request<pb::CreateOrderRequest>,
    ) -> Result<Response<pb::CreateOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let input = convert::new_order(&req)?;
        let now = now();
        let id = OrderId::generate();
        // Checked before the transaction so that bad input writes nothing.
        let (order, event) =
            Order::create(id, input, &actor, &self.settings, now).map_err(convert::domain_error)?;
        let key = req.idempotency_key.clone();
        let resp = self
            .store
            .idempotent("orders.CreateOrder", &key, &req, move |tx| {
                Box::pin(async move {
                    repo::insert(tx.conn(), &order).await?;
                    tx.publish(&events::order_event(&order, &event, None)?)
                        .await?;
                    tracing::info!(order_id = %order.id, "order created");
                    Ok(pb::CreateOrderResponse {
                        order: Some(convert::order_to_pb(&order)?),
                    })
                })
            })
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_order(
        &self,
        request: Request<pb::GetOrderRequest>,
    ) -> Result<Response<pb::GetOrderResponse>, Status> {
        let req = request.into_inner();
        let id = order_id(&req.order_id)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let order = repo::load(&self.store.db, id).await?;
        if !order.visible_to(&actor) {
            return Err(AppError::not_found("order", id).into());
        }
        Ok(Response::new(pb::GetOrderResponse {
            order: Some(convert::order_to_pb(&order)?),
        }))
    }

    async fn list_orders(
        &self,
        request: Request<pb::ListOrdersRequest>,
    ) -> Result<Response<pb::ListOrdersResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let filter = convert::filter(&req)?
            .scoped(&actor)
            .map_err(convert::domain_error)?;
        let (orders, next) = repo::list(&self.store.db, &filter, page).await?;
        let items = orders
            .iter()
            .map(convert::order_to_pb)
            .collect::<AppResult<Vec<_>>>()?;
        Ok(Response::new(pb::ListOrdersResponse {
            items,
            page: Some(next),
        }))
    }

    async fn start_fulfilment(
        &self,
        request: Request<pb::StartFulfilmentRequest>,
    ) -> Result<Response<pb::StartFulfilmentResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let now = now();
        let resp = self
            .change(
                "orders.StartFulfilment",
                &req,
                id,
                None,
                |o| pb::StartFulfilmentResponse { order: Some(o) },
                move |order| order.start_fulfilment(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn cancel_order(
        &self,
        request: Request<pb::CancelOrderRequest>,
    ) -> Result<Response<pb::CancelOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let reason = required_reason(&req.reason)?;
        let now = now();
        let resp = self
            .change(
                "orders.CancelOrder",
                &req,
                id,
                None,
                |o| pb::CancelOrderResponse { order: Some(o) },
                move |order| order.cancel(&actor, &reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn change_shipping_address(
        &self,
        request: Request<pb::ChangeShippingAddressRequest>,
    ) -> Result<Response<pb::ChangeShippingAddressResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let address = convert::address("shipping_address", req.shipping_address.as_ref())?;
        let now = now();
        let resp = self
            .change(
                "orders.ChangeShippingAddress",
                &req,
                id,
                None,
                |o| pb::ChangeShippingAddressResponse { order: Some(o) },
                move |order| order.change_shipping_address(&actor, address, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn mark_waybill_printed(
        &self,
        request: Request<pb::MarkWaybillPrintedRequest>,
    ) -> Result<Response<pb::MarkWaybillPrintedResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let printed_at = edge::timestamp("printed_at", req.printed_at.as_ref())?;
        let shipment = shipment_id(&req.shipment_id)?;
        let now = now();
        let resp = self
            .change(
                "orders.MarkWaybillPrinted",
                &req,
                id,
                None,
                |o| pb::MarkWaybillPrintedResponse { order: Some(o) },
                move |order| order.mark_waybill_printed(&actor, printed_at, shipment, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn mark_shipped(
        &self,
        request: Request<pb::MarkShippedRequest>,
    ) -> Result<Response<pb::MarkShippedResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let shipping = Shipping {
            shipped_at: edge::timestamp("shipped_at", req.shipped_at.as_ref())?,
            courier_code: edge::required_text("courier_code", &req.courier_code)?,
            tracking_number: edge::required_text("tracking_number", &req.tracking_number)?,
            shipment_id: shipment_id(&req.shipment_id)?,
        };
        let now = now();
        let resp = self
            .change(
                "orders.MarkShipped",
                &req,
                id,
                None,
                |o| pb::MarkShippedResponse { order: Some(o) },
                move |order| order.mark_shipped(&actor, shipping, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn confirm_delivery(
        &self,
        request: Request<pb::ConfirmDeliveryRequest>,
    ) -> Result<Response<pb::ConfirmDeliveryResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let signed_at = edge::timestamp("signed_at", req.signed_at.as_ref())?;
        let now = now();
        let resp = self
            .change(
                "orders.ConfirmDelivery",
                &req,
                id,
                None,
                |o| pb::ConfirmDeliveryResponse { order: Some(o) },
                move |order| order.confirm_delivery(&actor, signed_at, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn complete_order(
        &self,
        request: Request<pb::CompleteOrderRequest>,
    ) -> Result<Response<pb::CompleteOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let now = now();
        let resp = self
            .change(
                "orders.CompleteOrder",
                &req,
                id,
                None,
                |o| pb::CompleteOrderResponse { order: Some(o) },
                move |order| order.complete(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn reserve_after_sale(
        &self,
        request: Request<pb::ReserveAfterSaleRequest>,
    ) -> Result<Response<pb::ReserveAfterSaleResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let line = line_id(&req.line_id)?;
        let qty = convert::quantity(req.quantity)?;
        let case = case_id(&req.case_id)?;
        let now = now();
        let line_move = LineMove {
            line_id: line,
            kind: CounterKind::Requested,
            delta: i64::from(qty),
            case_id: case,
            actor: actor.clone(),
            reason: None,
        };
        let resp = self
            .change(
                "orders.ReserveAfterSale",
                &req,
                id,
                Some(line_move),
                |o| pb::ReserveAfterSaleResponse { order: Some(o) },
                move |order| order.reserve_after_sale(&actor, line, qty, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn release_after_sale(
        &self,
        request: Request<pb::ReleaseAfterSaleRequest>,
    ) -> Result<Response<pb::ReleaseAfterSaleResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let line = line_id(&req.line_id)?;
        let qty = convert::quantity(req.quantity)?;
        let case = case_id(&req.case_id)?;
        let reason = edge::long_text("reason", &req.reason)?;
        let now = now();
        let line_move = LineMove {
            line_id: line,
            kind: CounterKind::Requested,
            delta: -i64::from(qty),
            case_id: case,
            actor: actor.clone(),
            reason: Some(reason),
        };
        let resp = self
            .change(
                "orders.ReleaseAfterSale",
                &req,
                id,
                Some(line_move),
                |o| pb::ReleaseAfterSaleResponse { order: Some(o) },
                move |order| order.release_after_sale(&actor, line, qty, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn record_line_progress(
        &self,
        request: Request<pb::RecordLineProgressRequest>,
    ) -> Result<Response<pb::RecordLineProgressResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let line = line_id(&req.line_id)?;
        let kind = convert::progress_kind(req.kind)?;
        let qty = convert::quantity(req.quantity)?;
        let case = case_id(&req.case_id)?;
        let now = now();
        let line_move = LineMove {
            line_id: line,
            kind,
            delta: i64::from(qty),
            case_id: case,
            actor: actor.clone(),
            reason: None,
        };
        let resp = self
            .change(
                "orders.RecordLineProgress",
                &req,
                id,
                Some(line_move),
                |o| pb::RecordLineProgressResponse { order: Some(o) },
                move |order| order.record_line_progress(&actor, line, kind, qty, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn reverse_line_progress(
        &self,
        request: Request<pb::ReverseLineProgressRequest>,
    ) -> Result<Response<pb::ReverseLineProgressResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = order_id(&req.order_id)?;
        let line = line_id(&req.line_id)?;
        let kind = convert::progress_kind(req.kind)?;
        let qty = convert::quantity(req.quantity)?;
        let case = case_id(&req.case_id)?;
        let reason = required_reason(&req.reason)?;
        let now = now();
        let line_move = LineMove {
            line_id: line,
            kind,
            delta: -i64::from(qty),
            case_id: case,
            actor: actor.clone(),
            reason: Some(reason.clone()),
        };
        let resp = self
            .change(
                "orders.ReverseLineProgress",
                &req,
                id,
                Some(line_move),
                |o| pb::ReverseLineProgressResponse { order: Some(o) },
                move |order| order.reverse_line_progress(&actor, line, kind, qty, &reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }
}
