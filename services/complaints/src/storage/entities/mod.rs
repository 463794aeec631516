//! Sea-orm entities, one per table (classic format).

pub mod closed_subject;
pub mod complaint;
pub mod dsr_pair_month;
pub mod dsr_rating;
pub mod follow_up;
pub mod service_rating;
pub mod work_order;
pub mod work_order_transfer;
