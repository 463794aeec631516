//! Closed sets of values. Each is stored as text (`as_str`/`parse`), using the names of DOMAIN.md.

macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

text_enum!(
    /// What the buyer asks for.
    CaseType {
        /// Money back, the buyer keeps or never receives the goods.
        RefundOnly => "REFUND_ONLY",
        /// The buyer sends the goods back and gets the money back.
        ReturnRefund => "RETURN_REFUND",
        /// The buyer sends the goods back and gets a replacement.
        Exchange => "EXCHANGE",
        /// Missing or wrong item: the merchant ships the item (again).
        Reship => "RESHIP",
        /// Money without return (low-value quality problem, goodwill).
        Compensation => "COMPENSATION",
    }
);

text_enum!(
    /// Why the buyer asks. Drives eligibility windows, evidence and default responsibility.
    ReasonCode {
        /// Seven-day no-reason return (statutory).
        NoReason => "NO_REASON",
        /// Quality problem (defect, does not work).
        Quality => "QUALITY",
        /// Arrived damaged.
        Damaged => "DAMAGED",
        /// A different item than ordered was delivered.
        WrongItem => "WRONG_ITEM",
        /// An item of the order is missing from the parcel.
        MissingItem => "MISSING_ITEM",
        /// Not as described on the product page (counts as quality).
        NotAsDescribed => "NOT_AS_DESCRIBED",
        /// The parcel has not been delivered (not shipped or still in transit).
        NotReceived => "NOT_RECEIVED",
    }
);

impl ReasonCode {
    /// Quality, damage and wrong-item reasons need photo or video evidence.
    pub fn requires_evidence(&self) -> bool {
        matches!(
            self,
            Self::Quality | Self::Damaged | Self::WrongItem | Self::NotAsDescribed
        )
    }

    /// Reasons judged against the quality window and the warranty.
    pub fn is_quality_like(&self) -> bool {
        matches!(
            self,
            Self::Quality
                | Self::Damaged
                | Self::WrongItem
                | Self::NotAsDescribed
                | Self::MissingItem
        )
    }

    /// Who is responsible unless staff says otherwise.
    pub fn default_responsibility(&self) -> Responsibility {
        match self {
            Self::NoReason | Self::NotReceived => Responsibility::Buyer,
            Self::Damaged => Responsibility::Courier,
            Self::Quality | Self::WrongItem | Self::MissingItem | Self::NotAsDescribed => {
                Responsibility::Merchant
            }
        }
    }
}

text_enum!(
    /// Who is responsible for the problem; the merchant at fault pays shipping.
    Responsibility {
        Buyer => "BUYER",
        Merchant => "MERCHANT",
        Courier => "COURIER",
        Platform => "PLATFORM",
    }
);

text_enum!(
    /// Where the parcel is: of the order (replica) and of the case at request time.
    ShipmentState {
        NotShipped => "NOT_SHIPPED",
        InTransit => "IN_TRANSIT",
        Delivered => "DELIVERED",
    }
);

text_enum!(
    /// Channel the request came in through.
    Channel {
        App => "APP",
        Hotline => "HOTLINE",
        OnlineCs => "ONLINE_CS",
        Email => "EMAIL",
        Social => "SOCIAL",
    }
);

text_enum!(
    /// State of an after-sale case. See `case.rs` for the allowed transitions.
    CaseStatus {
        /// Recorded; moves to `PENDING_MERCHANT` (or straight to `APPROVED`) in the same step.
        Requested => "REQUESTED",
        /// Waiting for the merchant; auto-approved at `merchant_decision_deadline`.
        PendingMerchant => "PENDING_MERCHANT",
        /// Approved; waiting for money or a replacement to move.
        Approved => "APPROVED",
        /// Refused by the merchant (or by an arbitration ruling); may be escalated.
        Rejected => "REJECTED",
        /// The merchant offered a partial refund; waiting for the buyer.
        Negotiating => "NEGOTIATING",
        /// Return label issued; closed at `buyer_shipment_deadline` without a shipment.
        AwaitingBuyerShipment => "AWAITING_BUYER_SHIPMENT",
        ReturnInTransit => "RETURN_IN_TRANSIT",
        /// Every item has a final reception status.
        Received => "RECEIVED",
        /// Every received item has a final inspection result.
        Inspected => "INSPECTED",
        /// Refund requested from payments: money is moving.
        Refunding => "REFUNDING",
        /// Replacement or reship shipped: goods are moving.
        ReplacementShipped => "REPLACEMENT_SHIPPED",
        Completed => "COMPLETED",
        /// Withdrawn by the buyer before money moved.
        Withdrawn => "WITHDRAWN",
        /// Closed without completion (no buyer shipment before the deadline, or the claim
        /// refuted after approval).
        Closed => "CLOSED",
    }
);

impl CaseStatus {
    /// Nothing can happen to the case any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Completed | Self::Withdrawn | Self::Closed)
    }

    /// Money or goods have started to move: the buyer can no longer withdraw.
    pub fn money_moved(&self) -> bool {
        matches!(
            self,
            Self::Refunding | Self::ReplacementShipped | Self::Completed
        )
    }

    /// The case still claims its order lines (one open case per line).
    pub fn is_open(&self) -> bool {
        !self.is_terminal()
    }
}

text_enum!(
    /// Return-leg progress derived from the items (e.g. partially received).
    ReturnProgress {
        /// The case has no return leg.
        NotApplicable => "NOT_APPLICABLE",
        AwaitingShipment => "AWAITING_SHIPMENT",
        InTransit => "IN_TRANSIT",
        PartiallyReceived => "PARTIALLY_RECEIVED",
        Received => "RECEIVED",
        PartiallyInspected => "PARTIALLY_INSPECTED",
        Inspected => "INSPECTED",
    }
);

text_enum!(
    /// Reception status of one case item at the warehouse.
    ReceptionStatus {
        AwaitingShipment => "AWAITING_SHIPMENT",
        InTransit => "IN_TRANSIT",
        Received => "RECEIVED",
        /// Lost by the courier: refunded (courier liability).
        Lost => "LOST",
        /// Fewer units than expected arrived.
        Short => "SHORT",
        /// The buyer sent something else: not refunded.
        WrongItem => "WRONG_ITEM",
    }
);

impl ReceptionStatus {
    /// The warehouse has given its final word on this item.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Received | Self::Lost | Self::Short | Self::WrongItem
        )
    }
}

text_enum!(
    /// Inspection status of one case item.
    InspectionStatus {
        Pending => "PENDING",
        Accepted => "ACCEPTED",
        Rejected => "REJECTED",
        /// Needs a human decision; inspect again to settle.
        ManualReview => "MANUAL_REVIEW",
    }
);

impl InspectionStatus {
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Accepted | Self::Rejected)
    }
}

text_enum!(
    /// What the warehouse does with a returned item.
    Disposition {
        Pending => "PENDING",
        /// Back to sellable stock: only for resellable items.
        Restock => "RESTOCK",
        Scrap => "SCRAP",
        ToRepair => "TO_REPAIR",
        ReturnToVendor => "RETURN_TO_VENDOR",
        /// Rejected items are shipped back to the buyer, and only they.
        ReturnToBuyer => "RETURN_TO_BUYER",
    }
);

text_enum!(
    /// Courier interception of an in-transit parcel (refund-only, in transit).
    InterceptionStatus {
        Requested => "REQUESTED",
        Intercepted => "INTERCEPTED",
        /// The parcel was delivered anyway: the buyer may convert to return+refund.
        Failed => "FAILED",
    }
);

text_enum!(
    /// A merchant's partial-refund offer.
    OfferStatus {
        Pending => "PENDING",
        Accepted => "ACCEPTED",
        Declined => "DECLINED",
        /// Replaced by a newer offer or a decision of the merchant or platform.
        Superseded => "SUPERSEDED",
    }
);

text_enum!(
    /// Platform intervention (平台介入) on a case.
    ArbitrationStatus {
        /// Open: the merchant may upload evidence until the deadline.
        AwaitingMerchantEvidence => "AWAITING_MERCHANT_EVIDENCE",
        /// Open: the platform is deciding.
        UnderReview => "UNDER_REVIEW",
        /// Ruled; one appeal possible before `appeal_deadline`.
        Ruled => "RULED",
        /// Open again after the one appeal.
        Appealed => "APPEALED",
        /// Ruled after the appeal; nothing more can happen.
        Final => "FINAL",
        /// Withdrawn by the buyer.
        Withdrawn => "WITHDRAWN",
    }
);

impl ArbitrationStatus {
    /// Money movement on the case is frozen while the arbitration is open.
    pub fn is_open(&self) -> bool {
        matches!(
            self,
            Self::AwaitingMerchantEvidence | Self::UnderReview | Self::Appealed
        )
    }
}

text_enum!(
    /// The platform's ruling.
    RulingOutcome {
        ForBuyer => "FOR_BUYER",
        ForMerchant => "FOR_MERCHANT",
        /// The buyer gets part of the requested amount.
        Split => "SPLIT",
    }
);

text_enum!(
    /// Kind of caller, for audit and scoping.
    ActorKind {
        Buyer => "BUYER",
        Merchant => "MERCHANT",
        Staff => "STAFF",
        Partner => "PARTNER",
        System => "SYSTEM",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        as_str: fn(&T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for v in all {
            assert_eq!(parse(as_str(v)), Some(*v));
        }
        assert_eq!(parse(""), None);
        assert_eq!(parse("nope"), None);
    }

    #[test]
    fn every_enum_round_trips_as_text() {
        round_trip(CaseType::ALL, CaseType::as_str, CaseType::parse);
        round_trip(ReasonCode::ALL, ReasonCode::as_str, ReasonCode::parse);
        round_trip(
            Responsibility::ALL,
            Responsibility::as_str,
            Responsibility::parse,
        );
        round_trip(
            ShipmentState::ALL,
            ShipmentState::as_str,
            ShipmentState::parse,
        );
        round_trip(Channel::ALL, Channel::as_str, Channel::parse);
        round_trip(CaseStatus::ALL, CaseStatus::as_str, CaseStatus::parse);
        round_trip(
            ReturnProgress::ALL,
            ReturnProgress::as_str,
            ReturnProgress::parse,
        );
        round_trip(
            ReceptionStatus::ALL,
            ReceptionStatus::as_str,
            ReceptionStatus::parse,
        );
        round_trip(
            InspectionStatus::ALL,
            InspectionStatus::as_str,
            InspectionStatus::parse,
        );
        round_trip(Disposition::ALL, Disposition::as_str, Disposition::parse);
        round_trip(
            InterceptionStatus::ALL,
            InterceptionStatus::as_str,
            InterceptionStatus::parse,
        );
        round_trip(OfferStatus::ALL, OfferStatus::as_str, OfferStatus::parse);
        round_trip(
            ArbitrationStatus::ALL,
            ArbitrationStatus::as_str,
            ArbitrationStatus::parse,
        );
        round_trip(
            RulingOutcome::ALL,
            RulingOutcome::as_str,
            RulingOutcome::parse,
        );
        round_trip(ActorKind::ALL, ActorKind::as_str, ActorKind::parse);
        assert_eq!(
            CaseStatus::parse("pending_merchant"),
            None,
            "case sensitive"
        );
    }

    #[test]
    fn status_classes() {
        use CaseStatus::*;
        let cases = [
            (Requested, false, false),
            (PendingMerchant, false, false),
            (Rejected, false, false),
            (Inspected, false, false),
            (Refunding, false, true),
            (ReplacementShipped, false, true),
            (Completed, true, true),
            (Withdrawn, true, false),
            (Closed, true, false),
        ];
        for (s, terminal, moved) in cases {
            assert_eq!(s.is_terminal(), terminal, "{s}");
            assert_eq!(s.is_open(), !terminal, "{s}");
            assert_eq!(s.money_moved(), moved, "{s}");
        }
    }

    #[test]
    fn reason_properties() {
        use ReasonCode::*;
        let cases = [
            (NoReason, false, false, Responsibility::Buyer),
            (Quality, true, true, Responsibility::Merchant),
            (Damaged, true, true, Responsibility::Courier),
            (WrongItem, true, true, Responsibility::Merchant),
            (MissingItem, false, true, Responsibility::Merchant),
            (NotAsDescribed, true, true, Responsibility::Merchant),
            (NotReceived, false, false, Responsibility::Buyer),
        ];
        for (r, evidence, quality, resp) in cases {
            assert_eq!(r.requires_evidence(), evidence, "{r}");
            assert_eq!(r.is_quality_like(), quality, "{r}");
            assert_eq!(r.default_responsibility(), resp, "{r}");
        }
    }

    #[test]
    fn final_and_open_sets() {
        use ReceptionStatus as R;
        for (s, fin) in [
            (R::AwaitingShipment, false),
            (R::InTransit, false),
            (R::Received, true),
            (R::Lost, true),
            (R::Short, true),
            (R::WrongItem, true),
        ] {
            assert_eq!(s.is_final(), fin, "{s}");
        }
        use InspectionStatus as I;
        for (s, fin) in [
            (I::Pending, false),
            (I::ManualReview, false),
            (I::Accepted, true),
            (I::Rejected, true),
        ] {
            assert_eq!(s.is_final(), fin, "{s}");
        }
        use ArbitrationStatus as A;
        for (s, open) in [
            (A::AwaitingMerchantEvidence, true),
            (A::UnderReview, true),
            (A::Ruled, false),
            (A::Appealed, true),
            (A::Final, false),
            (A::Withdrawn, false),
        ] {
            assert_eq!(s.is_open(), open, "{s}");
        }
    }
}
