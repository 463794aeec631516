//! The flow definitions, one file per flow, each readable on one screen.

pub mod arbitration;
pub mod common;
pub mod complaint_work_orders;
pub mod delivery_exceptions;
pub mod exchange;
pub mod refund_only_in_transit;
pub mod refund_only_not_shipped;
pub mod repair_round_trip;
pub mod reship;
pub mod return_leg;
pub mod return_refund;

use crate::engine::flow::Registry;

/// Every flow (and every version still running) the orchestrator knows.
pub fn registry() -> Result<Registry, String> {
    Registry::new(vec![
        refund_only_not_shipped::definition(),
        refund_only_in_transit::definition(),
        return_refund::definition(),
        complaint_work_orders::definition_v1(),
        complaint_work_orders::definition(),
        exchange::definition_v1(),
        exchange::definition(),
        reship::definition_v1(),
        reship::definition(),
        repair_round_trip::definition(),
        arbitration::definition(),
        delivery_exceptions::stuck_shipment(),
        delivery_exceptions::late_delivery(),
    ])
}

/// What a flow's decision step decides on `data` (for the flows' unit tests).
#[cfg(test)]
pub fn decide(
    flow: &crate::engine::flow::Flow,
    name: &str,
    data: &crate::engine::flow::Data,
) -> Result<crate::engine::flow::Next, String> {
    match flow.steps.iter().find(|s| s.name() == name) {
        Some(crate::engine::flow::Step::Decision(d)) => (d.decide)(data),
        _ => Err(format!("{name} is not a decision of {}", flow.name)),
    }
}

/// A command a saga sent in [`play`]: its request type's short name and payload.
#[cfg(test)]
pub type Sent = (String, Vec<u8>);

/// Plays every party of a saga of `flow` started from `event` through the pure machine (for the
/// flows' unit tests): each command gets `reply(short request type name, commands sent so far)`
/// as its successful result, and each wait gets `answer(key name, key value)`. Returns what the
/// saga sent, in order, and the saga at the end.
#[cfg(test)]
pub fn play(
    flow: &crate::engine::flow::Flow,
    event: &aftersales_proto::messaging::v1::DomainEvent,
    reply: impl Fn(&str, usize) -> crate::engine::flow::CmdResult,
    answer: impl Fn(&str, &str) -> aftersales_proto::messaging::v1::DomainEvent,
) -> (Vec<Sent>, crate::engine::instance::Instance) {
    use crate::engine::instance::Effect;
    use crate::engine::machine::{Input, Machine, ReplyKind, Settings};
    let settings = Settings::default();
    let machine = Machine {
        settings: &settings,
        jitter: || 0.0,
    };
    let now = chrono::Utc::now();
    let Ok(Some((key, data))) = (flow.trigger.start)(event) else {
        panic!("{} does not start from {}", flow.name, event.name);
    };
    let (mut inst, mut effects) = machine.start(flow, uuid::Uuid::now_v7(), key, data, now);
    let mut sent = Vec::new();
    for _ in 0..100 {
        let sends: Vec<(uuid::Uuid, String, Vec<u8>)> = effects
            .drain(..)
            .filter_map(|e| match e {
                Effect::Send {
                    message_id,
                    message_type,
                    payload,
                    ..
                } => Some((message_id, message_type, payload)),
                _ => None,
            })
            .collect();
        for (message_id, message_type, payload) in sends {
            let short = message_type
                .rsplit('.')
                .next()
                .unwrap_or_default()
                .to_owned();
            let result = reply(&short, sent.len());
            sent.push((short, payload));
            let input = Input::Reply {
                message_id,
                kind: ReplyKind::Success,
                reason: String::new(),
                result,
            };
            match machine.apply(flow, &mut inst, input, now) {
                Ok(more) => effects.extend(more),
                Err(refused) => panic!("reply refused: {refused}"),
            }
        }
        if !effects.is_empty() {
            continue;
        }
        let waiting = inst.wait_keys();
        if waiting.is_empty() {
            break;
        }
        for wait_key in waiting {
            let Some((name, value)) = wait_key.split_once('=') else {
                panic!("wait key {wait_key} is not name=value");
            };
            let event = answer(name, value);
            match machine.apply(flow, &mut inst, Input::Event(&event), now) {
                Ok(more) => effects.extend(more),
                Err(refused) => panic!("event refused: {refused}"),
            }
        }
    }
    (sent, inst)
}
