//! The gRPC API: parses and validates requests (protobuf -> domain), runs each change in one
//! transaction with its outbox event and idempotency record, and maps errors to `Status`.

pub mod convert;

use crate::domain::{
    Actor, ActorKind, Complaint, ComplaintId, CustomerId, DsrMonth, DsrRating, DsrScores,
    DsrSummary, Event, FollowUp, MerchantId, NewComplaint, NewDsrRating, NewServiceRating,
    NewWorkOrder, OrderId, Policy, RatingSubject, RatingSubjectType, ServiceRating, ServiceScores,
    Target, WorkOrder, WorkOrderId, validate,
};
use crate::messaging::events;
use crate::storage::repo::{self, ComplaintFilter, StatsFilter, WorkOrderFilter};
use aftersales_platform::{AppError, AppResult, Store, edge};
use aftersales_proto::complaints::v1::{self as pb, complaints_service_server::ComplaintsService};
use chrono::{DateTime, SubsecRound, Utc};
use convert::DomainResultExt;
use prost::Message;
use tonic::{Request, Response, Status};

/// The complaints gRPC service.
#[derive(Clone)]
pub struct ComplaintsApi {
    store: Store,
    policy: Policy,
}

impl ComplaintsApi {
    pub fn new(store: Store, policy: Policy) -> Self {
        Self { store, policy }
    }

    /// One pass of the SLA sweep as the scheduler runs it; `true` when a full batch was
    /// handled (more may be due).
    pub async fn sweep_sla_breaches(self) -> anyhow::Result<bool> {
        const LIMIT: u32 = 100;
        let resp = self
            .check_sla_breaches(Request::new(pb::CheckSlaBreachesRequest {
                idempotency_key: uuid::Uuid::now_v7().to_string(),
                actor: Some(aftersales_proto::common::v1::Actor {
                    kind: aftersales_proto::common::v1::ActorKind::System as i32,
                    id: "complaints-sweep".into(),
                }),
                limit: LIMIT,
            }))
            .await
            .map_err(|s| anyhow::anyhow!("CheckSlaBreaches: {}", s.message()))?
            .into_inner();
        let full = |n: usize| n >= LIMIT as usize;
        Ok(full(resp.complaints.len()) || full(resp.work_orders.len()))
    }
}

type ComplaintChange =
    Box<dyn FnOnce(&mut Complaint, DateTime<Utc>) -> AppResult<Option<Event>> + Send>;
/// A change to a work order; it sees the work order's complaint (locked first) when it has one.
type WorkOrderChange =
    Box<dyn FnOnce(&mut WorkOrder, Option<&Complaint>, DateTime<Utc>) -> AppResult<Event> + Send>;

/// The current time at the database's precision (microseconds), so that a response built from
/// memory equals what a later read returns.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

fn complaint_id(value: &str) -> AppResult<ComplaintId> {
    ComplaintId::parse("complaint_id", value).app()
}

fn work_order_id(value: &str) -> AppResult<WorkOrderId> {
    WorkOrderId::parse("work_order_id", value).app()
}

impl ComplaintsApi {
    /// One complaint transition: lock, change, save, publish, in one idempotent transaction.
    /// A change that returns no event (a no-op) saves and publishes nothing.
    async fn change_complaint<Req: Message>(
        &self,
        scope: &str,
        key: &str,
        req: &Req,
        id: ComplaintId,
        change: ComplaintChange,
    ) -> AppResult<pb::Complaint> {
        let now = now();
        #[derive(Clone, PartialEq, Message)]
        struct Out {
            #[prost(message, optional, tag = "1")]
            complaint: Option<pb::Complaint>,
        }
        let out: Out = self
            .store
            .idempotent(scope, key, req, move |tx| {
                Box::pin(async move {
                    let mut complaint = repo::load_complaint_for_update(tx.conn(), id).await?;
                    if let Some(event) = change(&mut complaint, now)? {
                        repo::save_complaint(tx.conn(), &complaint).await?;
                        tx.publish(&events::complaint_event(&complaint, event))
                            .await?;
                    }
                    Ok(Out {
                        complaint: Some(convert::complaint_to_pb(&complaint)),
                    })
                })
            })
            .await?;
        out.complaint
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored response has no complaint")))
    }

    /// One work order transition: lock, change, save, publish, in one idempotent transaction.
    async fn change_work_order<Req: Message>(
        &self,
        scope: &str,
        key: &str,
        req: &Req,
        id: WorkOrderId,
        change: WorkOrderChange,
    ) -> AppResult<pb::WorkOrder> {
        let now = now();
        #[derive(Clone, PartialEq, Message)]
        struct Out {
            #[prost(message, optional, tag = "1")]
            work_order: Option<pb::WorkOrder>,
        }
        let out: Out = self
            .store
            .idempotent(scope, key, req, move |tx| {
                Box::pin(async move {
                    // Lock order: complaint, then work order (as CreateWorkOrder and
                    // ResolveComplaint do), so a reopened work order cannot slip past a resolve.
                    let linked = repo::load_work_order(tx.conn(), id).await?.complaint_id;
                    let complaint = match linked {
                        Some(cid) => Some(repo::load_complaint_for_update(tx.conn(), cid).await?),
                        None => None,
                    };
                    let mut wo = repo::load_work_order_for_update(tx.conn(), id).await?;
                    let event = change(&mut wo, complaint.as_ref(), now)?;
                    repo::save_work_order(tx.conn(), &wo).await?;
                    tx.publish(&events::work_order_event(&wo, event)).await?;
                    Ok(Out {
                        work_order: Some(convert::work_order_to_pb(&wo)),
                    })
                })
            })
            .await?;
        out.work_order
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("stored response has no work order")))
    }

    /// A complaint the actor may see (NOT_FOUND otherwise).
    async fn visible_complaint(&self, actor: &Actor, id: ComplaintId) -> AppResult<Complaint> {
        let c = repo::load_complaint(&self.store.db, id).await?;
        if c.is_visible_to(actor) {
            Ok(c)
        } else {
            Err(AppError::not_found("complaint", id))
        }
    }

    /// A work order the actor may see (NOT_FOUND otherwise).
    async fn visible_work_order(&self, actor: &Actor, id: WorkOrderId) -> AppResult<WorkOrder> {
        let w = repo::load_work_order(&self.store.db, id).await?;
        if w.is_visible_to(actor) {
            Ok(w)
        } else {
            Err(AppError::not_found("work order", id))
        }
    }
}

#[tonic::async_trait]
impl ComplaintsService for ComplaintsApi {
    // ------------------------------------------------------------------------------------------
    // Complaints
    // ------------------------------------------------------------------------------------------

    async fn create_complaint(
        &self,
        request: Request<pb::CreateComplaintRequest>,
    ) -> Result<Response<pb::CreateComplaintResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let new = NewComplaint {
            customer_id: CustomerId::parse("customer_id", &req.customer_id).app()?,
            order_id: crate::domain::OrderId::parse_optional("order_id", &req.order_id).app()?,
            case_id: crate::domain::CaseId::parse_optional("case_id", &req.case_id).app()?,
            repair_id: crate::domain::RepairId::parse_optional("repair_id", &req.repair_id)
                .app()?,
            merchant_id: MerchantId::parse_optional("merchant_id", &req.merchant_id).app()?,
            channel: convert::channel(req.channel)?,
            category: convert::enum_field("category", req.category, convert::category_from_pb)?,
            severity: convert::optional_enum_field(
                "severity",
                req.severity,
                convert::severity_from_pb,
            )?,
            subject: req.subject.clone(),
            description: req.description.clone(),
        };
        // Pure: validates the texts and the actor before anything is written.
        let (complaint, event) = Complaint::open(new, &actor, &self.policy, now()).app()?;
        let resp = self
            .store
            .idempotent(
                "complaints.CreateComplaint",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        repo::insert_complaint(tx.conn(), &complaint).await?;
                        tx.publish(&events::complaint_event(&complaint, event))
                            .await?;
                        Ok(pb::CreateComplaintResponse {
                            complaint: Some(convert::complaint_to_pb(&complaint)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_complaint(
        &self,
        request: Request<pb::GetComplaintRequest>,
    ) -> Result<Response<pb::GetComplaintResponse>, Status> {
        let req = request.into_inner();
        let id = complaint_id(&req.complaint_id)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let c = self.visible_complaint(&actor, id).await?;
        Ok(Response::new(pb::GetComplaintResponse {
            complaint: Some(convert::complaint_to_pb(&c)),
        }))
    }

    async fn list_complaints(
        &self,
        request: Request<pb::ListComplaintsRequest>,
    ) -> Result<Response<pb::ListComplaintsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let mut filter = ComplaintFilter {
            customer_id: edge::optional_uuid("customer_id", &req.customer_id)?,
            order_id: edge::optional_uuid("order_id", &req.order_id)?,
            case_id: edge::optional_uuid("case_id", &req.case_id)?,
            merchant_id: edge::optional_uuid("merchant_id", &req.merchant_id)?,
            statuses: convert::enum_list("statuses", &req.statuses, convert::status_from_pb)?,
            severity: convert::optional_enum_field(
                "severity",
                req.severity,
                convert::severity_from_pb,
            )?,
            category: convert::optional_enum_field(
                "category",
                req.category,
                convert::category_from_pb,
            )?,
            channel: if req.channel == 0 {
                None
            } else {
                Some(convert::channel(req.channel)?)
            },
            breached_only: req.breached_only,
            created_from: edge::optional_timestamp("created_from", req.created_from.as_ref())?,
            created_to: edge::optional_timestamp("created_to", req.created_to.as_ref())?,
        };
        // Scoping: a buyer lists only its own complaints; merchants and partners none.
        if !actor.is_internal() {
            let own = match actor.kind {
                ActorKind::Buyer => uuid::Uuid::parse_str(&actor.id).ok(),
                _ => None,
            };
            let Some(own) = own else {
                return Err(
                    convert::app(crate::domain::not_allowed(&actor, "list complaints")).into(),
                );
            };
            if filter.customer_id.is_some_and(|c| c != own) {
                return Ok(Response::new(pb::ListComplaintsResponse {
                    items: Vec::new(),
                    page: Some(Default::default()),
                }));
            }
            filter.customer_id = Some(own);
        }
        let mut rows = repo::list_complaints(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |c| c.id.0);
        Ok(Response::new(pb::ListComplaintsResponse {
            items: rows.iter().map(convert::complaint_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn acknowledge_complaint(
        &self,
        request: Request<pb::AcknowledgeComplaintRequest>,
    ) -> Result<Response<pb::AcknowledgeComplaintResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        // The first-response message itself is delivered by the CS desk; it is only validated.
        convert::optional_long_text("message", &req.message)?;
        let complaint = self
            .change_complaint(
                "complaints.AcknowledgeComplaint",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.acknowledge(&actor, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::AcknowledgeComplaintResponse {
            complaint: Some(complaint),
        }))
    }

    async fn start_investigation(
        &self,
        request: Request<pb::StartInvestigationRequest>,
    ) -> Result<Response<pb::StartInvestigationResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let complaint = self
            .change_complaint(
                "complaints.StartInvestigation",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.start_investigation(&actor, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::StartInvestigationResponse {
            complaint: Some(complaint),
        }))
    }

    async fn wait_for_customer(
        &self,
        request: Request<pb::WaitForCustomerRequest>,
    ) -> Result<Response<pb::WaitForCustomerResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        convert::optional_long_text("note", &req.note)?;
        let complaint = self
            .change_complaint(
                "complaints.WaitForCustomer",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.wait_for_customer(&actor, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::WaitForCustomerResponse {
            complaint: Some(complaint),
        }))
    }

    async fn resume_investigation(
        &self,
        request: Request<pb::ResumeInvestigationRequest>,
    ) -> Result<Response<pb::ResumeInvestigationResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let complaint = self
            .change_complaint(
                "complaints.ResumeInvestigation",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.resume_investigation(&actor, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::ResumeInvestigationResponse {
            complaint: Some(complaint),
        }))
    }

    async fn resolve_complaint(
        &self,
        request: Request<pb::ResolveComplaintRequest>,
    ) -> Result<Response<pb::ResolveComplaintResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let note = convert::reason("resolution_note", &req.resolution_note)?;
        let send = req.send_to_customer;
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.ResolveComplaint",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        // The complaint lock also serialises work orders created for it.
                        let mut c = repo::load_complaint_for_update(tx.conn(), id).await?;
                        let open = repo::count_open_work_orders(tx.conn(), id).await?;
                        let event = c.resolve(&actor, &note, send, open, now).app()?;
                        repo::save_complaint(tx.conn(), &c).await?;
                        tx.publish(&events::complaint_event(&c, event)).await?;
                        Ok(pb::ResolveComplaintResponse {
                            complaint: Some(convert::complaint_to_pb(&c)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn send_resolution_note(
        &self,
        request: Request<pb::SendResolutionNoteRequest>,
    ) -> Result<Response<pb::SendResolutionNoteResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let complaint = self
            .change_complaint(
                "complaints.SendResolutionNote",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.send_resolution_note(&actor, now).app()),
            )
            .await?;
        Ok(Response::new(pb::SendResolutionNoteResponse {
            complaint: Some(complaint),
        }))
    }

    async fn close_complaint(
        &self,
        request: Request<pb::CloseComplaintRequest>,
    ) -> Result<Response<pb::CloseComplaintResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let complaint = self
            .change_complaint(
                "complaints.CloseComplaint",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.close(&actor, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::CloseComplaintResponse {
            complaint: Some(complaint),
        }))
    }

    async fn reopen_complaint(
        &self,
        request: Request<pb::ReopenComplaintRequest>,
    ) -> Result<Response<pb::ReopenComplaintResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let reason = convert::reason("reason", &req.reason)?;
        let complaint = self
            .change_complaint(
                "complaints.ReopenComplaint",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.reopen(&actor, &reason, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::ReopenComplaintResponse {
            complaint: Some(complaint),
        }))
    }

    async fn escalate_complaint(
        &self,
        request: Request<pb::EscalateComplaintRequest>,
    ) -> Result<Response<pb::EscalateComplaintResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let reason = convert::reason("reason", &req.reason)?;
        let complaint = self
            .change_complaint(
                "complaints.EscalateComplaint",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |c, now| c.escalate(&actor, &reason, now).app().map(Some)),
            )
            .await?;
        Ok(Response::new(pb::EscalateComplaintResponse {
            complaint: Some(complaint),
        }))
    }

    async fn check_sla_breaches(
        &self,
        request: Request<pb::CheckSlaBreachesRequest>,
    ) -> Result<Response<pb::CheckSlaBreachesResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let limit = u64::from(validate::sweep_limit("limit", req.limit).app()?);
        actor.ensure_internal("run the sla sweep").app()?;
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.CheckSlaBreaches",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let mut out = pb::CheckSlaBreachesResponse::default();
                        for mut c in repo::claim_overdue_complaints(tx.conn(), now, limit).await? {
                            if let Some(event) = c.check_first_response(now) {
                                repo::save_complaint(tx.conn(), &c).await?;
                                tx.publish(&events::complaint_event(&c, event)).await?;
                                out.complaints.push(convert::complaint_to_pb(&c));
                            }
                        }
                        for mut w in repo::claim_overdue_work_orders(tx.conn(), now, limit).await? {
                            if let Some(event) = w.check_sla(now) {
                                repo::save_work_order(tx.conn(), &w).await?;
                                tx.publish(&events::work_order_event(&w, event)).await?;
                                out.work_orders.push(convert::work_order_to_pb(&w));
                            }
                        }
                        crate::metrics::sla_breaches("first_response", out.complaints.len());
                        crate::metrics::sla_breaches("work_order", out.work_orders.len());
                        if !out.complaints.is_empty() || !out.work_orders.is_empty() {
                            tracing::info!(
                                complaints = out.complaints.len(),
                                work_orders = out.work_orders.len(),
                                "sla breaches escalated"
                            );
                        }
                        Ok(out)
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    // ------------------------------------------------------------------------------------------
    // Work orders
    // ------------------------------------------------------------------------------------------

    async fn create_work_order(
        &self,
        request: Request<pb::CreateWorkOrderRequest>,
    ) -> Result<Response<pb::CreateWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let complaint = ComplaintId::parse_optional("complaint_id", &req.complaint_id).app()?;
        let department =
            convert::enum_field("department", req.department, convert::department_from_pb)?;
        let merchant_id = MerchantId::parse_optional("merchant_id", &req.merchant_id).app()?;
        let new = NewWorkOrder {
            complaint_id: complaint,
            order_id: OrderId::parse_optional("order_id", &req.order_id).app()?,
            case_id: crate::domain::CaseId::parse_optional("case_id", &req.case_id).app()?,
            repair_id: crate::domain::RepairId::parse_optional("repair_id", &req.repair_id)
                .app()?,
            shipment_id: crate::domain::ShipmentId::parse_optional("shipment_id", &req.shipment_id)
                .app()?,
            department,
            merchant_id,
            title: req.title.clone(),
            description: req.description.clone(),
            assignee: req.assignee.clone(),
        };
        // Validate every field before the transaction (the domain checks them again).
        Target::new(department, merchant_id, "merchant_id").app()?;
        convert::short_text("title", &req.title)?;
        convert::reason("description", &req.description)?;
        convert::optional_short_text("assignee", &req.assignee)?;
        actor.ensure_internal("open a work order").app()?;
        let policy = self.policy.clone();
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.CreateWorkOrder",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        // Locks the complaint: a concurrent resolve sees this work order.
                        let linked = match complaint {
                            Some(id) => Some(repo::load_complaint_for_update(tx.conn(), id).await?),
                            None => None,
                        };
                        let (wo, event) =
                            WorkOrder::open(new, linked.as_ref(), &actor, &policy, now).app()?;
                        repo::insert_work_order(tx.conn(), &wo).await?;
                        tx.publish(&events::work_order_event(&wo, event)).await?;
                        Ok(pb::CreateWorkOrderResponse {
                            work_order: Some(convert::work_order_to_pb(&wo)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_work_order(
        &self,
        request: Request<pb::GetWorkOrderRequest>,
    ) -> Result<Response<pb::GetWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let id = work_order_id(&req.work_order_id)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let w = self.visible_work_order(&actor, id).await?;
        Ok(Response::new(pb::GetWorkOrderResponse {
            work_order: Some(convert::work_order_to_pb(&w)),
        }))
    }

    async fn list_work_orders(
        &self,
        request: Request<pb::ListWorkOrdersRequest>,
    ) -> Result<Response<pb::ListWorkOrdersResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let actor = convert::actor(req.actor.as_ref())?;
        let mut filter = WorkOrderFilter {
            complaint_id: edge::optional_uuid("complaint_id", &req.complaint_id)?,
            department: convert::optional_enum_field(
                "department",
                req.department,
                convert::department_from_pb,
            )?,
            merchant_id: edge::optional_uuid("merchant_id", &req.merchant_id)?,
            assignee: convert::optional_short_text("assignee", &req.assignee)?,
            statuses: convert::enum_list("statuses", &req.statuses, convert::wo_status_from_pb)?,
            sla_status: convert::optional_enum_field(
                "sla_status",
                req.sla_status,
                convert::sla_from_pb,
            )?,
            escalated_only: req.escalated_only,
            created_from: edge::optional_timestamp("created_from", req.created_from.as_ref())?,
            created_to: edge::optional_timestamp("created_to", req.created_to.as_ref())?,
        };
        // Scoping: a merchant lists only the work orders sent to it; buyers and partners none.
        if !actor.is_internal() {
            let own = match actor.kind {
                ActorKind::Merchant => uuid::Uuid::parse_str(&actor.id).ok(),
                _ => None,
            };
            let Some(own) = own else {
                return Err(
                    convert::app(crate::domain::not_allowed(&actor, "list work orders")).into(),
                );
            };
            if filter.merchant_id.is_some_and(|m| m != own) {
                return Ok(Response::new(pb::ListWorkOrdersResponse {
                    items: Vec::new(),
                    page: Some(Default::default()),
                }));
            }
            filter.merchant_id = Some(own);
        }
        let mut rows = repo::list_work_orders(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |w| w.id.0);
        Ok(Response::new(pb::ListWorkOrdersResponse {
            items: rows.iter().map(convert::work_order_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn assign_work_order(
        &self,
        request: Request<pb::AssignWorkOrderRequest>,
    ) -> Result<Response<pb::AssignWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let assignee = convert::short_text("assignee", &req.assignee)?;
        let work_order = self
            .change_work_order(
                "complaints.AssignWorkOrder",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |w, _complaint, now| w.assign(&actor, &assignee, now).app()),
            )
            .await?;
        Ok(Response::new(pb::AssignWorkOrderResponse {
            work_order: Some(work_order),
        }))
    }

    async fn start_work_order(
        &self,
        request: Request<pb::StartWorkOrderRequest>,
    ) -> Result<Response<pb::StartWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let work_order = self
            .change_work_order(
                "complaints.StartWorkOrder",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |w, _complaint, now| w.start(&actor, now).app()),
            )
            .await?;
        Ok(Response::new(pb::StartWorkOrderResponse {
            work_order: Some(work_order),
        }))
    }

    async fn complete_work_order(
        &self,
        request: Request<pb::CompleteWorkOrderRequest>,
    ) -> Result<Response<pb::CompleteWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let result = convert::reason("result", &req.result)?;
        let work_order = self
            .change_work_order(
                "complaints.CompleteWorkOrder",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |w, _complaint, now| w.complete(&actor, &result, now).app()),
            )
            .await?;
        Ok(Response::new(pb::CompleteWorkOrderResponse {
            work_order: Some(work_order),
        }))
    }

    async fn reject_work_order(
        &self,
        request: Request<pb::RejectWorkOrderRequest>,
    ) -> Result<Response<pb::RejectWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let reason = convert::reason("reason", &req.reason)?;
        let work_order = self
            .change_work_order(
                "complaints.RejectWorkOrder",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |w, _complaint, now| w.reject(&actor, &reason, now).app()),
            )
            .await?;
        Ok(Response::new(pb::RejectWorkOrderResponse {
            work_order: Some(work_order),
        }))
    }

    async fn verify_work_order(
        &self,
        request: Request<pb::VerifyWorkOrderRequest>,
    ) -> Result<Response<pb::VerifyWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let accepted = req.accepted;
        if accepted {
            convert::optional_long_text("note", &req.note)?;
        } else {
            convert::reason("note", &req.note)?;
        }
        let note = req.note.clone();
        let work_order = self
            .change_work_order(
                "complaints.VerifyWorkOrder",
                &req.idempotency_key,
                &req,
                id,
                Box::new(move |w, complaint, now| {
                    w.verify(&actor, complaint, accepted, &note, now).app()
                }),
            )
            .await?;
        Ok(Response::new(pb::VerifyWorkOrderResponse {
            work_order: Some(work_order),
        }))
    }

    async fn transfer_work_order(
        &self,
        request: Request<pb::TransferWorkOrderRequest>,
    ) -> Result<Response<pb::TransferWorkOrderResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let to_department = convert::enum_field(
            "to_department",
            req.to_department,
            convert::department_from_pb,
        )?;
        let to_merchant =
            MerchantId::parse_optional("to_merchant_id", &req.to_merchant_id).app()?;
        Target::new(to_department, to_merchant, "to_merchant_id").app()?;
        let reason = convert::reason("reason", &req.reason)?;
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.TransferWorkOrder",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let mut wo = repo::load_work_order_for_update(tx.conn(), id).await?;
                        let (transfer, event) = wo
                            .transfer(&actor, to_department, to_merchant, &reason, now)
                            .app()?;
                        repo::save_work_order(tx.conn(), &wo).await?;
                        repo::insert_transfer(tx.conn(), &transfer).await?;
                        tx.publish(&events::work_order_event(&wo, event)).await?;
                        Ok(pb::TransferWorkOrderResponse {
                            work_order: Some(convert::work_order_to_pb(&wo)),
                            transfer: Some(convert::transfer_to_pb(&transfer)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn list_work_order_transfers(
        &self,
        request: Request<pb::ListWorkOrderTransfersRequest>,
    ) -> Result<Response<pb::ListWorkOrderTransfersResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let id = work_order_id(&req.work_order_id)?;
        let actor = convert::actor(req.actor.as_ref())?;
        self.visible_work_order(&actor, id).await?;
        let mut rows = repo::list_transfers(&self.store.db, id, page).await?;
        let next = edge::next_page(&mut rows, page, |t| t.id.0);
        Ok(Response::new(pb::ListWorkOrderTransfersResponse {
            items: rows.iter().map(convert::transfer_to_pb).collect(),
            page: Some(next),
        }))
    }

    // ------------------------------------------------------------------------------------------
    // Follow-ups, ratings, statistics
    // ------------------------------------------------------------------------------------------

    async fn record_follow_up(
        &self,
        request: Request<pb::RecordFollowUpRequest>,
    ) -> Result<Response<pb::RecordFollowUpResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        let method = convert::enum_field("method", req.method, convert::method_from_pb)?;
        let outcome = convert::enum_field("outcome", req.outcome, convert::outcome_from_pb)?;
        convert::optional_long_text("note", &req.note)?;
        let note = req.note.clone();
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.RecordFollowUp",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        // Locked so that a concurrent reopen cannot slip between check and insert.
                        let c = repo::load_complaint_for_update(tx.conn(), id).await?;
                        let (visit, event) =
                            FollowUp::record(&c, &actor, method, outcome, &note, now).app()?;
                        repo::insert_follow_up(tx.conn(), &visit).await?;
                        tx.publish(&events::follow_up_event(&visit, event)).await?;
                        Ok(pb::RecordFollowUpResponse {
                            follow_up: Some(convert::follow_up_to_pb(&visit)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn list_follow_ups(
        &self,
        request: Request<pb::ListFollowUpsRequest>,
    ) -> Result<Response<pb::ListFollowUpsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let id = complaint_id(&req.complaint_id)?;
        repo::load_complaint(&self.store.db, id).await?;
        let mut rows = repo::list_follow_ups(&self.store.db, id, page).await?;
        let next = edge::next_page(&mut rows, page, |f| f.id.0);
        Ok(Response::new(pb::ListFollowUpsResponse {
            items: rows.iter().map(convert::follow_up_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn submit_service_rating(
        &self,
        request: Request<pb::SubmitServiceRatingRequest>,
    ) -> Result<Response<pb::SubmitServiceRatingResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let kind = convert::enum_field("subject_type", req.subject_type, convert::subject_from_pb)?;
        let subject = RatingSubject {
            kind,
            id: edge::uuid("subject_id", &req.subject_id)?,
        };
        let customer_id = CustomerId::parse("customer_id", &req.customer_id).app()?;
        let scores = req
            .scores
            .as_ref()
            .ok_or_else(|| AppError::field("scores", "is required"))?;
        let scores = ServiceScores::parse(
            "scores",
            scores.attitude,
            scores.professionalism,
            scores.timeliness,
        )
        .app()?;
        convert::optional_long_text("comment", &req.comment)?;
        actor
            .ensure_internal_or_customer(&customer_id, "rate for this customer")
            .app()?;
        let new = NewServiceRating {
            subject,
            customer_id,
            scores,
            comment: req.comment.clone(),
        };
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.SubmitServiceRating",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        // Lock the rated item: concurrent ratings of it are serialised here.
                        let (closed, owner) = match subject.kind {
                            RatingSubjectType::Complaint => {
                                let c = repo::load_complaint_for_update(
                                    tx.conn(),
                                    ComplaintId(subject.id),
                                )
                                .await?;
                                (c.is_closed(), Some(c.customer_id.0))
                            }
                            RatingSubjectType::Case | RatingSubjectType::Repair => {
                                match repo::lock_closed_subject(tx.conn(), subject.kind, subject.id)
                                    .await?
                                {
                                    Some(s) => (true, s.customer_id),
                                    None => (false, None),
                                }
                            }
                        };
                        if owner.is_some_and(|o| o != customer_id.0) {
                            return Err(AppError::field(
                                "customer_id",
                                format!(
                                    "is not the customer of the rated {}",
                                    subject.kind.as_str().to_lowercase()
                                ),
                            ));
                        }
                        let existing = repo::find_service_rating(tx.conn(), subject).await?;
                        let (rating, event) =
                            ServiceRating::submit(new, &actor, existing.as_ref(), closed, now)
                                .app()?;
                        repo::insert_service_rating(tx.conn(), &rating).await?;
                        tx.publish(&events::service_rating_event(&rating, event))
                            .await?;
                        Ok(pb::SubmitServiceRatingResponse {
                            rating: Some(convert::service_rating_to_pb(&rating)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_service_rating(
        &self,
        request: Request<pb::GetServiceRatingRequest>,
    ) -> Result<Response<pb::GetServiceRatingResponse>, Status> {
        let req = request.into_inner();
        let kind = convert::enum_field("subject_type", req.subject_type, convert::subject_from_pb)?;
        let subject = RatingSubject {
            kind,
            id: edge::uuid("subject_id", &req.subject_id)?,
        };
        let rating = repo::find_service_rating(&self.store.db, subject)
            .await?
            .ok_or_else(|| AppError::not_found("service rating", subject.id))?;
        Ok(Response::new(pb::GetServiceRatingResponse {
            rating: Some(convert::service_rating_to_pb(&rating)),
        }))
    }

    async fn submit_dsr_rating(
        &self,
        request: Request<pb::SubmitDsrRatingRequest>,
    ) -> Result<Response<pb::SubmitDsrRatingResponse>, Status> {
        let req = request.into_inner();
        let actor = convert::actor(req.actor.as_ref())?;
        let order_id = OrderId::parse("order_id", &req.order_id).app()?;
        let buyer_id = CustomerId::parse("buyer_id", &req.buyer_id).app()?;
        let merchant_id = MerchantId::parse("merchant_id", &req.merchant_id).app()?;
        let scores = req
            .scores
            .as_ref()
            .ok_or_else(|| AppError::field("scores", "is required"))?;
        let scores = DsrScores::parse(
            "scores",
            scores.description_match,
            scores.service,
            scores.logistics,
        )
        .app()?;
        if actor.kind != ActorKind::System && !actor.is_customer(&buyer_id) {
            return Err(convert::app(crate::domain::not_allowed(
                &actor,
                "rate a store for this buyer",
            ))
            .into());
        }
        let new = NewDsrRating {
            order_id,
            buyer_id,
            merchant_id,
            scores,
        };
        let policy = self.policy.clone();
        let now = now();
        let resp = self
            .store
            .idempotent(
                "complaints.SubmitDsrRating",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let month = policy.dsr_month(now);
                        // Lock the buyer/merchant/month row before counting.
                        let counted =
                            repo::lock_dsr_pair_month(tx.conn(), buyer_id, merchant_id, month)
                                .await?;
                        let existing = repo::find_dsr_for_order(tx.conn(), order_id).await?;
                        let (rating, event) = DsrRating::submit(
                            new,
                            &actor,
                            existing.as_ref(),
                            counted,
                            &policy,
                            now,
                        )
                        .app()?;
                        repo::insert_dsr(tx.conn(), &rating).await?;
                        tx.publish(&events::dsr_rating_event(&rating, event))
                            .await?;
                        Ok(pb::SubmitDsrRatingResponse {
                            rating: Some(convert::dsr_rating_to_pb(&rating)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_dsr_summary(
        &self,
        request: Request<pb::GetDsrSummaryRequest>,
    ) -> Result<Response<pb::GetDsrSummaryResponse>, Status> {
        let req = request.into_inner();
        let merchant_id = MerchantId::parse("merchant_id", &req.merchant_id).app()?;
        let month = DsrMonth::parse("month", &req.month).app()?;
        let ratings = repo::dsr_for_month(&self.store.db, merchant_id, month).await?;
        let summary = DsrSummary::from_ratings(merchant_id, month, &ratings);
        Ok(Response::new(pb::GetDsrSummaryResponse {
            summary: Some(convert::dsr_summary_to_pb(
                &summary,
                self.policy.dsr_time_zone.name(),
            )),
        }))
    }

    async fn get_complaint_stats(
        &self,
        request: Request<pb::GetComplaintStatsRequest>,
    ) -> Result<Response<pb::GetComplaintStatsResponse>, Status> {
        let req = request.into_inner();
        let filter = StatsFilter {
            created_from: edge::optional_timestamp("created_from", req.created_from.as_ref())?,
            created_to: edge::optional_timestamp("created_to", req.created_to.as_ref())?,
            department: convert::optional_enum_field(
                "department",
                req.department,
                convert::department_from_pb,
            )?,
            merchant_id: edge::optional_uuid("merchant_id", &req.merchant_id)?,
        };
        let stats = repo::stats(&self.store.db, &filter, now()).await?;
        Ok(Response::new(pb::GetComplaintStatsResponse {
            stats: Some(convert::stats_to_pb(&stats)),
        }))
    }
}
