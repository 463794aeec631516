//! Saga commands: every mutating RPC of the repairs API, run for the orchestrator exactly as a
//! gRPC call (same validation, rules and idempotency); see [`aftersales_platform::commands`] for
//! the contract. Started from the service's `build()`.

use crate::api::RepairsApi;
use aftersales_platform::{ServiceDef, commands::CommandRouter};
use aftersales_proto::repairs::v1::{self as pb, repairs_service_server::RepairsService};

/// The repairs command router: one command per mutating RPC, named by its request type.
pub fn router(api: RepairsApi) -> CommandRouter {
    aftersales_platform::command_router!(crate::Repairs::NAME, api, {
        pb::CreateRepairOrderRequest => create_repair_order,
        pb::AssignRepairCenterRequest => assign_repair_center,
        pb::MarkItemSentRequest => mark_item_sent,
        pb::AcknowledgeReceiptRequest => acknowledge_receipt,
        pb::StartDiagnosisRequest => start_diagnosis,
        pb::SubmitDiagnosisRequest => submit_diagnosis,
        pb::SubmitQuoteRequest => submit_quote,
        pb::SendQuoteToBuyerRequest => send_quote_to_buyer,
        pb::ApproveQuoteRequest => approve_quote,
        pb::DeclineQuoteRequest => decline_quote,
        pb::ExpireQuoteRequest => expire_quote,
        pb::RecordQuotePaidRequest => record_quote_paid,
        pb::ReportRepairedRequest => report_repaired,
        pb::ReportUnrepairableRequest => report_unrepairable,
        pb::ConvertRepairRequest => convert_repair,
        pb::RecordConvertedCaseRequest => record_converted_case,
        pb::MarkShippedBackRequest => mark_shipped_back,
        pb::CompleteRepairRequest => complete_repair,
        pb::OverrideWarrantyRequest => override_warranty,
        pb::CancelRepairRequest => cancel_repair,
        pb::CreateRepairCenterRequest => create_repair_center,
        pb::SuspendRepairCenterRequest => suspend_repair_center,
        pb::ReactivateRepairCenterRequest => reactivate_repair_center,
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
        let router = router(RepairsApi::with_policy(
            store(),
            crate::domain::Policy::default(),
        ));
        assert_eq!(
            router.types(),
            commands::mutating_requests(crate::Repairs::GRPC_SERVICE).unwrap()
        );
    }
}
