//! The gRPC server every process runs: its API plus `grpc.health.v1`, server reflection (v1 and
//! v1alpha, so grpcurl 1.8 works), and a graceful drain when the shutdown token is cancelled.

use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tokio_util::sync::CancellationToken;
use tonic_health::ServingStatus;
use tower::layer::util::{Identity, Stack};

/// The server every process builds its API on: traced ([`crate::trace::server_span`]) and
/// measured ([`crate::metrics::RpcMetricsLayer`]).
pub type Server = tonic::transport::Server<Stack<crate::metrics::RpcMetricsLayer, Identity>>;

/// A [`Server`] with the process's API added.
pub type Router =
    tonic::transport::server::Router<Stack<crate::metrics::RpcMetricsLayer, Identity>>;

/// How long a call may run before the server answers DEADLINE_EXCEEDED.
pub const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Starts a server builder with the settings every process shares.
pub fn builder() -> Server {
    tonic::transport::Server::builder()
        .trace_fn(crate::trace::server_span)
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .timeout(TIMEOUT)
        .layer(crate::metrics::RpcMetricsLayer)
}

/// Adds health and reflection to `router` and serves it on `listener` until `shutdown` is cancelled.
///
/// `service_name` is the fully qualified gRPC service (e.g. `aftersales.orders.v1.OrdersService`);
/// its health status is SERVING while the server runs and NOT_SERVING once draining starts.
pub async fn serve(
    router: Router,
    service_name: &'static str,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status(service_name, ServingStatus::Serving)
        .await;

    let reflection_v1 = reflection(service_name).build_v1()?;
    let reflection_v1alpha = reflection(service_name).build_v1alpha()?;

    let addr = listener.local_addr()?;
    tracing::info!(%addr, service = service_name, "grpc server listening");
    let drain = {
        let reporter = reporter.clone();
        async move {
            shutdown.cancelled().await;
            reporter
                .set_service_status(service_name, ServingStatus::NotServing)
                .await;
            reporter
                .set_service_status("", ServingStatus::NotServing)
                .await;
            tracing::info!("grpc server draining");
        }
    };
    router
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), drain)
        .await?;
    tracing::info!("grpc server stopped");
    Ok(())
}

/// Reflection over every API descriptor, advertising only this process's service and health.
fn reflection(service_name: &'static str) -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .with_service_name(service_name)
        .with_service_name("grpc.health.v1.Health")
        .register_encoded_file_descriptor_set(aftersales_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
}
