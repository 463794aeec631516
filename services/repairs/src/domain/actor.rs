//! Who performs an action: recorded for audit and used for partner and buyer scoping.

use super::enums::ActorKind;
use super::ids::RepairCenterId;
use aftersales_kernel::DomainError;
use serde::{Deserialize, Serialize};

/// The caller of an operation (mirrors `aftersales.common.v1.Actor`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// User id, repair center id (partners) or service name.
    pub id: String,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    pub fn buyer(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Buyer, id)
    }

    pub fn staff(id: impl Into<String>) -> Self {
        Self::new(ActorKind::Staff, id)
    }

    /// The platform itself (timers, orchestrator, event consumers).
    pub fn system(id: impl Into<String>) -> Self {
        Self::new(ActorKind::System, id)
    }

    /// A repair center calling as a partner.
    pub fn repair_center(id: RepairCenterId) -> Self {
        Self::new(ActorKind::Partner, id.to_string())
    }

    /// Refuses with `actor_not_allowed` unless the actor's kind is one of `allowed`.
    pub fn ensure_kind(&self, allowed: &[ActorKind], action: &str) -> Result<(), DomainError> {
        if allowed.contains(&self.kind) {
            Ok(())
        } else {
            Err(DomainError::rule(
                "actor_not_allowed",
                format!(
                    "a {} actor cannot {action}",
                    self.kind.as_str().to_lowercase()
                ),
            ))
        }
    }

    /// Whether this actor is the given repair center acting as a partner.
    pub fn is_center(&self, center: RepairCenterId) -> bool {
        self.kind == ActorKind::Partner && self.id == center.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_kind_names_the_rule() {
        let cases = [
            (ActorKind::Staff, &[ActorKind::Staff][..], true),
            (
                ActorKind::Buyer,
                &[ActorKind::Staff, ActorKind::System][..],
                false,
            ),
            (ActorKind::Partner, &[][..], false),
        ];
        for (kind, allowed, ok) in cases {
            let got = Actor::new(kind, "x").ensure_kind(allowed, "do it");
            assert_eq!(got.is_ok(), ok, "{kind}");
            if !ok {
                assert_eq!(got.unwrap_err().rule_name(), Some("actor_not_allowed"));
            }
        }
    }

    #[test]
    fn is_center_compares_kind_and_id() {
        let c = RepairCenterId::new();
        assert!(Actor::repair_center(c).is_center(c));
        assert!(!Actor::repair_center(RepairCenterId::new()).is_center(c));
        assert!(!Actor::staff(c.to_string()).is_center(c));
    }
}
