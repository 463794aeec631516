//! The parties of a repair round trip: the buyer sends an item of a delivered order for repair,
//! platform staff register and assign a repair center, the center (a partner) acknowledges,
//! diagnoses, quotes and repairs or gives up, the buyer answers the quote or picks a resolution,
//! the courier carries the parcels both ways. The saga issues the labels, charges the quote and
//! ships the item back; [`Parties::repair_effects`] reads back what every service holds at the
//! end.

use crate::{Parties, Placed, actor, cny, key, ts};
use aftersales_proto::common::v1::{Actor, ActorKind, Channel as Via, PageRequest};
use aftersales_proto::logistics::v1 as logistics;
use aftersales_proto::payments::v1 as payments;
use aftersales_proto::repairs::v1::{self as repairs, RepairState};
use aftersales_proto::returns::v1 as returns;
use anyhow::Context as _;
use chrono::{Duration as Cd, Utc};
use std::time::Duration;
use tonic::Code;

/// A repair order for one unit of line A of a delivered order, and the repair center it went to.
#[derive(Debug, Clone)]
pub struct Repair {
    pub placed: Placed,
    pub repair_id: String,
    pub line_id: String,
    pub center_id: String,
}

impl Repair {
    /// The saga's business key.
    pub fn saga_key(&self) -> String {
        format!("repair:{}", self.repair_id)
    }

    fn buyer(&self) -> Option<Actor> {
        actor(ActorKind::Buyer, &self.placed.buyer)
    }

    fn center(&self) -> Option<Actor> {
        actor(ActorKind::Partner, &self.center_id)
    }
}

/// What the repair center finds at diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// A fault the warranty covers: the repair is free and starts at once.
    Covered,
    /// Liquid damage voids the warranty; the center quotes this many minor units (CNY).
    Quote(i64),
}

/// How a repair round trip must end, as every service sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepairOutcome {
    /// Repaired and back with the buyer; `charged`: the quote the buyer paid (minor units).
    Repaired { charged: Option<i64> },
    /// Back with the buyer unrepaired, for this reason, with nothing charged.
    Unrepaired(repairs::UnrepairedReason),
    /// Beyond repair: the charge of the quote (`voided` minor units) voided, a returns case of
    /// `resolution` opened for the unit and linked; the item does not travel back.
    Converted {
        voided: Option<i64>,
        resolution: repairs::UnrepairableResolution,
    },
}

fn staff() -> Option<Actor> {
    actor(ActorKind::Staff, "repair-desk-1")
}

fn state_name(o: &repairs::RepairOrder) -> &'static str {
    o.state().as_str_name().trim_start_matches("REPAIR_STATE_")
}

impl Parties {
    /// The buyer sends one unit of line A of a delivered order for repair (retrying while the
    /// repairs service has not replicated the order yet); platform staff register a repair
    /// center and assign it, which lets the saga issue the label toward it.
    pub async fn open_repair(&mut self, placed: &Placed) -> anyhow::Result<Repair> {
        let line = placed
            .order
            .lines
            .first()
            .context("the order has no line")?;
        let req = repairs::CreateRepairOrderRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &placed.buyer),
            order_id: placed.order.order_id.clone(),
            line_id: line.line_id.clone(),
            serial_number: format!("SN-{}", &key()[..8]),
            symptom: "the zip is torn and the lining comes loose".into(),
            evidence_refs: vec!["photo-zip-1".into()],
            channel: Via::App as i32,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let order = loop {
            match self.repairs.create_repair_order(req.clone()).await {
                Ok(r) => break r.into_inner().repair_order.context("empty response")?,
                Err(s)
                    if matches!(s.code(), Code::NotFound | Code::Unavailable)
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => anyhow::bail!("create repair order: {s}"),
            }
        };
        let center = self
            .repairs
            .create_repair_center(repairs::CreateRepairCenterRequest {
                idempotency_key: key(),
                actor: staff(),
                code: format!("RC-{}", &key()[..8]),
                name: "Hangzhou repair partner".into(),
            })
            .await?
            .into_inner()
            .repair_center
            .context("empty response")?;
        self.repairs
            .assign_repair_center(repairs::AssignRepairCenterRequest {
                idempotency_key: key(),
                actor: staff(),
                repair_order_id: order.repair_order_id.clone(),
                repair_center_id: center.repair_center_id.clone(),
            })
            .await?;
        Ok(Repair {
            placed: placed.clone(),
            repair_id: order.repair_order_id,
            line_id: line.line_id.clone(),
            center_id: center.repair_center_id,
        })
    }

    pub async fn repair_order(&mut self, repair_id: &str) -> anyhow::Result<repairs::RepairOrder> {
        self.repairs
            .get_repair_order(repairs::GetRepairOrderRequest {
                repair_order_id: repair_id.into(),
                actor: staff(),
            })
            .await?
            .into_inner()
            .repair_order
            .context("empty response")
    }

    /// Polls the repair order until it is in one of `states`.
    pub async fn wait_repair(
        &mut self,
        repair_id: &str,
        states: &[RepairState],
        within: Duration,
    ) -> anyhow::Result<repairs::RepairOrder> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let o = self.repair_order(repair_id).await?;
            if states.contains(&o.state()) {
                return Ok(o);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "repair order {repair_id} is {} and never reached {states:?}",
                state_name(&o)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The courier picks the parcel up and the recipient signs for it.
    pub async fn courier_delivers(&mut self, shipment_id: &str) -> anyhow::Result<()> {
        let shipment = self.shipment(shipment_id).await?;
        let courier = actor(ActorKind::Partner, &shipment.courier_code);
        for (status, ago) in [
            (logistics::TrackingStatus::PickedUp, 2),
            (logistics::TrackingStatus::Signed, 1),
        ] {
            self.logistics
                .record_tracking_event(logistics::RecordTrackingEventRequest {
                    idempotency_key: key(),
                    actor: courier.clone(),
                    shipment_id: shipment_id.into(),
                    courier_code: shipment.courier_code.clone(),
                    courier_event_id: format!("scan-{}", key()),
                    status: status as i32,
                    occurred_at: ts(Utc::now() - Cd::seconds(ago)),
                    location: "Hangzhou".into(),
                    ..Default::default()
                })
                .await?;
        }
        Ok(())
    }

    /// Once the saga has issued the label and the item is on its way, the courier delivers it
    /// and the repair center acknowledges receipt and starts diagnosing.
    pub async fn repair_center_receives(
        &mut self,
        r: &Repair,
        within: Duration,
    ) -> anyhow::Result<()> {
        let o = self
            .wait_repair(&r.repair_id, &[RepairState::AtRepairCenter], within)
            .await?;
        self.courier_delivers(&o.inbound_shipment_id).await?;
        self.repairs
            .acknowledge_receipt(repairs::AcknowledgeReceiptRequest {
                idempotency_key: key(),
                actor: r.center(),
                repair_order_id: r.repair_id.clone(),
                note: "received in the original box".into(),
            })
            .await?;
        self.repairs
            .start_diagnosis(repairs::StartDiagnosisRequest {
                idempotency_key: key(),
                actor: r.center(),
                repair_order_id: r.repair_id.clone(),
            })
            .await?;
        Ok(())
    }

    /// The repair center submits its findings and, out of warranty, the quote.
    pub async fn repair_center_diagnoses(
        &mut self,
        r: &Repair,
        finding: Finding,
    ) -> anyhow::Result<()> {
        let void = match finding {
            Finding::Covered => String::new(),
            Finding::Quote(_) => "liquid damage is not covered by the warranty".into(),
        };
        self.repairs
            .submit_diagnosis(repairs::SubmitDiagnosisRequest {
                idempotency_key: key(),
                actor: r.center(),
                repair_order_id: r.repair_id.clone(),
                findings: "zip slider broken, lining seam open".into(),
                fault_code: "ZIP-02".into(),
                warranty_void_reason: void,
            })
            .await?;
        if let Finding::Quote(minor) = finding {
            self.repairs
                .submit_quote(repairs::SubmitQuoteRequest {
                    idempotency_key: key(),
                    actor: r.center(),
                    repair_order_id: r.repair_id.clone(),
                    amount: cny(minor),
                    description: "new zip and seam repair".into(),
                })
                .await?;
        }
        Ok(())
    }

    /// The buyer approves or declines the quote once the saga has shown it.
    pub async fn buyer_answers_quote(
        &mut self,
        r: &Repair,
        approve: bool,
        within: Duration,
    ) -> anyhow::Result<()> {
        self.wait_repair(&r.repair_id, &[RepairState::AwaitingApproval], within)
            .await?;
        if approve {
            self.repairs
                .approve_quote(repairs::ApproveQuoteRequest {
                    idempotency_key: key(),
                    actor: r.buyer(),
                    repair_order_id: r.repair_id.clone(),
                })
                .await?;
        } else {
            self.repairs
                .decline_quote(repairs::DeclineQuoteRequest {
                    idempotency_key: key(),
                    actor: r.buyer(),
                    repair_order_id: r.repair_id.clone(),
                    reason: "too expensive for an old jacket".into(),
                })
                .await?;
        }
        Ok(())
    }

    /// Once the repair may start (free, or the quote paid), the repair center reports the item
    /// repaired or beyond repair.
    pub async fn repair_center_finishes(
        &mut self,
        r: &Repair,
        repaired: bool,
        within: Duration,
    ) -> anyhow::Result<()> {
        self.wait_repair(&r.repair_id, &[RepairState::Repairing], within)
            .await?;
        if repaired {
            self.repairs
                .report_repaired(repairs::ReportRepairedRequest {
                    idempotency_key: key(),
                    actor: r.center(),
                    repair_order_id: r.repair_id.clone(),
                    notes: "zip replaced, seam restitched".into(),
                })
                .await?;
        } else {
            self.repairs
                .report_unrepairable(repairs::ReportUnrepairableRequest {
                    idempotency_key: key(),
                    actor: r.center(),
                    repair_order_id: r.repair_id.clone(),
                    reason: "the fabric tears around the new seam".into(),
                })
                .await?;
        }
        Ok(())
    }

    /// Once the saga has shipped the item back, the courier delivers it to the buyer.
    pub async fn courier_brings_it_back(
        &mut self,
        r: &Repair,
        within: Duration,
    ) -> anyhow::Result<()> {
        let o = self
            .wait_repair(&r.repair_id, &[RepairState::ShippedBack], within)
            .await?;
        self.courier_delivers(&o.return_shipment_id).await
    }

    /// The buyer picks what an unrepairable item becomes.
    pub async fn buyer_converts(
        &mut self,
        r: &Repair,
        resolution: repairs::UnrepairableResolution,
        within: Duration,
    ) -> anyhow::Result<()> {
        self.wait_repair(&r.repair_id, &[RepairState::Unrepairable], within)
            .await?;
        self.repairs
            .convert_repair(repairs::ConvertRepairRequest {
                idempotency_key: key(),
                actor: r.buyer(),
                repair_order_id: r.repair_id.clone(),
                resolution: resolution as i32,
            })
            .await?;
        Ok(())
    }

    /// Every shipment logistics holds for the repair.
    pub async fn repair_shipments(
        &mut self,
        repair_id: &str,
    ) -> anyhow::Result<Vec<logistics::Shipment>> {
        Ok(self
            .logistics
            .list_shipments(logistics::ListShipmentsRequest {
                actor: actor(ActorKind::Staff, "cs-1"),
                repair_id: repair_id.into(),
                page: Some(PageRequest {
                    page_size: 100,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items)
    }

    /// Every charge payments holds for the repair.
    pub async fn repair_charges(
        &mut self,
        repair_id: &str,
    ) -> anyhow::Result<Vec<payments::Charge>> {
        Ok(self
            .payments
            .list_charges(payments::ListChargesRequest {
                repair_id: repair_id.into(),
                page: Some(PageRequest {
                    page_size: 100,
                    page_token: String::new(),
                }),
                ..Default::default()
            })
            .await?
            .into_inner()
            .items)
    }

    /// What a finished repair saga must leave behind in repairs, logistics, payments and
    /// returns. Returns a list of the differences (empty when all is right).
    pub async fn repair_effects(
        &mut self,
        r: &Repair,
        want: RepairOutcome,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let o = self.repair_order(&r.repair_id).await?;
        let shipments = self.repair_shipments(&r.repair_id).await?;
        let leg = |d: logistics::Direction| -> Vec<&logistics::Shipment> {
            shipments
                .iter()
                .filter(|s| s.direction == d as i32)
                .collect()
        };
        let inbound = leg(logistics::Direction::ToRepairCenter);
        let outbound = leg(logistics::Direction::FromRepairCenter);
        match inbound.as_slice() {
            [s] => {
                if s.shipment_id != o.inbound_shipment_id {
                    problems.push(format!(
                        "inbound shipment {} but the repair order names {:?}",
                        s.shipment_id, o.inbound_shipment_id
                    ));
                }
                if s.waybill_state == logistics::WaybillState::Voided as i32 {
                    problems.push("the label toward the repair center was voided".into());
                }
                if s.fee_payer != logistics::FeePayer::Merchant as i32 {
                    problems.push(format!("inbound fee payer {}", s.fee_payer));
                }
            }
            other => problems.push(format!(
                "{} shipments toward the repair center instead of one",
                other.len()
            )),
        }
        let shipped_back = !matches!(want, RepairOutcome::Converted { .. });
        match (shipped_back, outbound.as_slice()) {
            (true, [s]) => {
                if s.shipment_id != o.return_shipment_id {
                    problems.push(format!(
                        "ship-back shipment {} but the repair order names {:?}",
                        s.shipment_id, o.return_shipment_id
                    ));
                }
                if s.state != logistics::ShipmentState::Signed as i32 {
                    problems.push(format!("ship-back shipment state {}", s.state));
                }
            }
            (false, []) => {}
            (_, other) => problems.push(format!(
                "{} shipments back from the repair center",
                other.len()
            )),
        }

        let charges = self.repair_charges(&r.repair_id).await?;
        let want_charge = match want {
            RepairOutcome::Repaired { charged: Some(m) } => {
                Some((payments::ChargeStatus::Succeeded, m))
            }
            RepairOutcome::Converted {
                voided: Some(m), ..
            } => Some((payments::ChargeStatus::Voided, m)),
            _ => None,
        };
        match (want_charge, charges.as_slice()) {
            (None, []) => {}
            (Some((status, minor)), [c]) => {
                let amount = c.amount.as_ref().map(|m| m.minor_units).unwrap_or(0);
                if c.status != status as i32 || amount != minor {
                    problems.push(format!(
                        "charge {} of {amount} instead of {} of {minor}",
                        c.status,
                        status.as_str_name()
                    ));
                }
                let paid_with = o.quote.as_ref().map(|q| q.charge_id.as_str());
                if paid_with != Some(c.charge_id.as_str()) {
                    problems.push(format!(
                        "charge {} but the quote was paid with {paid_with:?}",
                        c.charge_id
                    ));
                }
                if status == payments::ChargeStatus::Voided && !c.refund_on_void {
                    problems.push("the voided charge had not succeeded".into());
                }
            }
            (want, got) => problems.push(format!(
                "charges {:?} instead of {want:?}",
                got.iter()
                    .map(|c| (c.status, c.amount.as_ref().map(|m| m.minor_units)))
                    .collect::<Vec<_>>()
            )),
        }

        match want {
            RepairOutcome::Repaired { .. } | RepairOutcome::Unrepaired(_) => {
                if o.state() != RepairState::Completed || o.completed_at.is_none() {
                    problems.push(format!("repair order {}", state_name(&o)));
                }
                let (count, total) = self.money_refunded(&r.placed).await?;
                if count != 0 {
                    problems.push(format!("{count} refunds of the order ({total})"));
                }
            }
            RepairOutcome::Converted { .. } => {
                if o.state() != RepairState::Converted {
                    problems.push(format!("repair order {}", state_name(&o)));
                }
            }
        }
        match want {
            RepairOutcome::Repaired { .. } => {
                if o.repaired_at.is_none() || o.unrepaired_reason != 0 {
                    problems.push(format!(
                        "not repaired (unrepaired reason {})",
                        o.unrepaired_reason
                    ));
                }
            }
            RepairOutcome::Unrepaired(reason) => {
                if o.repaired_at.is_some() || o.unrepaired_reason() != reason {
                    problems.push(format!(
                        "unrepaired reason {} instead of {}",
                        o.unrepaired_reason().as_str_name(),
                        reason.as_str_name()
                    ));
                }
            }
            RepairOutcome::Converted { resolution, .. } => {
                if o.resolution() != resolution {
                    problems.push(format!("resolution {}", o.resolution().as_str_name()));
                }
                if o.converted_case_id.is_empty() {
                    problems.push("no case linked to the converted repair".into());
                } else {
                    let case = self.case(&o.converted_case_id).await?;
                    let case_type = match resolution {
                        repairs::UnrepairableResolution::Exchange => returns::CaseType::Exchange,
                        _ => returns::CaseType::RefundOnly,
                    };
                    let items: Vec<(&str, u32)> = case
                        .items
                        .iter()
                        .map(|i| (i.line_id.as_str(), i.quantity))
                        .collect();
                    if case.order_id != r.placed.order.order_id
                        || case.case_type != case_type as i32
                        || case.reason != returns::ReasonCode::Quality as i32
                        || items != [(r.line_id.as_str(), 1)]
                    {
                        problems.push(format!(
                            "converted case {}: type {} reason {} items {items:?}",
                            case.case_id, case.case_type, case.reason
                        ));
                    }
                }
            }
        }
        Ok(problems)
    }
}
