use super::*;
use crate::domain::fixtures::*;
use crate::domain::{FreeReturnPrivilege, OrderFilter};
use uuid::Uuid;

fn rule(r: Result<Vec<Event>, DomainError>) -> Option<&'static str> {
    r.err().and_then(|e| e.rule_name())
}

fn invalid_fields(e: DomainError) -> Vec<String> {
    match e {
        DomainError::Invalid(v) => v.into_iter().map(|f| f.field).collect(),
        DomainError::Rule(r) => panic!("unexpected rule {r}"),
    }
}

fn h(n: i64) -> DateTime<Utc> {
    t0() + Duration::hours(n)
}

fn buyer() -> Actor {
    Actor::buyer(BuyerId(Uuid::from_u128(200)))
}

fn merchant() -> Actor {
    Actor::merchant(MerchantId(Uuid::from_u128(300)))
}

fn other_buyer() -> Actor {
    Actor::buyer(BuyerId(Uuid::from_u128(201)))
}

fn other_merchant() -> Actor {
    Actor::merchant(MerchantId(Uuid::from_u128(301)))
}

// ---- creation -------------------------------------------------------------------------------

#[test]
fn create_freezes_policy_and_starts_paid() {
    let (o, event) = Order::create(
        OrderId(Uuid::from_u128(1)),
        new_order(),
        &Actor::system("storefront"),
        &Settings::default(),
        t0(),
    )
    .unwrap();
    assert_eq!(event, Event::Created);
    assert_eq!(o.state, OrderState::Paid);
    assert_eq!((o.created_at, o.updated_at), (t0(), t0()));
    assert_eq!(o.lines.len(), 2);
    assert_ne!(o.lines[0].id, o.lines[1].id);
    assert!(o.lines[0].policy.no_reason_eligible);
    assert!(
        !o.lines[1].policy.no_reason_eligible,
        "perishable is excluded"
    );
    assert_eq!(o.lines[0].policy.free_return, FreeReturnPrivilege::None);
    assert_eq!(o.lines[0].net_amount().unwrap(), cny(18_000));
    assert_eq!(o.lines[1].discount_share, cny(0));
    assert_eq!(o.lines[0].counters, LineCounters::default());
    assert_eq!(o.shipping_fee, cny(1_000));
    assert_eq!(
        o.line_deadlines(&o.lines[0]),
        None,
        "windows start at delivery"
    );
}

#[test]
fn create_uses_tier_and_insurance() {
    let cases: &[(MemberTier, bool, FreeReturnPrivilege)] = &[
        (MemberTier::Gold, false, FreeReturnPrivilege::MemberTier),
        (
            MemberTier::Silver,
            true,
            FreeReturnPrivilege::ShippingInsurance,
        ),
        (MemberTier::None, false, FreeReturnPrivilege::None),
    ];
    for (tier, insured, want) in cases {
        let input = NewOrder {
            member_tier: *tier,
            shipping_insurance: *insured,
            ..new_order()
        };
        let (o, _) = Order::create(
            OrderId(Uuid::from_u128(1)),
            input,
            &staff(),
            &Settings::default(),
            t0(),
        )
        .unwrap();
        assert!(
            o.lines.iter().all(|l| l.policy.free_return == *want),
            "{tier} {insured}"
        );
    }
}

#[test]
fn create_only_by_staff_or_system() {
    for actor in [buyer(), merchant(), Actor::partner("SF")] {
        let err = Order::create(
            OrderId(Uuid::from_u128(1)),
            new_order(),
            &actor,
            &Settings::default(),
            t0(),
        );
        assert_eq!(
            err.unwrap_err().rule_name(),
            Some("actor_not_allowed"),
            "{actor:?}"
        );
    }
}

#[test]
fn create_validates_every_field() {
    type Edit = fn(&mut NewOrder);
    let cases: &[(Edit, &[&str])] = &[
        (|o| o.payment_reference = " ".into(), &["payment_reference"]),
        (
            |o| o.payment_reference = "p".repeat(129),
            &["payment_reference"],
        ),
        (
            |o| o.shipping_address.city.clear(),
            &["shipping_address.city"],
        ),
        (
            |o| o.shipping_fee = Some(Money::parse(1_000, "USD").unwrap()),
            &["shipping_fee.currency"],
        ),
        (|o| o.paid_at = t0() + Duration::minutes(6), &["paid_at"]),
        (
            |o| o.paid_at = o.promised_eta + Duration::seconds(1),
            &["paid_at", "promised_eta"],
        ),
        (
            |o| o.promised_eta = t0() - Duration::seconds(1),
            &["promised_eta"],
        ),
        (|o| o.lines.clear(), &["lines"]),
        (
            |o| {
                let l = o.lines[1].clone();
                o.lines = vec![l; limits::MAX_ITEMS + 1];
            },
            &["lines"],
        ),
        (|o| o.lines[0].sku.clear(), &["lines[0].sku"]),
        (
            |o| o.lines[1].category = "Fresh Food".into(),
            &["lines[1].category"],
        ),
        (|o| o.lines[0].quantity = 0, &["lines[0].quantity"]),
        (|o| o.lines[0].quantity = 10_001, &["lines[0].quantity"]),
        (
            |o| o.lines[1].unit_price = Money::parse(5_000, "USD").unwrap(),
            &["lines[1].unit_price.currency", "lines[1].discount_share"],
        ),
        (
            |o| o.lines[0].discount_share = Some(cny(20_001)),
            &["lines[0].discount_share"],
        ),
        (
            |o| o.lines[0].discount_share = Some(Money::parse(1, "USD").unwrap()),
            &["lines[0].discount_share"],
        ),
        (
            |o| o.lines[0].unit_price = cny(Money::MAX_MINOR),
            &["lines[0].unit_price"],
        ),
        (|o| o.paid_amount = cny(23_999), &["paid_amount"]),
        (|o| o.paid_amount = cny(24_001), &["paid_amount"]),
        (|o| o.shipping_fee = None, &["paid_amount"]),
    ];
    for (edit, want) in cases {
        let mut input = new_order();
        edit(&mut input);
        let err = Order::create(
            OrderId(Uuid::from_u128(1)),
            input,
            &staff(),
            &Settings::default(),
            t0(),
        )
        .unwrap_err();
        assert_eq!(invalid_fields(err), *want);
    }
}

#[test]
fn create_boundaries_accepted() {
    type Edit = fn(&mut NewOrder);
    let cases: &[Edit] = &[
        |o| o.paid_at = t0() + MAX_CLOCK_SKEW,
        |o| o.promised_eta = o.paid_at,
        |o| {
            o.lines[0].discount_share = Some(cny(20_000));
            o.paid_amount = cny(6_000);
        },
        |o| {
            o.shipping_fee = None;
            o.paid_amount = cny(23_000);
        },
        |o| {
            o.lines = vec![o.lines[1].clone(); limits::MAX_ITEMS];
            o.paid_amount = cny(5_000 * 100 + 1_000);
        },
        |o| {
            o.lines[0].unit_price = cny(0);
            o.lines[0].discount_share = None;
            o.paid_amount = cny(6_000);
        },
    ];
    for (i, edit) in cases.iter().enumerate() {
        let mut input = new_order();
        edit(&mut input);
        let r = Order::create(
            OrderId(Uuid::from_u128(1)),
            input,
            &staff(),
            &Settings::default(),
            t0(),
        );
        assert!(r.is_ok(), "case {i}: {r:?}");
    }
}

// ---- state machine --------------------------------------------------------------------------

/// Every (state, transition) pair: the transitions allowed from each state, everything else refused
/// with the named rule.
#[test]
fn state_machine_edges() {
    use OrderState as S;
    #[derive(Debug, Clone, Copy)]
    enum T {
        Start,
        Cancel,
        Address,
        Waybill,
        Ship,
        Deliver,
        Complete,
    }
    fn run(o: &mut Order, t: T) -> Result<Vec<Event>, DomainError> {
        let s = staff();
        let now = h(72);
        match t {
            T::Start => o.start_fulfilment(&s, now),
            T::Cancel => o.cancel(&s, "out of stock", now),
            T::Address => o.change_shipping_address(&s, address(), now),
            T::Waybill => o.mark_waybill_printed(&s, now, None, now),
            T::Ship => o.mark_shipped(&s, shipping(now), now),
            T::Deliver => o.confirm_delivery(&s, now, now),
            T::Complete => o.complete(&s, now),
        }
    }
    // (from, transition, Ok(to) or Err(rule))
    let cases: &[(S, T, Result<S, &str>)] = &[
        (S::Paid, T::Start, Ok(S::AwaitingShipment)),
        (S::Paid, T::Cancel, Ok(S::Canceled)),
        (S::Paid, T::Address, Ok(S::Paid)),
        (S::Paid, T::Waybill, Err("invalid_order_state")),
        (S::Paid, T::Ship, Err("invalid_order_state")),
        (S::Paid, T::Deliver, Err("invalid_order_state")),
        (S::Paid, T::Complete, Err("invalid_order_state")),
        (S::AwaitingShipment, T::Start, Err("invalid_order_state")),
        (S::AwaitingShipment, T::Cancel, Ok(S::Canceled)),
        (S::AwaitingShipment, T::Address, Ok(S::AwaitingShipment)),
        (S::AwaitingShipment, T::Waybill, Ok(S::AwaitingShipment)),
        (S::AwaitingShipment, T::Ship, Ok(S::Shipped)),
        (S::AwaitingShipment, T::Deliver, Err("invalid_order_state")),
        (S::AwaitingShipment, T::Complete, Err("invalid_order_state")),
        (S::Shipped, T::Start, Err("invalid_order_state")),
        (S::Shipped, T::Cancel, Err("waybill_already_printed")),
        (S::Shipped, T::Address, Err("waybill_already_printed")),
        (S::Shipped, T::Waybill, Err("waybill_already_printed")),
        (S::Shipped, T::Ship, Err("invalid_order_state")),
        (S::Shipped, T::Deliver, Ok(S::Delivered)),
        (S::Shipped, T::Complete, Err("invalid_order_state")),
        (S::Delivered, T::Start, Err("invalid_order_state")),
        (S::Delivered, T::Cancel, Err("waybill_already_printed")),
        (S::Delivered, T::Address, Err("waybill_already_printed")),
        (S::Delivered, T::Waybill, Err("waybill_already_printed")),
        (S::Delivered, T::Ship, Err("invalid_order_state")),
        (S::Delivered, T::Deliver, Err("invalid_order_state")),
        (S::Delivered, T::Complete, Ok(S::Completed)),
        (S::Completed, T::Start, Err("invalid_order_state")),
        (S::Completed, T::Cancel, Err("waybill_already_printed")),
        (S::Completed, T::Address, Err("waybill_already_printed")),
        (S::Completed, T::Waybill, Err("waybill_already_printed")),
        (S::Completed, T::Ship, Err("invalid_order_state")),
        (S::Completed, T::Deliver, Err("invalid_order_state")),
        (S::Completed, T::Complete, Err("invalid_order_state")),
        (S::Canceled, T::Start, Err("order_canceled")),
        (S::Canceled, T::Cancel, Err("order_canceled")),
        (S::Canceled, T::Address, Err("order_canceled")),
        (S::Canceled, T::Waybill, Err("order_canceled")),
        (S::Canceled, T::Ship, Err("order_canceled")),
        (S::Canceled, T::Deliver, Err("order_canceled")),
        (S::Canceled, T::Complete, Err("order_canceled")),
    ];
    assert_eq!(cases.len(), OrderState::ALL.len() * 7);
    for (from, t, want) in cases {
        let mut o = order_in(*from);
        let before = o.clone();
        let got = run(&mut o, *t);
        match (got, want) {
            (Ok(events), Ok(to)) => {
                assert_eq!(o.state, *to, "{from} {t:?}");
                assert!(!events.is_empty());
                assert_eq!(o.updated_at, h(72));
            }
            (Err(e), Err(r)) => {
                assert_eq!(e.rule_name(), Some(*r), "{from} {t:?}");
                assert_eq!(o, before, "a refused transition changes nothing");
            }
            (got, want) => panic!("{from} {t:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn transitions_emit_their_event_and_set_times() {
    let s = staff();
    let mut o = order();
    assert_eq!(
        o.start_fulfilment(&s, h(1)).unwrap(),
        [Event::FulfilmentStarted]
    );
    assert_eq!(
        o.mark_waybill_printed(&s, h(2), None, h(2)).unwrap(),
        [Event::WaybillPrinted]
    );
    assert_eq!(o.waybill_printed_at, Some(h(2)));
    assert_eq!(o.shipment_id, None);
    assert_eq!(
        o.mark_shipped(&s, shipping(h(3)), h(3)).unwrap(),
        [Event::Shipped]
    );
    assert_eq!(
        o.waybill_printed_at,
        Some(h(2)),
        "kept when already printed"
    );
    assert_eq!(
        (
            o.shipped_at,
            o.courier_code.as_deref(),
            o.tracking_number.as_deref()
        ),
        (Some(h(3)), Some("SF"), Some("SF123"))
    );
    assert_eq!(o.shipment_id, Some(ShipmentId(Uuid::from_u128(400))));
    assert_eq!(
        o.confirm_delivery(&s, h(30), h(31)).unwrap(),
        [Event::Delivered]
    );
    assert_eq!((o.signed_at, o.updated_at), (Some(h(30)), h(31)));
    let d = o.line_deadlines(&o.lines[0]).unwrap();
    assert_eq!(d.no_reason_until, Some(h(30) + Duration::days(7)));
    assert_eq!(o.line_deadlines(&o.lines[1]).unwrap().no_reason_until, None);
    assert_eq!(o.complete(&s, h(40)).unwrap(), [Event::Completed]);
    assert_eq!(o.completed_at, Some(h(40)));
}

#[test]
fn shipping_without_printed_waybill_records_it() {
    let mut o = order_in(OrderState::AwaitingShipment);
    o.mark_shipped(&staff(), shipping(h(5)), h(5)).unwrap();
    assert_eq!(o.waybill_printed_at, Some(h(5)));
}

#[test]
fn cancel_and_readdress_only_before_waybill() {
    let s = staff();
    for printed in [false, true] {
        let mut o = order_in(OrderState::AwaitingShipment);
        if printed {
            o.mark_waybill_printed(&s, h(1), None, h(1)).unwrap();
        }
        let mut new_addr = address();
        new_addr.street = "2 Moganshan Road".into();
        let want = if printed {
            Some("waybill_already_printed")
        } else {
            None
        };
        assert_eq!(
            rule(
                o.clone()
                    .change_shipping_address(&s, new_addr.clone(), h(2))
            ),
            want
        );
        assert_eq!(rule(o.clone().cancel(&s, "changed mind", h(2))), want);
        if !printed {
            assert_eq!(
                o.change_shipping_address(&s, new_addr, h(2)).unwrap(),
                [Event::AddressChanged]
            );
            assert_eq!(o.shipping_address.street, "2 Moganshan Road");
            assert_eq!(
                o.cancel(&s, "  changed mind ", h(3)).unwrap(),
                [Event::Canceled]
            );
            assert_eq!(
                (o.canceled_at, o.cancel_reason.as_deref()),
                (Some(h(3)), Some("changed mind"))
            );
        }
    }
}

#[test]
fn second_waybill_print_refused() {
    let mut o = order_in(OrderState::AwaitingShipment);
    o.mark_waybill_printed(&staff(), h(1), None, h(1)).unwrap();
    assert_eq!(
        rule(o.mark_waybill_printed(&staff(), h(2), None, h(2))),
        Some("waybill_already_printed")
    );
}

#[test]
fn edit_inputs_validated() {
    let s = staff();
    let o = order();
    assert_eq!(
        invalid_fields(o.clone().cancel(&s, " ", h(1)).unwrap_err()),
        ["reason"]
    );
    assert_eq!(
        invalid_fields(
            o.clone()
                .cancel(&s, &"r".repeat(limits::LONG_TEXT + 1), h(1))
                .unwrap_err()
        ),
        ["reason"]
    );
    assert!(
        o.clone()
            .cancel(&s, &"r".repeat(limits::LONG_TEXT), h(1))
            .is_ok()
    );
    let mut bad = address();
    bad.phone.clear();
    assert_eq!(
        invalid_fields(
            o.clone()
                .change_shipping_address(&s, bad, h(1))
                .unwrap_err()
        ),
        ["shipping_address.phone"]
    );
}

#[test]
fn reported_times_are_checked() {
    let s = staff();
    let skew = MAX_CLOCK_SKEW;
    let sec = Duration::seconds(1);
    let now = h(10);
    // printed_at: not before paid_at, not after now + skew.
    let cases: &[(DateTime<Utc>, bool)] = &[
        (t0() - sec, false),
        (t0(), true),
        (now + skew, true),
        (now + skew + sec, false),
    ];
    for (at, ok) in cases {
        let mut o = order_in(OrderState::AwaitingShipment);
        assert_eq!(
            o.mark_waybill_printed(&s, *at, None, now).is_ok(),
            *ok,
            "printed {at}"
        );
    }
    // shipped_at: not before the printed waybill.
    let mut printed = order_in(OrderState::AwaitingShipment);
    printed.mark_waybill_printed(&s, h(2), None, h(2)).unwrap();
    let cases: &[(DateTime<Utc>, Option<&str>)] = &[
        (h(2) - sec, Some("shipped_at")),
        (h(2), None),
        (now + skew + sec, Some("shipped_at")),
    ];
    for (at, bad) in cases {
        match (printed.clone().mark_shipped(&s, shipping(*at), now), bad) {
            (Ok(_), None) => {}
            (Err(e), Some(f)) => assert_eq!(invalid_fields(e), [*f]),
            (got, want) => panic!("{at}: {got:?} {want:?}"),
        }
    }
    let unprinted = order_in(OrderState::AwaitingShipment);
    assert!(
        unprinted
            .clone()
            .mark_shipped(&s, shipping(t0() - sec), now)
            .is_err(),
        "not before paid_at"
    );
    assert!(
        unprinted
            .clone()
            .mark_shipped(&s, shipping(t0()), now)
            .is_ok()
    );
    // signed_at: not before shipped_at (h(1) in the fixture).
    let shipped = order_in(OrderState::Shipped);
    let cases: &[(DateTime<Utc>, bool)] = &[
        (h(1) - sec, false),
        (h(1), true),
        (now + skew, true),
        (now + skew + sec, false),
    ];
    for (at, ok) in cases {
        assert_eq!(
            shipped.clone().confirm_delivery(&s, *at, now).is_ok(),
            *ok,
            "signed {at}"
        );
    }
}

#[test]
fn ship_requires_courier_and_tracking() {
    let o = order_in(OrderState::AwaitingShipment);
    let mut sh = shipping(h(1));
    sh.courier_code.clear();
    sh.tracking_number = "t".repeat(limits::SHORT_TEXT + 1);
    assert_eq!(
        invalid_fields(o.clone().mark_shipped(&staff(), sh, h(1)).unwrap_err()),
        ["courier_code", "tracking_number"]
    );
    let mut sh = shipping(h(1));
    sh.shipment_id = None;
    let mut o2 = o.clone();
    o2.mark_shipped(&staff(), sh, h(1)).unwrap();
    assert_eq!(o2.shipment_id, None);
}

#[test]
fn late_delivery_carries_overdue() {
    let eta = t0() + Duration::days(3);
    let sec = Duration::seconds(1);
    let cases: &[(DateTime<Utc>, Option<Duration>)] = &[
        (eta - sec, None),
        (eta, None),
        (eta + sec, Some(sec)),
        (eta + Duration::hours(30), Some(Duration::hours(30))),
    ];
    for (signed, overdue) in cases {
        let mut o = order_in(OrderState::Shipped);
        let events = o.confirm_delivery(&staff(), *signed, *signed).unwrap();
        let mut want = vec![Event::Delivered];
        if let Some(d) = overdue {
            want.push(Event::DeliveredLate { overdue: *d });
        }
        assert_eq!(events, want, "{signed}");
        assert_eq!(o.delivery_overdue(), *overdue);
    }
    assert_eq!(order().delivery_overdue(), None);
}

// ---- actors ---------------------------------------------------------------------------------

#[test]
fn actors_per_transition() {
    use OrderState as S;
    let courier = Actor::partner("SF");
    let other_courier = Actor::partner("YTO");
    // (from, actor, allowed) for each operation.
    type Op = fn(&mut Order, &Actor) -> Result<Vec<Event>, DomainError>;
    type Case<'a> = (&'a str, S, Op, &'a [(Actor, bool)]);
    let ops: &[Case] = &[
        (
            "start",
            S::Paid,
            |o, a| o.start_fulfilment(a, h(2)),
            &[
                (merchant(), true),
                (other_merchant(), false),
                (buyer(), false),
                (courier.clone(), false),
                (Actor::system("x"), true),
            ],
        ),
        (
            "cancel",
            S::Paid,
            |o, a| o.cancel(a, "r", h(2)),
            &[
                (buyer(), true),
                (other_buyer(), false),
                (merchant(), true),
                (other_merchant(), false),
                (courier.clone(), false),
                (staff(), true),
            ],
        ),
        (
            "address",
            S::Paid,
            |o, a| o.change_shipping_address(a, address(), h(2)),
            &[
                (buyer(), true),
                (other_buyer(), false),
                (merchant(), false),
                (courier.clone(), false),
                (staff(), true),
            ],
        ),
        (
            "waybill",
            S::AwaitingShipment,
            |o, a| o.mark_waybill_printed(a, h(2), None, h(2)),
            &[
                (merchant(), true),
                (other_merchant(), false),
                (buyer(), false),
                (staff(), true),
            ],
        ),
        (
            "ship",
            S::AwaitingShipment,
            |o, a| o.mark_shipped(a, shipping(h(2)), h(2)),
            &[
                (merchant(), true),
                (other_merchant(), false),
                (buyer(), false),
                (courier.clone(), false),
                (staff(), true),
            ],
        ),
        (
            "deliver",
            S::Shipped,
            |o, a| o.confirm_delivery(a, h(2), h(2)),
            &[
                (courier.clone(), true),
                (other_courier.clone(), false),
                (merchant(), false),
                (buyer(), false),
                (Actor::system("logistics"), true),
            ],
        ),
        (
            "complete",
            S::Delivered,
            |o, a| o.complete(a, h(30)),
            &[
                (buyer(), true),
                (other_buyer(), false),
                (merchant(), false),
                (courier.clone(), false),
                (staff(), true),
            ],
        ),
    ];
    for (name, from, op, actors) in ops {
        for (actor, allowed) in *actors {
            let mut o = order_in(*from);
            let got = op(&mut o, actor);
            if *allowed {
                assert!(got.is_ok(), "{name} by {actor:?}: {got:?}");
            } else {
                assert_eq!(rule(got), Some("actor_not_allowed"), "{name} by {actor:?}");
            }
        }
    }
    let line = order().lines[0].id;
    for actor in [buyer(), merchant(), courier.clone()] {
        let mut o = order_in(OrderState::Delivered);
        assert_eq!(
            rule(o.reserve_after_sale(&actor, line, 1, h(30))),
            Some("actor_not_allowed")
        );
        assert_eq!(
            rule(o.release_after_sale(&actor, line, 1, h(30))),
            Some("actor_not_allowed")
        );
        assert_eq!(
            rule(o.record_line_progress(&actor, line, CounterKind::Refunded, 1, h(30))),
            Some("actor_not_allowed")
        );
        assert_eq!(
            rule(o.reverse_line_progress(&actor, line, CounterKind::Refunded, 1, "r", h(30))),
            Some("actor_not_allowed")
        );
    }
}

#[test]
fn visibility() {
    let o = order_in(OrderState::Shipped);
    let cases: &[(Actor, bool)] = &[
        (staff(), true),
        (Actor::system("returns"), true),
        (buyer(), true),
        (other_buyer(), false),
        (merchant(), true),
        (other_merchant(), false),
        (Actor::partner("SF"), true),
        (Actor::partner("YTO"), false),
    ];
    for (actor, want) in cases {
        assert_eq!(o.visible_to(actor), *want, "{actor:?}");
    }
    assert!(
        !order().visible_to(&Actor::partner("SF")),
        "not yet handed to a courier"
    );
    let scoped = OrderFilter::default()
        .scoped(&Actor::partner("SF"))
        .unwrap();
    assert!(scoped.matches(&o) && !scoped.matches(&order()));
}

// ---- after-sale counters --------------------------------------------------------------------

#[test]
fn reserve_and_release() {
    let s = staff();
    let mut o = order_in(OrderState::Delivered);
    let line = o.lines[0].id; // quantity 2
    assert_eq!(
        o.reserve_after_sale(&s, line, 1, h(30)).unwrap(),
        [Event::AfterSaleReserved {
            line_id: line,
            quantity: 1
        }]
    );
    o.reserve_after_sale(&s, line, 1, h(30)).unwrap();
    assert_eq!(
        rule(o.reserve_after_sale(&s, line, 1, h(30))),
        Some("counter_exceeds_quantity")
    );
    assert_eq!(o.line(line).unwrap().counters.requested, 2);
    assert_eq!(
        o.release_after_sale(&s, line, 2, h(31)).unwrap(),
        [Event::AfterSaleReleased {
            line_id: line,
            quantity: 2
        }]
    );
    assert_eq!(
        rule(o.release_after_sale(&s, line, 1, h(31))),
        Some("release_exceeds_reserved")
    );
    assert_eq!(o.line(line).unwrap().counters.requested, 0);
    assert_eq!(o.updated_at, h(31));
}

#[test]
fn reserve_allowed_in_every_state_but_canceled() {
    for state in OrderState::ALL {
        let mut o = order_in(*state);
        let line = o.lines[1].id;
        let got = o.reserve_after_sale(&staff(), line, 1, h(60));
        if *state == OrderState::Canceled {
            assert_eq!(rule(got), Some("order_canceled"));
        } else {
            assert!(got.is_ok(), "{state}");
        }
        // release, progress and reversal stay possible for compensations
        let mut c = order_in(*state);
        let line = c.lines[1].id;
        c.lines[1].counters = LineCounters {
            requested: 1,
            refunded: 1,
            ..LineCounters::default()
        };
        assert!(
            c.release_after_sale(&staff(), line, 1, h(60)).is_ok(),
            "{state}"
        );
        assert!(
            c.reverse_line_progress(
                &staff(),
                line,
                CounterKind::Refunded,
                1,
                "saga compensation",
                h(60)
            )
            .is_ok()
        );
        assert!(
            c.record_line_progress(&staff(), line, CounterKind::Refunded, 1, h(60))
                .is_ok(),
            "{state}"
        );
    }
}

#[test]
fn progress_respects_combined_invariant() {
    let s = staff();
    let mut o = order_in(OrderState::Delivered);
    let line = o.lines[0].id; // quantity 2
    let rec =
        |o: &mut Order, k: CounterKind, q: u32| o.record_line_progress(&staff(), line, k, q, h(40));
    assert_eq!(
        rec(&mut o, CounterKind::ReturnedReceived, 2).unwrap(),
        [Event::LineProgressRecorded {
            line_id: line,
            kind: CounterKind::ReturnedReceived,
            quantity: 2
        }]
    );
    assert_eq!(
        rule(rec(&mut o, CounterKind::ReturnedReceived, 1)),
        Some("counter_exceeds_quantity")
    );
    rec(&mut o, CounterKind::Refunded, 1).unwrap();
    rec(&mut o, CounterKind::Replaced, 1).unwrap();
    assert_eq!(
        rule(rec(&mut o, CounterKind::Reshipped, 1)),
        Some("line_outcomes_exceed_quantity")
    );
    assert_eq!(
        o.reverse_line_progress(
            &s,
            line,
            CounterKind::Replaced,
            1,
            "exchange out of stock",
            h(41)
        )
        .unwrap(),
        [Event::LineProgressReversed {
            line_id: line,
            kind: CounterKind::Replaced,
            quantity: 1
        }]
    );
    rec(&mut o, CounterKind::Reshipped, 1).unwrap();
    assert_eq!(
        o.line(line).unwrap().counters,
        LineCounters {
            requested: 0,
            returned_received: 2,
            refunded: 1,
            replaced: 0,
            reshipped: 1,
            canceled: 0
        }
    );
    assert_eq!(
        rule(o.reverse_line_progress(&s, line, CounterKind::Replaced, 1, "r", h(42))),
        Some("reversal_exceeds_recorded")
    );
}

#[test]
fn canceling_units_only_before_shipment() {
    // (state, printed waybill, expected rule)
    let cases: &[(OrderState, bool, Option<&str>)] = &[
        (OrderState::Paid, false, None),
        (OrderState::AwaitingShipment, false, None),
        (OrderState::AwaitingShipment, true, None),
        (OrderState::Shipped, false, Some("order_already_shipped")),
        (OrderState::Delivered, false, Some("order_already_shipped")),
        (OrderState::Completed, false, Some("order_already_shipped")),
        (OrderState::Canceled, false, Some("order_canceled")),
    ];
    for (state, printed, want) in cases {
        let mut o = order_in(*state);
        if *printed {
            o.mark_waybill_printed(&staff(), h(1), None, h(1)).unwrap();
        }
        let before = o.clone();
        let line = o.lines[0].id;
        let got = o.record_line_progress(&staff(), line, CounterKind::Canceled, 1, h(2));
        match want {
            None => {
                assert_eq!(
                    got.unwrap(),
                    [Event::LineProgressRecorded {
                        line_id: line,
                        kind: CounterKind::Canceled,
                        quantity: 1
                    }],
                    "{state}"
                );
                assert_eq!(o.line(line).unwrap().counters.canceled, 1);
                assert_eq!(
                    o.state, *state,
                    "one unit of three does not cancel the order"
                );
            }
            Some(rule_name) => {
                assert_eq!(rule(got), Some(*rule_name), "{state}");
                assert_eq!(o, before, "a refused change changes nothing");
            }
        }
    }
    let mut o = order();
    assert!(matches!(
        o.record_line_progress(&merchant(), o.lines[0].id, CounterKind::Canceled, 1, h(1)),
        Err(DomainError::Rule(r)) if r.rule == "actor_not_allowed"
    ));
}

#[test]
fn canceling_every_unit_cancels_the_order_and_reversal_restores_it() {
    for (from, printed) in [
        (OrderState::Paid, false),
        (OrderState::AwaitingShipment, false),
        (OrderState::AwaitingShipment, true),
    ] {
        let mut o = order_in(from);
        if printed {
            o.mark_waybill_printed(&staff(), h(1), None, h(1)).unwrap();
        }
        let (l0, l1) = (o.lines[0].id, o.lines[1].id);
        let cancel = |o: &mut Order, line, q| {
            o.record_line_progress(&staff(), line, CounterKind::Canceled, q, h(2))
        };
        cancel(&mut o, l0, 2).unwrap();
        assert_eq!(o.state, from, "line 2 is not canceled yet");
        assert!(!o.every_unit_canceled());
        let version = o.version;
        assert_eq!(
            cancel(&mut o, l1, 1).unwrap(),
            [
                Event::LineProgressRecorded {
                    line_id: l1,
                    kind: CounterKind::Canceled,
                    quantity: 1
                },
                Event::Canceled
            ]
        );
        assert_eq!(o.version, version + 1, "one change, two events");
        assert_eq!(
            (o.state, o.canceled_from, o.canceled_at),
            (OrderState::Canceled, Some(from), Some(h(2)))
        );
        assert_eq!(o.cancel_reason.as_deref(), Some(EVERY_UNIT_CANCELED));
        // a canceled unit cannot also be replaced or reshipped (it may be refunded)
        assert_eq!(
            rule(o.record_line_progress(&staff(), l0, CounterKind::Replaced, 1, h(3))),
            Some("line_outcomes_exceed_quantity")
        );
        assert_eq!(rule(cancel(&mut o, l0, 1)), Some("order_canceled"));

        // compensation: restoring one unit brings the order back to where it was
        assert_eq!(
            o.reverse_line_progress(
                &staff(),
                l1,
                CounterKind::Canceled,
                1,
                "saga compensated",
                h(4)
            )
            .unwrap(),
            [
                Event::LineProgressReversed {
                    line_id: l1,
                    kind: CounterKind::Canceled,
                    quantity: 1
                },
                Event::CancelReverted
            ]
        );
        assert_eq!(
            (
                o.state,
                o.canceled_from,
                o.canceled_at,
                o.cancel_reason.clone()
            ),
            (from, None, None, None)
        );
        assert_eq!(o.waybill_printed_at.is_some(), printed);
        // the next reversal is a plain counter move
        assert_eq!(
            o.reverse_line_progress(
                &staff(),
                l0,
                CounterKind::Canceled,
                2,
                "saga compensated",
                h(5)
            )
            .unwrap()
            .len(),
            1
        );
        assert_eq!(o.state, from);
        assert!(o.lines.iter().all(|l| l.counters.canceled == 0));
    }
}

#[test]
fn reversing_units_of_an_order_canceled_by_request_keeps_it_canceled() {
    let mut o = order();
    let line = o.lines[0].id;
    o.record_line_progress(&staff(), line, CounterKind::Canceled, 1, h(1))
        .unwrap();
    o.cancel(&staff(), "buyer asked", h(2)).unwrap();
    assert_eq!(o.canceled_from, None);
    let events = o
        .reverse_line_progress(&staff(), line, CounterKind::Canceled, 1, "undo", h(3))
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(o.state, OrderState::Canceled);
    assert_eq!(o.cancel_reason.as_deref(), Some("buyer asked"));
}

#[test]
fn counter_inputs_validated() {
    let s = staff();
    let o = order_in(OrderState::Delivered);
    let line = o.lines[0].id;
    let unknown = OrderLineId(Uuid::from_u128(12345));
    let cases: Vec<(Result<Vec<Event>, DomainError>, &str)> = vec![
        (
            o.clone().reserve_after_sale(&s, unknown, 1, h(30)),
            "line_id",
        ),
        (o.clone().reserve_after_sale(&s, line, 0, h(30)), "quantity"),
        (
            o.clone().release_after_sale(&s, unknown, 1, h(30)),
            "line_id",
        ),
        (
            o.clone()
                .record_line_progress(&s, line, CounterKind::Requested, 1, h(30)),
            "kind",
        ),
        (
            o.clone()
                .record_line_progress(&s, line, CounterKind::Refunded, 0, h(30)),
            "quantity",
        ),
        (
            o.clone()
                .record_line_progress(&s, unknown, CounterKind::Refunded, 1, h(30)),
            "line_id",
        ),
        (
            o.clone()
                .reverse_line_progress(&s, line, CounterKind::Requested, 1, "r", h(30)),
            "kind",
        ),
        (
            o.clone()
                .reverse_line_progress(&s, line, CounterKind::Refunded, 1, " ", h(30)),
            "reason",
        ),
    ];
    for (got, field) in cases {
        assert_eq!(invalid_fields(got.unwrap_err()), [field]);
    }
}

#[test]
fn state_text_round_trips() {
    for s in OrderState::ALL {
        assert_eq!(OrderState::parse(s.as_str()), Some(*s));
    }
    assert_eq!(OrderState::parse("paid"), None);
    let terminal: Vec<_> = OrderState::ALL.iter().filter(|s| s.is_terminal()).collect();
    assert_eq!(terminal, [&OrderState::Completed, &OrderState::Canceled]);
}

#[test]
fn net_amount_out_of_range_is_a_rule() {
    let mut o = order();
    o.lines[0].unit_price = cny(Money::MAX_MINOR);
    assert_eq!(
        o.lines[0].net_amount().unwrap_err().rule_name(),
        Some("amount_out_of_range")
    );
}

#[test]
fn version_counts_every_change_and_only_successful_ones() {
    let mut o = order();
    assert_eq!(o.version, 1);
    let s = staff();
    o.start_fulfilment(&s, h(0)).unwrap();
    assert_eq!(o.version, 2);
    assert!(o.complete(&s, h(0)).is_err());
    assert_eq!(o.version, 2, "a refused change does not count");
    let line = o.lines[0].id;
    o.reserve_after_sale(&s, line, 1, h(0)).unwrap();
    o.mark_shipped(&s, shipping(h(1)), h(1)).unwrap();
    assert_eq!(o.version, 4);
    let late = o.promised_eta + Duration::hours(2);
    let events = o.confirm_delivery(&s, late, late).unwrap();
    assert_eq!(events.len(), 2, "delivered and delivered_late");
    assert_eq!(o.version, 5, "one change, however many events");
}
