//! Saga commands: every mutating RPC of the returns API, run for the orchestrator exactly as a
//! gRPC call (same validation, rules and idempotency); see [`aftersales_platform::commands`] for
//! the contract. Started from the service's `build()`.

use crate::api::ReturnsApi;
use aftersales_platform::{ServiceDef, commands::CommandRouter};
use aftersales_proto::returns::v1::{self as pb, returns_service_server::ReturnsService};

/// The returns command router: one command per mutating RPC, named by its request type.
pub fn router(api: ReturnsApi) -> CommandRouter {
    aftersales_platform::command_router!(crate::Returns::NAME, api, {
        pb::CreateCaseRequest => create_case,
        pb::WithdrawCaseRequest => withdraw_case,
        pb::ChangeCaseTypeRequest => change_case_type,
        pb::AcceptOfferRequest => accept_offer,
        pb::DeclineOfferRequest => decline_offer,
        pb::RecordBuyerShipmentRequest => record_buyer_shipment,
        pb::ApproveCaseRequest => approve_case,
        pb::RejectCaseRequest => reject_case,
        pb::OfferPartialRefundRequest => offer_partial_refund,
        pb::RecordItemReceiptRequest => record_item_receipt,
        pb::SubmitInspectionRequest => submit_inspection,
        pb::SetDispositionRequest => set_disposition,
        pb::AutoApproveCaseRequest => auto_approve_case,
        pb::CloseCaseForNoShipmentRequest => close_case_for_no_shipment,
        pb::CloseCaseRequest => close_case,
        pb::RecordInterceptionRequest => record_interception,
        pb::MarkRefundingRequest => mark_refunding,
        pb::RecordRefundedRequest => record_refunded,
        pb::MarkReplacementShippedRequest => mark_replacement_shipped,
        pb::CompleteCaseRequest => complete_case,
        pb::OverrideRefundAmountRequest => override_refund_amount,
        pb::EscalateCaseRequest => escalate_case,
        pb::SubmitMerchantEvidenceRequest => submit_merchant_evidence,
        pb::CloseEvidenceWindowRequest => close_evidence_window,
        pb::RuleArbitrationRequest => rule_arbitration,
        pb::AppealRulingRequest => appeal_ruling,
        pb::WithdrawEscalationRequest => withdraw_escalation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aftersales_platform::{Store, commands, outbox::Outbox};

    /// A store that is not connected: enough to build the API.
    fn store() -> Store {
        Store::new(Default::default(), Outbox::default())
    }

    #[test]
    fn every_mutating_rpc_is_a_command() {
        let router = router(ReturnsApi::with_settings(
            store(),
            crate::domain::Settings::default(),
        ));
        assert_eq!(
            router.types(),
            commands::mutating_requests(crate::Returns::GRPC_SERVICE).unwrap()
        );
    }
}
