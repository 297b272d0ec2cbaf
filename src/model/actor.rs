//! Who acts on an incident: a person with a role and a jurisdiction, or the system.

use serde::{Deserialize, Serialize};

/// The roles of DOMAIN.md. What each may do is decided in one place
/// (`incidents::lifecycle`), on the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users and configuration; takes no part in the loop.
    Admin,
    /// 值班员: files, dispatches, escalates (督办), closes, forces a close.
    DutyOfficer,
    /// 派遣员 / 受理员: files or rejects, merges, dispatches, verifies, closes.
    Dispatcher,
    /// 专业部门 staff: acknowledges, returns, handles and reports on their own incidents.
    Department,
    /// 网格员 / 监督员: verifies fixes (or sends them back) in their own grids.
    GridWorker,
    /// Builds and tunes rules; reads only.
    Engineer,
    /// The video wall: reads only.
    Wall,
    /// The system itself: automatic filing and dispatch, escalation of overdue incidents.
    System,
}

impl Role {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::DutyOfficer => "duty_officer",
            Self::Dispatcher => "dispatcher",
            Self::Department => "department",
            Self::GridWorker => "grid_worker",
            Self::Engineer => "engineer",
            Self::Wall => "wall",
            Self::System => "system",
        }
    }
}

/// Someone acting, with what they may reach. A center user belongs to one level of the
/// three-level center: the city (no district), a district, or a street of a district.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// User name; `system` for the system.
    pub id: String,
    pub role: Role,
    /// District code of a district or street center user.
    pub district: Option<String>,
    /// Street code of a street center user.
    pub street: Option<String>,
    /// Department code of department staff.
    pub department: Option<String>,
    /// Grid codes of a grid worker.
    pub grids: Vec<String>,
}

impl Actor {
    pub fn system() -> Self {
        Self {
            id: "system".into(),
            role: Role::System,
            district: None,
            street: None,
            department: None,
            grids: Vec::new(),
        }
    }

    /// The name the event log records: `user:<id>`, or `system`.
    pub fn log_name(&self) -> String {
        if self.role == Role::System {
            "system".into()
        } else {
            format!("user:{}", self.id)
        }
    }
}
