//! The repair order and its state machine.
//!
//! ```text
//! REQUESTED ─assign─▶ AWAITING_ITEM ─item sent─▶ AT_REPAIR_CENTER ─acknowledge─▶ RECEIVED
//!                     AWAITING_ITEM ─acknowledge (walk-in)─────────────────────▶ RECEIVED
//! RECEIVED ─start─▶ DIAGNOSING ─diagnosis, in warranty─▶ REPAIRING (free)
//! DIAGNOSING ─quote (out of warranty)─▶ QUOTED ─send─▶ AWAITING_APPROVAL
//! AWAITING_APPROVAL ─approve─▶ APPROVED ─paid─▶ REPAIRING ─repaired─▶ REPAIRED
//! AWAITING_APPROVAL ─decline / expire─▶ RETURNING_UNREPAIRED
//! REPAIRED | RETURNING_UNREPAIRED ─shipped back─▶ SHIPPED_BACK ─complete─▶ COMPLETED
//! DIAGNOSING..REPAIRING ─unrepairable─▶ UNREPAIRABLE ─convert─▶ CONVERTED
//! REQUESTED | AWAITING_ITEM ─cancel─▶ CANCELED
//! AT_REPAIR_CENTER..APPROVED | UNREPAIRABLE ─cancel─▶ RETURNING_UNREPAIRED
//! ```
//!
//! Every transition takes the acting [`Actor`] and `now`, checks who may act (a partner only on
//! orders assigned to it, a buyer only on its own orders), then the state, then the rule, and
//! only then mutates; it returns the [`Event`] to publish.

use super::actor::Actor;
use super::enums::{
    ActorKind, Channel, QuoteDecision, RepairState, UnrepairableResolution, UnrepairedReason,
};
use super::event::Event;
use super::ids::{
    BuyerId, CaseId, ChargeId, LineId, MerchantId, OrderId, RepairCenterId, RepairOrderId,
    ShipmentId,
};
use super::input::{DiagnosisInput, NewRepairOrder};
use super::policy::Policy;
use super::repair_center::RepairCenter;
use super::validate::Reason;
use super::warranty::{Warranty, WarrantyOverride};
use aftersales_kernel::{DomainError, Money};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use RepairState as S;

const CENTER_OR_OPS: &[ActorKind] = &[ActorKind::Partner, ActorKind::Staff, ActorKind::System];
const BUYER_OR_OPS: &[ActorKind] = &[ActorKind::Buyer, ActorKind::Staff, ActorKind::System];
const BUYER_OR_STAFF: &[ActorKind] = &[ActorKind::Buyer, ActorKind::Staff];
const OPS: &[ActorKind] = &[ActorKind::Staff, ActorKind::System];

/// The repair center's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub findings: String,
    pub fault_code: Option<String>,
    pub diagnosed_at: DateTime<Utc>,
}

/// A repair quote for an out-of-warranty repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    pub amount: Money,
    pub description: Option<String>,
    pub submitted_at: DateTime<Utc>,
    /// Set when shown to the buyer.
    pub sent_at: Option<DateTime<Utc>>,
    /// `sent_at` + the approval window.
    pub expires_at: Option<DateTime<Utc>>,
    pub decision: Option<QuoteDecision>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decline_reason: Option<String>,
    pub charge_id: Option<ChargeId>,
    pub paid_at: Option<DateTime<Utc>>,
}

/// One item of one order line sent for repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairOrder {
    pub id: RepairOrderId,
    pub order_id: OrderId,
    pub line_id: LineId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub sku: String,
    pub serial_number: String,
    pub purchased_at: DateTime<Utc>,
    pub warranty: Warranty,
    pub symptom: String,
    pub evidence_refs: Vec<String>,
    pub channel: Option<Channel>,
    pub state: RepairState,
    pub repair_center_id: Option<RepairCenterId>,
    pub inbound_shipment_id: Option<ShipmentId>,
    pub return_shipment_id: Option<ShipmentId>,
    pub receipt_note: Option<String>,
    pub diagnosis: Option<Diagnosis>,
    pub quote: Option<Quote>,
    pub repair_notes: Option<String>,
    pub unrepairable_reason: Option<String>,
    pub resolution: Option<UnrepairableResolution>,
    pub converted_case_id: Option<CaseId>,
    pub unrepaired_reason: Option<UnrepairedReason>,
    pub cancel_reason: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub repaired_at: Option<DateTime<Utc>>,
    pub shipped_back_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The error storage returns when another open repair order exists for the same line and serial.
pub fn already_open(existing: RepairOrderId) -> DomainError {
    DomainError::rule(
        "repair_order_already_open",
        format!("repair order {existing} is already open for this item"),
    )
}

impl RepairOrder {
    /// Opens a repair order in REQUESTED and computes the warranty decision at `now`.
    /// Actor BUYER (its own order), STAFF or SYSTEM.
    pub fn open(
        id: RepairOrderId,
        input: NewRepairOrder,
        actor: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        actor.ensure_kind(BUYER_OR_OPS, "open a repair order")?;
        if actor.kind == ActorKind::Buyer && actor.id != input.buyer_id.to_string() {
            return Err(not_buyer());
        }
        let warranty = Warranty::compute(input.purchased_at, input.warranty_months, policy, now)?;
        let order = Self {
            id,
            order_id: input.order_id,
            line_id: input.line_id,
            buyer_id: input.buyer_id,
            merchant_id: input.merchant_id,
            sku: input.sku,
            serial_number: input.serial_number,
            purchased_at: input.purchased_at,
            warranty,
            symptom: input.symptom,
            evidence_refs: input.evidence_refs,
            channel: input.channel,
            state: S::Requested,
            repair_center_id: None,
            inbound_shipment_id: None,
            return_shipment_id: None,
            receipt_note: None,
            diagnosis: None,
            quote: None,
            repair_notes: None,
            unrepairable_reason: None,
            resolution: None,
            converted_case_id: None,
            unrepaired_reason: None,
            cancel_reason: None,
            requested_at: now,
            received_at: None,
            repaired_at: None,
            shipped_back_at: None,
            completed_at: None,
            updated_at: now,
        };
        Ok((order, Event::RepairRequested))
    }

    /// Effective warranty decision.
    pub fn in_warranty(&self) -> bool {
        self.warranty.in_warranty()
    }

    /// Not in a terminal state (one open repair order per line and serial).
    pub fn is_open(&self) -> bool {
        !self.state.is_terminal()
    }

    /// Read scoping: a partner sees only orders assigned to it, a buyer its own orders, a
    /// merchant the orders of its shop; staff and system see all.
    pub fn ensure_visible_to(&self, actor: &Actor) -> Result<(), DomainError> {
        match actor.kind {
            ActorKind::Buyer | ActorKind::Partner => self.ensure_party(actor),
            ActorKind::Merchant if actor.id != self.merchant_id.to_string() => {
                Err(DomainError::rule(
                    "not_repair_merchant",
                    "the repair order belongs to another merchant",
                ))
            }
            _ => Ok(()),
        }
    }

    /// REQUESTED | AWAITING_ITEM -> AWAITING_ITEM: assigns or reassigns an ACTIVE center until the
    /// item is sent. STAFF or SYSTEM.
    pub fn assign_center(
        &mut self,
        actor: &Actor,
        center: &RepairCenter,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, OPS, "assign a repair center")?;
        match self.state {
            S::Requested | S::AwaitingItem => {}
            s if s.is_terminal() => return Err(self.refuse("assign a repair center to")),
            _ => {
                return Err(DomainError::rule(
                    "item_already_sent",
                    "the item already left for the assigned repair center",
                ));
            }
        }
        if !center.is_active() {
            return Err(DomainError::rule(
                "repair_center_inactive",
                format!(
                    "repair center {} is {}",
                    center.id,
                    center.state.as_str().to_lowercase()
                ),
            ));
        }
        if self.repair_center_id == Some(center.id) {
            return Err(DomainError::rule(
                "repair_center_unchanged",
                "the repair center is already assigned",
            ));
        }
        self.repair_center_id = Some(center.id);
        self.move_to(S::AwaitingItem, now);
        Ok(Event::RepairCenterAssigned)
    }

    /// AWAITING_ITEM -> AT_REPAIR_CENTER: the item left toward the center. BUYER, STAFF or SYSTEM.
    pub fn mark_item_sent(
        &mut self,
        actor: &Actor,
        shipment_id: ShipmentId,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, BUYER_OR_OPS, "mark the item sent")?;
        self.expect(&[S::AwaitingItem], "mark the item sent for")?;
        self.inbound_shipment_id = Some(shipment_id);
        self.move_to(S::AtRepairCenter, now);
        Ok(Event::ItemSent)
    }

    /// AT_REPAIR_CENTER | AWAITING_ITEM (walk-in) -> RECEIVED. The assigned CENTER, STAFF or SYSTEM.
    pub fn acknowledge_receipt(
        &mut self,
        actor: &Actor,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "acknowledge receipt")?;
        self.expect(
            &[S::AtRepairCenter, S::AwaitingItem],
            "acknowledge receipt of",
        )?;
        self.receipt_note = note;
        self.received_at = Some(now);
        self.move_to(S::Received, now);
        Ok(Event::ReceiptAcknowledged)
    }

    /// RECEIVED -> DIAGNOSING. The assigned CENTER, STAFF or SYSTEM.
    pub fn start_diagnosis(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "start a diagnosis")?;
        self.expect(&[S::Received], "start diagnosing")?;
        self.move_to(S::Diagnosing, now);
        Ok(Event::DiagnosisStarted)
    }

    /// Records the findings. In warranty: DIAGNOSING -> REPAIRING (free); out of warranty (or
    /// voided by `warranty_void_reason`): stays DIAGNOSING until a quote. The assigned CENTER,
    /// STAFF or SYSTEM.
    pub fn submit_diagnosis(
        &mut self,
        actor: &Actor,
        input: DiagnosisInput,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "submit a diagnosis")?;
        self.expect(&[S::Diagnosing], "submit a diagnosis for")?;
        if self.diagnosis.is_some() {
            return Err(DomainError::rule(
                "diagnosis_already_submitted",
                "the diagnosis was already submitted",
            ));
        }
        if let Some(reason) = input.warranty_void_reason {
            if !self.in_warranty() {
                return Err(DomainError::rule(
                    "warranty_unchanged",
                    "the repair is already out of warranty",
                ));
            }
            self.warranty.overridden = Some(WarrantyOverride {
                in_warranty: false,
                reason: reason.into_string(),
                by: actor.clone(),
                at: now,
            });
        }
        self.diagnosis = Some(Diagnosis {
            findings: input.findings,
            fault_code: input.fault_code,
            diagnosed_at: now,
        });
        if self.in_warranty() {
            self.move_to(S::Repairing, now);
        } else {
            self.updated_at = now;
        }
        Ok(Event::Diagnosed)
    }

    /// DIAGNOSING | QUOTED -> QUOTED: submits or revises (before it is sent) the price of an
    /// out-of-warranty repair; `amount` must be > 0. The assigned CENTER, STAFF or SYSTEM.
    pub fn submit_quote(
        &mut self,
        actor: &Actor,
        amount: Money,
        description: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "submit a quote")?;
        self.expect(&[S::Diagnosing, S::Quoted], "quote")?;
        if self.diagnosis.is_none() {
            return Err(DomainError::rule(
                "diagnosis_required",
                "a diagnosis must be submitted before the quote",
            ));
        }
        if self.in_warranty() {
            return Err(DomainError::rule(
                "in_warranty_repair_is_free",
                "an in-warranty repair is not quoted",
            ));
        }
        if amount.minor() <= 0 {
            return Err(DomainError::field(
                "amount.minor_units",
                "must be greater than zero",
            ));
        }
        self.quote = Some(Quote {
            amount,
            description,
            submitted_at: now,
            sent_at: None,
            expires_at: None,
            decision: None,
            decided_at: None,
            decline_reason: None,
            charge_id: None,
            paid_at: None,
        });
        self.move_to(S::Quoted, now);
        Ok(Event::QuoteSubmitted)
    }

    /// QUOTED -> AWAITING_APPROVAL: shows the quote to the buyer; it expires after the policy's
    /// approval window. STAFF or SYSTEM.
    pub fn send_quote(
        &mut self,
        actor: &Actor,
        policy: &Policy,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, OPS, "send a quote")?;
        self.expect(&[S::Quoted], "send the quote of")?;
        let quote = self.quote_mut()?;
        quote.sent_at = Some(now);
        quote.expires_at = Some(now + policy.quote_approval_window());
        self.move_to(S::AwaitingApproval, now);
        Ok(Event::QuoteSent)
    }

    /// AWAITING_APPROVAL -> APPROVED, before the quote expires (`quote_expired`). BUYER or STAFF.
    pub fn approve_quote(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, BUYER_OR_STAFF, "approve a quote")?;
        self.expect(&[S::AwaitingApproval], "approve the quote of")?;
        if self.quote_expired(now) {
            return Err(DomainError::rule("quote_expired", "the quote has expired"));
        }
        self.decide(QuoteDecision::Approved, now)?;
        self.move_to(S::Approved, now);
        Ok(Event::QuoteApproved)
    }

    /// AWAITING_APPROVAL -> RETURNING_UNREPAIRED. BUYER or STAFF.
    pub fn decline_quote(
        &mut self,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, BUYER_OR_STAFF, "decline a quote")?;
        self.expect(&[S::AwaitingApproval], "decline the quote of")?;
        self.decide(QuoteDecision::Declined, now)?;
        self.quote_mut()?.decline_reason = reason;
        self.unrepaired_reason = Some(UnrepairedReason::QuoteDeclined);
        self.move_to(S::ReturningUnrepaired, now);
        Ok(Event::QuoteDeclined)
    }

    /// AWAITING_APPROVAL -> RETURNING_UNREPAIRED once `now >= expires_at` (`quote_not_expired`).
    /// SYSTEM (timer) or STAFF.
    pub fn expire_quote(
        &mut self,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, OPS, "expire a quote")?;
        self.expect(&[S::AwaitingApproval], "expire the quote of")?;
        if !self.quote_expired(now) {
            return Err(DomainError::rule(
                "quote_not_expired",
                "the quote is still open",
            ));
        }
        self.decide(QuoteDecision::Expired, now)?;
        self.unrepaired_reason = Some(UnrepairedReason::QuoteExpired);
        self.move_to(S::ReturningUnrepaired, now);
        Ok(Event::QuoteExpired)
    }

    /// APPROVED -> REPAIRING: the charge of exactly the quoted amount succeeded. SYSTEM or STAFF.
    pub fn record_quote_paid(
        &mut self,
        actor: &Actor,
        charge_id: ChargeId,
        amount: Money,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, OPS, "record a quote payment")?;
        self.expect(&[S::Approved], "record the payment of")?;
        let quote = self.quote_mut()?;
        if amount.currency() != quote.amount.currency() {
            return Err(DomainError::rule(
                "currency_mismatch",
                format!(
                    "charged in {}, quoted in {}",
                    amount.currency(),
                    quote.amount.currency()
                ),
            ));
        }
        if amount != quote.amount {
            return Err(DomainError::rule(
                "charge_amount_mismatch",
                format!("charged {amount}, quoted {}", quote.amount),
            ));
        }
        quote.charge_id = Some(charge_id);
        quote.paid_at = Some(now);
        self.move_to(S::Repairing, now);
        Ok(Event::QuotePaid)
    }

    /// REPAIRING -> REPAIRED. The assigned CENTER, STAFF or SYSTEM.
    pub fn report_repaired(
        &mut self,
        actor: &Actor,
        notes: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "report a repair")?;
        self.expect(&[S::Repairing], "report repaired")?;
        self.repair_notes = notes;
        self.repaired_at = Some(now);
        self.move_to(S::Repaired, now);
        Ok(Event::Repaired)
    }

    /// DIAGNOSING | QUOTED | AWAITING_APPROVAL | APPROVED | REPAIRING -> UNREPAIRABLE; an
    /// undecided quote is withdrawn (a charge already made is voided by the orchestrator, see
    /// [`RepairOrder::charge_to_void`]). The assigned CENTER, STAFF or SYSTEM.
    pub fn report_unrepairable(
        &mut self,
        actor: &Actor,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "report an item unrepairable")?;
        self.expect(
            &[
                S::Diagnosing,
                S::Quoted,
                S::AwaitingApproval,
                S::Approved,
                S::Repairing,
            ],
            "report unrepairable",
        )?;
        self.withdraw_open_quote(now);
        self.unrepairable_reason = Some(reason.into_string());
        self.move_to(S::Unrepairable, now);
        Ok(Event::Unrepairable)
    }

    /// UNREPAIRABLE -> CONVERTED: records the resolution (exchange or refund case).
    /// BUYER, STAFF or SYSTEM.
    pub fn convert(
        &mut self,
        actor: &Actor,
        resolution: UnrepairableResolution,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, BUYER_OR_OPS, "convert a repair order")?;
        self.expect(&[S::Unrepairable], "convert")?;
        self.resolution = Some(resolution);
        self.move_to(S::Converted, now);
        Ok(Event::Converted)
    }

    /// Links the returns case created for a CONVERTED order, once. SYSTEM or STAFF.
    pub fn record_converted_case(
        &mut self,
        actor: &Actor,
        case_id: CaseId,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, OPS, "link a converted case")?;
        self.expect(&[S::Converted], "link a case to")?;
        if let Some(existing) = self.converted_case_id {
            return Err(DomainError::rule(
                "converted_case_already_linked",
                format!("case {existing} is already linked"),
            ));
        }
        self.converted_case_id = Some(case_id);
        self.updated_at = now;
        Ok(Event::ConvertedCaseLinked)
    }

    /// REPAIRED | RETURNING_UNREPAIRED -> SHIPPED_BACK. The assigned CENTER, STAFF or SYSTEM.
    pub fn mark_shipped_back(
        &mut self,
        actor: &Actor,
        shipment_id: ShipmentId,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, CENTER_OR_OPS, "ship an item back")?;
        self.expect(&[S::Repaired, S::ReturningUnrepaired], "ship back")?;
        self.return_shipment_id = Some(shipment_id);
        self.shipped_back_at = Some(now);
        self.move_to(S::ShippedBack, now);
        Ok(Event::ShippedBack)
    }

    /// SHIPPED_BACK -> COMPLETED. BUYER, STAFF or SYSTEM.
    pub fn complete(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<Event, DomainError> {
        self.authorize(actor, BUYER_OR_OPS, "complete a repair order")?;
        self.expect(&[S::ShippedBack], "complete")?;
        self.completed_at = Some(now);
        self.move_to(S::Completed, now);
        Ok(Event::Completed)
    }

    /// Overrides the warranty decision with a reason. STAFF only.
    ///
    /// - REQUESTED..RECEIVED, DIAGNOSING before the diagnosis: recorded, no state change.
    /// - DIAGNOSING after an out-of-warranty diagnosis, QUOTED, AWAITING_APPROVAL, toward
    ///   in-warranty: the quote is withdrawn and the free repair starts (-> REPAIRING).
    /// - From APPROVED on: `warranty_decision_locked`.
    pub fn override_warranty(
        &mut self,
        actor: &Actor,
        in_warranty: bool,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, &[ActorKind::Staff], "override the warranty")?;
        match self.state {
            S::Requested
            | S::AwaitingItem
            | S::AtRepairCenter
            | S::Received
            | S::Diagnosing
            | S::Quoted
            | S::AwaitingApproval => {}
            _ => {
                return Err(DomainError::rule(
                    "warranty_decision_locked",
                    format!("the warranty decision is final in state {}", self.state),
                ));
            }
        }
        if self.in_warranty() == in_warranty {
            return Err(DomainError::rule(
                "warranty_unchanged",
                format!("the repair is already {}", warranty_word(in_warranty)),
            ));
        }
        self.warranty.overridden = Some(WarrantyOverride {
            in_warranty,
            reason: reason.into_string(),
            by: actor.clone(),
            at: now,
        });
        let diagnosed = self.diagnosis.is_some();
        if in_warranty && diagnosed {
            self.withdraw_open_quote(now);
            self.move_to(S::Repairing, now);
        } else {
            self.updated_at = now;
        }
        Ok(Event::WarrantyOverridden)
    }

    /// Cancels the repair. REQUESTED | AWAITING_ITEM -> CANCELED; AT_REPAIR_CENTER..APPROVED and
    /// UNREPAIRABLE -> RETURNING_UNREPAIRED (the item is shipped back; an open quote is
    /// withdrawn). From REPAIRING to SHIPPED_BACK: `repair_in_progress`. BUYER, STAFF or SYSTEM.
    pub fn cancel(
        &mut self,
        actor: &Actor,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        self.authorize(actor, BUYER_OR_OPS, "cancel a repair order")?;
        let next = match self.state {
            S::Requested | S::AwaitingItem => S::Canceled,
            S::AtRepairCenter
            | S::Received
            | S::Diagnosing
            | S::Quoted
            | S::AwaitingApproval
            | S::Approved
            | S::Unrepairable => S::ReturningUnrepaired,
            S::Repairing | S::Repaired | S::ShippedBack => {
                return Err(DomainError::rule(
                    "repair_in_progress",
                    format!("cannot cancel a repair order in state {}", self.state),
                ));
            }
            S::ReturningUnrepaired | S::Completed | S::Converted | S::Canceled => {
                return Err(self.refuse("cancel"));
            }
        };
        self.withdraw_open_quote(now);
        self.cancel_reason = Some(reason.into_string());
        if next == S::ReturningUnrepaired {
            self.unrepaired_reason = Some(UnrepairedReason::Canceled);
        }
        self.move_to(next, now);
        Ok(Event::Canceled)
    }

    /// The charge the orchestrator must void after a paid order became unrepairable: a paid quote
    /// in UNREPAIRABLE or CONVERTED.
    pub fn charge_to_void(&self) -> Option<ChargeId> {
        match self.state {
            S::Unrepairable | S::Converted => self.quote.as_ref().and_then(|q| q.charge_id),
            _ => None,
        }
    }

    fn quote_expired(&self, now: DateTime<Utc>) -> bool {
        self.quote
            .as_ref()
            .and_then(|q| q.expires_at)
            .is_some_and(|at| now >= at)
    }

    fn quote_mut(&mut self) -> Result<&mut Quote, DomainError> {
        self.quote
            .as_mut()
            .ok_or_else(|| DomainError::rule("quote_required", "the repair order has no quote"))
    }

    fn decide(&mut self, decision: QuoteDecision, now: DateTime<Utc>) -> Result<(), DomainError> {
        let quote = self.quote_mut()?;
        quote.decision = Some(decision);
        quote.decided_at = Some(now);
        Ok(())
    }

    fn withdraw_open_quote(&mut self, now: DateTime<Utc>) {
        if let Some(q) = self.quote.as_mut().filter(|q| q.decision.is_none()) {
            q.decision = Some(QuoteDecision::Withdrawn);
            q.decided_at = Some(now);
        }
    }

    fn authorize(
        &self,
        actor: &Actor,
        allowed: &[ActorKind],
        action: &str,
    ) -> Result<(), DomainError> {
        actor.ensure_kind(allowed, action)?;
        self.ensure_party(actor)
    }

    /// A buyer must own the order; a partner must be the assigned center.
    fn ensure_party(&self, actor: &Actor) -> Result<(), DomainError> {
        match actor.kind {
            ActorKind::Buyer if actor.id != self.buyer_id.to_string() => Err(not_buyer()),
            ActorKind::Partner if !self.repair_center_id.is_some_and(|c| actor.is_center(c)) => {
                Err(DomainError::rule(
                    "repair_center_mismatch",
                    "the repair order is not assigned to this repair center",
                ))
            }
            _ => Ok(()),
        }
    }

    fn expect(&self, allowed: &[RepairState], action: &str) -> Result<(), DomainError> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(self.refuse(action))
        }
    }

    fn refuse(&self, action: &str) -> DomainError {
        DomainError::rule(
            "invalid_state_transition",
            format!("cannot {action} a repair order in state {}", self.state),
        )
    }

    fn move_to(&mut self, state: RepairState, now: DateTime<Utc>) {
        self.state = state;
        self.updated_at = now;
    }
}

fn not_buyer() -> DomainError {
    DomainError::rule(
        "not_repair_buyer",
        "the repair order belongs to another buyer",
    )
}

fn warranty_word(in_warranty: bool) -> &'static str {
    if in_warranty {
        "in warranty"
    } else {
        "out of warranty"
    }
}

#[cfg(test)]
mod tests;
