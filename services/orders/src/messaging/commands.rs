//! Saga commands: every mutating RPC of the orders API, and the one read a saga needs (GetOrder:
//! the complaint saga sizes a goodwill compensation by what the buyer paid), run for the
//! orchestrator exactly as a gRPC call (same validation, rules, scoping and idempotency; the read
//! has no effect to repeat); see [`aftersales_platform::commands`] for the contract. Started from
//! the service's `build()`.

use crate::api::OrdersApi;
use aftersales_platform::{ServiceDef, commands::CommandRouter};
use aftersales_proto::orders::v1::{self as pb, orders_service_server::OrdersService};

/// The orders command router: one command per mutating RPC and GetOrder, named by its request
/// type.
pub fn router(api: OrdersApi) -> CommandRouter {
    aftersales_platform::command_router!(crate::Orders::NAME, api, {
        pb::CreateOrderRequest => create_order,
        pb::GetOrderRequest => get_order,
        pb::StartFulfilmentRequest => start_fulfilment,
        pb::CancelOrderRequest => cancel_order,
        pb::ChangeShippingAddressRequest => change_shipping_address,
        pb::MarkWaybillPrintedRequest => mark_waybill_printed,
        pb::MarkShippedRequest => mark_shipped,
        pb::ConfirmDeliveryRequest => confirm_delivery,
        pb::CompleteOrderRequest => complete_order,
        pb::ReserveAfterSaleRequest => reserve_after_sale,
        pb::ReleaseAfterSaleRequest => release_after_sale,
        pb::RecordLineProgressRequest => record_line_progress,
        pb::ReverseLineProgressRequest => reverse_line_progress,
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
    fn every_mutating_rpc_and_get_order_are_commands() {
        use prost::Name;
        let router = router(OrdersApi::with_settings(
            store(),
            crate::domain::Settings::default(),
        ));
        let mut expected = commands::mutating_requests(crate::Orders::GRPC_SERVICE).unwrap();
        expected.push(pb::GetOrderRequest::full_name());
        expected.sort();
        assert_eq!(router.types(), expected);
    }
}
