//! Service ratings after a case, complaint or repair closes: attitude, professionalism and
//! timeliness, 1–5; one per closed item; immutable once given.

use aftersales_kernel::{DomainError, FieldViolation, limits};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::validate;
use crate::domain::{Actor, CustomerId, Event, ServiceRatingId};

/// A score from 1 to 5.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Score(u8);

impl Score {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 5;

    /// Parses a wire score, naming the field when outside 1..=5 (0 means unset).
    pub fn parse(field: &str, value: u32) -> Result<Self, FieldViolation> {
        match u8::try_from(value) {
            Ok(v) if (Self::MIN..=Self::MAX).contains(&v) => Ok(Self(v)),
            _ => Err(FieldViolation::new(field, "must be between 1 and 5")),
        }
    }

    pub fn value(&self) -> u8 {
        self.0
    }
}

/// The service scores of one rating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceScores {
    pub attitude: Score,
    pub professionalism: Score,
    pub timeliness: Score,
}

impl ServiceScores {
    /// Parses the three scores (`field.attitude`, ...), reporting every bad one.
    pub fn parse(
        field: &str,
        attitude: u32,
        professionalism: u32,
        timeliness: u32,
    ) -> Result<Self, DomainError> {
        let mut v = validate::Violations::new();
        let a = v.check(Score::parse(&format!("{field}.attitude"), attitude));
        let p = v.check(Score::parse(
            &format!("{field}.professionalism"),
            professionalism,
        ));
        let t = v.check(Score::parse(&format!("{field}.timeliness"), timeliness));
        v.finish()?;
        match (a, p, t) {
            (Some(attitude), Some(professionalism), Some(timeliness)) => Ok(Self {
                attitude,
                professionalism,
                timeliness,
            }),
            _ => Err(DomainError::field(field, "is invalid")),
        }
    }
}

text_enum!(
    /// Kind of closed item a service rating is about.
    RatingSubjectType {
        Case => "CASE",
        Complaint => "COMPLAINT",
        Repair => "REPAIR",
    }
);

impl RatingSubjectType {
    /// Whether `state`, the state name the owning service publishes for the item, is final:
    /// a case is closed once COMPLETED, WITHDRAWN or CLOSED; a repair once COMPLETED, CONVERTED
    /// or CANCELED; a complaint once CLOSED.
    pub fn is_closed_state(&self, state: &str) -> bool {
        match self {
            Self::Case => matches!(state, "COMPLETED" | "WITHDRAWN" | "CLOSED"),
            Self::Repair => matches!(state, "COMPLETED" | "CONVERTED" | "CANCELED"),
            Self::Complaint => state == "CLOSED",
        }
    }
}

/// The rated item: a case, complaint or repair (one rating each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RatingSubject {
    pub kind: RatingSubjectType,
    pub id: Uuid,
}

/// Input of [`ServiceRating::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceRating {
    pub subject: RatingSubject,
    pub customer_id: CustomerId,
    pub scores: ServiceScores,
    /// Field `comment`, optional, at most [`limits::LONG_TEXT`].
    pub comment: String,
}

/// The immutable service rating of one closed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRating {
    pub id: ServiceRatingId,
    pub subject: RatingSubject,
    pub customer_id: CustomerId,
    pub scores: ServiceScores,
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
}

impl ServiceRating {
    /// Submits a rating by the customer (or staff/system on its behalf).
    /// `existing` is the stored rating of the same subject, if any (`rating_already_given`);
    /// `subject_closed` tells whether the case/complaint/repair is closed (`subject_not_closed`):
    /// for a complaint, [`crate::domain::Complaint::is_closed`]; for cases and repairs, the
    /// closed-items record fed by their completion events.
    pub fn submit(
        new: NewServiceRating,
        actor: &Actor,
        existing: Option<&ServiceRating>,
        subject_closed: bool,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        actor.ensure_internal_or_customer(&new.customer_id, "rate for this customer")?;
        let comment = validate::optional_text("comment", &new.comment, limits::LONG_TEXT)?;
        if existing.is_some() {
            return Err(DomainError::rule(
                "rating_already_given",
                "this item was already rated and ratings cannot change",
            ));
        }
        if !subject_closed {
            return Err(DomainError::rule(
                "subject_not_closed",
                format!(
                    "the {} must be closed before it is rated",
                    new.subject.kind.as_str().to_lowercase()
                ),
            ));
        }
        let rating = Self {
            id: ServiceRatingId::generate(now),
            subject: new.subject,
            customer_id: new.customer_id,
            scores: new.scores,
            comment,
            rated_at: now,
        };
        Ok((rating, Event::ServiceRatingSubmitted))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;

    #[test]
    fn score_bounds() {
        let cases: &[(u32, bool)] = &[
            (0, false),
            (1, true),
            (3, true),
            (5, true),
            (6, false),
            (256 + 3, false),
            (u32::MAX, false),
        ];
        for (raw, ok) in cases {
            let got = Score::parse("scores.attitude", *raw);
            assert_eq!(got.is_ok(), *ok, "{raw}");
            match got {
                Ok(s) => assert_eq!(u32::from(s.value()), *raw),
                Err(v) => assert_eq!(v.field, "scores.attitude"),
            }
        }
    }

    #[test]
    fn scores_report_every_bad_field() {
        assert!(ServiceScores::parse("scores", 1, 5, 3).is_ok());
        match ServiceScores::parse("scores", 0, 5, 6) {
            Err(DomainError::Invalid(v)) => {
                assert_eq!(
                    v.iter().map(|f| f.field.as_str()).collect::<Vec<_>>(),
                    ["scores.attitude", "scores.timeliness"]
                );
            }
            other => panic!("{other:?}"),
        }
    }

    fn input() -> NewServiceRating {
        NewServiceRating {
            subject: RatingSubject {
                kind: RatingSubjectType::Repair,
                id: Uuid::new_v4(),
            },
            customer_id: CustomerId(Uuid::new_v4()),
            scores: ServiceScores::parse("scores", 5, 4, 3).unwrap(),
            comment: " quick ".into(),
        }
    }

    #[test]
    fn one_immutable_rating_per_closed_item() {
        let n = input();
        let buyer = Actor::buyer(n.customer_id);
        let (first, e) = ServiceRating::submit(n.clone(), &buyer, None, true, t0()).unwrap();
        assert_eq!(e, Event::ServiceRatingSubmitted);
        assert_eq!(
            (first.comment.as_deref(), first.rated_at),
            (Some("quick"), t0())
        );
        // (existing, closed, expected rule)
        let cases: &[(Option<&ServiceRating>, bool, Option<&str>)] = &[
            (None, true, None),
            (Some(&first), true, Some("rating_already_given")),
            (Some(&first), false, Some("rating_already_given")),
            (None, false, Some("subject_not_closed")),
        ];
        for (existing, closed, rule) in cases {
            let got = ServiceRating::submit(n.clone(), &buyer, *existing, *closed, t0());
            assert_eq!(got.err().and_then(|e| e.rule_name()), *rule);
        }
    }

    #[test]
    fn actor_and_comment() {
        let n = input();
        let stranger = Actor::buyer(CustomerId(Uuid::new_v4()));
        assert_eq!(
            ServiceRating::submit(n.clone(), &stranger, None, true, t0())
                .unwrap_err()
                .rule_name(),
            Some("actor_not_allowed")
        );
        assert!(
            ServiceRating::submit(n.clone(), &Actor::staff("hotline"), None, true, t0()).is_ok()
        );
        let mut long = n;
        long.comment = "c".repeat(limits::LONG_TEXT + 1);
        match ServiceRating::submit(long, &Actor::staff("s"), None, true, t0()) {
            Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, "comment"),
            other => panic!("{other:?}"),
        }
        for k in RatingSubjectType::ALL {
            assert_eq!(RatingSubjectType::parse(k.as_str()), Some(*k));
        }
    }

    #[test]
    fn closed_states_per_subject() {
        let cases: &[(RatingSubjectType, &str, bool)] = &[
            (RatingSubjectType::Case, "COMPLETED", true),
            (RatingSubjectType::Case, "WITHDRAWN", true),
            (RatingSubjectType::Case, "CLOSED", true),
            (RatingSubjectType::Case, "REFUNDING", false),
            (RatingSubjectType::Repair, "COMPLETED", true),
            (RatingSubjectType::Repair, "CONVERTED", true),
            (RatingSubjectType::Repair, "CANCELED", true),
            (RatingSubjectType::Repair, "SHIPPED_BACK", false),
            (RatingSubjectType::Complaint, "CLOSED", true),
            (RatingSubjectType::Complaint, "RESOLVED", false),
        ];
        for (kind, state, closed) in cases {
            assert_eq!(kind.is_closed_state(state), *closed, "{kind:?} {state}");
        }
    }
}
