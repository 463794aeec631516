//! Complaint handling statistics: first-response time and SLA breach rates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Complaint, SlaStatus, WorkOrder};

/// Counters over a set of complaints and work orders; feed them with [`Self::add_complaint`] and
/// [`Self::add_work_order`] (or fill the counters from SQL aggregates), then read the rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComplaintStats {
    pub complaints_total: u32,
    pub complaints_responded: u32,
    /// Sum of seconds from creation to first response over responded complaints.
    pub first_response_seconds_total: i64,
    /// Late or missing first responses (including overdue ones the sweep has not marked yet).
    pub first_response_breached: u32,
    /// Complaints whose first response is settled: responded, or breached without a response.
    pub first_response_settled: u32,
    pub work_orders_total: u32,
    pub work_orders_sla_reached: u32,
    /// FAILED, including overdue ones the sweep has not marked yet.
    pub work_orders_sla_failed: u32,
}

impl ComplaintStats {
    pub fn add_complaint(&mut self, c: &Complaint, now: DateTime<Utc>) {
        self.complaints_total += 1;
        let breached = c.first_response_breached || c.is_first_response_overdue(now);
        if let Some(secs) = c.first_response_seconds() {
            self.complaints_responded += 1;
            self.first_response_seconds_total += secs.max(0);
        }
        if breached {
            self.first_response_breached += 1;
        }
        if breached || c.first_responded_at.is_some() {
            self.first_response_settled += 1;
        }
    }

    pub fn add_work_order(&mut self, w: &WorkOrder, now: DateTime<Utc>) {
        self.work_orders_total += 1;
        match w.sla_status {
            SlaStatus::Reached => self.work_orders_sla_reached += 1,
            SlaStatus::Failed => self.work_orders_sla_failed += 1,
            SlaStatus::Ongoing if w.is_sla_overdue(now) => self.work_orders_sla_failed += 1,
            SlaStatus::Ongoing => {}
        }
    }

    /// Mean seconds to first response; 0 when nothing was answered.
    pub fn average_first_response_seconds(&self) -> f64 {
        ratio(
            self.first_response_seconds_total as f64,
            self.complaints_responded,
        )
    }

    /// Breached / settled first responses; 0 when none is settled.
    pub fn first_response_breach_rate(&self) -> f64 {
        ratio(
            f64::from(self.first_response_breached),
            self.first_response_settled,
        )
    }

    /// Failed / (reached + failed) work order SLAs; 0 when none is settled.
    pub fn work_order_sla_breach_rate(&self) -> f64 {
        ratio(
            f64::from(self.work_orders_sla_failed),
            self.work_orders_sla_reached + self.work_orders_sla_failed,
        )
    }
}

fn ratio(num: f64, den: u32) -> f64 {
    if den == 0 { 0.0 } else { num / f64::from(den) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Actor, Department, NewWorkOrder, Policy, fixtures::*};
    use chrono::Duration;

    fn wo() -> WorkOrder {
        let n = NewWorkOrder {
            complaint_id: None,
            order_id: None,
            case_id: None,
            repair_id: None,
            shipment_id: None,
            department: Department::Delivery,
            merchant_id: None,
            title: "t".into(),
            description: "d".into(),
            assignee: "a".into(),
        };
        WorkOrder::open(n, None, &Actor::staff("s"), &Policy::default(), t0())
            .unwrap()
            .0
    }

    #[test]
    fn empty_stats_are_zero() {
        let s = ComplaintStats::default();
        assert_eq!(
            (
                s.average_first_response_seconds(),
                s.first_response_breach_rate(),
                s.work_order_sla_breach_rate()
            ),
            (0.0, 0.0, 0.0)
        );
    }

    #[test]
    fn complaint_first_response() {
        let staff = Actor::staff("s");
        let now = t0() + Duration::days(5);
        let mut on_time = new_complaint();
        on_time
            .acknowledge(&staff, t0() + Duration::hours(1))
            .unwrap();
        let mut late = new_complaint();
        late.acknowledge(&staff, t0() + Duration::hours(25))
            .unwrap();
        let overdue = new_complaint(); // no response, sweep not run yet
        let mut fresh = new_complaint();
        fresh.first_response_due_at = now + Duration::hours(1); // still within its window
        let mut s = ComplaintStats::default();
        for c in [&on_time, &late, &overdue, &fresh] {
            s.add_complaint(c, now);
        }
        assert_eq!(
            (
                s.complaints_total,
                s.complaints_responded,
                s.first_response_breached,
                s.first_response_settled
            ),
            (4, 2, 2, 3)
        );
        assert!((s.average_first_response_seconds() - 13.0 * 3600.0).abs() < 1e-9);
        assert!((s.first_response_breach_rate() - 2.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn work_order_sla_rate() {
        let staff = Actor::staff("s");
        let due = t0() + Duration::hours(48);
        let mut reached = wo();
        reached.start(&staff, t0()).unwrap();
        reached.complete(&staff, "ok", due).unwrap();
        let mut failed = wo();
        failed.check_sla(due + Duration::seconds(1));
        let overdue = wo();
        let ongoing = wo();
        let mut s = ComplaintStats::default();
        s.add_work_order(&reached, due + Duration::seconds(1));
        s.add_work_order(&failed, due + Duration::seconds(1));
        s.add_work_order(&overdue, due + Duration::seconds(1));
        s.add_work_order(&ongoing, due);
        assert_eq!(
            (
                s.work_orders_total,
                s.work_orders_sla_reached,
                s.work_orders_sla_failed
            ),
            (4, 1, 2)
        );
        assert!((s.work_order_sla_breach_rate() - 2.0 / 3.0).abs() < 1e-9);
    }
}
