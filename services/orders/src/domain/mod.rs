//! Pure domain rules of the orders service: no IO, no protobuf, no SQL.
//!
//! - [`Order`]: `PAID → AWAITING_SHIPMENT → SHIPPED → DELIVERED → COMPLETED`, and `CANCELED`
//!   (by request only before the waybill is printed; or when every unit is canceled before
//!   shipment, which a reversal undoes). Created with [`Order::create`] from a [`NewOrder`].
//! - [`OrderLine`]: SKU, category, quantity, price, discount share, the [`PolicySnapshot`] frozen at
//!   purchase and the after-sale [`LineCounters`] (no counter, and no combined sum, ever exceeds
//!   the ordered quantity: [`LineCounters::apply`]).
//! - [`Settings`]: the configurable values (quality window, warranty, excluded categories,
//!   free-return tiers) with DOMAIN.md's defaults.
//! - [`Actor`]: who calls; every transition checks it (owner buyer/merchant, courier partner).
//!
//! Every transition mutates the order only when it succeeds and returns the [`Event`]s to
//! publish; time always comes in as `now`.

/// Declares a state/kind enum stored as text: `as_str()`, `parse()`, `ALL` and `Display`.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Stable text form (database column, logs).
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the text form; `None` for anything else.
            pub fn parse(value: &str) -> Option<Self> {
                match value {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod actor;
mod address;
mod counters;
mod event;
mod filter;
mod ids;
mod order;
mod policy;
pub mod validate;

#[cfg(test)]
mod fixtures;

pub use actor::{Actor, ActorKind};
pub use address::Address;
pub use counters::{CounterKind, LineCounters};
pub use event::Event;
pub use filter::OrderFilter;
pub use ids::{BuyerId, CaseId, MerchantId, OrderId, OrderLineId, ShipmentId};
pub use order::{
    EVERY_UNIT_CANCELED, NewOrder, NewOrderLine, Order, OrderLine, OrderState, Shipping,
};
pub use policy::{FreeReturnPrivilege, LineDeadlines, MemberTier, PolicySnapshot, Settings};
pub use validate::IdempotencyKey;
