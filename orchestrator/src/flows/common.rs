//! Helpers every flow shares: the system actor, starting from a case snapshot, line items.

use crate::engine::flow::Data;
use aftersales_proto::common::v1::Actor;
use aftersales_proto::messaging::v1::DomainEvent;
use aftersales_proto::returns::v1 as returns;
use prost::{Message, Name};
use serde_json::{Value, json};

/// The orchestrator acting on its own.
pub fn system() -> Actor {
    crate::engine::machine::system_actor()
}

/// Decodes the case snapshot of a `returns.case.*` event and, when `applies` says the flow is
/// for it, returns the business key `case:<id>` and the saga's initial data.
pub fn case_start(
    event: &DomainEvent,
    applies: fn(&returns::Case) -> bool,
) -> Result<Option<(String, Data)>, String> {
    if event.snapshot_type != returns::Case::full_name() {
        return Err(format!("unexpected snapshot {}", event.snapshot_type));
    }
    let case = returns::Case::decode(event.snapshot.as_slice())
        .map_err(|e| format!("undecodable case snapshot: {e}"))?;
    if !applies(&case) {
        return Ok(None);
    }
    let amount = case
        .refund_due
        .clone()
        .filter(|m| m.minor_units > 0)
        .or(case.approved_amount.clone())
        .unwrap_or_default();
    let items: Vec<Value> = case
        .items
        .iter()
        .map(|i| json!({ "line_id": i.line_id, "quantity": i.quantity }))
        .collect();
    let mut data = Data::new();
    data.insert("case_id".into(), json!(case.case_id));
    data.insert("order_id".into(), json!(case.order_id));
    data.insert("merchant_id".into(), json!(case.merchant_id));
    data.insert("buyer_id".into(), json!(case.buyer_id));
    data.insert("amount_minor".into(), json!(amount.minor_units));
    data.insert("currency".into(), json!(amount.currency));
    data.insert("items".into(), Value::Array(items));
    Ok(Some((format!("case:{}", case.case_id), data)))
}

/// The case's order lines (`{line_id, quantity}`), one parallel branch each.
pub fn order_lines(data: &Data) -> Result<Vec<Value>, String> {
    data.get("items")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| "saga data has no items".to_owned())
}

/// The last known refund status (`SUCCEEDED`, `PENDING`, ...).
pub fn refund_status(data: &Data) -> Option<&str> {
    data.get("refund_status").and_then(Value::as_str)
}
