//! Saga commands: every mutating RPC of the logistics API, run for the orchestrator exactly as a
//! gRPC call (same validation, rules and idempotency); see [`aftersales_platform::commands`] for
//! the contract. Started from the service's `build()`.

use crate::api::LogisticsApi;
use aftersales_platform::{ServiceDef, commands::CommandRouter};
use aftersales_proto::logistics::v1::{self as pb, logistics_service_server::LogisticsService};

/// The logistics command router: one command per mutating RPC, named by its request type.
pub fn router(api: LogisticsApi) -> CommandRouter {
    aftersales_platform::command_router!(crate::Logistics::NAME, api, {
        pb::CreateShipmentRequest => create_shipment,
        pb::PrintWaybillRequest => print_waybill,
        pb::UploadWaybillRequest => upload_waybill,
        pb::VoidWaybillRequest => void_waybill,
        pb::VoidOrderWaybillsRequest => void_order_waybills,
        pb::ReissueOrderWaybillsRequest => reissue_order_waybills,
        pb::CreateFollowUpShipmentRequest => create_follow_up_shipment,
        pb::RecordTrackingEventRequest => record_tracking_event,
        pb::RequestInterceptionRequest => request_interception,
        pb::RecordInterceptionResultRequest => record_interception_result,
        pb::CorrectTrackingNumberRequest => correct_tracking_number,
        pb::MarkStuckShipmentsRequest => mark_stuck_shipments,
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
        let router = router(LogisticsApi::with_policy(
            store(),
            crate::domain::Policy::default(),
        ));
        assert_eq!(
            router.types(),
            commands::mutating_requests(crate::Logistics::GRPC_SERVICE).unwrap()
        );
    }
}
