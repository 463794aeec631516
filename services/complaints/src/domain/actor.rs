//! Who performs an operation: recorded for audit and used for permission and partner scoping.

use crate::domain::validate;
use crate::domain::{CustomerId, MerchantId};
use aftersales_kernel::{DomainError, limits};
use serde::{Deserialize, Serialize};

text_enum!(
    /// Kind of caller, mirroring `aftersales.common.v1.ActorKind`.
    ActorKind {
        Buyer => "BUYER",
        Merchant => "MERCHANT",
        Staff => "STAFF",
        Partner => "PARTNER",
        System => "SYSTEM",
    }
);

/// A validated caller: kind plus identifier (user id, merchant id, partner code, service name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

/// Staff and system: the internal operators allowed to run every complaint operation.
pub const INTERNAL: &[ActorKind] = &[ActorKind::Staff, ActorKind::System];

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

    pub fn buyer(id: CustomerId) -> Self {
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

    /// True for staff and system callers.
    pub fn is_internal(&self) -> bool {
        INTERNAL.contains(&self.kind)
    }

    /// Refuses with `actor_not_allowed` unless the actor is one of `kinds`.
    pub fn ensure_one_of(&self, kinds: &[ActorKind], action: &str) -> Result<(), DomainError> {
        if kinds.contains(&self.kind) {
            Ok(())
        } else {
            Err(not_allowed(self, action))
        }
    }

    /// Refuses with `actor_not_allowed` unless the actor is staff or system.
    pub fn ensure_internal(&self, action: &str) -> Result<(), DomainError> {
        self.ensure_one_of(INTERNAL, action)
    }

    /// True when the actor is this buyer (buyer actors carry their buyer id).
    pub fn is_customer(&self, customer: &CustomerId) -> bool {
        self.kind == ActorKind::Buyer && self.id == customer.to_string()
    }

    /// True when the actor is this merchant (merchant actors carry their merchant id).
    pub fn is_merchant(&self, merchant: &MerchantId) -> bool {
        self.kind == ActorKind::Merchant && self.id == merchant.to_string()
    }

    /// Staff, system, or this customer; `actor_not_allowed` otherwise.
    pub fn ensure_internal_or_customer(
        &self,
        customer: &CustomerId,
        action: &str,
    ) -> Result<(), DomainError> {
        if self.is_internal() || self.is_customer(customer) {
            Ok(())
        } else {
            Err(not_allowed(self, action))
        }
    }
}

/// Rule violation `actor_not_allowed` (the api layer maps it to `PERMISSION_DENIED`).
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
    use uuid::Uuid;

    #[test]
    fn kind_round_trips() {
        for k in ActorKind::ALL {
            assert_eq!(ActorKind::parse(k.as_str()), Some(*k));
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
        let me = CustomerId(Uuid::new_v4());
        let other = CustomerId(Uuid::new_v4());
        let m = MerchantId(Uuid::new_v4());
        let cases: &[(Actor, bool)] = &[
            (Actor::staff("s"), true),
            (Actor::system("sweeper"), true),
            (Actor::buyer(me), true),
            (Actor::buyer(other), false),
            (Actor::merchant(m), false),
            (
                Actor {
                    kind: ActorKind::Partner,
                    id: "sf".into(),
                },
                false,
            ),
        ];
        for (actor, ok) in cases {
            let got = actor.ensure_internal_or_customer(&me, "act");
            assert_eq!(got.is_ok(), *ok, "{actor:?}");
            if let Err(e) = got {
                assert_eq!(e.rule_name(), Some("actor_not_allowed"));
            }
        }
        assert!(Actor::merchant(m).is_merchant(&m));
        assert!(!Actor::staff(m.to_string()).is_merchant(&m));
        assert!(Actor::staff("s").ensure_internal("x").is_ok());
        assert!(Actor::buyer(me).ensure_internal("x").is_err());
    }
}
