//! Domain events: every state change names the event phase 2 publishes on `aftersales.events`.

/// An event to publish; the routing key is `complaints.<entity>.<event>`. The snapshot is the
/// entity after the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    ComplaintCreated,
    ComplaintAcknowledged,
    ComplaintInvestigationStarted,
    ComplaintWaitingForCustomer,
    ComplaintInvestigationResumed,
    ComplaintResolved,
    ComplaintResolutionNoteSent,
    ComplaintClosed,
    ComplaintReopened,
    ComplaintEscalated,
    ComplaintFirstResponseBreached,
    WorkOrderCreated,
    WorkOrderAssigned,
    WorkOrderStarted,
    WorkOrderCompleted,
    WorkOrderRejected,
    WorkOrderVerified,
    WorkOrderReworkRequested,
    WorkOrderTransferred,
    WorkOrderSlaBreached,
    FollowUpRecorded,
    ServiceRatingSubmitted,
    DsrRatingSubmitted,
}

impl Event {
    pub const ALL: [Event; 23] = [
        Self::ComplaintCreated,
        Self::ComplaintAcknowledged,
        Self::ComplaintInvestigationStarted,
        Self::ComplaintWaitingForCustomer,
        Self::ComplaintInvestigationResumed,
        Self::ComplaintResolved,
        Self::ComplaintResolutionNoteSent,
        Self::ComplaintClosed,
        Self::ComplaintReopened,
        Self::ComplaintEscalated,
        Self::ComplaintFirstResponseBreached,
        Self::WorkOrderCreated,
        Self::WorkOrderAssigned,
        Self::WorkOrderStarted,
        Self::WorkOrderCompleted,
        Self::WorkOrderRejected,
        Self::WorkOrderVerified,
        Self::WorkOrderReworkRequested,
        Self::WorkOrderTransferred,
        Self::WorkOrderSlaBreached,
        Self::FollowUpRecorded,
        Self::ServiceRatingSubmitted,
        Self::DsrRatingSubmitted,
    ];

    /// Routing key on the `aftersales.events` topic exchange (also `DomainEvent.name`).
    pub fn routing_key(&self) -> &'static str {
        match self {
            Self::ComplaintCreated => "complaints.complaint.created",
            Self::ComplaintAcknowledged => "complaints.complaint.acknowledged",
            Self::ComplaintInvestigationStarted => "complaints.complaint.investigation_started",
            Self::ComplaintWaitingForCustomer => "complaints.complaint.waiting_for_customer",
            Self::ComplaintInvestigationResumed => "complaints.complaint.investigation_resumed",
            Self::ComplaintResolved => "complaints.complaint.resolved",
            Self::ComplaintResolutionNoteSent => "complaints.complaint.resolution_note_sent",
            Self::ComplaintClosed => "complaints.complaint.closed",
            Self::ComplaintReopened => "complaints.complaint.reopened",
            Self::ComplaintEscalated => "complaints.complaint.escalated",
            Self::ComplaintFirstResponseBreached => "complaints.complaint.first_response_breached",
            Self::WorkOrderCreated => "complaints.work_order.created",
            Self::WorkOrderAssigned => "complaints.work_order.assigned",
            Self::WorkOrderStarted => "complaints.work_order.started",
            Self::WorkOrderCompleted => "complaints.work_order.completed",
            Self::WorkOrderRejected => "complaints.work_order.rejected",
            Self::WorkOrderVerified => "complaints.work_order.verified",
            Self::WorkOrderReworkRequested => "complaints.work_order.rework_requested",
            Self::WorkOrderTransferred => "complaints.work_order.transferred",
            Self::WorkOrderSlaBreached => "complaints.work_order.sla_breached",
            Self::FollowUpRecorded => "complaints.follow_up.recorded",
            Self::ServiceRatingSubmitted => "complaints.service_rating.submitted",
            Self::DsrRatingSubmitted => "complaints.dsr_rating.submitted",
        }
    }

    /// The entity segment of the routing key (`complaint`, `work_order`, ...).
    pub fn entity(&self) -> &'static str {
        self.routing_key().split('.').nth(1).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn routing_keys_are_unique_and_well_formed() {
        let mut seen = HashSet::new();
        for e in Event::ALL {
            let key = e.routing_key();
            assert!(seen.insert(key), "duplicate {key}");
            let parts: Vec<_> = key.split('.').collect();
            assert_eq!(parts.len(), 3, "{key}");
            assert_eq!(parts[0], "complaints");
            assert!(
                key.chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{key}"
            );
        }
        assert_eq!(Event::WorkOrderSlaBreached.entity(), "work_order");
        assert_eq!(Event::ComplaintClosed.entity(), "complaint");
    }
}
