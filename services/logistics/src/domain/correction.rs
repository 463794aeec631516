//! Wrong tracking numbers: the merchant may correct one within 24 h (config) of the waybill upload
//! (or of creation when not uploaded); every correction is audited.

use super::actor::{Actor, ActorKind};
use super::event::Event;
use super::ids::{CorrectionId, ShipmentId};
use super::policy::Policy;
use super::shipment::{Shipment, ShipmentState};
use aftersales_kernel::DomainError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Audit record of one tracking number correction (append-only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingCorrection {
    pub id: CorrectionId,
    pub shipment_id: ShipmentId,
    pub old_tracking_number: String,
    pub new_tracking_number: String,
    pub corrected_by: Actor,
    pub corrected_at: DateTime<Utc>,
    pub reason: Option<String>,
}

impl Shipment {
    /// True when `actor`'s id is this shipment's merchant id.
    pub fn is_merchant(&self, actor: &Actor) -> bool {
        uuid::Uuid::parse_str(&actor.id).is_ok_and(|id| id == self.merchant_id.0)
    }

    /// End of the correction window: 24 h (config) after the waybill upload, or after creation
    /// when not uploaded.
    pub fn correction_deadline(&self, policy: &Policy) -> DateTime<Utc> {
        self.uploaded_at.unwrap_or(self.created_at) + policy.correction_window()
    }

    /// The merchant (or staff) replaces a wrong tracking number within the window; returns the
    /// audit record to store. A merchant actor must be the shipment's merchant (its actor id is
    /// the merchant id). Rules: `actor_not_allowed`, `shipment_voided`, `shipment_closed`,
    /// `tracking_number_unchanged`, `correction_window_expired`. Uniqueness of the new number per
    /// courier (`tracking_number_taken`) is checked by storage.
    pub fn correct_tracking_number(
        &mut self,
        correction_id: CorrectionId,
        new_tracking_number: String,
        actor: &Actor,
        reason: Option<String>,
        now: DateTime<Utc>,
        policy: &Policy,
    ) -> Result<(TrackingCorrection, Event), DomainError> {
        actor.require(
            &[ActorKind::Merchant, ActorKind::Staff],
            "correct a tracking number",
        )?;
        if actor.kind == ActorKind::Merchant && !self.is_merchant(actor) {
            return Err(DomainError::rule(
                "actor_not_allowed",
                "a merchant may only correct its own shipments",
            ));
        }
        match self.state {
            ShipmentState::Voided => {
                return Err(DomainError::rule(
                    "shipment_voided",
                    "the waybill was voided",
                ));
            }
            ShipmentState::Signed | ShipmentState::ReturnedToSender => {
                return Err(DomainError::rule(
                    "shipment_closed",
                    format!("the shipment is already {}", self.state.as_str()),
                ));
            }
            _ => {}
        }
        if new_tracking_number == self.tracking_number {
            return Err(DomainError::rule(
                "tracking_number_unchanged",
                "the new tracking number equals the current one",
            ));
        }
        if now > self.correction_deadline(policy) {
            return Err(DomainError::rule(
                "correction_window_expired",
                format!(
                    "tracking numbers can be corrected within {} seconds",
                    policy.correction_window_seconds
                ),
            ));
        }
        let old = std::mem::replace(&mut self.tracking_number, new_tracking_number.clone());
        self.correction_count = self.correction_count.saturating_add(1);
        self.updated_at = now;
        let record = TrackingCorrection {
            id: correction_id,
            shipment_id: self.id,
            old_tracking_number: old,
            new_tracking_number,
            corrected_by: actor.clone(),
            corrected_at: now,
            reason,
        };
        Ok((record, Event::TrackingNumberCorrected))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shipment::tests::{MERCHANT, actor, at, merchant, shipment};
    use chrono::Duration;

    #[test]
    fn a_merchant_corrects_only_its_own_shipments() {
        let p = Policy::default();
        for id in ["m-1", "7b1e4a36-6c5b-4c3c-9d59-6d1f5f4f2a99"] {
            let mut s = shipment();
            let got = s.correct_tracking_number(
                CorrectionId::generate(),
                "SF2000".into(),
                &actor(ActorKind::Merchant, id),
                None,
                at(1),
                &p,
            );
            assert_eq!(got.unwrap_err().rule_name(), Some("actor_not_allowed"));
            assert_eq!(s.tracking_number, "SF1000");
        }
        let mut s = shipment();
        assert!(
            s.correct_tracking_number(
                CorrectionId::generate(),
                "SF2000".into(),
                &actor(ActorKind::Staff, "ops"),
                None,
                at(1),
                &p,
            )
            .is_ok()
        );
    }

    #[test]
    fn correction_window_boundaries() {
        let p = Policy::default();
        // (uploaded at, now, allowed)
        let cases: &[(Option<i64>, i64, bool)] = &[
            (None, 0, true),
            (None, 24, true),
            (None, 25, false),
            (Some(10), 34, true),
            (Some(10), 35, false),
        ];
        for (uploaded, now, ok) in cases {
            let mut s = shipment();
            s.uploaded_at = uploaded.map(at);
            let got = s.correct_tracking_number(
                CorrectionId::generate(),
                "SF2000".into(),
                &merchant(),
                None,
                at(*now),
                &p,
            );
            if *ok {
                let (record, event) = got.unwrap();
                assert_eq!(event, Event::TrackingNumberCorrected);
                assert_eq!(record.old_tracking_number, "SF1000");
                assert_eq!(record.new_tracking_number, "SF2000");
                assert_eq!(record.corrected_by, merchant());
                assert_eq!(record.corrected_at, at(*now));
                assert_eq!(s.tracking_number, "SF2000");
                assert_eq!(s.correction_count, 1);
            } else {
                assert_eq!(
                    got.unwrap_err().rule_name(),
                    Some("correction_window_expired")
                );
                assert_eq!(s.tracking_number, "SF1000");
            }
        }
        let mut s = shipment();
        let just_after = at(24) + Duration::seconds(1);
        assert!(
            s.correct_tracking_number(
                CorrectionId::generate(),
                "X1".into(),
                &merchant(),
                None,
                just_after,
                &p
            )
            .is_err()
        );
    }

    #[test]
    fn correction_rules() {
        let p = Policy::default();
        let cases: &[(ActorKind, ShipmentState, &str, Option<&str>)] = &[
            (
                ActorKind::Merchant,
                ShipmentState::InTransit,
                "SF2000",
                None,
            ),
            (ActorKind::Staff, ShipmentState::Created, "SF2000", None),
            (
                ActorKind::Buyer,
                ShipmentState::Created,
                "SF2000",
                Some("actor_not_allowed"),
            ),
            (
                ActorKind::Partner,
                ShipmentState::Created,
                "SF2000",
                Some("actor_not_allowed"),
            ),
            (
                ActorKind::System,
                ShipmentState::Created,
                "SF2000",
                Some("actor_not_allowed"),
            ),
            (
                ActorKind::Merchant,
                ShipmentState::Voided,
                "SF2000",
                Some("shipment_voided"),
            ),
            (
                ActorKind::Merchant,
                ShipmentState::Signed,
                "SF2000",
                Some("shipment_closed"),
            ),
            (
                ActorKind::Merchant,
                ShipmentState::ReturnedToSender,
                "SF2000",
                Some("shipment_closed"),
            ),
            (
                ActorKind::Merchant,
                ShipmentState::Created,
                "SF1000",
                Some("tracking_number_unchanged"),
            ),
        ];
        for (kind, state, number, rule) in cases {
            let mut s = shipment();
            s.state = *state;
            let got = s.correct_tracking_number(
                CorrectionId::generate(),
                (*number).into(),
                &actor(*kind, MERCHANT),
                Some("typo".into()),
                at(1),
                &p,
            );
            assert_eq!(
                got.err().and_then(|e| e.rule_name()),
                *rule,
                "{kind:?} {state:?}"
            );
        }
    }
}
