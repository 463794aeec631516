//! Repair centers: partners that receive, diagnose, quote and repair items.
//! A suspended center keeps the orders it has but gets no new ones.

use super::actor::Actor;
use super::enums::{ActorKind, RepairCenterState};
use super::event::Event;
use super::ids::RepairCenterId;
use super::validate::{Reason, Violations, short_text};
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Validated input of a new repair center.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRepairCenter {
    /// Partner code, unique (storage enforces `repair_center_code_taken`).
    pub code: String,
    pub name: String,
}

impl NewRepairCenter {
    /// Validates raw `code` and `name`, naming every bad field.
    pub fn parse(code: &str, name: &str) -> Result<Self, DomainError> {
        let mut v = Violations::new();
        let code = v.check(short_text("code", code));
        let name = v.check(short_text("name", name));
        v.finish()?;
        match (code, name) {
            (Some(code), Some(name)) => Ok(Self { code, name }),
            _ => Err(DomainError::field("code", "is required")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairCenter {
    pub id: RepairCenterId,
    pub code: String,
    pub name: String,
    pub state: RepairCenterState,
    /// Reason of the current suspension.
    pub suspend_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl RepairCenter {
    /// Registers a center, ACTIVE. Staff only.
    pub fn create(
        id: RepairCenterId,
        input: NewRepairCenter,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        actor.ensure_kind(&[ActorKind::Staff], "register a repair center")?;
        let center = Self {
            id,
            code: input.code,
            name: input.name,
            state: RepairCenterState::Active,
            suspend_reason: None,
            created_at: now,
            updated_at: now,
        };
        Ok((center, Event::RepairCenterCreated))
    }

    pub fn is_active(&self) -> bool {
        self.state == RepairCenterState::Active
    }

    /// ACTIVE -> SUSPENDED. Staff only.
    pub fn suspend(
        &mut self,
        actor: &Actor,
        reason: Reason,
        now: DateTime<Utc>,
    ) -> Result<Event, DomainError> {
        actor.ensure_kind(&[ActorKind::Staff], "suspend a repair center")?;
        self.expect_state(RepairCenterState::Active, "suspend")?;
        self.state = RepairCenterState::Suspended;
        self.suspend_reason = Some(reason.into_string());
        self.updated_at = now;
        Ok(Event::RepairCenterSuspended)
    }

    /// SUSPENDED -> ACTIVE. Staff only.
    pub fn reactivate(&mut self, actor: &Actor, now: DateTime<Utc>) -> Result<Event, DomainError> {
        actor.ensure_kind(&[ActorKind::Staff], "reactivate a repair center")?;
        self.expect_state(RepairCenterState::Suspended, "reactivate")?;
        self.state = RepairCenterState::Active;
        self.suspend_reason = None;
        self.updated_at = now;
        Ok(Event::RepairCenterReactivated)
    }

    /// A partner sees only its own center (`repair_center_mismatch`); everyone else sees all.
    pub fn ensure_visible_to(&self, actor: &Actor) -> Result<(), DomainError> {
        if actor.kind == ActorKind::Partner && !actor.is_center(self.id) {
            return Err(DomainError::rule(
                "repair_center_mismatch",
                "a repair center can only see itself",
            ));
        }
        Ok(())
    }

    fn expect_state(&self, want: RepairCenterState, action: &str) -> Result<(), DomainError> {
        if self.state == want {
            Ok(())
        } else {
            Err(DomainError::rule(
                "invalid_state_transition",
                format!("cannot {action} a repair center in state {}", self.state),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("valid")
    }

    fn center() -> RepairCenter {
        let input = NewRepairCenter::parse("SZ-01", "Shenzhen repair hub").expect("valid");
        RepairCenter::create(RepairCenterId::new(), input, &Actor::staff("s1"), now())
            .expect("created")
            .0
    }

    fn reason() -> Reason {
        Reason::parse("reason", "quality audit").expect("valid")
    }

    #[test]
    fn parse_names_every_bad_field() {
        let err = NewRepairCenter::parse(" ", "").unwrap_err();
        let DomainError::Invalid(v) = err else {
            panic!("expected field errors")
        };
        let fields: Vec<_> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["code", "name"]);
    }

    #[test]
    fn create_is_staff_only() {
        let input = NewRepairCenter::parse("c", "n").expect("valid");
        for (actor, ok) in [
            (Actor::staff("s"), true),
            (Actor::system("orchestrator"), false),
            (Actor::buyer("b"), false),
        ] {
            let got = RepairCenter::create(RepairCenterId::new(), input.clone(), &actor, now());
            assert_eq!(got.is_ok(), ok, "{actor:?}");
        }
        let (c, e) = RepairCenter::create(RepairCenterId::new(), input, &Actor::staff("s"), now())
            .expect("created");
        assert_eq!(
            (c.state, e),
            (RepairCenterState::Active, Event::RepairCenterCreated)
        );
    }

    #[test]
    fn suspend_and_reactivate() {
        let staff = Actor::staff("s");
        let mut c = center();
        assert_eq!(
            c.suspend(&staff, reason(), now()),
            Ok(Event::RepairCenterSuspended)
        );
        assert!(!c.is_active());
        assert_eq!(c.suspend_reason.as_deref(), Some("quality audit"));
        let again = c.suspend(&staff, reason(), now()).unwrap_err();
        assert_eq!(again.rule_name(), Some("invalid_state_transition"));
        assert_eq!(
            c.reactivate(&staff, now()),
            Ok(Event::RepairCenterReactivated)
        );
        assert!(c.is_active());
        assert_eq!(c.suspend_reason, None);
        let again = c.reactivate(&staff, now()).unwrap_err();
        assert_eq!(again.rule_name(), Some("invalid_state_transition"));
    }

    #[test]
    fn partners_cannot_manage_centers() {
        let mut c = center();
        let me = Actor::repair_center(c.id);
        assert_eq!(
            c.suspend(&me, reason(), now()).unwrap_err().rule_name(),
            Some("actor_not_allowed")
        );
        c.state = RepairCenterState::Suspended;
        assert_eq!(
            c.reactivate(&me, now()).unwrap_err().rule_name(),
            Some("actor_not_allowed")
        );
    }

    #[test]
    fn partners_see_only_themselves() {
        let c = center();
        assert!(c.ensure_visible_to(&Actor::repair_center(c.id)).is_ok());
        assert!(c.ensure_visible_to(&Actor::staff("s")).is_ok());
        let other = Actor::repair_center(RepairCenterId::new());
        assert_eq!(
            c.ensure_visible_to(&other).unwrap_err().rule_name(),
            Some("repair_center_mismatch")
        );
    }
}
