//! Escalations: the tasks AI hands to a person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The six stages of the workflow (DESIGN.md §1), in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    ListBuilding,
    Research,
    Drafting,
    SendApproval,
    Engagement,
    FollowUp,
}

impl Stage {
    pub const ALL: [Stage; 6] = [
        Stage::ListBuilding,
        Stage::Research,
        Stage::Drafting,
        Stage::SendApproval,
        Stage::Engagement,
        Stage::FollowUp,
    ];

    /// Names as the playbook spells them, for parsing and did-you-mean.
    pub const CHOICES: [(&'static str, Stage); 6] = [
        ("list_building", Stage::ListBuilding),
        ("research", Stage::Research),
        ("drafting", Stage::Drafting),
        ("send_approval", Stage::SendApproval),
        ("engagement", Stage::Engagement),
        ("follow_up", Stage::FollowUp),
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Stage::ListBuilding => "list_building",
            Stage::Research => "research",
            Stage::Drafting => "drafting",
            Stage::SendApproval => "send_approval",
            Stage::Engagement => "engagement",
            Stage::FollowUp => "follow_up",
        }
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| format!("unknown stage `{s}`"))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

impl FromStr for Priority {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Priority::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown priority `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for stage in Stage::ALL {
            assert_eq!(stage.as_str().parse::<Stage>(), Ok(stage));
        }
        for p in Priority::ALL {
            assert_eq!(p.as_str().parse::<Priority>(), Ok(p));
        }
        assert!(Priority::Urgent > Priority::High);
    }
}
