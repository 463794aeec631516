//! Closed sets of values. Each is stored as text (`as_str`/`parse`).

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vm])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored text form.
            pub fn as_str(&self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// Parses the stored text form; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// State of a repair order. See `repair_order.rs` for the transitions.
    RepairState {
        /// Opened; warranty decided; no repair center yet.
        Requested => "REQUESTED",
        /// A center is assigned; waiting for the buyer to send the item.
        AwaitingItem => "AWAITING_ITEM",
        /// The item is on its way to, or at, the partner, not yet acknowledged.
        AtRepairCenter => "AT_REPAIR_CENTER",
        /// The center acknowledged receipt.
        Received => "RECEIVED",
        /// The center is diagnosing (and preparing a quote when out of warranty).
        Diagnosing => "DIAGNOSING",
        /// Out of warranty: quote submitted, not yet shown to the buyer.
        Quoted => "QUOTED",
        /// The buyer has until the quote expires to answer.
        AwaitingApproval => "AWAITING_APPROVAL",
        /// The buyer approved; waiting for the charge.
        Approved => "APPROVED",
        /// Repair under way.
        Repairing => "REPAIRING",
        Repaired => "REPAIRED",
        /// Declined, expired or canceled while the item was held: it goes back unrepaired.
        ReturningUnrepaired => "RETURNING_UNREPAIRED",
        /// On its way back to the buyer.
        ShippedBack => "SHIPPED_BACK",
        /// Terminal: the buyer has the item back.
        Completed => "COMPLETED",
        /// The center cannot repair it; waiting for the buyer's resolution.
        Unrepairable => "UNREPAIRABLE",
        /// Terminal: converted to an exchange or refund case.
        Converted => "CONVERTED",
        /// Terminal: canceled before the item left the buyer.
        Canceled => "CANCELED",
    }
);

impl RepairState {
    /// No transition leaves a terminal state.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Converted | Self::Canceled)
    }
}

text_enum!(
    /// Kind of caller (mirrors `aftersales.common.v1.ActorKind`).
    ActorKind {
        Buyer => "BUYER",
        Merchant => "MERCHANT",
        Staff => "STAFF",
        /// A repair center; its actor id is its repair center id.
        Partner => "PARTNER",
        /// The platform itself: orchestrator, timers, event consumers.
        System => "SYSTEM",
    }
);

text_enum!(
    /// Channel a repair request came in through (mirrors `aftersales.common.v1.Channel`).
    Channel {
        App => "APP",
        Hotline => "HOTLINE",
        OnlineCs => "ONLINE_CS",
        Email => "EMAIL",
        Social => "SOCIAL",
    }
);

text_enum!(
    /// What an unrepairable item is converted to.
    UnrepairableResolution {
        Exchange => "EXCHANGE",
        Refund => "REFUND",
    }
);

text_enum!(
    /// Why an item goes back unrepaired.
    UnrepairedReason {
        QuoteDeclined => "QUOTE_DECLINED",
        QuoteExpired => "QUOTE_EXPIRED",
        Canceled => "CANCELED",
    }
);

text_enum!(
    /// The buyer's answer to a quote.
    QuoteDecision {
        Approved => "APPROVED",
        Declined => "DECLINED",
        Expired => "EXPIRED",
        /// The quote no longer applies (warranty overridden, unrepairable, canceled).
        Withdrawn => "WITHDRAWN",
    }
);

text_enum!(
    /// How the warranty decision was made.
    WarrantySource {
        Computed => "COMPUTED",
        Overridden => "OVERRIDDEN",
    }
);

text_enum!(
    /// State of a repair center.
    RepairCenterState {
        /// Accepts new assignments.
        Active => "ACTIVE",
        /// No new assignments.
        Suspended => "SUSPENDED",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Copy + PartialEq + fmt::Debug>(
        all: &[T],
        as_str: fn(&T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for v in all {
            assert_eq!(parse(as_str(v)), Some(*v), "{v:?}");
        }
        assert_eq!(parse(""), None);
        assert_eq!(parse("nope"), None);
    }

    #[test]
    fn every_enum_round_trips_through_text() {
        round_trips(RepairState::ALL, RepairState::as_str, RepairState::parse);
        round_trips(ActorKind::ALL, ActorKind::as_str, ActorKind::parse);
        round_trips(Channel::ALL, Channel::as_str, Channel::parse);
        round_trips(
            UnrepairableResolution::ALL,
            UnrepairableResolution::as_str,
            UnrepairableResolution::parse,
        );
        round_trips(
            UnrepairedReason::ALL,
            UnrepairedReason::as_str,
            UnrepairedReason::parse,
        );
        round_trips(
            QuoteDecision::ALL,
            QuoteDecision::as_str,
            QuoteDecision::parse,
        );
        round_trips(
            WarrantySource::ALL,
            WarrantySource::as_str,
            WarrantySource::parse,
        );
        round_trips(
            RepairCenterState::ALL,
            RepairCenterState::as_str,
            RepairCenterState::parse,
        );
    }

    #[test]
    fn parse_is_case_sensitive() {
        assert_eq!(RepairState::parse("requested"), None);
        assert_eq!(
            RepairState::parse("AWAITING_ITEM"),
            Some(RepairState::AwaitingItem)
        );
    }

    #[test]
    fn terminal_states() {
        let terminal: Vec<_> = RepairState::ALL
            .iter()
            .filter(|s| s.is_terminal())
            .collect();
        assert_eq!(
            terminal,
            [
                &RepairState::Completed,
                &RepairState::Converted,
                &RepairState::Canceled
            ]
        );
    }
}
