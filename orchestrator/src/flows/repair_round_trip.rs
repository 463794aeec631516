//! Repair-center round trip. The repair center (a partner) moves the repair order through the
//! repairs API; the saga issues the labels, shows the quote to the buyer and waits for the
//! answer (silence expires it), charges an approved quote before the repair starts, ships the
//! item back and completes the order once delivered (which asks the buyer for a rating). An
//! unrepairable item gets its charge voided and becomes a refund or exchange case.
//!
//! ```text
//! await_center (24 h → park) ─ canceled ─▶ end
//! ─▶ send_label (TO_REPAIR_CENTER) ─▶ mark_item_sent ─▶ await_receipt (14 d → park)
//! ─▶ await_diagnosis (7 d → park): in warranty ─▶ await_repair │ unrepairable ─▶ unrepairable
//!                                  quoted ─▶ send_quote ─▶ await_approval (7 d → expire_quote)
//!        declined │ expired ─▶ ship_back (unrepaired)
//!        approved ─▶ charge ⟲ void ─▶ (await_charge 24 h → park) ─ failed ─▶ cancel_unpaid ─▶ ship_back
//!                 ─▶ record_quote_paid
//! ─▶ await_repair (14 d → park) ─ unrepairable ─▶ void_charge ─▶ await_resolution (7 d → refund)
//!                                                   ─▶ open_case ─▶ link_case ─▶ end
//! ─▶ ship_back (FROM_REPAIR_CENTER) ⟲ void ─▶ mark_shipped_back
//! ─▶ await_delivery (14 d → park) ─▶ complete_repair (rating request) ─▶ end
//! ```
//! Labels already used cannot be voided, so only the charge and the ship-back waybill have
//! compensations.

use super::common::{
    await_charge, charge_status, follow_up_shipment, keep_charge, keep_shipment, system,
    void_charge, void_shipment,
};
use crate::engine::flow::{
    Cmd, CmdResult, CommandStep, Ctx, Data, DecisionStep, Department, Flow, Next, OnTimeout,
    Outcome, Step, Trigger, WaitOutcome, WaitStep,
};
use aftersales_proto::common::v1::{Actor, ActorKind, Channel, Money};
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::payments::v1 as payments;
use aftersales_proto::repairs::v1 as repairs;
use aftersales_proto::returns::v1 as returns;
use prost::{Message, Name};
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "repair_round_trip";

/// A repairs command that names only the repair order.
macro_rules! repair_cmd {
    ($c:expr, $req:ident) => {
        Ok(Cmd::new(
            "repairs",
            &repairs::$req {
                idempotency_key: $c.key.into(),
                actor: Some(system()),
                repair_order_id: $c.str("repair_id")?,
            },
        ))
    };
}

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "repairs.repair_order.requested",
            start,
        },
        steps: vec![
            Step::Wait(repair_wait(
                "await_center",
                &[
                    "repairs.repair_order.center_assigned",
                    "repairs.repair_order.canceled",
                ],
                ("repair_center_assignment", Duration::from_secs(24 * 3600)),
                OnTimeout::Park("no repair center was assigned"),
            )),
            Step::Decision(DecisionStep {
                name: "assigned",
                decide: |d| {
                    Ok(if state(d) == Some("CANCELED") {
                        Next::Complete
                    } else {
                        Next::Continue
                    })
                },
            }),
            Step::Command(
                CommandStep::new("send_label", |c| {
                    follow_up_shipment(
                        c,
                        logistics::Direction::ToRepairCenter,
                        logistics::FeePayer::Merchant,
                    )
                })
                .on_result(|d, _, r| keep_shipment(d, r, "inbound_shipment_id"))
                .department(Department::Delivery),
            ),
            Step::Command(CommandStep::new("mark_item_sent", |c| {
                Ok(Cmd::new(
                    "repairs",
                    &repairs::MarkItemSentRequest {
                        idempotency_key: c.key.into(),
                        actor: Some(system()),
                        repair_order_id: c.str("repair_id")?,
                        shipment_id: c.str("inbound_shipment_id")?,
                    },
                ))
            })),
            Step::Wait(repair_wait(
                "await_receipt",
                &["repairs.repair_order.receipt_acknowledged"],
                ("repair_receipt", Duration::from_secs(14 * 24 * 3600)),
                OnTimeout::Park("the repair center never acknowledged the item"),
            )),
            Step::Wait(repair_wait(
                "await_diagnosis",
                &[
                    "repairs.repair_order.diagnosed",
                    "repairs.repair_order.quote_submitted",
                    "repairs.repair_order.unrepairable",
                ],
                ("repair_diagnosis", Duration::from_secs(7 * 24 * 3600)),
                OnTimeout::Park("the repair center did not diagnose in time"),
            )),
            Step::Decision(DecisionStep {
                name: "diagnosis",
                decide: |d| {
                    Ok(match state(d) {
                        Some("REPAIRING") => Next::Goto("await_repair"),
                        Some("UNREPAIRABLE") => Next::Goto("unrepairable"),
                        _ => Next::Continue,
                    })
                },
            }),
            Step::Command(CommandStep::new("send_quote", |c| {
                repair_cmd!(c, SendQuoteToBuyerRequest)
            })),
            Step::Wait(repair_wait(
                "await_approval",
                &[
                    "repairs.repair_order.quote_approved",
                    "repairs.repair_order.quote_declined",
                ],
                ("quote_approval", Duration::from_secs(7 * 24 * 3600)),
                OnTimeout::Continue,
            )),
            Step::Decision(DecisionStep {
                name: "buyer_answered",
                decide: |d| {
                    Ok(match state(d) {
                        Some("APPROVED") => Next::Goto("charge"),
                        Some("RETURNING_UNREPAIRED") => Next::Goto("ship_back"),
                        _ => Next::Continue,
                    })
                },
            }),
            Step::Command(CommandStep::new("expire_quote", |c| {
                repair_cmd!(c, ExpireQuoteRequest)
            })),
            Step::Decision(DecisionStep {
                name: "expired",
                decide: |_| Ok(Next::Goto("ship_back")),
            }),
            Step::Command(
                CommandStep::new("charge", charge)
                    .on_result(keep_charge)
                    .compensate(|c| void_charge(c, "the repair saga was undone"))
                    .department(Department::Finance),
            ),
            Step::Decision(DecisionStep {
                name: "charge_settled",
                decide: |d| {
                    Ok(match charge_status(d) {
                        Some("SUCCEEDED") => Next::Goto("record_quote_paid"),
                        Some("FAILED") => Next::Goto("cancel_unpaid"),
                        _ => Next::Continue,
                    })
                },
            }),
            Step::Wait(await_charge(
                "await_charge",
                "the repair charge was not confirmed in time",
            )),
            Step::Decision(DecisionStep {
                name: "charge_confirmed",
                decide: |d| {
                    Ok(if charge_status(d) == Some("SUCCEEDED") {
                        Next::Goto("record_quote_paid")
                    } else {
                        Next::Continue
                    })
                },
            }),
            Step::Command(CommandStep::new("cancel_unpaid", |c| {
                Ok(Cmd::new(
                    "repairs",
                    &repairs::CancelRepairRequest {
                        idempotency_key: c.key.into(),
                        actor: Some(system()),
                        repair_order_id: c.str("repair_id")?,
                        reason: "the charge for the approved quote failed".into(),
                    },
                ))
            })),
            Step::Decision(DecisionStep {
                name: "canceled_unpaid",
                decide: |_| Ok(Next::Goto("ship_back")),
            }),
            Step::Command(
                CommandStep::new("record_quote_paid", |c| {
                    Ok(Cmd::new(
                        "repairs",
                        &repairs::RecordQuotePaidRequest {
                            idempotency_key: c.key.into(),
                            actor: Some(system()),
                            repair_order_id: c.str("repair_id")?,
                            charge_id: c.str("charge_id")?,
                            amount: Some(quote(c)?),
                        },
                    ))
                })
                .department(Department::Finance),
            ),
            Step::Wait(repair_wait(
                "await_repair",
                &[
                    "repairs.repair_order.repaired",
                    "repairs.repair_order.unrepairable",
                ],
                ("repair", Duration::from_secs(14 * 24 * 3600)),
                OnTimeout::Park("the repair center did not finish in time"),
            )),
            Step::Decision(DecisionStep {
                name: "repair_outcome",
                decide: |d| {
                    Ok(if state(d) == Some("UNREPAIRABLE") {
                        Next::Goto("unrepairable")
                    } else {
                        Next::Goto("ship_back")
                    })
                },
            }),
            Step::Decision(DecisionStep {
                name: "unrepairable",
                decide: |d| {
                    Ok(if d.contains_key("charge_id") {
                        Next::Continue
                    } else {
                        Next::Goto("await_resolution")
                    })
                },
            }),
            Step::Command(
                CommandStep::new("void_charge", |c| {
                    void_charge(c, "the item could not be repaired")
                })
                .on_result(|d, _, _| {
                    // Voided: nothing is left for a compensation to undo.
                    d.remove("charge_id");
                    Outcome::Done
                })
                .department(Department::Finance),
            ),
            Step::Wait(repair_wait(
                "await_resolution",
                &["repairs.repair_order.converted"],
                (
                    "unrepairable_resolution",
                    Duration::from_secs(7 * 24 * 3600),
                ),
                OnTimeout::Continue,
            )),
            Step::Decision(DecisionStep {
                name: "resolution_chosen",
                decide: |d| {
                    Ok(if state(d) == Some("CONVERTED") {
                        Next::Goto("open_case")
                    } else {
                        Next::Continue
                    })
                },
            }),
            // The saga converts to a refund (the default when the buyer does not choose);
            // `open_case` opens a refund case for anything but an exchange.
            Step::Command(CommandStep::new("convert_to_refund", |c| {
                Ok(Cmd::new(
                    "repairs",
                    &repairs::ConvertRepairRequest {
                        idempotency_key: c.key.into(),
                        actor: Some(system()),
                        repair_order_id: c.str("repair_id")?,
                        resolution: repairs::UnrepairableResolution::Refund as i32,
                    },
                ))
            })),
            Step::Command(
                CommandStep::new("open_case", open_case)
                    .on_result(keep_case)
                    .department(Department::CustomerService),
            ),
            Step::Command(CommandStep::new("link_case", |c| {
                Ok(Cmd::new(
                    "repairs",
                    &repairs::RecordConvertedCaseRequest {
                        idempotency_key: c.key.into(),
                        actor: Some(system()),
                        repair_order_id: c.str("repair_id")?,
                        case_id: c.str("case_id")?,
                    },
                ))
            })),
            Step::Decision(DecisionStep {
                name: "converted",
                decide: |_| Ok(Next::Complete),
            }),
            Step::Command(
                CommandStep::new("ship_back", |c| {
                    follow_up_shipment(
                        c,
                        logistics::Direction::FromRepairCenter,
                        logistics::FeePayer::Merchant,
                    )
                })
                .on_result(|d, _, r| keep_shipment(d, r, "outbound_shipment_id"))
                .compensate(|c| {
                    void_shipment(c, "outbound_shipment_id", "the repair saga was undone")
                })
                .department(Department::Delivery),
            ),
            Step::Command(CommandStep::new("mark_shipped_back", |c| {
                Ok(Cmd::new(
                    "repairs",
                    &repairs::MarkShippedBackRequest {
                        idempotency_key: c.key.into(),
                        actor: Some(system()),
                        repair_order_id: c.str("repair_id")?,
                        shipment_id: c.str("outbound_shipment_id")?,
                    },
                ))
            })),
            Step::Wait(WaitStep {
                name: "await_delivery",
                events: &["logistics.shipment.signed"],
                key_name: "shipment_id",
                key_value: |c| c.str("outbound_shipment_id"),
                on_event: |_, _, _| WaitOutcome::Done,
                deadline: ("repair_delivery", Duration::from_secs(14 * 24 * 3600)),
                on_timeout: OnTimeout::Park("the item never reached the buyer"),
                retry_from: None,
                department: Department::Delivery,
            }),
            Step::Command(CommandStep::new("complete_repair", |c| {
                repair_cmd!(c, CompleteRepairRequest)
            })),
        ],
    }
}

fn start(event: &DomainEvent) -> Result<Option<(String, Data)>, String> {
    if event.snapshot_type != repairs::RepairOrder::full_name() {
        return Err(format!("unexpected snapshot {}", event.snapshot_type));
    }
    let o = repairs::RepairOrder::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable repair order snapshot: {e}"))?;
    let mut data = Data::new();
    data.insert("repair_id".into(), json!(o.repair_order_id));
    data.insert("order_id".into(), json!(o.order_id));
    data.insert("line_id".into(), json!(o.line_id));
    data.insert("buyer_id".into(), json!(o.buyer_id));
    data.insert("merchant_id".into(), json!(o.merchant_id));
    Ok(Some((format!("repair:{}", o.repair_order_id), data)))
}

/// A wait on the repair order (matched by `repair_order_id`) that records the state it reached
/// and the quote; a diagnosis that leaves it diagnosing (a quote will follow) is not the answer.
fn repair_wait(
    name: &'static str,
    events: &'static [&'static str],
    deadline: (&'static str, Duration),
    on_timeout: OnTimeout,
) -> WaitStep {
    WaitStep {
        name,
        events,
        key_name: "repair_order_id",
        key_value: |c| c.str("repair_id"),
        on_event: record_state,
        deadline,
        on_timeout,
        retry_from: None,
        department: Department::CustomerService,
    }
}

fn record_state(data: &mut Data, _: Option<&Value>, event: &DomainEvent) -> WaitOutcome {
    let Ok(o) = repairs::RepairOrder::decode(event.snapshot.as_slice()) else {
        return WaitOutcome::Fail("undecodable repair order snapshot".into());
    };
    let state = repairs::RepairState::try_from(o.state)
        .unwrap_or(repairs::RepairState::Unspecified)
        .as_str_name()
        .trim_start_matches("REPAIR_STATE_")
        .to_owned();
    if state == "DIAGNOSING" {
        return WaitOutcome::Ignore;
    }
    if let Some(amount) = o.quote.and_then(|q| q.amount) {
        data.insert("quote_minor".into(), json!(amount.minor_units));
        data.insert("currency".into(), json!(amount.currency));
    }
    data.insert("resolution".into(), json!(o.resolution));
    data.insert("state".into(), json!(state));
    WaitOutcome::Done
}

fn state(data: &Data) -> Option<&str> {
    data.get("state").and_then(Value::as_str)
}

fn quote(c: &Ctx) -> Result<Money, String> {
    Ok(Money {
        minor_units: c.i64("quote_minor")?,
        currency: c.str("currency")?,
    })
}

fn charge(c: &Ctx) -> Result<Cmd, String> {
    Ok(Cmd::new(
        "payments",
        &payments::CreateChargeRequest {
            idempotency_key: c.key.into(),
            repair_id: c.str("repair_id")?,
            buyer_id: c.str("buyer_id")?,
            merchant_id: c.str("merchant_id")?,
            amount: Some(quote(c)?),
            method: payments::PaymentMethod::Card as i32,
            actor: Some(system()),
            ..Default::default()
        },
    ))
}

/// The case an unrepairable item becomes, opened by customer service for the buyer.
fn open_case(c: &Ctx) -> Result<Cmd, String> {
    let exchange =
        c.data.get("resolution") == Some(&json!(repairs::UnrepairableResolution::Exchange as i32));
    Ok(Cmd::new(
        "returns",
        &returns::CreateCaseRequest {
            idempotency_key: c.key.into(),
            actor: Some(Actor {
                kind: ActorKind::Staff as i32,
                id: "orchestrator".into(),
            }),
            order_id: c.str("order_id")?,
            case_type: if exchange {
                returns::CaseType::Exchange
            } else {
                returns::CaseType::RefundOnly
            } as i32,
            reason: returns::ReasonCode::Quality as i32,
            channel: Channel::App as i32,
            description: format!("repair {} found the item unrepairable", c.str("repair_id")?),
            evidence_refs: vec![format!("repair:{}", c.str("repair_id")?)],
            items: vec![returns::CaseItemInput {
                line_id: c.str("line_id")?,
                quantity: 1,
                ..Default::default()
            }],
            ..Default::default()
        },
    ))
}

fn keep_case(data: &mut Data, _: Option<&Value>, result: &CmdResult) -> Outcome {
    match result.decode::<returns::CreateCaseResponse>() {
        Ok(r) => match r.case.filter(|c| !c.case_id.is_empty()) {
            Some(case) => {
                data.insert("case_id".into(), json!(case.case_id));
                Outcome::Done
            }
            None => Outcome::Fail("returns answered without a case".into()),
        },
        Err(e) => Outcome::Fail(e),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn event(name: &str, state: repairs::RepairState) -> DomainEvent {
        let o = repairs::RepairOrder {
            repair_order_id: "r-1".into(),
            order_id: "o-1".into(),
            state: state as i32,
            quote: Some(repairs::Quote {
                amount: Some(Money {
                    minor_units: 8000,
                    currency: "CNY".into(),
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        DomainEvent {
            name: name.into(),
            snapshot: o.encode_to_vec(),
            snapshot_type: repairs::RepairOrder::full_name(),
            ..Default::default()
        }
    }

    fn decide(name: &str, data: &Data) -> Next {
        crate::flows::decide(&definition(), name, data).unwrap()
    }

    #[test]
    fn routes_diagnosis_approval_and_outcome() {
        use repairs::RepairState as S;
        let (key, mut data) = start(&event("repairs.repair_order.requested", S::Requested))
            .unwrap()
            .unwrap();
        assert_eq!(key, "repair:r-1");
        assert!(crate::flows::registry().is_ok());
        // An out-of-warranty diagnosis waits for the quote.
        assert_eq!(
            record_state(&mut data, None, &event("x.diagnosed", S::Diagnosing)),
            WaitOutcome::Ignore
        );
        record_state(&mut data, None, &event("x.diagnosed", S::Repairing));
        assert_eq!(decide("diagnosis", &data), Next::Goto("await_repair"));
        record_state(&mut data, None, &event("x.quote_submitted", S::Quoted));
        assert_eq!(decide("diagnosis", &data), Next::Continue);
        assert_eq!(data["quote_minor"], json!(8000));
        record_state(
            &mut data,
            None,
            &event("x.quote_declined", S::ReturningUnrepaired),
        );
        assert_eq!(decide("buyer_answered", &data), Next::Goto("ship_back"));
        record_state(&mut data, None, &event("x.quote_approved", S::Approved));
        assert_eq!(decide("buyer_answered", &data), Next::Goto("charge"));
        data.insert("charge_status".into(), json!("FAILED"));
        assert_eq!(decide("charge_settled", &data), Next::Goto("cancel_unpaid"));
        data.insert("charge_status".into(), json!("SUCCEEDED"));
        assert_eq!(
            decide("charge_settled", &data),
            Next::Goto("record_quote_paid")
        );
        record_state(&mut data, None, &event("x.unrepairable", S::Unrepairable));
        assert_eq!(decide("repair_outcome", &data), Next::Goto("unrepairable"));
        data.insert("charge_id".into(), json!("ch-1"));
        assert_eq!(
            decide("unrepairable", &data),
            Next::Continue,
            "void the charge"
        );
        data.remove("charge_id");
        assert_eq!(
            decide("unrepairable", &data),
            Next::Goto("await_resolution")
        );
    }
}
