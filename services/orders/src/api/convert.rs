//! Protobuf <-> domain conversions. Every parse error names the request field; protobuf types
//! stop here and never enter `domain/`.

use crate::domain::{
    Actor, ActorKind, Address, BuyerId, CounterKind, FreeReturnPrivilege, MemberTier, MerchantId,
    NewOrder, NewOrderLine, Order, OrderFilter, OrderLine, OrderState, PolicySnapshot,
};
use aftersales_kernel::{DomainError, FieldViolation};
use aftersales_platform::{
    AppError, AppResult,
    edge::{self, money_to_pb, optional_timestamp_to_pb, timestamp_to_pb},
};
use aftersales_proto::common::v1 as common;
use aftersales_proto::orders::v1 as pb;

/// Maps a domain error: `actor_not_allowed` is `PERMISSION_DENIED` (the message starts with the
/// rule name), other rules `FAILED_PRECONDITION`, field violations `INVALID_ARGUMENT`.
pub fn domain_error(e: DomainError) -> AppError {
    match e {
        DomainError::Rule(r) if r.rule == "actor_not_allowed" => {
            AppError::PermissionDenied(r.to_string())
        }
        other => AppError::from(other),
    }
}

/// The caller: required, kind known, id required (a UUID for buyers and merchants).
pub fn actor(value: Option<&common::Actor>) -> AppResult<Actor> {
    let a = value.ok_or_else(|| AppError::field("actor", "is required"))?;
    let kind =
        edge::optional_enum::<common::ActorKind>("actor.kind", a.kind)?.and_then(|k| match k {
            common::ActorKind::Buyer => Some(ActorKind::Buyer),
            common::ActorKind::Merchant => Some(ActorKind::Merchant),
            common::ActorKind::Staff => Some(ActorKind::Staff),
            common::ActorKind::Partner => Some(ActorKind::Partner),
            common::ActorKind::System => Some(ActorKind::System),
            common::ActorKind::Unspecified => None,
        });
    Actor::new("actor", kind, &a.id).map_err(domain_error)
}

/// A required address message; its parts are checked by the domain (`field.part`).
pub fn address(field: &str, value: Option<&pb::Address>) -> AppResult<Address> {
    let a = value.ok_or_else(|| AppError::field(field, "is required"))?;
    Address {
        recipient_name: a.recipient_name.clone(),
        phone: a.phone.clone(),
        country_code: a.country_code.clone(),
        province: a.province.clone(),
        city: a.city.clone(),
        district: a.district.clone(),
        street: a.street.clone(),
        postal_code: a.postal_code.clone(),
    }
    .validated(field)
    .map_err(domain_error)
}

pub fn member_tier(value: i32) -> AppResult<MemberTier> {
    match edge::optional_enum::<pb::MemberTier>("member_tier", value)? {
        None | Some(pb::MemberTier::Unspecified) | Some(pb::MemberTier::None) => {
            Ok(MemberTier::None)
        }
        Some(pb::MemberTier::Silver) => Ok(MemberTier::Silver),
        Some(pb::MemberTier::Gold) => Ok(MemberTier::Gold),
        Some(pb::MemberTier::Platinum) => Ok(MemberTier::Platinum),
    }
}

pub fn order_state(field: &str, value: i32) -> AppResult<OrderState> {
    match edge::enum_value::<pb::OrderState>(field, value)? {
        pb::OrderState::Unspecified => Err(AppError::field(field, "is required")),
        pb::OrderState::Paid => Ok(OrderState::Paid),
        pb::OrderState::AwaitingShipment => Ok(OrderState::AwaitingShipment),
        pb::OrderState::Shipped => Ok(OrderState::Shipped),
        pb::OrderState::Delivered => Ok(OrderState::Delivered),
        pb::OrderState::Completed => Ok(OrderState::Completed),
        pb::OrderState::Canceled => Ok(OrderState::Canceled),
    }
}

/// A progress counter kind (`kind`): requested is not one.
pub fn progress_kind(value: i32) -> AppResult<CounterKind> {
    match edge::enum_value::<pb::LineProgressKind>("kind", value)? {
        pb::LineProgressKind::Unspecified => Err(AppError::field("kind", "is required")),
        pb::LineProgressKind::ReturnedReceived => Ok(CounterKind::ReturnedReceived),
        pb::LineProgressKind::Refunded => Ok(CounterKind::Refunded),
        pb::LineProgressKind::Replaced => Ok(CounterKind::Replaced),
        pb::LineProgressKind::Reshipped => Ok(CounterKind::Reshipped),
        pb::LineProgressKind::Canceled => Ok(CounterKind::Canceled),
    }
}

/// A quantity of units to move (>= 1).
pub fn quantity(value: u32) -> AppResult<u32> {
    if value == 0 {
        return Err(AppError::field("quantity", "must be at least 1"));
    }
    Ok(value)
}

/// Collects the field violations of several parses, so one response names every bad field.
#[derive(Default)]
struct Collect(Vec<FieldViolation>);

impl Collect {
    fn take<T>(&mut self, r: AppResult<T>) -> AppResult<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(AppError::Invalid(list)) => {
                self.0.extend(list);
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }
}

/// The storefront's order: shape and money parsed here, cross-checks in `Order::create`.
pub fn new_order(req: &pb::CreateOrderRequest) -> AppResult<NewOrder> {
    let mut c = Collect::default();
    let buyer_id = c.take(edge::uuid("buyer_id", &req.buyer_id))?;
    let merchant_id = c.take(edge::uuid("merchant_id", &req.merchant_id))?;
    let shipping_address = c.take(address("shipping_address", req.shipping_address.as_ref()))?;
    let paid_amount = c.take(edge::money("paid_amount", req.paid_amount.as_ref()))?;
    let shipping_fee = c.take(edge::optional_money(
        "shipping_fee",
        req.shipping_fee.as_ref(),
    ))?;
    let member_tier = c.take(member_tier(req.member_tier))?;
    let paid_at = c.take(edge::timestamp("paid_at", req.paid_at.as_ref()))?;
    let promised_eta = c.take(edge::timestamp("promised_eta", req.promised_eta.as_ref()))?;
    let mut lines = Vec::new();
    if c.take(edge::item_count("lines", &req.lines, 1))?.is_some() {
        for (i, l) in req.lines.iter().enumerate() {
            let unit_price = c.take(edge::money(
                &format!("lines[{i}].unit_price"),
                l.unit_price.as_ref(),
            ))?;
            let discount_share = c.take(edge::optional_money(
                &format!("lines[{i}].discount_share"),
                l.discount_share.as_ref(),
            ))?;
            if let (Some(unit_price), Some(discount_share)) = (unit_price, discount_share) {
                lines.push(NewOrderLine {
                    sku: l.sku.clone(),
                    category: l.category.clone(),
                    quantity: l.quantity,
                    unit_price,
                    discount_share,
                });
            }
        }
    }
    if !c.0.is_empty() {
        return Err(AppError::Invalid(c.0));
    }
    let (
        Some(buyer_id),
        Some(merchant_id),
        Some(shipping_address),
        Some(paid_amount),
        Some(shipping_fee),
        Some(member_tier),
        Some(paid_at),
        Some(promised_eta),
    ) = (
        buyer_id,
        merchant_id,
        shipping_address,
        paid_amount,
        shipping_fee,
        member_tier,
        paid_at,
        promised_eta,
    )
    else {
        return Err(AppError::field("order", "is invalid"));
    };
    Ok(NewOrder {
        buyer_id: BuyerId(buyer_id),
        merchant_id: MerchantId(merchant_id),
        shipping_address,
        payment_reference: req.payment_reference.clone(),
        paid_amount,
        shipping_fee,
        member_tier,
        shipping_insurance: req.shipping_insurance,
        lines,
        paid_at,
        promised_eta,
    })
}

/// The list filter of `ListOrders` (not yet scoped to the actor).
pub fn filter(req: &pb::ListOrdersRequest) -> AppResult<OrderFilter> {
    let states = req
        .states
        .iter()
        .enumerate()
        .map(|(i, s)| order_state(&format!("states[{i}]"), *s))
        .collect::<AppResult<Vec<_>>>()?;
    if states.len() > OrderState::ALL.len() {
        return Err(AppError::field("states", "lists a state more than once"));
    }
    Ok(OrderFilter {
        buyer_id: edge::optional_uuid("buyer_id", &req.buyer_id)?.map(BuyerId),
        merchant_id: edge::optional_uuid("merchant_id", &req.merchant_id)?.map(MerchantId),
        courier_code: None,
        states,
        created_after: edge::optional_timestamp("created_after", req.created_after.as_ref())?,
        created_before: edge::optional_timestamp("created_before", req.created_before.as_ref())?,
    })
}

pub fn order_state_to_pb(s: OrderState) -> pb::OrderState {
    match s {
        OrderState::Paid => pb::OrderState::Paid,
        OrderState::AwaitingShipment => pb::OrderState::AwaitingShipment,
        OrderState::Shipped => pb::OrderState::Shipped,
        OrderState::Delivered => pb::OrderState::Delivered,
        OrderState::Completed => pb::OrderState::Completed,
        OrderState::Canceled => pb::OrderState::Canceled,
    }
}

fn member_tier_to_pb(t: MemberTier) -> pb::MemberTier {
    match t {
        MemberTier::None => pb::MemberTier::None,
        MemberTier::Silver => pb::MemberTier::Silver,
        MemberTier::Gold => pb::MemberTier::Gold,
        MemberTier::Platinum => pb::MemberTier::Platinum,
    }
}

fn free_return_to_pb(f: FreeReturnPrivilege) -> pb::FreeReturnPrivilege {
    match f {
        FreeReturnPrivilege::None => pb::FreeReturnPrivilege::None,
        FreeReturnPrivilege::MemberTier => pb::FreeReturnPrivilege::MemberTier,
        FreeReturnPrivilege::ShippingInsurance => pb::FreeReturnPrivilege::ShippingInsurance,
    }
}

pub fn counter_kind_to_pb(k: CounterKind) -> Option<pb::LineProgressKind> {
    match k {
        CounterKind::Requested => None,
        CounterKind::ReturnedReceived => Some(pb::LineProgressKind::ReturnedReceived),
        CounterKind::Refunded => Some(pb::LineProgressKind::Refunded),
        CounterKind::Replaced => Some(pb::LineProgressKind::Replaced),
        CounterKind::Reshipped => Some(pb::LineProgressKind::Reshipped),
        CounterKind::Canceled => Some(pb::LineProgressKind::Canceled),
    }
}

fn policy_to_pb(p: &PolicySnapshot) -> pb::PolicySnapshot {
    pb::PolicySnapshot {
        no_reason_days: p.no_reason_days,
        no_reason_eligible: p.no_reason_eligible,
        exchange_quality_days: p.exchange_quality_days,
        warranty_months: p.warranty_months,
        free_return: free_return_to_pb(p.free_return) as i32,
    }
}

pub fn duration_to_pb(d: chrono::Duration) -> prost_types::Duration {
    let nanos = d.subsec_nanos();
    prost_types::Duration {
        seconds: d.num_seconds(),
        nanos,
    }
}

fn line_to_pb(o: &Order, l: &OrderLine) -> AppResult<pb::OrderLine> {
    let net = l.net_amount().map_err(domain_error)?;
    let c = l.counters;
    Ok(pb::OrderLine {
        line_id: l.id.to_string(),
        sku: l.sku.clone(),
        category: l.category.clone(),
        quantity: l.quantity,
        unit_price: Some(money_to_pb(l.unit_price)),
        discount_share: Some(money_to_pb(l.discount_share)),
        net_amount: Some(money_to_pb(net)),
        policy: Some(policy_to_pb(&l.policy)),
        counters: Some(pb::LineCounters {
            requested: c.requested,
            returned_received: c.returned_received,
            refunded: c.refunded,
            replaced: c.replaced,
            reshipped: c.reshipped,
            canceled: c.canceled,
        }),
        deadlines: o.line_deadlines(l).map(|d| pb::LineDeadlines {
            no_reason_until: optional_timestamp_to_pb(d.no_reason_until),
            exchange_quality_until: Some(timestamp_to_pb(d.exchange_quality_until)),
            warranty_until: Some(timestamp_to_pb(d.warranty_until)),
        }),
    })
}

fn address_to_pb(a: &Address) -> pb::Address {
    pb::Address {
        recipient_name: a.recipient_name.clone(),
        phone: a.phone.clone(),
        country_code: a.country_code.clone(),
        province: a.province.clone(),
        city: a.city.clone(),
        district: a.district.clone(),
        street: a.street.clone(),
        postal_code: a.postal_code.clone(),
    }
}

/// The full order: the API response and the snapshot of every `orders.order.*`/`orders.line.*`
/// event (replicas in returns and repairs are built only from it).
pub fn order_to_pb(o: &Order) -> AppResult<pb::Order> {
    Ok(pb::Order {
        order_id: o.id.to_string(),
        buyer_id: o.buyer_id.to_string(),
        merchant_id: o.merchant_id.to_string(),
        state: order_state_to_pb(o.state) as i32,
        shipping_address: Some(address_to_pb(&o.shipping_address)),
        payment_reference: o.payment_reference.clone(),
        paid_amount: Some(money_to_pb(o.paid_amount)),
        shipping_fee: Some(money_to_pb(o.shipping_fee)),
        member_tier: member_tier_to_pb(o.member_tier) as i32,
        shipping_insurance: o.shipping_insurance,
        lines: o
            .lines
            .iter()
            .map(|l| line_to_pb(o, l))
            .collect::<AppResult<Vec<_>>>()?,
        paid_at: Some(timestamp_to_pb(o.paid_at)),
        promised_eta: Some(timestamp_to_pb(o.promised_eta)),
        waybill_printed_at: optional_timestamp_to_pb(o.waybill_printed_at),
        shipped_at: optional_timestamp_to_pb(o.shipped_at),
        signed_at: optional_timestamp_to_pb(o.signed_at),
        completed_at: optional_timestamp_to_pb(o.completed_at),
        canceled_at: optional_timestamp_to_pb(o.canceled_at),
        cancel_reason: o.cancel_reason.clone().unwrap_or_default(),
        courier_code: o.courier_code.clone().unwrap_or_default(),
        tracking_number: o.tracking_number.clone().unwrap_or_default(),
        shipment_id: o.shipment_id.map(|s| s.to_string()).unwrap_or_default(),
        delivered_late: o.delivery_overdue().is_some(),
        delivery_overdue: o.delivery_overdue().map(duration_to_pb),
        created_at: Some(timestamp_to_pb(o.created_at)),
        updated_at: Some(timestamp_to_pb(o.updated_at)),
        version: o.version,
    })
}

/// Snapshot of `orders.order.delivered_late`.
pub fn delivered_late_to_pb(o: &Order, overdue: chrono::Duration) -> pb::OrderDeliveredLate {
    pb::OrderDeliveredLate {
        order_id: o.id.to_string(),
        buyer_id: o.buyer_id.to_string(),
        merchant_id: o.merchant_id.to_string(),
        paid_amount: Some(money_to_pb(o.paid_amount)),
        promised_eta: Some(timestamp_to_pb(o.promised_eta)),
        signed_at: optional_timestamp_to_pb(o.signed_at),
        overdue: Some(duration_to_pb(overdue)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> pb::CreateOrderRequest {
        let money = |m: i64| {
            Some(common::Money {
                minor_units: m,
                currency: "CNY".into(),
            })
        };
        pb::CreateOrderRequest {
            idempotency_key: "k".into(),
            actor: Some(common::Actor {
                kind: common::ActorKind::System as i32,
                id: "storefront".into(),
            }),
            buyer_id: uuid::Uuid::now_v7().to_string(),
            merchant_id: uuid::Uuid::now_v7().to_string(),
            shipping_address: Some(pb::Address {
                recipient_name: "Li".into(),
                phone: "1".into(),
                country_code: "CN".into(),
                city: "Hangzhou".into(),
                street: "1 Road".into(),
                ..Default::default()
            }),
            payment_reference: "pay".into(),
            paid_amount: money(1000),
            shipping_fee: None,
            member_tier: 0,
            shipping_insurance: false,
            lines: vec![pb::NewOrderLine {
                sku: "S".into(),
                category: "apparel".into(),
                quantity: 1,
                unit_price: money(1000),
                discount_share: None,
            }],
            paid_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            promised_eta: Some(prost_types::Timestamp {
                seconds: 1_700_100_000,
                nanos: 0,
            }),
        }
    }

    fn fields(e: AppError) -> Vec<String> {
        match e {
            AppError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn new_order_parses_and_names_every_bad_field() {
        let ok = new_order(&req()).unwrap();
        assert_eq!(ok.member_tier, MemberTier::None);
        assert_eq!(ok.lines.len(), 1);

        let mut r = req();
        r.buyer_id = "nope".into();
        r.paid_amount = None;
        r.member_tier = 99;
        r.lines[0].unit_price = Some(common::Money {
            minor_units: -1,
            currency: "CNY".into(),
        });
        let got = fields(new_order(&r).unwrap_err());
        for f in [
            "buyer_id",
            "paid_amount",
            "member_tier",
            "lines[0].unit_price.minor_units",
        ] {
            assert!(got.iter().any(|g| g == f), "{f} missing from {got:?}");
        }

        let mut r = req();
        r.lines.clear();
        assert_eq!(fields(new_order(&r).unwrap_err()), ["lines"]);
        let mut r = req();
        r.shipping_address = None;
        assert_eq!(fields(new_order(&r).unwrap_err()), ["shipping_address"]);
    }

    #[test]
    fn actor_and_enums() {
        assert!(matches!(actor(None), Err(AppError::Invalid(_))));
        let a = common::Actor {
            kind: 42,
            id: "x".into(),
        };
        assert_eq!(fields(actor(Some(&a)).unwrap_err()), ["actor.kind"]);
        let a = common::Actor {
            kind: 0,
            id: "x".into(),
        };
        assert_eq!(fields(actor(Some(&a)).unwrap_err()), ["actor.kind"]);
        assert_eq!(fields(progress_kind(0).unwrap_err()), ["kind"]);
        assert_eq!(fields(progress_kind(9).unwrap_err()), ["kind"]);
        assert_eq!(
            fields(order_state("states[0]", 9).unwrap_err()),
            ["states[0]"]
        );
        assert!(matches!(
            domain_error(DomainError::rule("actor_not_allowed", "no")),
            AppError::PermissionDenied(ref m) if m.starts_with("actor_not_allowed")
        ));
        assert!(matches!(
            domain_error(DomainError::rule("order_canceled", "no")),
            AppError::Rule(_)
        ));
    }
}
