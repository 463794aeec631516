//! Generated protobuf messages and gRPC clients/servers for every Aftersales API.
//!
//! Modules mirror the protobuf packages: `aftersales_proto::orders::v1`, `...::common::v1`, etc.

#![allow(clippy::all, clippy::pedantic, missing_docs)]

/// Encoded `FileDescriptorSet` of every API, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/aftersales_descriptor.bin"));

macro_rules! package {
    ($name:ident, $pkg:literal) => {
        pub mod $name {
            pub mod v1 {
                include!(concat!(env!("OUT_DIR"), "/", $pkg, ".rs"));
            }
        }
    };
}

package!(common, "aftersales.common.v1");
package!(messaging, "aftersales.messaging.v1");
package!(orders, "aftersales.orders.v1");
package!(returns, "aftersales.returns.v1");
package!(repairs, "aftersales.repairs.v1");
package!(logistics, "aftersales.logistics.v1");
package!(payments, "aftersales.payments.v1");
package!(complaints, "aftersales.complaints.v1");
package!(orchestrator, "aftersales.orchestrator.v1");
