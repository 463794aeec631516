//! Returns service, black-box over gRPC with the orders service beside it: the order replica fed
//! by orders events, eligibility windows, the refund calculator, the return leg, arbitration,
//! validation, idempotency, scoping and concurrency on one order line.

use crate::common::*;
use aftersales_proto::common::v1::{ActorKind, Channel, Money};
use aftersales_proto::orders::v1::{self as orders, orders_service_client::OrdersServiceClient};
use aftersales_proto::returns::v1::{returns_service_client::ReturnsServiceClient, *};
use aftersales_test_support::TestEnv;
use chrono::{Duration as ChronoDuration, Utc};
use std::time::Duration;
use tonic::{Code, Status, transport::Channel as GrpcChannel};

type Returns = ReturnsServiceClient<GrpcChannel>;
type Orders = OrdersServiceClient<GrpcChannel>;

const WAIT: Duration = Duration::from_secs(10);

struct World {
    env: TestEnv,
    orders: Orders,
    returns: Returns,
    buyer: String,
    merchant: String,
}

impl World {
    async fn start() -> Self {
        let env = TestEnv::new();
        let orders_ch = env.start("orders", &[]).await;
        let returns_ch = env.start("returns", &[]).await;
        Self {
            env,
            orders: OrdersServiceClient::new(orders_ch),
            returns: ReturnsServiceClient::new(returns_ch),
            buyer: uuid::Uuid::new_v4().to_string(),
            merchant: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn buyer(&self) -> Option<aftersales_proto::common::v1::Actor> {
        actor(ActorKind::Buyer, &self.buyer)
    }

    fn merchant(&self) -> Option<aftersales_proto::common::v1::Actor> {
        actor(ActorKind::Merchant, &self.merchant)
    }

    /// An order of line A: 3 x 70.00 with a 10.00 discount, and line B: 1 x 15.00; shipping
    /// 10.00; paid 225.00 by a buyer without free-return privilege. `signed_days_ago` = None
    /// leaves it unshipped; otherwise it was shipped a day before it was signed for.
    async fn order(&mut self, signed_days_ago: Option<i64>) -> orders::Order {
        let days = signed_days_ago.unwrap_or(0);
        let paid_at = Utc::now() - ChronoDuration::days(days + 3);
        let staff = actor(ActorKind::Staff, "cs-1");
        let line = |sku: &str, quantity, unit, discount| orders::NewOrderLine {
            sku: sku.into(),
            category: "apparel".into(),
            quantity,
            unit_price: cny(unit),
            discount_share: cny(discount),
        };
        let mut order = self
            .orders
            .create_order(orders::CreateOrderRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::System, "storefront"),
                buyer_id: self.buyer.clone(),
                merchant_id: self.merchant.clone(),
                shipping_address: Some(orders::Address {
                    recipient_name: "Li Lei".into(),
                    phone: "+86 138 0000 0000".into(),
                    country_code: "CN".into(),
                    province: "Zhejiang".into(),
                    city: "Hangzhou".into(),
                    district: "Xihu".into(),
                    street: "1 Wensan Road".into(),
                    postal_code: "310000".into(),
                }),
                payment_reference: "pay-1".into(),
                paid_amount: cny(22_500),
                shipping_fee: cny(1_000),
                member_tier: orders::MemberTier::None as i32,
                shipping_insurance: false,
                lines: vec![line("SKU-A", 3, 7_000, 1_000), line("SKU-B", 1, 1_500, 0)],
                paid_at: ts(paid_at),
                promised_eta: ts(paid_at + ChronoDuration::days(30)),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        let Some(days) = signed_days_ago else {
            return order;
        };
        let id = order.order_id.clone();
        self.orders
            .start_fulfilment(orders::StartFulfilmentRequest {
                idempotency_key: key(),
                actor: staff.clone(),
                order_id: id.clone(),
            })
            .await
            .unwrap();
        self.orders
            .mark_shipped(orders::MarkShippedRequest {
                idempotency_key: key(),
                actor: staff.clone(),
                order_id: id.clone(),
                shipped_at: ts(Utc::now() - ChronoDuration::days(days + 1)),
                courier_code: "SF".into(),
                tracking_number: "SF1234567890".into(),
                shipment_id: String::new(),
            })
            .await
            .unwrap();
        order = self
            .orders
            .confirm_delivery(orders::ConfirmDeliveryRequest {
                idempotency_key: key(),
                actor: staff,
                order_id: id,
                signed_at: ts(Utc::now() - ChronoDuration::days(days)),
            })
            .await
            .unwrap()
            .into_inner()
            .order
            .unwrap();
        order
    }

    fn case_req(
        &self,
        order: &orders::Order,
        case_type: CaseType,
        reason: ReasonCode,
        items: &[(usize, u32)],
    ) -> CreateCaseRequest {
        let evidence = if matches!(reason, ReasonCode::NoReason | ReasonCode::NotReceived) {
            vec![]
        } else {
            vec!["photos/broken-seam.jpg".into()]
        };
        CreateCaseRequest {
            idempotency_key: key(),
            actor: self.buyer(),
            order_id: order.order_id.clone(),
            case_type: case_type as i32,
            reason: reason as i32,
            responsibility: 0,
            channel: Channel::App as i32,
            description: "the seam came apart".into(),
            evidence_refs: evidence,
            items: items
                .iter()
                .map(|(line, quantity)| CaseItemInput {
                    line_id: order.lines[*line].line_id.clone(),
                    quantity: *quantity,
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// CreateCase, retried while the order (at its latest version) is not yet replicated.
    async fn create_case(&mut self, req: CreateCaseRequest) -> Result<Case, Status> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match self.returns.create_case(req.clone()).await {
                // The replica has not seen the order, or not its delivery yet.
                Err(s)
                    if (s.code() == Code::NotFound
                        || s.message().starts_with("order_not_delivered"))
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => return other.map(|r| r.into_inner().case.unwrap()),
            }
        }
    }

    /// Waits until the replica holds the order at `order`'s version: CheckEligibility sees it.
    async fn wait_replicated(&mut self, order: &orders::Order, probe: CheckEligibilityRequest) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let got = self.returns.check_eligibility(probe.clone()).await;
            match got {
                Ok(r)
                    if order.state != orders::OrderState::Delivered as i32
                        || r.get_ref().rule != "order_not_delivered" =>
                {
                    return;
                }
                Err(s) if s.code() != Code::NotFound => panic!("{s:?}"),
                _ if tokio::time::Instant::now() > deadline => panic!("order never replicated"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn get(&mut self, case_id: &str) -> Case {
        self.returns
            .get_case(GetCaseRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                case_id: case_id.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .case
            .unwrap()
    }

    async fn cases_of(&mut self, order: &orders::Order) -> Vec<Case> {
        self.returns
            .list_cases(ListCasesRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                order_id: order.order_id.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .items
    }
}

fn system() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::System, "orchestrator")
}

fn minor(m: &Option<Money>) -> i64 {
    m.as_ref().map(|m| m.minor_units).unwrap_or(-1)
}

fn status(c: &Case) -> CaseStatus {
    CaseStatus::try_from(c.status).unwrap()
}

#[tokio::test]
async fn return_refund_walks_the_whole_return_leg_and_publishes_events() {
    let mut w = World::start().await;
    let mut events = w.env.event_probe("returns.#").await;
    let order = w.order(Some(2)).await;

    // Quality problem on 2 units of line A: 2 x 70.00 minus 2/3 of the 10.00 discount, plus the
    // forward shipping (the merchant is at fault).
    let req = w.case_req(
        &order,
        CaseType::ReturnRefund,
        ReasonCode::Quality,
        &[(0, 2)],
    );
    let case = w.create_case(req).await.unwrap();
    assert_eq!(status(&case), CaseStatus::PendingMerchant);
    let refund = case.refund.clone().unwrap();
    assert_eq!(minor(&refund.items_amount), 14_000 - 666);
    assert_eq!(minor(&refund.shipping_refund), 1_000);
    assert_eq!(minor(&refund.return_shipping_deduction), 0);
    assert_eq!(minor(&refund.total), 14_334);
    assert_eq!(minor(&case.requested_amount), 14_334);
    assert!(case.return_required);
    assert_eq!(case.buyer_id, w.buyer);
    assert!(case.merchant_decision_deadline.is_some());
    let id = case.case_id.clone();
    let created = events
        .wait_for(WAIT, |e| {
            e.routing_key == "returns.case.created" && e.event.entity_id == id
        })
        .await
        .expect("created event");
    assert_eq!(created.event.keys["order_id"], order.order_id);
    assert_eq!(created.event.snapshot_type, "aftersales.returns.v1.Case");

    let case = w
        .returns
        .approve_case(ApproveCaseRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&case), CaseStatus::AwaitingBuyerShipment);
    assert!(case.buyer_shipment_deadline.is_some());
    assert_eq!(minor(&case.approved_amount), 14_334);

    let case = w
        .returns
        .record_buyer_shipment(RecordBuyerShipmentRequest {
            idempotency_key: key(),
            actor: w.buyer(),
            case_id: id.clone(),
            courier_code: "SF".into(),
            tracking_number: "SF-RET-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&case), CaseStatus::ReturnInTransit);
    let item_id = case.items[0].item_id.clone();

    let warehouse = actor(ActorKind::Partner, "wh-hz");
    let case = w
        .returns
        .record_item_receipt(RecordItemReceiptRequest {
            idempotency_key: key(),
            actor: warehouse.clone(),
            case_id: id.clone(),
            item_id: item_id.clone(),
            status: ReceptionStatus::Received as i32,
            received_quantity: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&case), CaseStatus::Received);
    assert_eq!(case.items[0].received_quantity, 2);

    let case = w
        .returns
        .submit_inspection(SubmitInspectionRequest {
            idempotency_key: key(),
            actor: warehouse.clone(),
            case_id: id.clone(),
            item_id: item_id.clone(),
            result: InspectionStatus::Accepted as i32,
            condition: Some(ItemCondition {
                packaging_intact: true,
                second_sale_damage: false,
                resellable: false,
                note: "seam defect confirmed".into(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&case), CaseStatus::Inspected);
    assert!(case.items[0].condition.as_ref().unwrap().resellable);
    assert_eq!(minor(&case.refund_due), 14_334);

    let case = w
        .returns
        .set_disposition(SetDispositionRequest {
            idempotency_key: key(),
            actor: warehouse,
            case_id: id.clone(),
            item_id,
            disposition: Disposition::Restock as i32,
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.items[0].disposition, Disposition::Restock as i32);

    let case = w
        .returns
        .mark_refunding(MarkRefundingRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&case), CaseStatus::Refunding);
    assert_eq!(minor(&case.refund_amount), 14_334);

    // Not before payments confirmed the refund.
    let err = w
        .returns
        .complete_case(CompleteCaseRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "refund_not_recorded");
    // More than what is due is refused.
    let err = w
        .returns
        .record_refunded(RecordRefundedRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
            amount: cny(14_335),
            refund_id: "rf-1".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "refunded_amount_exceeds_due");
    let case = w
        .returns
        .record_refunded(RecordRefundedRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
            amount: cny(14_334),
            refund_id: "rf-1".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(case.refund_id, "rf-1");
    // Money never moves twice.
    let err = w
        .returns
        .record_refunded(RecordRefundedRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
            amount: cny(14_334),
            refund_id: "rf-2".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "refund_already_recorded");

    let case = w
        .returns
        .complete_case(CompleteCaseRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&case), CaseStatus::Completed);
    let completed = events
        .wait_for(WAIT, |e| {
            e.routing_key == "returns.case.completed" && e.event.entity_id == id
        })
        .await
        .expect("completed event");
    assert_eq!(completed.event.state, "COMPLETED");

    // The audit trail, oldest first, paged.
    let history = w
        .returns
        .list_case_history(ListCaseHistoryRequest {
            actor: w.buyer(),
            case_id: id.clone(),
            page: Some(aftersales_proto::common::v1::PageRequest {
                page_size: 100,
                page_token: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    let mut names: Vec<&str> = history.items.iter().map(|h| h.event.as_str()).collect();
    // Creation records REQUESTED, then PENDING_MERCHANT: two entries of the same event.
    names.dedup();
    assert_eq!(
        names,
        [
            "returns.case.created",
            "returns.case.approved",
            "returns.case.buyer_shipped",
            "returns.case.item_received",
            "returns.case.received",
            "returns.case.item_inspected",
            "returns.case.inspected",
            "returns.case.disposition_set",
            "returns.case.refunding",
            "returns.case.refunded",
            "returns.case.completed",
        ]
    );
    let last = history.items.last().unwrap();
    assert_eq!(last.to_status, CaseStatus::Completed as i32);
    assert_eq!(last.from_status, CaseStatus::Refunding as i32);
    let first_page = w
        .returns
        .list_case_history(ListCaseHistoryRequest {
            actor: w.buyer(),
            case_id: id.clone(),
            page: Some(aftersales_proto::common::v1::PageRequest {
                page_size: 2,
                page_token: String::new(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first_page.items.len(), 2);
    assert!(!first_page.page.unwrap().next_page_token.is_empty());

    // The completed case still holds its 2 units: only 1 unit of line A is left.
    let req = w.case_req(
        &order,
        CaseType::ReturnRefund,
        ReasonCode::Quality,
        &[(0, 2)],
    );
    let err = w.create_case(req).await.unwrap_err();
    assert_rule(&err, "quantity_exceeds_available");
}

#[tokio::test]
async fn no_reason_return_is_allowed_on_day_6_and_refused_on_day_8() {
    let mut w = World::start().await;
    let day6 = w.order(Some(6)).await;
    let day8 = w.order(Some(8)).await;

    let req = w.case_req(
        &day8,
        CaseType::ReturnRefund,
        ReasonCode::NoReason,
        &[(0, 1)],
    );
    // The order may still be replicating as SHIPPED: poll until the window rule answers.
    let deadline = tokio::time::Instant::now() + WAIT;
    let err = loop {
        let mut r = req.clone();
        r.idempotency_key = key();
        match w.create_case(r).await {
            Err(s)
                if s.message().starts_with("order_not_delivered")
                    && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            other => break other.unwrap_err(),
        }
    };
    assert_rule(&err, "no_reason_window_expired");
    assert!(w.cases_of(&day8).await.is_empty());

    let probe = CheckEligibilityRequest {
        actor: w.buyer(),
        order_id: day6.order_id.clone(),
        case_type: CaseType::ReturnRefund as i32,
        reason: ReasonCode::NoReason as i32,
        items: vec![CaseItemInput {
            line_id: day6.lines[0].line_id.clone(),
            quantity: 1,
            ..Default::default()
        }],
        has_evidence: false,
    };
    w.wait_replicated(&day6, probe.clone()).await;
    let check = w
        .returns
        .check_eligibility(probe)
        .await
        .unwrap()
        .into_inner();
    assert!(check.eligible, "{check:?}");
    // 70.00 - 3.33 discount share - 10.00 return shipping (no free-return privilege).
    assert_eq!(minor(&check.refund.unwrap().total), 7_000 - 333 - 1_000);

    let req = w.case_req(
        &day6,
        CaseType::ReturnRefund,
        ReasonCode::NoReason,
        &[(0, 1)],
    );
    let case = w.create_case(req).await.unwrap();
    assert_eq!(status(&case), CaseStatus::PendingMerchant);
    let refund = case.refund.unwrap();
    assert_eq!(minor(&refund.return_shipping_deduction), 1_000);
    assert_eq!(minor(&refund.shipping_refund), 0);
    assert_eq!(minor(&refund.total), 5_667);
    assert_eq!(
        case.responsibility,
        aftersales_proto::common::v1::Responsibility::Buyer as i32
    );
}

#[tokio::test]
async fn rule_violations_name_the_rule() {
    let mut w = World::start().await;
    let order = w.order(Some(1)).await;

    // Quality without evidence.
    let mut req = w.case_req(
        &order,
        CaseType::ReturnRefund,
        ReasonCode::Quality,
        &[(0, 1)],
    );
    req.evidence_refs.clear();
    let err = w.create_case(req).await.unwrap_err();
    assert_rule(&err, "evidence_required");
    // Reship is for missing or wrong items only.
    let req = w.case_req(&order, CaseType::Reship, ReasonCode::NoReason, &[(0, 1)]);
    assert_rule(
        &w.create_case(req).await.unwrap_err(),
        "case_type_not_allowed_for_reason",
    );
    // Not received, but it was signed for.
    let req = w.case_req(
        &order,
        CaseType::RefundOnly,
        ReasonCode::NotReceived,
        &[(0, 1)],
    );
    assert_rule(
        &w.create_case(req).await.unwrap_err(),
        "order_already_delivered",
    );

    let req = w.case_req(&order, CaseType::RefundOnly, ReasonCode::Quality, &[(0, 1)]);
    let case = w.create_case(req).await.unwrap();
    // A second open case on the same line.
    let req = w.case_req(
        &order,
        CaseType::ReturnRefund,
        ReasonCode::Quality,
        &[(0, 1), (1, 1)],
    );
    assert_rule(&w.create_case(req).await.unwrap_err(), "line_has_open_case");
    // Another line is fine.
    let req = w.case_req(
        &order,
        CaseType::ReturnRefund,
        ReasonCode::Quality,
        &[(1, 1)],
    );
    let other = w.create_case(req).await.unwrap();
    // Quality on a 15.00 item (below the 20.00 threshold): refunded without a return.
    assert!(!other.return_required);

    // Offers must be below the requested amount.
    let err = w
        .returns
        .offer_partial_refund(OfferPartialRefundRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: case.case_id.clone(),
            amount: cny(minor(&case.requested_amount)),
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "offer_not_below_requested");
    // Approve, then approve again.
    let approve = ApproveCaseRequest {
        idempotency_key: key(),
        actor: w.merchant(),
        case_id: case.case_id.clone(),
    };
    w.returns.approve_case(approve.clone()).await.unwrap();
    let mut again = approve.clone();
    again.idempotency_key = key();
    assert_rule(
        &w.returns.approve_case(again).await.unwrap_err(),
        "invalid_state_transition",
    );
    // A timer that fires early.
    let err = w
        .returns
        .auto_approve_case(AutoApproveCaseRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: other.case_id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "merchant_deadline_not_reached");
    // Only the buyer escalates; a pending case cannot be escalated at all.
    let err = w
        .returns
        .escalate_case(EscalateCaseRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: other.case_id.clone(),
            reason: "unfair".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "only_buyer_escalates");
    // Scoping: another buyer, another merchant.
    let stranger = actor(ActorKind::Buyer, &uuid::Uuid::new_v4().to_string());
    let err = w
        .returns
        .get_case(GetCaseRequest {
            actor: stranger.clone(),
            case_id: case.case_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = w
        .returns
        .reject_case(RejectCaseRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Merchant, &uuid::Uuid::new_v4().to_string()),
            case_id: other.case_id.clone(),
            reason: "no".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = w
        .returns
        .list_cases(ListCasesRequest {
            actor: w.buyer(),
            buyer_id: uuid::Uuid::new_v4().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let mine = w
        .returns
        .list_cases(ListCasesRequest {
            actor: w.buyer(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(mine.len(), 2);
}

fn replacement(sku: &str, unit_price: Option<Money>) -> Replacement {
    Replacement {
        sku: sku.into(),
        unit_price,
    }
}

#[tokio::test]
async fn bad_input_names_the_field_and_writes_nothing() {
    let mut w = World::start().await;
    let order = w.order(Some(1)).await;
    // Make sure the replica exists, so that bad input is refused for itself and not as NOT_FOUND.
    let probe = CheckEligibilityRequest {
        actor: w.buyer(),
        order_id: order.order_id.clone(),
        case_type: CaseType::ReturnRefund as i32,
        reason: ReasonCode::Quality as i32,
        items: vec![CaseItemInput {
            line_id: order.lines[0].line_id.clone(),
            quantity: 1,
            ..Default::default()
        }],
        has_evidence: true,
    };
    w.wait_replicated(&order, probe).await;

    type Edit = fn(&mut CreateCaseRequest);
    let cases: Vec<(Edit, &str)> = vec![
        (|r| r.actor = None, "actor"),
        (|r| r.actor.as_mut().unwrap().kind = 42, "actor.kind"),
        (|r| r.order_id.clear(), "order_id"),
        (|r| r.order_id = "not-a-uuid".into(), "order_id"),
        (|r| r.case_type = 0, "case_type"),
        (|r| r.case_type = 99, "case_type"),
        (|r| r.reason = 77, "reason"),
        (|r| r.channel = 55, "channel"),
        (|r| r.description = "x".repeat(4097), "description"),
        (
            |r| r.evidence_refs = vec!["k".repeat(129)],
            "evidence_refs[0]",
        ),
        (|r| r.evidence_refs = vec!["e".into(); 101], "evidence_refs"),
        (|r| r.items.clear(), "items"),
        (|r| r.items[0].quantity = 0, "items[0].quantity"),
        (|r| r.items[0].line_id = "zzz".into(), "items[0].line_id"),
        (
            |r| {
                let first = r.items[0].clone();
                r.items.push(first)
            },
            "items[1].line_id",
        ),
        (|r| r.idempotency_key.clear(), "idempotency_key"),
        (|r| r.idempotency_key = "k".repeat(129), "idempotency_key"),
        // A replacement: only on an exchange, with a SKU and a positive price in the order's
        // currency.
        (
            |r| r.items[0].replacement = Some(replacement("KETTLE-XL", cny(100))),
            "items[0].replacement",
        ),
        (
            |r| {
                r.case_type = CaseType::Exchange as i32;
                r.items[0].replacement = Some(replacement("", cny(100)));
            },
            "items[0].replacement.sku",
        ),
        (
            |r| {
                r.case_type = CaseType::Exchange as i32;
                r.items[0].replacement = Some(replacement("KETTLE-XL", cny(-5)));
            },
            "items[0].replacement.unit_price.minor_units",
        ),
        (
            |r| {
                r.case_type = CaseType::Exchange as i32;
                r.items[0].replacement = Some(replacement("KETTLE-XL", None));
            },
            "items[0].replacement.unit_price",
        ),
        (
            |r| {
                r.case_type = CaseType::Exchange as i32;
                let usd = Money {
                    minor_units: 100,
                    currency: "USD".into(),
                };
                r.items[0].replacement = Some(replacement("KETTLE-XL", Some(usd)));
            },
            "items[0].replacement.unit_price.currency",
        ),
    ];
    for (edit, field) in cases {
        let mut req = w.case_req(
            &order,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            &[(0, 1)],
        );
        edit(&mut req);
        let err = w.returns.create_case(req).await.unwrap_err();
        assert_invalid(&err, field);
    }
    assert!(
        w.cases_of(&order).await.is_empty(),
        "bad input wrote a case"
    );

    // Money: negative, overflowing, bad currency. Nothing changes on the case.
    let req = w.case_req(&order, CaseType::RefundOnly, ReasonCode::Quality, &[(0, 1)]);
    let case = w.create_case(req).await.unwrap();
    let money_cases: Vec<(Option<Money>, &str)> = vec![
        (cny(-1), "amount.minor_units"),
        (cny(i64::MAX), "amount.minor_units"),
        (
            Some(Money {
                minor_units: 100,
                currency: "yuan".into(),
            }),
            "amount.currency",
        ),
        (None, "amount"),
    ];
    for (amount, field) in money_cases {
        let err = w
            .returns
            .offer_partial_refund(OfferPartialRefundRequest {
                idempotency_key: key(),
                actor: w.merchant(),
                case_id: case.case_id.clone(),
                amount,
                note: String::new(),
            })
            .await
            .unwrap_err();
        assert_invalid(&err, field);
    }
    let err = w
        .returns
        .reject_case(RejectCaseRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: case.case_id.clone(),
            reason: "r".repeat(5000),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "reason");
    let err = w
        .returns
        .get_case(GetCaseRequest {
            actor: w.buyer(),
            case_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "case_id");
    let after = w.get(&case.case_id).await;
    assert_eq!(after.version, case.version);
    assert!(after.offers.is_empty());
    assert_eq!(status(&after), CaseStatus::PendingMerchant);
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_result_and_changes_nothing() {
    let mut w = World::start().await;
    let mut events = w.env.event_probe("returns.case.created").await;
    let order = w.order(Some(1)).await;
    let req = w.case_req(&order, CaseType::RefundOnly, ReasonCode::Quality, &[(0, 1)]);
    let first = w.create_case(req.clone()).await.unwrap();
    let replay = w.create_case(req.clone()).await.unwrap();
    assert_eq!(first, replay);
    assert_eq!(w.cases_of(&order).await.len(), 1);

    // Same key, different request.
    let mut other = req.clone();
    other.items[0].quantity = 2;
    let err = w.returns.create_case(other).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");

    // A replayed transition returns the first answer and does not move the case again.
    let offer = OfferPartialRefundRequest {
        idempotency_key: key(),
        actor: w.merchant(),
        case_id: first.case_id.clone(),
        amount: cny(1_000),
        note: "keep it, 10 off".into(),
    };
    let a = w
        .returns
        .offer_partial_refund(offer.clone())
        .await
        .unwrap()
        .into_inner();
    let b = w
        .returns
        .offer_partial_refund(offer)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a, b);
    let now = w.get(&first.case_id).await;
    assert_eq!(now.offers.len(), 1);
    assert_eq!(now.version, a.case.unwrap().version);

    // One created event, not two.
    let id = first.case_id.clone();
    assert!(
        events
            .wait_for(WAIT, |e| e.event.entity_id == id)
            .await
            .is_some()
    );
    let id = first.case_id.clone();
    assert!(
        events
            .wait_for(Duration::from_secs(1), |e| e.event.entity_id == id)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn unknown_ids_are_not_found() {
    let mut w = World::start().await;
    let err = w
        .returns
        .get_case(GetCaseRequest {
            actor: w.buyer(),
            case_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    let err = w
        .returns
        .approve_case(ApproveCaseRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: uuid::Uuid::new_v4().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    // An order the replica never heard of.
    let err = w
        .returns
        .create_case(CreateCaseRequest {
            idempotency_key: key(),
            actor: w.buyer(),
            order_id: uuid::Uuid::new_v4().to_string(),
            case_type: CaseType::RefundOnly as i32,
            reason: ReasonCode::NotReceived as i32,
            items: vec![CaseItemInput {
                line_id: uuid::Uuid::new_v4().to_string(),
                quantity: 1,
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("order"), "{err:?}");

    // An unknown item of a known case.
    let order = w.order(Some(1)).await;
    let req = w.case_req(
        &order,
        CaseType::ReturnRefund,
        ReasonCode::Quality,
        &[(0, 1)],
    );
    let case = w.create_case(req).await.unwrap();
    let err = w
        .returns
        .record_item_receipt(RecordItemReceiptRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Partner, "wh-hz"),
            case_id: case.case_id,
            item_id: uuid::Uuid::new_v4().to_string(),
            status: ReceptionStatus::Received as i32,
            received_quantity: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn concurrent_cases_on_one_line_open_exactly_one() {
    let mut w = World::start().await;
    let order = w.order(Some(1)).await;
    // Wait for the replica, then race 10 buyers' requests on line A (3 units), 1 unit each.
    let probe = CheckEligibilityRequest {
        actor: w.buyer(),
        order_id: order.order_id.clone(),
        case_type: CaseType::ReturnRefund as i32,
        reason: ReasonCode::Quality as i32,
        items: vec![CaseItemInput {
            line_id: order.lines[0].line_id.clone(),
            quantity: 1,
            ..Default::default()
        }],
        has_evidence: true,
    };
    w.wait_replicated(&order, probe).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let mut client = w.returns.clone();
        let req = w.case_req(
            &order,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            &[(0, 1)],
        );
        tasks.push(tokio::spawn(async move { client.create_case(req).await }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(s) => assert_rule(&s, "line_has_open_case"),
        }
    }
    assert_eq!(ok, 1);
    let cases = w.cases_of(&order).await;
    assert_eq!(cases.len(), 1);
    let claimed: u32 = cases
        .iter()
        .flat_map(|c| &c.items)
        .map(|i| i.quantity)
        .sum();
    assert!(claimed <= 3);
}

#[tokio::test]
async fn refund_only_before_shipping_is_approved_at_once() {
    let mut w = World::start().await;
    let mut events = w.env.event_probe("returns.case.*").await;
    let order = w.order(None).await;
    let req = w.case_req(
        &order,
        CaseType::RefundOnly,
        ReasonCode::NotReceived,
        &[(0, 3), (1, 1)],
    );
    let case = w.create_case(req).await.unwrap();
    assert_eq!(status(&case), CaseStatus::Approved);
    assert_eq!(minor(&case.requested_amount), 21_500);
    let id = case.case_id.clone();
    assert!(
        events
            .wait_for(WAIT, |e| e.routing_key == "returns.case.auto_approved"
                && e.event.entity_id == id)
            .await
            .is_some()
    );
    let case = w
        .returns
        .mark_refunding(MarkRefundingRequest {
            idempotency_key: key(),
            actor: system(),
            case_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(minor(&case.refund_amount), 21_500);
    // Money has moved: the buyer can no longer withdraw.
    let err = w
        .returns
        .withdraw_case(WithdrawCaseRequest {
            idempotency_key: key(),
            actor: w.buyer(),
            case_id: id,
            reason: String::new(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "money_already_moved");
}

#[tokio::test]
async fn arbitration_freezes_money_and_a_split_ruling_sets_what_is_due() {
    let mut w = World::start().await;
    let order = w.order(Some(1)).await;
    let req = w.case_req(&order, CaseType::RefundOnly, ReasonCode::Quality, &[(0, 1)]);
    let case = w.create_case(req).await.unwrap();
    let id = case.case_id.clone();
    let requested = minor(&case.requested_amount);
    w.returns
        .reject_case(RejectCaseRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: id.clone(),
            reason: "the photos show another product".into(),
        })
        .await
        .unwrap();
    let case = w
        .returns
        .escalate_case(EscalateCaseRequest {
            idempotency_key: key(),
            actor: w.buyer(),
            case_id: id.clone(),
            reason: "it is the product I bought".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    let arbitration = case.arbitration.unwrap();
    assert_eq!(
        arbitration.status,
        ArbitrationStatus::AwaitingMerchantEvidence as i32
    );
    let err = w
        .returns
        .override_refund_amount(OverrideRefundAmountRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Staff, "cs-1"),
            case_id: id.clone(),
            amount: cny(100),
            reason: "goodwill".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "arbitration_open");
    let open = w
        .returns
        .list_cases(ListCasesRequest {
            actor: actor(ActorKind::Staff, "cs-1"),
            arbitration_open_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(open.len(), 1);
    w.returns
        .submit_merchant_evidence(SubmitMerchantEvidenceRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: id.clone(),
            evidence_refs: vec!["merchant/packing-video.mp4".into()],
            statement: "packed intact".into(),
        })
        .await
        .unwrap();
    let err = w
        .returns
        .rule_arbitration(RuleArbitrationRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Staff, "judge-1"),
            case_id: id.clone(),
            outcome: RulingOutcome::Split as i32,
            buyer_amount: cny(requested),
            reason: "both at fault".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "split_out_of_range");
    let case = w
        .returns
        .rule_arbitration(RuleArbitrationRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Staff, "judge-1"),
            case_id: id.clone(),
            outcome: RulingOutcome::Split as i32,
            buyer_amount: cny(2_000),
            reason: "both at fault".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(
        case.arbitration.as_ref().unwrap().status,
        ArbitrationStatus::Ruled as i32
    );
    assert_eq!(minor(&case.refund_due), 2_000);
    let err = w
        .returns
        .appeal_ruling(AppealRulingRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Staff, "cs-1"),
            case_id: id.clone(),
            reason: "why".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "only_parties_appeal");
}

#[tokio::test]
async fn close_case_closes_an_approved_claim_with_its_reason_and_frees_the_line() {
    let mut w = World::start().await;
    let mut events = w.env.event_probe("returns.case.closed").await;
    let order = w.order(Some(1)).await;
    let req = w.case_req(&order, CaseType::Reship, ReasonCode::MissingItem, &[(1, 1)]);
    let case = w.create_case(req).await.unwrap();
    let id = case.case_id.clone();
    let close = |actor, reason: &str| CloseCaseRequest {
        idempotency_key: key(),
        actor,
        case_id: id.clone(),
        reason: reason.into(),
    };

    // Only an approved case closes.
    let err = w
        .returns
        .close_case(close(system(), "the warehouse refuted the claim"))
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_state_transition");
    w.returns
        .approve_case(ApproveCaseRequest {
            idempotency_key: key(),
            actor: w.merchant(),
            case_id: id.clone(),
        })
        .await
        .unwrap();
    // The reason is required.
    let err = w
        .returns
        .close_case(close(system(), "  "))
        .await
        .unwrap_err();
    assert_invalid(&err, "reason");
    // The orchestrator or staff only: not the buyer, not the merchant.
    for party in [w.buyer(), w.merchant()] {
        let err = w
            .returns
            .close_case(close(party, "the warehouse refuted the claim"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    }
    assert_eq!(status(&w.get(&id).await), CaseStatus::Approved);
    // The line is held while the case is open.
    let again = w.case_req(&order, CaseType::Reship, ReasonCode::MissingItem, &[(1, 1)]);
    assert_rule(
        &w.create_case(again.clone()).await.unwrap_err(),
        "line_has_open_case",
    );

    let req = close(system(), "the warehouse refuted the claim");
    let closed = w
        .returns
        .close_case(req.clone())
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(status(&closed), CaseStatus::Closed);
    assert_eq!(closed.close_reason, "the warehouse refuted the claim");
    // A replay answers the first result and changes nothing.
    let replay = w
        .returns
        .close_case(req)
        .await
        .unwrap()
        .into_inner()
        .case
        .unwrap();
    assert_eq!(replay, closed);
    let event = events
        .wait_for(WAIT, |e| {
            e.routing_key == "returns.case.closed" && e.event.entity_id == id
        })
        .await
        .expect("closed event");
    assert_eq!(event.event.state, "CLOSED");
    // Closing twice is a state error.
    let err = w
        .returns
        .close_case(close(actor(ActorKind::Staff, "cs-1"), "again"))
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_state_transition");

    // The line is free: the buyer opens a new case on it.
    let reopened = w.create_case(again).await.unwrap();
    assert_ne!(reopened.case_id, id);
    assert_eq!(status(&reopened), CaseStatus::PendingMerchant);
}
