//! The return leg: buyer shipment, per-item reception, inspection and disposition.
//!
//! ```text
//! AWAITING_BUYER_SHIPMENT --shipment--> RETURN_IN_TRANSIT --all items received--> RECEIVED
//!        \--no shipment by the deadline (7 days)--> CLOSED        --all inspected--> INSPECTED
//! ```
//! Each item has three independent statuses (reception, inspection, disposition); the case
//! status and its [`ReturnProgress`] are derived from them.

use super::actor::Actor;
use super::case::{Case, CaseItem, ItemCondition, ReturnShipment};
use super::enums::{CaseStatus, Disposition, InspectionStatus, ReceptionStatus, ReturnProgress};
use super::event::CaseEvent;
use super::ids::CaseItemId;
use super::validate;
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};

impl CaseItem {
    /// Something arrived that the warehouse can inspect.
    pub fn inspectable(&self) -> bool {
        matches!(
            self.reception,
            ReceptionStatus::Received | ReceptionStatus::Short
        )
    }

    /// Reception is final and, if inspectable, so is the inspection.
    pub fn settled(&self) -> bool {
        self.reception.is_final() && (!self.inspectable() || self.inspection.is_final())
    }
}

impl Case {
    /// The buyer (or CS) records the return parcel before `buyer_shipment_deadline`
    /// (rule `buyer_shipment_deadline_passed`).
    pub fn record_buyer_shipment(
        &mut self,
        actor: &Actor,
        courier_code: &str,
        tracking_number: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        let courier_code = validate::required_short_text("courier_code", courier_code)?;
        let tracking_number = validate::required_short_text("tracking_number", tracking_number)?;
        self.require(
            &[CaseStatus::AwaitingBuyerShipment],
            "record a buyer shipment for",
        )?;
        if self.buyer_shipment_deadline.is_some_and(|d| now > d) {
            return Err(DomainError::rule(
                "buyer_shipment_deadline_passed",
                "the return had to be shipped before the deadline",
            ));
        }
        self.return_shipment = Some(ReturnShipment {
            courier_code,
            tracking_number,
            shipped_at: now,
        });
        for item in &mut self.items {
            if item.reception == ReceptionStatus::AwaitingShipment {
                item.reception = ReceptionStatus::InTransit;
            }
        }
        Ok(vec![self.move_to(
            CaseStatus::ReturnInTransit,
            CaseEvent::BuyerShipped,
            actor,
            now,
            None,
        )])
    }

    /// Timer: no buyer shipment by the deadline closes the case
    /// (rule `buyer_shipment_deadline_not_reached` before it).
    pub fn close_for_no_shipment(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(
            &[CaseStatus::AwaitingBuyerShipment],
            "close for no shipment",
        )?;
        match self.buyer_shipment_deadline {
            Some(d) if now > d => {}
            _ => {
                return Err(DomainError::rule(
                    "buyer_shipment_deadline_not_reached",
                    "the buyer still has time to ship the return",
                ));
            }
        }
        let note = "buyer did not ship the return in time".to_string();
        self.close_reason = Some(note.clone());
        let system = Actor::system("returns");
        Ok(vec![self.move_to(
            CaseStatus::Closed,
            CaseEvent::Closed,
            &system,
            now,
            Some(note),
        )])
    }

    /// The warehouse records what arrived for one item. `status` is final (`RECEIVED`, `SHORT`,
    /// `LOST`, `WRONG_ITEM`); `received_quantity` counts units for `SHORT` (1..quantity-1) and
    /// may be 0 for `RECEIVED` (meaning all). Rules: `item_already_received`.
    pub fn record_item_receipt(
        &mut self,
        actor: &Actor,
        item_id: CaseItemId,
        status: ReceptionStatus,
        received_quantity: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        self.require(
            &[
                CaseStatus::AwaitingBuyerShipment,
                CaseStatus::ReturnInTransit,
            ],
            "receive items for",
        )?;
        let idx = self.item_index(item_id)?;
        let item = &self.items[idx];
        if item.reception.is_final() {
            return Err(DomainError::rule(
                "item_already_received",
                format!("item {item_id} is already {}", item.reception),
            ));
        }
        let qty = match status {
            ReceptionStatus::Received
                if received_quantity == 0 || received_quantity == item.quantity =>
            {
                item.quantity
            }
            ReceptionStatus::Received => {
                return Err(DomainError::field(
                    "received_quantity",
                    "must be 0 or the item quantity when received; use SHORT for fewer",
                ));
            }
            ReceptionStatus::Short if (1..item.quantity).contains(&received_quantity) => {
                received_quantity
            }
            ReceptionStatus::Short => {
                return Err(DomainError::field(
                    "received_quantity",
                    format!(
                        "must be between 1 and {} when short",
                        item.quantity.saturating_sub(1)
                    ),
                ));
            }
            ReceptionStatus::Lost | ReceptionStatus::WrongItem => 0,
            ReceptionStatus::AwaitingShipment | ReceptionStatus::InTransit => {
                return Err(DomainError::field(
                    "status",
                    "must be a final reception status",
                ));
            }
        };
        let item = &mut self.items[idx];
        item.reception = status;
        item.received_quantity = qty;
        item.received_at = Some(now);
        let note = Some(format!("item {item_id} {status}"));
        let mut events = vec![self.move_to(
            CaseStatus::ReturnInTransit,
            CaseEvent::ItemReceived,
            actor,
            now,
            note,
        )];
        if self.items.iter().all(|i| i.reception.is_final()) {
            events.push(self.move_to(CaseStatus::Received, CaseEvent::Received, actor, now, None));
            events.extend(self.maybe_inspected(actor, now));
        }
        Ok(events)
    }

    /// The warehouse's inspection result for one received item. Rules: `item_not_received`,
    /// `item_already_inspected`. `MANUAL_REVIEW` may be followed by a final result.
    pub fn submit_inspection(
        &mut self,
        actor: &Actor,
        item_id: CaseItemId,
        result: InspectionStatus,
        condition: ItemCondition,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if result == InspectionStatus::Pending {
            return Err(DomainError::field(
                "result",
                "must be ACCEPTED, REJECTED or MANUAL_REVIEW",
            ));
        }
        self.require(
            &[CaseStatus::ReturnInTransit, CaseStatus::Received],
            "inspect items of",
        )?;
        let idx = self.item_index(item_id)?;
        let item = &self.items[idx];
        if !item.inspectable() {
            return Err(DomainError::rule(
                "item_not_received",
                format!("item {item_id} is {}, nothing to inspect", item.reception),
            ));
        }
        if item.inspection.is_final() {
            return Err(DomainError::rule(
                "item_already_inspected",
                format!("item {item_id} is already {}", item.inspection),
            ));
        }
        let item = &mut self.items[idx];
        item.inspection = result;
        item.condition = Some(condition);
        item.inspected_at = Some(now);
        let status = self.status;
        let note = Some(format!("item {item_id} {result}"));
        let mut events = vec![self.move_to(status, CaseEvent::ItemInspected, actor, now, note)];
        events.extend(self.maybe_inspected(actor, now));
        Ok(events)
    }

    /// What the warehouse does with an inspected item. Rules: `item_not_inspected`,
    /// `disposition_already_set`, `item_not_resellable` (restock), `disposition_not_allowed`
    /// (rejected items, and only they, go back to the buyer).
    pub fn set_disposition(
        &mut self,
        actor: &Actor,
        item_id: CaseItemId,
        disposition: Disposition,
        now: DateTime<Utc>,
    ) -> Result<Vec<CaseEvent>, DomainError> {
        if disposition == Disposition::Pending {
            return Err(DomainError::field("disposition", "is required"));
        }
        let idx = self.item_index(item_id)?;
        let item = &self.items[idx];
        if !item.inspection.is_final() {
            return Err(DomainError::rule(
                "item_not_inspected",
                format!("item {item_id} has no final inspection result"),
            ));
        }
        if item.disposition != Disposition::Pending {
            return Err(DomainError::rule(
                "disposition_already_set",
                format!("item {item_id} is already {}", item.disposition),
            ));
        }
        let rejected = item.inspection == InspectionStatus::Rejected;
        if rejected != (disposition == Disposition::ReturnToBuyer) {
            return Err(DomainError::rule(
                "disposition_not_allowed",
                "rejected items, and only they, are returned to the buyer",
            ));
        }
        if disposition == Disposition::Restock
            && !item.condition.as_ref().is_some_and(|c| c.resellable())
        {
            return Err(DomainError::rule(
                "item_not_resellable",
                "only items with intact packaging and no second-sale damage are restocked",
            ));
        }
        self.items[idx].disposition = disposition;
        let status = self.status;
        let note = Some(format!("item {item_id} {disposition}"));
        Ok(vec![self.move_to(
            status,
            CaseEvent::DispositionSet,
            actor,
            now,
            note,
        )])
    }

    /// Progress of the return leg, derived from the items (e.g. partially received).
    pub fn return_progress(&self) -> ReturnProgress {
        let touched = self
            .items
            .iter()
            .any(|i| i.reception != ReceptionStatus::AwaitingShipment);
        if !self.return_required && !touched {
            return ReturnProgress::NotApplicable;
        }
        let finals = self.items.iter().filter(|i| i.reception.is_final()).count();
        if finals == 0 {
            return if self
                .items
                .iter()
                .any(|i| i.reception == ReceptionStatus::InTransit)
            {
                ReturnProgress::InTransit
            } else {
                ReturnProgress::AwaitingShipment
            };
        }
        if finals < self.items.len() {
            return ReturnProgress::PartiallyReceived;
        }
        let inspectable: Vec<_> = self.items.iter().filter(|i| i.inspectable()).collect();
        let done = inspectable
            .iter()
            .filter(|i| i.inspection.is_final())
            .count();
        if done == inspectable.len() {
            ReturnProgress::Inspected
        } else if done > 0 {
            ReturnProgress::PartiallyInspected
        } else {
            ReturnProgress::Received
        }
    }

    fn maybe_inspected(&mut self, actor: &Actor, now: DateTime<Utc>) -> Option<CaseEvent> {
        if self.status == CaseStatus::Received && self.items.iter().all(CaseItem::settled) {
            return Some(self.move_to(
                CaseStatus::Inspected,
                CaseEvent::Inspected,
                actor,
                now,
                None,
            ));
        }
        None
    }

    pub(crate) fn item_index(&self, id: CaseItemId) -> Result<usize, DomainError> {
        self.items
            .iter()
            .position(|i| i.id == id)
            .ok_or_else(|| DomainError::field("item_id", "is not an item of the case"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::case::fixtures::*;
    use crate::domain::enums::{ActorKind, CaseType, ReasonCode};
    use crate::domain::order::fixtures::*;
    use crate::domain::policy::Settings;
    use chrono::Duration;

    pub fn good() -> ItemCondition {
        ItemCondition {
            packaging_intact: true,
            second_sale_damage: false,
            note: None,
        }
    }

    pub fn warehouse() -> Actor {
        Actor::new(ActorKind::Partner, "wh-1")
    }

    /// A two-item return (line 1 x2, line 2 x1), approved: awaiting the buyer's shipment.
    pub fn awaiting() -> Case {
        let o = order();
        let (l1, l2) = (o.lines[0].line_id, o.lines[1].line_id);
        let mut c = case_on(
            &o,
            CaseType::ReturnRefund,
            ReasonCode::Quality,
            &[(l1, 2), (l2, 1)],
        );
        c.approve(
            &merchant(&o),
            t0() + Duration::days(1),
            &Settings::default(),
        )
        .unwrap();
        c
    }

    pub fn in_transit() -> Case {
        let mut c = awaiting();
        c.record_buyer_shipment(&warehouse(), "SF", "SF123", t0() + Duration::days(2))
            .unwrap();
        c
    }

    fn at() -> DateTime<Utc> {
        t0() + Duration::days(3)
    }

    #[test]
    fn buyer_shipment_deadline_boundaries() {
        let c0 = awaiting();
        let deadline = c0.buyer_shipment_deadline.unwrap();
        for (now, ok) in [(deadline, true), (deadline + Duration::seconds(1), false)] {
            let mut c = c0.clone();
            let got = c.record_buyer_shipment(&warehouse(), "SF", "SF1", now);
            assert_eq!(got.is_ok(), ok, "{now}");
            if ok {
                assert_eq!(c.status, CaseStatus::ReturnInTransit);
                assert_eq!(c.return_progress(), ReturnProgress::InTransit);
                assert!(
                    c.items
                        .iter()
                        .all(|i| i.reception == ReceptionStatus::InTransit)
                );
            } else {
                assert_eq!(
                    got.unwrap_err().rule_name(),
                    Some("buyer_shipment_deadline_passed")
                );
            }
        }
        let mut c = c0.clone();
        assert_eq!(
            c.record_buyer_shipment(&warehouse(), "", "SF1", at())
                .unwrap_err(),
            DomainError::field("courier_code", "is required")
        );
        let mut c = in_transit();
        let got = c
            .record_buyer_shipment(&warehouse(), "SF", "SF1", at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("invalid_state_transition"));
    }

    #[test]
    fn close_for_no_shipment_after_deadline_only() {
        let c0 = awaiting();
        let deadline = c0.buyer_shipment_deadline.unwrap();
        let cases = [
            (deadline, Err(Some("buyer_shipment_deadline_not_reached"))),
            (deadline + Duration::seconds(1), Ok(CaseStatus::Closed)),
        ];
        for (now, want) in cases {
            let mut c = c0.clone();
            let got = c
                .close_for_no_shipment(now)
                .map(|_| c.status)
                .map_err(|e| e.rule_name());
            assert_eq!(got, want);
        }
        let mut c = in_transit();
        let got = c
            .close_for_no_shipment(deadline + Duration::days(1))
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("invalid_state_transition"));
    }

    #[test]
    fn receipt_quantities_table() {
        use ReceptionStatus::*;
        // Item 0 has quantity 2.
        let cases: [(ReceptionStatus, u32, Result<u32, &str>); 9] = [
            (Received, 0, Ok(2)),
            (Received, 2, Ok(2)),
            (Received, 1, Err("received_quantity")),
            (Short, 1, Ok(1)),
            (Short, 0, Err("received_quantity")),
            (Short, 2, Err("received_quantity")),
            (Lost, 5, Ok(0)),
            (WrongItem, 0, Ok(0)),
            (InTransit, 0, Err("status")),
        ];
        for (status, qty, want) in cases {
            let mut c = in_transit();
            let id = c.items[0].id;
            let got = c.record_item_receipt(&warehouse(), id, status, qty, at());
            match (got, want) {
                (Ok(_), Ok(q)) => assert_eq!(c.items[0].received_quantity, q, "{status} {qty}"),
                (Err(DomainError::Invalid(v)), Err(f)) => {
                    assert_eq!(v[0].field, f, "{status} {qty}")
                }
                (got, want) => panic!("{status} {qty}: {got:?} vs {want:?}"),
            }
        }
    }

    #[test]
    fn receipt_drives_case_status_and_progress() {
        let mut c = in_transit();
        let (a, b) = (c.items[0].id, c.items[1].id);
        let w = warehouse();
        let ev = c
            .record_item_receipt(&w, a, ReceptionStatus::Received, 0, at())
            .unwrap();
        assert_eq!(ev, vec![CaseEvent::ItemReceived]);
        assert_eq!(c.status, CaseStatus::ReturnInTransit);
        assert_eq!(c.return_progress(), ReturnProgress::PartiallyReceived);
        let got = c
            .record_item_receipt(&w, a, ReceptionStatus::Received, 0, at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("item_already_received"));
        // Inspection may start before everything arrived.
        c.submit_inspection(&w, a, InspectionStatus::Accepted, good(), at())
            .unwrap();
        let ev = c
            .record_item_receipt(&w, b, ReceptionStatus::Received, 0, at())
            .unwrap();
        assert_eq!(ev, vec![CaseEvent::ItemReceived, CaseEvent::Received]);
        assert_eq!(c.return_progress(), ReturnProgress::PartiallyInspected);
        let ev = c
            .submit_inspection(&w, b, InspectionStatus::Rejected, good(), at())
            .unwrap();
        assert_eq!(ev, vec![CaseEvent::ItemInspected, CaseEvent::Inspected]);
        assert_eq!(c.status, CaseStatus::Inspected);
        assert_eq!(c.return_progress(), ReturnProgress::Inspected);
        let unknown = CaseItemId(uuid::Uuid::from_u128(4242));
        let got = c
            .set_disposition(&w, unknown, Disposition::Scrap, at())
            .unwrap_err();
        assert_eq!(
            got,
            DomainError::field("item_id", "is not an item of the case")
        );
    }

    #[test]
    fn receipt_without_buyer_tracking_and_nothing_to_inspect() {
        let mut c = awaiting();
        assert_eq!(c.return_progress(), ReturnProgress::AwaitingShipment);
        let (a, b) = (c.items[0].id, c.items[1].id);
        let w = warehouse();
        c.record_item_receipt(&w, a, ReceptionStatus::Lost, 0, at())
            .unwrap();
        let ev = c
            .record_item_receipt(&w, b, ReceptionStatus::WrongItem, 0, at())
            .unwrap();
        assert_eq!(
            ev,
            vec![
                CaseEvent::ItemReceived,
                CaseEvent::Received,
                CaseEvent::Inspected
            ]
        );
        assert_eq!(c.status, CaseStatus::Inspected);
        let got = c.submit_inspection(&w, a, InspectionStatus::Accepted, good(), at());
        assert_eq!(
            got.unwrap_err().rule_name(),
            Some("invalid_state_transition")
        );
    }

    #[test]
    fn inspection_rules() {
        let w = warehouse();
        let mut c = in_transit();
        let a = c.items[0].id;
        let got = c
            .submit_inspection(&w, a, InspectionStatus::Accepted, good(), at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("item_not_received"));
        let got = c
            .submit_inspection(&w, a, InspectionStatus::Pending, good(), at())
            .unwrap_err();
        assert_eq!(
            got,
            DomainError::field("result", "must be ACCEPTED, REJECTED or MANUAL_REVIEW")
        );
        c.record_item_receipt(&w, a, ReceptionStatus::Short, 1, at())
            .unwrap();
        c.submit_inspection(&w, a, InspectionStatus::ManualReview, good(), at())
            .unwrap();
        assert_eq!(c.items[0].inspection, InspectionStatus::ManualReview);
        c.submit_inspection(&w, a, InspectionStatus::Accepted, good(), at())
            .unwrap();
        let got = c
            .submit_inspection(&w, a, InspectionStatus::Rejected, good(), at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("item_already_inspected"));
        let mut c = awaiting();
        let id = c.items[0].id;
        let got = c
            .submit_inspection(&w, id, InspectionStatus::Accepted, good(), at())
            .unwrap_err();
        assert_eq!(got.rule_name(), Some("invalid_state_transition"));
    }

    #[test]
    fn disposition_table() {
        use Disposition::*;
        use InspectionStatus::{Accepted, ManualReview, Rejected};
        let damaged = ItemCondition {
            packaging_intact: true,
            second_sale_damage: true,
            note: None,
        };
        let opened = ItemCondition {
            packaging_intact: false,
            second_sale_damage: false,
            note: None,
        };
        type Want = Result<(), Option<&'static str>>;
        let cases: Vec<(InspectionStatus, ItemCondition, Disposition, Want)> = vec![
            (Accepted, good(), Restock, Ok(())),
            (
                Accepted,
                damaged.clone(),
                Restock,
                Err(Some("item_not_resellable")),
            ),
            (
                Accepted,
                opened.clone(),
                Restock,
                Err(Some("item_not_resellable")),
            ),
            (Accepted, damaged.clone(), Scrap, Ok(())),
            (Accepted, opened, ToRepair, Ok(())),
            (Accepted, damaged.clone(), ReturnToVendor, Ok(())),
            (
                Accepted,
                good(),
                ReturnToBuyer,
                Err(Some("disposition_not_allowed")),
            ),
            (Rejected, good(), ReturnToBuyer, Ok(())),
            (
                Rejected,
                good(),
                Restock,
                Err(Some("disposition_not_allowed")),
            ),
            (ManualReview, good(), Scrap, Err(Some("item_not_inspected"))),
            (Accepted, good(), Pending, Err(None)),
        ];
        for (result, cond, disp, want) in cases {
            let mut c = in_transit();
            let a = c.items[0].id;
            let w = warehouse();
            c.record_item_receipt(&w, a, ReceptionStatus::Received, 0, at())
                .unwrap();
            c.submit_inspection(&w, a, result, cond, at()).unwrap();
            let got = c.set_disposition(&w, a, disp, at());
            assert_eq!(
                got.map(|_| ()).map_err(|e| e.rule_name()),
                want,
                "{result} {disp}"
            );
        }
        let mut c = in_transit();
        let a = c.items[0].id;
        let w = warehouse();
        c.record_item_receipt(&w, a, ReceptionStatus::Received, 0, at())
            .unwrap();
        c.submit_inspection(&w, a, Accepted, good(), at()).unwrap();
        c.set_disposition(&w, a, Restock, at()).unwrap();
        let got = c.set_disposition(&w, a, Scrap, at()).unwrap_err();
        assert_eq!(got.rule_name(), Some("disposition_already_set"));
    }

    #[test]
    fn progress_not_applicable_without_return_leg() {
        let o = order();
        let c = case_on(
            &o,
            CaseType::RefundOnly,
            ReasonCode::Quality,
            &[(o.lines[0].line_id, 1)],
        );
        assert_eq!(c.return_progress(), ReturnProgress::NotApplicable);
    }
}
