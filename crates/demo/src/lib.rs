//! The parties of an after-sales flow, played through the public gRPC APIs: the storefront
//! places and pays an order, the merchant prints the waybill, the buyer opens a case; then the
//! saga is followed through the orchestrator's operator API and every service's final state is
//! read back. Used by `aftersales-demo` against a running system and by the integration tests.

use aftersales_proto::common::v1::{Actor, ActorKind, Money, PageRequest};
use aftersales_proto::complaints::v1::{
    self as complaints, complaints_service_client::ComplaintsServiceClient,
};
use aftersales_proto::logistics::v1::{
    self as logistics, logistics_service_client::LogisticsServiceClient,
};
use aftersales_proto::orchestrator::v1::{
    self as orch, orchestrator_service_client::OrchestratorServiceClient,
};
use aftersales_proto::orders::v1::{self as orders, orders_service_client::OrdersServiceClient};
use aftersales_proto::payments::v1::{
    self as payments, payments_service_client::PaymentsServiceClient,
};
use aftersales_proto::repairs::v1::repairs_service_client::RepairsServiceClient;
use aftersales_proto::returns::v1::{
    self as returns, returns_service_client::ReturnsServiceClient,
};
use anyhow::Context as _;
use chrono::{Duration as Cd, Utc};
use std::time::Duration;
use tonic::{Code, codegen::InterceptedService, transport::Channel};

pub mod arbitration;
pub mod repair;

pub fn key() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub fn actor(kind: ActorKind, id: &str) -> Option<Actor> {
    Some(Actor {
        kind: kind as i32,
        id: id.into(),
    })
}

pub fn cny(minor_units: i64) -> Option<Money> {
    Some(Money {
        minor_units,
        currency: "CNY".into(),
    })
}

fn ts(t: chrono::DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

/// An order ready for a refund-only case: paid, unshipped, with a forward waybill.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: orders::Order,
    pub payment_id: String,
    pub shipment_id: String,
    pub buyer: String,
}

/// A client channel that sends the caller's trace context (W3C `traceparent`) with every call,
/// so that a party's calls join the trace of the span they are made in.
pub type Traced = InterceptedService<Channel, TraceInterceptor>;

type TraceInterceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;

pub fn traced(channel: Channel) -> Traced {
    InterceptedService::new(
        channel,
        aftersales_platform::trace::inject_grpc as TraceInterceptor,
    )
}

/// Clients of every API a flow touches.
#[derive(Clone)]
pub struct Parties {
    pub orders: OrdersServiceClient<Traced>,
    pub returns: ReturnsServiceClient<Traced>,
    pub repairs: RepairsServiceClient<Traced>,
    pub logistics: LogisticsServiceClient<Traced>,
    pub payments: PaymentsServiceClient<Traced>,
    pub complaints: ComplaintsServiceClient<Traced>,
    pub orch: OrchestratorServiceClient<Traced>,
    /// The merchant all orders are placed with.
    pub merchant: String,
}

/// Where each API listens.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub orders: String,
    pub returns: String,
    pub repairs: String,
    pub logistics: String,
    pub payments: String,
    pub complaints: String,
    pub orchestrator: String,
}

impl Endpoints {
    /// The default ports on `host` (ARCHITECTURE.md: 50050 orchestrator, 50051.. services).
    pub fn defaults(host: &str) -> Self {
        let at = |port: u16| format!("http://{host}:{port}");
        Self {
            orchestrator: at(50050),
            orders: at(50051),
            returns: at(50052),
            repairs: at(50053),
            logistics: at(50054),
            payments: at(50055),
            complaints: at(50056),
        }
    }
}

async fn channel(url: &str) -> anyhow::Result<Channel> {
    tonic::transport::Endpoint::from_shared(url.to_owned())?
        .connect()
        .await
        .with_context(|| format!("cannot reach {url}: is the system running (`just up`)?"))
}

impl Parties {
    pub fn new(
        orders: Channel,
        returns: Channel,
        repairs: Channel,
        logistics: Channel,
        payments: Channel,
        complaints: Channel,
        orchestrator: Channel,
    ) -> Self {
        Self {
            orders: OrdersServiceClient::new(traced(orders)),
            returns: ReturnsServiceClient::new(traced(returns)),
            repairs: RepairsServiceClient::new(traced(repairs)),
            logistics: LogisticsServiceClient::new(traced(logistics)),
            payments: PaymentsServiceClient::new(traced(payments)),
            complaints: ComplaintsServiceClient::new(traced(complaints)),
            orch: OrchestratorServiceClient::new(traced(orchestrator)),
            merchant: uuid::Uuid::new_v4().to_string(),
        }
    }

    pub async fn connect(e: &Endpoints) -> anyhow::Result<Self> {
        Ok(Self::new(
            channel(&e.orders).await?,
            channel(&e.returns).await?,
            channel(&e.repairs).await?,
            channel(&e.logistics).await?,
            channel(&e.payments).await?,
            channel(&e.complaints).await?,
            channel(&e.orchestrator).await?,
        ))
    }

    /// A paid order (line A: 2 × 70.00 with 10.00 discount, line B: 1 × 15.00; paid 145.00),
    /// its captured payment, and a printed forward waybill.
    pub async fn place_order(&mut self) -> anyhow::Result<Placed> {
        self.place_order_promised(Cd::days(5)).await
    }

    /// Like [`place_order`], with delivery promised `promised_after` the payment (two hours
    /// ago): a negative or short promise makes a later delivery late.
    pub async fn place_order_promised(&mut self, promised_after: Cd) -> anyhow::Result<Placed> {
        let buyer = uuid::Uuid::new_v4().to_string();
        let paid_at = Utc::now() - Cd::hours(2);
        let line = |sku: &str, quantity, unit, discount| orders::NewOrderLine {
            sku: sku.into(),
            category: "apparel".into(),
            quantity,
            unit_price: cny(unit),
            discount_share: cny(discount),
        };
        let address = orders::Address {
            recipient_name: "Li Lei".into(),
            phone: "+86 138 0000 0000".into(),
            country_code: "CN".into(),
            province: "Zhejiang".into(),
            city: "Hangzhou".into(),
            district: "Xihu".into(),
            street: "1 Wensan Road".into(),
            postal_code: "310000".into(),
        };
        let order = self
            .orders
            .create_order(orders::CreateOrderRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::System, "storefront"),
                buyer_id: buyer.clone(),
                merchant_id: self.merchant.clone(),
                shipping_address: Some(address),
                payment_reference: "pay-1".into(),
                paid_amount: cny(14_500),
                shipping_fee: cny(0),
                member_tier: orders::MemberTier::None as i32,
                shipping_insurance: false,
                lines: vec![line("SKU-A", 2, 7_000, 1_000), line("SKU-B", 1, 1_500, 0)],
                paid_at: ts(paid_at),
                promised_eta: ts(paid_at + promised_after),
            })
            .await?
            .into_inner()
            .order
            .context("empty response")?;
        let payment = self
            .payments
            .record_payment(payments::RecordPaymentRequest {
                idempotency_key: key(),
                order_id: order.order_id.clone(),
                merchant_id: self.merchant.clone(),
                buyer_id: buyer.clone(),
                method: payments::PaymentMethod::Card as i32,
                captured: cny(14_500),
                provider_reference: "psp-capture-1".into(),
                captured_at: ts(paid_at),
                actor: actor(ActorKind::System, "storefront"),
            })
            .await?
            .into_inner()
            .payment
            .context("empty response")?;
        let shipment = self
            .logistics
            .create_shipment(logistics::CreateShipmentRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Merchant, &self.merchant),
                direction: logistics::Direction::Forward as i32,
                courier_code: "SF".into(),
                tracking_number: format!("SF{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
                order_id: order.order_id.clone(),
                merchant_id: self.merchant.clone(),
                // The merchant's warehouse: where return labels send the goods back.
                origin: Some(logistics::Address {
                    contact_name: "Warehouse HZ-1".into(),
                    phone: "057100000000".into(),
                    line1: "88 Logistics Park Road".into(),
                    city: "Hangzhou".into(),
                    country_code: "CN".into(),
                    ..Default::default()
                }),
                destination: Some(logistics::Address {
                    contact_name: "Li Lei".into(),
                    phone: "13800000000".into(),
                    line1: "1 Wensan Road".into(),
                    city: "Hangzhou".into(),
                    country_code: "CN".into(),
                    ..Default::default()
                }),
                shipping_fee: cny(1_000),
                fee_payer: logistics::FeePayer::Merchant as i32,
                ..Default::default()
            })
            .await?
            .into_inner()
            .shipment
            .context("empty response")?;
        Ok(Placed {
            order,
            payment_id: payment.payment_id,
            shipment_id: shipment.shipment_id,
            buyer,
        })
    }

    /// Like [`place_order`], then ships it: the orders service records the shipment and the
    /// courier scans the parcel in transit.
    pub async fn place_shipped_order(&mut self) -> anyhow::Result<Placed> {
        let placed = self.place_order().await?;
        self.ship(placed).await
    }

    /// The merchant ships a placed order and the courier scans it in transit.
    pub async fn ship(&mut self, placed: Placed) -> anyhow::Result<Placed> {
        let staff = actor(ActorKind::Staff, "warehouse-1");
        let order_id = placed.order.order_id.clone();
        self.orders
            .start_fulfilment(orders::StartFulfilmentRequest {
                idempotency_key: key(),
                actor: staff.clone(),
                order_id: order_id.clone(),
            })
            .await?;
        let shipment = self.shipment(&placed.shipment_id).await?;
        let order = self
            .orders
            .mark_shipped(orders::MarkShippedRequest {
                idempotency_key: key(),
                actor: staff,
                order_id,
                shipped_at: ts(Utc::now() - Cd::minutes(30)),
                courier_code: shipment.courier_code.clone(),
                tracking_number: shipment.tracking_number.clone(),
                shipment_id: placed.shipment_id.clone(),
            })
            .await?
            .into_inner()
            .order
            .context("empty response")?;
        self.logistics
            .record_tracking_event(logistics::RecordTrackingEventRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Partner, &shipment.courier_code),
                shipment_id: placed.shipment_id.clone(),
                courier_code: shipment.courier_code.clone(),
                courier_event_id: format!("scan-{}", key()),
                status: logistics::TrackingStatus::InTransit as i32,
                occurred_at: ts(Utc::now() - Cd::minutes(20)),
                location: "Hangzhou hub".into(),
                ..Default::default()
            })
            .await?;
        Ok(Placed { order, ..placed })
    }

    /// The courier answers the interception of the order's shipment (waits until the saga has
    /// requested it).
    pub async fn courier_answers_interception(
        &mut self,
        placed: &Placed,
        result: logistics::InterceptionResult,
        within: Duration,
    ) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        let shipment = self.shipment(&placed.shipment_id).await?;
        let interception = loop {
            let found = self
                .logistics
                .list_interceptions(logistics::ListInterceptionsRequest {
                    actor: actor(ActorKind::Staff, "cs-1"),
                    shipment_id: placed.shipment_id.clone(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .items;
            if let Some(i) = found.into_iter().next() {
                break i;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "no interception was requested for shipment {}",
                placed.shipment_id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let courier = actor(ActorKind::Partner, &shipment.courier_code);
        let steps: &[logistics::InterceptionResult] = match result {
            logistics::InterceptionResult::Intercepted => &[
                logistics::InterceptionResult::Accepted,
                logistics::InterceptionResult::Intercepted,
            ],
            other => &[other][..],
        };
        let steps = steps.to_vec();
        for r in steps {
            self.logistics
                .record_interception_result(logistics::RecordInterceptionResultRequest {
                    idempotency_key: key(),
                    actor: courier.clone(),
                    interception_id: interception.interception_id.clone(),
                    result: r as i32,
                    failure_reason: if r == logistics::InterceptionResult::Failed {
                        "already delivered".into()
                    } else {
                        String::new()
                    },
                })
                .await?;
        }
        Ok(())
    }

    /// A customer complains about the order (QUALITY) on the hotline; customer service
    /// acknowledges it and starts investigating, which starts the work-order saga. Returns the
    /// complaint id.
    pub async fn complaint_under_investigation(
        &mut self,
        placed: &Placed,
    ) -> anyhow::Result<String> {
        let cs = actor(ActorKind::Staff, "cs-7");
        let complaint = self
            .complaints
            .create_complaint(complaints::CreateComplaintRequest {
                idempotency_key: key(),
                actor: cs.clone(),
                customer_id: placed.buyer.clone(),
                order_id: placed.order.order_id.clone(),
                merchant_id: self.merchant.clone(),
                channel: aftersales_proto::common::v1::Channel::Hotline as i32,
                category: complaints::ComplaintCategory::Quality as i32,
                subject: "the kettle leaks".into(),
                description: "water comes out of the base after two days".into(),
                ..Default::default()
            })
            .await?
            .into_inner()
            .complaint
            .context("empty response")?;
        let id = complaint.complaint_id;
        self.complaints
            .acknowledge_complaint(complaints::AcknowledgeComplaintRequest {
                idempotency_key: key(),
                actor: cs.clone(),
                complaint_id: id.clone(),
                message: "we are on it".into(),
            })
            .await?;
        self.complaints
            .start_investigation(complaints::StartInvestigationRequest {
                idempotency_key: key(),
                actor: cs,
                complaint_id: id.clone(),
            })
            .await?;
        Ok(id)
    }

    /// Every department answers the work orders the saga opened for the complaint (waits for
    /// `expected` of them); returns how many were answered.
    pub async fn departments_answer(
        &mut self,
        complaint_id: &str,
        expected: usize,
        within: Duration,
    ) -> anyhow::Result<usize> {
        let deadline = tokio::time::Instant::now() + within;
        let orders = loop {
            let found = self
                .complaints
                .list_work_orders(complaints::ListWorkOrdersRequest {
                    actor: actor(ActorKind::Staff, "cs-7"),
                    complaint_id: complaint_id.into(),
                    ..Default::default()
                })
                .await?
                .into_inner()
                .items;
            if found.len() >= expected {
                break found;
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{} of {expected} work orders opened for complaint {complaint_id}",
                found.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for wo in &orders {
            let who = if wo.department == complaints::Department::Merchant as i32 {
                actor(ActorKind::Merchant, &self.merchant)
            } else {
                actor(ActorKind::Staff, "dept-lead")
            };
            self.answer_work_order(
                &wo.work_order_id,
                who,
                "dept-lead",
                Ok("checked the batch: a faulty seal, replaced"),
            )
            .await?;
        }
        Ok(orders.len())
    }

    /// A department answers a work order as `who`: takes it (for `assignee`), starts it, and
    /// completes it with `Ok(result)` or rejects it with `Err(reason)`. Returns it as answered.
    pub async fn answer_work_order(
        &mut self,
        work_order_id: &str,
        who: Option<Actor>,
        assignee: &str,
        answer: Result<&str, &str>,
    ) -> anyhow::Result<complaints::WorkOrder> {
        self.complaints
            .assign_work_order(complaints::AssignWorkOrderRequest {
                idempotency_key: key(),
                actor: who.clone(),
                work_order_id: work_order_id.into(),
                assignee: assignee.into(),
            })
            .await?;
        self.complaints
            .start_work_order(complaints::StartWorkOrderRequest {
                idempotency_key: key(),
                actor: who.clone(),
                work_order_id: work_order_id.into(),
            })
            .await?;
        let answered = match answer {
            Ok(result) => {
                self.complaints
                    .complete_work_order(complaints::CompleteWorkOrderRequest {
                        idempotency_key: key(),
                        actor: who,
                        work_order_id: work_order_id.into(),
                        result: result.into(),
                    })
                    .await?
                    .into_inner()
                    .work_order
            }
            Err(reason) => {
                self.complaints
                    .reject_work_order(complaints::RejectWorkOrderRequest {
                        idempotency_key: key(),
                        actor: who,
                        work_order_id: work_order_id.into(),
                        reason: reason.into(),
                    })
                    .await?
                    .into_inner()
                    .work_order
            }
        };
        answered.context("empty response")
    }

    /// Customer service calls the customer back (回访) once the complaint is resolved.
    pub async fn follow_up(&mut self, complaint_id: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self
                .complaints
                .record_follow_up(complaints::RecordFollowUpRequest {
                    idempotency_key: key(),
                    actor: actor(ActorKind::Staff, "cs-7"),
                    complaint_id: complaint_id.into(),
                    method: complaints::FollowUpMethod::Phone as i32,
                    outcome: complaints::FollowUpOutcome::Satisfied as i32,
                    note: "happy with the replacement".into(),
                })
                .await;
            match got {
                Ok(_) => return Ok(()),
                // Not resolved yet: the saga resolves it once every work order is answered.
                Err(s)
                    if s.code() == Code::FailedPrecondition
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => anyhow::bail!("record follow-up: {s}"),
            }
        }
    }

    pub async fn complaint(&mut self, id: &str) -> anyhow::Result<complaints::Complaint> {
        self.complaints
            .get_complaint(complaints::GetComplaintRequest {
                complaint_id: id.into(),
                actor: actor(ActorKind::Staff, "cs-7"),
            })
            .await?
            .into_inner()
            .complaint
            .context("empty response")
    }

    /// Polls the saga of a business key until it has finished.
    pub async fn wait_key(
        &mut self,
        business_key: &str,
        within: Duration,
    ) -> anyhow::Result<orch::SagaSummary> {
        self.try_wait_key(business_key, within, terminal)
            .await
            .map_err(|seen| {
                anyhow::anyhow!("the saga of {business_key} did not finish in time: {seen:?}")
            })
    }

    /// The merchant approves (or rejects) the case.
    pub async fn merchant_decides(&mut self, case_id: &str, approve: bool) -> anyhow::Result<()> {
        let merchant = actor(ActorKind::Merchant, &self.merchant);
        if approve {
            self.returns
                .approve_case(returns::ApproveCaseRequest {
                    idempotency_key: key(),
                    actor: merchant,
                    case_id: case_id.into(),
                })
                .await?;
        } else {
            self.returns
                .reject_case(returns::RejectCaseRequest {
                    idempotency_key: key(),
                    actor: merchant,
                    case_id: case_id.into(),
                    reason: "the parcel will arrive tomorrow".into(),
                })
                .await?;
        }
        Ok(())
    }

    /// Opens a refund-only case for every unit of the order (retrying while returns has not
    /// replicated the order yet). Returns the case id.
    pub async fn open_refund_only(&mut self, placed: &Placed) -> anyhow::Result<String> {
        self.open_case(placed, returns::CaseType::RefundOnly).await
    }

    /// Opens a no-reason case of `case_type` for every unit of the order, retrying while
    /// returns has not replicated the order's latest state yet.
    pub async fn open_case(
        &mut self,
        placed: &Placed,
        case_type: returns::CaseType,
    ) -> anyhow::Result<String> {
        let every_line: Vec<usize> = (0..placed.order.lines.len()).collect();
        self.open_case_for(
            placed,
            case_type,
            returns::ReasonCode::NoReason,
            &every_line,
        )
        .await
    }

    /// Opens a case of `case_type` for `reason` on every unit of the order lines at `lines`
    /// (indexes into the order's lines), with photo evidence when the reason needs it (quality,
    /// damage, wrong item, not as described), retrying while returns has not replicated the
    /// order's latest state yet. Returns the case id.
    pub async fn open_case_for(
        &mut self,
        placed: &Placed,
        case_type: returns::CaseType,
        reason: returns::ReasonCode,
        lines: &[usize],
    ) -> anyhow::Result<String> {
        let items: Vec<_> = lines.iter().map(|&n| (n, None)).collect();
        self.open_case_with(placed, case_type, reason, &items).await
    }

    /// Opens an exchange (no reason given) of every unit of the lines at `lines`, each replaced
    /// by the variant named with it (another SKU at another unit price, in minor units of the
    /// order's currency). Returns the case id.
    pub async fn open_exchange_for_variants(
        &mut self,
        placed: &Placed,
        lines: &[(usize, &str, i64)],
    ) -> anyhow::Result<String> {
        let currency = placed
            .order
            .paid_amount
            .as_ref()
            .map(|m| m.currency.clone())
            .unwrap_or_default();
        let items: Vec<(usize, Option<returns::Replacement>)> = lines
            .iter()
            .map(|&(n, sku, unit_price)| {
                let replacement = returns::Replacement {
                    sku: sku.into(),
                    unit_price: Some(Money {
                        minor_units: unit_price,
                        currency: currency.clone(),
                    }),
                };
                (n, Some(replacement))
            })
            .collect();
        self.open_case_with(
            placed,
            returns::CaseType::Exchange,
            returns::ReasonCode::NoReason,
            &items,
        )
        .await
    }

    async fn open_case_with(
        &mut self,
        placed: &Placed,
        case_type: returns::CaseType,
        reason: returns::ReasonCode,
        lines: &[(usize, Option<returns::Replacement>)],
    ) -> anyhow::Result<String> {
        use returns::ReasonCode as R;
        let evidence = matches!(
            reason,
            R::Quality | R::Damaged | R::WrongItem | R::NotAsDescribed
        );
        let description = match reason {
            R::NoReason => "changed my mind",
            R::MissingItem => "one item was not in the parcel",
            R::WrongItem => "the parcel held another product",
            _ => "the item is faulty",
        };
        let items = lines
            .iter()
            .map(|(n, replacement)| {
                let l = placed
                    .order
                    .lines
                    .get(*n)
                    .with_context(|| format!("the order has no line {n}"))?;
                Ok(returns::CaseItemInput {
                    line_id: l.line_id.clone(),
                    quantity: l.quantity,
                    replacement: replacement.clone(),
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let req = returns::CreateCaseRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &placed.buyer),
            order_id: placed.order.order_id.clone(),
            case_type: case_type as i32,
            reason: reason as i32,
            channel: aftersales_proto::common::v1::Channel::App as i32,
            description: description.into(),
            evidence_refs: if evidence {
                vec![format!("evidence/{}/photo-1.jpg", placed.order.order_id)]
            } else {
                Vec::new()
            },
            items,
            ..Default::default()
        };
        self.await_replica(placed, &req).await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match self.returns.create_case(req.clone()).await {
                Ok(r) => return Ok(r.into_inner().case.context("empty response")?.case_id),
                Err(s)
                    if (matches!(s.code(), Code::NotFound | Code::Unavailable)
                        || s.message().starts_with("order_not_delivered"))
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => anyhow::bail!("create case: {s}"),
            }
        }
    }

    /// Waits until returns' replica of the order is at least as far along as orders last told
    /// us (an order shipped a moment ago may still be NOT_SHIPPED there, and a case opened then
    /// would be a refund before shipment). The parcel only moves forward: NOT_SHIPPED, IN_TRANSIT,
    /// DELIVERED.
    async fn await_replica(
        &mut self,
        placed: &Placed,
        req: &returns::CreateCaseRequest,
    ) -> anyhow::Result<()> {
        use orders::OrderState as O;
        let want = match orders::OrderState::try_from(placed.order.state) {
            Ok(O::Shipped) => returns::ShipmentState::InTransit,
            Ok(O::Delivered | O::Completed) => returns::ShipmentState::Delivered,
            _ => returns::ShipmentState::NotShipped,
        } as i32;
        let probe = returns::CheckEligibilityRequest {
            actor: req.actor.clone(),
            order_id: req.order_id.clone(),
            case_type: req.case_type,
            reason: req.reason,
            items: req.items.clone(),
            has_evidence: !req.evidence_refs.is_empty(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let seen = match self.returns.check_eligibility(probe.clone()).await {
                Ok(r) => Some(r.into_inner().shipment_state),
                Err(s) if matches!(s.code(), Code::NotFound | Code::Unavailable) => None,
                Err(s) => anyhow::bail!("check eligibility: {s}"),
            };
            if seen.is_some_and(|s| s >= want) {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "returns never saw order {} as {want} (last {seen:?})",
                    req.order_id
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Like [`place_shipped_order`], then the buyer signs for it.
    pub async fn place_delivered_order(&mut self) -> anyhow::Result<Placed> {
        let placed = self.place_shipped_order().await?;
        self.deliver(placed).await
    }

    /// The buyer signs for a shipped order (five minutes ago).
    pub async fn deliver(&mut self, placed: Placed) -> anyhow::Result<Placed> {
        let order = self
            .orders
            .confirm_delivery(orders::ConfirmDeliveryRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Staff, "cs-1"),
                order_id: placed.order.order_id.clone(),
                signed_at: ts(Utc::now() - Cd::minutes(5)),
            })
            .await?
            .into_inner()
            .order
            .context("empty response")?;
        Ok(Placed { order, ..placed })
    }

    /// The return leg as its parties play it: the buyer ships the parcel back with the return
    /// label the saga issued, the warehouse receives every item and inspects each with
    /// `verdict(index)` = (result, resellable).
    pub async fn return_leg(
        &mut self,
        placed: &Placed,
        case_id: &str,
        verdict: impl Fn(usize) -> (returns::InspectionStatus, bool),
    ) -> anyhow::Result<()> {
        let buyer = actor(ActorKind::Buyer, &placed.buyer);
        // The merchant's approval lets the saga issue the label; wait for it.
        let label = self
            .await_case_shipment(
                placed,
                case_id,
                logistics::Direction::Return,
                Duration::from_secs(20),
            )
            .await?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let got = self
                .returns
                .record_buyer_shipment(returns::RecordBuyerShipmentRequest {
                    idempotency_key: key(),
                    actor: buyer.clone(),
                    case_id: case_id.into(),
                    courier_code: label.courier_code.clone(),
                    tracking_number: label.tracking_number.clone(),
                })
                .await;
            match got {
                Ok(_) => break,
                Err(s)
                    if s.code() == Code::FailedPrecondition
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => anyhow::bail!("record buyer shipment: {s}"),
            }
        }
        let warehouse = actor(ActorKind::Partner, "warehouse-hz");
        let case = self.case(case_id).await?;
        for (n, item) in case.items.iter().enumerate() {
            self.returns
                .record_item_receipt(returns::RecordItemReceiptRequest {
                    idempotency_key: key(),
                    actor: warehouse.clone(),
                    case_id: case_id.into(),
                    item_id: item.item_id.clone(),
                    status: returns::ReceptionStatus::Received as i32,
                    received_quantity: 0,
                })
                .await?;
            let (result, resellable) = verdict(n);
            self.returns
                .submit_inspection(returns::SubmitInspectionRequest {
                    idempotency_key: key(),
                    actor: warehouse.clone(),
                    case_id: case_id.into(),
                    item_id: item.item_id.clone(),
                    result: result as i32,
                    condition: Some(returns::ItemCondition {
                        packaging_intact: resellable,
                        second_sale_damage: !resellable,
                        resellable,
                        note: String::new(),
                    }),
                })
                .await?;
        }
        Ok(())
    }

    /// Polls a case's saga until `done` says so; on time out returns what was seen last.
    pub async fn try_wait_saga(
        &mut self,
        case_id: &str,
        within: Duration,
        done: impl Fn(&orch::SagaSummary) -> bool,
    ) -> Result<orch::SagaSummary, WaitTimedOut> {
        self.try_wait_key(&format!("case:{case_id}"), within, done)
            .await
    }

    /// Polls the saga of `business_key` until `done` says so. Failed calls are retried (the
    /// orchestrator may be restarting); on time out the error carries the last summary and the
    /// last call error seen.
    pub async fn try_wait_key(
        &mut self,
        business_key: &str,
        within: Duration,
        done: impl Fn(&orch::SagaSummary) -> bool,
    ) -> Result<orch::SagaSummary, WaitTimedOut> {
        let deadline = tokio::time::Instant::now() + within;
        let mut seen = WaitTimedOut::default();
        loop {
            let got = self
                .orch
                .list_sagas(orch::ListSagasRequest {
                    business_key: business_key.into(),
                    ..Default::default()
                })
                .await;
            match got.map(|r| r.into_inner().sagas.into_iter().next()) {
                Ok(Some(s)) if done(&s) => return Ok(s),
                Ok(s) => seen.last = s.or(seen.last),
                Err(e) => seen.last_error = Some(e.to_string()),
            }
            if tokio::time::Instant::now() > deadline {
                return Err(seen);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Sagas running or compensating now (first page of each; calls that fail count none).
    pub async fn unfinished_sagas(&mut self) -> usize {
        let mut n = 0;
        for status in [orch::SagaStatus::Running, orch::SagaStatus::Compensating] {
            if let Ok(r) = self
                .orch
                .list_sagas(orch::ListSagasRequest {
                    status: status as i32,
                    page: Some(PageRequest {
                        page_size: 200,
                        page_token: String::new(),
                    }),
                    ..Default::default()
                })
                .await
            {
                n += r.into_inner().sagas.len();
            }
        }
        n
    }

    pub async fn saga(&mut self, saga_id: &str) -> anyhow::Result<orch::Saga> {
        self.orch
            .get_saga(orch::GetSagaRequest {
                saga_id: saga_id.into(),
            })
            .await?
            .into_inner()
            .saga
            .context("empty response")
    }

    /// How many refunds of the order's payment did not fail, and their total in minor units.
    pub async fn money_refunded(&mut self, placed: &Placed) -> anyhow::Result<(usize, i64)> {
        let live: Vec<payments::Refund> = self
            .refunds(placed)
            .await?
            .into_iter()
            .filter(|r| r.status != payments::RefundStatus::Failed as i32)
            .collect();
        let total = live
            .iter()
            .map(|r| r.amount.as_ref().map(|m| m.minor_units).unwrap_or(0))
            .sum();
        Ok((live.len(), total))
    }

    /// Every refund of the order's payment.
    pub async fn refunds(&mut self, placed: &Placed) -> anyhow::Result<Vec<payments::Refund>> {
        Ok(self
            .payments
            .list_refunds(payments::ListRefundsRequest {
                payment_id: placed.payment_id.clone(),
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items)
    }

    /// Every charge of a case (an exchange's price difference).
    pub async fn case_charges(&mut self, case_id: &str) -> anyhow::Result<Vec<payments::Charge>> {
        Ok(self
            .payments
            .list_charges(payments::ListChargesRequest {
                case_id: case_id.into(),
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items)
    }

    pub async fn order(&mut self, placed: &Placed) -> anyhow::Result<orders::Order> {
        self.orders
            .get_order(orders::GetOrderRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                order_id: placed.order.order_id.clone(),
            })
            .await?
            .into_inner()
            .order
            .context("empty response")
    }

    pub async fn case(&mut self, case_id: &str) -> anyhow::Result<returns::Case> {
        self.returns
            .get_case(returns::GetCaseRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                case_id: case_id.into(),
            })
            .await?
            .into_inner()
            .case
            .context("empty response")
    }

    pub async fn shipment(&mut self, id: &str) -> anyhow::Result<logistics::Shipment> {
        self.logistics
            .get_shipment(logistics::GetShipmentRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                shipment_id: id.into(),
            })
            .await?
            .into_inner()
            .shipment
            .context("empty response")
    }

    /// What a completed refund-only saga must leave behind, exactly once: one refund of the
    /// whole 145.00, every unit canceled and refunded, the waybill voided, the case completed.
    /// Returns a list of the differences (empty when all is right).
    pub async fn refund_only_effects(
        &mut self,
        placed: &Placed,
        case_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let (count, total) = self.money_refunded(placed).await?;
        if count != 1 || total != 14_500 {
            problems.push(format!(
                "{count} refunds totalling {total} instead of one of 14500"
            ));
        }
        let order = self.order(placed).await?;
        for line in &order.lines {
            let c = line.counters.unwrap_or_default();
            if c.canceled != line.quantity || c.refunded != line.quantity {
                problems.push(format!(
                    "line {}: canceled {} refunded {} of {}",
                    line.sku, c.canceled, c.refunded, line.quantity
                ));
            }
        }
        if order.state != orders::OrderState::Canceled as i32 {
            problems.push(format!("order state {}", order.state));
        }
        let shipment = self.shipment(&placed.shipment_id).await?;
        if shipment.waybill_state != logistics::WaybillState::Voided as i32 {
            problems.push(format!("waybill state {}", shipment.waybill_state));
        }
        let case = self.case(case_id).await?;
        if case.status != returns::CaseStatus::Completed as i32 {
            problems.push(format!("case status {}", case.status));
        }
        Ok(problems)
    }
}

impl Parties {
    /// What a completed in-transit refund-only saga must leave behind, exactly once: the
    /// interception recorded on the case, one refund of the whole 145.00, every unit refunded
    /// (none canceled: the order had shipped), the case completed.
    pub async fn in_transit_effects(
        &mut self,
        placed: &Placed,
        case_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let (count, total) = self.money_refunded(placed).await?;
        if count != 1 || total != 14_500 {
            problems.push(format!(
                "{count} refunds totalling {total} instead of one of 14500"
            ));
        }
        let order = self.order(placed).await?;
        for line in &order.lines {
            let c = line.counters.unwrap_or_default();
            if c.refunded != line.quantity || c.canceled != 0 {
                problems.push(format!(
                    "line {}: refunded {} canceled {} of {}",
                    line.sku, c.refunded, c.canceled, line.quantity
                ));
            }
        }
        let case = self.case(case_id).await?;
        if case.status != returns::CaseStatus::Completed as i32 {
            problems.push(format!("case status {}", case.status));
        }
        if case.interception != returns::InterceptionStatus::Intercepted as i32 {
            problems.push(format!("case interception {}", case.interception));
        }
        Ok(problems)
    }
}

impl Parties {
    /// What a completed return-and-refund saga (or an exchange refunded for want of stock) must
    /// leave behind, exactly once: one refund of the amount returns fixed for the accepted items,
    /// those units counted as refunded and no others, the return leg's effects (the label used
    /// and not voided, rejected items shipped back, accepted resellable items restocked), the
    /// case completed.
    pub async fn return_effects(
        &mut self,
        placed: &Placed,
        case_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let case = self.case(case_id).await?;
        let due = case.refund_amount.as_ref().map_or(0, |m| m.minor_units);
        let (count, total) = self.money_refunded(placed).await?;
        let accepted: Vec<&returns::CaseItem> = case
            .items
            .iter()
            .filter(|i| i.inspection == returns::InspectionStatus::Accepted as i32)
            .collect();
        if accepted.is_empty() {
            if count != 0 {
                problems.push(format!("{count} refunds though nothing was accepted"));
            }
        } else if count != 1 || total != due || due <= 0 {
            problems.push(format!(
                "{count} refunds totalling {total} instead of one of {due}"
            ));
        }
        let order = self.order(placed).await?;
        for line in &order.lines {
            let want: u32 = accepted
                .iter()
                .filter(|i| i.line_id == line.line_id)
                .map(|i| i.quantity)
                .sum();
            let got = line.counters.unwrap_or_default().refunded;
            if got != want {
                problems.push(format!(
                    "line {}: refunded {got} instead of {want}",
                    line.sku
                ));
            }
        }
        self.return_leg_effects(placed, &case, &mut problems)
            .await?;
        if case.status != returns::CaseStatus::Completed as i32 {
            problems.push(format!("case status {}", case.status));
        }
        Ok(problems)
    }

    /// What the return leg leaves behind, in `problems`: one return label, paid as the case
    /// says, used by the buyer and not voided; the rejected items shipped back to the buyer
    /// (RESHIP, buyer pays) and nothing shipped back when none was rejected; the accepted
    /// resellable items restocked.
    async fn return_leg_effects(
        &mut self,
        placed: &Placed,
        case: &returns::Case,
        problems: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        let labels = self
            .case_shipments(placed, &case.case_id, logistics::Direction::Return)
            .await?;
        match labels.as_slice() {
            [label] => {
                if label.waybill_state == logistics::WaybillState::Voided as i32 {
                    problems.push(format!(
                        "return label {} voided though the buyer used it",
                        label.shipment_id
                    ));
                }
                let payer = if case.merchant_pays_return_shipping {
                    logistics::FeePayer::Merchant
                } else {
                    logistics::FeePayer::Buyer
                };
                if label.fee_payer != payer as i32 {
                    problems.push(format!(
                        "return label paid by {} instead of {}",
                        fee_payer_name(label.fee_payer),
                        fee_payer_name(payer as i32)
                    ));
                }
                let shipped = case.return_shipment.clone().unwrap_or_default();
                if shipped.tracking_number != label.tracking_number
                    || shipped.courier_code != label.courier_code
                {
                    problems.push(format!(
                        "the buyer shipped with {} {} instead of the label {} {}",
                        shipped.courier_code,
                        shipped.tracking_number,
                        label.courier_code,
                        label.tracking_number
                    ));
                }
            }
            other => problems.push(format!("{} return labels instead of one", other.len())),
        }
        let rejected = case
            .items
            .iter()
            .any(|i| i.inspection == returns::InspectionStatus::Rejected as i32);
        let back = self
            .case_shipments(placed, &case.case_id, logistics::Direction::Reship)
            .await?;
        match (rejected, back.as_slice()) {
            (false, []) => {}
            (true, [b]) => {
                if b.fee_payer != logistics::FeePayer::Buyer as i32 {
                    problems.push(format!(
                        "rejected items shipped back at the cost of {}",
                        fee_payer_name(b.fee_payer)
                    ));
                }
                if b.waybill_state == logistics::WaybillState::Voided as i32 {
                    problems.push(format!(
                        "the shipment of the rejected items {} is voided",
                        b.shipment_id
                    ));
                }
            }
            (true, other) => problems.push(format!(
                "{} shipments of the rejected items back to the buyer instead of one",
                other.len()
            )),
            (false, other) => problems.push(format!(
                "{} reshipments though no item was rejected",
                other.len()
            )),
        }
        for i in &case.items {
            let accepted = i.inspection == returns::InspectionStatus::Accepted as i32;
            let resellable = i.condition.as_ref().is_some_and(|c| c.resellable);
            if accepted && resellable && i.disposition != returns::Disposition::Restock as i32 {
                problems.push(format!("item {} not restocked", i.item_id));
            }
        }
        Ok(())
    }
}

impl Parties {
    /// The case's shipments in `direction` (return label, reship, replacement), oldest first.
    pub async fn case_shipments(
        &mut self,
        placed: &Placed,
        case_id: &str,
        direction: logistics::Direction,
    ) -> anyhow::Result<Vec<logistics::Shipment>> {
        Ok(self
            .logistics
            .list_shipments(logistics::ListShipmentsRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                order_id: placed.order.order_id.clone(),
                case_id: case_id.into(),
                direction: direction as i32,
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items)
    }

    /// Waits until the saga has issued a shipment in `direction` for the case (the return
    /// label, ...) and returns it; on time out says where the case's saga is.
    pub async fn await_case_shipment(
        &mut self,
        placed: &Placed,
        case_id: &str,
        direction: logistics::Direction,
        within: Duration,
    ) -> anyhow::Result<logistics::Shipment> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let found = self.case_shipments(placed, case_id, direction).await?;
            if let Some(s) = found.into_iter().next() {
                return Ok(s);
            }
            if tokio::time::Instant::now() >= deadline {
                let saga = self.saga_note(case_id).await;
                anyhow::bail!(
                    "no {} shipment was issued for case {case_id}: {saga}",
                    direction.as_str_name()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Where the case's saga is, in words, for error messages.
    async fn saga_note(&mut self, case_id: &str) -> String {
        let got = self
            .orch
            .list_sagas(orch::ListSagasRequest {
                business_key: format!("case:{case_id}"),
                ..Default::default()
            })
            .await;
        match got.map(|r| r.into_inner().sagas.into_iter().next()) {
            Ok(Some(s)) => format!(
                "saga {} is {:?} at `{}` (last error: {})",
                s.saga_id,
                status(&s),
                s.current_step,
                if s.last_error.is_empty() {
                    "none"
                } else {
                    &s.last_error
                }
            ),
            Ok(None) => "no saga runs for the case".into(),
            Err(e) => format!("the orchestrator did not answer: {e}"),
        }
    }

    /// The warehouse answers the work order the case's saga opened for it (an exchange's stock
    /// check, a reship's verification): takes, starts and completes it when `done`, or rejects
    /// it (out of stock, claim refuted). Waits for the work order; returns it as answered.
    pub async fn warehouse_answers(
        &mut self,
        case_id: &str,
        done: bool,
        within: Duration,
    ) -> anyhow::Result<complaints::WorkOrder> {
        let wo = self.await_warehouse_work_order(case_id, within).await?;
        let answer = if done {
            Ok("checked against the packing record: confirmed")
        } else {
            Err("not possible: out of stock, or the packing record shows it shipped")
        };
        let lead = actor(ActorKind::Staff, "warehouse-lead");
        self.answer_work_order(&wo.work_order_id, lead, "warehouse-lead", answer)
            .await
    }

    /// Waits for the open warehouse work order of the case: the oldest one still open (a saga
    /// that parks opens another, for an operator).
    pub async fn await_warehouse_work_order(
        &mut self,
        case_id: &str,
        within: Duration,
    ) -> anyhow::Result<complaints::WorkOrder> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let open = self
                .warehouse_work_orders(case_id)
                .await?
                .into_iter()
                .rfind(|w| w.status == complaints::WorkOrderStatus::Open as i32);
            if let Some(wo) = open {
                return Ok(wo);
            }
            if tokio::time::Instant::now() >= deadline {
                let saga = self.saga_note(case_id).await;
                anyhow::bail!("no warehouse work order was opened for case {case_id}: {saga}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The warehouse work orders of a case, in any status, newest first (complaints lists work
    /// orders by department, not by case).
    pub async fn warehouse_work_orders(
        &mut self,
        case_id: &str,
    ) -> anyhow::Result<Vec<complaints::WorkOrder>> {
        let found = self
            .complaints
            .list_work_orders(complaints::ListWorkOrdersRequest {
                actor: actor(ActorKind::Staff, "warehouse-lead"),
                department: complaints::Department::Warehouse as i32,
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items;
        Ok(found.into_iter().filter(|w| w.case_id == case_id).collect())
    }

    /// Every compensation issued for the case.
    pub async fn compensations(
        &mut self,
        case_id: &str,
    ) -> anyhow::Result<Vec<payments::Compensation>> {
        Ok(self
            .payments
            .list_compensations(payments::ListCompensationsRequest {
                case_id: case_id.into(),
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items)
    }

    /// What a completed exchange saga must leave behind, exactly once: the return leg (label
    /// used, rejected items shipped back, accepted resellable items restocked), one REPLACEMENT
    /// shipment for the case (merchant pays) recorded on the completed case, the accepted units
    /// counted as replaced and none refunded, and the accepted items' price difference settled
    /// once: one succeeded charge when the replacement is dearer, one refund when it is cheaper,
    /// no money at all at the same price.
    pub async fn exchange_effects(
        &mut self,
        placed: &Placed,
        case_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let case = self.case(case_id).await?;
        let replacements = self
            .case_shipments(placed, case_id, logistics::Direction::Replacement)
            .await?;
        match replacements.as_slice() {
            [r] => {
                if case.replacement_shipment_id != r.shipment_id {
                    problems.push(format!(
                        "case records replacement shipment `{}` instead of {}",
                        case.replacement_shipment_id, r.shipment_id
                    ));
                }
                if r.fee_payer != logistics::FeePayer::Merchant as i32 {
                    problems.push(format!(
                        "replacement paid by {}",
                        fee_payer_name(r.fee_payer)
                    ));
                }
                if r.waybill_state == logistics::WaybillState::Voided as i32 {
                    problems.push(format!("replacement {} voided", r.shipment_id));
                }
            }
            other => problems.push(format!(
                "{} replacement shipments instead of one",
                other.len()
            )),
        }
        // The price difference of the accepted items: charged before the replacement shipped
        // when dearer, refunded after when cheaper, exactly once; nothing at the same price.
        let accepted = || {
            case.items
                .iter()
                .filter(|i| i.inspection == returns::InspectionStatus::Accepted as i32)
        };
        let minor = |m: &Option<Money>| m.as_ref().map_or(0, |m| m.minor_units);
        let net: i64 = accepted()
            .map(|i| minor(&i.difference_to_pay) - minor(&i.difference_to_refund))
            .sum();
        let (count, total) = self.money_refunded(placed).await?;
        let want = if net < 0 { (1, -net) } else { (0, 0) };
        if (count, total) != want {
            problems.push(format!(
                "{count} refunds totalling {total} on an exchange instead of {} of {}",
                want.0, want.1
            ));
        }
        let charged: Vec<i64> = self
            .case_charges(case_id)
            .await?
            .iter()
            .filter(|c| c.status != payments::ChargeStatus::Failed as i32)
            .map(|c| {
                if c.status == payments::ChargeStatus::Succeeded as i32 {
                    minor(&c.amount)
                } else {
                    -1
                }
            })
            .collect();
        let want: Vec<i64> = if net > 0 { vec![net] } else { Vec::new() };
        if charged != want {
            problems.push(format!(
                "charges {charged:?} (-1: not succeeded) instead of {want:?}"
            ));
        }
        let order = self.order(placed).await?;
        for line in &order.lines {
            let want: u32 = case
                .items
                .iter()
                .filter(|i| {
                    i.line_id == line.line_id
                        && i.inspection == returns::InspectionStatus::Accepted as i32
                })
                .map(|i| i.quantity)
                .sum();
            let c = line.counters.unwrap_or_default();
            if c.replaced != want || c.refunded != 0 {
                problems.push(format!(
                    "line {}: replaced {} refunded {} instead of {want} and 0",
                    line.sku, c.replaced, c.refunded
                ));
            }
        }
        self.return_leg_effects(placed, &case, &mut problems)
            .await?;
        if case.status != returns::CaseStatus::Completed as i32 {
            problems.push(format!("case status {}", case.status));
        }
        Ok(problems)
    }

    /// What a completed reship saga must leave behind, exactly once: one RESHIP shipment (the
    /// merchant pays) recorded on the completed case, the case's units counted as reshipped,
    /// no refund; for a wrong item also a return label the merchant pays and a store credit of
    /// [`WRONG_ITEM_COMPENSATION_PERCENT`] of the case's value, for a missing item neither.
    pub async fn reship_effects(
        &mut self,
        placed: &Placed,
        case_id: &str,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let case = self.case(case_id).await?;
        let wrong_item = case.merchant_pays_return_shipping;
        let reships = self
            .case_shipments(placed, case_id, logistics::Direction::Reship)
            .await?;
        match reships.as_slice() {
            [r] => {
                if case.replacement_shipment_id != r.shipment_id {
                    problems.push(format!(
                        "case records reship `{}` instead of {}",
                        case.replacement_shipment_id, r.shipment_id
                    ));
                }
                if r.fee_payer != logistics::FeePayer::Merchant as i32 {
                    problems.push(format!("reship paid by {}", fee_payer_name(r.fee_payer)));
                }
                if r.waybill_state == logistics::WaybillState::Voided as i32 {
                    problems.push(format!("reship {} voided", r.shipment_id));
                }
            }
            other => problems.push(format!("{} reships instead of one", other.len())),
        }
        let labels = self
            .case_shipments(placed, case_id, logistics::Direction::Return)
            .await?;
        match (wrong_item, labels.as_slice()) {
            (false, []) => {}
            (true, [l]) => {
                if l.fee_payer != logistics::FeePayer::Merchant as i32 {
                    problems.push(format!(
                        "wrong-item return label paid by {}",
                        fee_payer_name(l.fee_payer)
                    ));
                }
                if l.waybill_state == logistics::WaybillState::Voided as i32 {
                    problems.push(format!("return label {} voided", l.shipment_id));
                }
            }
            (true, other) => problems.push(format!(
                "{} return labels for the wrong item instead of one",
                other.len()
            )),
            (false, other) => problems.push(format!(
                "{} return labels for a missing item instead of none",
                other.len()
            )),
        }
        let value = case.requested_amount.clone().unwrap_or_default();
        let due = value.minor_units * WRONG_ITEM_COMPENSATION_PERCENT / 100;
        let compensations = self.compensations(case_id).await?;
        match (wrong_item, compensations.as_slice()) {
            (false, []) => {}
            (true, [c]) => {
                let amount = c.amount.clone().unwrap_or_default();
                if c.kind != payments::CompensationKind::WrongItem as i32
                    || c.payout != payments::CompensationPayout::StoreCredit as i32
                    || c.status != payments::CompensationStatus::Issued as i32
                    || amount.minor_units != due
                    || amount.currency != value.currency
                    || c.buyer_id != placed.buyer
                {
                    problems.push(format!(
                        "compensation {}: kind {} payout {} status {} amount {} {} for buyer {},                          instead of an issued WRONG_ITEM store credit of {due} {} for {}",
                        c.compensation_id,
                        c.kind,
                        c.payout,
                        c.status,
                        amount.minor_units,
                        amount.currency,
                        c.buyer_id,
                        value.currency,
                        placed.buyer
                    ));
                }
            }
            (true, other) => problems.push(format!(
                "{} compensations for the wrong item instead of one",
                other.len()
            )),
            (false, other) => problems.push(format!(
                "{} compensations for a missing item instead of none",
                other.len()
            )),
        }
        let (count, total) = self.money_refunded(placed).await?;
        if count != 0 {
            problems.push(format!("{count} refunds totalling {total} on a reship"));
        }
        let order = self.order(placed).await?;
        for line in &order.lines {
            let want: u32 = case
                .items
                .iter()
                .filter(|i| i.line_id == line.line_id)
                .map(|i| i.quantity)
                .sum();
            let c = line.counters.unwrap_or_default();
            if c.reshipped != want || c.refunded != 0 {
                problems.push(format!(
                    "line {}: reshipped {} refunded {} instead of {want} and 0",
                    line.sku, c.reshipped, c.refunded
                ));
            }
        }
        if case.status != returns::CaseStatus::Completed as i32 {
            problems.push(format!("case status {}", case.status));
        }
        Ok(problems)
    }
}

/// The share of a wrong item's value its buyer gets back as store credit (the reship flow's
/// rule, restated here: the checks are black-box).
pub const WRONG_ITEM_COMPENSATION_PERCENT: i64 = 10;

fn fee_payer_name(payer: i32) -> &'static str {
    logistics::FeePayer::try_from(payer)
        .map(|p| p.as_str_name())
        .unwrap_or("an unknown fee payer")
}

/// A saga that did not get where it was awaited in time: what was seen last.
#[derive(Debug, Default)]
pub struct WaitTimedOut {
    pub last: Option<orch::SagaSummary>,
    pub last_error: Option<String>,
}

pub fn status(s: &orch::SagaSummary) -> orch::SagaStatus {
    orch::SagaStatus::try_from(s.status).unwrap_or(orch::SagaStatus::Unspecified)
}

pub fn terminal(s: &orch::SagaSummary) -> bool {
    matches!(
        status(s),
        orch::SagaStatus::Completed | orch::SagaStatus::Compensated
    )
}
