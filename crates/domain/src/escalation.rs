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

/// How long a person has to act on an escalation whose rule sets no `sla`.
pub const DEFAULT_SLA_SECS: u64 = 24 * 60 * 60;

/// When an escalation opened at `opened` is due: its rule's `sla`, else
/// [`DEFAULT_SLA_SECS`]. An SLA too long to represent counts as the
/// default, never as "never due".
pub fn due_at(
    opened: chrono::DateTime<chrono::Utc>,
    sla_secs: Option<u64>,
) -> chrono::DateTime<chrono::Utc> {
    let after = |secs: u64| {
        i64::try_from(secs)
            .ok()
            .and_then(chrono::Duration::try_seconds)
            .and_then(|d| opened.checked_add_signed(d))
    };
    sla_secs
        .and_then(after)
        .or_else(|| after(DEFAULT_SLA_SECS))
        .unwrap_or(opened)
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

    #[test]
    fn due_times_come_from_the_sla_or_a_day() {
        let opened = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(
            due_at(opened, Some(7200)),
            opened + chrono::Duration::hours(2)
        );
        assert_eq!(due_at(opened, None), opened + chrono::Duration::hours(24));
        assert_eq!(
            due_at(opened, Some(u64::MAX)),
            opened + chrono::Duration::hours(24)
        );
    }
}
