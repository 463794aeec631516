//! Shared test data.

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use crate::domain::{
    Actor, Complaint, ComplaintCategory, ComplaintChannel, CustomerId, NewComplaint, OrderId,
    Policy,
};

/// 2025-03-10 02:00 UTC (10:00 in Shanghai).
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap()
}

pub fn complaint_input() -> NewComplaint {
    NewComplaint {
        customer_id: CustomerId(Uuid::new_v4()),
        order_id: Some(OrderId(Uuid::new_v4())),
        case_id: None,
        repair_id: None,
        merchant_id: None,
        channel: ComplaintChannel::Hotline,
        category: ComplaintCategory::Delivery,
        severity: None,
        subject: "parcel late".into(),
        description: "promised on monday, still not here".into(),
    }
}

/// A NORMAL complaint opened at [`t0`] (first response due 24 h later).
pub fn new_complaint() -> Complaint {
    Complaint::open(
        complaint_input(),
        &Actor::staff("agent-7"),
        &Policy::default(),
        t0(),
    )
    .unwrap()
    .0
}
