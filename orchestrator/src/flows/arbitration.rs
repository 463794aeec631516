//! Platform arbitration (平台介入) with one appeal. While it is open returns freezes money on the
//! case; the saga keeps the merchant's evidence deadline, waits for the platform's ruling, lets
//! the appeal window run out (an appeal sends it back for the final ruling), then executes the
//! ruling: an award is refunded (after the return leg when the ruling re-opened it), a ruling
//! for the merchant leaves the case rejected. The ruling executes only once it can no longer be
//! appealed, so an appeal never chases money that already moved.
//!
//! ```text
//! await_evidence (72 h) ─ withdrawn ─▶ end
//!   └ none ─▶ close_evidence_window
//! ─▶ await_ruling (72 h → park; withdrawn ─▶ end)
//! ─▶ final? ─ no ─▶ await_appeal (7 d) ─ appealed ─▶ await_ruling (final ruling)
//! ─▶ execute: nothing awarded ─▶ end (case stays REJECTED)
//!            awarded, goods must come back ─▶ the return leg ─▶ refund
//!            awarded ─▶ mark_refunding ─▶ refund [pivot] … complete_case
//! ```

use super::common::{MarkRefunding, case_start, join, refund_and_close, system};
use super::return_leg;
use crate::engine::flow::{
    Cmd, CommandStep, Data, DecisionStep, Department, Flow, Next, OnTimeout, Step, Trigger,
    WaitOutcome, WaitStep,
};
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::returns::v1 as returns;
use prost::Message;
use serde_json::{Value, json};
use std::time::Duration;

pub const NAME: &str = "arbitration";

pub fn definition() -> Flow {
    Flow {
        name: NAME,
        version: 1,
        trigger: Trigger {
            event: "returns.arbitration.opened",
            start,
        },
        steps: join([
            vec![
                Step::Wait(arbitration_wait(
                    "await_evidence",
                    &[
                        "returns.arbitration.evidence_submitted",
                        "returns.arbitration.withdrawn",
                    ],
                    ("merchant_evidence", Duration::from_secs(72 * 3600)),
                    OnTimeout::Continue,
                )),
                Step::Decision(DecisionStep {
                    name: "evidence_in",
                    decide: |d| {
                        Ok(match stage(d) {
                            Some("withdrawn") => Next::Complete,
                            Some("evidence_submitted") => Next::Goto("await_ruling"),
                            _ => Next::Continue,
                        })
                    },
                }),
                Step::Command(CommandStep::new("close_evidence_window", |c| {
                    Ok(Cmd::new(
                        "returns",
                        &returns::CloseEvidenceWindowRequest {
                            idempotency_key: c.key.into(),
                            actor: Some(system()),
                            case_id: c.str("case_id")?,
                        },
                    ))
                })),
                Step::Wait(arbitration_wait(
                    "await_ruling",
                    &["returns.arbitration.ruled", "returns.arbitration.withdrawn"],
                    ("arbitration_ruling", Duration::from_secs(72 * 3600)),
                    OnTimeout::Park("the platform did not rule in time"),
                )),
                Step::Decision(DecisionStep {
                    name: "final",
                    decide: |d| {
                        Ok(match stage(d) {
                            Some("withdrawn") => Next::Complete,
                            _ if d.get("arbitration_final") == Some(&json!(true)) => {
                                Next::Goto("execute")
                            }
                            _ => Next::Continue,
                        })
                    },
                }),
                Step::Wait(arbitration_wait(
                    "await_appeal",
                    &["returns.arbitration.appealed"],
                    ("appeal_window", Duration::from_secs(7 * 24 * 3600)),
                    OnTimeout::Continue,
                )),
                Step::Decision(DecisionStep {
                    name: "appealed",
                    decide: |d| {
                        Ok(if stage(d) == Some("appealed") {
                            Next::Goto("await_ruling")
                        } else {
                            Next::Continue
                        })
                    },
                }),
                Step::Decision(DecisionStep {
                    name: "execute",
                    decide: execute,
                }),
            ],
            return_leg::steps(),
            refund_and_close(MarkRefunding::BeforeRefund),
        ]),
    }
}

/// One arbitration per escalation: the key names the case and when it was escalated (a
/// withdrawn escalation may be followed by a new one).
fn start(event: &DomainEvent) -> Result<Option<(String, Data)>, String> {
    let Some((_, data)) = case_start(event, |c| c.arbitration.is_some())? else {
        return Ok(None);
    };
    let case = returns::Case::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable case snapshot: {e}"))?;
    let opened = case
        .arbitration
        .and_then(|a| a.opened_at)
        .map(|t| format!("{}.{:09}", t.seconds, t.nanos))
        .unwrap_or_default();
    Ok(Some((
        format!("arbitration:{}:{opened}", case.case_id),
        data,
    )))
}

/// A wait on the case's arbitration (matched by `case_id`) that records what happened.
fn arbitration_wait(
    name: &'static str,
    events: &'static [&'static str],
    deadline: (&'static str, Duration),
    on_timeout: OnTimeout,
) -> WaitStep {
    WaitStep {
        name,
        events,
        key_name: "case_id",
        key_value: |c| c.str("case_id"),
        on_event: record,
        deadline,
        on_timeout,
        retry_from: None,
        department: Department::CustomerService,
    }
}

/// Notes the arbitration stage reached and, for a ruling, what it means for the case.
fn record(data: &mut Data, _: Option<&Value>, event: &DomainEvent) -> WaitOutcome {
    let stage = event
        .name
        .strip_prefix("returns.arbitration.")
        .unwrap_or(&event.name);
    data.insert("stage".into(), json!(stage));
    if let Ok(case) = returns::Case::decode(event.snapshot.as_slice()) {
        let status = returns::CaseStatus::try_from(case.status)
            .unwrap_or(returns::CaseStatus::Unspecified)
            .as_str_name()
            .trim_start_matches("CASE_STATUS_")
            .to_owned();
        data.insert("case_status".into(), json!(status));
        if let Some(a) = case.arbitration {
            let awarded = a
                .rulings
                .last()
                .is_some_and(|r| r.outcome != returns::RulingOutcome::ForMerchant as i32);
            data.insert("awarded".into(), json!(awarded));
            data.insert(
                "arbitration_final".into(),
                json!(a.status == returns::ArbitrationStatus::Final as i32),
            );
        }
    }
    WaitOutcome::Done
}

fn stage(data: &Data) -> Option<&str> {
    data.get("stage").and_then(Value::as_str)
}

/// What the ruling asks for, given where it left the case.
fn execute(data: &Data) -> Result<Next, String> {
    if data.get("awarded") != Some(&json!(true)) {
        return Ok(Next::Complete);
    }
    Ok(match data.get("case_status").and_then(Value::as_str) {
        Some("AWAITING_BUYER_SHIPMENT") => Next::Goto("issue_return_label"),
        Some("APPROVED" | "INSPECTED") => Next::Goto("mark_refunding"),
        // Refunding or finished: the case's own saga moves the money.
        _ => Next::Complete,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use prost::Name;
    use prost_types::Timestamp;

    fn event(name: &str, status: returns::CaseStatus, arb: returns::Arbitration) -> DomainEvent {
        let case = returns::Case {
            case_id: "c-1".into(),
            status: status as i32,
            arbitration: Some(arb),
            ..Default::default()
        };
        DomainEvent {
            name: name.into(),
            snapshot: case.encode_to_vec(),
            snapshot_type: returns::Case::full_name(),
            ..Default::default()
        }
    }

    fn ruled(
        outcome: returns::RulingOutcome,
        status: returns::ArbitrationStatus,
    ) -> returns::Arbitration {
        returns::Arbitration {
            status: status as i32,
            opened_at: Some(Timestamp {
                seconds: 100,
                nanos: 5,
            }),
            rulings: vec![returns::Ruling {
                outcome: outcome as i32,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn decide(name: &str, data: &Data) -> Next {
        crate::flows::decide(&definition(), name, data).unwrap()
    }

    #[test]
    fn one_saga_per_escalation() {
        let opened = event(
            "returns.arbitration.opened",
            returns::CaseStatus::Rejected,
            returns::Arbitration {
                opened_at: Some(Timestamp {
                    seconds: 100,
                    nanos: 5,
                }),
                ..Default::default()
            },
        );
        let (key, data) = start(&opened).unwrap().unwrap();
        assert_eq!(key, "arbitration:c-1:100.000000005");
        assert_eq!(data["case_id"], json!("c-1"));
        assert!(crate::flows::registry().is_ok());
    }

    #[test]
    fn routes_withdrawal_appeal_and_the_ruling() {
        use returns::{ArbitrationStatus as A, CaseStatus as S, RulingOutcome as R};
        let mut data = Data::new();
        assert_eq!(decide("evidence_in", &data), Next::Continue);
        record(
            &mut data,
            None,
            &event(
                "returns.arbitration.withdrawn",
                S::Rejected,
                returns::Arbitration::default(),
            ),
        );
        assert_eq!(decide("evidence_in", &data), Next::Complete);

        let mut data = Data::new();
        record(
            &mut data,
            None,
            &event(
                "returns.arbitration.ruled",
                S::Approved,
                ruled(R::ForBuyer, A::Ruled),
            ),
        );
        assert_eq!(
            decide("final", &data),
            Next::Continue,
            "appeal window first"
        );
        assert_eq!(decide("appealed", &data), Next::Continue);
        assert_eq!(decide("execute", &data), Next::Goto("mark_refunding"));

        record(
            &mut data,
            None,
            &event(
                "returns.arbitration.appealed",
                S::Approved,
                ruled(R::ForBuyer, A::Appealed),
            ),
        );
        assert_eq!(decide("appealed", &data), Next::Goto("await_ruling"));
        record(
            &mut data,
            None,
            &event(
                "returns.arbitration.ruled",
                S::Rejected,
                ruled(R::ForMerchant, A::Final),
            ),
        );
        assert_eq!(decide("final", &data), Next::Goto("execute"));
        assert_eq!(decide("execute", &data), Next::Complete, "nothing awarded");

        record(
            &mut data,
            None,
            &event(
                "returns.arbitration.ruled",
                S::AwaitingBuyerShipment,
                ruled(R::Split, A::Final),
            ),
        );
        assert_eq!(decide("execute", &data), Next::Goto("issue_return_label"));
    }
}
