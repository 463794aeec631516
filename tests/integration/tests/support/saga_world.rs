//! The world a saga runs in: the real orchestrator and the services it commands, each with its
//! own database and this run's queue prefix, plus helpers that play the buyer, the storefront
//! and the warehouse, and that read every service's final state.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use aftersales_proto::common::v1::{Actor, ActorKind, Money, PageRequest};
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
use aftersales_proto::returns::v1::{
    self as returns, returns_service_client::ReturnsServiceClient,
};
use aftersales_test_support::TestEnv;
use chrono::{Duration as Cd, Utc};
use std::time::Duration;
use tonic::{Code, transport::Channel};

pub const SERVICES: [&str; 5] = ["orders", "returns", "logistics", "payments", "complaints"];

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

/// An order ready for a refund-only case: paid, unshipped, with a forward waybill printed.
#[derive(Debug, Clone)]
pub struct Placed {
    pub order: orders::Order,
    pub payment_id: String,
    pub shipment_id: String,
    pub buyer: String,
}

pub struct World {
    pub env: TestEnv,
    pub orders: OrdersServiceClient<Channel>,
    pub returns: ReturnsServiceClient<Channel>,
    pub logistics: LogisticsServiceClient<Channel>,
    pub payments: PaymentsServiceClient<Channel>,
    pub orch: OrchestratorServiceClient<Channel>,
    pub orch_env: Vec<(String, String)>,
    /// Orchestrator replicas started on one database (competing consumers, shared timers).
    pub orch_replicas: usize,
    pub merchant: String,
}

impl World {
    /// Starts the five services and the orchestrator (`orch_env`: its extra settings).
    pub async fn start(orch_env: &[(&str, &str)]) -> Self {
        Self::start_with(orch_env, &[]).await
    }

    /// Like [`start`], with extra settings for named services.
    pub async fn start_with(orch_env: &[(&str, &str)], service_env: &[(&str, &str, &str)]) -> Self {
        Self::start_replicated(orch_env, service_env, 1).await
    }

    /// Like [`start_with`], with `replicas` orchestrator processes on one database.
    pub async fn start_replicated(
        orch_env: &[(&str, &str)],
        service_env: &[(&str, &str, &str)],
        replicas: usize,
    ) -> Self {
        let replicas = replicas.max(1);
        let env = TestEnv::new();
        let mut channels = Vec::new();
        for s in SERVICES {
            let extra: Vec<(&str, &str)> = service_env
                .iter()
                .filter(|(svc, _, _)| *svc == s)
                .map(|(_, k, v)| (*k, *v))
                .collect();
            channels.push(env.start(s, &extra).await);
        }
        let mut orch_ch = env.start("orchestrator", orch_env).await;
        for _ in 1..replicas {
            orch_ch = env.start("orchestrator", orch_env).await;
        }
        Self {
            orders: OrdersServiceClient::new(channels[0].clone()),
            returns: ReturnsServiceClient::new(channels[1].clone()),
            logistics: LogisticsServiceClient::new(channels[2].clone()),
            payments: PaymentsServiceClient::new(channels[3].clone()),
            orch: OrchestratorServiceClient::new(orch_ch),
            orch_env: orch_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            orch_replicas: replicas,
            env,
            merchant: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Kills the orchestrator with SIGKILL.
    pub fn kill_orchestrator(&self) {
        self.env.kill("orchestrator");
    }

    /// Starts the orchestrator replicas again on their database and reconnects the client.
    pub async fn restart_orchestrator(&mut self) {
        let env: Vec<(&str, &str)> = self
            .orch_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        for _ in 0..self.orch_replicas {
            let ch = self.env.start("orchestrator", &env).await;
            self.orch = OrchestratorServiceClient::new(ch);
        }
    }

    /// Restarts a service (after a kill) and reconnects its client.
    pub async fn restart_service(&mut self, service: &str, extra: &[(&str, &str)]) {
        let ch = self.env.start(service, extra).await;
        match service {
            "orders" => self.orders = OrdersServiceClient::new(ch),
            "returns" => self.returns = ReturnsServiceClient::new(ch),
            "logistics" => self.logistics = LogisticsServiceClient::new(ch),
            "payments" => self.payments = PaymentsServiceClient::new(ch),
            _ => {}
        }
    }

    /// A paid order (line A: 2 × 70.00 with 10.00 discount, line B: 1 × 15.00; paid 145.00),
    /// its captured payment, and a printed forward waybill.
    pub async fn place_order(&mut self) -> Placed {
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
                promised_eta: ts(paid_at + Cd::days(5)),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
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
            .await
            .unwrap()
            .into_inner()
            .payment
            .unwrap();
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
            .await
            .unwrap()
            .into_inner()
            .shipment
            .unwrap();
        Placed {
            order,
            payment_id: payment.payment_id,
            shipment_id: shipment.shipment_id,
            buyer,
        }
    }

    /// Opens a refund-only case for every unit of the order (retrying while returns has not
    /// replicated the order yet). Returns the case id.
    pub async fn open_refund_only(&mut self, placed: &Placed) -> String {
        let req = returns::CreateCaseRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &placed.buyer),
            order_id: placed.order.order_id.clone(),
            case_type: returns::CaseType::RefundOnly as i32,
            reason: returns::ReasonCode::NoReason as i32,
            channel: aftersales_proto::common::v1::Channel::App as i32,
            description: "changed my mind".into(),
            items: placed
                .order
                .lines
                .iter()
                .map(|l| returns::CaseItemInput {
                    line_id: l.line_id.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            match self.returns.create_case(req.clone()).await {
                Ok(r) => return r.into_inner().case.unwrap().case_id,
                Err(s)
                    if matches!(s.code(), Code::NotFound | Code::Unavailable)
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => panic!("create case: {s:?}"),
            }
        }
    }

    /// The saga of a case, once the orchestrator has started it.
    pub async fn saga_of(&mut self, case_id: &str, within: Duration) -> orch::SagaSummary {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let got = self
                .orch
                .list_sagas(orch::ListSagasRequest {
                    business_key: format!("case:{case_id}"),
                    ..Default::default()
                })
                .await;
            if let Ok(r) = got
                && let Some(s) = r.into_inner().sagas.into_iter().next()
            {
                return s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no saga started for case {case_id}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls a saga until `done` says so, returning the last summary; panics after `within`.
    pub async fn wait_saga(
        &mut self,
        case_id: &str,
        within: Duration,
        done: impl Fn(&orch::SagaSummary) -> bool,
    ) -> orch::SagaSummary {
        match self.try_wait_saga(case_id, within, done).await {
            Ok(s) => s,
            Err(last) => panic!("saga of case {case_id} never got there: {last:?}"),
        }
    }

    /// Like [`wait_saga`], returning the last summary seen (if any) on time out.
    pub async fn try_wait_saga(
        &mut self,
        case_id: &str,
        within: Duration,
        done: impl Fn(&orch::SagaSummary) -> bool,
    ) -> Result<orch::SagaSummary, Option<orch::SagaSummary>> {
        let deadline = tokio::time::Instant::now() + within;
        let mut last = None;
        loop {
            let got = self
                .orch
                .list_sagas(orch::ListSagasRequest {
                    business_key: format!("case:{case_id}"),
                    ..Default::default()
                })
                .await;
            if let Ok(r) = got
                && let Some(s) = r.into_inner().sagas.into_iter().next()
            {
                if done(&s) {
                    return Ok(s);
                }
                last = Some(s);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(last);
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Sagas not finished yet (RUNNING, COMPENSATING, PAUSED or NEEDS_ATTENTION).
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

    pub async fn saga(&mut self, saga_id: &str) -> orch::Saga {
        self.orch
            .get_saga(orch::GetSagaRequest {
                saga_id: saga_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .saga
            .unwrap()
    }

    /// Every refund of the order's payment.
    pub async fn refunds(&mut self, placed: &Placed) -> Vec<payments::Refund> {
        self.payments
            .list_refunds(payments::ListRefundsRequest {
                payment_id: placed.payment_id.clone(),
                page: Some(PageRequest {
                    page_size: 200,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .items
    }

    pub async fn order(&mut self, placed: &Placed) -> orders::Order {
        self.orders
            .get_order(orders::GetOrderRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                order_id: placed.order.order_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap()
    }

    pub async fn case(&mut self, case_id: &str) -> returns::Case {
        self.returns
            .get_case(returns::GetCaseRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                case_id: case_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    pub async fn shipment(&mut self, id: &str) -> logistics::Shipment {
        self.logistics
            .get_shipment(logistics::GetShipmentRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                shipment_id: id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .shipment
            .unwrap()
    }

    /// What a completed refund-only saga must leave behind, exactly once: one refund of the
    /// whole 145.00, every unit canceled and refunded, the waybill voided, the case completed.
    /// Returns a list of the differences (empty when all is right).
    pub async fn refund_only_effects(&mut self, placed: &Placed, case_id: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let refunds = self.refunds(placed).await;
        let live: Vec<_> = refunds
            .iter()
            .filter(|r| r.status != payments::RefundStatus::Failed as i32)
            .collect();
        if live.len() != 1 {
            problems.push(format!("{} refunds instead of 1", live.len()));
        }
        let total: i64 = live
            .iter()
            .map(|r| r.amount.as_ref().map(|m| m.minor_units).unwrap_or(0))
            .sum();
        if total != 14_500 {
            problems.push(format!("refunded {total} instead of 14500"));
        }
        let order = self.order(placed).await;
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
        let shipment = self.shipment(&placed.shipment_id).await;
        if shipment.waybill_state != logistics::WaybillState::Voided as i32 {
            problems.push(format!("waybill state {}", shipment.waybill_state));
        }
        let case = self.case(case_id).await;
        if case.status != returns::CaseStatus::Completed as i32 {
            problems.push(format!("case status {}", case.status));
        }
        problems
    }
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
