//! After-sale counters of an order line and their invariant.
//!
//! Invariant: no counter exceeds the ordered quantity, and neither does the number of units that
//! reached an outcome. A unit is replaced, reshipped, or taken back; a unit taken back may be
//! both canceled (before shipment) and refunded (its money returned), so the outcome count is
//! max(refunded, canceled) + replaced + reshipped.
//! Concurrency: phase 2 applies changes on the row locked `FOR UPDATE`, so the check below sees
//! the committed counters; [`LineCounters::available`] gives the headroom for a conditional update.

use aftersales_kernel::DomainError;
use serde::{Deserialize, Serialize};

text_enum!(
    /// One counter of a line.
    CounterKind {
        /// Units reserved by after-sale requests (reserve / release).
        Requested => "requested",
        /// Units received back at the warehouse.
        ReturnedReceived => "returned_received",
        Refunded => "refunded",
        Replaced => "replaced",
        Reshipped => "reshipped",
        /// Units canceled before shipment (refund-only before shipment).
        Canceled => "canceled",
    }
);

impl CounterKind {
    /// The counters moved by `RecordLineProgress` / `ReverseLineProgress`.
    pub const PROGRESS: [CounterKind; 5] = [
        Self::ReturnedReceived,
        Self::Refunded,
        Self::Replaced,
        Self::Reshipped,
        Self::Canceled,
    ];

    /// Counts in the max(refunded, canceled) + replaced + reshipped outcome count.
    pub fn is_outcome(&self) -> bool {
        matches!(
            self,
            Self::Refunded | Self::Replaced | Self::Reshipped | Self::Canceled
        )
    }
}

/// The counters of one line. Change them only through [`LineCounters::apply`] and
/// [`LineCounters::revert`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineCounters {
    pub requested: u32,
    pub returned_received: u32,
    pub refunded: u32,
    pub replaced: u32,
    pub reshipped: u32,
    #[serde(default)]
    pub canceled: u32,
}

impl LineCounters {
    pub fn get(&self, kind: CounterKind) -> u32 {
        match kind {
            CounterKind::Requested => self.requested,
            CounterKind::ReturnedReceived => self.returned_received,
            CounterKind::Refunded => self.refunded,
            CounterKind::Replaced => self.replaced,
            CounterKind::Reshipped => self.reshipped,
            CounterKind::Canceled => self.canceled,
        }
    }

    fn slot(&mut self, kind: CounterKind) -> &mut u32 {
        match kind {
            CounterKind::Requested => &mut self.requested,
            CounterKind::ReturnedReceived => &mut self.returned_received,
            CounterKind::Refunded => &mut self.refunded,
            CounterKind::Replaced => &mut self.replaced,
            CounterKind::Reshipped => &mut self.reshipped,
            CounterKind::Canceled => &mut self.canceled,
        }
    }

    /// Units that reached an outcome: max(refunded, canceled) + replaced + reshipped.
    pub fn outcomes(&self) -> u64 {
        u64::from(self.refunded.max(self.canceled))
            + u64::from(self.replaced)
            + u64::from(self.reshipped)
    }

    /// How many more units `kind` can take on a line of `ordered` units.
    pub fn available(&self, ordered: u32, kind: CounterKind) -> u32 {
        let own = ordered.saturating_sub(self.get(kind));
        if kind.is_outcome() {
            // Refunded and canceled overlap: each only competes with replaced and reshipped.
            let taken = match kind {
                CounterKind::Refunded | CounterKind::Canceled => {
                    u64::from(self.get(kind)) + u64::from(self.replaced) + u64::from(self.reshipped)
                }
                _ => self.outcomes(),
            };
            let left = u64::from(ordered).saturating_sub(taken);
            own.min(u32::try_from(left).unwrap_or(u32::MAX))
        } else {
            own
        }
    }

    /// Checks the invariant against the ordered quantity.
    pub fn check(&self, ordered: u32) -> Result<(), DomainError> {
        for kind in CounterKind::ALL {
            if self.get(*kind) > ordered {
                return Err(DomainError::rule(
                    "counter_exceeds_quantity",
                    format!("{kind} would be {} of {ordered} ordered", self.get(*kind)),
                ));
            }
        }
        if self.outcomes() > u64::from(ordered) {
            return Err(DomainError::rule(
                "line_outcomes_exceed_quantity",
                format!(
                    "max(refunded, canceled) + replaced + reshipped would be {} of {ordered} ordered",
                    self.outcomes()
                ),
            ));
        }
        Ok(())
    }

    /// Adds `qty` units to `kind`; refused when the invariant would break
    /// (`counter_exceeds_quantity`, `line_outcomes_exceed_quantity`). `qty` must be >= 1.
    pub fn apply(
        &self,
        ordered: u32,
        kind: CounterKind,
        qty: u32,
    ) -> Result<LineCounters, DomainError> {
        check_qty(qty)?;
        let mut next = *self;
        let slot = next.slot(kind);
        *slot = slot.checked_add(qty).ok_or_else(|| {
            DomainError::rule("counter_exceeds_quantity", format!("{kind} would overflow"))
        })?;
        next.check(ordered)?;
        Ok(next)
    }

    /// Subtracts `qty` units from `kind` (release or compensation); refused below zero
    /// (`release_exceeds_reserved` for requested, `reversal_exceeds_recorded` otherwise).
    pub fn revert(&self, kind: CounterKind, qty: u32) -> Result<LineCounters, DomainError> {
        check_qty(qty)?;
        let mut next = *self;
        let slot = next.slot(kind);
        *slot = slot.checked_sub(qty).ok_or_else(|| {
            let rule = if kind == CounterKind::Requested {
                "release_exceeds_reserved"
            } else {
                "reversal_exceeds_recorded"
            };
            DomainError::rule(
                rule,
                format!("cannot take {qty} from {kind} {}", self.get(kind)),
            )
        })?;
        Ok(next)
    }
}

fn check_qty(qty: u32) -> Result<(), DomainError> {
    if qty == 0 {
        Err(DomainError::field("quantity", "must be at least 1"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CounterKind as K;

    fn counters(
        requested: u32,
        received: u32,
        refunded: u32,
        replaced: u32,
        reshipped: u32,
    ) -> LineCounters {
        LineCounters {
            requested,
            returned_received: received,
            refunded,
            replaced,
            reshipped,
            canceled: 0,
        }
    }

    fn canceled(c: LineCounters, canceled: u32) -> LineCounters {
        LineCounters { canceled, ..c }
    }

    #[test]
    fn apply_enforces_the_invariant() {
        // (start, ordered, kind, qty, expected rule or None)
        let cases: &[(LineCounters, u32, K, u32, Option<&str>)] = &[
            (counters(0, 0, 0, 0, 0), 3, K::Requested, 3, None),
            (
                counters(0, 0, 0, 0, 0),
                3,
                K::Requested,
                4,
                Some("counter_exceeds_quantity"),
            ),
            (counters(2, 0, 0, 0, 0), 3, K::Requested, 1, None),
            (
                counters(3, 0, 0, 0, 0),
                3,
                K::Requested,
                1,
                Some("counter_exceeds_quantity"),
            ),
            (counters(0, 2, 0, 0, 0), 3, K::ReturnedReceived, 1, None),
            (
                counters(0, 3, 0, 0, 0),
                3,
                K::ReturnedReceived,
                1,
                Some("counter_exceeds_quantity"),
            ),
            (counters(0, 3, 0, 0, 0), 3, K::Refunded, 3, None),
            (
                counters(0, 0, 3, 0, 0),
                3,
                K::Refunded,
                1,
                Some("counter_exceeds_quantity"),
            ),
            (counters(0, 0, 1, 1, 0), 3, K::Reshipped, 1, None),
            (
                counters(0, 0, 1, 1, 1),
                3,
                K::Refunded,
                1,
                Some("line_outcomes_exceed_quantity"),
            ),
            (
                counters(0, 0, 2, 0, 0),
                3,
                K::Replaced,
                2,
                Some("line_outcomes_exceed_quantity"),
            ),
            (
                counters(0, 0, 0, 2, 0),
                3,
                K::Reshipped,
                2,
                Some("line_outcomes_exceed_quantity"),
            ),
            (counters(0, 0, 0, 0, 2), 3, K::Replaced, 1, None),
            (
                counters(3, 3, 1, 1, 1),
                3,
                K::Requested,
                1,
                Some("counter_exceeds_quantity"),
            ),
            (counters(0, 0, 0, 0, 0), 1, K::Reshipped, 1, None),
            (
                counters(0, 0, 0, 0, u32::MAX),
                u32::MAX,
                K::Reshipped,
                1,
                Some("counter_exceeds_quantity"),
            ),
            // canceled units count with the other outcomes, and may also be refunded
            (counters(0, 0, 0, 0, 0), 3, K::Canceled, 3, None),
            (
                counters(0, 0, 0, 0, 0),
                3,
                K::Canceled,
                4,
                Some("counter_exceeds_quantity"),
            ),
            (
                canceled(counters(0, 0, 1, 0, 0), 1),
                3,
                K::Canceled,
                1,
                None,
            ),
            (
                canceled(counters(0, 0, 1, 0, 0), 2),
                3,
                K::Refunded,
                1,
                None,
            ),
            (
                canceled(counters(0, 0, 1, 0, 0), 2),
                3,
                K::Refunded,
                3,
                Some("counter_exceeds_quantity"),
            ),
            (
                canceled(counters(0, 0, 1, 1, 0), 2),
                3,
                K::Refunded,
                2,
                Some("line_outcomes_exceed_quantity"),
            ),
            (
                canceled(counters(0, 0, 0, 1, 1), 0),
                3,
                K::Canceled,
                2,
                Some("line_outcomes_exceed_quantity"),
            ),
            (
                canceled(counters(0, 0, 0, 0, 0), 3),
                3,
                K::Reshipped,
                1,
                Some("line_outcomes_exceed_quantity"),
            ),
            (
                canceled(counters(3, 3, 0, 0, 0), 2),
                3,
                K::Canceled,
                1,
                None,
            ),
        ];
        for (start, ordered, kind, qty, want) in cases {
            let got = start.apply(*ordered, *kind, *qty);
            match (got, want) {
                (Ok(next), None) => {
                    assert_eq!(next.get(*kind), start.get(*kind) + qty);
                    assert_eq!(next.check(*ordered), Ok(()));
                }
                (Err(e), Some(rule)) => {
                    assert_eq!(e.rule_name(), Some(*rule), "{start:?} {kind} {qty}")
                }
                (got, want) => panic!("{start:?} {kind} {qty}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn zero_quantity_is_bad_input() {
        let c = LineCounters::default();
        for kind in K::ALL {
            assert!(matches!(c.apply(1, *kind, 0), Err(DomainError::Invalid(_))));
            assert!(matches!(c.revert(*kind, 0), Err(DomainError::Invalid(_))));
        }
    }

    #[test]
    fn revert_never_goes_below_zero() {
        let cases: &[(LineCounters, K, u32, Option<&str>)] = &[
            (counters(2, 0, 0, 0, 0), K::Requested, 2, None),
            (
                counters(2, 0, 0, 0, 0),
                K::Requested,
                3,
                Some("release_exceeds_reserved"),
            ),
            (
                counters(0, 0, 0, 0, 0),
                K::Requested,
                1,
                Some("release_exceeds_reserved"),
            ),
            (counters(0, 1, 0, 0, 0), K::ReturnedReceived, 1, None),
            (
                counters(0, 0, 1, 0, 0),
                K::Refunded,
                2,
                Some("reversal_exceeds_recorded"),
            ),
            (counters(0, 0, 0, 1, 0), K::Replaced, 1, None),
            (
                counters(0, 0, 0, 0, 0),
                K::Reshipped,
                1,
                Some("reversal_exceeds_recorded"),
            ),
            (canceled(counters(0, 0, 0, 0, 0), 2), K::Canceled, 2, None),
            (
                canceled(counters(0, 0, 0, 0, 0), 1),
                K::Canceled,
                2,
                Some("reversal_exceeds_recorded"),
            ),
        ];
        for (start, kind, qty, want) in cases {
            match (start.revert(*kind, *qty), want) {
                (Ok(next), None) => assert_eq!(next.get(*kind), start.get(*kind) - qty),
                (Err(e), Some(rule)) => assert_eq!(e.rule_name(), Some(*rule)),
                (got, want) => panic!("{start:?} {kind}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn available_matches_apply() {
        let starts = [
            counters(0, 0, 0, 0, 0),
            counters(2, 1, 1, 1, 0),
            counters(5, 5, 0, 0, 5),
            counters(1, 0, 2, 2, 1),
            canceled(counters(0, 0, 1, 0, 1), 2),
        ];
        for start in starts {
            for kind in K::ALL {
                let room = start.available(5, *kind);
                if room > 0 {
                    assert!(
                        start.apply(5, *kind, room).is_ok(),
                        "{start:?} {kind} {room}"
                    );
                }
                assert!(
                    start.apply(5, *kind, room + 1).is_err(),
                    "{start:?} {kind} {room}"
                );
            }
        }
    }

    #[test]
    fn kinds() {
        for k in K::ALL {
            assert_eq!(K::parse(k.as_str()), Some(*k));
        }
        assert!(!K::PROGRESS.contains(&K::Requested));
        assert_eq!(K::ALL.iter().filter(|k| k.is_outcome()).count(), 4);
        assert!(!K::ReturnedReceived.is_outcome());
        assert!(K::Canceled.is_outcome());
        assert_eq!(K::PROGRESS.len(), K::ALL.len() - 1);
        assert_eq!(canceled(counters(0, 0, 1, 2, 3), 4).outcomes(), 9);
        assert_eq!(canceled(counters(0, 0, 5, 2, 3), 4).outcomes(), 10);
    }
}
