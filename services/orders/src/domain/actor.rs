//! Who performs an operation: recorded for audit and used for permission and partner scoping.

use super::ids::{BuyerId, MerchantId};
use super::validate;
use aftersales_kernel::{DomainError, limits};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

text_enum!(
    /// Kind of caller, mirroring `aftersales.common.v1.ActorKind`.
    ActorKind {
        Buyer => "BUYER",
        Merchant => "MERCHANT",
        Staff => "STAFF",
        /// A courier partner; its id is its courier code.
        Partner => "PARTNER",
        /// Another service or the saga orchestrator.
        System => "SYSTEM",
    }
);

/// A validated caller: kind plus identifier (user id, merchant id, courier code, service name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    /// Validates a raw actor: the id is required and at most [`limits::SHORT_TEXT`] characters;
    /// buyers and merchants are identified by their UUID. `kind` is `None` when unspecified.
    pub fn new(field: &str, kind: Option<ActorKind>, id: &str) -> Result<Self, DomainError> {
        let kind =
            kind.ok_or_else(|| DomainError::field(format!("{field}.kind"), "is required"))?;
        let id = validate::required_text(&format!("{field}.id"), id, limits::SHORT_TEXT)?;
        if matches!(kind, ActorKind::Buyer | ActorKind::Merchant) && Uuid::parse_str(&id).is_err() {
            return Err(DomainError::field(
                format!("{field}.id"),
                "must be a uuid for buyers and merchants",
            ));
        }
        Ok(Self { kind, id })
    }

    pub fn system(id: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::System,
            id: id.into(),
        }
    }

    pub fn staff(id: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::Staff,
            id: id.into(),
        }
    }

    pub fn buyer(id: BuyerId) -> Self {
        Self {
            kind: ActorKind::Buyer,
            id: id.to_string(),
        }
    }

    pub fn merchant(id: MerchantId) -> Self {
        Self {
            kind: ActorKind::Merchant,
            id: id.to_string(),
        }
    }

    pub fn partner(code: impl Into<String>) -> Self {
        Self {
            kind: ActorKind::Partner,
            id: code.into(),
        }
    }

    /// Staff and internal services may act on any order.
    pub fn is_internal(&self) -> bool {
        matches!(self.kind, ActorKind::Staff | ActorKind::System)
    }

    /// The actor is this buyer.
    pub fn is_buyer(&self, buyer: BuyerId) -> bool {
        self.kind == ActorKind::Buyer && self.uuid() == Some(buyer.0)
    }

    /// The actor is this merchant.
    pub fn is_merchant(&self, merchant: MerchantId) -> bool {
        self.kind == ActorKind::Merchant && self.uuid() == Some(merchant.0)
    }

    /// The actor is the courier partner with this code.
    pub fn is_courier(&self, courier_code: Option<&str>) -> bool {
        self.kind == ActorKind::Partner && courier_code == Some(self.id.as_str())
    }

    /// The actor's id as a UUID (buyers and merchants).
    pub fn uuid(&self) -> Option<Uuid> {
        Uuid::parse_str(&self.id).ok()
    }
}

/// The rule violation for an actor that may not do `what`: maps to `PERMISSION_DENIED`.
pub(crate) fn not_allowed(actor: &Actor, what: &str) -> DomainError {
    DomainError::rule(
        "actor_not_allowed",
        format!(
            "{} {} may not {what}",
            actor.kind.as_str().to_lowercase(),
            actor.id
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_round_trips() {
        for k in ActorKind::ALL {
            assert_eq!(ActorKind::parse(k.as_str()), Some(*k));
        }
        assert_eq!(ActorKind::parse("buyer"), None);
    }

    #[test]
    fn new_validates() {
        let uuid = Uuid::from_u128(1).to_string();
        let cases: &[(Option<ActorKind>, &str, Option<&str>)] = &[
            (None, "x", Some("actor.kind")),
            (Some(ActorKind::Staff), "", Some("actor.id")),
            (Some(ActorKind::Staff), &"s".repeat(129), Some("actor.id")),
            (Some(ActorKind::Staff), &"s".repeat(128), None),
            (Some(ActorKind::Buyer), "not-a-uuid", Some("actor.id")),
            (Some(ActorKind::Buyer), &uuid, None),
            (Some(ActorKind::Merchant), "m1", Some("actor.id")),
            (Some(ActorKind::Partner), "SF", None),
            (Some(ActorKind::System), "orchestrator", None),
        ];
        for (kind, id, bad_field) in cases {
            match (Actor::new("actor", *kind, id), bad_field) {
                (Ok(_), None) => {}
                (Err(DomainError::Invalid(v)), Some(f)) => assert_eq!(v[0].field, *f),
                (got, want) => panic!("{kind:?} {id}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn identity_checks() {
        let b = BuyerId(Uuid::from_u128(1));
        let m = MerchantId(Uuid::from_u128(1));
        assert!(Actor::buyer(b).is_buyer(b));
        assert!(!Actor::buyer(b).is_merchant(m), "same uuid, different kind");
        assert!(!Actor::buyer(BuyerId(Uuid::from_u128(2))).is_buyer(b));
        assert!(Actor::merchant(m).is_merchant(m));
        assert!(Actor::partner("SF").is_courier(Some("SF")));
        assert!(!Actor::partner("SF").is_courier(Some("YTO")));
        assert!(!Actor::partner("SF").is_courier(None));
        assert!(!Actor::staff("SF").is_courier(Some("SF")));
        assert!(Actor::staff("s").is_internal() && Actor::system("x").is_internal());
        assert!(!Actor::buyer(b).is_internal());
        let upper = Actor {
            kind: ActorKind::Buyer,
            id: b.to_string().to_uppercase(),
        };
        assert!(upper.is_buyer(b), "uuid comparison ignores case");
        assert_eq!(
            not_allowed(&Actor::buyer(b), "ship").rule_name(),
            Some("actor_not_allowed")
        );
    }
}
