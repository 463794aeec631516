//! The parties of a platform arbitration (平台介入): the buyer escalates a case the merchant
//! rejected, the merchant uploads evidence (or lets the deadline pass), platform staff rule, a
//! party may appeal once, the buyer may withdraw. The saga keeps the deadlines and executes the
//! ruling; [`Parties::arbitration_effects`] reads back what returns, payments and orders hold.

use crate::{Parties, Placed, actor, cny, key};
use aftersales_proto::common::v1::{Actor, ActorKind};
use aftersales_proto::orchestrator::v1 as orch;
use aftersales_proto::returns::v1::{self as returns, ArbitrationStatus, RulingOutcome};
use anyhow::Context as _;
use std::time::Duration;
use tonic::Code;

/// How an arbitration must end for the money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The buyer gets this many minor units, refunded exactly once; the case completes.
    Award(i64),
    /// Nothing for the buyer: no refund, the case stays rejected.
    Nothing,
}

fn arbiter() -> Option<Actor> {
    actor(ActorKind::Staff, "arbiter-1")
}

impl Parties {
    /// The buyer asks for a refund without return of every unit of a delivered order, with
    /// photos of a quality problem, and the merchant rejects it. Returns the case id.
    ///
    /// A quality case needs the delivery: opening it is retried (`order_not_delivered`) until
    /// returns has replicated the signature, so the case is one on a delivered order.
    pub async fn rejected_refund_only(&mut self, placed: &Placed) -> anyhow::Result<String> {
        let req = returns::CreateCaseRequest {
            idempotency_key: key(),
            actor: actor(ActorKind::Buyer, &placed.buyer),
            order_id: placed.order.order_id.clone(),
            case_type: returns::CaseType::RefundOnly as i32,
            reason: returns::ReasonCode::Quality as i32,
            channel: aftersales_proto::common::v1::Channel::App as i32,
            description: "the jacket arrived stained".into(),
            evidence_refs: vec!["photo-stain-1".into()],
            items: placed
                .order
                .lines
                .iter()
                .map(|l| returns::CaseItemInput {
                    line_id: l.line_id.clone(),
                    quantity: l.quantity,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        let case_id = loop {
            match self.returns.create_case(req.clone()).await {
                Ok(r) => break r.into_inner().case.context("empty response")?.case_id,
                Err(s)
                    if (matches!(s.code(), Code::NotFound | Code::Unavailable)
                        || s.message().starts_with("order_not_delivered"))
                        && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(s) => anyhow::bail!("create case: {s}"),
            }
        };
        self.merchant_decides(&case_id, false).await?;
        Ok(case_id)
    }

    /// The buyer escalates the case to the platform; returns the business key of the
    /// arbitration saga it starts.
    pub async fn escalate(&mut self, placed: &Placed, case_id: &str) -> anyhow::Result<String> {
        let case = self
            .returns
            .escalate_case(returns::EscalateCaseRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Buyer, &placed.buyer),
                case_id: case_id.into(),
                reason: "the jacket arrived stained; the merchant refuses any refund".into(),
            })
            .await?
            .into_inner()
            .case
            .context("empty response")?;
        arbitration_key(&case)
    }

    /// The merchant uploads evidence before the deadline.
    pub async fn merchant_submits_evidence(&mut self, case_id: &str) -> anyhow::Result<()> {
        self.returns
            .submit_merchant_evidence(returns::SubmitMerchantEvidenceRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Merchant, &self.merchant),
                case_id: case_id.into(),
                evidence_refs: vec!["packing-video-1".into()],
                statement: "the jacket left the warehouse clean, see the packing video".into(),
            })
            .await?;
        Ok(())
    }

    /// Platform staff rule once the case is under review (evidence in, its deadline passed, or
    /// appealed). `split`: what the buyer gets for a SPLIT, in minor units.
    pub async fn platform_rules(
        &mut self,
        case_id: &str,
        outcome: RulingOutcome,
        split: Option<i64>,
        within: Duration,
    ) -> anyhow::Result<returns::Case> {
        self.wait_arbitration_status(
            case_id,
            &[ArbitrationStatus::UnderReview, ArbitrationStatus::Appealed],
            within,
        )
        .await?;
        self.returns
            .rule_arbitration(returns::RuleArbitrationRequest {
                idempotency_key: key(),
                actor: arbiter(),
                case_id: case_id.into(),
                outcome: outcome as i32,
                buyer_amount: split.and_then(cny),
                reason: format!("ruling {}", outcome.as_str_name()),
            })
            .await?
            .into_inner()
            .case
            .context("empty response")
    }

    /// The buyer (or the merchant) appeals the ruling.
    pub async fn appeal_ruling(
        &mut self,
        placed: &Placed,
        case_id: &str,
        by_merchant: bool,
    ) -> Result<returns::Case, tonic::Status> {
        let who = if by_merchant {
            actor(ActorKind::Merchant, &self.merchant)
        } else {
            actor(ActorKind::Buyer, &placed.buyer)
        };
        self.returns
            .appeal_ruling(returns::AppealRulingRequest {
                idempotency_key: key(),
                actor: who,
                case_id: case_id.into(),
                reason: "the ruling ignores the packing video".into(),
            })
            .await
            .map(|r| r.into_inner().case.unwrap_or_default())
    }

    /// The buyer withdraws the escalation.
    pub async fn withdraw_escalation(
        &mut self,
        placed: &Placed,
        case_id: &str,
    ) -> anyhow::Result<()> {
        self.returns
            .withdraw_escalation(returns::WithdrawEscalationRequest {
                idempotency_key: key(),
                actor: actor(ActorKind::Buyer, &placed.buyer),
                case_id: case_id.into(),
            })
            .await?;
        Ok(())
    }

    /// Polls the case until its arbitration is in one of `statuses`.
    pub async fn wait_arbitration_status(
        &mut self,
        case_id: &str,
        statuses: &[ArbitrationStatus],
        within: Duration,
    ) -> anyhow::Result<returns::Case> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let case = self.case(case_id).await?;
            let status = case.arbitration.as_ref().map(|a| a.status());
            if status.is_some_and(|s| statuses.contains(&s)) {
                return Ok(case);
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the arbitration of case {case_id} is {status:?}, never {statuses:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the arbitration saga of `business_key` until `done` says so.
    pub async fn wait_arbitration(
        &mut self,
        business_key: &str,
        within: Duration,
        done: impl Fn(&orch::SagaSummary) -> bool,
    ) -> anyhow::Result<orch::SagaSummary> {
        self.try_wait_key(business_key, within, done)
            .await
            .map_err(|seen| anyhow::anyhow!("the saga of {business_key} never got there: {seen:?}"))
    }

    /// What a finished arbitration must leave behind: the refund of the award exactly once and
    /// recorded on a completed case (with the case's units counted as refunded when the award is
    /// everything asked for), or no money and a case still rejected; the arbitration in
    /// `status`. Returns a list of the differences (empty when all is right).
    pub async fn arbitration_effects(
        &mut self,
        placed: &Placed,
        case_id: &str,
        verdict: Verdict,
        status: ArbitrationStatus,
    ) -> anyhow::Result<Vec<String>> {
        let mut problems = Vec::new();
        let case = self.case(case_id).await?;
        let got = case.arbitration.as_ref().map(|a| a.status());
        if got != Some(status) {
            problems.push(format!("arbitration {got:?} instead of {status:?}"));
        }
        let refunds: Vec<_> = self
            .refunds(placed)
            .await?
            .into_iter()
            .filter(|r| r.status != aftersales_proto::payments::v1::RefundStatus::Failed as i32)
            .collect();
        let minor = |m: &Option<aftersales_proto::common::v1::Money>| {
            m.as_ref().map(|m| m.minor_units).unwrap_or(0)
        };
        let requested = minor(&case.requested_amount);
        let order = self.order(placed).await?;
        let units = |line_id: &str| -> u32 {
            case.items
                .iter()
                .filter(|i| i.line_id == line_id)
                .map(|i| i.quantity)
                .sum()
        };
        match verdict {
            Verdict::Award(award) => {
                match refunds.as_slice() {
                    [r] if minor(&r.amount) == award && r.case_id == case_id => {
                        if case.refund_id != r.refund_id {
                            problems.push(format!(
                                "refund {} but the case records {:?}",
                                r.refund_id, case.refund_id
                            ));
                        }
                    }
                    other => problems.push(format!(
                        "refunds {:?} instead of one of {award} for the case",
                        other.iter().map(|r| minor(&r.amount)).collect::<Vec<_>>()
                    )),
                }
                if minor(&case.refunded_amount) != award {
                    problems.push(format!(
                        "case refunded {} instead of {award}",
                        minor(&case.refunded_amount)
                    ));
                }
                if case.status != returns::CaseStatus::Completed as i32 {
                    problems.push(format!("case status {}", case.status().as_str_name()));
                }
                if award == requested {
                    for line in &order.lines {
                        let got = line.counters.unwrap_or_default().refunded;
                        if got != units(&line.line_id) {
                            problems.push(format!(
                                "line {}: refunded {got} instead of {}",
                                line.sku,
                                units(&line.line_id)
                            ));
                        }
                    }
                }
            }
            Verdict::Nothing => {
                if !refunds.is_empty() {
                    problems.push(format!(
                        "{} refunds though nothing was awarded",
                        refunds.len()
                    ));
                }
                if case.status != returns::CaseStatus::Rejected as i32 {
                    problems.push(format!("case status {}", case.status().as_str_name()));
                }
                for line in &order.lines {
                    let got = line.counters.unwrap_or_default().refunded;
                    if got != 0 {
                        problems.push(format!("line {}: refunded {got}", line.sku));
                    }
                }
            }
        }
        Ok(problems)
    }
}

/// The business key of the arbitration saga of the case's current escalation.
pub fn arbitration_key(case: &returns::Case) -> anyhow::Result<String> {
    let opened = case
        .arbitration
        .as_ref()
        .and_then(|a| a.opened_at)
        .context("the case is not escalated")?;
    Ok(format!(
        "arbitration:{}:{}.{:09}",
        case.case_id, opened.seconds, opened.nanos
    ))
}
