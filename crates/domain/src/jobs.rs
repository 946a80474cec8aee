//! The rules of the work queue, independent of any database: which kinds of
//! job exist, how long a lease lasts, and when a failed job runs again.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A kind of background work. Closed: a worker must know how to run every
/// kind it may claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Does nothing but record that it ran; proves the queue end to end.
    Probe,
    /// Always fails; lets a person see retries and the dead state.
    FailingProbe,
}

impl JobKind {
    pub const ALL: [JobKind; 2] = [JobKind::Probe, JobKind::FailingProbe];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Probe => "probe",
            JobKind::FailingProbe => "failing_probe",
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<_> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
                format!(
                    "unknown job kind `{s}`: known kinds are {}",
                    known.join(", ")
                )
            })
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Leased by a worker until `locked_until`; reclaimable after it.
    Running,
    Done,
    /// Out of attempts; waits for a human.
    Dead,
}

impl JobState {
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::Running,
        JobState::Done,
        JobState::Dead,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        JobState::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the queue retries: exponential backoff from `base`, capped at `max`,
/// with deterministic jitter so a burst of failures does not retry in step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::seconds(10),
            max: Duration::hours(1),
        }
    }
}

/// What happens to a job after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    RetryAt(DateTime<Utc>),
    Dead,
}

impl RetryPolicy {
    /// `attempt` is the attempt that just failed, counting from 1.
    pub fn after_failure(
        &self,
        job_id: i64,
        attempt: i32,
        max_attempts: i32,
        now: DateTime<Utc>,
    ) -> AfterFailure {
        if attempt >= max_attempts {
            return AfterFailure::Dead;
        }
        let exponent = attempt.clamp(1, 20) as u32 - 1;
        let delay_ms = self
            .base
            .num_milliseconds()
            .saturating_mul(1_i64 << exponent)
            .min(self.max.num_milliseconds());
        // Up to +25 % jitter, derived from the job id and attempt so replays
        // and tests see the same schedule.
        let spread = (job_id.unsigned_abs().wrapping_mul(2_654_435_761) ^ attempt as u64) % 251;
        let jitter_ms = delay_ms / 4 * spread as i64 / 250;
        AfterFailure::RetryAt(now + Duration::milliseconds(delay_ms + jitter_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        let now = at(1_000_000);
        let delays: Vec<i64> = (1..=12)
            .map(|attempt| match p.after_failure(7, attempt, 100, now) {
                AfterFailure::RetryAt(t) => (t - now).num_seconds(),
                AfterFailure::Dead => panic!("not dead yet"),
            })
            .collect();
        assert!(delays[0] >= 10 && delays[0] <= 13, "{delays:?}");
        assert!(delays[1] >= 20 && delays[1] <= 25, "{delays:?}");
        assert!(delays.windows(2).all(|w| w[1] >= w[0] || w[0] >= 3600));
        assert!(delays.iter().all(|d| *d <= 3600 + 900), "{delays:?}");
    }

    #[test]
    fn last_attempt_goes_dead() {
        let p = RetryPolicy::default();
        assert_eq!(p.after_failure(1, 5, 5, at(0)), AfterFailure::Dead);
        assert!(matches!(
            p.after_failure(1, 4, 5, at(0)),
            AfterFailure::RetryAt(_)
        ));
    }

    #[test]
    fn kinds_parse_with_a_helpful_error() {
        assert_eq!("probe".parse::<JobKind>(), Ok(JobKind::Probe));
        let err = "prob".parse::<JobKind>().unwrap_err();
        assert!(err.contains("probe, failing_probe"), "{err}");
    }
}
