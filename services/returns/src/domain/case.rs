//! The after-sale case (售后单): creation, merchant decision, negotiation, withdrawal, type
//! change and staff overrides. The return leg is in `items.rs`, money and replacement in
//! `settle.rs`, platform intervention in `arbitration.rs`.
//!
//! ```text
//! REQUESTED -> PENDING_MERCHANT --approve/auto(48h)--> APPROVED | AWAITING_BUYER_SHIPMENT
//!                  |  ^   \--reject--> REJECTED
//!        offer     v  |decline
//!              NEGOTIATING --accept--> APPROVED
//! REFUND_ONLY + NOT_SHIPPED: REQUESTED -> APPROVED at once (fast refund)
//! any state before money moves --withdraw--> WITHDRAWN
//! APPROVED --close (claim decided against the buyer, with a reason)--> CLOSED
//! ```

use super::actor::Actor;
use super::arbitration::Arbitration;
use super::eligibility::{EligibilityQuery, check_eligibility};
use super::enums::{
    ActorKind, CaseStatus, CaseType, Channel, Disposition, InspectionStatus, InterceptionStatus,
    OfferStatus, ReasonCode, ReceptionStatus, Responsibility, ShipmentState,
};
use super::event::CaseEvent;
use super::ids::{BuyerId, CaseId, CaseItemId, MerchantId, OrderId, OrderLineId};
use super::order::{OrderSnapshot, money_err};
use super::policy::Settings;
use super::refund::{RefundBreakdown, RefundQuery, check_refund_cap, compute_refund, owes_nothing};
use super::validate::{self, EvidenceRef};
use aftersales_kernel::{DomainError, FieldViolation, Money, limits};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What the warehouse saw when inspecting an item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemCondition {
    pub packaging_intact: bool,
    /// Damage that prevents a second sale (used, scratched, tags removed...).
    pub second_sale_damage: bool,
    pub note: Option<String>,
}

impl ItemCondition {
    /// Resellable: original packaging intact and no second-sale damage.
    pub fn resellable(&self) -> bool {
        self.packaging_intact && !self.second_sale_damage
    }
}

/// The variant an exchanged item is replaced by (another size or colour, maybe at another price).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub sku: String,
    pub unit_price: Money,
}

/// The price difference of an exchanged item, settled before the replacement ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceDifference {
    /// The same price (or no replacement named): nothing to settle.
    None,
    /// The replacement costs more: the buyer pays this.
    BuyerPays(Money),
    /// The replacement costs less: the buyer gets this back once it shipped.
    BuyerGetsBack(Money),
}

/// One order line (and quantity) covered by a case, with its three independent statuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseItem {
    pub id: CaseItemId,
    pub line_id: OrderLineId,
    pub sku: String,
    pub quantity: u32,
    /// This item's part of the computed refund (price minus its discount share).
    pub refund_amount: Money,
    pub reception: ReceptionStatus,
    pub received_quantity: u32,
    pub received_at: Option<DateTime<Utc>>,
    pub inspection: InspectionStatus,
    pub condition: Option<ItemCondition>,
    pub inspected_at: Option<DateTime<Utc>>,
    pub disposition: Disposition,
    /// EXCHANGE only: the variant asked for; `None` is the same SKU at the same price.
    pub replacement: Option<Replacement>,
}

impl CaseItem {
    /// Replacement price x quantity against what the buyer paid for this item (`refund_amount`).
    /// The price and quantity were checked at request, so the arithmetic cannot overflow.
    pub fn price_difference(&self) -> PriceDifference {
        let Some(r) = &self.replacement else {
            return PriceDifference::None;
        };
        let new_total = r.unit_price.checked_mul(i64::from(self.quantity));
        let Ok(new_total) = new_total else {
            return PriceDifference::None;
        };
        if new_total.currency() != self.refund_amount.currency() {
            return PriceDifference::None;
        }
        let paid = self.refund_amount.minor();
        let diff = |m: i64| Money::new(m, new_total.currency()).ok();
        match new_total.minor().cmp(&paid) {
            std::cmp::Ordering::Equal => PriceDifference::None,
            std::cmp::Ordering::Greater => diff(new_total.minor() - paid)
                .map_or(PriceDifference::None, PriceDifference::BuyerPays),
            std::cmp::Ordering::Less => diff(paid - new_total.minor())
                .map_or(PriceDifference::None, PriceDifference::BuyerGetsBack),
        }
    }
}

/// A merchant's partial-refund offer and the buyer's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offer {
    pub amount: Money,
    pub note: Option<String>,
    pub status: OfferStatus,
    pub offered_by: Actor,
    pub offered_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
}

/// A staff override of the computed refund amount; always with a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountOverride {
    pub amount: Money,
    pub reason: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// A change of case type (refund-only to return+refund); the history is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeChange {
    pub from: CaseType,
    pub to: CaseType,
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// The buyer's return parcel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnShipment {
    pub courier_code: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
}

/// One line of the case's audit trail: who did what, when, and the status change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub event: CaseEvent,
    pub from: CaseStatus,
    pub to: CaseStatus,
    pub note: Option<String>,
}

/// The after-sale case aggregate. Fields are public so that storage can rebuild it; change it
/// only through its methods, which check the state machine and the rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub id: CaseId,
    pub order_id: OrderId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub case_type: CaseType,
    pub reason: ReasonCode,
    pub responsibility: Responsibility,
    pub shipment_state_at_request: ShipmentState,
    pub channel: Channel,
    pub description: Option<String>,
    pub evidence: Vec<EvidenceRef>,
    pub status: CaseStatus,
    pub items: Vec<CaseItem>,
    /// The goods travel back to the warehouse before money or a replacement moves.
    pub return_required: bool,
    /// Wrong item: the merchant pays the return label.
    pub merchant_pays_return_shipping: bool,
    /// Computed at request (and on type change).
    pub refund: RefundBreakdown,
    /// What the buyer asked for: `refund.total`.
    pub requested_amount: Money,
    /// Agreed amount: requested, an accepted offer, or an arbitration award.
    pub approved_amount: Option<Money>,
    pub amount_override: Option<AmountOverride>,
    /// Fixed when money starts to move.
    pub refund_amount: Option<Money>,
    pub refunded_amount: Option<Money>,
    pub refund_reference: Option<String>,
    pub merchant_decision_deadline: Option<DateTime<Utc>>,
    pub buyer_shipment_deadline: Option<DateTime<Utc>>,
    pub return_shipment: Option<ReturnShipment>,
    pub replacement_shipment_ref: Option<String>,
    pub interception: Option<InterceptionStatus>,
    pub offers: Vec<Offer>,
    pub arbitration: Option<Arbitration>,
    pub rejection_reason: Option<String>,
    pub close_reason: Option<String>,
    pub type_changes: Vec<TypeChange>,
    pub history: Vec<HistoryEntry>,
    pub created_by: Actor,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Incremented by every change: optimistic concurrency for storage.
    pub version: i64,
}

/// A validated request to open a case. Ids are chosen by the caller (the api layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCase {
    pub case_id: CaseId,
    pub case_type: CaseType,
    pub reason: ReasonCode,
    /// Staff may set it; `None` takes the reason's default.
    pub responsibility: Option<Responsibility>,
    pub channel: Channel,
    pub description: Option<String>,
    pub evidence: Vec<EvidenceRef>,
    pub items: Vec<NewCaseItem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCaseItem {
    pub item_id: CaseItemId,
    pub line_id: OrderLineId,
    pub quantity: u32,
    /// EXCHANGE only.
    pub replacement: Option<Replacement>,
}

impl NewCase {
    /// Input checks (`INVALID_ARGUMENT`): item count, quantities, duplicate lines, text lengths.
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut v: Vec<FieldViolation> = Vec::new();
        if let Err(e) = validate::list_len("items", self.items.len(), true) {
            v.push(e);
        }
        if let Err(e) = validate::list_len("evidence", self.evidence.len(), false) {
            v.push(e);
        }
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > limits::LONG_TEXT)
        {
            v.push(FieldViolation::new("description", "is too long"));
        }
        for (i, item) in self.items.iter().enumerate() {
            if let Err(e) = validate::quantity(&format!("items[{i}].quantity"), item.quantity) {
                v.push(e);
            }
            if self.items[..i].iter().any(|o| o.line_id == item.line_id) {
                v.push(FieldViolation::new(
                    format!("items[{i}].line_id"),
                    "is duplicated",
                ));
            }
            if self.items[..i].iter().any(|o| o.item_id == item.item_id) {
                v.push(FieldViolation::new(
                    format!("items[{i}].item_id"),
                    "is duplicated",
                ));
            }
            if let Some(r) = &item.replacement {
                let field = format!("items[{i}].replacement");
                if self.case_type != CaseType::Exchange {
                    v.push(FieldViolation::new(
                        &field,
                        "only an exchange names a replacement",
                    ));
                }
                let sku = r.sku.trim();
                if sku.is_empty() {
                    v.push(FieldViolation::new(format!("{field}.sku"), "is required"));
                } else if sku.chars().count() > limits::SHORT_TEXT {
                    v.push(FieldViolation::new(format!("{field}.sku"), "is too long"));
                }
                if r.unit_price.minor() == 0 {
                    v.push(FieldViolation::new(
                        format!("{field}.unit_price.minor_units"),
                        "must be greater than zero",
                    ));
                } else if r.unit_price.checked_mul(i64::from(item.quantity)).is_err() {
                    v.push(FieldViolation::new(
                        format!("{field}.unit_price.minor_units"),
                        "times the quantity is too large",
                    ));
                }
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(DomainError::Invalid(v))
        }
    }
}

/// What an actor wants to do with a case, for scoping (`Case::may`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaseAction {
    View,
    /// Withdraw, accept/decline an offer, change type, escalate, record the return parcel.
    BuyerAction,
    /// Approve, reject, offer, upload arbitration evidence.
    MerchantDecision,
    /// Either party: appeal a ruling.
    Appeal,
    /// Withdraw an escalation: the buyer only.
    WithdrawEscalation,
    /// Warehouse: receipt, inspection, disposition.
    Warehouse,
    /// Orchestrator and timers: interception, refunding, refunded, replacement, complete, close.
    Orchestrate,
    /// Platform staff: rulings, amount overrides.
    Staff,
}

impl Case {
    /// Opens a case: validates, applies eligibility, computes the refund and the deadlines.
    ///
    /// Refund-only on a not-shipped order is approved at once (fast refund); everything else
    /// waits for the merchant until `now + merchant_decision`.
    pub fn request(
        new: NewCase,
        order: &OrderSnapshot,
        others: &[Case],
        actor: Actor,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<(Case, Vec<CaseEvent>), DomainError> {
        new.validate()?;
        let lines: Vec<(OrderLineId, u32)> =
            new.items.iter().map(|i| (i.line_id, i.quantity)).collect();
        let query = EligibilityQuery {
            case_id: new.case_id,
            case_type: new.case_type,
            reason: new.reason,
            has_evidence: !new.evidence.is_empty(),
            items: &lines,
        };
        check_eligibility(order, &query, others, now)?;
        let responsibility = new
            .responsibility
            .unwrap_or_else(|| new.reason.default_responsibility());
        let (refund, per_item, return_required) = price(
            order,
            new.case_id,
            new.case_type,
            new.reason,
            responsibility,
            &lines,
            others,
            settings,
        )?;
        if new.case_type.moves_money() {
            check_refund_cap(order.paid_amount, new.case_id, refund.total, others)?;
        }
        let currency = order.paid_amount.currency();
        for (i, item) in new.items.iter().enumerate() {
            if let Some(r) = &item.replacement
                && r.unit_price.currency() != currency
            {
                return Err(DomainError::field(
                    format!("items[{i}].replacement.unit_price.currency"),
                    format!("must be the order's currency {currency}"),
                ));
            }
        }
        let mut items = Vec::with_capacity(new.items.len());
        for (item, amount) in new.items.iter().zip(per_item) {
            let sku = order
                .line(item.line_id)
                .map(|l| l.sku.clone())
                .unwrap_or_default();
            items.push(CaseItem {
                id: item.item_id,
                line_id: item.line_id,
                sku,
                quantity: item.quantity,
                refund_amount: amount,
                reception: ReceptionStatus::AwaitingShipment,
                received_quantity: 0,
                received_at: None,
                inspection: InspectionStatus::Pending,
                condition: None,
                inspected_at: None,
                disposition: Disposition::Pending,
                replacement: item.replacement.clone(),
            });
        }
        let mut case = Case {
            id: new.case_id,
            order_id: order.order_id,
            buyer_id: order.buyer_id,
            merchant_id: order.merchant_id,
            case_type: new.case_type,
            reason: new.reason,
            responsibility,
            shipment_state_at_request: order.shipment_state,
            channel: new.channel,
            description: new.description,
            evidence: new.evidence,
            status: CaseStatus::Requested,
            items,
            return_required,
            merchant_pays_return_shipping: new.reason == ReasonCode::WrongItem,
            refund,
            requested_amount: refund.total,
            approved_amount: None,
            amount_override: None,
            refund_amount: None,
            refunded_amount: None,
            refund_reference: None,
            merchant_decision_deadline: None,
            buyer_shipment_deadline: None,
            return_shipment: None,
            replacement_shipment_ref: None,
            interception: None,
            offers: Vec::new(),
            arbitration: None,
            rejection_reason: None,
            close_reason: None,
            type_changes: Vec::new(),
            history: Vec::new(),
            created_by: actor.clone(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        let mut events =
            vec![case.move_to(CaseStatus::Requested, CaseEvent::Created, &actor, now, None)];
        if new.case_type == CaseType::RefundOnly
            && order.shipment_state == ShipmentState::NotShipped
        {
            case.approved_amount = Some(case.requested_amount);
            events.push(case.move_to(
                CaseStatus::Approved,
                CaseEvent::AutoApproved,
                &Actor::system("returns"),
                now,
                Some("not shipped: fast refund".into()),
            ));
        } else {
            case.merchant_decision_deadline = Some(now + settings.merchant_decision_window());
            case.move_to(
                CaseStatus::PendingMerchant,
                CaseEvent::Created,
                &actor,
                now,
                None,
            );
        }
        Ok((case, events))
    }

    /// Scoping: buyers and merchants see and act on their own cases only.
    pub fn may(&self, actor: &Actor, action: CaseAction) -> bool {
        let own_buyer = actor.kind == ActorKind::Buyer && actor.id == self.buyer_id.to_string();
        let own_merchant =
            actor.kind == ActorKind::Merchant && actor.id == self.merchant_id.to_string();
        let staff = actor.kind == ActorKind::Staff;
        match action {
            CaseAction::View => {
                own_buyer
                    || own_merchant
                    || matches!(
                        actor.kind,
                        ActorKind::Staff | ActorKind::System | ActorKind::Partner
                    )
            }
            CaseAction::BuyerAction => own_buyer || staff,
            CaseAction::MerchantDecision => own_merchant || staff,
            CaseAction::Appeal => own_buyer || own_merchant,
            CaseAction::WithdrawEscalation => own_buyer,
            CaseAction::Warehouse => {
                matches!(
                    actor.kind,
                    ActorKind::Partner | ActorKind::Staff | ActorKind::System
                )
            }
            CaseAction::Orchestrate => matches!(actor.kind, ActorKind::System | ActorKind::Staff),
            CaseAction::Staff => staff,
        }
    }

    /// The merchant (or staff) approves.
    pub fn approve(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(
            &[CaseStatus::PendingMerchant, CaseStatus::Negotiating],
            "approve",
        )?;
        self.require_not_frozen()?;
        self.supersede_pending_offer(now);
        Ok(vec![self.enter_approved(
            CaseEvent::Approved,
            actor,
            now,
            settings,
            None,
        )])
    }

    /// Timer: the merchant did not answer by `merchant_decision_deadline` (rule
    /// `merchant_deadline_not_reached` before it).
    pub fn auto_approve(
        &mut self,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(&[CaseStatus::PendingMerchant], "auto-approve")?;
        self.require_not_frozen()?;
        match self.merchant_decision_deadline {
            Some(d) if now >= d => {}
            _ => {
                return Err(DomainError::rule(
                    "merchant_deadline_not_reached",
                    "the merchant still has time to decide",
                ));
            }
        }
        let note = Some("merchant did not answer in time".to_string());
        let system = Actor::system("returns");
        Ok(vec![self.enter_approved(
            CaseEvent::AutoApproved,
            &system,
            now,
            settings,
            note,
        )])
    }

    /// The merchant (or staff) rejects, with a reason.
    pub fn reject(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reason = validate::required_long_text("reason", reason)?;
        self.require(
            &[CaseStatus::PendingMerchant, CaseStatus::Negotiating],
            "reject",
        )?;
        self.require_not_frozen()?;
        self.supersede_pending_offer(now);
        self.rejection_reason = Some(reason.clone());
        Ok(vec![self.move_to(
            CaseStatus::Rejected,
            CaseEvent::Rejected,
            actor,
            now,
            Some(reason),
        )])
    }

    /// The merchant offers a partial refund; the buyer keeps the goods if accepted.
    /// Rules: `offer_not_allowed_for_type`, `offer_not_below_requested`.
    pub fn offer_partial_refund(
        &mut self,
        actor: &Actor,
        amount: Money,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(
            &[CaseStatus::PendingMerchant, CaseStatus::Negotiating],
            "negotiate",
        )?;
        self.require_not_frozen()?;
        self.require_currency("amount", amount)?;
        if amount.minor() == 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than 0",
            ));
        }
        if !self.case_type.moves_money() {
            return Err(DomainError::rule(
                "offer_not_allowed_for_type",
                format!("a {} case does not refund money", self.case_type),
            ));
        }
        if amount.minor() >= self.requested_amount.minor() {
            return Err(DomainError::rule(
                "offer_not_below_requested",
                format!(
                    "a partial refund must be below the requested {}",
                    self.requested_amount
                ),
            ));
        }
        self.supersede_pending_offer(now);
        self.offers.push(Offer {
            amount,
            note: note.clone(),
            status: OfferStatus::Pending,
            offered_by: actor.clone(),
            offered_at: now,
            answered_at: None,
        });
        Ok(vec![self.move_to(
            CaseStatus::Negotiating,
            CaseEvent::OfferMade,
            actor,
            now,
            note,
        )])
    }

    /// The buyer accepts the pending offer: approved for the offered amount, no return.
    pub fn accept_offer(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(&[CaseStatus::Negotiating], "accept an offer on")?;
        self.require_not_frozen()?;
        let offer = self.pending_offer_mut()?;
        offer.status = OfferStatus::Accepted;
        offer.answered_at = Some(now);
        let amount = offer.amount;
        self.approved_amount = Some(amount);
        self.return_required = false;
        Ok(vec![self.enter_approved(
            CaseEvent::OfferAccepted,
            actor,
            now,
            settings,
            None,
        )])
    }

    /// The buyer declines the pending offer: back to the merchant with a fresh deadline.
    pub fn decline_offer(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(&[CaseStatus::Negotiating], "decline an offer on")?;
        self.require_not_frozen()?;
        let offer = self.pending_offer_mut()?;
        offer.status = OfferStatus::Declined;
        offer.answered_at = Some(now);
        self.merchant_decision_deadline = Some(now + settings.merchant_decision_window());
        Ok(vec![self.move_to(
            CaseStatus::PendingMerchant,
            CaseEvent::OfferDeclined,
            actor,
            now,
            None,
        )])
    }

    /// The buyer withdraws, any time before money moves (`money_already_moved`). An open
    /// escalation is withdrawn with it.
    pub fn withdraw(
        &mut self,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if self.status.money_moved() {
            return Err(DomainError::rule(
                "money_already_moved",
                "money or goods have already moved; the case can no longer be withdrawn",
            ));
        }
        if self.status.is_terminal() {
            return Err(self.refuse("withdraw"));
        }
        let mut events = Vec::new();
        if let Some(a) = self.arbitration.as_mut().filter(|a| a.status.is_open()) {
            a.status = super::enums::ArbitrationStatus::Withdrawn;
            events.push(CaseEvent::EscalationWithdrawn);
        }
        self.supersede_pending_offer(now);
        self.close_reason = reason.clone();
        events.insert(
            0,
            self.move_to(
                CaseStatus::Withdrawn,
                CaseEvent::Withdrawn,
                actor,
                now,
                reason,
            ),
        );
        Ok(events)
    }

    /// The orchestrator (or staff) closes an approved case whose claim was decided against the
    /// buyer after approval (the warehouse refuted a missing or wrong item), with a reason.
    /// Nothing has moved; the case stops claiming its lines, so the buyer may open a new case on
    /// them. Rules: `arbitration_open` (the platform decides while it is open).
    pub fn close(
        &mut self,
        actor: &Actor,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reason = validate::required_long_text("reason", reason)?;
        self.require(&[CaseStatus::Approved], "close")?;
        self.require_not_frozen()?;
        self.close_reason = Some(reason.clone());
        Ok(vec![self.move_to(
            CaseStatus::Closed,
            CaseEvent::Closed,
            actor,
            now,
            Some(reason),
        )])
    }

    /// Refund-only becomes return+refund (e.g. interception failed, or the merchant asked);
    /// the history is kept in `type_changes`. Rules: `type_change_not_allowed`,
    /// `order_not_delivered`.
    pub fn change_type(
        &mut self,
        actor: &Actor,
        to: CaseType,
        order: &OrderSnapshot,
        others: &[Case],
        now: DateTime<Utc>,
        settings: &Settings,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if !(self.case_type == CaseType::RefundOnly && to == CaseType::ReturnRefund) {
            return Err(DomainError::rule(
                "type_change_not_allowed",
                format!("a {} case cannot become {to}", self.case_type),
            ));
        }
        self.require(
            &[
                CaseStatus::PendingMerchant,
                CaseStatus::Negotiating,
                CaseStatus::Approved,
                CaseStatus::Rejected,
            ],
            "change the type of",
        )?;
        self.require_not_frozen()?;
        if order.shipment_state != ShipmentState::Delivered {
            return Err(DomainError::rule(
                "order_not_delivered",
                "a return needs the order to be delivered",
            ));
        }
        let lines: Vec<_> = self.items.iter().map(|i| (i.line_id, i.quantity)).collect();
        let (refund, per_item, return_required) = price(
            order,
            self.id,
            to,
            self.reason,
            self.responsibility,
            &lines,
            others,
            settings,
        )?;
        for (item, amount) in self.items.iter_mut().zip(per_item) {
            item.refund_amount = amount;
        }
        self.refund = refund;
        self.requested_amount = refund.total;
        self.approved_amount = None;
        self.return_required = return_required;
        self.type_changes.push(TypeChange {
            from: self.case_type,
            to,
            by: actor.clone(),
            at: now,
        });
        self.case_type = to;
        self.supersede_pending_offer(now);
        self.rejection_reason = None;
        let note = Some(format!(
            "type changed from {} to {to}",
            CaseType::RefundOnly
        ));
        if self.status == CaseStatus::Approved {
            Ok(vec![self.enter_approved(
                CaseEvent::TypeChanged,
                actor,
                now,
                settings,
                note,
            )])
        } else {
            self.merchant_decision_deadline = Some(now + settings.merchant_decision_window());
            Ok(vec![self.move_to(
                CaseStatus::PendingMerchant,
                CaseEvent::TypeChanged,
                actor,
                now,
                note,
            )])
        }
    }

    /// Staff override of the refund amount, with a reason (rule `refund_cap_exceeded`).
    pub fn override_amount(
        &mut self,
        actor: &Actor,
        amount: Money,
        reason: &str,
        order_paid: Money,
        others: &[Case],
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let reason = validate::required_long_text("reason", reason)?;
        self.require_currency("amount", amount)?;
        if self.status.money_moved() {
            return Err(DomainError::rule(
                "money_already_moved",
                "the refund has already started",
            ));
        }
        if self.status.is_terminal() {
            return Err(self.refuse("override the amount of"));
        }
        self.require_not_frozen()?;
        check_refund_cap(order_paid, self.id, amount, others)?;
        self.amount_override = Some(AmountOverride {
            amount,
            reason: reason.clone(),
            by: actor.clone(),
            at: now,
        });
        let status = self.status;
        Ok(vec![self.move_to(
            status,
            CaseEvent::AmountOverridden,
            actor,
            now,
            Some(reason),
        )])
    }

    // ----- queries -----

    pub fn has_line(&self, line: OrderLineId) -> bool {
        self.items.iter().any(|i| i.line_id == line)
    }

    pub fn item(&self, id: CaseItemId) -> Option<&CaseItem> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The case holds its lines' quantities (everything but withdrawn and closed).
    pub fn claims_quantity(&self) -> bool {
        !matches!(self.status, CaseStatus::Withdrawn | CaseStatus::Closed)
    }

    /// The offer waiting for the buyer's answer, if any.
    pub fn pending_offer(&self) -> Option<&Offer> {
        self.offers
            .iter()
            .rev()
            .find(|o| o.status == OfferStatus::Pending)
    }

    /// Money movement is frozen while an arbitration is open.
    pub fn is_frozen(&self) -> bool {
        self.arbitration
            .as_ref()
            .is_some_and(|a| a.status.is_open())
    }

    /// What this case counts against the order's refund cap.
    pub fn committed_amount(&self) -> Money {
        if let Some(m) = self.refunded_amount.or(self.refund_amount) {
            return m;
        }
        if owes_nothing(self.status) || !self.case_type.moves_money() {
            return Money::zero(self.requested_amount.currency());
        }
        self.refund_due()
    }

    // ----- helpers shared by the transition modules -----

    pub(crate) fn refuse(&self, action: &str) -> DomainError {
        DomainError::rule(
            "invalid_state_transition",
            format!("cannot {action} a case that is {}", self.status),
        )
    }

    pub(crate) fn require(&self, allowed: &[CaseStatus], action: &str) -> Result<(), DomainError> {
        if allowed.contains(&self.status) {
            Ok(())
        } else {
            Err(self.refuse(action))
        }
    }

    pub(crate) fn require_not_frozen(&self) -> Result<(), DomainError> {
        if self.is_frozen() {
            return Err(DomainError::rule(
                "arbitration_open",
                "the case is under platform arbitration; money movement is frozen",
            ));
        }
        Ok(())
    }

    pub(crate) fn require_currency(&self, field: &str, m: Money) -> Result<(), DomainError> {
        let want = self.requested_amount.currency();
        if m.currency() != want {
            return Err(DomainError::field(
                format!("{field}.currency"),
                format!("must be the order currency {want}"),
            ));
        }
        Ok(())
    }

    /// Records a status change (or a same-status event) in the history.
    pub(crate) fn move_to(
        &mut self,
        to: CaseStatus,
        event: CaseEvent,
        actor: &Actor,
        now: DateTime<Utc>,
        note: Option<String>,
    ) -> CaseEvent {
        self.history.push(HistoryEntry {
            at: now,
            actor: actor.clone(),
            event,
            from: self.status,
            to,
            note,
        });
        self.status = to;
        self.updated_at = now;
        self.version += 1;
        event
    }

    /// Approval: to `AWAITING_BUYER_SHIPMENT` with the buyer deadline when goods must come
    /// back and have not, else to `APPROVED`.
    pub(crate) fn enter_approved(
        &mut self,
        event: CaseEvent,
        actor: &Actor,
        now: DateTime<Utc>,
        settings: &Settings,
        note: Option<String>,
    ) -> CaseEvent {
        if self.approved_amount.is_none() {
            self.approved_amount = Some(self.requested_amount);
        }
        let nothing_shipped = self
            .items
            .iter()
            .all(|i| i.reception == ReceptionStatus::AwaitingShipment);
        if self.return_required && nothing_shipped {
            self.buyer_shipment_deadline = Some(now + settings.buyer_shipment_window());
            self.move_to(CaseStatus::AwaitingBuyerShipment, event, actor, now, note)
        } else {
            self.move_to(CaseStatus::Approved, event, actor, now, note)
        }
    }

    pub(crate) fn supersede_pending_offer(&mut self, now: DateTime<Utc>) {
        for o in self
            .offers
            .iter_mut()
            .filter(|o| o.status == OfferStatus::Pending)
        {
            o.status = OfferStatus::Superseded;
            o.answered_at = Some(now);
        }
    }

    fn pending_offer_mut(&mut self) -> Result<&mut Offer, DomainError> {
        self.offers
            .iter_mut()
            .rev()
            .find(|o| o.status == OfferStatus::Pending)
            .ok_or_else(|| DomainError::rule("no_pending_offer", "there is no offer to answer"))
    }
}

impl CaseType {
    /// Cases that pay the buyer money (exchanges and reships move goods instead).
    pub fn moves_money(&self) -> bool {
        matches!(
            self,
            Self::RefundOnly | Self::ReturnRefund | Self::Compensation
        )
    }
}

/// Prices a case and decides whether the goods must come back.
///
/// Quality problems on items worth at most `low_value_threshold_minor` (item value, shipping
/// excluded) are refunded without a return.
#[allow(clippy::too_many_arguments)]
fn price(
    order: &OrderSnapshot,
    case_id: CaseId,
    case_type: CaseType,
    reason: ReasonCode,
    responsibility: Responsibility,
    lines: &[(OrderLineId, u32)],
    others: &[Case],
    settings: &Settings,
) -> Result<(RefundBreakdown, Vec<Money>, bool), DomainError> {
    let mut return_required = matches!(case_type, CaseType::ReturnRefund | CaseType::Exchange);
    let query = RefundQuery {
        case_id,
        items: lines,
        reason,
        responsibility,
        return_required,
    };
    let (refund, per_item) = compute_refund(order, query, others, settings)?;
    let low_value =
        Money::new(settings.low_value_threshold_minor, order.currency).map_err(money_err)?;
    if case_type == CaseType::ReturnRefund
        && matches!(
            reason,
            ReasonCode::Quality | ReasonCode::Damaged | ReasonCode::NotAsDescribed
        )
        && refund.items_amount.minor() <= low_value.minor()
    {
        return_required = false;
    }
    Ok((refund, per_item, return_required))
}

#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;
    use crate::domain::order::fixtures::t0;

    pub fn ids(n: u128) -> CaseId {
        CaseId(uuid::Uuid::from_u128(n))
    }

    pub fn buyer(o: &OrderSnapshot) -> Actor {
        Actor::new(ActorKind::Buyer, o.buyer_id.to_string())
    }

    pub fn merchant(o: &OrderSnapshot) -> Actor {
        Actor::new(ActorKind::Merchant, o.merchant_id.to_string())
    }

    pub fn staff() -> Actor {
        Actor::new(ActorKind::Staff, "cs-1")
    }

    pub fn new_case(t: CaseType, r: ReasonCode, lines: &[(OrderLineId, u32)]) -> NewCase {
        NewCase {
            case_id: ids(9),
            case_type: t,
            reason: r,
            responsibility: None,
            channel: Channel::App,
            description: Some("broken".into()),
            evidence: vec![EvidenceRef("photo-1".into())],
            items: lines
                .iter()
                .enumerate()
                .map(|(n, (l, q))| NewCaseItem {
                    item_id: CaseItemId(uuid::Uuid::from_u128(1000 + n as u128)),
                    line_id: *l,
                    quantity: *q,
                    replacement: None,
                })
                .collect(),
        }
    }

    /// A case requested one day after delivery, with evidence.
    pub fn case_on(
        o: &OrderSnapshot,
        t: CaseType,
        r: ReasonCode,
        lines: &[(OrderLineId, u32)],
    ) -> Case {
        let now = t0() + chrono::Duration::days(1);
        Case::request(
            new_case(t, r, lines),
            o,
            &[],
            buyer(o),
            now,
            &Settings::default(),
        )
        .unwrap()
        .0
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::domain::order::fixtures::*;
    use chrono::Duration;

    fn now() -> DateTime<Utc> {
        t0() + Duration::days(1)
    }

    #[test]
    fn request_sets_status_deadline_and_amounts() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let new = new_case(CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 2)]);
        let (c, events) = Case::request(new, &o, &[], buyer(&o), now(), &s).unwrap();
        assert_eq!(events, vec![CaseEvent::Created]);
        assert_eq!(c.status, CaseStatus::PendingMerchant);
        assert_eq!(
            c.merchant_decision_deadline,
            Some(now() + Duration::hours(48))
        );
        assert_eq!(c.requested_amount, cny(19_000));
        assert_eq!(c.responsibility, Responsibility::Merchant);
        assert_eq!(c.shipment_state_at_request, ShipmentState::Delivered);
        assert!(c.return_required);
        assert_eq!(c.items[0].sku, "SKU-1");
        assert_eq!(c.history.len(), 2);
        assert_eq!(c.version, 2);
    }

    #[test]
    fn return_required_by_type_and_low_value() {
        let mut o = order();
        o.lines[1].unit_price = cny(2_000); // 20.00: at the low-value threshold
        let (l1, l2) = (o.lines[0].line_id, o.lines[1].line_id);
        let cases = [
            (CaseType::RefundOnly, ReasonCode::Quality, l1, false),
            (CaseType::ReturnRefund, ReasonCode::Quality, l1, true),
            (CaseType::ReturnRefund, ReasonCode::Quality, l2, false),
            (CaseType::ReturnRefund, ReasonCode::NoReason, l2, true),
            (CaseType::Exchange, ReasonCode::Quality, l2, true),
            (CaseType::Reship, ReasonCode::WrongItem, l1, false),
            (CaseType::Compensation, ReasonCode::Quality, l1, false),
        ];
        for (t, r, line, want) in cases {
            let c = case_on(&o, t, r, &[(line, 1)]);
            assert_eq!(c.return_required, want, "{t} {r}");
        }
        // One minor unit above the threshold needs the return.
        o.lines[1].unit_price = cny(2_001);
        let c = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l2, 1)]);
        assert!(c.return_required);
        let c = case_on(&o, CaseType::Reship, ReasonCode::WrongItem, &[(l1, 1)]);
        assert!(c.merchant_pays_return_shipping);
    }

    #[test]
    fn not_shipped_refund_only_is_approved_at_once() {
        let mut o = order();
        o.shipment_state = ShipmentState::NotShipped;
        o.signed_at = None;
        let l1 = o.lines[0].line_id;
        let new = new_case(CaseType::RefundOnly, ReasonCode::NoReason, &[(l1, 2)]);
        let (c, events) =
            Case::request(new, &o, &[], buyer(&o), now(), &Settings::default()).unwrap();
        assert_eq!(events, vec![CaseEvent::Created, CaseEvent::AutoApproved]);
        assert_eq!(c.status, CaseStatus::Approved);
        assert_eq!(c.approved_amount, Some(cny(18_000)));
        assert_eq!(c.merchant_decision_deadline, None);
    }

    #[test]
    fn request_input_violations_name_fields() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        type Edit = fn(&mut NewCase);
        let cases: [(Edit, &str); 5] = [
            (|n| n.items.clear(), "items"),
            (|n| n.items[0].quantity = 0, "items[0].quantity"),
            (|n| n.items.push(n.items[0].clone()), "items[1].line_id"),
            (
                |n| n.description = Some("x".repeat(limits::LONG_TEXT + 1)),
                "description",
            ),
            (
                |n| n.items[0].line_id = OrderLineId(uuid::Uuid::from_u128(5)),
                "items[0].line_id",
            ),
        ];
        for (edit, field) in cases {
            let mut n = new_case(CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
            edit(&mut n);
            match Case::request(n, &o, &[], buyer(&o), now(), &s) {
                Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_exchange_replacement_prices_the_difference() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let with = |price: i64| {
            let mut n = new_case(CaseType::Exchange, ReasonCode::Quality, &[(l1, 2)]);
            n.items[0].replacement = Some(Replacement {
                sku: "KETTLE-L".into(),
                unit_price: cny(price),
            });
            Case::request(n, &o, &[], buyer(&o), now(), &s).unwrap().0
        };
        let paid = with(1).items[0].refund_amount.minor();
        assert!(paid > 0 && paid % 2 == 0);
        let unit = paid / 2;
        assert_eq!(
            with(unit).items[0].price_difference(),
            PriceDifference::None
        );
        assert_eq!(
            with(unit + 500).items[0].price_difference(),
            PriceDifference::BuyerPays(cny(1_000))
        );
        assert_eq!(
            with(unit - 300).items[0].price_difference(),
            PriceDifference::BuyerGetsBack(cny(600))
        );
        // The same SKU at the same price: nothing to settle.
        let n = new_case(CaseType::Exchange, ReasonCode::Quality, &[(l1, 2)]);
        let c = Case::request(n, &o, &[], buyer(&o), now(), &s).unwrap().0;
        assert_eq!(c.items[0].price_difference(), PriceDifference::None);
    }

    #[test]
    fn a_replacement_is_checked() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let cases: [(CaseType, &str, i64, &str, &str); 5] = [
            (
                CaseType::ReturnRefund,
                "KETTLE-L",
                100,
                "CNY",
                "items[0].replacement",
            ),
            (
                CaseType::Exchange,
                " ",
                100,
                "CNY",
                "items[0].replacement.sku",
            ),
            (
                CaseType::Exchange,
                "KETTLE-L",
                0,
                "CNY",
                "items[0].replacement.unit_price.minor_units",
            ),
            (
                CaseType::Exchange,
                "KETTLE-L",
                Money::MAX_MINOR,
                "CNY",
                "items[0].replacement.unit_price.minor_units",
            ),
            (
                CaseType::Exchange,
                "KETTLE-L",
                100,
                "USD",
                "items[0].replacement.unit_price.currency",
            ),
        ];
        for (t, sku, price, currency, field) in cases {
            let mut n = new_case(t, ReasonCode::Quality, &[(l1, 2)]);
            n.items[0].replacement = Some(Replacement {
                sku: sku.into(),
                unit_price: Money::parse(price, currency).unwrap(),
            });
            match Case::request(n, &o, &[], buyer(&o), now(), &s) {
                Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn request_refused_over_refund_cap() {
        let mut o = order();
        o.paid_amount = cny(18_999);
        let l1 = o.lines[0].line_id;
        let new = new_case(CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 2)]);
        let err = Case::request(new, &o, &[], buyer(&o), now(), &Settings::default()).unwrap_err();
        assert_eq!(err.rule_name(), Some("refund_cap_exceeded"));
        // An exchange moves goods, not money: the cap does not apply.
        let new = new_case(CaseType::Exchange, ReasonCode::Quality, &[(l1, 2)]);
        assert!(Case::request(new, &o, &[], buyer(&o), now(), &Settings::default()).is_ok());
    }

    /// Each transition from each status: allowed or refused with `invalid_state_transition`.
    #[test]
    fn merchant_decision_state_machine() {
        use CaseStatus::*;
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let m = merchant(&o);
        let all = CaseStatus::ALL;
        type Op = fn(&mut Case, &Actor, &Settings) -> Result<Vec<CaseEvent>, DomainError>;
        let ops: [(&str, Op, &[CaseStatus]); 3] = [
            (
                "approve",
                |c, a, s| c.approve(a, now(), s),
                &[PendingMerchant, Negotiating],
            ),
            (
                "reject",
                |c, a, _| c.reject(a, "fake photos", now()),
                &[PendingMerchant, Negotiating],
            ),
            (
                "offer",
                |c, a, _| c.offer_partial_refund(a, cny(100), None, now()),
                &[PendingMerchant, Negotiating],
            ),
        ];
        for (name, op, allowed) in ops {
            for status in all {
                let mut c = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
                c.status = *status;
                let got = op(&mut c, &m, &s);
                if allowed.contains(status) {
                    assert!(got.is_ok(), "{name} from {status}: {got:?}");
                } else {
                    assert_eq!(
                        got.unwrap_err().rule_name(),
                        Some("invalid_state_transition"),
                        "{name} from {status}"
                    );
                }
            }
        }
    }

    #[test]
    fn approve_routes_by_return_leg() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let cases = [
            (CaseType::ReturnRefund, CaseStatus::AwaitingBuyerShipment),
            (CaseType::Exchange, CaseStatus::AwaitingBuyerShipment),
            (CaseType::RefundOnly, CaseStatus::Approved),
            (CaseType::Compensation, CaseStatus::Approved),
            (CaseType::Reship, CaseStatus::Approved),
        ];
        for (t, want) in cases {
            let reason = if t == CaseType::Reship {
                ReasonCode::MissingItem
            } else {
                ReasonCode::Quality
            };
            let mut c = case_on(&o, t, reason, &[(l1, 1)]);
            let events = c.approve(&merchant(&o), now(), &s).unwrap();
            assert_eq!(events, vec![CaseEvent::Approved]);
            assert_eq!(c.status, want, "{t}");
            assert_eq!(c.approved_amount, Some(c.requested_amount));
            let deadline = c.buyer_shipment_deadline;
            assert_eq!(
                deadline.is_some(),
                want == CaseStatus::AwaitingBuyerShipment
            );
            if let Some(d) = deadline {
                assert_eq!(d, now() + Duration::days(7));
            }
        }
    }

    #[test]
    fn auto_approve_at_the_deadline_only() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let c0 = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        let deadline = c0.merchant_decision_deadline.unwrap();
        let cases = [
            (
                deadline - Duration::seconds(1),
                Err(Some("merchant_deadline_not_reached")),
            ),
            (deadline, Ok(CaseStatus::Approved)),
            (deadline + Duration::hours(1), Ok(CaseStatus::Approved)),
        ];
        for (at, want) in cases {
            let mut c = c0.clone();
            let got = c
                .auto_approve(at, &s)
                .map(|_| c.status)
                .map_err(|e| e.rule_name());
            assert_eq!(got, want, "{at}");
        }
        let mut c = c0.clone();
        c.auto_approve(deadline, &s).unwrap();
        assert_eq!(c.history.last().unwrap().actor.kind, ActorKind::System);
        assert_eq!(c.history.last().unwrap().event, CaseEvent::AutoApproved);
    }

    #[test]
    fn reject_needs_a_reason() {
        let o = order();
        let mut c = case_on(
            &o,
            CaseType::RefundOnly,
            ReasonCode::Quality,
            &[(o.lines[0].line_id, 1)],
        );
        assert_eq!(
            c.reject(&merchant(&o), " ", now()),
            Err(DomainError::field("reason", "is required"))
        );
        c.reject(&merchant(&o), "photos show another product", now())
            .unwrap();
        assert_eq!(c.status, CaseStatus::Rejected);
        assert_eq!(
            c.rejection_reason.as_deref(),
            Some("photos show another product")
        );
    }

    #[test]
    fn negotiation_offer_accept_decline() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let m = merchant(&o);
        let b = buyer(&o);
        let c0 = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        let requested = c0.requested_amount.minor();
        // Amount boundaries.
        let cases = [
            (0, Err(None)),
            (1, Ok(())),
            (requested - 1, Ok(())),
            (requested, Err(Some("offer_not_below_requested"))),
        ];
        for (amount, want) in cases {
            let mut c = c0.clone();
            let got = c.offer_partial_refund(&m, cny(amount), None, now());
            assert_eq!(got.map(|_| ()).map_err(|e| e.rule_name()), want, "{amount}");
        }
        let mut c = c0.clone();
        let usd = Money::parse(5, "USD").unwrap();
        assert_eq!(
            c.offer_partial_refund(&m, usd, None, now()).unwrap_err(),
            DomainError::field("amount.currency", "must be the order currency CNY")
        );
        // Accept.
        c.offer_partial_refund(&m, cny(3_000), Some("keep it, 30 off".into()), now())
            .unwrap();
        assert_eq!(c.status, CaseStatus::Negotiating);
        // A counter-offer supersedes the first.
        c.offer_partial_refund(&m, cny(4_000), None, now()).unwrap();
        assert_eq!(c.offers[0].status, OfferStatus::Superseded);
        assert_eq!(
            c.accept_offer(&b, now(), &s).unwrap(),
            vec![CaseEvent::OfferAccepted]
        );
        assert_eq!(c.status, CaseStatus::Approved);
        assert_eq!(c.approved_amount, Some(cny(4_000)));
        assert_eq!(
            c.accept_offer(&b, now(), &s).unwrap_err().rule_name(),
            Some("invalid_state_transition")
        );
        // Decline: back to the merchant with a new deadline.
        let mut c = c0.clone();
        c.offer_partial_refund(&m, cny(3_000), None, now()).unwrap();
        let later = now() + Duration::hours(5);
        c.decline_offer(&b, later, &s).unwrap();
        assert_eq!(c.status, CaseStatus::PendingMerchant);
        assert_eq!(
            c.merchant_decision_deadline,
            Some(later + Duration::hours(48))
        );
        assert_eq!(c.offers[0].status, OfferStatus::Declined);
        // Negotiating without a pending offer (e.g. rebuilt from storage).
        let mut c = c0.clone();
        c.status = CaseStatus::Negotiating;
        assert_eq!(
            c.accept_offer(&b, now(), &s).unwrap_err().rule_name(),
            Some("no_pending_offer")
        );
        assert_eq!(
            c.decline_offer(&b, now(), &s).unwrap_err().rule_name(),
            Some("no_pending_offer")
        );
        // Exchanges do not negotiate money.
        let mut ex = case_on(&o, CaseType::Exchange, ReasonCode::Quality, &[(l1, 1)]);
        let got = ex
            .offer_partial_refund(&m, cny(1), None, now())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("offer_not_allowed_for_type"));
    }

    #[test]
    fn accepted_offer_on_a_return_drops_the_return_leg() {
        let o = order();
        let s = Settings::default();
        let mut c = case_on(
            &o,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            &[(o.lines[0].line_id, 1)],
        );
        c.offer_partial_refund(&merchant(&o), cny(1_000), None, now())
            .unwrap();
        c.accept_offer(&buyer(&o), now(), &s).unwrap();
        assert_eq!(c.status, CaseStatus::Approved);
        assert!(!c.return_required);
    }

    #[test]
    fn withdraw_until_money_moves() {
        use CaseStatus::*;
        let o = order();
        let l1 = o.lines[0].line_id;
        let cases = [
            (PendingMerchant, Ok(())),
            (Negotiating, Ok(())),
            (Approved, Ok(())),
            (Rejected, Ok(())),
            (AwaitingBuyerShipment, Ok(())),
            (ReturnInTransit, Ok(())),
            (Received, Ok(())),
            (Inspected, Ok(())),
            (Refunding, Err(Some("money_already_moved"))),
            (ReplacementShipped, Err(Some("money_already_moved"))),
            (Completed, Err(Some("money_already_moved"))),
            (Withdrawn, Err(Some("invalid_state_transition"))),
            (Closed, Err(Some("invalid_state_transition"))),
        ];
        for (status, want) in cases {
            let mut c = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
            c.status = status;
            let got = c.withdraw(&buyer(&o), Some("changed my mind".into()), now());
            assert_eq!(got.map(|_| ()).map_err(|e| e.rule_name()), want, "{status}");
        }
    }

    #[test]
    fn close_a_refuted_claim_with_its_reason_and_free_the_line() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let sys = Actor::system("orchestrator");
        let mut c = case_on(&o, CaseType::Reship, ReasonCode::MissingItem, &[(l1, 1)]);
        c.approve(&merchant(&o), now(), &s).unwrap();
        assert_eq!(c.status, CaseStatus::Approved);
        // A second case on the line is refused while this one is open.
        let mut next = new_case(CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
        next.case_id = ids(10);
        next.items[0].item_id = CaseItemId(uuid::Uuid::from_u128(2000));
        let refused = Case::request(
            next.clone(),
            &o,
            std::slice::from_ref(&c),
            buyer(&o),
            now(),
            &s,
        );
        assert_eq!(refused.unwrap_err().rule_name(), Some("line_has_open_case"));

        // The reason is required; nothing changes without it.
        let before = c.clone();
        assert_eq!(
            c.close(&sys, "  ", now()).unwrap_err(),
            DomainError::field("reason", "is required")
        );
        assert_eq!(c, before);

        let later = now() + Duration::hours(3);
        let events = c
            .close(&sys, "the warehouse refuted the claim", later)
            .unwrap();
        assert_eq!(events, vec![CaseEvent::Closed]);
        assert_eq!(CaseEvent::Closed.routing_key(), "returns.case.closed");
        assert_eq!(c.status, CaseStatus::Closed);
        assert_eq!(
            c.close_reason.as_deref(),
            Some("the warehouse refuted the claim")
        );
        assert_eq!(c.version, before.version + 1);
        assert_eq!(c.updated_at, later);
        let h = c.history.last().unwrap();
        assert_eq!(
            (h.event, h.from, h.to, &h.actor, h.at),
            (
                CaseEvent::Closed,
                CaseStatus::Approved,
                CaseStatus::Closed,
                &sys,
                later
            )
        );
        assert_eq!(h.note.as_deref(), Some("the warehouse refuted the claim"));
        // Nothing moved, nothing is owed, and the line is free again.
        assert!(!c.claims_quantity());
        assert_eq!(c.committed_amount().minor(), 0);
        assert_eq!(c.refund_amount, None);
        assert_eq!(c.replacement_shipment_ref, None);
        let (opened, _) =
            Case::request(next, &o, std::slice::from_ref(&c), buyer(&o), later, &s).unwrap();
        assert_eq!(opened.status, CaseStatus::PendingMerchant);
        // Closing twice is a state error.
        assert_eq!(
            c.close(&sys, "again", later).unwrap_err().rule_name(),
            Some("invalid_state_transition")
        );
    }

    #[test]
    fn close_only_an_approved_case() {
        use CaseStatus::*;
        let o = order();
        let l1 = o.lines[0].line_id;
        let cases = [
            (Approved, Ok(Closed)),
            (Requested, Err(Some("invalid_state_transition"))),
            (PendingMerchant, Err(Some("invalid_state_transition"))),
            (Negotiating, Err(Some("invalid_state_transition"))),
            (Rejected, Err(Some("invalid_state_transition"))),
            (AwaitingBuyerShipment, Err(Some("invalid_state_transition"))),
            (ReturnInTransit, Err(Some("invalid_state_transition"))),
            (Received, Err(Some("invalid_state_transition"))),
            (Inspected, Err(Some("invalid_state_transition"))),
            (Refunding, Err(Some("invalid_state_transition"))),
            (ReplacementShipped, Err(Some("invalid_state_transition"))),
            (Completed, Err(Some("invalid_state_transition"))),
            (Withdrawn, Err(Some("invalid_state_transition"))),
            (Closed, Err(Some("invalid_state_transition"))),
        ];
        for (status, want) in cases {
            let mut c = case_on(&o, CaseType::Reship, ReasonCode::WrongItem, &[(l1, 1)]);
            c.status = status;
            let got = c
                .close(&staff(), "refuted", now())
                .map(|_| c.status)
                .map_err(|e| e.rule_name());
            assert_eq!(got, want, "{status}");
        }
    }

    #[test]
    fn change_type_refund_only_to_return_keeps_history() {
        use CaseStatus::*;
        let o = order();
        let l1 = o.lines[0].line_id;
        let s = Settings::default();
        let b = buyer(&o);
        let cases = [
            (PendingMerchant, Ok(PendingMerchant)),
            (Negotiating, Ok(PendingMerchant)),
            (Rejected, Ok(PendingMerchant)),
            (Approved, Ok(AwaitingBuyerShipment)),
            (AwaitingBuyerShipment, Err(Some("invalid_state_transition"))),
            (Refunding, Err(Some("invalid_state_transition"))),
        ];
        for (status, want) in cases {
            let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::NoReason, &[(l1, 1)]);
            c.status = status;
            let got = c
                .change_type(&b, CaseType::ReturnRefund, &o, &[], now(), &s)
                .map(|_| c.status)
                .map_err(|e| e.rule_name());
            assert_eq!(got, want, "{status}");
            if got.is_ok() {
                assert_eq!(c.case_type, CaseType::ReturnRefund);
                assert_eq!(c.type_changes.len(), 1);
                assert_eq!(c.type_changes[0].from, CaseType::RefundOnly);
                // No-reason return without privilege: return shipping is now deducted.
                assert_eq!(c.refund.return_shipping_deduction, cny(1_000));
                assert_eq!(c.requested_amount, cny(8_000));
                assert!(c.return_required);
            }
        }
        let mut c = case_on(&o, CaseType::ReturnRefund, ReasonCode::Quality, &[(l1, 1)]);
        let got = c
            .change_type(&b, CaseType::Exchange, &o, &[], now(), &s)
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("type_change_not_allowed"));
        let mut in_transit = o.clone();
        in_transit.shipment_state = ShipmentState::InTransit;
        let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::NoReason, &[(l1, 1)]);
        let got = c
            .change_type(&b, CaseType::ReturnRefund, &in_transit, &[], now(), &s)
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("order_not_delivered"));
    }

    #[test]
    fn override_needs_reason_and_respects_cap() {
        let o = order();
        let l1 = o.lines[0].line_id;
        let st = staff();
        let mut c = case_on(&o, CaseType::RefundOnly, ReasonCode::Quality, &[(l1, 1)]);
        let err = c
            .override_amount(&st, cny(5), "", o.paid_amount, &[], now())
            .unwrap_err();
        assert_eq!(err, DomainError::field("reason", "is required"));
        let err = c.override_amount(&st, cny(24_001), "goodwill", o.paid_amount, &[], now());
        assert_eq!(err.unwrap_err().rule_name(), Some("refund_cap_exceeded"));
        c.override_amount(&st, cny(24_000), "goodwill", o.paid_amount, &[], now())
            .unwrap();
        assert_eq!(c.committed_amount(), cny(24_000));
        assert_eq!(c.history.last().unwrap().note.as_deref(), Some("goodwill"));
        c.status = CaseStatus::Refunding;
        let err = c
            .override_amount(&st, cny(1), "x", o.paid_amount, &[], now())
            .unwrap_err();
        assert_eq!(err.rule_name(), Some("money_already_moved"));
        c.status = CaseStatus::Closed;
        let err = c
            .override_amount(&st, cny(1), "x", o.paid_amount, &[], now())
            .unwrap_err();
        assert_eq!(err.rule_name(), Some("invalid_state_transition"));
    }

    #[test]
    fn scoping() {
        let o = order();
        let c = case_on(
            &o,
            CaseType::RefundOnly,
            ReasonCode::Quality,
            &[(o.lines[0].line_id, 1)],
        );
        let other_buyer = Actor::new(ActorKind::Buyer, "someone-else");
        let partner = Actor::new(ActorKind::Partner, "wh-1");
        let system = Actor::system("orchestrator");
        use CaseAction::*;
        let cases = [
            (buyer(&o), View, true),
            (other_buyer.clone(), View, false),
            (merchant(&o), View, true),
            (partner.clone(), View, true),
            (buyer(&o), BuyerAction, true),
            (other_buyer, BuyerAction, false),
            (merchant(&o), BuyerAction, false),
            (staff(), BuyerAction, true),
            (merchant(&o), MerchantDecision, true),
            (buyer(&o), MerchantDecision, false),
            (merchant(&o), Appeal, true),
            (staff(), Appeal, false),
            (buyer(&o), WithdrawEscalation, true),
            (staff(), WithdrawEscalation, false),
            (partner.clone(), Warehouse, true),
            (buyer(&o), Warehouse, false),
            (system.clone(), Orchestrate, true),
            (partner, Orchestrate, false),
            (staff(), Staff, true),
            (system, Staff, false),
        ];
        for (actor, action, want) in cases {
            assert_eq!(c.may(&actor, action), want, "{actor:?} {action:?}");
        }
    }
}
