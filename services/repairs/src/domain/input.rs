//! Inputs of repair order operations: raw request values turned into validated domain values,
//! naming every bad field (field names as in the gRPC requests).

use super::enums::Channel;
use super::ids::{BuyerId, LineId, MerchantId, OrderId};
use super::validate::{Reason, Violations, evidence_refs, long_text, optional_text, short_text};
use aftersales_kernel::{DomainError, limits};
use chrono::{DateTime, Utc};

/// The caller's part of a repair request as it arrives (the api layer copies the request fields
/// here). Everything else about the purchase comes from the local order replica.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRepairRequest {
    pub order_id: String,
    pub line_id: String,
    pub serial_number: String,
    pub symptom: String,
    pub evidence_refs: Vec<String>,
    /// `None` when unspecified.
    pub channel: Option<Channel>,
}

/// A validated repair request, before the purchased line is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairRequest {
    pub order_id: OrderId,
    pub line_id: LineId,
    pub serial_number: String,
    pub symptom: String,
    pub evidence_refs: Vec<String>,
    pub channel: Option<Channel>,
}

/// What the local replica of the orders service knows about the purchased line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurchasedLine {
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub sku: String,
    /// The payment capture time of the order.
    pub purchased_at: DateTime<Utc>,
    /// The line's policy snapshot; `None` means the policy default.
    pub warranty_months: Option<u32>,
    /// The order was canceled before shipment: nothing to repair.
    pub order_canceled: bool,
}

/// A repair request joined with its purchased line: the input of [`RepairOrder::open`].
///
/// [`RepairOrder::open`]: super::repair_order::RepairOrder::open
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepairOrder {
    pub order_id: OrderId,
    pub line_id: LineId,
    pub buyer_id: BuyerId,
    pub merchant_id: MerchantId,
    pub sku: String,
    pub serial_number: String,
    pub purchased_at: DateTime<Utc>,
    pub warranty_months: Option<u32>,
    pub symptom: String,
    pub evidence_refs: Vec<String>,
    pub channel: Option<Channel>,
}

impl RawRepairRequest {
    /// Validates every field, naming each bad one (field names as in `CreateRepairOrderRequest`).
    pub fn validate(&self) -> Result<RepairRequest, DomainError> {
        let mut v = Violations::new();
        let order_id = v.check(OrderId::parse("order_id", &self.order_id));
        let line_id = v.check(LineId::parse("line_id", &self.line_id));
        let serial_number = v.check(short_text("serial_number", &self.serial_number));
        let symptom = v.check(long_text("symptom", &self.symptom));
        let evidence = v.check(evidence_refs("evidence_refs", &self.evidence_refs));
        v.finish()?;
        match (order_id, line_id, serial_number, symptom, evidence) {
            (
                Some(order_id),
                Some(line_id),
                Some(serial_number),
                Some(symptom),
                Some(evidence_refs),
            ) => Ok(RepairRequest {
                order_id,
                line_id,
                serial_number,
                symptom,
                evidence_refs,
                channel: self.channel,
            }),
            // Unreachable: every `None` above recorded a violation.
            _ => Err(DomainError::field("order_id", "is invalid")),
        }
    }
}

impl RepairRequest {
    /// Joins the request with its purchased line. A canceled order has nothing to repair
    /// (`order_canceled`). The orders service accepts a payment time a few minutes ahead of its
    /// clock, so a purchase after `now` counts as made `now`.
    pub fn for_line(
        self,
        line: PurchasedLine,
        now: DateTime<Utc>,
    ) -> Result<NewRepairOrder, DomainError> {
        if line.order_canceled {
            return Err(DomainError::rule(
                "order_canceled",
                format!("order {} was canceled", self.order_id),
            ));
        }
        Ok(NewRepairOrder {
            order_id: self.order_id,
            line_id: self.line_id,
            buyer_id: line.buyer_id,
            merchant_id: line.merchant_id,
            sku: line.sku,
            serial_number: self.serial_number,
            purchased_at: line.purchased_at.min(now),
            warranty_months: line.warranty_months,
            symptom: self.symptom,
            evidence_refs: self.evidence_refs,
            channel: self.channel,
        })
    }
}

/// Validated input of `SubmitDiagnosis`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosisInput {
    pub findings: String,
    pub fault_code: Option<String>,
    /// The fault is not covered (e.g. liquid damage): voids an in-warranty decision.
    pub warranty_void_reason: Option<Reason>,
}

impl DiagnosisInput {
    /// Validates `findings` (required), `fault_code` and `warranty_void_reason` (optional).
    pub fn parse(
        findings: &str,
        fault_code: &str,
        warranty_void_reason: &str,
    ) -> Result<Self, DomainError> {
        let mut v = Violations::new();
        let findings = v.check(long_text("findings", findings));
        let fault_code = v.check(optional_text("fault_code", fault_code, limits::SHORT_TEXT));
        let void = if warranty_void_reason.trim().is_empty() {
            Some(None)
        } else {
            v.check(Reason::parse("warranty_void_reason", warranty_void_reason))
                .map(Some)
        };
        v.finish()?;
        match (findings, fault_code, void) {
            (Some(findings), Some(fault_code), Some(warranty_void_reason)) => Ok(Self {
                findings,
                fault_code,
                warranty_void_reason,
            }),
            _ => Err(DomainError::field("findings", "is invalid")),
        }
    }
}
