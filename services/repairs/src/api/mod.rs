//! The gRPC `RepairsService`: parses and validates every request before touching the database,
//! then runs each change as one transaction (row lock, domain transition, row write, outbox
//! event, idempotency record).

pub mod convert;

use crate::Config;
use crate::domain::{
    CaseId, ChargeId, DiagnosisInput, Event, NewRepairCenter, Policy, RawRepairRequest,
    RepairCenter, RepairCenterId, RepairOrder, RepairOrderFilter, RepairOrderId, ShipmentId,
    already_open,
};
use crate::messaging::events;
use crate::storage::{replica, repo};
use aftersales_kernel::DomainError;
use aftersales_platform::{AppError, AppResult, Runtime, Store, edge};
use aftersales_proto::repairs::v1::{self as pb, repairs_service_server::RepairsService};
use chrono::Utc;
use convert::domain_error;
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// Parses every listed field, collecting all field violations into one INVALID_ARGUMENT, and
/// binds each name to its parsed value.
macro_rules! parse {
    ($($name:ident = $e:expr),+ $(,)?) => {
        let mut check = convert::Check::default();
        $(let $name = check.take($e);)+
        check.done()?;
        $(let Some($name) = $name else {
            return Err(AppError::field(stringify!($name), "is invalid").into());
        };)+
    };
}

/// The repairs API over the store and the configured policy.
#[derive(Clone)]
pub struct RepairsApi {
    store: Store,
    policy: Arc<Policy>,
}

fn repair_order_id(value: &str) -> AppResult<RepairOrderId> {
    edge::uuid("repair_order_id", value).map(RepairOrderId)
}

fn repair_center_id(value: &str) -> AppResult<RepairCenterId> {
    edge::uuid("repair_center_id", value).map(RepairCenterId)
}

fn now() -> chrono::DateTime<Utc> {
    Utc::now()
}

impl RepairsApi {
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

    /// Runs one change of an existing repair order exactly once per idempotency key: locks the
    /// row, applies the domain transition, writes the row, publishes its event and returns
    /// `wrap(order after the change)`.
    async fn change<Req, R, A>(
        &self,
        scope: &'static str,
        key: &str,
        req: &Req,
        id: RepairOrderId,
        wrap: fn(pb::RepairOrder) -> R,
        apply: A,
    ) -> AppResult<R>
    where
        Req: prost::Message,
        R: prost::Message + Default + Send + 'static,
        A: FnOnce(&mut RepairOrder) -> Result<Event, DomainError> + Send + 'static,
    {
        self.store
            .idempotent(scope, key, req, move |tx| {
                Box::pin(async move {
                    let mut order = repo::load_for_update(tx.conn(), id).await?;
                    let event = apply(&mut order).map_err(domain_error)?;
                    repo::save(tx.conn(), &order).await?;
                    tx.publish(&events::repair_order_event(&order, event))
                        .await?;
                    log_change(&order, event);
                    Ok(wrap(convert::repair_order_to_pb(&order)))
                })
            })
            .await
    }

    /// Like [`Self::change`] for a repair center.
    async fn change_center<Req, R, A>(
        &self,
        scope: &'static str,
        key: &str,
        req: &Req,
        id: RepairCenterId,
        wrap: fn(pb::RepairCenter) -> R,
        apply: A,
    ) -> AppResult<R>
    where
        Req: prost::Message,
        R: prost::Message + Default + Send + 'static,
        A: FnOnce(&mut RepairCenter) -> Result<Event, DomainError> + Send + 'static,
    {
        self.store
            .idempotent(scope, key, req, move |tx| {
                Box::pin(async move {
                    let mut center = repo::load_center_for_update(tx.conn(), id).await?;
                    let event = apply(&mut center).map_err(domain_error)?;
                    repo::save_center(tx.conn(), &center).await?;
                    tx.publish(&events::repair_center_event(&center, event))
                        .await?;
                    tracing::info!(
                        repair_center_id = %center.id,
                        state = center.state.as_str(),
                        event = event.routing_key(),
                        "repair center changed"
                    );
                    Ok(wrap(convert::repair_center_to_pb(&center)))
                })
            })
            .await
    }
}

fn log_change(order: &RepairOrder, event: Event) {
    tracing::info!(
        repair_order_id = %order.id,
        order_id = %order.order_id,
        state = order.state.as_str(),
        event = event.routing_key(),
        "repair order changed"
    );
}

#[tonic::async_trait]
impl RepairsService for RepairsApi {
    async fn create_repair_order(
        &self,
        request: Request<pb::CreateRepairOrderRequest>,
    ) -> Result<Response<pb::CreateRepairOrderResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            channel = convert::channel(req.channel),
        );
        let input = RawRepairRequest {
            order_id: req.order_id.clone(),
            line_id: req.line_id.clone(),
            serial_number: req.serial_number.clone(),
            symptom: req.symptom.clone(),
            evidence_refs: req.evidence_refs.clone(),
            channel,
        }
        .validate()
        .map_err(domain_error)?;
        let policy = self.policy.clone();
        let now = now();
        let resp = self
            .store
            .idempotent(
                "repairs.CreateRepairOrder",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let line =
                            replica::lock_purchased_line(tx.conn(), input.order_id, input.line_id)
                                .await?;
                        let new = input.for_line(line, now).map_err(domain_error)?;
                        if let Some(existing) =
                            repo::find_open(tx.conn(), new.line_id, &new.serial_number).await?
                        {
                            return Err(domain_error(already_open(existing)));
                        }
                        let (order, event) =
                            RepairOrder::open(RepairOrderId::new(), new, &actor, &policy, now)
                                .map_err(domain_error)?;
                        repo::insert(tx.conn(), &order).await?;
                        tx.publish(&events::repair_order_event(&order, event))
                            .await?;
                        log_change(&order, event);
                        Ok(pb::CreateRepairOrderResponse {
                            repair_order: Some(convert::repair_order_to_pb(&order)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_repair_order(
        &self,
        request: Request<pb::GetRepairOrderRequest>,
    ) -> Result<Response<pb::GetRepairOrderResponse>, Status> {
        let req = request.into_inner();
        parse!(
            id = repair_order_id(&req.repair_order_id),
            actor = convert::actor(req.actor.as_ref()),
        );
        let order = repo::load(&self.store.db, id).await?;
        if order.ensure_visible_to(&actor).is_err() {
            return Err(AppError::not_found("repair order", id).into());
        }
        Ok(Response::new(pb::GetRepairOrderResponse {
            repair_order: Some(convert::repair_order_to_pb(&order)),
        }))
    }

    async fn list_repair_orders(
        &self,
        request: Request<pb::ListRepairOrdersRequest>,
    ) -> Result<Response<pb::ListRepairOrdersResponse>, Status> {
        let req = request.into_inner();
        parse!(
            page = edge::page(req.page.as_ref()),
            actor = convert::actor(req.actor.as_ref()),
            order_id = edge::optional_uuid("order_id", &req.order_id),
            buyer_id = edge::optional_uuid("buyer_id", &req.buyer_id),
            merchant_id = edge::optional_uuid("merchant_id", &req.merchant_id),
            center_id = edge::optional_uuid("repair_center_id", &req.repair_center_id),
            sku = edge::bounded_text("sku", &req.sku, aftersales_kernel::limits::SHORT_TEXT),
            serial = edge::bounded_text(
                "serial_number",
                &req.serial_number,
                aftersales_kernel::limits::SHORT_TEXT
            ),
            states = convert::states(&req.states),
            after = edge::optional_timestamp("requested_after", req.requested_after.as_ref()),
            before = edge::optional_timestamp("requested_before", req.requested_before.as_ref()),
        );
        let non_empty = |s: String| {
            let t = s.trim().to_owned();
            (!t.is_empty()).then_some(t)
        };
        let filter = RepairOrderFilter {
            order_id: order_id.map(Into::into),
            buyer_id: buyer_id.map(Into::into),
            merchant_id: merchant_id.map(Into::into),
            repair_center_id: center_id.map(Into::into),
            sku: non_empty(sku),
            serial_number: non_empty(serial),
            states,
            in_warranty: req.in_warranty,
            requested_after: after,
            requested_before: before,
        }
        .scoped_to(&actor)
        .map_err(domain_error)?;
        let (orders, next) = repo::list(&self.store.db, &filter, page).await?;
        Ok(Response::new(pb::ListRepairOrdersResponse {
            items: orders.iter().map(convert::repair_order_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn assign_repair_center(
        &self,
        request: Request<pb::AssignRepairCenterRequest>,
    ) -> Result<Response<pb::AssignRepairCenterResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            center_id = repair_center_id(&req.repair_center_id),
        );
        let now = now();
        let resp = self
            .store
            .idempotent(
                "repairs.AssignRepairCenter",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let mut order = repo::load_for_update(tx.conn(), id).await?;
                        let center = repo::load_center_for_share(tx.conn(), center_id).await?;
                        let event = order
                            .assign_center(&actor, &center, now)
                            .map_err(domain_error)?;
                        repo::save(tx.conn(), &order).await?;
                        tx.publish(&events::repair_order_event(&order, event))
                            .await?;
                        log_change(&order, event);
                        Ok(pb::AssignRepairCenterResponse {
                            repair_order: Some(convert::repair_order_to_pb(&order)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn mark_item_sent(
        &self,
        request: Request<pb::MarkItemSentRequest>,
    ) -> Result<Response<pb::MarkItemSentResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            shipment = edge::uuid("shipment_id", &req.shipment_id).map(ShipmentId),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.MarkItemSent",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::MarkItemSentResponse {
                    repair_order: Some(o),
                },
                move |o| o.mark_item_sent(&actor, shipment, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn acknowledge_receipt(
        &self,
        request: Request<pb::AcknowledgeReceiptRequest>,
    ) -> Result<Response<pb::AcknowledgeReceiptResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            note = convert::optional_long_text("note", &req.note),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.AcknowledgeReceipt",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::AcknowledgeReceiptResponse {
                    repair_order: Some(o),
                },
                move |o| o.acknowledge_receipt(&actor, note, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn start_diagnosis(
        &self,
        request: Request<pb::StartDiagnosisRequest>,
    ) -> Result<Response<pb::StartDiagnosisResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.StartDiagnosis",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::StartDiagnosisResponse {
                    repair_order: Some(o),
                },
                move |o| o.start_diagnosis(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn submit_diagnosis(
        &self,
        request: Request<pb::SubmitDiagnosisRequest>,
    ) -> Result<Response<pb::SubmitDiagnosisResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            input =
                DiagnosisInput::parse(&req.findings, &req.fault_code, &req.warranty_void_reason)
                    .map_err(domain_error),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.SubmitDiagnosis",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::SubmitDiagnosisResponse {
                    repair_order: Some(o),
                },
                move |o| o.submit_diagnosis(&actor, input, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn submit_quote(
        &self,
        request: Request<pb::SubmitQuoteRequest>,
    ) -> Result<Response<pb::SubmitQuoteResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            amount = positive_money("amount", req.amount.as_ref()),
            description = convert::optional_long_text("description", &req.description),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.SubmitQuote",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::SubmitQuoteResponse {
                    repair_order: Some(o),
                },
                move |o| o.submit_quote(&actor, amount, description, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn send_quote_to_buyer(
        &self,
        request: Request<pb::SendQuoteToBuyerRequest>,
    ) -> Result<Response<pb::SendQuoteToBuyerResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
        );
        let now = now();
        let policy = self.policy.clone();
        let resp = self
            .change(
                "repairs.SendQuoteToBuyer",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::SendQuoteToBuyerResponse {
                    repair_order: Some(o),
                },
                move |o| o.send_quote(&actor, &policy, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn approve_quote(
        &self,
        request: Request<pb::ApproveQuoteRequest>,
    ) -> Result<Response<pb::ApproveQuoteResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.ApproveQuote",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::ApproveQuoteResponse {
                    repair_order: Some(o),
                },
                move |o| o.approve_quote(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn decline_quote(
        &self,
        request: Request<pb::DeclineQuoteRequest>,
    ) -> Result<Response<pb::DeclineQuoteResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            reason = convert::optional_long_text("reason", &req.reason),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.DeclineQuote",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::DeclineQuoteResponse {
                    repair_order: Some(o),
                },
                move |o| o.decline_quote(&actor, reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn expire_quote(
        &self,
        request: Request<pb::ExpireQuoteRequest>,
    ) -> Result<Response<pb::ExpireQuoteResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.ExpireQuote",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::ExpireQuoteResponse {
                    repair_order: Some(o),
                },
                move |o| o.expire_quote(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn record_quote_paid(
        &self,
        request: Request<pb::RecordQuotePaidRequest>,
    ) -> Result<Response<pb::RecordQuotePaidResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            charge = edge::uuid("charge_id", &req.charge_id).map(ChargeId),
            amount = positive_money("amount", req.amount.as_ref()),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.RecordQuotePaid",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::RecordQuotePaidResponse {
                    repair_order: Some(o),
                },
                move |o| o.record_quote_paid(&actor, charge, amount, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn report_repaired(
        &self,
        request: Request<pb::ReportRepairedRequest>,
    ) -> Result<Response<pb::ReportRepairedResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            notes = convert::optional_long_text("notes", &req.notes),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.ReportRepaired",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::ReportRepairedResponse {
                    repair_order: Some(o),
                },
                move |o| o.report_repaired(&actor, notes, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn report_unrepairable(
        &self,
        request: Request<pb::ReportUnrepairableRequest>,
    ) -> Result<Response<pb::ReportUnrepairableResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            reason = convert::reason("reason", &req.reason),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.ReportUnrepairable",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::ReportUnrepairableResponse {
                    repair_order: Some(o),
                },
                move |o| o.report_unrepairable(&actor, reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn convert_repair(
        &self,
        request: Request<pb::ConvertRepairRequest>,
    ) -> Result<Response<pb::ConvertRepairResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            resolution = convert::resolution(req.resolution),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.ConvertRepair",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::ConvertRepairResponse {
                    repair_order: Some(o),
                },
                move |o| o.convert(&actor, resolution, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn record_converted_case(
        &self,
        request: Request<pb::RecordConvertedCaseRequest>,
    ) -> Result<Response<pb::RecordConvertedCaseResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            case_id = edge::uuid("case_id", &req.case_id).map(CaseId),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.RecordConvertedCase",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::RecordConvertedCaseResponse {
                    repair_order: Some(o),
                },
                move |o| o.record_converted_case(&actor, case_id, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn mark_shipped_back(
        &self,
        request: Request<pb::MarkShippedBackRequest>,
    ) -> Result<Response<pb::MarkShippedBackResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            shipment = edge::uuid("shipment_id", &req.shipment_id).map(ShipmentId),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.MarkShippedBack",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::MarkShippedBackResponse {
                    repair_order: Some(o),
                },
                move |o| o.mark_shipped_back(&actor, shipment, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn complete_repair(
        &self,
        request: Request<pb::CompleteRepairRequest>,
    ) -> Result<Response<pb::CompleteRepairResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.CompleteRepair",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::CompleteRepairResponse {
                    repair_order: Some(o),
                },
                move |o| o.complete(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn override_warranty(
        &self,
        request: Request<pb::OverrideWarrantyRequest>,
    ) -> Result<Response<pb::OverrideWarrantyResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            reason = convert::reason("reason", &req.reason),
        );
        let in_warranty = req.in_warranty;
        let now = now();
        let resp = self
            .change(
                "repairs.OverrideWarranty",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::OverrideWarrantyResponse {
                    repair_order: Some(o),
                },
                move |o| o.override_warranty(&actor, in_warranty, reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn cancel_repair(
        &self,
        request: Request<pb::CancelRepairRequest>,
    ) -> Result<Response<pb::CancelRepairResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_order_id(&req.repair_order_id),
            reason = convert::reason("reason", &req.reason),
        );
        let now = now();
        let resp = self
            .change(
                "repairs.CancelRepair",
                &req.idempotency_key,
                &req,
                id,
                |o| pb::CancelRepairResponse {
                    repair_order: Some(o),
                },
                move |o| o.cancel(&actor, reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn create_repair_center(
        &self,
        request: Request<pb::CreateRepairCenterRequest>,
    ) -> Result<Response<pb::CreateRepairCenterResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            input = NewRepairCenter::parse(&req.code, &req.name).map_err(domain_error),
        );
        let now = now();
        let resp = self
            .store
            .idempotent(
                "repairs.CreateRepairCenter",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let (center, event) =
                            RepairCenter::create(RepairCenterId::new(), input, &actor, now)
                                .map_err(domain_error)?;
                        repo::insert_center(tx.conn(), &center).await?;
                        tx.publish(&events::repair_center_event(&center, event))
                            .await?;
                        tracing::info!(repair_center_id = %center.id, code = %center.code, "repair center created");
                        Ok(pb::CreateRepairCenterResponse {
                            repair_center: Some(convert::repair_center_to_pb(&center)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_repair_center(
        &self,
        request: Request<pb::GetRepairCenterRequest>,
    ) -> Result<Response<pb::GetRepairCenterResponse>, Status> {
        let req = request.into_inner();
        parse!(
            id = repair_center_id(&req.repair_center_id),
            actor = convert::actor(req.actor.as_ref()),
        );
        let center = repo::load_center(&self.store.db, id).await?;
        if center.ensure_visible_to(&actor).is_err() {
            return Err(AppError::not_found("repair center", id).into());
        }
        Ok(Response::new(pb::GetRepairCenterResponse {
            repair_center: Some(convert::repair_center_to_pb(&center)),
        }))
    }

    async fn list_repair_centers(
        &self,
        request: Request<pb::ListRepairCentersRequest>,
    ) -> Result<Response<pb::ListRepairCentersResponse>, Status> {
        let req = request.into_inner();
        parse!(
            page = edge::page(req.page.as_ref()),
            state = convert::center_state(req.state),
        );
        let (centers, next) = repo::list_centers(&self.store.db, state, page).await?;
        Ok(Response::new(pb::ListRepairCentersResponse {
            items: centers.iter().map(convert::repair_center_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn suspend_repair_center(
        &self,
        request: Request<pb::SuspendRepairCenterRequest>,
    ) -> Result<Response<pb::SuspendRepairCenterResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_center_id(&req.repair_center_id),
            reason = convert::reason("reason", &req.reason),
        );
        let now = now();
        let resp = self
            .change_center(
                "repairs.SuspendRepairCenter",
                &req.idempotency_key,
                &req,
                id,
                |c| pb::SuspendRepairCenterResponse {
                    repair_center: Some(c),
                },
                move |c| c.suspend(&actor, reason, now),
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn reactivate_repair_center(
        &self,
        request: Request<pb::ReactivateRepairCenterRequest>,
    ) -> Result<Response<pb::ReactivateRepairCenterResponse>, Status> {
        let req = request.into_inner();
        parse!(
            actor = convert::actor(req.actor.as_ref()),
            id = repair_center_id(&req.repair_center_id),
        );
        let now = now();
        let resp = self
            .change_center(
                "repairs.ReactivateRepairCenter",
                &req.idempotency_key,
                &req,
                id,
                |c| pb::ReactivateRepairCenterResponse {
                    repair_center: Some(c),
                },
                move |c| c.reactivate(&actor, now),
            )
            .await?;
        Ok(Response::new(resp))
    }
}

/// Money that must be > 0 (quotes, charges), naming `field.minor_units`/`field.currency`.
fn positive_money(
    field: &str,
    value: Option<&aftersales_proto::common::v1::Money>,
) -> AppResult<aftersales_kernel::Money> {
    let m = edge::money(field, value)?;
    if m.minor() <= 0 {
        return Err(AppError::field(
            format!("{field}.minor_units"),
            "must be greater than zero",
        ));
    }
    Ok(m)
}
