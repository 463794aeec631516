//! Operator-configurable values. DOMAIN.md marks the sandbox provider's latency and failure
//! rates as configurable; the other values are this service's operating defaults.

use aftersales_kernel::FieldViolation;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// Payments policy, loaded by phase 2 from the `payments` config section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// A refund or cash compensation still PENDING this many seconds after it was sent to the
    /// provider is moved to MANUAL_REVIEW by the sweeper (the provider timed out).
    pub pending_review_after_secs: i64,
    /// Whether a refund may fall back to store credit when the original method cannot take it
    /// or an earlier refund to it failed. Off: only a staff override with a reason can.
    pub store_credit_fallback: bool,
    /// The built-in sandbox provider.
    pub sandbox: SandboxSettings,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            pending_review_after_secs: 15 * 60,
            store_credit_fallback: true,
            sandbox: SandboxSettings::default(),
        }
    }
}

impl Policy {
    pub fn pending_review_after(&self) -> Duration {
        Duration::seconds(self.pending_review_after_secs)
    }

    /// Checks the values, naming the config key of the first bad one.
    pub fn validate(&self) -> Result<(), FieldViolation> {
        if self.pending_review_after_secs <= 0 {
            return Err(FieldViolation::new(
                "payments.pending_review_after_secs",
                "must be greater than zero",
            ));
        }
        self.sandbox.validate()
    }
}

/// Sandbox payment provider: latency and failure, timeout and late-confirmation rates *(config)*.
/// Rates are probabilities in `0.0..=1.0` whose sum is at most 1; the rest succeeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SandboxSettings {
    /// Simulated latency of each provider call, in milliseconds.
    pub latency_ms: u64,
    /// Share of calls the provider refuses (`ProviderOutcome::Failed`).
    pub failure_rate: f64,
    /// Share of calls that never answer in time (`ProviderOutcome::Timeout`).
    pub timeout_rate: f64,
    /// Share of calls answered `Pending` first and confirmed later through a callback.
    pub late_confirmation_rate: f64,
    /// Delay before a late confirmation arrives, in milliseconds.
    pub late_confirmation_delay_ms: u64,
    /// How long the adapter waits for an answer before reporting a timeout, in milliseconds.
    pub timeout_ms: u64,
}

impl Default for SandboxSettings {
    fn default() -> Self {
        Self {
            latency_ms: 50,
            failure_rate: 0.0,
            timeout_rate: 0.0,
            late_confirmation_rate: 0.0,
            late_confirmation_delay_ms: 2_000,
            timeout_ms: 5_000,
        }
    }
}

/// What the sandbox does with one call, decided from a uniform random draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxDecision {
    Succeed,
    Fail,
    Timeout,
    /// Answer `Pending` now and confirm success after `late_confirmation_delay_ms`.
    ConfirmLate,
}

impl SandboxSettings {
    pub fn validate(&self) -> Result<(), FieldViolation> {
        let rates = [
            ("payments.sandbox.failure_rate", self.failure_rate),
            ("payments.sandbox.timeout_rate", self.timeout_rate),
            (
                "payments.sandbox.late_confirmation_rate",
                self.late_confirmation_rate,
            ),
        ];
        for (key, rate) in rates {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FieldViolation::new(key, "must be between 0 and 1"));
            }
        }
        if self.failure_rate + self.timeout_rate + self.late_confirmation_rate > 1.0 + f64::EPSILON
        {
            return Err(FieldViolation::new(
                "payments.sandbox",
                "failure, timeout and late confirmation rates must sum to at most 1",
            ));
        }
        if self.timeout_ms == 0 {
            return Err(FieldViolation::new(
                "payments.sandbox.timeout_ms",
                "must be greater than zero",
            ));
        }
        Ok(())
    }

    /// Maps a uniform draw in `0.0..1.0` to a decision: `[0, fail)` fails, then timeouts, then
    /// late confirmations, the rest succeeds. Pure, so phase 2 only supplies the randomness.
    pub fn decide(&self, roll: f64) -> SandboxDecision {
        let fail = self.failure_rate;
        let timeout = fail + self.timeout_rate;
        let late = timeout + self.late_confirmation_rate;
        if roll < fail {
            SandboxDecision::Fail
        } else if roll < timeout {
            SandboxDecision::Timeout
        } else if roll < late {
            SandboxDecision::ConfirmLate
        } else {
            SandboxDecision::Succeed
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let p = Policy::default();
        assert!(p.validate().is_ok());
        assert_eq!(p.pending_review_after(), Duration::minutes(15));
        assert!(p.store_credit_fallback);
    }

    #[test]
    fn validation_names_the_key() {
        let s = |f: fn(&mut SandboxSettings)| {
            let mut p = Policy::default();
            f(&mut p.sandbox);
            p.validate().err().map(|v| v.field)
        };
        assert_eq!(
            s(|x| x.failure_rate = -0.1).as_deref(),
            Some("payments.sandbox.failure_rate")
        );
        assert_eq!(
            s(|x| x.timeout_rate = 1.1).as_deref(),
            Some("payments.sandbox.timeout_rate")
        );
        assert_eq!(
            s(|x| x.late_confirmation_rate = f64::NAN).as_deref(),
            Some("payments.sandbox.late_confirmation_rate")
        );
        assert_eq!(
            s(|x| {
                x.failure_rate = 0.6;
                x.timeout_rate = 0.5;
            })
            .as_deref(),
            Some("payments.sandbox")
        );
        assert_eq!(
            s(|x| {
                x.failure_rate = 0.5;
                x.timeout_rate = 0.5;
            }),
            None
        );
        assert_eq!(
            s(|x| x.timeout_ms = 0).as_deref(),
            Some("payments.sandbox.timeout_ms")
        );
        let p = Policy {
            pending_review_after_secs: 0,
            ..Policy::default()
        };
        assert_eq!(
            p.validate().unwrap_err().field,
            "payments.pending_review_after_secs"
        );
    }

    #[test]
    fn decide_partitions_the_draw() {
        let s = SandboxSettings {
            failure_rate: 0.25,
            timeout_rate: 0.25,
            late_confirmation_rate: 0.25,
            ..SandboxSettings::default()
        };
        let cases = [
            (0.0, SandboxDecision::Fail),
            (0.2499, SandboxDecision::Fail),
            (0.25, SandboxDecision::Timeout),
            (0.4999, SandboxDecision::Timeout),
            (0.5, SandboxDecision::ConfirmLate),
            (0.7499, SandboxDecision::ConfirmLate),
            (0.75, SandboxDecision::Succeed),
            (0.9999, SandboxDecision::Succeed),
        ];
        for (roll, want) in cases {
            assert_eq!(s.decide(roll), want, "{roll}");
        }
        let d = SandboxSettings::default();
        assert_eq!(d.decide(0.0), SandboxDecision::Succeed);
    }
}
