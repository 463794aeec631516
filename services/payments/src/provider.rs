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
    time::Duration,
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

/// The sandbox provider. Like a real provider it is idempotent: a repeated key gets the first
/// final answer back (kept in memory for the life of the process).
#[derive(Debug, Clone)]
pub struct Sandbox {
    settings: SandboxSettings,
    answered: Arc<Mutex<HashMap<String, ProviderOutcome>>>,
}

impl Sandbox {
    pub fn new(settings: SandboxSettings) -> Self {
        Self {
            settings,
            answered: Arc::default(),
        }
    }

    fn remembered(&self, key: &str) -> Option<ProviderOutcome> {
        self.answered.lock().ok()?.get(key).cloned()
    }

    fn remember(&self, key: &str, outcome: &ProviderOutcome) {
        if matches!(
            outcome,
            ProviderOutcome::Succeeded { .. } | ProviderOutcome::Failed { .. }
        ) && let Ok(mut map) = self.answered.lock()
        {
            map.entry(key.to_owned()).or_insert_with(|| outcome.clone());
        }
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
        if let Some(first) = self.remembered(&key) {
            tracing::debug!(key = %request.idempotency_key, "sandbox provider replay");
            return first;
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
        self.remember(&key, &outcome);
        outcome
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
