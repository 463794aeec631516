//! The payment provider adapter's contract, as plain data: what we ask and what it answers.
//! Phase 2 implements the adapter (the sandbox and real providers); the domain decides what each
//! answer does to a refund, charge or cash compensation.

use crate::domain::PaymentMethod;
use crate::domain::validate;
use aftersales_kernel::{DomainError, Money, limits};

/// The idempotency key we give the provider for one client request: derived from the client's
/// own idempotency key (and its scope), never from an id generated per attempt. If the provider
/// moved money but our commit was lost, the client's retry presents the same key again and the
/// provider answers with the first result instead of moving money a second time.
pub fn provider_key(operation: &str, scope: &str, client_key: &str) -> String {
    format!("{operation}:{scope}:{client_key}")
}

/// What the provider answered (or failed to answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderOutcome {
    /// Money moved; `reference` is the provider's id of the operation.
    Succeeded { reference: String },
    /// The provider refused; no money moved.
    Failed { reason: String },
    /// Accepted but not final: the answer will come later as a callback.
    Pending,
    /// No answer within the adapter's timeout; the result is unknown.
    Timeout,
}

impl ProviderOutcome {
    /// Validates a provider callback or a manual resolution: `Succeeded` needs a reference,
    /// `Failed` a reason (fields named `provider_reference` and `failure_reason`).
    pub fn confirmation(
        succeeded: bool,
        provider_reference: &str,
        failure_reason: &str,
    ) -> Result<Self, DomainError> {
        if succeeded {
            let reference = validate::required_text(
                "provider_reference",
                provider_reference,
                limits::SHORT_TEXT,
            )?;
            Ok(Self::Succeeded { reference })
        } else {
            let reason = validate::reason("failure_reason", failure_reason)?;
            Ok(Self::Failed { reason })
        }
    }

    /// True for `Succeeded` and `Failed`.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Succeeded { .. } | Self::Failed { .. })
    }
}

/// Which provider operation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderOperation {
    /// Refund (part of) a captured payment to its original method.
    Refund,
    /// Charge the buyer (repair quote).
    Charge,
    /// Release an authorization or refund a captured charge.
    VoidCharge,
    /// Pay cash to the buyer (compensation).
    Payout,
}

/// One call to the provider adapter. `idempotency_key` is the id of our entity, so a retried
/// call never moves money twice at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderRequest {
    pub operation: ProviderOperation,
    pub idempotency_key: String,
    pub amount: Money,
    pub method: PaymentMethod,
    /// Provider reference of the original payment or charge (refunds and voids).
    pub original_reference: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_requires_reference_or_reason() {
        let cases: &[(bool, &str, &str, Result<ProviderOutcome, &str>)] = &[
            (
                true,
                "ref-1",
                "",
                Ok(ProviderOutcome::Succeeded {
                    reference: "ref-1".into(),
                }),
            ),
            (true, "", "x", Err("provider_reference")),
            (
                false,
                "",
                "card closed",
                Ok(ProviderOutcome::Failed {
                    reason: "card closed".into(),
                }),
            ),
            (false, "ref", "", Err("failure_reason")),
        ];
        for (ok, r, f, want) in cases {
            let got = ProviderOutcome::confirmation(*ok, r, f).map_err(|e| match e {
                DomainError::Invalid(v) => v[0].field.clone(),
                other => other.to_string(),
            });
            assert_eq!(got, want.clone().map_err(str::to_owned));
        }
        assert!(ProviderOutcome::Failed { reason: "x".into() }.is_final());
        assert!(!ProviderOutcome::Pending.is_final());
        assert!(!ProviderOutcome::Timeout.is_final());
    }
}

#[cfg(test)]
mod key_tests {
    use super::provider_key;

    #[test]
    fn provider_keys_are_stable_per_client_request() {
        assert_eq!(
            provider_key("refund", "m1", "k1"),
            provider_key("refund", "m1", "k1")
        );
        assert_ne!(
            provider_key("refund", "m1", "k1"),
            provider_key("refund", "m2", "k1")
        );
        assert_ne!(
            provider_key("refund", "m1", "k1"),
            provider_key("charge", "m1", "k1")
        );
    }
}
