//! The payment provider adapter's contract, as plain data: what we ask and what it answers.
//! Phase 2 implements the adapter (the sandbox and real providers); the domain decides what each
//! answer does to a refund, charge or cash compensation.

use crate::domain::validate;
use crate::domain::{MerchantId, PaymentMethod};
use aftersales_kernel::{DomainError, Money, limits};
use sha2::{Digest, Sha256};

/// The idempotency scopes of the RPCs that move money through the provider. The API names its
/// idempotency records with them and [`provider_key`] derives the provider's key from them, so
/// both always speak of the same client request.
pub mod scopes {
    use crate::domain::MerchantId;

    /// `CreateCharge`: client keys are unique service-wide.
    pub const CREATE_CHARGE: &str = "payments.CreateCharge";
    /// `IssueCompensation`: client keys are unique service-wide.
    pub const ISSUE_COMPENSATION: &str = "payments.IssueCompensation";

    /// `CreateRefund`: client keys are unique per merchant.
    pub fn create_refund(merchant: MerchantId) -> String {
        format!("payments.CreateRefund:{merchant}")
    }
}

/// The idempotency key we give the provider for one client request: derived from the request's
/// idempotency scope and the client's own idempotency key, never from an id generated per
/// attempt. If the provider moved money but our commit was lost, the client's retry presents
/// the same key again and the provider answers with the first result instead of moving money a
/// second time.
///
/// The key is a UUID (version 8) made of the first 16 bytes of
/// `sha256(len(scope) as u64 BE ‖ scope ‖ client_key)`: fixed length and ASCII whatever the
/// client sent (client keys are up to 128 arbitrary characters; providers cap theirs), and the
/// length prefix keeps `("ab", "c")` apart from `("a", "bc")`.
pub fn provider_key(scope: &str, client_key: &str) -> String {
    let mut hash = Sha256::new();
    hash.update((scope.len() as u64).to_be_bytes());
    hash.update(scope.as_bytes());
    hash.update(client_key.as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// [`provider_key`] of a `CreateRefund` request of `merchant`.
pub fn refund_provider_key(merchant: MerchantId, client_key: &str) -> String {
    provider_key(&scopes::create_refund(merchant), client_key)
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

/// One call to the provider adapter. `idempotency_key` is derived from the client's request
/// ([`provider_key`]; a void uses the charge id), so a retried call never moves money twice at
/// the provider.
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
    use super::*;
    use uuid::Uuid;

    const M1: MerchantId = MerchantId(Uuid::from_u128(1));
    const M2: MerchantId = MerchantId(Uuid::from_u128(2));

    #[test]
    fn provider_keys_are_stable_per_client_request() {
        // A retry (same scope, same client key) presents the same key, whatever entity id the
        // attempt generated.
        assert_eq!(refund_provider_key(M1, "k1"), refund_provider_key(M1, "k1"));
        assert_eq!(
            refund_provider_key(M1, "k1"),
            provider_key(
                "payments.CreateRefund:00000000-0000-0000-0000-000000000001",
                "k1"
            )
        );
        // Pinned (checked against an independent sha256): the key must not change across
        // releases, or a retry that reaches a new build would move money again.
        assert_eq!(
            provider_key(scopes::CREATE_CHARGE, "charge-1"),
            "df8e0bf4-e386-8bdc-8ee9-c2b73045b28b"
        );
    }

    #[test]
    fn provider_keys_differ_per_scope_and_client_key() {
        let keys = [
            refund_provider_key(M1, "k1"),
            refund_provider_key(M2, "k1"),
            refund_provider_key(M1, "k2"),
            provider_key(scopes::CREATE_CHARGE, "k1"),
            provider_key(scopes::ISSUE_COMPENSATION, "k1"),
            // The scope is length-prefixed: moving the boundary is another request.
            provider_key("ab", "c"),
            provider_key("a", "bc"),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn provider_keys_are_short_ascii_uuids() {
        let long = "密".repeat(limits::IDEMPOTENCY_KEY);
        let key = provider_key(&scopes::create_refund(M1), &long);
        assert_eq!(key.len(), 36);
        let parsed = Uuid::parse_str(&key).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
    }
}
