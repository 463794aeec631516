//! Who performs an action: recorded in the case history and used for scoping.

use super::enums::ActorKind;
use serde::{Deserialize, Serialize};

/// The caller of an operation (mirrors `aftersales.common.v1.Actor`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub kind: ActorKind,
    /// User id, partner code or service name.
    pub id: String,
}

impl Actor {
    pub fn new(kind: ActorKind, id: impl Into<String>) -> Self {
        Self {
            kind,
            id: id.into(),
        }
    }

    /// The platform itself (timers, orchestrator).
    pub fn system(id: impl Into<String>) -> Self {
        Self::new(ActorKind::System, id)
    }

    pub fn is(&self, kind: ActorKind) -> bool {
        self.kind == kind
    }
}
