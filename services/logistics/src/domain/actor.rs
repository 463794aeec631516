//! Who asks, and what each kind of actor may do (partner scoping included).

use aftersales_kernel::{DomainError, limits};
use serde::{Deserialize, Serialize};

/// Kind of actor, mirroring `aftersales.common.v1.ActorKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ActorKind {
    Buyer,
    Merchant,
    Staff,
    /// A courier; its actor id is the courier code.
    Partner,
    System,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Buyer => "buyer",
            Self::Merchant => "merchant",
            Self::Staff => "staff",
            Self::Partner => "partner",
            Self::System => "system",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "buyer" => Self::Buyer,
            "merchant" => Self::Merchant,
            "staff" => Self::Staff,
            "partner" => Self::Partner,
            "system" => Self::System,
            _ => return None,
        })
    }
}

/// Who did it: stored with every audit-relevant change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: String,
}

impl Actor {
    /// Builds an actor from raw input; `kind` is `None` when the request left it unspecified.
    /// Errors name `actor.kind` / `actor.id`.
    pub fn new(kind: Option<ActorKind>, id: &str) -> Result<Self, DomainError> {
        let kind = kind.ok_or_else(|| DomainError::field("actor.kind", "is required"))?;
        let id = id.trim();
        if id.is_empty() {
            return Err(DomainError::field("actor.id", "is required"));
        }
        if id.chars().count() > limits::SHORT_TEXT {
            return Err(DomainError::field(
                "actor.id",
                format!("must be at most {} characters", limits::SHORT_TEXT),
            ));
        }
        Ok(Self {
            kind,
            id: id.to_owned(),
        })
    }

    /// Refuses the call unless the actor is one of `allowed` (rule `actor_not_allowed`).
    pub fn require(&self, allowed: &[ActorKind], action: &str) -> Result<(), DomainError> {
        if allowed.contains(&self.kind) {
            Ok(())
        } else {
            Err(DomainError::rule(
                "actor_not_allowed",
                format!("a {} may not {action}", self.kind.as_str()),
            ))
        }
    }

    /// A courier sees and updates only its own shipments (rule `courier_mismatch`).
    /// Other actor kinds pass.
    pub fn ensure_courier(&self, courier_code: &str) -> Result<(), DomainError> {
        if self.kind == ActorKind::Partner && self.id != courier_code {
            return Err(DomainError::rule(
                "courier_mismatch",
                "the shipment belongs to another courier",
            ));
        }
        Ok(())
    }

    /// The courier code a listing must be restricted to: a courier only ever lists its own
    /// records. Asking for another courier's code is `courier_mismatch`.
    pub fn scope_courier_filter(
        &self,
        requested: Option<String>,
    ) -> Result<Option<String>, DomainError> {
        if self.kind != ActorKind::Partner {
            return Ok(requested);
        }
        match requested {
            Some(code) if code != self.id => Err(DomainError::rule(
                "courier_mismatch",
                "a courier may only list its own shipments",
            )),
            _ => Ok(Some(self.id.clone())),
        }
    }
}

/// Actors that run the warehouse side of shipments.
pub const SHIPPERS: &[ActorKind] = &[ActorKind::Merchant, ActorKind::Staff, ActorKind::System];
/// Actors that may run sweeps such as MarkStuckShipments.
pub const OPERATORS: &[ActorKind] = &[ActorKind::Staff, ActorKind::System];
/// Actors that may report courier facts: the courier itself or an operator/adapter.
pub const COURIER_REPORTERS: &[ActorKind] =
    &[ActorKind::Partner, ActorKind::Staff, ActorKind::System];

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(kind: ActorKind, id: &str) -> Actor {
        Actor {
            kind,
            id: id.into(),
        }
    }

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
        assert_eq!(ActorKind::parse("courier"), None);
    }

    #[test]
    fn new_validates_fields() {
        let long = "x".repeat(limits::SHORT_TEXT + 1);
        let max = "x".repeat(limits::SHORT_TEXT);
        let cases: &[(Option<ActorKind>, &str, Option<&str>)] = &[
            (None, "u1", Some("actor.kind")),
            (Some(ActorKind::Staff), "", Some("actor.id")),
            (Some(ActorKind::Staff), "   ", Some("actor.id")),
            (Some(ActorKind::Staff), &long, Some("actor.id")),
            (Some(ActorKind::Staff), &max, None),
            (Some(ActorKind::Partner), "SF", None),
        ];
        for (kind, id, bad_field) in cases {
            match (Actor::new(*kind, id), bad_field) {
                (Ok(_), None) => {}
                (Err(DomainError::Invalid(v)), Some(f)) => assert_eq!(v[0].field, *f),
                (got, want) => panic!("{kind:?} {id:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn require_checks_the_kind() {
        assert!(
            actor(ActorKind::Merchant, "m")
                .require(SHIPPERS, "print a waybill")
                .is_ok()
        );
        let err = actor(ActorKind::Buyer, "b")
            .require(SHIPPERS, "print a waybill")
            .unwrap_err();
        assert_eq!(err.rule_name(), Some("actor_not_allowed"));
        assert_eq!(
            actor(ActorKind::Merchant, "m")
                .require(COURIER_REPORTERS, "x")
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
    }

    #[test]
    fn couriers_are_scoped_to_their_code() {
        let cases: &[(ActorKind, &str, &str, bool)] = &[
            (ActorKind::Partner, "SF", "SF", true),
            (ActorKind::Partner, "SF", "YTO", false),
            (ActorKind::Staff, "ops", "YTO", true),
            (ActorKind::System, "sweeper", "YTO", true),
            (ActorKind::Merchant, "SF", "YTO", true),
        ];
        for (kind, id, code, ok) in cases {
            let got = actor(*kind, id).ensure_courier(code);
            assert_eq!(got.is_ok(), *ok, "{kind:?} {id} {code}");
            if !ok {
                assert_eq!(got.unwrap_err().rule_name(), Some("courier_mismatch"));
            }
        }
    }

    #[test]
    fn listing_filter_is_forced_for_couriers() {
        let sf = actor(ActorKind::Partner, "SF");
        assert_eq!(sf.scope_courier_filter(None), Ok(Some("SF".into())));
        assert_eq!(
            sf.scope_courier_filter(Some("SF".into())),
            Ok(Some("SF".into()))
        );
        assert_eq!(
            sf.scope_courier_filter(Some("YTO".into()))
                .unwrap_err()
                .rule_name(),
            Some("courier_mismatch")
        );
        let staff = actor(ActorKind::Staff, "ops");
        assert_eq!(staff.scope_courier_filter(None), Ok(None));
        assert_eq!(
            staff.scope_courier_filter(Some("YTO".into())),
            Ok(Some("YTO".into()))
        );
    }
}
