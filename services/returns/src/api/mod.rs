//! The gRPC `ReturnsService`: parses and validates every request at the edge, runs the domain
//! transition in one transaction (row locks, outbox event, idempotency record) and answers with
//! the case.

pub mod convert;

use crate::domain::{
    Actor, ActorKind, Case, CaseAction, CaseEvent, CaseId, CaseStatus, CaseType, OrderId,
    OrderSnapshot, Settings,
};
use crate::messaging::publish_case_events;
use crate::storage::{
    replica,
    repo::{self, CaseFilter},
};
use aftersales_kernel::DomainError;
use aftersales_platform::{AppError, AppResult, Runtime, Store, edge};
use aftersales_proto::returns::v1::{self as pb, returns_service_server::ReturnsService};
use chrono::{DateTime, Utc};
use convert::enum_field;
use tonic::{Request, Response, Status};

/// The returns gRPC API.
#[derive(Clone)]
pub struct ReturnsApi {
    store: Store,
    settings: Settings,
}

/// What a transition gets besides the case.
pub struct Ctx<'a> {
    pub actor: &'a Actor,
    pub now: DateTime<Utc>,
    pub settings: &'a Settings,
    /// The locked order replica (transitions that need the order).
    order: Option<&'a OrderSnapshot>,
    /// Every case of the order (including this one: the domain skips it).
    pub others: &'a [Case],
}

impl Ctx<'_> {
    fn order(&self) -> AppResult<&OrderSnapshot> {
        self.order
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("order replica not loaded")))
    }
}

/// Whether a transition reads the order and the other cases of the order.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Case,
    Order,
}

type Transition = Box<dyn FnOnce(&mut Case, &Ctx<'_>) -> AppResult<Vec<CaseEvent>> + Send>;

fn deny(what: &str) -> AppError {
    AppError::PermissionDenied(format!("the actor may not {what}"))
}

/// Scoping: the actor must see the case, then be allowed the action.
fn authorize(case: &Case, actor: &Actor, action: CaseAction) -> AppResult<()> {
    if !case.may(actor, CaseAction::View) {
        return Err(deny(&format!("see case {}", case.id)));
    }
    if !case.may(actor, action) {
        return Err(deny(&format!("do this on case {}", case.id)));
    }
    Ok(())
}

/// Opening a case (or checking it): the order's buyer, staff acting for the buyer, or the
/// platform (orchestrator).
fn authorize_order(order: &OrderSnapshot, actor: &Actor) -> AppResult<()> {
    let ok = match actor.kind {
        ActorKind::Buyer => actor.id == order.buyer_id.to_string(),
        ActorKind::Staff | ActorKind::System => true,
        ActorKind::Merchant | ActorKind::Partner => false,
    };
    if ok {
        Ok(())
    } else {
        Err(deny(&format!(
            "open an after-sale case on order {}",
            order.order_id
        )))
    }
}

fn item_exists(case: &Case, item: crate::domain::CaseItemId) -> AppResult<()> {
    if case.item(item).is_none() {
        return Err(AppError::not_found("case item", item));
    }
    Ok(())
}

impl ReturnsApi {
    pub fn new(rt: &Runtime<crate::Config>) -> anyhow::Result<Self> {
        Ok(Self::with_settings(
            rt.store.clone(),
            rt.settings.service.settings()?,
        ))
    }

    pub fn with_settings(store: Store, settings: Settings) -> Self {
        Self { store, settings }
    }

    /// Runs one case transition exactly once per idempotency key: locks (the order replica,
    /// then) the case, checks scoping, applies `op`, saves, and queues the events.
    #[allow(clippy::too_many_arguments)]
    async fn mutate<Req: prost::Message>(
        &self,
        rpc: &str,
        key: &str,
        req: &Req,
        case_id: CaseId,
        actor: Actor,
        action: CaseAction,
        scope: Scope,
        op: Transition,
    ) -> Result<Option<pb::Case>, Status> {
        let settings = self.settings.clone();
        let now = Utc::now();
        let case = self
            .store
            .idempotent(&format!("returns.{rpc}"), key, req, move |tx| {
                Box::pin(async move {
                    let (order, others) = if scope == Scope::Order {
                        let order_id = repo::order_of(tx.conn(), case_id).await?;
                        let order = replica::lock(tx.conn(), order_id).await?;
                        let others = repo::list_for_order(tx.conn(), order_id).await?;
                        (Some(order), others)
                    } else {
                        (None, Vec::new())
                    };
                    let mut case = repo::load_for_update(tx.conn(), case_id).await?;
                    authorize(&case, &actor, action)?;
                    let loaded = case.version;
                    let ctx = Ctx {
                        actor: &actor,
                        now,
                        settings: &settings,
                        order: order.as_ref(),
                        others: &others,
                    };
                    let events = op(&mut case, &ctx)?;
                    repo::save(tx.conn(), &case, loaded).await?;
                    publish_case_events(tx, &case, &events).await?;
                    Ok(convert::case_to_pb(&case))
                })
            })
            .await?;
        Ok(Some(case))
    }

    async fn read_case(
        &self,
        actor: Option<&aftersales_proto::common::v1::Actor>,
        id: &str,
    ) -> AppResult<Case> {
        let actor = convert::actor(actor)?;
        let case_id = convert::case_id(id)?;
        let case = repo::load(&self.store.db, case_id).await?;
        authorize(&case, &actor, CaseAction::View)?;
        Ok(case)
    }
}

fn d(e: DomainError) -> AppError {
    e.into()
}

#[tonic::async_trait]
impl ReturnsService for ReturnsApi {
    async fn check_eligibility(
        &self,
        request: Request<pb::CheckEligibilityRequest>,
    ) -> Result<Response<pb::CheckEligibilityResponse>, Status> {
        let req = request.into_inner();
        let input = convert::Eligibility::try_from(&req)?;
        let order = replica::load(&self.store.db, OrderId(input.order_id)).await?;
        authorize_order(&order, &input.actor)?;
        let others = repo::list_for_order(&self.store.db, order.order_id).await?;
        let shipment_state = convert::PbEnum::to_pb(order.shipment_state);
        let resp = match Case::request(
            input.new_case,
            &order,
            &others,
            input.actor,
            Utc::now(),
            &self.settings,
        ) {
            Ok((case, _)) => pb::CheckEligibilityResponse {
                eligible: true,
                rule: String::new(),
                detail: String::new(),
                refund: Some(convert::refund_to_pb(&case.refund)),
                return_required: case.return_required,
                shipment_state,
            },
            Err(DomainError::Rule(r)) => pb::CheckEligibilityResponse {
                eligible: false,
                rule: r.rule.to_owned(),
                detail: r.detail,
                refund: None,
                return_required: false,
                shipment_state,
            },
            Err(e @ DomainError::Invalid(_)) => return Err(AppError::from(e).into()),
        };
        Ok(Response::new(resp))
    }

    async fn create_case(
        &self,
        request: Request<pb::CreateCaseRequest>,
    ) -> Result<Response<pb::CreateCaseResponse>, Status> {
        let req = request.into_inner();
        let input = convert::CreateCase::try_from(&req)?;
        let settings = self.settings.clone();
        let now = Utc::now();
        let order_id = OrderId(input.order_id);
        let case = self
            .store
            .idempotent(
                "returns.CreateCase",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        // The replica row lock serializes every case opened on the order, so that
                        // concurrent requests cannot exceed a line's quantity or open two cases on it.
                        let order = replica::lock(tx.conn(), order_id).await?;
                        authorize_order(&order, &input.actor)?;
                        let others = repo::list_for_order(tx.conn(), order_id).await?;
                        let (case, events) = Case::request(
                            input.new_case,
                            &order,
                            &others,
                            input.actor,
                            now,
                            &settings,
                        )?;
                        repo::insert(tx.conn(), &case).await?;
                        publish_case_events(tx, &case, &events).await?;
                        Ok(convert::case_to_pb(&case))
                    })
                },
            )
            .await?;
        Ok(Response::new(pb::CreateCaseResponse { case: Some(case) }))
    }

    async fn get_case(
        &self,
        request: Request<pb::GetCaseRequest>,
    ) -> Result<Response<pb::GetCaseResponse>, Status> {
        let req = request.into_inner();
        let case = self.read_case(req.actor.as_ref(), &req.case_id).await?;
        Ok(Response::new(pb::GetCaseResponse {
            case: Some(convert::case_to_pb(&case)),
        }))
    }

    async fn list_cases(
        &self,
        request: Request<pb::ListCasesRequest>,
    ) -> Result<Response<pb::ListCasesResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let page = edge::page(req.page.as_ref())?;
        let mut filter = CaseFilter {
            order_id: edge::optional_uuid("order_id", &req.order_id)?,
            buyer_id: edge::optional_uuid("buyer_id", &req.buyer_id)?,
            merchant_id: edge::optional_uuid("merchant_id", &req.merchant_id)?,
            statuses: req
                .statuses
                .iter()
                .enumerate()
                .map(|(i, s)| enum_field::<CaseStatus>(&format!("statuses[{i}]"), *s))
                .collect::<AppResult<_>>()?,
            case_types: req
                .case_types
                .iter()
                .enumerate()
                .map(|(i, s)| enum_field::<CaseType>(&format!("case_types[{i}]"), *s))
                .collect::<AppResult<_>>()?,
            arbitration_open_only: req.arbitration_open_only,
            created_after: edge::optional_timestamp("created_after", req.created_after.as_ref())?,
            created_before: edge::optional_timestamp(
                "created_before",
                req.created_before.as_ref(),
            )?,
        };
        edge::item_count("statuses", &req.statuses, 0)?;
        edge::item_count("case_types", &req.case_types, 0)?;
        // Buyers and merchants only ever see their own cases.
        let own = |asked: Option<uuid::Uuid>, who: &str| -> AppResult<Option<uuid::Uuid>> {
            let Ok(me) = uuid::Uuid::parse_str(&actor.id) else {
                return Err(deny(&format!("list the cases of this {who}")));
            };
            match asked {
                Some(other) if other != me => {
                    Err(deny(&format!("list the cases of another {who}")))
                }
                _ => Ok(Some(me)),
            }
        };
        match actor.kind {
            ActorKind::Buyer => filter.buyer_id = own(filter.buyer_id, "buyer")?,
            ActorKind::Merchant => filter.merchant_id = own(filter.merchant_id, "merchant")?,
            ActorKind::Staff | ActorKind::System | ActorKind::Partner => {}
        }
        let mut cases = repo::list(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut cases, page, |c| c.id.0);
        Ok(Response::new(pb::ListCasesResponse {
            items: cases.iter().map(convert::case_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn list_case_history(
        &self,
        request: Request<pb::ListCaseHistoryRequest>,
    ) -> Result<Response<pb::ListCaseHistoryResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let case = self.read_case(req.actor.as_ref(), &req.case_id).await?;
        let mut rows = repo::history(&self.store.db, case.id, page).await?;
        let next = edge::next_page(&mut rows, page, |(id, _)| *id);
        Ok(Response::new(pb::ListCaseHistoryResponse {
            items: rows
                .iter()
                .map(|(_, h)| convert::history_to_pb(h))
                .collect(),
            page: Some(next),
        }))
    }

    async fn withdraw_case(
        &self,
        request: Request<pb::WithdrawCaseRequest>,
    ) -> Result<Response<pb::WithdrawCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let reason = convert::optional_long_text("reason", &req.reason)?;
        let op: Transition = Box::new(move |c, x| c.withdraw(x.actor, reason, x.now).map_err(d));
        let case = self
            .mutate(
                "WithdrawCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::BuyerAction,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::WithdrawCaseResponse { case }))
    }

    async fn change_case_type(
        &self,
        request: Request<pb::ChangeCaseTypeRequest>,
    ) -> Result<Response<pb::ChangeCaseTypeResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let to: CaseType = enum_field("new_type", req.new_type)?;
        let op: Transition = Box::new(move |c, x| {
            let order = x.order()?;
            Ok(c.change_type(x.actor, to, order, x.others, x.now, x.settings)?)
        });
        let case = self
            .mutate(
                "ChangeCaseType",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::BuyerAction,
                Scope::Order,
                op,
            )
            .await?;
        Ok(Response::new(pb::ChangeCaseTypeResponse { case }))
    }

    async fn accept_offer(
        &self,
        request: Request<pb::AcceptOfferRequest>,
    ) -> Result<Response<pb::AcceptOfferResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition =
            Box::new(move |c, x| c.accept_offer(x.actor, x.now, x.settings).map_err(d));
        let case = self
            .mutate(
                "AcceptOffer",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::BuyerAction,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::AcceptOfferResponse { case }))
    }

    async fn decline_offer(
        &self,
        request: Request<pb::DeclineOfferRequest>,
    ) -> Result<Response<pb::DeclineOfferResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition =
            Box::new(move |c, x| c.decline_offer(x.actor, x.now, x.settings).map_err(d));
        let case = self
            .mutate(
                "DeclineOffer",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::BuyerAction,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::DeclineOfferResponse { case }))
    }

    async fn record_buyer_shipment(
        &self,
        request: Request<pb::RecordBuyerShipmentRequest>,
    ) -> Result<Response<pb::RecordBuyerShipmentResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let courier = convert::short_text("courier_code", &req.courier_code)?;
        let tracking = convert::short_text("tracking_number", &req.tracking_number)?;
        let op: Transition = Box::new(move |c, x| {
            c.record_buyer_shipment(x.actor, &courier, &tracking, x.now)
                .map_err(d)
        });
        let case = self
            .mutate(
                "RecordBuyerShipment",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::BuyerAction,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::RecordBuyerShipmentResponse { case }))
    }

    async fn approve_case(
        &self,
        request: Request<pb::ApproveCaseRequest>,
    ) -> Result<Response<pb::ApproveCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition = Box::new(move |c, x| c.approve(x.actor, x.now, x.settings).map_err(d));
        let case = self
            .mutate(
                "ApproveCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::MerchantDecision,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::ApproveCaseResponse { case }))
    }

    async fn reject_case(
        &self,
        request: Request<pb::RejectCaseRequest>,
    ) -> Result<Response<pb::RejectCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let reason = convert::required_long_text("reason", &req.reason)?;
        let op: Transition = Box::new(move |c, x| c.reject(x.actor, &reason, x.now).map_err(d));
        let case = self
            .mutate(
                "RejectCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::MerchantDecision,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::RejectCaseResponse { case }))
    }

    async fn offer_partial_refund(
        &self,
        request: Request<pb::OfferPartialRefundRequest>,
    ) -> Result<Response<pb::OfferPartialRefundResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let amount = convert::money("amount", req.amount.as_ref())?;
        let note = convert::optional_long_text("note", &req.note)?;
        let op: Transition = Box::new(move |c, x| {
            c.offer_partial_refund(x.actor, amount, note, x.now)
                .map_err(d)
        });
        let case = self
            .mutate(
                "OfferPartialRefund",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::MerchantDecision,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::OfferPartialRefundResponse { case }))
    }

    async fn record_item_receipt(
        &self,
        request: Request<pb::RecordItemReceiptRequest>,
    ) -> Result<Response<pb::RecordItemReceiptResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let item = convert::item_id(&req.item_id)?;
        let status = enum_field("status", req.status)?;
        let qty = req.received_quantity;
        let op: Transition = Box::new(move |c, x| {
            item_exists(c, item)?;
            Ok(c.record_item_receipt(x.actor, item, status, qty, x.now)?)
        });
        let case = self
            .mutate(
                "RecordItemReceipt",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Warehouse,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::RecordItemReceiptResponse { case }))
    }

    async fn submit_inspection(
        &self,
        request: Request<pb::SubmitInspectionRequest>,
    ) -> Result<Response<pb::SubmitInspectionResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let item = convert::item_id(&req.item_id)?;
        let result = enum_field("result", req.result)?;
        let condition = convert::condition(req.condition.as_ref())?;
        let op: Transition = Box::new(move |c, x| {
            item_exists(c, item)?;
            Ok(c.submit_inspection(x.actor, item, result, condition, x.now)?)
        });
        let case = self
            .mutate(
                "SubmitInspection",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Warehouse,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::SubmitInspectionResponse { case }))
    }

    async fn set_disposition(
        &self,
        request: Request<pb::SetDispositionRequest>,
    ) -> Result<Response<pb::SetDispositionResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let item = convert::item_id(&req.item_id)?;
        let disposition = enum_field("disposition", req.disposition)?;
        let op: Transition = Box::new(move |c, x| {
            item_exists(c, item)?;
            Ok(c.set_disposition(x.actor, item, disposition, x.now)?)
        });
        let case = self
            .mutate(
                "SetDisposition",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Warehouse,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::SetDispositionResponse { case }))
    }

    async fn auto_approve_case(
        &self,
        request: Request<pb::AutoApproveCaseRequest>,
    ) -> Result<Response<pb::AutoApproveCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition = Box::new(move |c, x| c.auto_approve(x.now, x.settings).map_err(d));
        let case = self
            .mutate(
                "AutoApproveCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::AutoApproveCaseResponse { case }))
    }

    async fn close_case_for_no_shipment(
        &self,
        request: Request<pb::CloseCaseForNoShipmentRequest>,
    ) -> Result<Response<pb::CloseCaseForNoShipmentResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition = Box::new(move |c, x| c.close_for_no_shipment(x.now).map_err(d));
        let case = self
            .mutate(
                "CloseCaseForNoShipment",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::CloseCaseForNoShipmentResponse { case }))
    }

    async fn close_case(
        &self,
        request: Request<pb::CloseCaseRequest>,
    ) -> Result<Response<pb::CloseCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let reason = convert::required_long_text("reason", &req.reason)?;
        let op: Transition = Box::new(move |c, x| c.close(x.actor, &reason, x.now).map_err(d));
        let case = self
            .mutate(
                "CloseCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::CloseCaseResponse { case }))
    }

    async fn record_interception(
        &self,
        request: Request<pb::RecordInterceptionRequest>,
    ) -> Result<Response<pb::RecordInterceptionResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let status = enum_field("status", req.status)?;
        let op: Transition =
            Box::new(move |c, x| c.record_interception(x.actor, status, x.now).map_err(d));
        let case = self
            .mutate(
                "RecordInterception",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::RecordInterceptionResponse { case }))
    }

    async fn mark_refunding(
        &self,
        request: Request<pb::MarkRefundingRequest>,
    ) -> Result<Response<pb::MarkRefundingResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition = Box::new(move |c, x| {
            let paid = x.order()?.paid_amount;
            Ok(c.mark_refunding(x.actor, paid, x.others, x.now)?)
        });
        let case = self
            .mutate(
                "MarkRefunding",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Order,
                op,
            )
            .await?;
        Ok(Response::new(pb::MarkRefundingResponse { case }))
    }

    async fn record_refunded(
        &self,
        request: Request<pb::RecordRefundedRequest>,
    ) -> Result<Response<pb::RecordRefundedResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let amount = convert::money("amount", req.amount.as_ref())?;
        let refund_id = convert::short_text("refund_id", &req.refund_id)?;
        let op: Transition = Box::new(move |c, x| {
            c.record_refunded(x.actor, amount, &refund_id, x.now)
                .map_err(d)
        });
        let case = self
            .mutate(
                "RecordRefunded",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::RecordRefundedResponse { case }))
    }

    async fn mark_replacement_shipped(
        &self,
        request: Request<pb::MarkReplacementShippedRequest>,
    ) -> Result<Response<pb::MarkReplacementShippedResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let shipment = convert::short_text("shipment_id", &req.shipment_id)?;
        let op: Transition = Box::new(move |c, x| {
            c.mark_replacement_shipped(x.actor, &shipment, x.now)
                .map_err(d)
        });
        let case = self
            .mutate(
                "MarkReplacementShipped",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::MarkReplacementShippedResponse { case }))
    }

    async fn complete_case(
        &self,
        request: Request<pb::CompleteCaseRequest>,
    ) -> Result<Response<pb::CompleteCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition = Box::new(move |c, x| c.complete(x.actor, x.now).map_err(d));
        let case = self
            .mutate(
                "CompleteCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::CompleteCaseResponse { case }))
    }

    async fn override_refund_amount(
        &self,
        request: Request<pb::OverrideRefundAmountRequest>,
    ) -> Result<Response<pb::OverrideRefundAmountResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let amount = convert::money("amount", req.amount.as_ref())?;
        let reason = convert::required_long_text("reason", &req.reason)?;
        let op: Transition = Box::new(move |c, x| {
            let paid = x.order()?.paid_amount;
            Ok(c.override_amount(x.actor, amount, &reason, paid, x.others, x.now)?)
        });
        let case = self
            .mutate(
                "OverrideRefundAmount",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Staff,
                Scope::Order,
                op,
            )
            .await?;
        Ok(Response::new(pb::OverrideRefundAmountResponse { case }))
    }

    async fn escalate_case(
        &self,
        request: Request<pb::EscalateCaseRequest>,
    ) -> Result<Response<pb::EscalateCaseResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let reason = convert::required_long_text("reason", &req.reason)?;
        // Anyone who sees the case gets the domain's answer (`only_buyer_escalates`).
        let op: Transition =
            Box::new(move |c, x| c.escalate(x.actor, &reason, x.now, x.settings).map_err(d));
        let case = self
            .mutate(
                "EscalateCase",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::View,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::EscalateCaseResponse { case }))
    }

    async fn submit_merchant_evidence(
        &self,
        request: Request<pb::SubmitMerchantEvidenceRequest>,
    ) -> Result<Response<pb::SubmitMerchantEvidenceResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let evidence = convert::evidence_refs("evidence_refs", &req.evidence_refs)?;
        let statement = convert::optional_long_text("statement", &req.statement)?;
        if evidence.is_empty() && statement.is_none() {
            return Err(
                AppError::field("evidence_refs", "evidence or a statement is required").into(),
            );
        }
        let op: Transition = Box::new(move |c, x| {
            c.submit_merchant_evidence(x.actor, evidence, statement, x.now)
                .map_err(d)
        });
        let case = self
            .mutate(
                "SubmitMerchantEvidence",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::MerchantDecision,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::SubmitMerchantEvidenceResponse { case }))
    }

    async fn close_evidence_window(
        &self,
        request: Request<pb::CloseEvidenceWindowRequest>,
    ) -> Result<Response<pb::CloseEvidenceWindowResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let op: Transition = Box::new(move |c, x| c.close_evidence_window(x.now).map_err(d));
        let case = self
            .mutate(
                "CloseEvidenceWindow",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Orchestrate,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::CloseEvidenceWindowResponse { case }))
    }

    async fn rule_arbitration(
        &self,
        request: Request<pb::RuleArbitrationRequest>,
    ) -> Result<Response<pb::RuleArbitrationResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let outcome = enum_field("outcome", req.outcome)?;
        let buyer_amount = edge::optional_money("buyer_amount", req.buyer_amount.as_ref())?;
        let reason = convert::required_long_text("reason", &req.reason)?;
        let op: Transition = Box::new(move |c, x| {
            let paid = x.order()?.paid_amount;
            Ok(c.rule(
                x.actor,
                outcome,
                buyer_amount,
                &reason,
                paid,
                x.others,
                x.now,
                x.settings,
            )?)
        });
        let case = self
            .mutate(
                "RuleArbitration",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::Staff,
                Scope::Order,
                op,
            )
            .await?;
        Ok(Response::new(pb::RuleArbitrationResponse { case }))
    }

    async fn appeal_ruling(
        &self,
        request: Request<pb::AppealRulingRequest>,
    ) -> Result<Response<pb::AppealRulingResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        let reason = convert::required_long_text("reason", &req.reason)?;
        // Anyone who sees the case gets the domain's answer (`only_parties_appeal`).
        let op: Transition = Box::new(move |c, x| c.appeal(x.actor, &reason, x.now).map_err(d));
        let case = self
            .mutate(
                "AppealRuling",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::View,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::AppealRulingResponse { case }))
    }

    async fn withdraw_escalation(
        &self,
        request: Request<pb::WithdrawEscalationRequest>,
    ) -> Result<Response<pb::WithdrawEscalationResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = convert::case_id(&req.case_id)?;
        // Anyone who sees the case gets the domain's answer (`only_buyer_withdraws_escalation`).
        let op: Transition = Box::new(move |c, x| c.withdraw_escalation(x.actor, x.now).map_err(d));
        let case = self
            .mutate(
                "WithdrawEscalation",
                &req.idempotency_key,
                &req,
                id,
                actor,
                CaseAction::View,
                Scope::Case,
                op,
            )
            .await?;
        Ok(Response::new(pb::WithdrawEscalationResponse { case }))
    }
}
