//! The gRPC `PaymentsService`: parses and validates every request before touching the
//! database, then runs each change as one idempotent transaction (row locks, domain
//! transition, rows, outbox events, idempotency record).
//!
//! Provider calls (refunds, cash payouts, charges, voids) run inside that transaction while
//! the aggregate row is locked: refunds of one payment are serialised, which is what keeps the
//! refund total under the captured amount. The provider's idempotency key is derived from the
//! request's idempotency scope and the client's key
//! ([`provider_key`](crate::domain::provider_key)), so a client retry after a lost commit
//! presents the same key and the provider does not move money twice.

pub mod convert;

use crate::Config;
use crate::domain::{
    Actor, ActorKind, BuyerId, CaseId, Charge, ChargeFor, ChargeId, ChargeStatus, ChargebackId,
    Compensation, CompensationId, ComplaintId, CreditSource, Event, MerchantId, NewCharge,
    NewChargeback, NewCompensation, NewDebit, NewPayment, NewRefund, OrderId, Payment, PaymentId,
    PaymentMethod, Payout, Policy, ProviderOutcome, QuoteId, Refund, RefundDestination, RefundId,
    RepairId, VoidEffect, scopes, validate,
};
use crate::messaging::events;
use crate::provider::{self, PaymentProvider, Sandbox};
use crate::storage::repo;
use aftersales_kernel::limits;
use aftersales_platform::{AppError, AppResult, Runtime, Store, Tx, edge};
use aftersales_proto::payments::v1::{self as pb, payments_service_server::PaymentsService};
use chrono::{DateTime, Utc};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tonic::{Request, Response, Status};

/// The payments API over the store, the configured policy and the provider adapter.
#[derive(Clone)]
pub struct PaymentsApi {
    store: Store,
    policy: Arc<Policy>,
    provider: Arc<dyn PaymentProvider>,
}

/// An operation the provider answered "pending" and will confirm later by itself.
#[derive(Debug, Clone)]
enum Late {
    Refund(RefundId, String),
    Compensation(CompensationId, String),
    Charge(ChargeId, String),
}

type LateSlot = Arc<OnceLock<Late>>;

/// The actor recorded for confirmations the sandbox provider delivers by itself.
fn sandbox_actor() -> Actor {
    Actor {
        kind: ActorKind::Partner,
        id: "sandbox".into(),
    }
}

impl PaymentsApi {
    /// Builds the API with the sandbox provider; fails when the `[service]` configuration is
    /// invalid (naming the key).
    pub fn new(rt: &Runtime<Config>) -> anyhow::Result<Self> {
        let policy = rt.settings.service.policy()?;
        let provider = Arc::new(Sandbox::new(policy.sandbox.clone()));
        Ok(Self::with_provider(rt.store.clone(), policy, provider))
    }

    pub fn with_provider(store: Store, policy: Policy, provider: Arc<dyn PaymentProvider>) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            provider,
        }
    }

    fn provider_timeout(&self) -> Duration {
        Duration::from_millis(self.policy.sandbox.timeout_ms)
    }

    /// Delivers a late confirmation after the provider's delay (the sandbox's simulated
    /// callback; a real provider calls the `Confirm*` RPCs instead).
    fn schedule_late(&self, slot: &LateSlot) {
        let (Some(late), Some(delay)) =
            (slot.get().cloned(), self.provider.late_confirmation_delay())
        else {
            return;
        };
        let api = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            if let Err(err) = api.deliver_late(late.clone()).await {
                tracing::warn!(error = %err, ?late, "late provider confirmation failed");
            }
        });
    }

    async fn deliver_late(&self, late: Late) -> AppResult<()> {
        self.store
            .transaction(move |tx| {
                Box::pin(async move {
                    let now = Utc::now();
                    match late {
                        Late::Refund(id, reference) => {
                            let ok = ProviderOutcome::Succeeded { reference };
                            confirm_refund_in(tx, id, ok, sandbox_actor(), None, now).await?;
                        }
                        Late::Compensation(id, reference) => {
                            let ok = ProviderOutcome::Succeeded { reference };
                            confirm_compensation_in(tx, id, ok, sandbox_actor(), None, now).await?;
                        }
                        Late::Charge(id, reference) => {
                            let ok = ProviderOutcome::Succeeded { reference };
                            confirm_charge_in(tx, id, ok, sandbox_actor(), now).await?;
                        }
                    }
                    Ok(())
                })
            })
            .await
    }
}

// -------------------------------------------------------------------------------------------------
// Shared transaction steps (used by the RPCs and by the sandbox's late confirmations)

async fn confirm_refund_in(
    tx: &Tx,
    id: RefundId,
    outcome: ProviderOutcome,
    actor: Actor,
    note: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<Refund> {
    let conn = tx.conn();
    // Lock order everywhere: payment, then its refund or chargeback.
    let payment_id = repo::load_refund(conn, id).await?.payment_id;
    let mut payment = repo::lock_payment(conn, payment_id).await?;
    let mut refund = repo::lock_refund(conn, id).await?;
    if let Some(ev) = refund.confirm(&mut payment, outcome, actor, note, now)? {
        repo::save_refund(conn, &refund).await?;
        repo::save_payment(conn, &payment).await?;
        tx.publish(&events::refund_event(&refund, ev)).await?;
    }
    Ok(refund)
}

async fn confirm_compensation_in(
    tx: &Tx,
    id: CompensationId,
    outcome: ProviderOutcome,
    actor: Actor,
    note: Option<String>,
    now: DateTime<Utc>,
) -> AppResult<Compensation> {
    let conn = tx.conn();
    let mut c = repo::lock_compensation(conn, id).await?;
    if let Some(ev) = c.confirm(outcome, actor, note, now)? {
        repo::save_compensation(conn, &c).await?;
        tx.publish(&events::compensation_event(&c, ev)).await?;
    }
    Ok(c)
}

async fn confirm_charge_in(
    tx: &Tx,
    id: ChargeId,
    outcome: ProviderOutcome,
    actor: Actor,
    now: DateTime<Utc>,
) -> AppResult<Charge> {
    let conn = tx.conn();
    let mut c = repo::lock_charge(conn, id).await?;
    let voided_then_taken =
        c.status == ChargeStatus::Voided && matches!(outcome, ProviderOutcome::Succeeded { .. });
    let confirmed = c.confirm(outcome, &actor, now).inspect_err(|e| {
        // We voided it before the provider's answer arrived: a success means money we released
        // or refunded may have been taken after all. Someone has to check with the provider.
        if voided_then_taken && e.rule_name() == Some("charge_already_final") {
            tracing::error!(
                charge_id = %id,
                "provider confirmed a voided charge as succeeded: needs reconciliation"
            );
        }
    })?;
    if let Some(ev) = confirmed {
        repo::save_charge(conn, &c).await?;
        tx.publish(&events::charge_event(&c, ev)).await?;
    }
    Ok(c)
}

/// Publishes the events of a store credit settlement: ledger events carry the entry, the rest
/// the entity (`other`).
async fn publish_all(
    tx: &Tx,
    evs: &[Event],
    entry: Option<&crate::domain::StoreCreditEntry>,
    other: impl Fn(Event) -> aftersales_platform::outbox::OutboundMessage,
) -> AppResult<()> {
    for ev in evs {
        match (ev, entry) {
            (Event::StoreCreditCredited | Event::StoreCreditDebited, Some(e)) => {
                tx.publish(&events::entry_event(e, *ev)).await?;
            }
            _ => tx.publish(&other(*ev)).await?,
        }
    }
    Ok(())
}

fn id_filter(field: &str, raw: &str) -> AppResult<Option<uuid::Uuid>> {
    edge::optional_uuid(field, raw)
}

/// Exactly one of `repair_id` and `case_id` names what a charge pays for.
fn charge_for(repair_id: &str, case_id: &str) -> AppResult<ChargeFor> {
    let repair = edge::optional_uuid("repair_id", repair_id)?;
    let case = edge::optional_uuid("case_id", case_id)?;
    match (repair, case) {
        (Some(r), None) => Ok(ChargeFor::Repair(RepairId(r))),
        (None, Some(c)) => Ok(ChargeFor::Case(CaseId(c))),
        _ => Err(AppError::field(
            "repair_id",
            "exactly one of repair_id and case_id is required",
        )),
    }
}

fn optional_reason(field: &str, raw: &str) -> AppResult<Option<String>> {
    convert::optional_text(field, raw, limits::LONG_TEXT)
}

#[tonic::async_trait]
impl PaymentsService for PaymentsApi {
    // ---------------------------------------------------------------------------------------------
    // Payments

    async fn record_payment(
        &self,
        request: Request<pb::RecordPaymentRequest>,
    ) -> Result<Response<pb::RecordPaymentResponse>, Status> {
        let req = request.into_inner();
        let input = NewPayment {
            idempotency_key: convert::idempotency_key(&req.idempotency_key)?,
            order_id: OrderId(edge::uuid("order_id", &req.order_id)?),
            merchant_id: MerchantId(edge::uuid("merchant_id", &req.merchant_id)?),
            buyer_id: BuyerId(edge::uuid("buyer_id", &req.buyer_id)?),
            method: convert::required_enum("method", req.method, convert::method_from_pb)?,
            captured: convert::positive_money("captured", req.captured.as_ref())?,
            provider_reference: convert::short_text("provider_reference", &req.provider_reference)?,
            captured_at: edge::timestamp("captured_at", req.captured_at.as_ref())?,
            actor: convert::actor(req.actor.as_ref())?,
        };
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.RecordPayment",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        // One payment per order: serialise recorders of the same order.
                        repo::lock_key(conn, &format!("payments.order:{}", input.order_id)).await?;
                        let (payment, ev) = Payment::record(input.clone(), now)?;
                        if let Some(existing) =
                            repo::find_payment_by_order(conn, input.order_id).await?
                        {
                            existing.check_duplicate(&input)?;
                            return Ok(pb::RecordPaymentResponse {
                                payment: Some(convert::payment_to_pb(&existing)),
                            });
                        }
                        repo::insert_payment(conn, &payment).await?;
                        tx.publish(&events::payment_event(&payment, ev)).await?;
                        Ok(pb::RecordPaymentResponse {
                            payment: Some(convert::payment_to_pb(&payment)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_payment(
        &self,
        request: Request<pb::GetPaymentRequest>,
    ) -> Result<Response<pb::GetPaymentResponse>, Status> {
        let req = request.into_inner();
        let id = PaymentId(edge::uuid("payment_id", &req.payment_id)?);
        let p = repo::load_payment(&self.store.db, id).await?;
        Ok(Response::new(pb::GetPaymentResponse {
            payment: Some(convert::payment_to_pb(&p)),
        }))
    }

    async fn list_payments(
        &self,
        request: Request<pb::ListPaymentsRequest>,
    ) -> Result<Response<pb::ListPaymentsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let filter = repo::PaymentFilter {
            order_id: id_filter("order_id", &req.order_id)?,
            merchant_id: id_filter("merchant_id", &req.merchant_id)?,
            buyer_id: id_filter("buyer_id", &req.buyer_id)?,
            method: convert::optional_enum("method", req.method, convert::method_from_pb)?,
            captured_after: edge::optional_timestamp(
                "captured_after",
                req.captured_after.as_ref(),
            )?,
            captured_before: edge::optional_timestamp(
                "captured_before",
                req.captured_before.as_ref(),
            )?,
        };
        let mut rows = repo::list_payments(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |p| p.id.0);
        Ok(Response::new(pb::ListPaymentsResponse {
            items: rows.iter().map(convert::payment_to_pb).collect(),
            page: Some(next),
        }))
    }

    // ---------------------------------------------------------------------------------------------
    // Refunds

    async fn create_refund(
        &self,
        request: Request<pb::CreateRefundRequest>,
    ) -> Result<Response<pb::CreateRefundResponse>, Status> {
        let req = request.into_inner();
        let target = convert::refund_target(&req.payment_id, &req.order_id)?;
        let input = NewRefund {
            idempotency_key: convert::idempotency_key(&req.idempotency_key)?,
            case_id: CaseId::parse_optional("case_id", &req.case_id).map_err(AppError::from)?,
            amount: convert::positive_money("amount", req.amount.as_ref())?,
            destination: convert::optional_enum(
                "destination",
                req.destination,
                convert::destination_from_pb,
            )?,
            reason: convert::reason("reason", &req.reason)?,
            override_reason: optional_reason("override_reason", &req.override_reason)?,
            actor: convert::actor(req.actor.as_ref())?,
        };
        // Refund idempotency keys are unique per merchant: the merchant never changes, so it
        // is read before the transaction to name the scope.
        let payment = match target {
            convert::RefundTarget::Payment(id) => repo::load_payment(&self.store.db, id).await?,
            convert::RefundTarget::Order(order) => {
                repo::find_payment_by_order(&self.store.db, order)
                    .await?
                    .ok_or_else(|| AppError::not_found("payment of order", order))?
            }
        };
        let (payment_id, merchant) = (payment.id, payment.merchant_id);
        let scope = scopes::create_refund(merchant);
        let now = Utc::now();
        let policy = self.policy.clone();
        let provider = self.provider.clone();
        let timeout = self.provider_timeout();
        let late: LateSlot = Arc::default();
        let late_in = late.clone();
        let resp = self
            .store
            .idempotent(&scope, &req.idempotency_key, &req, move |tx| {
                Box::pin(async move {
                    let conn = tx.conn();
                    let mut payment = repo::lock_payment(conn, payment_id).await?;
                    // Under the payment's lock: a case is refunded once.
                    if let Some(case) = input.case_id {
                        let of_case = repo::refunds_of_case(conn, payment_id, case).await?;
                        if let Some(existing) =
                            crate::domain::existing_for_case(&of_case, input.amount)?
                        {
                            return Ok(pb::CreateRefundResponse {
                                refund: Some(convert::refund_to_pb(existing)),
                            });
                        }
                    }
                    let (mut refund, ev) = payment.request_refund(input, &policy, now)?;
                    repo::insert_refund(conn, &refund).await?;
                    tx.publish(&events::refund_event(&refund, ev)).await?;
                    match refund.destination {
                        RefundDestination::StoreCredit => {
                            let mut account =
                                repo::lock_account(conn, refund.buyer_id, refund.amount.currency())
                                    .await?;
                            let (entry, evs) =
                                refund.settle_to_store_credit(&mut payment, &mut account, now)?;
                            repo::insert_entry(conn, &entry).await?;
                            repo::save_account(conn, &account).await?;
                            publish_all(tx, &evs, Some(&entry), |e| {
                                events::refund_event(&refund, e)
                            })
                            .await?;
                        }
                        RefundDestination::OriginalMethod => {
                            if let Some(call) = refund.provider_request(&payment) {
                                let outcome = provider::call(&*provider, &call, timeout).await;
                                if outcome == ProviderOutcome::Pending {
                                    let reference = provider::sandbox_reference(&call);
                                    let _ = late_in.set(Late::Refund(refund.id, reference));
                                }
                                if let Some(ev) =
                                    refund.apply_outcome(&mut payment, outcome, Utc::now())?
                                {
                                    tx.publish(&events::refund_event(&refund, ev)).await?;
                                }
                            }
                        }
                    }
                    repo::save_refund(conn, &refund).await?;
                    repo::save_payment(conn, &payment).await?;
                    Ok(pb::CreateRefundResponse {
                        refund: Some(convert::refund_to_pb(&refund)),
                    })
                })
            })
            .await?;
        self.schedule_late(&late);
        Ok(Response::new(resp))
    }

    async fn get_refund(
        &self,
        request: Request<pb::GetRefundRequest>,
    ) -> Result<Response<pb::GetRefundResponse>, Status> {
        let req = request.into_inner();
        let id = RefundId(edge::uuid("refund_id", &req.refund_id)?);
        let r = repo::load_refund(&self.store.db, id).await?;
        Ok(Response::new(pb::GetRefundResponse {
            refund: Some(convert::refund_to_pb(&r)),
        }))
    }

    async fn list_refunds(
        &self,
        request: Request<pb::ListRefundsRequest>,
    ) -> Result<Response<pb::ListRefundsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let filter = repo::RefundFilter {
            payment_id: id_filter("payment_id", &req.payment_id)?,
            order_id: id_filter("order_id", &req.order_id)?,
            merchant_id: id_filter("merchant_id", &req.merchant_id)?,
            case_id: id_filter("case_id", &req.case_id)?,
            status: convert::optional_enum("status", req.status, convert::refund_status_from_pb)?,
            destination: convert::optional_enum(
                "destination",
                req.destination,
                convert::destination_from_pb,
            )?,
            created_after: edge::optional_timestamp("created_after", req.created_after.as_ref())?,
            created_before: edge::optional_timestamp(
                "created_before",
                req.created_before.as_ref(),
            )?,
        };
        let mut rows = repo::list_refunds(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |r| r.id.0);
        Ok(Response::new(pb::ListRefundsResponse {
            items: rows.iter().map(convert::refund_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn confirm_refund(
        &self,
        request: Request<pb::ConfirmRefundRequest>,
    ) -> Result<Response<pb::ConfirmRefundResponse>, Status> {
        let req = request.into_inner();
        convert::idempotency_key(&req.idempotency_key)?;
        let id = RefundId(edge::uuid("refund_id", &req.refund_id)?);
        let outcome =
            convert::confirmation(req.outcome, &req.provider_reference, &req.failure_reason)?;
        let note = optional_reason("reason", &req.reason)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.ConfirmRefund",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let refund = confirm_refund_in(tx, id, outcome, actor, note, now).await?;
                        Ok(pb::ConfirmRefundResponse {
                            refund: Some(convert::refund_to_pb(&refund)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    // ---------------------------------------------------------------------------------------------
    // Chargebacks

    async fn open_chargeback(
        &self,
        request: Request<pb::OpenChargebackRequest>,
    ) -> Result<Response<pb::OpenChargebackResponse>, Status> {
        let req = request.into_inner();
        let payment_id = PaymentId(edge::uuid("payment_id", &req.payment_id)?);
        let input = NewChargeback {
            idempotency_key: convert::idempotency_key(&req.idempotency_key)?,
            amount: convert::positive_money("amount", req.amount.as_ref())?,
            reason: convert::reason("reason", &req.reason)?,
            provider_reference: convert::optional_text(
                "provider_reference",
                &req.provider_reference,
                limits::SHORT_TEXT,
            )?,
            actor: convert::actor(req.actor.as_ref())?,
        };
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.OpenChargeback",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        let mut payment = repo::lock_payment(conn, payment_id).await?;
                        let (cb, ev) = payment.open_chargeback(input, now)?;
                        repo::insert_chargeback(conn, &cb).await?;
                        repo::save_payment(conn, &payment).await?;
                        tx.publish(&events::chargeback_event(&cb, ev)).await?;
                        Ok(pb::OpenChargebackResponse {
                            chargeback: Some(convert::chargeback_to_pb(&cb)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn close_chargeback(
        &self,
        request: Request<pb::CloseChargebackRequest>,
    ) -> Result<Response<pb::CloseChargebackResponse>, Status> {
        let req = request.into_inner();
        convert::idempotency_key(&req.idempotency_key)?;
        let id = ChargebackId(edge::uuid("chargeback_id", &req.chargeback_id)?);
        let resolution =
            convert::required_enum("resolution", req.resolution, convert::resolution_from_pb)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.CloseChargeback",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        let payment_id = repo::load_chargeback(conn, id).await?.payment_id;
                        let mut payment = repo::lock_payment(conn, payment_id).await?;
                        let mut cb = repo::lock_chargeback(conn, id).await?;
                        let ev = cb.close(&mut payment, resolution, actor, now)?;
                        repo::save_chargeback(conn, &cb).await?;
                        repo::save_payment(conn, &payment).await?;
                        tx.publish(&events::chargeback_event(&cb, ev)).await?;
                        Ok(pb::CloseChargebackResponse {
                            chargeback: Some(convert::chargeback_to_pb(&cb)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn get_chargeback(
        &self,
        request: Request<pb::GetChargebackRequest>,
    ) -> Result<Response<pb::GetChargebackResponse>, Status> {
        let req = request.into_inner();
        let id = ChargebackId(edge::uuid("chargeback_id", &req.chargeback_id)?);
        let cb = repo::load_chargeback(&self.store.db, id).await?;
        Ok(Response::new(pb::GetChargebackResponse {
            chargeback: Some(convert::chargeback_to_pb(&cb)),
        }))
    }

    async fn list_chargebacks(
        &self,
        request: Request<pb::ListChargebacksRequest>,
    ) -> Result<Response<pb::ListChargebacksResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let payment_id = id_filter("payment_id", &req.payment_id)?;
        let status =
            convert::optional_enum("status", req.status, convert::chargeback_status_from_pb)?;
        let mut rows = repo::list_chargebacks(&self.store.db, payment_id, status, page).await?;
        let next = edge::next_page(&mut rows, page, |c| c.id.0);
        Ok(Response::new(pb::ListChargebacksResponse {
            items: rows.iter().map(convert::chargeback_to_pb).collect(),
            page: Some(next),
        }))
    }

    // ---------------------------------------------------------------------------------------------
    // Compensations

    async fn issue_compensation(
        &self,
        request: Request<pb::IssueCompensationRequest>,
    ) -> Result<Response<pb::IssueCompensationResponse>, Status> {
        let req = request.into_inner();
        let input = NewCompensation {
            idempotency_key: convert::idempotency_key(&req.idempotency_key)?,
            buyer_id: BuyerId(edge::uuid("buyer_id", &req.buyer_id)?),
            merchant_id: MerchantId(edge::uuid("merchant_id", &req.merchant_id)?),
            order_id: edge::optional_uuid("order_id", &req.order_id)?.map(OrderId),
            case_id: edge::optional_uuid("case_id", &req.case_id)?.map(CaseId),
            complaint_id: edge::optional_uuid("complaint_id", &req.complaint_id)?.map(ComplaintId),
            repair_id: edge::optional_uuid("repair_id", &req.repair_id)?.map(RepairId),
            kind: convert::required_enum("kind", req.kind, convert::kind_from_pb)?,
            payout: convert::required_enum("payout", req.payout, convert::payout_from_pb)?,
            amount: convert::positive_money("amount", req.amount.as_ref())?,
            reason: convert::reason("reason", &req.reason)?,
            actor: convert::actor(req.actor.as_ref())?,
        };
        let now = Utc::now();
        let provider = self.provider.clone();
        let timeout = self.provider_timeout();
        let late: LateSlot = Arc::default();
        let late_in = late.clone();
        let resp = self
            .store
            .idempotent(
                scopes::ISSUE_COMPENSATION,
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        let mut account = if input.payout == Payout::StoreCredit {
                            Some(
                                repo::lock_account(conn, input.buyer_id, input.amount.currency())
                                    .await?,
                            )
                        } else {
                            None
                        };
                        let order_id = input.order_id;
                        let issued = Compensation::issue(input, account.as_mut(), now)?;
                        let mut c = issued.compensation;
                        repo::insert_compensation(conn, &c).await?;
                        if let (Some(entry), Some(account)) = (&issued.store_credit_entry, &account)
                        {
                            repo::insert_entry(conn, entry).await?;
                            repo::save_account(conn, account).await?;
                        }
                        publish_all(
                            tx,
                            &issued.events,
                            issued.store_credit_entry.as_ref(),
                            |e| events::compensation_event(&c, e),
                        )
                        .await?;
                        // Cash goes out through the provider, to the order's payment method when
                        // it can take money back, else by bank transfer.
                        let method = match order_id {
                            Some(o) => repo::find_payment_by_order(conn, o)
                                .await?
                                .map(|p| p.method)
                                .filter(PaymentMethod::provider_refundable),
                            None => None,
                        }
                        .unwrap_or(PaymentMethod::BankTransfer);
                        if let Some(call) = c.provider_request(method) {
                            let outcome = provider::call(&*provider, &call, timeout).await;
                            if outcome == ProviderOutcome::Pending {
                                let reference = provider::sandbox_reference(&call);
                                let _ = late_in.set(Late::Compensation(c.id, reference));
                            }
                            if let Some(ev) = c.apply_outcome(outcome, Utc::now())? {
                                repo::save_compensation(conn, &c).await?;
                                tx.publish(&events::compensation_event(&c, ev)).await?;
                            }
                        }
                        Ok(pb::IssueCompensationResponse {
                            compensation: Some(convert::compensation_to_pb(&c)),
                        })
                    })
                },
            )
            .await?;
        self.schedule_late(&late);
        Ok(Response::new(resp))
    }

    async fn get_compensation(
        &self,
        request: Request<pb::GetCompensationRequest>,
    ) -> Result<Response<pb::GetCompensationResponse>, Status> {
        let req = request.into_inner();
        let id = CompensationId(edge::uuid("compensation_id", &req.compensation_id)?);
        let c = repo::load_compensation(&self.store.db, id).await?;
        Ok(Response::new(pb::GetCompensationResponse {
            compensation: Some(convert::compensation_to_pb(&c)),
        }))
    }

    async fn list_compensations(
        &self,
        request: Request<pb::ListCompensationsRequest>,
    ) -> Result<Response<pb::ListCompensationsResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let filter = repo::CompensationFilter {
            order_id: id_filter("order_id", &req.order_id)?,
            buyer_id: id_filter("buyer_id", &req.buyer_id)?,
            merchant_id: id_filter("merchant_id", &req.merchant_id)?,
            case_id: id_filter("case_id", &req.case_id)?,
            complaint_id: id_filter("complaint_id", &req.complaint_id)?,
            kind: convert::optional_enum("kind", req.kind, convert::kind_from_pb)?,
            payout: convert::optional_enum("payout", req.payout, convert::payout_from_pb)?,
            status: convert::optional_enum(
                "status",
                req.status,
                convert::compensation_status_from_pb,
            )?,
        };
        let mut rows = repo::list_compensations(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |c| c.id.0);
        Ok(Response::new(pb::ListCompensationsResponse {
            items: rows.iter().map(convert::compensation_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn confirm_compensation(
        &self,
        request: Request<pb::ConfirmCompensationRequest>,
    ) -> Result<Response<pb::ConfirmCompensationResponse>, Status> {
        let req = request.into_inner();
        convert::idempotency_key(&req.idempotency_key)?;
        let id = CompensationId(edge::uuid("compensation_id", &req.compensation_id)?);
        let outcome =
            convert::confirmation(req.outcome, &req.provider_reference, &req.failure_reason)?;
        let note = optional_reason("reason", &req.reason)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.ConfirmCompensation",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let c = confirm_compensation_in(tx, id, outcome, actor, note, now).await?;
                        Ok(pb::ConfirmCompensationResponse {
                            compensation: Some(convert::compensation_to_pb(&c)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    // ---------------------------------------------------------------------------------------------
    // Store credit

    async fn get_store_credit_balance(
        &self,
        request: Request<pb::GetStoreCreditBalanceRequest>,
    ) -> Result<Response<pb::GetStoreCreditBalanceResponse>, Status> {
        let req = request.into_inner();
        let buyer = BuyerId(edge::uuid("buyer_id", &req.buyer_id)?);
        let currency =
            validate::optional_currency("currency", &req.currency).map_err(AppError::from)?;
        let accounts = repo::list_accounts(&self.store.db, buyer, currency).await?;
        Ok(Response::new(pb::GetStoreCreditBalanceResponse {
            balances: accounts.iter().map(convert::balance_to_pb).collect(),
        }))
    }

    async fn list_store_credit_entries(
        &self,
        request: Request<pb::ListStoreCreditEntriesRequest>,
    ) -> Result<Response<pb::ListStoreCreditEntriesResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let buyer = BuyerId(edge::uuid("buyer_id", &req.buyer_id)?);
        let currency =
            validate::optional_currency("currency", &req.currency).map_err(AppError::from)?;
        let source = convert::optional_enum("source", req.source, convert::source_from_pb)?;
        let mut rows = repo::list_entries(&self.store.db, buyer, currency, source, page).await?;
        let next = edge::next_page(&mut rows, page, |e| e.id.0);
        Ok(Response::new(pb::ListStoreCreditEntriesResponse {
            items: rows.iter().map(convert::entry_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn debit_store_credit(
        &self,
        request: Request<pb::DebitStoreCreditRequest>,
    ) -> Result<Response<pb::DebitStoreCreditResponse>, Status> {
        let req = request.into_inner();
        let input = NewDebit {
            idempotency_key: convert::idempotency_key(&req.idempotency_key)?,
            buyer_id: BuyerId(edge::uuid("buyer_id", &req.buyer_id)?),
            amount: convert::positive_money("amount", req.amount.as_ref())?,
            source: convert::required_enum("source", req.source, convert::source_from_pb)?,
            source_id: edge::optional_uuid("source_id", &req.source_id)?,
            reason: convert::reason("reason", &req.reason)?,
            actor: convert::actor(req.actor.as_ref())?,
        };
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.DebitStoreCredit",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        let mut account =
                            repo::lock_account(conn, input.buyer_id, input.amount.currency())
                                .await?;
                        let (entry, ev) = account.apply_debit(input, now)?;
                        repo::insert_entry(conn, &entry).await?;
                        repo::save_account(conn, &account).await?;
                        tx.publish(&events::entry_event(&entry, ev)).await?;
                        Ok(pb::DebitStoreCreditResponse {
                            entry: Some(convert::entry_to_pb(&entry)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    // ---------------------------------------------------------------------------------------------
    // Charges

    async fn create_charge(
        &self,
        request: Request<pb::CreateChargeRequest>,
    ) -> Result<Response<pb::CreateChargeResponse>, Status> {
        let req = request.into_inner();
        let input = NewCharge {
            idempotency_key: convert::idempotency_key(&req.idempotency_key)?,
            charge_for: charge_for(&req.repair_id, &req.case_id)?,
            quote_id: edge::optional_uuid("quote_id", &req.quote_id)?.map(QuoteId),
            buyer_id: BuyerId(edge::uuid("buyer_id", &req.buyer_id)?),
            merchant_id: MerchantId(edge::uuid("merchant_id", &req.merchant_id)?),
            amount: convert::positive_money("amount", req.amount.as_ref())?,
            method: convert::required_enum("method", req.method, convert::method_from_pb)?,
            actor: convert::actor(req.actor.as_ref())?,
        };
        let now = Utc::now();
        let provider = self.provider.clone();
        let timeout = self.provider_timeout();
        let late: LateSlot = Arc::default();
        let late_in = late.clone();
        let resp = self
            .store
            .idempotent(
                scopes::CREATE_CHARGE,
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        // One active charge per repair or case: serialise its creators.
                        repo::lock_key(conn, &format!("payments.charge_for:{}", input.charge_for))
                            .await?;
                        let existing = repo::charges_for(conn, input.charge_for).await?;
                        let (mut charge, ev) = Charge::create(input, &existing, now)?;
                        repo::insert_charge(conn, &charge).await?;
                        tx.publish(&events::charge_event(&charge, ev)).await?;
                        if charge.method == PaymentMethod::StoreCredit {
                            let mut account =
                                repo::lock_account(conn, charge.buyer_id, charge.amount.currency())
                                    .await?;
                            let (entry, evs) =
                                charge.settle_from_store_credit(&mut account, now)?;
                            if let Some(entry) = &entry {
                                repo::insert_entry(conn, entry).await?;
                                repo::save_account(conn, &account).await?;
                            }
                            publish_all(tx, &evs, entry.as_ref(), |e| {
                                events::charge_event(&charge, e)
                            })
                            .await?;
                        } else if let Some(call) = charge.provider_request() {
                            let outcome = provider::call(&*provider, &call, timeout).await;
                            if outcome == ProviderOutcome::Pending {
                                let reference = provider::sandbox_reference(&call);
                                let _ = late_in.set(Late::Charge(charge.id, reference));
                            }
                            if let Some(ev) = charge.apply_outcome(outcome, Utc::now())? {
                                tx.publish(&events::charge_event(&charge, ev)).await?;
                            }
                        }
                        repo::save_charge(conn, &charge).await?;
                        Ok(pb::CreateChargeResponse {
                            charge: Some(convert::charge_to_pb(&charge)),
                        })
                    })
                },
            )
            .await?;
        self.schedule_late(&late);
        Ok(Response::new(resp))
    }

    async fn get_charge(
        &self,
        request: Request<pb::GetChargeRequest>,
    ) -> Result<Response<pb::GetChargeResponse>, Status> {
        let req = request.into_inner();
        let id = ChargeId(edge::uuid("charge_id", &req.charge_id)?);
        let c = repo::load_charge(&self.store.db, id).await?;
        Ok(Response::new(pb::GetChargeResponse {
            charge: Some(convert::charge_to_pb(&c)),
        }))
    }

    async fn list_charges(
        &self,
        request: Request<pb::ListChargesRequest>,
    ) -> Result<Response<pb::ListChargesResponse>, Status> {
        let req = request.into_inner();
        let page = edge::page(req.page.as_ref())?;
        let filter = repo::ChargeFilter {
            repair_id: id_filter("repair_id", &req.repair_id)?,
            case_id: id_filter("case_id", &req.case_id)?,
            buyer_id: id_filter("buyer_id", &req.buyer_id)?,
            status: convert::optional_enum("status", req.status, convert::charge_status_from_pb)?,
        };
        let mut rows = repo::list_charges(&self.store.db, &filter, page).await?;
        let next = edge::next_page(&mut rows, page, |c| c.id.0);
        Ok(Response::new(pb::ListChargesResponse {
            items: rows.iter().map(convert::charge_to_pb).collect(),
            page: Some(next),
        }))
    }

    async fn confirm_charge(
        &self,
        request: Request<pb::ConfirmChargeRequest>,
    ) -> Result<Response<pb::ConfirmChargeResponse>, Status> {
        let req = request.into_inner();
        convert::idempotency_key(&req.idempotency_key)?;
        let id = ChargeId(edge::uuid("charge_id", &req.charge_id)?);
        let outcome =
            convert::confirmation(req.outcome, &req.provider_reference, &req.failure_reason)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let now = Utc::now();
        let resp = self
            .store
            .idempotent(
                "payments.ConfirmCharge",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let c = confirm_charge_in(tx, id, outcome, actor, now).await?;
                        Ok(pb::ConfirmChargeResponse {
                            charge: Some(convert::charge_to_pb(&c)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }

    async fn void_charge(
        &self,
        request: Request<pb::VoidChargeRequest>,
    ) -> Result<Response<pb::VoidChargeResponse>, Status> {
        let req = request.into_inner();
        convert::idempotency_key(&req.idempotency_key)?;
        let id = ChargeId(edge::uuid("charge_id", &req.charge_id)?);
        let reason = convert::reason("reason", &req.reason)?;
        let actor = convert::actor(req.actor.as_ref())?;
        let now = Utc::now();
        let provider = self.provider.clone();
        let timeout = self.provider_timeout();
        let resp = self
            .store
            .idempotent(
                "payments.VoidCharge",
                &req.idempotency_key,
                &req,
                move |tx| {
                    Box::pin(async move {
                        let conn = tx.conn();
                        let mut charge = repo::lock_charge(conn, id).await?;
                        let Some((ev, effect)) = charge.void(&reason, actor.clone(), now)? else {
                            // A charge the provider declined took no money: nothing to void.
                            return Ok(pb::VoidChargeResponse {
                                charge: Some(convert::charge_to_pb(&charge)),
                            });
                        };
                        if charge.method == PaymentMethod::StoreCredit {
                            // Store credit charges settle at once: give the credit back.
                            if effect == VoidEffect::RefundCapture {
                                let mut account = repo::lock_account(
                                    conn,
                                    charge.buyer_id,
                                    charge.amount.currency(),
                                )
                                .await?;
                                let (entry, credited) = account.credit(
                                    charge.amount,
                                    CreditSource::Charge,
                                    Some(charge.id.as_uuid()),
                                    &format!("repair charge {} voided: {reason}", charge.id),
                                    actor,
                                    now,
                                )?;
                                repo::insert_entry(conn, &entry).await?;
                                repo::save_account(conn, &account).await?;
                                tx.publish(&events::entry_event(&entry, credited)).await?;
                            }
                        } else if let Some(call) = charge.void_request() {
                            // Release the authorization or refund the capture; the provider key
                            // `<charge>:void` makes a retried void safe.
                            match provider::call(&*provider, &call, timeout).await {
                                ProviderOutcome::Succeeded { .. } => {}
                                // Not confirmed is not done: nothing is saved (the charge keeps
                                // its state) and the caller retries; the provider key makes the
                                // retry safe.
                                ProviderOutcome::Pending | ProviderOutcome::Timeout => {
                                    return Err(AppError::Unavailable(
                                        "provider did not confirm the void, retry".into(),
                                    ));
                                }
                                ProviderOutcome::Failed { reason } => {
                                    return Err(AppError::Unavailable(format!(
                                        "payment provider refused the void, retry: {reason}"
                                    )));
                                }
                            }
                        }
                        repo::save_charge(conn, &charge).await?;
                        tx.publish(&events::charge_event(&charge, ev)).await?;
                        Ok(pb::VoidChargeResponse {
                            charge: Some(convert::charge_to_pb(&charge)),
                        })
                    })
                },
            )
            .await?;
        Ok(Response::new(resp))
    }
}
