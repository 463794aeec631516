//! Complaints' own metric, next to the platform's on `/metrics`: SLA breaches escalated.

use aftersales_platform::metrics::register;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use std::sync::LazyLock;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BreachLabels {
    /// `first_response` or `work_order`.
    pub kind: &'static str,
}

static SLA_BREACHES: LazyLock<Family<BreachLabels, Counter>> = LazyLock::new(|| {
    let family = Family::default();
    register(
        "sla_breaches",
        "SLA breaches escalated: complaints' first response, work orders",
        family.clone(),
    );
    family
});

/// Counts `n` breaches of `kind`; called with 0 at start so the series exist from the start.
pub fn sla_breaches(kind: &'static str, n: usize) {
    SLA_BREACHES
        .get_or_create(&BreachLabels { kind })
        .inc_by(u64::try_from(n).unwrap_or(u64::MAX));
}
