//! Refund-only while the parcel is in transit: ask the courier to intercept it, refund once it is
//! stopped and the merchant has agreed (silence auto-approves), or, when the interception fails
//! (the parcel was delivered), end with the case offering the buyer a return and refund.
//!
//! ```text
//! request_interception ─▶ note_requested ─▶ await_interception ─▶ note_result ─▶ intercepted?
//!  (logistics, by order)   (returns)         (courier's answer,      (returns)    │ FAILED ─▶ end: the case
//!                                             72 h → park)                        ▼   offers conversion to the buyer
//!                         await_merchant (approved | auto_approved | rejected → fail; 48 h)
//!                            ─▶ merchant_answered? ── no ─▶ auto_approve
//!                            ─▶ refund [pivot] … complete_case (the shared refund tail)
//! ```
//! Nothing before the pivot changes another service in a way that can be undone: an
//! interception cannot be called back, so the steps have no compensations; a business failure
//! before the pivot (the merchant rejects) ends the saga COMPENSATED with the case as returns left
//! it.

use super::common::{MarkRefunding, case_start, join, merchant_decision, refund_and_close, system};
use crate::engine::flow::Cmd;
use crate::engine::flow::{
    CmdResult, CommandStep, Data, DecisionStep, Department, Flow, Next, OnTimeout, Outcome, Step,
    Trigger, WaitOutcome, WaitStep,
};
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::returns::v1 as returns;
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "refund_only_in_transit";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "returns.case.created",
            start: |event| {
                case_start(event, |case| {
                    case.case_type == returns::CaseType::RefundOnly as i32
                        && case.shipment_state_at_request
                            == returns::ShipmentState::InTransit as i32
                })
            },
        },
        steps: join([
            vec![
                Step::Command(
                    CommandStep::new("request_interception", |c| {
                        Ok(Cmd::new(
                            "logistics",
                            &logistics::RequestInterceptionRequest {
                                idempotency_key: c.key.into(),
                                actor: Some(system()),
                                order_id: c.str("order_id")?,
                                case_id: c.str("case_id")?,
                                reason: "buyer asked for a refund while in transit".into(),
                                ..Default::default()
                            },
                        ))
                    })
                    .on_result(keep_interception)
                    .department(Department::Delivery),
                ),
                Step::Command(CommandStep::new("note_requested", |c| {
                    note_interception(c, returns::InterceptionStatus::Requested)
                })),
                Step::Wait(WaitStep {
                    name: "await_interception",
                    events: &[
                        "logistics.interception.intercepted",
                        "logistics.interception.returned_to_sender",
                        "logistics.interception.failed",
                    ],
                    key_name: "interception_id",
                    key_value: |c| c.str("interception_id"),
                    on_event: |data, _, event| {
                        let stopped = event.name != "logistics.interception.failed";
                        data.insert("intercepted".into(), json!(stopped));
                        WaitOutcome::Done
                    },
                    deadline: ("interception_result", Duration::from_secs(72 * 3600)),
                    on_timeout: OnTimeout::Park("the courier never answered the interception"),
                    retry_from: None,
                    department: Department::Delivery,
                }),
                Step::Command(CommandStep::new("note_result", |c| {
                    let status = if c.data.get("intercepted") == Some(&json!(true)) {
                        returns::InterceptionStatus::Intercepted
                    } else {
                        returns::InterceptionStatus::Failed
                    };
                    note_interception(c, status)
                })),
                Step::Decision(DecisionStep {
                    name: "intercepted",
                    decide: |d| {
                        // Delivered anyway: the case now offers the buyer to convert it to a
                        // return and refund (ChangeCaseType is the buyer's call); nothing to pay.
                        Ok(if d.get("intercepted") == Some(&json!(true)) {
                            Next::Continue
                        } else {
                            Next::Complete
                        })
                    },
                }),
            ],
            merchant_decision(),
            refund_and_close(MarkRefunding::AfterRefund),
        ]),
    }
}

fn note_interception(
    c: &crate::engine::flow::Ctx,
    status: returns::InterceptionStatus,
) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "returns",
        &returns::RecordInterceptionRequest {
            idempotency_key: c.key.into(),
            actor: Some(system()),
            case_id: c.str("case_id")?,
            status: status as i32,
        },
    ))
}

/// Keeps the interception id the courier's answer will carry.
fn keep_interception(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    match result.decode::<logistics::RequestInterceptionResponse>() {
        Ok(r) => match r.interception {
            Some(i) if !i.interception_id.is_empty() => {
                data.insert("interception_id".into(), json!(i.interception_id));
                Outcome::Done
            }
            _ => Outcome::Fail("interception without id".into()),
        },
        Err(e) => Outcome::Fail(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::engine::flow::Step;
    use aftersales_proto::messaging::v1::DomainEvent;
    use prost::{Message, Name};

    fn created(shipment: returns::ShipmentState) -> DomainEvent {
        let case = returns::Case {
            case_id: "c-1".into(),
            order_id: "o-1".into(),
            case_type: returns::CaseType::RefundOnly as i32,
            shipment_state_at_request: shipment as i32,
            status: returns::CaseStatus::PendingMerchant as i32,
            ..Default::default()
        };
        DomainEvent {
            name: "returns.case.created".into(),
            snapshot: case.encode_to_vec(),
            snapshot_type: returns::Case::full_name(),
            ..Default::default()
        }
    }

    fn decision(flow: &Flow, name: &str, data: &Data) -> Next {
        let step = flow.steps.iter().find(|s| s.name() == name).unwrap();
        let Step::Decision(d) = step else {
            panic!("{name} is a decision")
        };
        (d.decide)(data).unwrap()
    }

    #[test]
    fn starts_for_refund_only_cases_in_transit_only() {
        let flow = definition();
        let start = flow.trigger.start;
        let (key, _) = start(&created(returns::ShipmentState::InTransit))
            .unwrap()
            .unwrap();
        assert_eq!(key, "case:c-1");
        assert!(
            start(&created(returns::ShipmentState::NotShipped))
                .unwrap()
                .is_none()
        );
        assert!(
            start(&created(returns::ShipmentState::Delivered))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn decisions_route_interception_and_merchant_answers() {
        let flow = definition();
        let mut data = Data::new();
        data.insert("intercepted".into(), json!(false));
        assert_eq!(decision(&flow, "intercepted", &data), Next::Complete);
        data.insert("intercepted".into(), json!(true));
        assert_eq!(decision(&flow, "intercepted", &data), Next::Continue);
        // Merchant silence: the wait's deadline continues, and the saga auto-approves.
        assert_eq!(decision(&flow, "merchant_answered", &data), Next::Continue);
        let next = flow.step_index("merchant_answered").unwrap() + 1;
        assert_eq!(flow.steps[next].name(), "auto_approve");
        data.insert("approved".into(), json!(true));
        assert_eq!(
            decision(&flow, "merchant_answered", &data),
            Next::Goto("merchant_done")
        );
        let done = flow.step_index("merchant_done").unwrap();
        assert_eq!(flow.steps[done + 1].name(), "refund");
    }

    #[test]
    fn keeps_the_interception_id() {
        let ok = CmdResult {
            result_type: logistics::RequestInterceptionResponse::full_name(),
            payload: logistics::RequestInterceptionResponse {
                interception: Some(logistics::Interception {
                    interception_id: "i-1".into(),
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        };
        let mut data = Data::new();
        assert_eq!(keep_interception(&mut data, None, &ok), Outcome::Done);
        assert_eq!(data["interception_id"], json!("i-1"));
        let empty = CmdResult {
            result_type: logistics::RequestInterceptionResponse::full_name(),
            payload: Vec::new(),
        };
        assert!(matches!(
            keep_interception(&mut data, None, &empty),
            Outcome::Fail(_)
        ));
    }
}
