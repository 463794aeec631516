//! Integration tests of the complaints service.

use crate::common::*;
use aftersales_proto::common::v1::{ActorKind, Channel, PageRequest};
use aftersales_proto::complaints::v1::{complaints_service_client::ComplaintsServiceClient, *};
use aftersales_proto::messaging::v1::{DomainEvent, Envelope};
use aftersales_test_support::TestEnv;
use prost::Message as _;
use std::time::Duration;
use tonic::{Code, transport::Channel as GrpcChannel};

type Client = ComplaintsServiceClient<GrpcChannel>;

const WAIT: Duration = Duration::from_secs(10);

fn id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn staff() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::Staff, "agent-7")
}

fn system() -> Option<aftersales_proto::common::v1::Actor> {
    actor(ActorKind::System, "scheduler")
}

fn create_req(customer: &str) -> CreateComplaintRequest {
    CreateComplaintRequest {
        idempotency_key: key(),
        actor: actor(ActorKind::Buyer, customer),
        customer_id: customer.into(),
        order_id: id(),
        channel: Channel::Hotline as i32,
        category: ComplaintCategory::Delivery as i32,
        subject: "parcel late".into(),
        description: "promised on monday, still not here".into(),
        ..Default::default()
    }
}

async fn create(client: &mut Client, customer: &str) -> Complaint {
    client
        .create_complaint(create_req(customer))
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

async fn acknowledge(client: &mut Client, c: &str) -> Complaint {
    client
        .acknowledge_complaint(AcknowledgeComplaintRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.into(),
            message: "we are on it".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

async fn investigate(client: &mut Client, c: &str) -> Complaint {
    client
        .start_investigation(StartInvestigationRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap()
}

async fn resolve(client: &mut Client, c: &str, send: bool) -> Result<Complaint, tonic::Status> {
    client
        .resolve_complaint(ResolveComplaintRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.into(),
            resolution_note: "courier compensated, parcel re-sent".into(),
            send_to_customer: send,
        })
        .await
        .map(|r| r.into_inner().complaint.unwrap())
}

async fn close(client: &mut Client, c: &str) -> Result<Complaint, tonic::Status> {
    client
        .close_complaint(CloseComplaintRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.into(),
        })
        .await
        .map(|r| r.into_inner().complaint.unwrap())
}

/// A complaint driven to CLOSED.
async fn closed_complaint(client: &mut Client, customer: &str) -> Complaint {
    let c = create(client, customer).await;
    acknowledge(client, &c.complaint_id).await;
    investigate(client, &c.complaint_id).await;
    resolve(client, &c.complaint_id, true).await.unwrap();
    close(client, &c.complaint_id).await.unwrap()
}

fn work_order_req(complaint: &str, department: Department) -> CreateWorkOrderRequest {
    CreateWorkOrderRequest {
        idempotency_key: key(),
        actor: staff(),
        complaint_id: complaint.into(),
        department: department as i32,
        title: "check the parcel".into(),
        description: "verify what left the warehouse".into(),
        ..Default::default()
    }
}

async fn list_all(client: &mut Client) -> Vec<Complaint> {
    client
        .list_complaints(ListComplaintsRequest {
            actor: staff(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items
}

#[tokio::test]
async fn complaint_happy_path_closes_with_a_sent_note_and_publishes_events() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let mut events = env.event_probe("complaints.#").await;
    let buyer = id();

    let c = create(&mut client, &buyer).await;
    assert_eq!(c.status, ComplaintStatus::New as i32);
    assert_eq!(c.severity, ComplaintSeverity::Normal as i32);
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "complaints.complaint.created")
        .await
        .expect("created event");
    assert_eq!(ev.event.entity_id, c.complaint_id);
    assert_eq!(ev.event.state, "NEW");
    assert_eq!(ev.event.keys["customer_id"], buyer);
    let snap = Complaint::decode(ev.event.snapshot.as_slice()).unwrap();
    assert_eq!(snap, c);

    let a = acknowledge(&mut client, &c.complaint_id).await;
    assert_eq!(a.status, ComplaintStatus::Acknowledged as i32);
    assert_eq!(a.assignee, "agent-7");
    assert!(a.first_responded_at.is_some());
    assert!(!a.first_response_breached);
    investigate(&mut client, &c.complaint_id).await;
    let w = client
        .wait_for_customer(WaitForCustomerRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.complaint_id.clone(),
            note: "photos of the box please".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(w.status, ComplaintStatus::Waiting as i32);
    let r = client
        .resume_investigation(ResumeInvestigationRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.complaint_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(r.status, ComplaintStatus::Investigating as i32);

    // Resolved without sending the note: closing is refused.
    let resolved = resolve(&mut client, &c.complaint_id, false).await.unwrap();
    assert_eq!(resolved.status, ComplaintStatus::Resolved as i32);
    assert!(resolved.resolution_sent_at.is_none());
    let err = close(&mut client, &c.complaint_id).await.unwrap_err();
    assert_rule(&err, "resolution_note_required");

    let sent = client
        .send_resolution_note(SendResolutionNoteRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.complaint_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert!(sent.resolution_sent_at.is_some());
    let closed = close(&mut client, &c.complaint_id).await.unwrap();
    assert_eq!(closed.status, ComplaintStatus::Closed as i32);
    assert!(closed.closed_at.is_some());
    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "complaints.complaint.closed")
        .await
        .expect("closed event");
    assert_eq!(ev.event.state, "CLOSED");

    // Follow-up visit, then the customer's service rating (once).
    let visit = client
        .record_follow_up(RecordFollowUpRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.complaint_id.clone(),
            method: FollowUpMethod::Phone as i32,
            outcome: FollowUpOutcome::Satisfied as i32,
            note: "happy now".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .follow_up
        .unwrap();
    let visits = client
        .list_follow_ups(ListFollowUpsRequest {
            complaint_id: c.complaint_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(visits, vec![visit]);

    let rate = |k: String| SubmitServiceRatingRequest {
        idempotency_key: k,
        actor: actor(ActorKind::Buyer, &buyer),
        subject_type: RatingSubjectType::Complaint as i32,
        subject_id: c.complaint_id.clone(),
        customer_id: buyer.clone(),
        scores: Some(ServiceScores {
            attitude: 5,
            professionalism: 4,
            timeliness: 3,
        }),
        comment: "fine".into(),
    };
    let rating = client
        .submit_service_rating(rate(key()))
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(rating.scores.unwrap().professionalism, 4);
    let err = client.submit_service_rating(rate(key())).await.unwrap_err();
    assert_rule(&err, "rating_already_given");
    let got = client
        .get_service_rating(GetServiceRatingRequest {
            subject_type: RatingSubjectType::Complaint as i32,
            subject_id: c.complaint_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert_eq!(got, rating);
    assert!(
        events
            .wait_for(WAIT, |e| e.routing_key
                == "complaints.service_rating.submitted")
            .await
            .is_some()
    );

    // Reopen clears the resolution; closing again needs a new note.
    let reopened = client
        .reopen_complaint(ReopenComplaintRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            complaint_id: c.complaint_id.clone(),
            reason: "it broke again".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(reopened.status, ComplaintStatus::Reopened as i32);
    assert_eq!(reopened.reopen_count, 1);
    assert!(reopened.resolution_note.is_empty());

    // Quality complaints are urgent: first response due in 2 h.
    let mut req = create_req(&buyer);
    req.category = ComplaintCategory::Quality as i32;
    let urgent = client
        .create_complaint(req)
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(urgent.severity, ComplaintSeverity::Urgent as i32);
    let due = urgent.first_response_due_at.unwrap().seconds - urgent.created_at.unwrap().seconds;
    assert!((7199..=7200).contains(&due), "{due}");
}

#[tokio::test]
async fn bad_input_is_refused_naming_the_field_and_writes_nothing() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let buyer = id();

    type Edit = fn(&mut CreateComplaintRequest);
    let cases: &[(Edit, &str)] = &[
        (|r| r.customer_id.clear(), "customer_id"),
        (|r| r.customer_id = "not-a-uuid".into(), "customer_id"),
        (|r| r.order_id = "12345".into(), "order_id"),
        (|r| r.channel = 0, "channel"),
        (|r| r.channel = Channel::App as i32, "channel"),
        (|r| r.channel = 99, "channel"),
        (|r| r.category = 42, "category"),
        (|r| r.category = 0, "category"),
        (|r| r.severity = 17, "severity"),
        (|r| r.subject = "s".repeat(129), "subject"),
        (|r| r.subject = "   ".into(), "subject"),
        (|r| r.description = "d".repeat(4097), "description"),
        (|r| r.actor = None, "actor"),
        (|r| r.actor = actor(ActorKind::Staff, ""), "actor.id"),
        (
            |r| {
                r.actor = Some(aftersales_proto::common::v1::Actor {
                    kind: 9,
                    id: "x".into(),
                })
            },
            "actor.kind",
        ),
        (|r| r.idempotency_key.clear(), "idempotency_key"),
        (|r| r.idempotency_key = "k".repeat(129), "idempotency_key"),
    ];
    for (edit, field) in cases {
        let mut req = create_req(&buyer);
        req.actor = staff();
        edit(&mut req);
        let err = client.create_complaint(req).await.unwrap_err();
        assert_invalid(&err, field);
    }
    assert!(
        list_all(&mut client).await.is_empty(),
        "nothing was written"
    );

    // Scores outside 1..=5 (including u32 values that overflow a score) and a bad month.
    let rating = |scores: ServiceScores| SubmitServiceRatingRequest {
        idempotency_key: key(),
        actor: staff(),
        subject_type: RatingSubjectType::Complaint as i32,
        subject_id: id(),
        customer_id: buyer.clone(),
        scores: Some(scores),
        comment: String::new(),
    };
    let err = client
        .submit_service_rating(rating(ServiceScores {
            attitude: 0,
            professionalism: 3,
            timeliness: 3,
        }))
        .await
        .unwrap_err();
    assert_invalid(&err, "scores.attitude");
    let err = client
        .submit_service_rating(rating(ServiceScores {
            attitude: 3,
            professionalism: 3,
            timeliness: u32::MAX,
        }))
        .await
        .unwrap_err();
    assert_invalid(&err, "scores.timeliness");
    let mut no_scores = rating(ServiceScores::default());
    no_scores.scores = None;
    assert_invalid(
        &client.submit_service_rating(no_scores).await.unwrap_err(),
        "scores",
    );
    let err = client
        .submit_dsr_rating(SubmitDsrRatingRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            order_id: id(),
            buyer_id: buyer.clone(),
            merchant_id: id(),
            scores: Some(DsrScores {
                description_match: 6,
                service: 5,
                logistics: 5,
            }),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "scores.description_match");
    let err = client
        .get_dsr_summary(GetDsrSummaryRequest {
            merchant_id: id(),
            month: "2025-13".into(),
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "month");
    let err = client
        .list_complaints(ListComplaintsRequest {
            actor: staff(),
            page: Some(PageRequest {
                page_size: 500,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "page.page_size");
    let err = client
        .check_sla_breaches(CheckSlaBreachesRequest {
            idempotency_key: key(),
            actor: system(),
            limit: 201,
        })
        .await
        .unwrap_err();
    assert_invalid(&err, "limit");

    // Work orders: merchant department without merchant, merchant id on another department.
    let mut req = work_order_req("", Department::Merchant);
    req.complaint_id.clear();
    assert_invalid(
        &client.create_work_order(req).await.unwrap_err(),
        "merchant_id",
    );
    let mut req = work_order_req("", Department::Warehouse);
    req.merchant_id = id();
    assert_invalid(
        &client.create_work_order(req).await.unwrap_err(),
        "merchant_id",
    );
    let mut req = work_order_req("", Department::Warehouse);
    req.title = "t".repeat(129);
    assert_invalid(&client.create_work_order(req).await.unwrap_err(), "title");
    let work_orders = client
        .list_work_orders(ListWorkOrdersRequest {
            actor: staff(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(work_orders.is_empty(), "nothing was written");
}

#[tokio::test]
async fn rule_violations_name_the_rule() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let buyer = id();
    let c = create(&mut client, &buyer).await;

    // NEW cannot be investigated.
    let err = client
        .start_investigation(StartInvestigationRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.complaint_id.clone(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "invalid_transition");

    // Escalated before any response: no resolution without a first response.
    let esc = client
        .escalate_complaint(EscalateComplaintRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            complaint_id: c.complaint_id.clone(),
            reason: "nobody answers".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(esc.status, ComplaintStatus::Escalated as i32);
    assert_eq!(esc.escalation_trigger, EscalationTrigger::Manual as i32);
    assert_eq!(esc.escalated_from, ComplaintStatus::New as i32);
    let err = resolve(&mut client, &c.complaint_id, true)
        .await
        .unwrap_err();
    assert_rule(&err, "first_response_required");

    // Open work orders block the resolution.
    acknowledge(&mut client, &c.complaint_id).await;
    investigate(&mut client, &c.complaint_id).await;
    let wo = client
        .create_work_order(work_order_req(&c.complaint_id, Department::Warehouse))
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap();
    let err = resolve(&mut client, &c.complaint_id, true)
        .await
        .unwrap_err();
    assert_rule(&err, "work_orders_open");

    // Same department transfer.
    let err = client
        .transfer_work_order(TransferWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wo.work_order_id.clone(),
            to_department: Department::Warehouse as i32,
            to_merchant_id: String::new(),
            reason: "wrong team".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "transfer_same_department");

    // Follow-up before resolution; rating before close.
    let err = client
        .record_follow_up(RecordFollowUpRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: c.complaint_id.clone(),
            method: FollowUpMethod::Sms as i32,
            outcome: FollowUpOutcome::Neutral as i32,
            note: String::new(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "complaint_not_resolved");
    let err = client
        .submit_service_rating(SubmitServiceRatingRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            subject_type: RatingSubjectType::Complaint as i32,
            subject_id: c.complaint_id.clone(),
            customer_id: buyer.clone(),
            scores: Some(ServiceScores {
                attitude: 1,
                professionalism: 1,
                timeliness: 1,
            }),
            comment: String::new(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "subject_not_closed");

    // A closed complaint takes no new work orders.
    let closed = closed_complaint(&mut client, &buyer).await;
    let err = client
        .create_work_order(work_order_req(&closed.complaint_id, Department::Finance))
        .await
        .unwrap_err();
    assert_rule(&err, "complaint_closed");

    // Who may do what: PERMISSION_DENIED naming actor_not_allowed.
    let mut req = create_req(&buyer);
    req.actor = actor(ActorKind::Buyer, &id());
    let err = client.create_complaint(req).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().starts_with("actor_not_allowed"), "{err:?}");
    let fresh = create(&mut client, &buyer).await;
    let err = client
        .acknowledge_complaint(AcknowledgeComplaintRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            complaint_id: fresh.complaint_id,
            message: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = client
        .check_sla_breaches(CheckSlaBreachesRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &buyer),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
}

#[tokio::test]
async fn idempotent_replay_returns_the_first_result_and_changes_nothing() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let buyer = id();
    let req = create_req(&buyer);
    let first = client
        .create_complaint(req.clone())
        .await
        .unwrap()
        .into_inner();
    let again = client
        .create_complaint(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(list_all(&mut client).await.len(), 1);

    let mut other = req.clone();
    other.subject = "something else".into();
    let err = client.create_complaint(other).await.unwrap_err();
    assert_rule(&err, "idempotency_key_reused");
    assert_eq!(list_all(&mut client).await.len(), 1);

    // A transition replayed after a later change still returns its own first result.
    let id = first.complaint.unwrap().complaint_id;
    let ack = AcknowledgeComplaintRequest {
        idempotency_key: key(),
        actor: staff(),
        complaint_id: id.clone(),
        message: String::new(),
    };
    let a1 = client
        .acknowledge_complaint(ack.clone())
        .await
        .unwrap()
        .into_inner();
    investigate(&mut client, &id).await;
    let a2 = client
        .acknowledge_complaint(ack)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a1, a2);
    let now = client
        .get_complaint(GetComplaintRequest {
            complaint_id: id,
            actor: staff(),
        })
        .await
        .unwrap()
        .into_inner()
        .complaint
        .unwrap();
    assert_eq!(now.status, ComplaintStatus::Investigating as i32);
}

#[tokio::test]
async fn unknown_or_foreign_ids_are_not_found() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let err = client
        .get_complaint(GetComplaintRequest {
            complaint_id: id(),
            actor: staff(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .acknowledge_complaint(AcknowledgeComplaintRequest {
            idempotency_key: key(),
            actor: staff(),
            complaint_id: id(),
            message: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .get_work_order(GetWorkOrderRequest {
            work_order_id: id(),
            actor: staff(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .create_work_order(work_order_req(&id(), Department::Delivery))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .list_follow_ups(ListFollowUpsRequest {
            complaint_id: id(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .get_service_rating(GetServiceRatingRequest {
            subject_type: RatingSubjectType::Case as i32,
            subject_id: id(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");

    // A buyer sees only its own complaints.
    let owner = id();
    let c = create(&mut client, &owner).await;
    let err = client
        .get_complaint(GetComplaintRequest {
            complaint_id: c.complaint_id.clone(),
            actor: actor(ActorKind::Buyer, &id()),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let mine = client
        .list_complaints(ListComplaintsRequest {
            actor: actor(ActorKind::Buyer, &owner),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(mine.len(), 1);
    let theirs = client
        .list_complaints(ListComplaintsRequest {
            actor: actor(ActorKind::Buyer, &id()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert!(theirs.is_empty());
}

#[tokio::test]
async fn dsr_counts_only_the_first_three_orders_per_buyer_merchant_and_month() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let mut events = env.event_probe("complaints.dsr_rating.#").await;
    let (buyer, merchant) = (id(), id());
    let rate = |order: &str, score: u32| SubmitDsrRatingRequest {
        idempotency_key: key(),
        actor: actor(ActorKind::Buyer, &buyer),
        order_id: order.into(),
        buyer_id: buyer.clone(),
        merchant_id: merchant.clone(),
        scores: Some(DsrScores {
            description_match: score,
            service: score,
            logistics: 5,
        }),
    };
    let mut ratings = Vec::new();
    for score in [5, 4, 3, 1] {
        let r = client
            .submit_dsr_rating(rate(&id(), score))
            .await
            .unwrap()
            .into_inner()
            .rating
            .unwrap();
        ratings.push(r);
    }
    let counted: Vec<bool> = ratings.iter().map(|r| r.counted).collect();
    assert_eq!(counted, [true, true, true, false]);
    let month = ratings[0].month.clone();
    assert_eq!(month.len(), 7);

    // Another buyer of the same merchant has its own three.
    let other = client
        .submit_dsr_rating(SubmitDsrRatingRequest {
            actor: system(),
            buyer_id: id(),
            ..rate(&id(), 2)
        })
        .await
        .unwrap()
        .into_inner()
        .rating
        .unwrap();
    assert!(other.counted);

    let summary = client
        .get_dsr_summary(GetDsrSummaryRequest {
            merchant_id: merchant.clone(),
            month: month.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .summary
        .unwrap();
    assert_eq!(summary.counted_ratings, 4);
    assert_eq!(summary.total_ratings, 5);
    assert_eq!(summary.time_zone, "Asia/Shanghai");
    assert!(
        (summary.description_match_average - 3.5).abs() < 1e-9,
        "{summary:?}"
    );
    assert!((summary.logistics_average - 5.0).abs() < 1e-9);

    // One rating per order; nobody rates for another buyer.
    let err = client
        .submit_dsr_rating(rate(&ratings[0].order_id, 5))
        .await
        .unwrap_err();
    assert_rule(&err, "rating_already_given");
    let err = client
        .submit_dsr_rating(SubmitDsrRatingRequest {
            actor: actor(ActorKind::Buyer, &id()),
            ..rate(&id(), 5)
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    let ev = events
        .wait_for(WAIT, |e| e.routing_key == "complaints.dsr_rating.submitted")
        .await
        .expect("dsr event");
    assert_eq!(ev.event.keys["merchant_id"], merchant);
}

#[tokio::test]
async fn sla_sweep_escalates_overdue_first_responses_and_work_orders() {
    let env = TestEnv::new();
    let channel = env
        .start(
            "complaints",
            &[
                ("AFTERSALES__SERVICE__FIRST_RESPONSE_SECS", "1"),
                ("AFTERSALES__SERVICE__URGENT_FIRST_RESPONSE_SECS", "1"),
                ("AFTERSALES__SERVICE__WORK_ORDER_SLA_SECS", "1"),
            ],
        )
        .await;
    let mut client = ComplaintsServiceClient::new(channel);
    let mut events = env.event_probe("complaints.#").await;
    let late = create(&mut client, &id()).await;
    let answered = create(&mut client, &id()).await;
    acknowledge(&mut client, &answered.complaint_id).await;
    let wo = client
        .create_work_order(work_order_req("", Department::Delivery))
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let sweep = client
        .check_sla_breaches(CheckSlaBreachesRequest {
            idempotency_key: key(),
            actor: system(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sweep.complaints.len(), 1, "{sweep:?}");
    let c = &sweep.complaints[0];
    assert_eq!(c.complaint_id, late.complaint_id);
    assert_eq!(c.status, ComplaintStatus::Escalated as i32);
    assert!(c.first_response_breached);
    assert_eq!(
        c.escalation_trigger,
        EscalationTrigger::FirstResponseBreach as i32
    );
    assert_eq!(c.escalation_count, 1);
    assert_eq!(sweep.work_orders.len(), 1);
    let w = &sweep.work_orders[0];
    assert_eq!(w.work_order_id, wo.work_order_id);
    assert_eq!(w.sla_status, SlaStatus::Failed as i32);
    assert!(w.escalated);
    let ev = events
        .wait_for(WAIT, |e| {
            e.routing_key == "complaints.complaint.first_response_breached"
        })
        .await
        .expect("breach event");
    assert_eq!(ev.event.entity_id, late.complaint_id);
    assert!(
        events
            .wait_for(WAIT, |e| e.routing_key
                == "complaints.work_order.sla_breached")
            .await
            .is_some()
    );

    // Recorded once: a second sweep changes nothing.
    let again = client
        .check_sla_breaches(CheckSlaBreachesRequest {
            idempotency_key: key(),
            actor: system(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(again.complaints.is_empty() && again.work_orders.is_empty());

    // The late first response is still accepted and stays breached; failed SLAs stay failed.
    let ack = acknowledge(&mut client, &late.complaint_id).await;
    assert_eq!(ack.status, ComplaintStatus::Acknowledged as i32);
    assert!(ack.first_response_breached);
    let breached = client
        .list_complaints(ListComplaintsRequest {
            actor: staff(),
            breached_only: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(breached.len(), 1);

    let stats = client
        .get_complaint_stats(GetComplaintStatsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .stats
        .unwrap();
    assert_eq!(stats.complaints_total, 2);
    assert_eq!(stats.complaints_responded, 2);
    assert_eq!(stats.first_response_breached, 1);
    assert!(
        (stats.first_response_breach_rate - 0.5).abs() < 1e-9,
        "{stats:?}"
    );
    assert_eq!(stats.work_orders_total, 1);
    assert_eq!(stats.work_orders_sla_failed, 1);
    assert!((stats.work_order_sla_breach_rate - 1.0).abs() < 1e-9);
}

#[tokio::test]
async fn work_order_goes_through_its_states_with_a_logged_transfer() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let mut events = env.event_probe("complaints.work_order.#").await;
    let c = create(&mut client, &id()).await;
    acknowledge(&mut client, &c.complaint_id).await;
    investigate(&mut client, &c.complaint_id).await;
    let mut req = work_order_req(&c.complaint_id, Department::Warehouse);
    req.assignee = "wh-lead".into();
    let wo = client
        .create_work_order(req)
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap();
    assert_eq!(wo.status, WorkOrderStatus::Assigned as i32);
    assert_eq!(wo.sla_status, SlaStatus::Ongoing as i32);
    let sla = wo.sla_due_at.unwrap().seconds - wo.created_at.unwrap().seconds;
    assert!((172_799..=172_800).contains(&sla), "{sla}");
    let wid = wo.work_order_id.clone();

    // The warehouse starts, then hands it to the merchant.
    client
        .start_work_order(StartWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid.clone(),
        })
        .await
        .unwrap();
    let merchant = id();
    let moved = client
        .transfer_work_order(TransferWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid.clone(),
            to_department: Department::Merchant as i32,
            to_merchant_id: merchant.clone(),
            reason: "the merchant shipped it directly".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let after = moved.work_order.unwrap();
    assert_eq!(after.status, WorkOrderStatus::Open as i32);
    assert!(after.assignee.is_empty());
    assert_eq!(after.department, Department::Merchant as i32);
    assert_eq!(after.transfer_count, 1);
    assert_eq!(after.sla_due_at, wo.sla_due_at, "the sla due time is kept");
    let transfers = client
        .list_work_order_transfers(ListWorkOrderTransfersRequest {
            work_order_id: wid.clone(),
            actor: staff(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(transfers.len(), 1);
    assert_eq!(transfers[0], moved.transfer.unwrap());
    assert_eq!(transfers[0].from_department, Department::Warehouse as i32);
    assert_eq!(transfers[0].to_merchant_id, merchant);
    assert!(
        events
            .wait_for(WAIT, |e| e.routing_key
                == "complaints.work_order.transferred")
            .await
            .is_some()
    );

    // The merchant sees and handles it; another merchant does not see it.
    let me = actor(ActorKind::Merchant, &merchant);
    let stranger = actor(ActorKind::Merchant, &id());
    let err = client
        .get_work_order(GetWorkOrderRequest {
            work_order_id: wid.clone(),
            actor: stranger.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    let err = client
        .assign_work_order(AssignWorkOrderRequest {
            idempotency_key: key(),
            actor: stranger,
            work_order_id: wid.clone(),
            assignee: "x".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let listed = client
        .list_work_orders(ListWorkOrdersRequest {
            actor: me.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(listed.len(), 1);
    client
        .assign_work_order(AssignWorkOrderRequest {
            idempotency_key: key(),
            actor: me.clone(),
            work_order_id: wid.clone(),
            assignee: "shop-owner".into(),
        })
        .await
        .unwrap();
    for round in 0..2 {
        client
            .start_work_order(StartWorkOrderRequest {
                idempotency_key: key(),
                actor: me.clone(),
                work_order_id: wid.clone(),
            })
            .await
            .unwrap();
        let done = client
            .complete_work_order(CompleteWorkOrderRequest {
                idempotency_key: key(),
                actor: me.clone(),
                work_order_id: wid.clone(),
                result: format!("checked, round {round}"),
            })
            .await
            .unwrap()
            .into_inner()
            .work_order
            .unwrap();
        assert_eq!(done.status, WorkOrderStatus::Done as i32);
        assert_eq!(done.sla_status, SlaStatus::Reached as i32);
        if round == 0 {
            // A merchant cannot verify; staff sends it back for rework (note required).
            let err = client
                .verify_work_order(VerifyWorkOrderRequest {
                    idempotency_key: key(),
                    actor: me.clone(),
                    work_order_id: wid.clone(),
                    accepted: true,
                    note: String::new(),
                })
                .await
                .unwrap_err();
            assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
            let err = client
                .verify_work_order(VerifyWorkOrderRequest {
                    idempotency_key: key(),
                    actor: staff(),
                    work_order_id: wid.clone(),
                    accepted: false,
                    note: String::new(),
                })
                .await
                .unwrap_err();
            assert_invalid(&err, "note");
            let rework = client
                .verify_work_order(VerifyWorkOrderRequest {
                    idempotency_key: key(),
                    actor: staff(),
                    work_order_id: wid.clone(),
                    accepted: false,
                    note: "photos missing".into(),
                })
                .await
                .unwrap()
                .into_inner()
                .work_order
                .unwrap();
            assert_eq!(rework.status, WorkOrderStatus::Assigned as i32);
            assert_eq!(rework.sla_status, SlaStatus::Reached as i32);
        }
    }
    let verified = client
        .verify_work_order(VerifyWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid.clone(),
            accepted: true,
            note: "ok".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap();
    assert_eq!(verified.status, WorkOrderStatus::Verified as i32);
    assert!(verified.verified_at.is_some());
    assert!(
        events
            .wait_for(WAIT, |e| e.routing_key == "complaints.work_order.verified")
            .await
            .is_some()
    );

    // With the work order finished, the complaint can be resolved.
    let resolved = resolve(&mut client, &c.complaint_id, true).await.unwrap();
    assert_eq!(resolved.status, ComplaintStatus::Resolved as i32);
}

/// Publishes a domain event of another service on this env's events exchange.
async fn publish_event(env: &TestEnv, name: &str, entity_id: &str, state: &str, buyer: &str) {
    let event = DomainEvent {
        name: name.into(),
        entity_id: entity_id.into(),
        keys: [("buyer_id".to_owned(), buyer.to_owned())]
            .into_iter()
            .collect(),
        state: state.into(),
        snapshot: Vec::new(),
        snapshot_type: String::new(),
    };
    let now = chrono::Utc::now();
    let envelope = Envelope {
        message_id: uuid::Uuid::now_v7().to_string(),
        r#type: "aftersales.messaging.v1.DomainEvent".into(),
        attempt: 1,
        occurred_at: ts(now),
        source: name.split('.').next().unwrap_or_default().into(),
        payload: event.encode_to_vec(),
        ..Default::default()
    };
    let (conn, ch) = env.amqp_channel().await;
    let exchange = format!("{}aftersales.events", env.prefix);
    ch.basic_publish(
        exchange.as_str().into(),
        name.into(),
        Default::default(),
        &envelope.encode_to_vec(),
        Default::default(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(200, "done".into()).await;
}

#[tokio::test]
async fn case_and_repair_ratings_wait_for_their_completion_events() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    // Declares the events exchange before anything is published to it.
    let _probe = env.event_probe("complaints.#").await;
    let buyer = id();
    let rate = |kind: RatingSubjectType, subject: &str, k: &str| SubmitServiceRatingRequest {
        idempotency_key: k.into(),
        actor: actor(ActorKind::Buyer, &buyer),
        subject_type: kind as i32,
        subject_id: subject.into(),
        customer_id: buyer.clone(),
        scores: Some(ServiceScores {
            attitude: 4,
            professionalism: 4,
            timeliness: 4,
        }),
        comment: String::new(),
    };
    for (kind, name, open_state, closed_state) in [
        (
            RatingSubjectType::Case,
            "returns.case.completed",
            "REFUNDING",
            "COMPLETED",
        ),
        (
            RatingSubjectType::Repair,
            "repairs.repair_order.completed",
            "SHIPPED_BACK",
            "COMPLETED",
        ),
    ] {
        let subject = id();
        let k = key();
        let err = client
            .submit_service_rating(rate(kind, &subject, &k))
            .await
            .unwrap_err();
        assert_rule(&err, "subject_not_closed");
        // A non-final state does not close it.
        publish_event(&env, name, &subject, open_state, &buyer).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let err = client
            .submit_service_rating(rate(kind, &subject, &k))
            .await
            .unwrap_err();
        assert_rule(&err, "subject_not_closed");
        // The completion event closes it (the same key may be retried: failures store nothing).
        // Published again now and then in case the consumer's queue was not bound yet.
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut attempt = 0;
        let rating = loop {
            if attempt % 10 == 0 {
                publish_event(&env, name, &subject, closed_state, &buyer).await;
            }
            attempt += 1;
            match client.submit_service_rating(rate(kind, &subject, &k)).await {
                Ok(r) => break r.into_inner().rating.unwrap(),
                Err(e) if tokio::time::Instant::now() < deadline => {
                    assert_rule(&e, "subject_not_closed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("{name} never closed the subject: {e:?}"),
            }
        };
        assert_eq!(rating.subject_id, subject);
        let err = client
            .submit_service_rating(rate(kind, &subject, &key()))
            .await
            .unwrap_err();
        assert_rule(&err, "rating_already_given");
    }
}

#[tokio::test]
async fn an_invalid_time_zone_fails_the_start_naming_the_key() {
    let env = TestEnv::new();
    let url = env.database_url("complaints");
    env.track_database(&url);
    let out = tokio::process::Command::new(aftersales_test_support::binary("complaints"))
        .arg("serve")
        .env_remove("RUST_LOG")
        .env("AFTERSALES__GRPC__ADDR", "127.0.0.1:0")
        .env("AFTERSALES__DATABASE__URL", &url)
        .env("AFTERSALES__AMQP__PREFIX", &env.prefix)
        .env("AFTERSALES__SERVICE__DSR_TIME_ZONE", "Mars/Olympus_Mons")
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("the service exits")
        .unwrap();
    assert!(!out.status.success());
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("service.dsr_time_zone"), "{log}");
}

#[tokio::test]
async fn rework_is_refused_once_the_complaint_is_resolved() {
    let env = TestEnv::new();
    let mut client = ComplaintsServiceClient::new(env.start("complaints", &[]).await);
    let c = create(&mut client, &id()).await;
    acknowledge(&mut client, &c.complaint_id).await;
    investigate(&mut client, &c.complaint_id).await;
    let mut req = work_order_req(&c.complaint_id, Department::Warehouse);
    req.assignee = "wh-lead".into();
    let wo = client
        .create_work_order(req)
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap();
    let wid = wo.work_order_id.clone();
    client
        .start_work_order(StartWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid.clone(),
        })
        .await
        .unwrap();
    client
        .complete_work_order(CompleteWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid.clone(),
            result: "parcel found".into(),
        })
        .await
        .unwrap();
    resolve(&mut client, &c.complaint_id, true).await.unwrap();

    let err = client
        .verify_work_order(VerifyWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid.clone(),
            accepted: false,
            note: "redo it".into(),
        })
        .await
        .unwrap_err();
    assert_rule(&err, "complaint_resolved");
    let after = client
        .get_work_order(GetWorkOrderRequest {
            work_order_id: wid.clone(),
            actor: staff(),
        })
        .await
        .unwrap()
        .into_inner()
        .work_order
        .unwrap();
    assert_eq!(
        after.status,
        WorkOrderStatus::Done as i32,
        "nothing reopened"
    );

    // Accepting the finished work is still possible.
    client
        .verify_work_order(VerifyWorkOrderRequest {
            idempotency_key: key(),
            actor: staff(),
            work_order_id: wid,
            accepted: true,
            note: String::new(),
        })
        .await
        .unwrap();
}
