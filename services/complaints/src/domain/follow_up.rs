//! Follow-up visits (回访) after a complaint was resolved, with the outcome recorded.

use aftersales_kernel::{DomainError, limits};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::validate;
use crate::domain::{Actor, Complaint, ComplaintId, ComplaintStatus, Event, FollowUpId};

text_enum!(
    /// How the visit reached the customer.
    FollowUpMethod {
        Phone => "PHONE",
        Sms => "SMS",
        Email => "EMAIL",
        InApp => "IN_APP",
    }
);

text_enum!(
    /// What the customer said.
    FollowUpOutcome {
        Satisfied => "SATISFIED",
        Neutral => "NEUTRAL",
        Dissatisfied => "DISSATISFIED",
        Unreachable => "UNREACHABLE",
    }
);

/// One follow-up visit of a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUp {
    pub id: FollowUpId,
    pub complaint_id: ComplaintId,
    pub method: FollowUpMethod,
    pub outcome: FollowUpOutcome,
    pub note: Option<String>,
    pub actor: Actor,
    pub visited_at: DateTime<Utc>,
}

impl FollowUp {
    /// Records a visit (staff or system) of a RESOLVED or CLOSED complaint
    /// (`complaint_not_resolved` otherwise). `note` is field `note`, optional.
    pub fn record(
        complaint: &Complaint,
        actor: &Actor,
        method: FollowUpMethod,
        outcome: FollowUpOutcome,
        note: &str,
        now: DateTime<Utc>,
    ) -> Result<(Self, Event), DomainError> {
        actor.ensure_internal("record a follow-up visit")?;
        let note = validate::optional_text("note", note, limits::LONG_TEXT)?;
        if !matches!(
            complaint.status,
            ComplaintStatus::Resolved | ComplaintStatus::Closed
        ) {
            return Err(DomainError::rule(
                "complaint_not_resolved",
                format!(
                    "complaint is {} and has no resolution to follow up",
                    complaint.status.as_str().to_lowercase()
                ),
            ));
        }
        let visit = Self {
            id: FollowUpId::generate(now),
            complaint_id: complaint.id,
            method,
            outcome,
            note,
            actor: actor.clone(),
            visited_at: now,
        };
        Ok((visit, Event::FollowUpRecorded))
    }

    /// A dissatisfied customer is a reason to reopen the complaint.
    pub fn suggests_reopen(&self) -> bool {
        self.outcome == FollowUpOutcome::Dissatisfied
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::*;

    #[test]
    fn enums_round_trip() {
        for m in FollowUpMethod::ALL {
            assert_eq!(FollowUpMethod::parse(m.as_str()), Some(*m));
        }
        for o in FollowUpOutcome::ALL {
            assert_eq!(FollowUpOutcome::parse(o.as_str()), Some(*o));
        }
    }

    #[test]
    fn only_after_resolution() {
        for status in ComplaintStatus::ALL {
            let mut c = new_complaint();
            c.status = *status;
            let got = FollowUp::record(
                &c,
                &Actor::staff("cs"),
                FollowUpMethod::Phone,
                FollowUpOutcome::Satisfied,
                "",
                t0(),
            );
            let ok = matches!(status, ComplaintStatus::Resolved | ComplaintStatus::Closed);
            assert_eq!(got.is_ok(), ok, "{status:?}");
            match got {
                Ok((f, e)) => {
                    assert_eq!(e, Event::FollowUpRecorded);
                    assert_eq!((f.complaint_id, f.note, f.visited_at), (c.id, None, t0()));
                }
                Err(e) => assert_eq!(e.rule_name(), Some("complaint_not_resolved")),
            }
        }
    }

    #[test]
    fn note_actor_and_outcome() {
        let mut c = new_complaint();
        c.status = ComplaintStatus::Closed;
        let long = "n".repeat(limits::LONG_TEXT + 1);
        match FollowUp::record(
            &c,
            &Actor::staff("cs"),
            FollowUpMethod::Sms,
            FollowUpOutcome::Neutral,
            &long,
            t0(),
        ) {
            Err(DomainError::Invalid(v)) => assert_eq!(v[0].field, "note"),
            other => panic!("{other:?}"),
        }
        let buyer = Actor::buyer(c.customer_id);
        let got = FollowUp::record(
            &c,
            &buyer,
            FollowUpMethod::Sms,
            FollowUpOutcome::Neutral,
            "",
            t0(),
        );
        assert_eq!(got.unwrap_err().rule_name(), Some("actor_not_allowed"));
        let (f, _) = FollowUp::record(
            &c,
            &Actor::staff("cs"),
            FollowUpMethod::Phone,
            FollowUpOutcome::Dissatisfied,
            " meh ",
            t0(),
        )
        .unwrap();
        assert_eq!(f.note.as_deref(), Some("meh"));
        assert!(f.suggests_reopen());
    }
}
