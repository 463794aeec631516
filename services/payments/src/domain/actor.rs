//! Who performs an operation: recorded for audit and used for permission and partner scoping.

use crate::domain::validate;
use aftersales_kernel::{DomainError, limits};
use serde::{Deserialize, Serialize};

/// Kind of caller, mirroring `aftersales.common.v1.ActorKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActorKind {
    Buyer,
    Merchant,
    Staff,
    Partner,
    System,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Buyer => "BUYER",
            Self::Merchant => "MERCHANT",
            Self::Staff => "STAFF",
            Self::Partner => "PARTNER",
            Self::System => "SYSTEM",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "BUYER" => Self::Buyer,
            "MERCHANT" => Self::Merchant,
            "STAFF" => Self::Staff,
            "PARTNER" => Self::Partner,
            "SYSTEM" => Self::System,
            _ => return None,
        })
    }
}

/// A validated caller: kind plus identifier (user id, partner code, service name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    /// Validates a raw actor: the id is required and at most [`limits::SHORT_TEXT`] characters.
    /// `kind` is `None` when the wire value was unspecified.
    pub fn new(field: &str, kind: Option<ActorKind>, id: &str) -> Result<Self, DomainError> {
        let kind =
            kind.ok_or_else(|| DomainError::field(format!("{field}.kind"), "is required"))?;
        let id = validate::required_text(&format!("{field}.id"), id, limits::SHORT_TEXT)?;
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

    /// Refuses with `actor_not_allowed` unless the actor is one of `kinds`.
    pub fn ensure_one_of(&self, kinds: &[ActorKind], action: &str) -> Result<(), DomainError> {
        if kinds.contains(&self.kind) {
            Ok(())
        } else {
            Err(not_allowed(self, action))
        }
    }

    /// True when the actor is this merchant (merchant actors carry their merchant id).
    pub fn is_merchant(&self, merchant: &crate::domain::MerchantId) -> bool {
        self.kind == ActorKind::Merchant && self.id == merchant.to_string()
    }

    /// True when the actor is this buyer (buyer actors carry their buyer id).
    pub fn is_buyer(&self, buyer: &crate::domain::BuyerId) -> bool {
        self.kind == ActorKind::Buyer && self.id == buyer.to_string()
    }
}

/// Rule violation `actor_not_allowed` (`FAILED_PRECONDITION` at the gRPC edge, like every rule).
pub fn not_allowed(actor: &Actor, action: &str) -> DomainError {
    DomainError::rule(
        "actor_not_allowed",
        format!(
            "{} {} may not {action}",
            actor.kind.as_str().to_lowercase(),
            actor.id
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MerchantId;
    use uuid::Uuid;

    #[test]
    fn kind_round_trips() {
        for k in [
            ActorKind::Buyer,
            ActorKind::Merchant,
            ActorKind::Staff,
            ActorKind::Partner,
            ActorKind::System,
        ] {
            assert_eq!(ActorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(ActorKind::parse("nobody"), None);
    }

    #[test]
    fn validates_actor() {
        let long = "x".repeat(limits::SHORT_TEXT + 1);
        let max = "x".repeat(limits::SHORT_TEXT);
        let cases: &[(Option<ActorKind>, &str, Option<&str>)] = &[
            (Some(ActorKind::Staff), "alice", None),
            (Some(ActorKind::Staff), &max, None),
            (None, "alice", Some("actor.kind")),
            (Some(ActorKind::Staff), "", Some("actor.id")),
            (Some(ActorKind::Staff), "  ", Some("actor.id")),
            (Some(ActorKind::Staff), &long, Some("actor.id")),
        ];
        for (kind, id, bad_field) in cases {
            match (Actor::new("actor", *kind, id), bad_field) {
                (Ok(_), None) => {}
                (Err(DomainError::Invalid(v)), Some(f)) => assert_eq!(v[0].field, *f),
                (got, _) => panic!("{kind:?} {id}: {got:?}"),
            }
        }
    }

    #[test]
    fn scoping() {
        let m = MerchantId(Uuid::new_v4());
        let a = Actor {
            kind: ActorKind::Merchant,
            id: m.to_string(),
        };
        assert!(a.is_merchant(&m));
        assert!(!a.is_merchant(&MerchantId(Uuid::new_v4())));
        assert!(!Actor::staff(m.to_string()).is_merchant(&m));
        let err = Actor::staff("s")
            .ensure_one_of(&[ActorKind::System], "x")
            .unwrap_err();
        assert_eq!(err.rule_name(), Some("actor_not_allowed"));
        assert!(
            Actor::system("saga")
                .ensure_one_of(&[ActorKind::System], "x")
                .is_ok()
        );
    }
}
