//! A contact's run through a sequence, as a state machine: transitions are
//! methods that refuse illegal moves, so no caller can, say, restart a
//! stopped enrolment by writing a string.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why automation stopped for a contact (DESIGN.md §4, invariant 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Replied,
    Unsubscribed,
    HardBounce,
    Complaint,
    Suppressed,
    /// A person took the prospect over.
    TakenOver,
    /// A person ended it by hand.
    Manual,
}

impl StopReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::Replied => "replied",
            StopReason::Unsubscribed => "unsubscribed",
            StopReason::HardBounce => "hard_bounce",
            StopReason::Complaint => "complaint",
            StopReason::Suppressed => "suppressed",
            StopReason::TakenOver => "taken_over",
            StopReason::Manual => "manual",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum EnrollmentState {
    /// Steps are being drafted and sent.
    Active,
    /// Held (e.g. its mailbox tripped a circuit breaker); resumes later.
    Paused,
    /// Every step ran.
    Finished,
    /// Ended for good; nothing more is sent.
    Stopped { reason: StopReason },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an enrolment that is {from} cannot be {action}")]
pub struct IllegalTransition {
    pub from: &'static str,
    pub action: &'static str,
}

impl EnrollmentState {
    pub fn name(&self) -> &'static str {
        match self {
            EnrollmentState::Active => "active",
            EnrollmentState::Paused => "paused",
            EnrollmentState::Finished => "finished",
            EnrollmentState::Stopped { .. } => "stopped",
        }
    }

    /// Rebuilds a state from its stored columns.
    pub fn from_parts(name: &str, reason: Option<StopReason>) -> Option<Self> {
        match (name, reason) {
            ("active", None) => Some(EnrollmentState::Active),
            ("paused", None) => Some(EnrollmentState::Paused),
            ("finished", None) => Some(EnrollmentState::Finished),
            ("stopped", Some(reason)) => Some(EnrollmentState::Stopped { reason }),
            _ => None,
        }
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        match self {
            EnrollmentState::Stopped { reason } => Some(*reason),
            _ => None,
        }
    }

    fn illegal(&self, action: &'static str) -> IllegalTransition {
        IllegalTransition {
            from: self.name(),
            action,
        }
    }

    pub fn pause(self) -> Result<Self, IllegalTransition> {
        match self {
            EnrollmentState::Active => Ok(EnrollmentState::Paused),
            other => Err(other.illegal("paused")),
        }
    }

    pub fn resume(self) -> Result<Self, IllegalTransition> {
        match self {
            EnrollmentState::Paused => Ok(EnrollmentState::Active),
            other => Err(other.illegal("resumed")),
        }
    }

    pub fn finish(self) -> Result<Self, IllegalTransition> {
        match self {
            EnrollmentState::Active => Ok(EnrollmentState::Finished),
            other => Err(other.illegal("finished")),
        }
    }

    /// A stop condition ends active and paused enrolments; stopping twice
    /// is refused so the first reason is the one kept.
    pub fn stop(self, reason: StopReason) -> Result<Self, IllegalTransition> {
        match self {
            EnrollmentState::Active | EnrollmentState::Paused => {
                Ok(EnrollmentState::Stopped { reason })
            }
            other => Err(other.illegal("stopped")),
        }
    }

    /// Whether automation may still send for this enrolment.
    pub fn may_send(&self) -> bool {
        matches!(self, EnrollmentState::Active)
    }
}

impl fmt::Display for EnrollmentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnrollmentState::Stopped { reason } => write!(f, "stopped ({})", reason.as_str()),
            other => f.write_str(other.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnrollmentState::*;

    #[test]
    fn only_active_enrolments_send() {
        assert!(Active.may_send());
        assert!(!Paused.may_send());
        assert!(!Finished.may_send());
        assert!(
            !Stopped {
                reason: StopReason::Replied
            }
            .may_send()
        );
    }

    #[test]
    fn stopped_is_final() {
        let stopped = Active.stop(StopReason::Replied).unwrap();
        assert!(stopped.resume().is_err());
        assert!(stopped.pause().is_err());
        let err = stopped.stop(StopReason::Complaint).unwrap_err();
        assert_eq!(
            err.to_string(),
            "an enrolment that is stopped cannot be stopped"
        );
        assert!(Finished.stop(StopReason::Replied).is_err());
    }

    #[test]
    fn pause_and_resume() {
        assert_eq!(Active.pause().and_then(EnrollmentState::resume), Ok(Active));
        assert!(Paused.finish().is_err());
        assert_eq!(
            Paused.stop(StopReason::Unsubscribed),
            Ok(Stopped {
                reason: StopReason::Unsubscribed
            })
        );
    }

    #[test]
    fn states_round_trip_through_columns() {
        for state in [
            Active,
            Paused,
            Finished,
            Stopped {
                reason: StopReason::HardBounce,
            },
        ] {
            assert_eq!(
                EnrollmentState::from_parts(state.name(), state.stop_reason()),
                Some(state)
            );
        }
        assert_eq!(EnrollmentState::from_parts("stopped", None), None);
    }
}
