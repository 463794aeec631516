//! Saga commands: every mutating RPC of the payments API, run for the orchestrator exactly as a
//! gRPC call (same validation, rules and idempotency); see [`aftersales_platform::commands`] for
//! the contract. Started from the service's `build()`.

use crate::api::PaymentsApi;
use aftersales_platform::{ServiceDef, commands::CommandRouter};
use aftersales_proto::payments::v1::{self as pb, payments_service_server::PaymentsService};

/// The payments command router: one command per mutating RPC, named by its request type.
pub fn router(api: PaymentsApi) -> CommandRouter {
    aftersales_platform::command_router!(crate::Payments::NAME, api, {
        pb::RecordPaymentRequest => record_payment,
        pb::CreateRefundRequest => create_refund,
        pb::ConfirmRefundRequest => confirm_refund,
        pb::OpenChargebackRequest => open_chargeback,
        pb::CloseChargebackRequest => close_chargeback,
        pb::IssueCompensationRequest => issue_compensation,
        pb::ConfirmCompensationRequest => confirm_compensation,
        pb::DebitStoreCreditRequest => debit_store_credit,
        pb::CreateChargeRequest => create_charge,
        pb::ConfirmChargeRequest => confirm_charge,
        pb::VoidChargeRequest => void_charge,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Policy;
    use crate::provider::Sandbox;
    use aftersales_platform::{Store, commands, outbox::Outbox};
    use std::sync::Arc;

    /// A store that is not connected: enough to build the API.
    fn store() -> Store {
        Store::new(Default::default(), Outbox::default())
    }

    #[test]
    fn every_mutating_rpc_is_a_command() {
        let router = router(PaymentsApi::with_provider(
            store(),
            Policy::default(),
            Arc::new(Sandbox::new(Policy::default().sandbox)),
        ));
        assert_eq!(
            router.types(),
            commands::mutating_requests(crate::Payments::GRPC_SERVICE).unwrap()
        );
    }
}
