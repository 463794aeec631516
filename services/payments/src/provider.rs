//! The payment provider adapter: the API calls it with a [`ProviderRequest`] (whose idempotency
//! key is derived from the client's idempotency key, so a retried request never moves money
//! twice, even when our commit after the provider call was lost) and records the
//! [`ProviderOutcome`]. The built-in [`Sandbox`] simulates latency, refusals, timeouts and late
//! confirmations with the configured rates.

use crate::domain::{
    ProviderOperation, ProviderOutcome, ProviderRequest, SandboxDecision, SandboxSettings,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// A payment provider.
#[async_trait::async_trait]
pub trait PaymentProvider: Send + Sync + 'static {
    /// Runs one operation; never fails, every problem is an outcome.
    async fn execute(&self, request: &ProviderRequest) -> ProviderOutcome;

    /// How long a late confirmation takes to arrive when [`execute`](Self::execute) answered
    /// `Pending` and the provider will call back by itself (the sandbox does); `None` when the
    /// callback arrives through the `Confirm*` RPCs only.
    fn late_confirmation_delay(&self) -> Option<Duration> {
        None
    }
}

/// Calls `provider` bounded by `timeout`: no answer in time is [`ProviderOutcome::Timeout`].
pub async fn call(
    provider: &dyn PaymentProvider,
    request: &ProviderRequest,
    timeout: Duration,
) -> ProviderOutcome {
    match tokio::time::timeout(timeout, provider.execute(request)).await {
        Ok(outcome) => outcome,
        Err(_) => {
            tracing::warn!(key = %request.idempotency_key, "payment provider timed out");
            ProviderOutcome::Timeout
        }
    }
}

/// The sandbox provider. Like a real provider it is idempotent per key (kept in memory for the
/// life of the process): a repeated key gets the first final answer back, and a key first
/// answered `Pending` stays pending until its late confirmation is due, then answers
/// `Succeeded` (the sandbox's late confirmations always succeed). A `Timeout` simulates a call
/// that never reached the provider, so nothing is remembered for it.
#[derive(Debug, Clone)]
pub struct Sandbox {
    settings: SandboxSettings,
    answered: Arc<Mutex<HashMap<String, Answer>>>,
}

/// What the sandbox remembers per key.
#[derive(Debug, Clone)]
enum Answer {
    Final(ProviderOutcome),
    /// Accepted at this instant; succeeds once the late confirmation delay has passed.
    Pending(Instant),
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Self {
        Self {
            settings,
            answered: Arc::default(),
        }
    }

    /// Answers one call: replays what `key` got before, or draws a new outcome and remembers
    /// it. One lock around both, so concurrent calls with the same key get the same answer.
    fn answer(&self, key: String, request: &ProviderRequest) -> ProviderOutcome {
        let mut answered = self
            .answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let late_after = Duration::from_millis(self.settings.late_confirmation_delay_ms);
        match answered.get(&key) {
            Some(Answer::Final(first)) => {
                tracing::debug!(key = %request.idempotency_key, "sandbox provider replay");
                return first.clone();
            }
            Some(Answer::Pending(since)) if now.duration_since(*since) < late_after => {
                tracing::debug!(key = %request.idempotency_key, "sandbox provider still pending");
                return ProviderOutcome::Pending;
            }
            Some(Answer::Pending(_)) => {
                let done = ProviderOutcome::Succeeded {
                    reference: sandbox_reference(request),
                };
                answered.insert(key, Answer::Final(done.clone()));
                return done;
            }
            None => {}
        }
        let roll: f64 = rand::random();
        let decision = self.settings.decide(roll);
        tracing::debug!(key = %request.idempotency_key, ?decision, "sandbox provider call");
        let outcome = match decision {
            SandboxDecision::Succeed => ProviderOutcome::Succeeded {
                reference: sandbox_reference(request),
            },
            SandboxDecision::Fail => ProviderOutcome::Failed {
                reason: "sandbox provider declined the operation".into(),
            },
            SandboxDecision::Timeout => ProviderOutcome::Timeout,
            SandboxDecision::ConfirmLate => ProviderOutcome::Pending,
        };
        match &outcome {
            ProviderOutcome::Succeeded { .. } | ProviderOutcome::Failed { .. } => {
                answered.insert(key, Answer::Final(outcome.clone()));
            }
            ProviderOutcome::Pending => {
                answered.insert(key, Answer::Pending(now));
            }
            ProviderOutcome::Timeout => {}
        }
        outcome
    }
}

fn operation_name(op: ProviderOperation) -> &'static str {
    match op {
        ProviderOperation::Refund => "refund",
        ProviderOperation::Charge => "charge",
        ProviderOperation::VoidCharge => "void",
        ProviderOperation::Payout => "payout",
    }
}

/// The reference the sandbox gives an operation: stable per idempotency key, like a real
/// provider's answer to a retried call.
pub fn sandbox_reference(request: &ProviderRequest) -> String {
    format!(
        "sandbox-{}-{}",
        operation_name(request.operation),
        request.idempotency_key
    )
}

#[async_trait::async_trait]
impl PaymentProvider for Sandbox {
    async fn execute(&self, request: &ProviderRequest) -> ProviderOutcome {
        if self.settings.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(self.settings.latency_ms)).await;
        }
        let key = format!(
            "{}:{}",
            operation_name(request.operation),
            request.idempotency_key
        );
        self.answer(key, request)
    }

    fn late_confirmation_delay(&self) -> Option<Duration> {
        Some(Duration::from_millis(
            self.settings.late_confirmation_delay_ms,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PaymentMethod;
    use aftersales_kernel::Money;

    fn request() -> ProviderRequest {
        ProviderRequest {
            operation: ProviderOperation::Refund,
            idempotency_key: "r-1".into(),
            amount: Money::parse(100, "CNY").unwrap(),
            method: PaymentMethod::Card,
            original_reference: None,
        }
    }

    fn sandbox(f: f64, t: f64, l: f64) -> Sandbox {
        Sandbox::new(SandboxSettings {
            latency_ms: 0,
            failure_rate: f,
            timeout_rate: t,
            late_confirmation_rate: l,
            ..SandboxSettings::default()
        })
    }

    #[tokio::test]
    async fn sandbox_follows_its_rates() {
        let cases = [
            (sandbox(0.0, 0.0, 0.0), "succeeded"),
            (sandbox(1.0, 0.0, 0.0), "failed"),
            (sandbox(0.0, 1.0, 0.0), "timeout"),
            (sandbox(0.0, 0.0, 1.0), "pending"),
        ];
        for (s, want) in cases {
            let got = match s.execute(&request()).await {
                ProviderOutcome::Succeeded { reference } => {
                    assert_eq!(reference, "sandbox-refund-r-1");
                    "succeeded"
                }
                ProviderOutcome::Failed { .. } => "failed",
                ProviderOutcome::Timeout => "timeout",
                ProviderOutcome::Pending => "pending",
            };
            assert_eq!(got, want);
        }
    }

    #[tokio::test]
    async fn a_repeated_key_gets_the_first_final_answer() {
        let s = sandbox(0.5, 0.0, 0.0);
        let first = s.execute(&request()).await;
        for _ in 0..20 {
            assert_eq!(s.execute(&request()).await, first, "same key, same answer");
        }
        let mut other = request();
        other.operation = ProviderOperation::Charge;
        let _ = s.execute(&other).await; // a different operation is its own call
    }

    /// The same sandbox memory under other rates: a retry that would draw differently.
    fn sharing(first: &Sandbox, f: f64, t: f64, l: f64, late_ms: u64) -> Sandbox {
        let mut s = sandbox(f, t, l);
        s.settings.late_confirmation_delay_ms = late_ms;
        s.answered = first.answered.clone();
        s
    }

    #[tokio::test]
    async fn a_retry_after_a_lost_commit_gets_the_first_outcome() {
        // Money moved, our commit was lost, the client retried: the provider must not move it
        // again, even if this call would have drawn otherwise.
        let first = sandbox(0.0, 0.0, 0.0);
        let ok = first.execute(&request()).await;
        assert_eq!(
            ok,
            ProviderOutcome::Succeeded {
                reference: "sandbox-refund-r-1".into()
            }
        );
        assert_eq!(
            sharing(&first, 1.0, 0.0, 0.0, 0).execute(&request()).await,
            ok
        );
        assert_eq!(
            sharing(&first, 0.0, 0.0, 1.0, 0).execute(&request()).await,
            ok
        );
        // A refusal is final too.
        let refused = sandbox(1.0, 0.0, 0.0);
        let no = refused.execute(&request()).await;
        assert!(matches!(no, ProviderOutcome::Failed { .. }));
        assert_eq!(
            sharing(&refused, 0.0, 0.0, 0.0, 0)
                .execute(&request())
                .await,
            no
        );
        // Another key is another operation.
        let mut other = request();
        other.idempotency_key = "r-2".into();
        assert!(matches!(
            sharing(&refused, 0.0, 0.0, 0.0, 0).execute(&other).await,
            ProviderOutcome::Succeeded { .. }
        ));
    }

    #[tokio::test]
    async fn a_pending_key_stays_pending_until_its_late_confirmation() {
        let slow = sandbox(0.0, 0.0, 1.0);
        assert_eq!(slow.execute(&request()).await, ProviderOutcome::Pending);
        // Not due yet (default delay 2 s): still pending, even where a new draw would succeed.
        let retry = sharing(&slow, 0.0, 0.0, 0.0, 60_000);
        assert_eq!(retry.execute(&request()).await, ProviderOutcome::Pending);
        // Due: it succeeded, and stays succeeded.
        let due = sharing(&slow, 1.0, 0.0, 0.0, 0);
        let done = ProviderOutcome::Succeeded {
            reference: "sandbox-refund-r-1".into(),
        };
        assert_eq!(due.execute(&request()).await, done);
        assert_eq!(retry.execute(&request()).await, done);
    }

    #[tokio::test]
    async fn a_timeout_is_not_remembered() {
        let lost = sandbox(0.0, 1.0, 0.0);
        assert_eq!(lost.execute(&request()).await, ProviderOutcome::Timeout);
        assert!(matches!(
            sharing(&lost, 0.0, 0.0, 0.0, 0).execute(&request()).await,
            ProviderOutcome::Succeeded { .. }
        ));
    }

    #[tokio::test]
    async fn slow_provider_times_out() {
        let s = Sandbox::new(SandboxSettings {
            latency_ms: 200,
            ..SandboxSettings::default()
        });
        let got = call(&s, &request(), Duration::from_millis(20)).await;
        assert_eq!(got, ProviderOutcome::Timeout);
    }
}
