//! A complaint under investigation fans out work orders to the departments its category needs,
//! waits for every one to be answered (an SLA breach parks the saga for customer service while
//! complaints escalates the work order itself), compensates the customer when we broke a promise,
//! resolves the complaint with a note sent to the customer, and waits for the follow-up visit
//! (回访).
//!
//! ```text
//! open_work_orders (one per department, in parallel)
//!   ─▶ await_work_orders (each: completed | rejected | verified; 48 h → park)
//!   ─▶ compensation_due? ─ no SLA breached, or no order ─▶ resolve
//!   ─▶ look_up_order (orders GetOrder: paid amount, buyer, merchant)
//!   ─▶ compensation_above_zero? ─ no ─▶ resolve
//!   ─▶ compensate_customer [pivot] (payments IssueCompensation GOODWILL, store credit)
//!   ─▶ resolve (note sent to the customer) ─▶ await_follow_up (7 d → park) ─▶ done
//! ```
//! Compensation is due when the complaint's first response breached its SLA (the snapshot the
//! saga starts from) or a work order was answered past its SLA (its SLA status FAILED or escalated,
//! in the event that ends its wait), and the complaint names an order to size it by: goodwill of
//! [`GOODWILL_COMPENSATION_PERCENT`] % of what the buyer paid, as store credit. The decision and
//! its reason are kept in the saga data (`compensation_due`, `compensation_reason`) either way.
//!
//! Work orders are records of a department's task, not effects to undo: the steps have no
//! compensations, and a canceled saga leaves them for their departments to close. Paying the
//! customer is the pivot: store credit once issued stays issued, so after it the saga only goes
//! forward (a later failure parks it), and a payment whose result is unknown parks it for finance.
//!
//! Version 1 (without the compensation) stays registered so that the sagas started on it finish on
//! its steps.

use super::common::{join, percent_of, system};
use crate::engine::flow::{
    Branch, Cmd, CmdResult, CommandStep, Ctx, Data, DecisionStep, Department, Flow, Next,
    OnTimeout, Outcome, ParallelStep, Step, Trigger, WaitOutcome, WaitStep,
};
use aftersales_proto::common::v1::Money;
use aftersales_proto::complaints::v1 as complaints;
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::orders::v1 as orders;
use aftersales_proto::payments::v1 as payments;
use prost::{Message, Name};
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "complaint_work_orders";

/// A broken promise (an SLA breach) is made good with this share of what the buyer paid, as
/// goodwill store credit.
pub const GOODWILL_COMPENSATION_PERCENT: i64 = 5;

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 2,
        trigger: Trigger {
            event: "complaints.complaint.investigation_started",
            start,
        },
        steps: join([work_order_steps(), compensation_steps(), resolution_steps()]),
    }
}

/// Version 1, without the compensation: the sagas started on it finish on its steps.
pub fn definition_v1() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "complaints.complaint.investigation_started",
            start,
        },
        steps: join([work_order_steps(), resolution_steps()]),
    }
}

/// Open a work order per department, then wait for every answer.
fn work_order_steps() -> Vec<Step> {
    vec![
        Step::Parallel(ParallelStep {
            name: "open_work_orders",
            items: |d| Ok(array(d, "departments")),
            branch: Branch::Command(
                CommandStep::new("open_work_order", open_work_order).on_result(keep_work_order),
            ),
        }),
        Step::Parallel(ParallelStep {
            name: "await_work_orders",
            items: |d| Ok(array(d, "work_orders")),
            branch: Branch::Wait(WaitStep {
                name: "await_work_order",
                events: &[
                    "complaints.work_order.completed",
                    "complaints.work_order.rejected",
                    "complaints.work_order.verified",
                ],
                key_name: "work_order_id",
                key_value: |c| c.item_str("work_order_id"),
                on_event: note_work_order_sla,
                deadline: ("work_order_sla", Duration::from_secs(48 * 3600)),
                on_timeout: OnTimeout::Park("a work order is past its SLA"),
                retry_from: None,
                department: Department::CustomerService,
            }),
        }),
    ]
}

/// When a promise was broken: look up what the buyer paid and pay the goodwill (the pivot).
fn compensation_steps() -> Vec<Step> {
    vec![
        Step::Decision(DecisionStep {
            name: "compensation_due",
            decide: |d| {
                Ok(if compensation_due(d) {
                    Next::Continue
                } else {
                    Next::Goto("resolve")
                })
            },
        }),
        Step::Command(
            CommandStep::new("look_up_order", |c| {
                Ok(Cmd::new(
                    "orders",
                    &orders::GetOrderRequest {
                        order_id: c.str("order_id")?,
                        actor: Some(system()),
                    },
                ))
            })
            .on_result(keep_order),
        ),
        Step::Decision(DecisionStep {
            name: "compensation_above_zero",
            decide: |d| {
                Ok(if compensation_minor(d) > 0 {
                    Next::Continue
                } else {
                    Next::Goto("resolve")
                })
            },
        }),
        Step::Command(
            CommandStep::new("compensate_customer", compensate_customer)
                .on_result(keep_compensation)
                .pivot()
                .department(Department::Finance),
        ),
    ]
}

/// Resolve the complaint with the note sent to the customer, then wait for the follow-up visit.
fn resolution_steps() -> Vec<Step> {
    vec![
        Step::Command(CommandStep::new("resolve", |c| {
            let departments: Vec<String> = array(c.data, "departments")
                .iter()
                .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect();
            let mut note = format!(
                "Your complaint was handled by: {}. Thank you for your patience.",
                departments.join(", ")
            );
            if c.data.get("compensation_issued") == Some(&json!(true)) {
                note.push_str(
                    " We are sorry for the delay: we added store credit to your account.",
                );
            }
            Ok(Cmd::new(
                "complaints",
                &complaints::ResolveComplaintRequest {
                    idempotency_key: c.key.into(),
                    actor: Some(system()),
                    complaint_id: c.str("complaint_id")?,
                    resolution_note: note,
                    send_to_customer: true,
                },
            ))
        })),
        Step::Wait(WaitStep {
            name: "await_follow_up",
            events: &["complaints.follow_up.recorded"],
            key_name: "complaint_id",
            key_value: |c| c.str("complaint_id"),
            on_event: |_, _, _| WaitOutcome::Done,
            deadline: ("follow_up", Duration::from_secs(7 * 24 * 3600)),
            on_timeout: OnTimeout::Park("no follow-up visit was recorded"),
            retry_from: None,
            department: Department::CustomerService,
        }),
    ]
}

/// The departments each complaint category needs.
pub fn departments(category: complaints::ComplaintCategory) -> &'static [complaints::Department] {
    use complaints::ComplaintCategory as C;
    use complaints::Department as D;
    match category {
        C::Quality => &[D::Warehouse, D::Merchant],
        C::Safety => &[D::Warehouse, D::Merchant, D::CustomerService],
        C::Delivery => &[D::Delivery],
        C::Refund => &[D::Finance],
        C::Merchant => &[D::Merchant],
        C::Service | C::Other | C::Unspecified => &[D::CustomerService],
    }
}

fn start(
    event: &aftersales_proto::messaging::v1::DomainEvent,
) -> Result<Option<(String, Data)>, String> {
    if event.snapshot_type != complaints::Complaint::full_name() {
        return Err(format!("unexpected snapshot {}", event.snapshot_type));
    }
    let c = complaints::Complaint::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable complaint snapshot: {e}"))?;
    let category = complaints::ComplaintCategory::try_from(c.category)
        .unwrap_or(complaints::ComplaintCategory::Other);
    let departments: Vec<Value> = departments(category)
        .iter()
        // A merchant work order needs the merchant: without one it goes to customer service.
        .map(|d| {
            if *d == complaints::Department::Merchant && c.merchant_id.is_empty() {
                complaints::Department::CustomerService
            } else {
                *d
            }
        })
        .map(|d| json!({ "department": d as i32, "name": d.as_str_name().trim_start_matches("DEPARTMENT_").to_lowercase() }))
        .collect();
    let mut data = Data::new();
    data.insert("complaint_id".into(), json!(c.complaint_id));
    data.insert("order_id".into(), json!(c.order_id));
    data.insert("case_id".into(), json!(c.case_id));
    data.insert("merchant_id".into(), json!(c.merchant_id));
    data.insert("customer_id".into(), json!(c.customer_id));
    data.insert("subject".into(), json!(c.subject));
    data.insert("departments".into(), Value::Array(departments));
    data.insert("work_orders".into(), Value::Array(Vec::new()));
    // The first response is settled by now (investigating needs it): late or not, it stays so.
    data.insert(
        "first_response_breached".into(),
        json!(c.first_response_breached),
    );
    data.insert("breached_work_orders".into(), Value::Array(Vec::new()));
    record_compensation_decision(&mut data);
    Ok(Some((format!("complaint:{}", c.complaint_id), data)))
}

fn open_work_order(c: &Ctx) -> Result<Cmd, String> {
    let department = c.item_u64("department")?;
    let department = i32::try_from(department).map_err(|e| e.to_string())?;
    let merchant = department == complaints::Department::Merchant as i32;
    let subject = c.str("subject").unwrap_or_default();
    Ok(Cmd::new(
        "complaints",
        &complaints::CreateWorkOrderRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            complaint_id: c.str("complaint_id")?,
            order_id: c.str("order_id").unwrap_or_default(),
            case_id: c.str("case_id").unwrap_or_default(),
            department,
            merchant_id: if merchant {
                c.str("merchant_id")?
            } else {
                String::new()
            },
            title: subject.chars().take(100).collect::<String>() + " (complaint)",
            description: format!(
                "Investigate complaint {} and record what you found.",
                c.str("complaint_id")?
            ),
            ..Default::default()
        },
    ))
}

/// Adds the created work order to the list the join waits on.
fn keep_work_order(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    let wo = match result.decode::<complaints::CreateWorkOrderResponse>() {
        Ok(r) => r.work_order.unwrap_or_default(),
        Err(e) => return Outcome::Fail(e),
    };
    if wo.work_order_id.is_empty() {
        return Outcome::Fail("work order without id".into());
    }
    let entry = json!({ "work_order_id": wo.work_order_id, "department": wo.department });
    match data.get_mut("work_orders").and_then(Value::as_array_mut) {
        Some(list) if !list.contains(&entry) => list.push(entry),
        Some(_) => {}
        None => {
            data.insert("work_orders".into(), Value::Array(vec![entry]));
        }
    }
    Outcome::Done
}

/// A work order's answer ends its wait; one answered past its SLA (complaints settled its SLA
/// FAILED, or escalated the breach) is a broken promise the customer may be compensated for.
fn note_work_order_sla(data: &mut Data, item: Option<&Value>, event: &DomainEvent) -> WaitOutcome {
    let breached = (event.snapshot_type == complaints::WorkOrder::full_name())
        .then(|| complaints::WorkOrder::decode(event.snapshot.as_slice()).ok())
        .flatten()
        .filter(work_order_breached);
    if let Some(wo) = breached {
        let id = match item.and_then(|i| i.get("work_order_id")) {
            Some(Value::String(id)) => id.clone(),
            _ => wo.work_order_id,
        };
        let id = json!(id);
        match data
            .get_mut("breached_work_orders")
            .and_then(Value::as_array_mut)
        {
            Some(list) if !list.contains(&id) => list.push(id),
            Some(_) => {}
            None => {
                data.insert("breached_work_orders".into(), Value::Array(vec![id]));
            }
        }
    }
    record_compensation_decision(data);
    WaitOutcome::Done
}

/// Whether a work order missed its SLA: settled FAILED (failed stays failed) or escalated.
pub fn work_order_breached(wo: &complaints::WorkOrder) -> bool {
    wo.sla_status == complaints::SlaStatus::Failed as i32 || wo.escalated
}

/// The promises to the customer that were broken, in words (empty: none).
fn broken_promises(data: &Data) -> Vec<String> {
    let mut broken = Vec::new();
    if data.get("first_response_breached") == Some(&json!(true)) {
        broken.push("the first response was late".to_owned());
    }
    for id in array(data, "breached_work_orders") {
        if let Some(id) = id.as_str() {
            broken.push(format!("work order {id} missed its SLA"));
        }
    }
    broken
}

/// Compensation is due for a broken promise on a complaint about an order (without one there is
/// nothing to size it by).
pub fn compensation_due(data: &Data) -> bool {
    let order = data
        .get("order_id")
        .and_then(Value::as_str)
        .is_some_and(|o| !o.is_empty());
    order && !broken_promises(data).is_empty()
}

/// Keeps the compensation decision and why in the saga data (`compensation_due`,
/// `compensation_reason`), whichever way it goes.
fn record_compensation_decision(data: &mut Data) {
    let broken = broken_promises(data).join("; ");
    let reason = if broken.is_empty() {
        "no SLA was breached".to_owned()
    } else if compensation_due(data) {
        broken
    } else {
        format!("{broken}, but the complaint names no order to size a compensation by")
    };
    data.insert("compensation_due".into(), json!(compensation_due(data)));
    data.insert("compensation_reason".into(), json!(reason));
}

/// The goodwill for a paid amount: [`GOODWILL_COMPENSATION_PERCENT`] %, rounded down, never
/// negative.
pub fn goodwill_minor(paid_minor: i64) -> i64 {
    percent_of(paid_minor, GOODWILL_COMPENSATION_PERCENT).max(0)
}

/// The goodwill the order looked up is worth (0 before the look-up).
fn compensation_minor(data: &Data) -> i64 {
    data.get("compensation_minor")
        .and_then(Value::as_i64)
        .unwrap_or(0)
}

/// Keeps what the order says the buyer paid, who the buyer and the merchant are, and the goodwill
/// that makes.
fn keep_order(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    let order = match result.decode::<orders::GetOrderResponse>() {
        Ok(r) => r.order,
        Err(e) => return Outcome::Fail(e),
    };
    let Some(order) = order.filter(|o| !o.order_id.is_empty()) else {
        return Outcome::Fail("orders answered without an order".into());
    };
    let paid = order.paid_amount.unwrap_or_default();
    // Goodwill goes to the customer who complained, about their own order only.
    let customer = data
        .get("customer_id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !customer.is_empty() && customer != order.buyer_id {
        data.insert("compensation_minor".into(), json!(0));
        data.insert(
            "compensation_reason".into(),
            json!("the order named belongs to another buyer: no compensation"),
        );
        return Outcome::Done;
    }
    data.insert("buyer_id".into(), json!(order.buyer_id));
    data.insert("order_merchant_id".into(), json!(order.merchant_id));
    data.insert("paid_minor".into(), json!(paid.minor_units));
    data.insert("currency".into(), json!(paid.currency));
    data.insert(
        "compensation_minor".into(),
        json!(goodwill_minor(paid.minor_units)),
    );
    Outcome::Done
}

fn compensate_customer(c: &Ctx) -> Result<Cmd, String> {
    let complaint_id = c.str("complaint_id")?;
    Ok(Cmd::new(
        "payments",
        &payments::IssueCompensationRequest {
            idempotency_key: c.key.into(),
            buyer_id: c.str("buyer_id")?,
            merchant_id: c.str("order_merchant_id")?,
            order_id: c.str("order_id")?,
            complaint_id: complaint_id.clone(),
            kind: payments::CompensationKind::Goodwill as i32,
            payout: payments::CompensationPayout::StoreCredit as i32,
            amount: Some(Money {
                minor_units: c.i64("compensation_minor")?,
                currency: c.str("currency")?,
            }),
            reason: format!(
                "complaint {complaint_id}: {}: goodwill of {GOODWILL_COMPENSATION_PERCENT}% of the order",
                c.str("compensation_reason")?
            ),
            actor: Some(system()),
            ..Default::default()
        },
    ))
}

/// Keeps the compensation's id; store credit is issued at once, so anything else is for finance
/// to look at (on the pivot a result the flow cannot accept parks the saga).
fn keep_compensation(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    let compensation = match result.decode::<payments::IssueCompensationResponse>() {
        Ok(r) => r.compensation,
        Err(e) => return Outcome::Fail(e),
    };
    let Some(compensation) = compensation.filter(|c| !c.compensation_id.is_empty()) else {
        return Outcome::Fail("payments answered without a compensation".into());
    };
    let status = payments::CompensationStatus::try_from(compensation.status)
        .unwrap_or(payments::CompensationStatus::Unspecified);
    data.insert(
        "compensation_id".into(),
        json!(compensation.compensation_id),
    );
    let issued = status == payments::CompensationStatus::Issued;
    data.insert("compensation_issued".into(), json!(issued));
    match status {
        payments::CompensationStatus::Issued => Outcome::Done,
        other => Outcome::Fail(format!(
            "compensation {} is {}, not issued",
            compensation.compensation_id,
            other.as_str_name()
        )),
    }
}

fn array(data: &Data, key: &str) -> Vec<Value> {
    data.get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aftersales_proto::messaging::v1::DomainEvent;

    fn started(category: complaints::ComplaintCategory, merchant: &str) -> DomainEvent {
        let c = complaints::Complaint {
            complaint_id: "k-1".into(),
            merchant_id: merchant.into(),
            category: category as i32,
            subject: "kettle leaks".into(),
            ..Default::default()
        };
        DomainEvent {
            name: "complaints.complaint.investigation_started".into(),
            snapshot: c.encode_to_vec(),
            snapshot_type: complaints::Complaint::full_name(),
            ..Default::default()
        }
    }

    #[test]
    fn the_category_decides_the_departments() {
        let (key, data) = start(&started(complaints::ComplaintCategory::Quality, "m-1"))
            .unwrap()
            .unwrap();
        assert_eq!(key, "complaint:k-1");
        let names: Vec<&str> = data["departments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["warehouse", "merchant"]);
        // Without a merchant, the merchant's share goes to customer service.
        let (_, data) = start(&started(complaints::ComplaintCategory::Merchant, ""))
            .unwrap()
            .unwrap();
        assert_eq!(data["departments"][0]["name"], json!("customer_service"));
    }

    #[test]
    fn each_work_order_is_kept_once_for_the_join() {
        let result = |id: &str| CmdResult {
            result_type: complaints::CreateWorkOrderResponse::full_name(),
            payload: complaints::CreateWorkOrderResponse {
                work_order: Some(complaints::WorkOrder {
                    work_order_id: id.into(),
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        };
        let mut data = Data::new();
        assert_eq!(
            keep_work_order(&mut data, None, &result("w-1")),
            Outcome::Done
        );
        assert_eq!(
            keep_work_order(&mut data, None, &result("w-1")),
            Outcome::Done
        );
        assert_eq!(
            keep_work_order(&mut data, None, &result("w-2")),
            Outcome::Done
        );
        assert_eq!(array(&data, "work_orders").len(), 2);
    }

    use crate::engine::instance::{Instance, Status};
    use crate::flows::{Sent, decide};

    /// A QUALITY complaint about `order` (empty: none) whose first response was late or not.
    fn complaint(order: &str, first_response_breached: bool) -> DomainEvent {
        let c = complaints::Complaint {
            complaint_id: "k-1".into(),
            order_id: order.into(),
            merchant_id: "m-1".into(),
            category: complaints::ComplaintCategory::Quality as i32,
            subject: "kettle leaks".into(),
            first_response_breached,
            ..Default::default()
        };
        DomainEvent {
            name: "complaints.complaint.investigation_started".into(),
            snapshot: c.encode_to_vec(),
            snapshot_type: complaints::Complaint::full_name(),
            ..Default::default()
        }
    }

    fn data_of(event: &DomainEvent) -> Data {
        start(event).unwrap().unwrap().1
    }

    /// The event that ends a work order's wait, answered on time or past its SLA.
    fn answered(id: &str, sla: complaints::SlaStatus, escalated: bool) -> DomainEvent {
        let wo = complaints::WorkOrder {
            work_order_id: id.into(),
            status: complaints::WorkOrderStatus::Done as i32,
            sla_status: sla as i32,
            escalated,
            ..Default::default()
        };
        DomainEvent {
            name: "complaints.work_order.completed".into(),
            keys: [("work_order_id".to_owned(), id.to_owned())]
                .into_iter()
                .collect(),
            snapshot: wo.encode_to_vec(),
            snapshot_type: complaints::WorkOrder::full_name(),
            ..Default::default()
        }
    }

    fn order_result(paid_minor: i64) -> CmdResult {
        CmdResult {
            result_type: orders::GetOrderResponse::full_name(),
            payload: orders::GetOrderResponse {
                order: Some(orders::Order {
                    order_id: "o-1".into(),
                    buyer_id: "b-1".into(),
                    merchant_id: "m-1".into(),
                    paid_amount: Some(Money {
                        minor_units: paid_minor,
                        currency: "CNY".into(),
                    }),
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        }
    }

    #[test]
    fn a_late_first_response_on_an_order_makes_compensation_due() {
        let flow = definition();
        let data = data_of(&complaint("o-1", true));
        assert!(compensation_due(&data));
        assert_eq!(data["compensation_due"], json!(true));
        assert_eq!(
            data["compensation_reason"],
            json!("the first response was late")
        );
        assert_eq!(decide(&flow, "compensation_due", &data), Ok(Next::Continue));
    }

    #[test]
    fn a_work_order_past_its_sla_makes_compensation_due_once() {
        let flow = definition();
        let mut data = data_of(&complaint("o-1", false));
        assert_eq!(
            decide(&flow, "compensation_due", &data),
            Ok(Next::Goto("resolve"))
        );
        // Answered on time: still nothing due.
        let on_time = answered("w-1", complaints::SlaStatus::Reached, false);
        let item = json!({ "work_order_id": "w-1" });
        assert_eq!(
            note_work_order_sla(&mut data, Some(&item), &on_time),
            WaitOutcome::Done
        );
        assert!(!compensation_due(&data));
        // Settled FAILED, or escalated by complaints' sweep: a broken promise, kept once.
        let late = answered("w-2", complaints::SlaStatus::Failed, false);
        let escalated = answered("w-3", complaints::SlaStatus::Ongoing, true);
        for (id, event) in [("w-2", &late), ("w-2", &late), ("w-3", &escalated)] {
            let item = json!({ "work_order_id": id });
            assert_eq!(
                note_work_order_sla(&mut data, Some(&item), event),
                WaitOutcome::Done
            );
        }
        assert_eq!(data["breached_work_orders"], json!(["w-2", "w-3"]));
        assert_eq!(data["compensation_due"], json!(true));
        assert_eq!(
            data["compensation_reason"],
            json!("work order w-2 missed its SLA; work order w-3 missed its SLA")
        );
        assert_eq!(decide(&flow, "compensation_due", &data), Ok(Next::Continue));
    }

    #[test]
    fn nothing_is_due_without_a_broken_promise_or_without_an_order() {
        let flow = definition();
        let kept = data_of(&complaint("o-1", false));
        assert!(!compensation_due(&kept));
        assert_eq!(kept["compensation_due"], json!(false));
        assert_eq!(kept["compensation_reason"], json!("no SLA was breached"));
        assert_eq!(
            decide(&flow, "compensation_due", &kept),
            Ok(Next::Goto("resolve"))
        );
        let mut no_order = data_of(&complaint("", true));
        let late = answered("w-1", complaints::SlaStatus::Failed, true);
        note_work_order_sla(&mut no_order, None, &late);
        assert!(!compensation_due(&no_order));
        assert_eq!(no_order["compensation_due"], json!(false));
        assert_eq!(
            no_order["compensation_reason"],
            json!(
                "the first response was late; work order w-1 missed its SLA, \
                 but the complaint names no order to size a compensation by"
            )
        );
        assert_eq!(
            decide(&flow, "compensation_due", &no_order),
            Ok(Next::Goto("resolve"))
        );
    }

    #[test]
    fn the_goodwill_is_five_percent_of_what_the_buyer_paid() {
        let flow = definition();
        assert_eq!(goodwill_minor(14_500), 725);
        assert_eq!(goodwill_minor(19), 0);
        assert_eq!(goodwill_minor(-500), 0);
        assert_eq!(goodwill_minor(i64::MAX), i64::MAX / 100);

        let mut data = data_of(&complaint("o-1", true));
        assert_eq!(
            keep_order(&mut data, None, &order_result(14_500)),
            Outcome::Done
        );
        assert_eq!(data["paid_minor"], json!(14_500));
        assert_eq!(data["compensation_minor"], json!(725));
        assert_eq!(
            decide(&flow, "compensation_above_zero", &data),
            Ok(Next::Continue)
        );
        let cmd = compensate_customer(&Ctx {
            data: &data,
            item: None,
            key: "saga:4:0:do:0.0",
        })
        .unwrap();
        assert_eq!(cmd.service, "payments");
        let req = payments::IssueCompensationRequest::decode(cmd.payload.as_slice()).unwrap();
        assert_eq!(req.idempotency_key, "saga:4:0:do:0.0");
        assert_eq!(
            (req.buyer_id.as_str(), req.merchant_id.as_str()),
            ("b-1", "m-1")
        );
        assert_eq!(
            (req.order_id.as_str(), req.complaint_id.as_str()),
            ("o-1", "k-1")
        );
        assert_eq!(req.kind, payments::CompensationKind::Goodwill as i32);
        assert_eq!(req.payout, payments::CompensationPayout::StoreCredit as i32);
        assert_eq!(
            req.amount,
            Some(Money {
                minor_units: 725,
                currency: "CNY".into()
            })
        );
        assert!(
            req.reason.contains("the first response was late"),
            "{}",
            req.reason
        );

        // An order too small for a whole minor unit of goodwill pays nothing.
        assert_eq!(
            keep_order(&mut data, None, &order_result(19)),
            Outcome::Done
        );
        assert_eq!(
            decide(&flow, "compensation_above_zero", &data),
            Ok(Next::Goto("resolve"))
        );
        // Another buyer's order: no goodwill for it.
        let mut stranger = data_of(&complaint("o-1", true));
        stranger.insert("customer_id".into(), json!("someone-else"));
        assert_eq!(
            keep_order(&mut stranger, None, &order_result(14_500)),
            Outcome::Done
        );
        assert_eq!(stranger["compensation_minor"], json!(0));
        assert_eq!(
            decide(&flow, "compensation_above_zero", &stranger),
            Ok(Next::Goto("resolve"))
        );
        // An answer without an order is a failure, not a zero.
        let empty = CmdResult {
            result_type: orders::GetOrderResponse::full_name(),
            payload: orders::GetOrderResponse::default().encode_to_vec(),
        };
        assert!(matches!(
            keep_order(&mut data, None, &empty),
            Outcome::Fail(_)
        ));
    }

    /// Plays every party of a v2 saga started from `event`: each command succeeds, each work
    /// order is answered (`late`: past its SLA), the follow-up visit is recorded. Returns what
    /// the saga sent, in order, and the saga at the end.
    fn play(event: &DomainEvent, late: bool) -> (Vec<Sent>, Instance) {
        crate::flows::play(
            &definition(),
            event,
            |short, n| match short {
                "CreateWorkOrderRequest" => CmdResult {
                    result_type: complaints::CreateWorkOrderResponse::full_name(),
                    payload: complaints::CreateWorkOrderResponse {
                        work_order: Some(complaints::WorkOrder {
                            work_order_id: format!("w-{n}"),
                            ..Default::default()
                        }),
                    }
                    .encode_to_vec(),
                },
                "GetOrderRequest" => order_result(14_500),
                "IssueCompensationRequest" => CmdResult {
                    result_type: payments::IssueCompensationResponse::full_name(),
                    payload: payments::IssueCompensationResponse {
                        compensation: Some(payments::Compensation {
                            compensation_id: "c-1".into(),
                            status: payments::CompensationStatus::Issued as i32,
                            ..Default::default()
                        }),
                    }
                    .encode_to_vec(),
                },
                "ResolveComplaintRequest" => CmdResult {
                    result_type: complaints::ResolveComplaintResponse::full_name(),
                    payload: complaints::ResolveComplaintResponse::default().encode_to_vec(),
                },
                other => panic!("unexpected command {other}"),
            },
            |name, value| {
                if name == "work_order_id" {
                    let sla = if late {
                        complaints::SlaStatus::Failed
                    } else {
                        complaints::SlaStatus::Reached
                    };
                    answered(value, sla, late)
                } else {
                    DomainEvent {
                        name: "complaints.follow_up.recorded".into(),
                        keys: [(name.to_owned(), value.to_owned())].into_iter().collect(),
                        ..Default::default()
                    }
                }
            },
        )
    }

    fn names(sent: &[Sent]) -> Vec<&str> {
        sent.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn a_broken_promise_pays_goodwill_once_between_the_work_orders_and_the_resolution() {
        for (event, late) in [
            (complaint("o-1", true), false),
            (complaint("o-1", false), true),
        ] {
            let (sent, inst) = play(&event, late);
            assert_eq!(
                names(&sent),
                vec![
                    "CreateWorkOrderRequest",
                    "CreateWorkOrderRequest",
                    "GetOrderRequest",
                    "IssueCompensationRequest",
                    "ResolveComplaintRequest",
                ]
            );
            assert_eq!(inst.status, Status::Completed);
            assert!(inst.past_pivot);
            assert_eq!(inst.data["compensation_id"], json!("c-1"));
            let pay = payments::IssueCompensationRequest::decode(sent[3].1.as_slice()).unwrap();
            assert_eq!(pay.amount.unwrap().minor_units, 725);
            let look_up = orders::GetOrderRequest::decode(sent[2].1.as_slice()).unwrap();
            assert_eq!(look_up.order_id, "o-1");
            let resolve =
                complaints::ResolveComplaintRequest::decode(sent[4].1.as_slice()).unwrap();
            assert!(
                resolve.resolution_note.contains("store credit"),
                "{}",
                resolve.resolution_note
            );
        }
    }

    #[test]
    fn a_kept_promise_or_no_order_resolves_without_paying() {
        for event in [complaint("o-1", false), complaint("", true)] {
            let (sent, inst) = play(&event, false);
            assert_eq!(
                names(&sent),
                vec![
                    "CreateWorkOrderRequest",
                    "CreateWorkOrderRequest",
                    "ResolveComplaintRequest",
                ]
            );
            assert_eq!(inst.status, Status::Completed);
            assert!(!inst.past_pivot);
            assert_eq!(inst.data["compensation_due"], json!(false));
            let resolve =
                complaints::ResolveComplaintRequest::decode(sent[2].1.as_slice()).unwrap();
            assert!(!resolve.resolution_note.contains("store credit"));
        }
    }

    #[test]
    fn version_1_keeps_its_steps_for_the_sagas_started_on_it() {
        let reg = crate::flows::registry().unwrap();
        let steps = |version| -> Vec<&str> {
            reg.get(NAME, version)
                .unwrap()
                .steps
                .iter()
                .map(Step::name)
                .collect()
        };
        assert_eq!(
            steps(1),
            vec![
                "open_work_orders",
                "await_work_orders",
                "resolve",
                "await_follow_up"
            ]
        );
        assert_eq!(
            steps(2),
            vec![
                "open_work_orders",
                "await_work_orders",
                "compensation_due",
                "look_up_order",
                "compensation_above_zero",
                "compensate_customer",
                "resolve",
                "await_follow_up",
            ]
        );
        assert!(
            reg.latest()
                .iter()
                .any(|f| f.name == NAME && f.version == 2)
        );
    }
}
