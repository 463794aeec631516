//! Test data shared by the domain tests.

use super::*;
use aftersales_kernel::Money;
use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 10, 12, 0, 0).unwrap()
}

pub fn cny(minor: i64) -> Money {
    Money::parse(minor, "CNY").unwrap()
}

pub fn staff() -> Actor {
    Actor::staff("cs-1")
}

pub fn address() -> Address {
    Address {
        recipient_name: "Li Lei".into(),
        phone: "+86 138 0000 0000".into(),
        country_code: "CN".into(),
        province: "Zhejiang".into(),
        city: "Hangzhou".into(),
        district: "Xihu".into(),
        street: "1 Wensan Road".into(),
        postal_code: "310000".into(),
    }
}

/// Line 1: 2 x 100.00 apparel with 20.00 discount; line 2: 1 x 50.00 perishable; shipping 10.00;
/// paid 240.00 at `t0()`, promised in 3 days.
pub fn new_order() -> NewOrder {
    NewOrder {
        buyer_id: BuyerId(Uuid::from_u128(200)),
        merchant_id: MerchantId(Uuid::from_u128(300)),
        shipping_address: address(),
        payment_reference: "pay-1".into(),
        paid_amount: cny(24_000),
        shipping_fee: Some(cny(1_000)),
        member_tier: MemberTier::None,
        shipping_insurance: false,
        lines: vec![
            NewOrderLine {
                sku: "SKU-1".into(),
                category: "apparel".into(),
                quantity: 2,
                unit_price: cny(10_000),
                discount_share: Some(cny(2_000)),
            },
            NewOrderLine {
                sku: "SKU-2".into(),
                category: "perishable".into(),
                quantity: 1,
                unit_price: cny(5_000),
                discount_share: None,
            },
        ],
        paid_at: t0(),
        promised_eta: t0() + Duration::days(3),
    }
}

/// A freshly created (PAID) order from [`new_order`], created at `t0()`.
pub fn order() -> Order {
    Order::create(
        OrderId(Uuid::from_u128(100)),
        new_order(),
        &staff(),
        &Settings::default(),
        t0(),
    )
    .unwrap()
    .0
}

/// The fixture order driven through the happy path to `state` (shipped by courier `SF` one
/// hour after payment, signed one day after payment).
pub fn order_in(state: OrderState) -> Order {
    let mut o = order();
    let s = staff();
    let h = |n: i64| t0() + Duration::hours(n);
    if state == OrderState::Canceled {
        o.cancel(&s, "buyer changed mind", h(0)).unwrap();
        return o;
    }
    let rank = |st: OrderState| OrderState::ALL.iter().position(|a| *a == st);
    let steps = [
        OrderState::AwaitingShipment,
        OrderState::Shipped,
        OrderState::Delivered,
        OrderState::Completed,
    ];
    for step in steps.into_iter().filter(|st| rank(*st) <= rank(state)) {
        match step {
            OrderState::AwaitingShipment => o.start_fulfilment(&s, h(0)).unwrap(),
            OrderState::Shipped => o.mark_shipped(&s, shipping(h(1)), h(1)).unwrap(),
            OrderState::Delivered => o.confirm_delivery(&s, h(24), h(24)).unwrap(),
            _ => o.complete(&s, h(48)).unwrap(),
        };
    }
    assert_eq!(o.state, state);
    o
}

pub fn shipping(at: DateTime<Utc>) -> Shipping {
    Shipping {
        shipped_at: at,
        courier_code: "SF".into(),
        tracking_number: "SF123".into(),
        shipment_id: Some(ShipmentId(Uuid::from_u128(400))),
    }
}
