//! Saga commands: every mutating RPC of the complaints API, run for the orchestrator exactly as a
//! gRPC call (same validation, rules and idempotency); see [`aftersales_platform::commands`] for
//! the contract. Started from the service's `build()`.

use crate::api::ComplaintsApi;
use aftersales_platform::{ServiceDef, commands::CommandRouter};
use aftersales_proto::complaints::v1::{self as pb, complaints_service_server::ComplaintsService};

/// The complaints command router: one command per mutating RPC, named by its request type.
pub fn router(api: ComplaintsApi) -> CommandRouter {
    aftersales_platform::command_router!(crate::Complaints::NAME, api, {
        pb::CreateComplaintRequest => create_complaint,
        pb::AcknowledgeComplaintRequest => acknowledge_complaint,
        pb::StartInvestigationRequest => start_investigation,
        pb::WaitForCustomerRequest => wait_for_customer,
        pb::ResumeInvestigationRequest => resume_investigation,
        pb::ResolveComplaintRequest => resolve_complaint,
        pb::SendResolutionNoteRequest => send_resolution_note,
        pb::CloseComplaintRequest => close_complaint,
        pb::ReopenComplaintRequest => reopen_complaint,
        pb::EscalateComplaintRequest => escalate_complaint,
        pb::CheckSlaBreachesRequest => check_sla_breaches,
        pb::CreateWorkOrderRequest => create_work_order,
        pb::AssignWorkOrderRequest => assign_work_order,
        pb::StartWorkOrderRequest => start_work_order,
        pb::CompleteWorkOrderRequest => complete_work_order,
        pb::RejectWorkOrderRequest => reject_work_order,
        pb::VerifyWorkOrderRequest => verify_work_order,
        pb::TransferWorkOrderRequest => transfer_work_order,
        pb::RecordFollowUpRequest => record_follow_up,
        pb::SubmitServiceRatingRequest => submit_service_rating,
        pb::SubmitDsrRatingRequest => submit_dsr_rating,
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
        let router = router(ComplaintsApi::new(
            store(),
            crate::domain::Policy::default(),
        ));
        assert_eq!(
            router.types(),
            commands::mutating_requests(crate::Complaints::GRPC_SERVICE).unwrap()
        );
    }
}
