//! A complaint under investigation fans out work orders to the departments its category needs,
//! waits for every one to be answered (an SLA breach parks the saga for customer service while
//! complaints escalates the work order itself), resolves the complaint with a note sent to the
//! customer, and waits for the follow-up visit (回访).
//!
//! ```text
//! open_work_orders (one per department, in parallel)
//!   ─▶ await_work_orders (each: completed | rejected | verified; 48 h → park)
//!   ─▶ resolve (note sent to the customer) ─▶ await_follow_up (7 d → park) ─▶ done
//! ```
//! Work orders are records of a department's task, not effects to undo: the steps have no
//! compensations, and a canceled saga leaves them for their departments to close.

use super::common::system;
use crate::engine::flow::{
    Branch, Cmd, CmdResult, CommandStep, Ctx, Data, Department, Flow, OnTimeout, Outcome,
    ParallelStep, Step, Trigger, WaitOutcome, WaitStep,
};
use aftersales_proto::complaints::v1 as complaints;
use prost::{Message, Name};
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "complaint_work_orders";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "complaints.complaint.investigation_started",
            start,
        },
        steps: vec![
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
                    on_event: |_, _, _| WaitOutcome::Done,
                    deadline: ("work_order_sla", Duration::from_secs(48 * 3600)),
                    on_timeout: OnTimeout::Park("a work order is past its SLA"),
                    retry_from: None,
                    department: Department::CustomerService,
                }),
            }),
            Step::Command(CommandStep::new("resolve", |c| {
                let departments: Vec<String> = array(c.data, "departments")
                    .iter()
                    .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                Ok(Cmd::new(
                    "complaints",
                    &complaints::ResolveComplaintRequest {
                        idempotency_key: c.key.into(),
                        actor: Some(system()),
                        complaint_id: c.str("complaint_id")?,
                        resolution_note: format!(
                            "Your complaint was handled by: {}. Thank you for your patience.",
                            departments.join(", ")
                        ),
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
        ],
    }
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
    data.insert("subject".into(), json!(c.subject));
    data.insert("departments".into(), Value::Array(departments));
    data.insert("work_orders".into(), Value::Array(Vec::new()));
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
}
