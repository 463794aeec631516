//! Table-driven tests of the repair order: every state-machine edge (allowed and refused), the
//! scoping of every action, and the rules with their boundaries.

use super::*;
use crate::domain::enums::RepairCenterState;
use crate::domain::filter::RepairOrderFilter;
use crate::domain::input::{DiagnosisInput, PurchasedLine, RawRepairRequest};
use crate::domain::repair_center::NewRepairCenter;
use aftersales_kernel::{Currency, FieldViolation, limits};
use chrono::{TimeDelta, TimeZone};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 8, 0, 0)
        .single()
        .expect("valid date")
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

fn cny(minor: i64) -> Money {
    Money::new(minor, Currency::parse("CNY").expect("currency")).expect("money")
}

fn staff() -> Actor {
    Actor::staff("staff-1")
}

fn system() -> Actor {
    Actor::system("orchestrator")
}

fn reason(text: &str) -> Reason {
    Reason::parse("reason", text).expect("reason")
}

fn center() -> RepairCenter {
    let input = NewRepairCenter::parse("C-1", "Center").expect("valid");
    RepairCenter::create(RepairCenterId::new(), input, &staff(), t0())
        .expect("created")
        .0
}

fn raw_request() -> RawRepairRequest {
    RawRepairRequest {
        order_id: OrderId::new().to_string(),
        line_id: LineId::new().to_string(),
        serial_number: "SN123456".into(),
        symptom: "screen flickers".into(),
        evidence_refs: vec!["photo-1".into()],
        channel: Some(Channel::App),
    }
}

fn line(purchased_at: DateTime<Utc>, buyer: BuyerId) -> PurchasedLine {
    PurchasedLine {
        buyer_id: buyer,
        merchant_id: MerchantId::new(),
        sku: "SKU-PHONE-1".into(),
        purchased_at,
        warranty_months: Some(12),
        order_canceled: false,
    }
}

/// A valid repair input for a line bought at `purchased_at` by `buyer`.
fn raw(purchased_at: DateTime<Utc>, buyer: BuyerId) -> NewRepairOrder {
    raw_request()
        .validate()
        .expect("valid")
        .for_line(line(purchased_at, buyer), t0())
        .expect("joined")
}

/// A fresh order in REQUESTED; in warranty when bought a month ago, out when two years ago.
fn requested(in_warranty: bool) -> RepairOrder {
    let bought = if in_warranty {
        t0() - days(30)
    } else {
        t0() - days(730)
    };
    let input = raw(bought, BuyerId::new());
    let (order, event) = RepairOrder::open(
        RepairOrderId::new(),
        input,
        &staff(),
        &Policy::default(),
        t0(),
    )
    .expect("opened");
    assert_eq!(event, Event::RepairRequested);
    assert_eq!(order.in_warranty(), in_warranty);
    order
}

fn diagnosis() -> DiagnosisInput {
    DiagnosisInput::parse("display connector loose", "E42", "").expect("valid")
}

/// Drives a fresh order to `state` along the canonical path (staff/system acting).
fn order_in(state: RepairState, in_warranty: bool) -> RepairOrder {
    let mut o = requested(in_warranty);
    let now = t0();
    let path: &[RepairState] = match state {
        S::Requested | S::Canceled => &[],
        S::AwaitingItem => &[S::AwaitingItem],
        S::AtRepairCenter => &[S::AwaitingItem, S::AtRepairCenter],
        S::Received => &[S::AwaitingItem, S::AtRepairCenter, S::Received],
        S::Diagnosing => &[
            S::AwaitingItem,
            S::AtRepairCenter,
            S::Received,
            S::Diagnosing,
        ],
        S::Quoted => &[
            S::AwaitingItem,
            S::AtRepairCenter,
            S::Received,
            S::Diagnosing,
            S::Quoted,
        ],
        S::AwaitingApproval | S::Approved | S::ReturningUnrepaired => &[
            S::AwaitingItem,
            S::AtRepairCenter,
            S::Received,
            S::Diagnosing,
            S::Quoted,
            S::AwaitingApproval,
        ],
        _ => &[
            S::AwaitingItem,
            S::AtRepairCenter,
            S::Received,
            S::Diagnosing,
        ],
    };
    for step in path {
        let r = match step {
            S::AwaitingItem => o.assign_center(&staff(), &center(), now),
            S::AtRepairCenter => o.mark_item_sent(&system(), ShipmentId::new(), now),
            S::Received => o.acknowledge_receipt(&staff(), None, now),
            S::Diagnosing => o.start_diagnosis(&staff(), now),
            S::Quoted => o
                .submit_diagnosis(&staff(), diagnosis(), now)
                .and_then(|_| o.submit_quote(&staff(), cny(19_900), None, now)),
            S::AwaitingApproval => o.send_quote(&system(), &Policy::default(), now),
            _ => unreachable!("not a path step"),
        };
        r.expect("path step");
    }
    let r = match state {
        S::Approved => o.approve_quote(&staff(), now).map(drop),
        S::ReturningUnrepaired => o.decline_quote(&staff(), None, now).map(drop),
        S::Repairing | S::Repaired | S::ShippedBack | S::Completed => {
            drive_to_repairing(&mut o, in_warranty, now);
            let mut r = Ok(());
            if matches!(state, S::Repaired | S::ShippedBack | S::Completed) {
                r = r.and(o.report_repaired(&staff(), None, now).map(drop));
            }
            if matches!(state, S::ShippedBack | S::Completed) {
                r = r.and(
                    o.mark_shipped_back(&staff(), ShipmentId::new(), now)
                        .map(drop),
                );
            }
            if state == S::Completed {
                r = r.and(o.complete(&staff(), now).map(drop));
            }
            r
        }
        S::Unrepairable | S::Converted => {
            let mut r = o
                .report_unrepairable(&staff(), reason("board burnt"), now)
                .map(drop);
            if state == S::Converted {
                r = r.and(
                    o.convert(&staff(), UnrepairableResolution::Refund, now)
                        .map(drop),
                );
            }
            r
        }
        S::Canceled => o.cancel(&staff(), reason("changed my mind"), now).map(drop),
        _ => Ok(()),
    };
    r.expect("final step");
    assert_eq!(o.state, state);
    o
}

fn drive_to_repairing(o: &mut RepairOrder, in_warranty: bool, now: DateTime<Utc>) {
    o.submit_diagnosis(&staff(), diagnosis(), now)
        .expect("diagnosed");
    if !in_warranty {
        o.submit_quote(&staff(), cny(19_900), None, now)
            .expect("quoted");
        o.send_quote(&system(), &Policy::default(), now)
            .expect("sent");
        o.approve_quote(&staff(), now).expect("approved");
        o.record_quote_paid(&system(), ChargeId::new(), cny(19_900), now)
            .expect("paid");
    }
    assert_eq!(o.state, S::Repairing);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum A {
    Assign,
    ItemSent,
    Ack,
    Start,
    Diagnose,
    Quote,
    Send,
    Approve,
    Decline,
    Expire,
    Paid,
    Repaired,
    Unrepairable,
    Convert,
    LinkCase,
    ShippedBack,
    Complete,
    OverrideIn,
    OverrideOut,
    Cancel,
}

const ACTIONS: &[A] = &[
    A::Assign,
    A::ItemSent,
    A::Ack,
    A::Start,
    A::Diagnose,
    A::Quote,
    A::Send,
    A::Approve,
    A::Decline,
    A::Expire,
    A::Paid,
    A::Repaired,
    A::Unrepairable,
    A::Convert,
    A::LinkCase,
    A::ShippedBack,
    A::Complete,
    A::OverrideIn,
    A::OverrideOut,
    A::Cancel,
];

fn apply(
    o: &mut RepairOrder,
    a: A,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Event, DomainError> {
    let policy = Policy::default();
    match a {
        A::Assign => o.assign_center(actor, &center(), now),
        A::ItemSent => o.mark_item_sent(actor, ShipmentId::new(), now),
        A::Ack => o.acknowledge_receipt(actor, Some("box dented".into()), now),
        A::Start => o.start_diagnosis(actor, now),
        A::Diagnose => o.submit_diagnosis(actor, diagnosis(), now),
        A::Quote => o.submit_quote(actor, cny(25_000), Some("new panel".into()), now),
        A::Send => o.send_quote(actor, &policy, now),
        A::Approve => o.approve_quote(actor, now),
        A::Decline => o.decline_quote(actor, Some("too expensive".into()), now),
        A::Expire => o.expire_quote(actor, now),
        A::Paid => {
            let amount = o.quote.as_ref().map_or(cny(1), |q| q.amount);
            o.record_quote_paid(actor, ChargeId::new(), amount, now)
        }
        A::Repaired => o.report_repaired(actor, Some("replaced panel".into()), now),
        A::Unrepairable => o.report_unrepairable(actor, reason("no spare parts"), now),
        A::Convert => o.convert(actor, UnrepairableResolution::Exchange, now),
        A::LinkCase => o.record_converted_case(actor, CaseId::new(), now),
        A::ShippedBack => o.mark_shipped_back(actor, ShipmentId::new(), now),
        A::Complete => o.complete(actor, now),
        A::OverrideIn => o.override_warranty(actor, true, reason("goodwill"), now),
        A::OverrideOut => o.override_warranty(actor, false, reason("liquid damage"), now),
        A::Cancel => o.cancel(actor, reason("no longer needed"), now),
    }
}

fn event_of(a: A) -> Event {
    match a {
        A::Assign => Event::RepairCenterAssigned,
        A::ItemSent => Event::ItemSent,
        A::Ack => Event::ReceiptAcknowledged,
        A::Start => Event::DiagnosisStarted,
        A::Diagnose => Event::Diagnosed,
        A::Quote => Event::QuoteSubmitted,
        A::Send => Event::QuoteSent,
        A::Approve => Event::QuoteApproved,
        A::Decline => Event::QuoteDeclined,
        A::Expire => Event::QuoteExpired,
        A::Paid => Event::QuotePaid,
        A::Repaired => Event::Repaired,
        A::Unrepairable => Event::Unrepairable,
        A::Convert => Event::Converted,
        A::LinkCase => Event::ConvertedCaseLinked,
        A::ShippedBack => Event::ShippedBack,
        A::Complete => Event::Completed,
        A::OverrideIn | A::OverrideOut => Event::WarrantyOverridden,
        A::Cancel => Event::Canceled,
    }
}

enum Want {
    To(RepairState),
    Rule(&'static str),
}

/// Every edge of the machine for an out-of-warranty order; anything not listed must be refused
/// with `invalid_state_transition`.
fn expected(from: RepairState, a: A) -> Want {
    use Want::{Rule, To};
    let held_before_repair = matches!(
        from,
        S::AtRepairCenter
            | S::Received
            | S::Diagnosing
            | S::Quoted
            | S::AwaitingApproval
            | S::Approved
    );
    let overridable = matches!(
        from,
        S::Requested
            | S::AwaitingItem
            | S::AtRepairCenter
            | S::Received
            | S::Diagnosing
            | S::Quoted
            | S::AwaitingApproval
    );
    match (from, a) {
        (S::Requested | S::AwaitingItem, A::Assign) => To(S::AwaitingItem),
        (s, A::Assign) if !s.is_terminal() => Rule("item_already_sent"),
        (S::AwaitingItem, A::ItemSent) => To(S::AtRepairCenter),
        (S::AwaitingItem | S::AtRepairCenter, A::Ack) => To(S::Received),
        (S::Received, A::Start) => To(S::Diagnosing),
        (S::Diagnosing, A::Diagnose) => To(S::Diagnosing),
        (S::Diagnosing, A::Quote) => Rule("diagnosis_required"),
        (S::Quoted, A::Quote) => To(S::Quoted),
        (S::Quoted, A::Send) => To(S::AwaitingApproval),
        (S::AwaitingApproval, A::Approve) => To(S::Approved),
        (S::AwaitingApproval, A::Decline) => To(S::ReturningUnrepaired),
        (S::AwaitingApproval, A::Expire) => Rule("quote_not_expired"),
        (S::Approved, A::Paid) => To(S::Repairing),
        (S::Repairing, A::Repaired) => To(S::Repaired),
        (
            S::Diagnosing | S::Quoted | S::AwaitingApproval | S::Approved | S::Repairing,
            A::Unrepairable,
        ) => To(S::Unrepairable),
        (S::Unrepairable, A::Convert) => To(S::Converted),
        (S::Converted, A::LinkCase) => To(S::Converted),
        (S::Repaired | S::ReturningUnrepaired, A::ShippedBack) => To(S::ShippedBack),
        (S::ShippedBack, A::Complete) => To(S::Completed),
        (S::Quoted | S::AwaitingApproval, A::OverrideIn) => To(S::Repairing),
        (s, A::OverrideIn) if overridable => To(s),
        (_, A::OverrideOut) if overridable => Rule("warranty_unchanged"),
        (_, A::OverrideIn | A::OverrideOut) => Rule("warranty_decision_locked"),
        (S::Requested | S::AwaitingItem, A::Cancel) => To(S::Canceled),
        (S::Unrepairable, A::Cancel) => To(S::ReturningUnrepaired),
        (_, A::Cancel) if held_before_repair => To(S::ReturningUnrepaired),
        (S::Repairing | S::Repaired | S::ShippedBack, A::Cancel) => Rule("repair_in_progress"),
        _ => Rule("invalid_state_transition"),
    }
}

#[test]
fn state_machine_matrix() {
    let now = t0() + days(1);
    let mut checked = 0;
    for &from in RepairState::ALL {
        let fixture = order_in(from, false);
        for &a in ACTIONS {
            let mut o = fixture.clone();
            let got = apply(&mut o, a, &staff(), now);
            match (expected(from, a), got) {
                (Want::To(to), Ok(event)) => {
                    assert_eq!(o.state, to, "{from} {a:?}");
                    assert_eq!(event, event_of(a), "{from} {a:?}");
                    assert_eq!(o.updated_at, now, "{from} {a:?}");
                }
                (Want::Rule(rule), Err(e)) => {
                    assert_eq!(e.rule_name(), Some(rule), "{from} {a:?}: {e}");
                    assert_eq!(
                        o, fixture,
                        "{from} {a:?}: a refused transition changes nothing"
                    );
                }
                (Want::To(to), Err(e)) => panic!("{from} {a:?}: want {to}, got {e}"),
                (Want::Rule(rule), Ok(_)) => {
                    panic!("{from} {a:?}: want {rule}, got {}", o.state)
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, RepairState::ALL.len() * ACTIONS.len());
}

/// The state an action is valid from (out-of-warranty fixture) and the time to act at.
fn valid_from(a: A) -> (RepairState, DateTime<Utc>) {
    let now = t0() + days(1);
    match a {
        A::Assign => (S::Requested, now),
        A::ItemSent => (S::AwaitingItem, now),
        A::Ack => (S::AtRepairCenter, now),
        A::Start => (S::Received, now),
        A::Diagnose => (S::Diagnosing, now),
        A::Quote | A::Send => (S::Quoted, now),
        A::Approve | A::Decline => (S::AwaitingApproval, now),
        A::Expire => (S::AwaitingApproval, t0() + days(30)),
        A::Paid => (S::Approved, now),
        A::Repaired => (S::Repairing, now),
        A::Unrepairable => (S::Diagnosing, now),
        A::Convert => (S::Unrepairable, now),
        A::LinkCase => (S::Converted, now),
        A::ShippedBack => (S::Repaired, now),
        A::Complete => (S::ShippedBack, now),
        A::OverrideIn => (S::Received, now),
        A::OverrideOut => (S::Requested, now),
        A::Cancel => (S::Received, now),
    }
}

fn allowed_kinds(a: A) -> &'static [ActorKind] {
    use ActorKind::{Buyer, Partner, Staff, System};
    match a {
        A::Assign | A::Send | A::Expire | A::Paid | A::LinkCase => &[Staff, System],
        A::ItemSent | A::Convert | A::Complete | A::Cancel => &[Buyer, Staff, System],
        A::Ack
        | A::Start
        | A::Diagnose
        | A::Quote
        | A::Repaired
        | A::Unrepairable
        | A::ShippedBack => &[Partner, Staff, System],
        A::Approve | A::Decline => &[Buyer, Staff],
        A::OverrideIn | A::OverrideOut => &[Staff],
    }
}

#[test]
fn who_may_act_matrix() {
    for &a in ACTIONS {
        let (from, now) = valid_from(a);
        let mut fixture = order_in(from, false);
        if a == A::OverrideOut {
            fixture = order_in(from, true);
        }
        let own_center = fixture.repair_center_id.unwrap_or_default();
        let actors = [
            (Actor::buyer(fixture.buyer_id.to_string()), None),
            (
                Actor::buyer(BuyerId::new().to_string()),
                Some("not_repair_buyer"),
            ),
            (Actor::repair_center(own_center), None),
            (
                Actor::repair_center(RepairCenterId::new()),
                Some("repair_center_mismatch"),
            ),
            (
                Actor::new(ActorKind::Merchant, fixture.merchant_id.to_string()),
                None,
            ),
            (staff(), None),
            (system(), None),
        ];
        for (actor, party_rule) in actors {
            let mut o = fixture.clone();
            let got = apply(&mut o, a, &actor, now).map_err(|e| e.rule_name());
            let want = if !allowed_kinds(a).contains(&actor.kind) {
                Err(Some("actor_not_allowed"))
            } else if let Some(rule) = party_rule {
                Err(Some(rule))
            } else if actor.kind == ActorKind::Partner && fixture.repair_center_id.is_none() {
                Err(Some("repair_center_mismatch"))
            } else {
                Ok(event_of(a))
            };
            assert_eq!(got, want, "{a:?} from {from} by {actor:?}");
        }
    }
}

#[test]
fn validate_names_every_bad_field() {
    let bad = RawRepairRequest {
        order_id: String::new(),
        line_id: "nope".into(),
        serial_number: "s".repeat(limits::SHORT_TEXT + 1),
        symptom: String::new(),
        evidence_refs: vec![String::new()],
        channel: None,
    };
    let DomainError::Invalid(v) = bad.validate().unwrap_err() else {
        panic!("field errors")
    };
    let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "order_id",
            "line_id",
            "serial_number",
            "symptom",
            "evidence_refs[0]",
        ]
    );
    let good = raw(t0(), BuyerId::new());
    assert_eq!(good.sku, "SKU-PHONE-1");
    assert_eq!(good.warranty_months, Some(12));
}

#[test]
fn the_purchased_line_comes_from_the_replica() {
    let buyer = BuyerId::new();
    let req = raw_request().validate().expect("valid");
    let mut canceled = line(t0() - days(3), buyer);
    canceled.order_canceled = true;
    let err = req.clone().for_line(canceled, t0()).unwrap_err();
    assert_eq!(err.rule_name(), Some("order_canceled"));
    // A payment time slightly ahead of this clock counts as now.
    let ahead = req
        .for_line(line(t0() + TimeDelta::minutes(2), buyer), t0())
        .expect("joined");
    assert_eq!((ahead.purchased_at, ahead.buyer_id), (t0(), buyer));
}

#[test]
fn open_checks_actor_and_purchase_date() {
    let buyer = BuyerId::new();
    let policy = Policy::default();
    let input = raw(t0() - days(1), buyer);
    let cases: &[(Actor, Option<&str>)] = &[
        (Actor::buyer(buyer.to_string()), None),
        (
            Actor::buyer(BuyerId::new().to_string()),
            Some("not_repair_buyer"),
        ),
        (staff(), None),
        (system(), None),
        (
            Actor::new(ActorKind::Merchant, "m"),
            Some("actor_not_allowed"),
        ),
        (
            Actor::repair_center(RepairCenterId::new()),
            Some("actor_not_allowed"),
        ),
    ];
    for (actor, want) in cases {
        let got = RepairOrder::open(RepairOrderId::new(), input.clone(), actor, &policy, t0());
        assert_eq!(got.err().and_then(|e| e.rule_name()), *want, "{actor:?}");
    }
    let mut future = raw(t0(), buyer);
    future.purchased_at = t0() + TimeDelta::seconds(1);
    let err = RepairOrder::open(RepairOrderId::new(), future, &staff(), &policy, t0()).unwrap_err();
    assert_eq!(
        err,
        DomainError::Invalid(vec![FieldViolation::new(
            "purchased_at",
            "must not be in the future"
        )])
    );
}

#[test]
fn open_computes_warranty_with_policy_default() {
    let policy = Policy {
        default_warranty_months: 24,
        ..Policy::default()
    };
    let cases: &[(TimeDelta, Option<u32>, bool)] = &[
        (days(400), None, true),
        (days(400), Some(12), false),
        (days(800), None, false),
        (days(0), Some(0), false),
    ];
    for &(age, months, want) in cases {
        let mut input = raw(t0() - age, BuyerId::new());
        input.warranty_months = months;
        let (o, _) =
            RepairOrder::open(RepairOrderId::new(), input, &staff(), &policy, t0()).expect("open");
        assert_eq!(o.in_warranty(), want, "{age} {months:?}");
        assert_eq!(o.warranty.months, months.unwrap_or(24));
        assert_eq!(o.state, S::Requested);
        assert!(o.is_open());
    }
}

#[test]
fn in_warranty_diagnosis_starts_the_free_repair() {
    let mut o = order_in(S::Diagnosing, true);
    assert_eq!(
        o.submit_diagnosis(&staff(), diagnosis(), t0()),
        Ok(Event::Diagnosed)
    );
    assert_eq!(o.state, S::Repairing);
    assert_eq!(o.quote, None);
    assert_eq!(
        o.diagnosis.as_ref().map(|d| d.fault_code.as_deref()),
        Some(Some("E42"))
    );
}

#[test]
fn center_can_void_the_warranty_at_diagnosis() {
    let mut o = order_in(S::Diagnosing, true);
    let me = Actor::repair_center(o.repair_center_id.expect("assigned"));
    let input = DiagnosisInput::parse("liquid inside", "", "liquid damage").expect("valid");
    assert_eq!(
        o.submit_diagnosis(&me, input.clone(), t0()),
        Ok(Event::Diagnosed)
    );
    assert_eq!(o.state, S::Diagnosing);
    assert!(!o.in_warranty());
    assert!(o.warranty.computed_in_warranty);
    let ov = o.warranty.overridden.as_ref().expect("override recorded");
    assert_eq!((ov.reason.as_str(), &ov.by), ("liquid damage", &me));
    assert_eq!(
        o.warranty.source(),
        crate::domain::WarrantySource::Overridden
    );

    let mut out = order_in(S::Diagnosing, false);
    let err = out.submit_diagnosis(&me_of(&out), input, t0()).unwrap_err();
    assert_eq!(err.rule_name(), Some("warranty_unchanged"));
}

fn me_of(o: &RepairOrder) -> Actor {
    Actor::repair_center(o.repair_center_id.expect("assigned"))
}

#[test]
fn diagnosis_once() {
    let mut o = order_in(S::Diagnosing, false);
    o.submit_diagnosis(&staff(), diagnosis(), t0())
        .expect("first");
    let err = o.submit_diagnosis(&staff(), diagnosis(), t0()).unwrap_err();
    assert_eq!(err.rule_name(), Some("diagnosis_already_submitted"));
}

/// (findings, fault code, void reason, Ok or the fields named).
type DiagnosisCase<'a> = (&'a str, &'a str, &'a str, Result<(), &'a [&'a str]>);

#[test]
fn diagnosis_input_parse() {
    let cases: &[DiagnosisCase] = &[
        ("broken", "", "", Ok(())),
        ("broken", "E1", "drop damage", Ok(())),
        ("", "", "", Err(&["findings"])),
        (
            "x",
            &"f".repeat(limits::SHORT_TEXT + 1),
            "",
            Err(&["fault_code"]),
        ),
        (
            "",
            "",
            &"r".repeat(limits::LONG_TEXT + 1),
            Err(&["findings", "warranty_void_reason"]),
        ),
    ];
    for (findings, code, void, want) in cases {
        let got = DiagnosisInput::parse(findings, code, void)
            .map(drop)
            .map_err(|e| match e {
                DomainError::Invalid(v) => v.into_iter().map(|f| f.field).collect::<Vec<_>>(),
                DomainError::Rule(r) => panic!("{r}"),
            });
        let want = want.map_err(|f| f.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(got, want, "{findings:?} {code:?}");
    }
    let d = DiagnosisInput::parse(" x ", " ", " ").expect("valid");
    assert_eq!(
        (d.findings.as_str(), d.fault_code, d.warranty_void_reason),
        ("x", None, None)
    );
}

#[test]
fn in_warranty_repairs_are_never_quoted() {
    let mut o = order_in(S::Diagnosing, true);
    // Only reachable if storage holds an in-warranty diagnosed order still in DIAGNOSING.
    o.diagnosis = Some(Diagnosis {
        findings: "x".into(),
        fault_code: None,
        diagnosed_at: t0(),
    });
    let err = o.submit_quote(&staff(), cny(100), None, t0()).unwrap_err();
    assert_eq!(err.rule_name(), Some("in_warranty_repair_is_free"));
}

#[test]
fn quote_amount_must_be_positive_and_revisable() {
    let mut o = order_in(S::Diagnosing, false);
    o.submit_diagnosis(&staff(), diagnosis(), t0())
        .expect("diagnosed");
    let err = o.submit_quote(&staff(), cny(0), None, t0()).unwrap_err();
    assert_eq!(
        err,
        DomainError::field("amount.minor_units", "must be greater than zero")
    );
    o.submit_quote(&staff(), cny(1), None, t0())
        .expect("minimum quote");
    o.submit_quote(
        &staff(),
        cny(5_000),
        Some("with battery".into()),
        t0() + days(1),
    )
    .expect("revised");
    let q = o.quote.as_ref().expect("quote");
    assert_eq!(
        (q.amount, q.submitted_at, q.sent_at),
        (cny(5_000), t0() + days(1), None)
    );
}

#[test]
fn quote_window_comes_from_the_policy() {
    for (days_cfg, want) in [(7, days(7)), (1, days(1)), (14, days(14))] {
        let mut o = order_in(S::Quoted, false);
        let policy = Policy {
            quote_approval_days: days_cfg,
            ..Policy::default()
        };
        o.send_quote(&system(), &policy, t0()).expect("sent");
        let q = o.quote.as_ref().expect("quote");
        assert_eq!((q.sent_at, q.expires_at), (Some(t0()), Some(t0() + want)));
    }
}

#[test]
fn quote_expiry_boundaries() {
    let expires = t0() + days(7);
    let second = TimeDelta::seconds(1);
    let cases: &[(A, DateTime<Utc>, Result<RepairState, &str>)] = &[
        (A::Approve, expires - second, Ok(S::Approved)),
        (A::Approve, expires, Err("quote_expired")),
        (A::Approve, expires + second, Err("quote_expired")),
        (A::Expire, expires - second, Err("quote_not_expired")),
        (A::Expire, expires, Ok(S::ReturningUnrepaired)),
        (A::Expire, expires + days(3), Ok(S::ReturningUnrepaired)),
        (A::Decline, expires + second, Ok(S::ReturningUnrepaired)),
    ];
    for &(a, now, want) in cases {
        let mut o = order_in(S::AwaitingApproval, false);
        let got = apply(&mut o, a, &staff(), now)
            .map(|_| o.state)
            .map_err(|e| e.rule_name());
        assert_eq!(got, want.map_err(Some), "{a:?} at {now}");
    }
}

#[test]
fn quote_decisions_are_recorded() {
    let cases = [
        (A::Approve, QuoteDecision::Approved, None),
        (
            A::Decline,
            QuoteDecision::Declined,
            Some(UnrepairedReason::QuoteDeclined),
        ),
        (
            A::Expire,
            QuoteDecision::Expired,
            Some(UnrepairedReason::QuoteExpired),
        ),
    ];
    let now = t0() + days(8);
    for (a, decision, unrepaired) in cases {
        let mut o = order_in(S::AwaitingApproval, false);
        if a == A::Approve {
            o.approve_quote(&staff(), t0() + days(1)).expect("approved");
        } else {
            apply(&mut o, a, &system_or_staff(a), now).expect("decided");
        }
        let q = o.quote.as_ref().expect("quote");
        assert_eq!(q.decision, Some(decision), "{a:?}");
        assert_eq!(o.unrepaired_reason, unrepaired, "{a:?}");
    }
    let mut o = order_in(S::AwaitingApproval, false);
    o.decline_quote(&staff(), Some("too expensive".into()), now)
        .expect("declined");
    assert_eq!(
        o.quote.and_then(|q| q.decline_reason).as_deref(),
        Some("too expensive")
    );
}

fn system_or_staff(a: A) -> Actor {
    if a == A::Expire { system() } else { staff() }
}

#[test]
fn payment_must_match_the_quote() {
    let usd = Money::new(19_900, Currency::parse("USD").expect("usd")).expect("money");
    let cases: &[(Money, Result<(), &str>)] = &[
        (cny(19_900), Ok(())),
        (cny(19_899), Err("charge_amount_mismatch")),
        (cny(19_901), Err("charge_amount_mismatch")),
        (usd, Err("currency_mismatch")),
    ];
    for &(amount, want) in cases {
        let mut o = order_in(S::Approved, false);
        let charge = ChargeId::new();
        let got = o.record_quote_paid(&system(), charge, amount, t0());
        assert_eq!(
            got.map(drop).map_err(|e| e.rule_name()),
            want.map_err(Some),
            "{amount}"
        );
        if want.is_ok() {
            let q = o.quote.as_ref().expect("quote");
            assert_eq!(
                (q.charge_id, q.paid_at, o.state),
                (Some(charge), Some(t0()), S::Repairing)
            );
        }
    }
}

#[test]
fn unrepairable_withdraws_the_quote_and_names_the_charge_to_void() {
    let mut o = order_in(S::AwaitingApproval, false);
    o.report_unrepairable(&staff(), reason("no parts"), t0())
        .expect("unrepairable");
    assert_eq!(
        o.quote.as_ref().and_then(|q| q.decision),
        Some(QuoteDecision::Withdrawn)
    );
    assert_eq!(o.unrepairable_reason.as_deref(), Some("no parts"));
    assert_eq!(o.charge_to_void(), None);

    let mut paid = order_in(S::Repairing, false);
    assert_eq!(paid.charge_to_void(), None);
    let charge = paid.quote.as_ref().and_then(|q| q.charge_id);
    paid.report_unrepairable(&me_of(&paid), reason("board burnt"), t0())
        .expect("unrepairable");
    assert_eq!(
        paid.quote.as_ref().and_then(|q| q.decision),
        Some(QuoteDecision::Approved)
    );
    assert_eq!(paid.charge_to_void(), charge);
    paid.convert(&system(), UnrepairableResolution::Exchange, t0())
        .expect("converted");
    assert_eq!(paid.charge_to_void(), charge);
}

#[test]
fn conversion_records_resolution_and_links_the_case_once() {
    for resolution in UnrepairableResolution::ALL {
        let mut o = order_in(S::Unrepairable, true);
        let buyer = Actor::buyer(o.buyer_id.to_string());
        assert_eq!(o.convert(&buyer, *resolution, t0()), Ok(Event::Converted));
        assert_eq!((o.state, o.resolution), (S::Converted, Some(*resolution)));
        assert!(!o.is_open());
        let case = CaseId::new();
        assert_eq!(
            o.record_converted_case(&system(), case, t0()),
            Ok(Event::ConvertedCaseLinked)
        );
        assert_eq!(o.converted_case_id, Some(case));
        let err = o
            .record_converted_case(&system(), CaseId::new(), t0())
            .unwrap_err();
        assert_eq!(err.rule_name(), Some("converted_case_already_linked"));
        assert_eq!(o.converted_case_id, Some(case));
    }
}

#[test]
fn cancel_outcomes() {
    let cases = [
        (S::Requested, S::Canceled, None),
        (S::AwaitingItem, S::Canceled, None),
        (
            S::AtRepairCenter,
            S::ReturningUnrepaired,
            Some(UnrepairedReason::Canceled),
        ),
        (
            S::Quoted,
            S::ReturningUnrepaired,
            Some(UnrepairedReason::Canceled),
        ),
        (
            S::Approved,
            S::ReturningUnrepaired,
            Some(UnrepairedReason::Canceled),
        ),
        (
            S::Unrepairable,
            S::ReturningUnrepaired,
            Some(UnrepairedReason::Canceled),
        ),
    ];
    for (from, to, unrepaired) in cases {
        let mut o = order_in(from, false);
        let buyer = Actor::buyer(o.buyer_id.to_string());
        assert_eq!(
            o.cancel(&buyer, reason("found another shop"), t0()),
            Ok(Event::Canceled)
        );
        assert_eq!((o.state, o.unrepaired_reason), (to, unrepaired), "{from}");
        assert_eq!(o.cancel_reason.as_deref(), Some("found another shop"));
        if from == S::Quoted {
            assert_eq!(
                o.quote.as_ref().and_then(|q| q.decision),
                Some(QuoteDecision::Withdrawn)
            );
        }
        if from == S::Approved {
            assert_eq!(
                o.quote.as_ref().and_then(|q| q.decision),
                Some(QuoteDecision::Approved)
            );
        }
    }
}

#[test]
fn override_records_who_and_why() {
    let mut o = order_in(S::Received, false);
    o.override_warranty(&staff(), true, reason("receipt shows later purchase"), t0())
        .expect("overridden");
    assert!(o.in_warranty());
    assert_eq!(o.state, S::Received);
    let ov = o.warranty.overridden.clone().expect("override");
    assert_eq!(
        (ov.in_warranty, ov.reason.as_str(), ov.by, ov.at),
        (true, "receipt shows later purchase", staff(), t0())
    );
    // Back to the computed value is itself an override.
    o.override_warranty(&staff(), false, reason("receipt was fake"), t0())
        .expect("again");
    assert!(!o.in_warranty());
    o.start_diagnosis(&staff(), t0()).expect("diagnosing");
    o.submit_diagnosis(&staff(), diagnosis(), t0())
        .expect("diagnosed");
    assert_eq!(o.state, S::Diagnosing);
}

#[test]
fn override_to_in_warranty_after_diagnosis_starts_the_free_repair() {
    let mut diagnosed = order_in(S::Diagnosing, false);
    diagnosed
        .submit_diagnosis(&staff(), diagnosis(), t0())
        .expect("diagnosed");
    let cases = [
        (diagnosed, None),
        (order_in(S::Quoted, false), Some(QuoteDecision::Withdrawn)),
        (
            order_in(S::AwaitingApproval, false),
            Some(QuoteDecision::Withdrawn),
        ),
    ];
    for (mut o, decision) in cases {
        let from = o.state;
        o.override_warranty(&staff(), true, reason("known defect"), t0())
            .expect("overridden");
        assert_eq!(o.state, S::Repairing, "{from}");
        assert_eq!(
            o.quote.as_ref().and_then(|q| q.decision),
            decision,
            "{from}"
        );
    }
}

#[test]
fn in_warranty_override_out_before_diagnosis_leads_to_a_quote() {
    let mut o = order_in(S::Diagnosing, true);
    o.override_warranty(&staff(), false, reason("screen cracked by user"), t0())
        .expect("out");
    o.submit_diagnosis(&staff(), diagnosis(), t0())
        .expect("diagnosed");
    assert_eq!(o.state, S::Diagnosing);
    o.submit_quote(&staff(), cny(30_000), None, t0())
        .expect("quoted");
    assert_eq!(o.state, S::Quoted);
}

#[test]
fn assign_rules() {
    let mut o = order_in(S::Requested, true);
    let mut suspended = center();
    suspended.state = RepairCenterState::Suspended;
    let err = o.assign_center(&staff(), &suspended, t0()).unwrap_err();
    assert_eq!(err.rule_name(), Some("repair_center_inactive"));
    let c = center();
    o.assign_center(&staff(), &c, t0()).expect("assigned");
    assert_eq!(o.repair_center_id, Some(c.id));
    let err = o.assign_center(&staff(), &c, t0()).unwrap_err();
    assert_eq!(err.rule_name(), Some("repair_center_unchanged"));
    let other = center();
    o.assign_center(&system(), &other, t0())
        .expect("reassigned");
    assert_eq!(
        (o.repair_center_id, o.state),
        (Some(other.id), S::AwaitingItem)
    );
    // The previous center lost access.
    let err = o
        .acknowledge_receipt(&Actor::repair_center(c.id), None, t0())
        .unwrap_err();
    assert_eq!(err.rule_name(), Some("repair_center_mismatch"));
}

#[test]
fn walk_in_receipt_skips_the_shipment() {
    let mut o = order_in(S::AwaitingItem, true);
    let me = me_of(&o);
    assert_eq!(
        o.acknowledge_receipt(&me, Some("scratched".into()), t0()),
        Ok(Event::ReceiptAcknowledged)
    );
    assert_eq!(
        (o.state, o.inbound_shipment_id, o.received_at),
        (S::Received, None, Some(t0()))
    );
    assert_eq!(o.receipt_note.as_deref(), Some("scratched"));
}

#[test]
fn full_round_trips() {
    for in_warranty in [true, false] {
        let mut o = order_in(S::Completed, in_warranty);
        assert!(!o.is_open());
        assert!(o.repaired_at.is_some() && o.shipped_back_at.is_some());
        assert_eq!(o.completed_at, Some(t0()));
        assert_eq!(o.quote.is_some(), !in_warranty);
        assert!(o.complete(&staff(), t0()).is_err());
    }
}

#[test]
fn visibility() {
    let o = order_in(S::AwaitingItem, true);
    let cases: &[(Actor, Option<&str>)] = &[
        (staff(), None),
        (system(), None),
        (Actor::buyer(o.buyer_id.to_string()), None),
        (
            Actor::buyer(BuyerId::new().to_string()),
            Some("not_repair_buyer"),
        ),
        (me_of(&o), None),
        (
            Actor::repair_center(RepairCenterId::new()),
            Some("repair_center_mismatch"),
        ),
        (
            Actor::new(ActorKind::Merchant, o.merchant_id.to_string()),
            None,
        ),
        (
            Actor::new(ActorKind::Merchant, MerchantId::new().to_string()),
            Some("not_repair_merchant"),
        ),
    ];
    for (actor, want) in cases {
        assert_eq!(
            o.ensure_visible_to(actor).err().and_then(|e| e.rule_name()),
            *want,
            "{actor:?}"
        );
    }
    let unassigned = order_in(S::Requested, true);
    let err = unassigned
        .ensure_visible_to(&Actor::repair_center(RepairCenterId::new()))
        .unwrap_err();
    assert_eq!(err.rule_name(), Some("repair_center_mismatch"));
}

#[test]
fn already_open_names_the_rule() {
    assert_eq!(
        already_open(RepairOrderId::new()).rule_name(),
        Some("repair_order_already_open")
    );
}

#[test]
fn filter_scoping() {
    let center = RepairCenterId::new();
    let buyer = BuyerId::new();
    let merchant = MerchantId::new();
    let base = RepairOrderFilter::default();
    let partner = Actor::repair_center(center);
    assert_eq!(
        base.clone().scoped_to(&partner).map(|f| f.repair_center_id),
        Ok(Some(center))
    );
    let other = RepairOrderFilter {
        repair_center_id: Some(RepairCenterId::new()),
        ..base.clone()
    };
    assert_eq!(
        other.clone().scoped_to(&partner).unwrap_err().rule_name(),
        Some("repair_center_mismatch")
    );
    assert!(other.clone().scoped_to(&staff()).is_ok());
    let b = Actor::buyer(buyer.to_string());
    assert_eq!(
        base.clone().scoped_to(&b).map(|f| f.buyer_id),
        Ok(Some(buyer))
    );
    let other_buyer = RepairOrderFilter {
        buyer_id: Some(BuyerId::new()),
        ..base.clone()
    };
    assert_eq!(
        other_buyer.scoped_to(&b).unwrap_err().rule_name(),
        Some("not_repair_buyer")
    );
    let m = Actor::new(ActorKind::Merchant, merchant.to_string());
    assert_eq!(
        base.clone().scoped_to(&m).map(|f| f.merchant_id),
        Ok(Some(merchant))
    );
    let other_m = RepairOrderFilter {
        merchant_id: Some(MerchantId::new()),
        ..base.clone()
    };
    assert_eq!(
        other_m.scoped_to(&m).unwrap_err().rule_name(),
        Some("not_repair_merchant")
    );
    let bad = Actor::new(ActorKind::Partner, "not-a-uuid");
    assert!(matches!(base.scoped_to(&bad), Err(DomainError::Invalid(_))));
}

#[test]
fn filter_matches() {
    let o = order_in(S::AwaitingItem, true);
    let at = o.requested_at;
    let cases: Vec<(RepairOrderFilter, bool)> = vec![
        (RepairOrderFilter::default(), true),
        (
            RepairOrderFilter {
                order_id: Some(o.order_id),
                ..Default::default()
            },
            true,
        ),
        (
            RepairOrderFilter {
                order_id: Some(OrderId::new()),
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                repair_center_id: o.repair_center_id,
                ..Default::default()
            },
            true,
        ),
        (
            RepairOrderFilter {
                repair_center_id: Some(RepairCenterId::new()),
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                states: vec![S::Requested, S::AwaitingItem],
                ..Default::default()
            },
            true,
        ),
        (
            RepairOrderFilter {
                states: vec![S::Completed],
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                in_warranty: Some(true),
                ..Default::default()
            },
            true,
        ),
        (
            RepairOrderFilter {
                in_warranty: Some(false),
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                sku: Some("SKU-PHONE-1".into()),
                ..Default::default()
            },
            true,
        ),
        (
            RepairOrderFilter {
                serial_number: Some("other".into()),
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                requested_after: Some(at),
                ..Default::default()
            },
            true,
        ),
        (
            RepairOrderFilter {
                requested_after: Some(at + TimeDelta::seconds(1)),
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                requested_before: Some(at),
                ..Default::default()
            },
            false,
        ),
        (
            RepairOrderFilter {
                requested_before: Some(at + TimeDelta::seconds(1)),
                ..Default::default()
            },
            true,
        ),
    ];
    for (i, (f, want)) in cases.into_iter().enumerate() {
        assert_eq!(f.matches(&o), want, "case {i}: {f:?}");
    }
}
