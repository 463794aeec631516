//! The order aggregate: creation from the storefront, the forward state machine, edits before
//! the waybill is printed, and the per-line after-sale counters.

use super::actor::{Actor, not_allowed};
use super::address::Address;
use super::counters::{CounterKind, LineCounters};
use super::event::Event;
use super::ids::{BuyerId, MerchantId, OrderId, OrderLineId, ShipmentId};
use super::policy::{LineDeadlines, MemberTier, PolicySnapshot, Settings};
use super::validate::{self, Violations};
use aftersales_kernel::{DomainError, FieldViolation, Money, limits};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How far in the future a reported time (paid, printed, shipped, signed) may be: clock skew
/// between the reporting system and this service.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(5);

text_enum!(
    /// `PAID → AWAITING_SHIPMENT → SHIPPED → DELIVERED → COMPLETED`, and `CANCELED`.
    OrderState {
        Paid => "PAID",
        AwaitingShipment => "AWAITING_SHIPMENT",
        Shipped => "SHIPPED",
        Delivered => "DELIVERED",
        Completed => "COMPLETED",
        Canceled => "CANCELED",
    }
);

impl OrderState {
    /// No further forward transition (after-sale counters still move on completed orders).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Canceled)
    }
}

/// A line as sent by the storefront (fields parsed, not yet cross-checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderLine {
    pub sku: String,
    pub category: String,
    pub quantity: u32,
    pub unit_price: Money,
    /// `None`: no discount.
    pub discount_share: Option<Money>,
}

/// A paid order as sent by the storefront; [`Order::create`] checks it as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub shipping_address: Address,
    pub payment_reference: String,
    pub paid_amount: Money,
    /// `None`: free shipping.
    pub shipping_fee: Option<Money>,
    pub member_tier: MemberTier,
    pub shipping_insurance: bool,
    pub lines: Vec<NewOrderLine>,
    pub paid_at: DateTime<Utc>,
    pub promised_eta: DateTime<Utc>,
}

/// One order line with its frozen policy and after-sale counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    pub id: OrderLineId,
    pub sku: String,
    pub category: String,
    pub quantity: u32,
    pub unit_price: Money,
    /// Share of the order discounts for the whole line.
    pub discount_share: Money,
    pub policy: PolicySnapshot,
    pub counters: LineCounters,
}

impl OrderLine {
    /// What the buyer paid for the line: unit price × quantity − discount share.
    pub fn net_amount(&self) -> Result<Money, DomainError> {
        line_net(self.unit_price, self.quantity, self.discount_share)
            .map_err(|e| DomainError::rule("amount_out_of_range", e))
    }
}

fn line_net(unit_price: Money, quantity: u32, discount: Money) -> Result<Money, &'static str> {
    let gross = unit_price
        .checked_mul(i64::from(quantity))
        .map_err(|_| "line total is out of range")?;
    if discount.currency() != gross.currency() {
        return Err("must be in the order currency");
    }
    if discount.minor() > gross.minor() {
        return Err("must not exceed unit_price * quantity");
    }
    gross
        .saturating_sub(discount)
        .map_err(|_| "must be in the order currency")
}

/// Forward shipment details reported by [`Order::mark_shipped`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shipping {
    pub shipped_at: DateTime<Utc>,
    pub courier_code: String,
    pub tracking_number: String,
    pub shipment_id: Option<ShipmentId>,
}

/// The order aggregate. Fields are public for storage mapping; change them only through the
/// methods below, which check the state machine, the actor and the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: OrderId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub state: OrderState,
    pub shipping_address: Address,
    pub payment_reference: String,
    /// Sum of line net amounts + shipping fee: the cap of all refunds.
    pub paid_amount: Money,
    pub shipping_fee: Money,
    pub member_tier: MemberTier,
    pub shipping_insurance: bool,
    pub lines: Vec<OrderLine>,
    pub paid_at: DateTime<Utc>,
    pub promised_eta: DateTime<Utc>,
    pub waybill_printed_at: Option<DateTime<Utc>>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub signed_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// The state the order was in when every unit was canceled (it moved to `CANCELED` then);
    /// reversing the cancellation moves it back. `None` unless canceled that way.
    #[serde(default)]
    pub canceled_from: Option<OrderState>,
    pub courier_code: Option<String>,
    pub tracking_number: Option<String>,
    pub shipment_id: Option<ShipmentId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change (1 at creation): replicas apply an event only when newer.
    pub version: i64,
}

type Events = Result<Vec<Event>, DomainError>;

impl Order {
    /// Records a paid order (state `PAID`), freezing each line's policy from `settings`.
    /// Only staff or internal services (the storefront) may create orders. Every input problem is
    /// reported at once, named by its request field; `paid_amount` must equal the sum of the line
    /// net amounts plus the shipping fee.
    pub fn create(
        id: OrderId,
        input: NewOrder,
        actor: &Actor,
        settings: &Settings,
        now: DateTime<Utc>,
    ) -> Result<(Order, Event), DomainError> {
        if !actor.is_internal() {
            return Err(not_allowed(actor, "create orders"));
        }
        let mut v = Violations::new();
        let currency = input.paid_amount.currency();
        let zero = Money::zero(currency);
        let payment_reference = v.check(validate::required_text(
            "payment_reference",
            &input.payment_reference,
            limits::SHORT_TEXT,
        ));
        let shipping_address = match input.shipping_address.validated("shipping_address") {
            Ok(a) => Some(a),
            Err(e) => {
                push_all(&mut v, e);
                None
            }
        };
        let shipping_fee = input.shipping_fee.unwrap_or(zero);
        if shipping_fee.currency() != currency {
            v.push("shipping_fee.currency", "must be the paid_amount currency");
        }
        if input.paid_at > now + MAX_CLOCK_SKEW {
            v.push("paid_at", "must not be in the future");
        }
        if input.promised_eta < input.paid_at {
            v.push("promised_eta", "must not be before paid_at");
        }
        if input.lines.is_empty() {
            v.push("lines", "must have at least one entry");
        } else if input.lines.len() > limits::MAX_ITEMS {
            v.push(
                "lines",
                format!("must have at most {} entries", limits::MAX_ITEMS),
            );
        }
        let mut lines = Vec::with_capacity(input.lines.len());
        let mut total: Option<Money> = Some(shipping_fee);
        for (i, l) in input.lines.iter().enumerate() {
            let f = |part: &str| format!("lines[{i}].{part}");
            let sku = v.check(validate::required_text(
                &f("sku"),
                &l.sku,
                limits::SHORT_TEXT,
            ));
            let category = v.check(validate::category(&f("category"), &l.category));
            let quantity = v.check(validate::quantity(&f("quantity"), l.quantity));
            if l.unit_price.currency() != currency {
                v.push(f("unit_price.currency"), "must be the paid_amount currency");
            }
            let discount = l.discount_share.unwrap_or(zero);
            let net = match quantity.map(|q| line_net(l.unit_price, q, discount)) {
                None => None,
                Some(Ok(n)) => Some(n),
                Some(Err(msg)) => {
                    let field = if msg.starts_with("line total") {
                        f("unit_price")
                    } else {
                        f("discount_share")
                    };
                    v.push(field, msg);
                    None
                }
            };
            total = match (total, net) {
                (Some(t), Some(n)) => t.checked_add(n).ok(),
                _ => None,
            };
            if let (Some(sku), Some(category), Some(quantity)) = (sku, category, quantity) {
                let policy =
                    settings.snapshot(&category, input.member_tier, input.shipping_insurance);
                lines.push(OrderLine {
                    id: OrderLineId::generate(),
                    sku,
                    category,
                    quantity,
                    unit_price: l.unit_price,
                    discount_share: discount,
                    policy,
                    counters: LineCounters::default(),
                });
            }
        }
        if v.is_empty() && total != Some(input.paid_amount) {
            let expected = total.map_or_else(|| "an amount in range".to_owned(), |t| t.to_string());
            v.push(
                "paid_amount",
                format!("must equal line net amounts plus shipping_fee ({expected})"),
            );
        }
        v.finish()?;
        let (Some(payment_reference), Some(shipping_address)) =
            (payment_reference, shipping_address)
        else {
            return Err(DomainError::field("order", "is invalid"));
        };
        let order = Order {
            id,
            buyer_id: input.buyer_id,
            merchant_id: input.merchant_id,
            state: OrderState::Paid,
            shipping_address,
            payment_reference,
            paid_amount: input.paid_amount,
            shipping_fee,
            member_tier: input.member_tier,
            shipping_insurance: input.shipping_insurance,
            lines,
            paid_at: input.paid_at,
            promised_eta: input.promised_eta,
            waybill_printed_at: None,
            shipped_at: None,
            signed_at: None,
            completed_at: None,
            canceled_at: None,
            cancel_reason: None,
            canceled_from: None,
            courier_code: None,
            tracking_number: None,
            shipment_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        Ok((order, Event::Created))
    }

    /// Whether `actor` may see this order: staff and services all, a buyer or merchant its own,
    /// a courier partner the orders it carries. Invisible orders are reported as not found.
    pub fn visible_to(&self, actor: &Actor) -> bool {
        actor.is_internal()
            || actor.is_buyer(self.buyer_id)
            || actor.is_merchant(self.merchant_id)
            || actor.is_courier(self.courier_code.as_deref())
    }

    pub fn line(&self, id: OrderLineId) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.id == id)
    }

    /// Deadlines of a line's policy windows, once delivered.
    pub fn line_deadlines(&self, line: &OrderLine) -> Option<LineDeadlines> {
        self.signed_at.map(|s| line.policy.deadlines(s))
    }

    /// How late the delivery was: `signed_at − promised_eta` when positive.
    pub fn delivery_overdue(&self) -> Option<Duration> {
        self.signed_at
            .map(|s| s - self.promised_eta)
            .filter(|d| *d > Duration::zero())
    }

    /// `PAID → AWAITING_SHIPMENT`. Actors: owning merchant, staff, system.
    pub fn start_fulfilment(&mut self, actor: &Actor, now: DateTime<Utc>) -> Events {
        self.authorize_merchant(actor, "start fulfilment of this order")?;
        self.expect_state(&[OrderState::Paid], "start fulfilment of")?;
        self.state = OrderState::AwaitingShipment;
        self.touch(now, Event::FulfilmentStarted)
    }

    /// `PAID | AWAITING_SHIPMENT → CANCELED` before the waybill is printed
    /// (`waybill_already_printed` after). Actors: owning buyer or merchant, staff, system.
    pub fn cancel(&mut self, actor: &Actor, reason: &str, now: DateTime<Utc>) -> Events {
        if !(actor.is_internal()
            || actor.is_buyer(self.buyer_id)
            || actor.is_merchant(self.merchant_id))
        {
            return Err(not_allowed(actor, "cancel this order"));
        }
        self.expect_editable("canceled")?;
        let reason = validate::reason("reason", reason)?;
        self.mark_canceled(reason, now);
        self.touch_with(now, vec![Event::Canceled])
    }

    /// Replaces the shipping address before the waybill is printed (`waybill_already_printed`
    /// after). Actors: owning buyer, staff, system.
    pub fn change_shipping_address(
        &mut self,
        actor: &Actor,
        address: Address,
        now: DateTime<Utc>,
    ) -> Events {
        if !(actor.is_internal() || actor.is_buyer(self.buyer_id)) {
            return Err(not_allowed(actor, "change the address of this order"));
        }
        self.expect_editable("re-addressed")?;
        self.shipping_address = address.validated("shipping_address")?;
        self.touch(now, Event::AddressChanged)
    }

    /// Records the forward waybill as printed (`AWAITING_SHIPMENT` only, once): from now on the
    /// order can no longer be canceled or re-addressed. Actors: owning merchant, staff, system.
    pub fn mark_waybill_printed(
        &mut self,
        actor: &Actor,
        printed_at: DateTime<Utc>,
        shipment_id: Option<ShipmentId>,
        now: DateTime<Utc>,
    ) -> Events {
        self.authorize_merchant(actor, "print the waybill of this order")?;
        if self.state == OrderState::Canceled {
            return Err(canceled());
        }
        if self.waybill_printed_at.is_some() {
            return Err(waybill_printed("printed again"));
        }
        self.expect_state(&[OrderState::AwaitingShipment], "print the waybill of")?;
        self.check_time(
            "printed_at",
            printed_at,
            Some(("paid_at", self.paid_at)),
            now,
        )?;
        self.waybill_printed_at = Some(printed_at);
        if shipment_id.is_some() {
            self.shipment_id = shipment_id;
        }
        self.touch(now, Event::WaybillPrinted)
    }

    /// `AWAITING_SHIPMENT → SHIPPED`; records the waybill as printed at `shipped_at` if it was not.
    /// Actors: owning merchant, staff, system.
    pub fn mark_shipped(
        &mut self,
        actor: &Actor,
        shipping: Shipping,
        now: DateTime<Utc>,
    ) -> Events {
        self.authorize_merchant(actor, "ship this order")?;
        self.expect_state(&[OrderState::AwaitingShipment], "ship")?;
        let mut v = Violations::new();
        let courier_code = v.check(validate::required_text(
            "courier_code",
            &shipping.courier_code,
            limits::SHORT_TEXT,
        ));
        let tracking_number = v.check(validate::required_text(
            "tracking_number",
            &shipping.tracking_number,
            limits::SHORT_TEXT,
        ));
        let after = match self.waybill_printed_at {
            Some(p) => ("waybill_printed_at", p),
            None => ("paid_at", self.paid_at),
        };
        v.check(self.check_time("shipped_at", shipping.shipped_at, Some(after), now));
        v.finish()?;
        self.state = OrderState::Shipped;
        self.shipped_at = Some(shipping.shipped_at);
        self.waybill_printed_at.get_or_insert(shipping.shipped_at);
        self.courier_code = courier_code;
        self.tracking_number = tracking_number;
        if shipping.shipment_id.is_some() {
            self.shipment_id = shipping.shipment_id;
        }
        self.touch(now, Event::Shipped)
    }

    /// `SHIPPED → DELIVERED` at `signed_at`. Emits `Delivered`, plus `DeliveredLate` with the
    /// overdue duration when signed strictly after the promised ETA.
    /// Actors: the carrying courier partner, staff, system.
    pub fn confirm_delivery(
        &mut self,
        actor: &Actor,
        signed_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Events {
        if !(actor.is_internal() || actor.is_courier(self.courier_code.as_deref())) {
            return Err(not_allowed(actor, "confirm delivery of this order"));
        }
        self.expect_state(&[OrderState::Shipped], "confirm delivery of")?;
        let shipped_at = self.shipped_at.unwrap_or(self.paid_at);
        self.check_time(
            "signed_at",
            signed_at,
            Some(("shipped_at", shipped_at)),
            now,
        )?;
        self.state = OrderState::Delivered;
        self.signed_at = Some(signed_at);
        self.updated_at = now;
        self.version += 1;
        let mut events = vec![Event::Delivered];
        if let Some(overdue) = self.delivery_overdue() {
            events.push(Event::DeliveredLate { overdue });
        }
        Ok(events)
    }

    /// `DELIVERED → COMPLETED` (receipt confirmed or auto-confirmed). Actors: owning buyer,
    /// staff, system.
    pub fn complete(&mut self, actor: &Actor, now: DateTime<Utc>) -> Events {
        if !(actor.is_internal() || actor.is_buyer(self.buyer_id)) {
            return Err(not_allowed(actor, "complete this order"));
        }
        self.expect_state(&[OrderState::Delivered], "complete")?;
        self.state = OrderState::Completed;
        self.completed_at = Some(now);
        self.touch(now, Event::Completed)
    }

    /// Reserves `qty` units of a line for an after-sale request (the `requested` counter).
    /// Refused on canceled orders. Actors: staff, system.
    pub fn reserve_after_sale(
        &mut self,
        actor: &Actor,
        line_id: OrderLineId,
        qty: u32,
        now: DateTime<Utc>,
    ) -> Events {
        self.authorize_internal(actor, "reserve after-sale units")?;
        if self.state == OrderState::Canceled {
            return Err(canceled());
        }
        self.move_counter(line_id, CounterKind::Requested, qty, true)?;
        self.touch(
            now,
            Event::AfterSaleReserved {
                line_id,
                quantity: qty,
            },
        )
    }

    /// Releases reserved units (request withdrawn or rejected, saga compensation); any state.
    /// Actors: staff, system.
    pub fn release_after_sale(
        &mut self,
        actor: &Actor,
        line_id: OrderLineId,
        qty: u32,
        now: DateTime<Utc>,
    ) -> Events {
        self.authorize_internal(actor, "release after-sale units")?;
        self.move_counter(line_id, CounterKind::Requested, qty, false)?;
        self.touch(
            now,
            Event::AfterSaleReleased {
                line_id,
                quantity: qty,
            },
        )
    }

    /// Adds `qty` to a progress counter (returned-received, refunded, replaced, reshipped,
    /// canceled); any state, except that units are canceled only before shipment (`PAID` or
    /// `AWAITING_SHIPMENT`, even after the waybill is printed: the saga voids it first;
    /// `order_already_shipped`, `order_canceled`). When every unit of every line is canceled, the
    /// order moves to `CANCELED` (remembering the state it came from) and `Canceled` is emitted
    /// too. Actors: staff, system.
    pub fn record_line_progress(
        &mut self,
        actor: &Actor,
        line_id: OrderLineId,
        kind: CounterKind,
        qty: u32,
        now: DateTime<Utc>,
    ) -> Events {
        self.authorize_internal(actor, "record line progress")?;
        progress_kind(kind)?;
        if kind == CounterKind::Canceled {
            self.expect_unshipped()?;
        }
        self.move_counter(line_id, kind, qty, true)?;
        let mut events = vec![Event::LineProgressRecorded {
            line_id,
            kind,
            quantity: qty,
        }];
        if kind == CounterKind::Canceled && self.every_unit_canceled() {
            self.canceled_from = Some(self.state);
            self.mark_canceled(EVERY_UNIT_CANCELED.to_owned(), now);
            events.push(Event::Canceled);
        }
        self.touch_with(now, events)
    }

    /// Whether every unit of every line is canceled.
    pub fn every_unit_canceled(&self) -> bool {
        self.lines.iter().all(|l| l.counters.canceled >= l.quantity)
    }

    /// Subtracts `qty` from a progress counter (saga compensation); needs a reason for the audit
    /// record. Reversing canceled units of an order that moved to `CANCELED` because every unit
    /// was canceled moves it back to the state it came from (`CancelReverted`).
    /// Actors: staff, system.
    pub fn reverse_line_progress(
        &mut self,
        actor: &Actor,
        line_id: OrderLineId,
        kind: CounterKind,
        qty: u32,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Events {
        self.authorize_internal(actor, "reverse line progress")?;
        progress_kind(kind)?;
        validate::reason("reason", reason)?;
        self.move_counter(line_id, kind, qty, false)?;
        let mut events = vec![Event::LineProgressReversed {
            line_id,
            kind,
            quantity: qty,
        }];
        // `canceled_from` is only ever set on an order canceled because every unit was.
        if kind == CounterKind::Canceled
            && let Some(from) = self.canceled_from.take()
        {
            self.state = from;
            self.canceled_at = None;
            self.cancel_reason = None;
            events.push(Event::CancelReverted);
        }
        self.touch_with(now, events)
    }

    fn move_counter(
        &mut self,
        line_id: OrderLineId,
        kind: CounterKind,
        qty: u32,
        add: bool,
    ) -> Result<(), DomainError> {
        let line = self
            .lines
            .iter_mut()
            .find(|l| l.id == line_id)
            .ok_or_else(|| DomainError::field("line_id", "is not a line of this order"))?;
        line.counters = if add {
            line.counters.apply(line.quantity, kind, qty)?
        } else {
            line.counters.revert(kind, qty)?
        };
        Ok(())
    }

    fn touch(&mut self, now: DateTime<Utc>, event: Event) -> Events {
        self.touch_with(now, vec![event])
    }

    /// One change: bumps the version once, whatever number of events it publishes.
    fn touch_with(&mut self, now: DateTime<Utc>, events: Vec<Event>) -> Events {
        self.updated_at = now;
        self.version += 1;
        Ok(events)
    }

    fn mark_canceled(&mut self, reason: String, now: DateTime<Utc>) {
        self.state = OrderState::Canceled;
        self.canceled_at = Some(now);
        self.cancel_reason = Some(reason);
    }

    fn authorize_merchant(&self, actor: &Actor, what: &str) -> Result<(), DomainError> {
        if actor.is_internal() || actor.is_merchant(self.merchant_id) {
            Ok(())
        } else {
            Err(not_allowed(actor, what))
        }
    }

    fn authorize_internal(&self, actor: &Actor, what: &str) -> Result<(), DomainError> {
        if actor.is_internal() {
            Ok(())
        } else {
            Err(not_allowed(actor, what))
        }
    }

    fn expect_state(&self, allowed: &[OrderState], verb: &str) -> Result<(), DomainError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else if self.state == OrderState::Canceled {
            Err(canceled())
        } else {
            Err(DomainError::rule(
                "invalid_order_state",
                format!("cannot {verb} an order in state {}", self.state),
            ))
        }
    }

    /// Canceling units: only before shipment (the waybill may be printed).
    fn expect_unshipped(&self) -> Result<(), DomainError> {
        match self.state {
            OrderState::Paid | OrderState::AwaitingShipment => Ok(()),
            OrderState::Canceled => Err(canceled()),
            other => Err(DomainError::rule(
                "order_already_shipped",
                format!("units of a {other} order can no longer be canceled"),
            )),
        }
    }

    /// Cancel and address changes: only before the waybill is printed.
    fn expect_editable(&self, what: &str) -> Result<(), DomainError> {
        if self.state == OrderState::Canceled {
            return Err(canceled());
        }
        if self.waybill_printed_at.is_some()
            || !matches!(self.state, OrderState::Paid | OrderState::AwaitingShipment)
        {
            return Err(waybill_printed(what));
        }
        Ok(())
    }

    /// A reported time must not be in the future nor before the previous milestone.
    fn check_time(
        &self,
        field: &str,
        at: DateTime<Utc>,
        not_before: Option<(&str, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Result<(), FieldViolation> {
        if at > now + MAX_CLOCK_SKEW {
            return Err(FieldViolation::new(field, "must not be in the future"));
        }
        match not_before {
            Some((other, t)) if at < t => Err(FieldViolation::new(
                field,
                format!("must not be before {other}"),
            )),
            _ => Ok(()),
        }
    }
}

/// `cancel_reason` of an order canceled because every unit was canceled.
pub const EVERY_UNIT_CANCELED: &str = "every unit canceled";

fn canceled() -> DomainError {
    DomainError::rule("order_canceled", "the order is canceled")
}

fn waybill_printed(what: &str) -> DomainError {
    DomainError::rule(
        "waybill_already_printed",
        format!("the waybill is printed; the order cannot be {what}"),
    )
}

fn progress_kind(kind: CounterKind) -> Result<(), DomainError> {
    if kind == CounterKind::Requested {
        Err(DomainError::field(
            "kind",
            "must be returned_received, refunded, replaced, reshipped or canceled",
        ))
    } else {
        Ok(())
    }
}

fn push_all(v: &mut Violations, e: DomainError) {
    match e {
        DomainError::Invalid(list) => list
            .into_iter()
            .for_each(|f| v.push(f.field, f.description)),
        DomainError::Rule(r) => v.push("order", r.to_string()),
    }
}

#[cfg(test)]
mod tests;
