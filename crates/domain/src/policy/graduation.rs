//! Graduation: whether a sequence type has earned a lighter send authority,
//! or lost the one it was given. Pure: the counts come from the store, the
//! thresholds from the playbook, and the answer is the same on every replay.
//!
//! A type under `approval` qualifies for `veto` or `auto` once at least
//! `min_drafts` of its AI drafts were sent, at least `min_acceptance` of
//! them without a real edit, and none had a `block` finding. A type the
//! playbook already runs under `veto` or `auto` has regressed when, over at
//! least `min_drafts` sends, acceptance fell below the minimum or a sent
//! draft had a `block` finding; with `demote_on_regression` it goes back to
//! `approval` until the playbook changes (a new policy version is a
//! person's decision, reviewed like code).

use serde::Serialize;

use crate::playbook::{Duration, Graduation, SendMode};

/// The window a demoted type gets: the default approval window.
pub const DEMOTED_WINDOW_SECS: u64 = 24 * 3600;

/// What the store counted for one sequence type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SentDrafts {
    /// AI (and template) drafts that were sent.
    pub sent: u64,
    /// Of those, sent within the acceptance edit distance.
    pub accepted: u64,
    /// Of those, drafts with a `block` finding.
    pub with_block_findings: u64,
}

impl SentDrafts {
    pub fn acceptance(&self) -> Option<f64> {
        (self.sent > 0).then(|| self.accepted as f64 / self.sent as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Under approval and every threshold is met: a person may promote it.
    Qualifies,
    /// Under approval, not yet: too few sends.
    TooFewDrafts,
    /// Under approval, not yet: too many drafts needed real edits.
    BelowAcceptance,
    /// Under approval, not yet: a sent draft had a `block` finding.
    BlockFindings,
    /// Promoted (veto or auto) and still meeting the thresholds, or too few
    /// sends yet to judge.
    Holds,
    /// Promoted, and no longer meeting the thresholds.
    Regressed,
    /// Manual sending: people write these, nothing to graduate.
    NotApplicable,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub sequence_type: String,
    /// The mode the playbook gives the type.
    pub configured: &'static str,
    /// The mode drafts of this type are evaluated under now.
    pub effective: &'static str,
    pub sent: u64,
    pub accepted: u64,
    pub acceptance: Option<f64>,
    pub with_block_findings: u64,
    pub standing: Standing,
    /// A demotion to record now: regressed, demotion enabled, not yet
    /// demoted under this policy.
    pub demote_now: bool,
    /// Already demoted under this policy version.
    pub demoted: bool,
}

pub fn mode_name(mode: &SendMode) -> &'static str {
    match mode {
        SendMode::Auto => "auto",
        SendMode::Approval { .. } => "approval",
        SendMode::Veto { .. } => "veto",
        SendMode::Manual => "manual",
    }
}

/// Judges one sequence type. `demoted` says whether a demotion was already
/// recorded for it under the current policy version.
pub fn assess(
    sequence_type: &str,
    configured: &SendMode,
    rules: &Graduation,
    counts: SentDrafts,
    demoted: bool,
) -> Assessment {
    let acceptance = counts.acceptance();
    let enough = counts.sent >= u64::from(rules.min_drafts);
    let meets = acceptance.is_some_and(|a| a >= rules.min_acceptance);
    let clean = counts.with_block_findings == 0;
    let standing = match configured {
        SendMode::Manual => Standing::NotApplicable,
        SendMode::Approval { .. } if !enough => Standing::TooFewDrafts,
        SendMode::Approval { .. } if !clean => Standing::BlockFindings,
        SendMode::Approval { .. } if !meets => Standing::BelowAcceptance,
        SendMode::Approval { .. } => Standing::Qualifies,
        SendMode::Veto { .. } | SendMode::Auto => {
            // A blocked draft that went out is a regression however few
            // sends there were; a low rate needs enough sends to mean much.
            if !clean || (enough && !meets) {
                Standing::Regressed
            } else {
                Standing::Holds
            }
        }
    };
    let regressed = standing == Standing::Regressed;
    let demote_now = regressed && rules.demote_on_regression && !demoted;
    let effective = if demoted || demote_now {
        "approval"
    } else {
        mode_name(configured)
    };
    Assessment {
        sequence_type: sequence_type.to_string(),
        configured: mode_name(configured),
        effective,
        sent: counts.sent,
        accepted: counts.accepted,
        acceptance,
        with_block_findings: counts.with_block_findings,
        standing,
        demote_now,
        demoted,
    }
}

/// The mode a demoted type is evaluated under.
pub fn demoted_mode() -> SendMode {
    SendMode::Approval {
        window: Duration::from_secs(DEMOTED_WINDOW_SECS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: Graduation = Graduation {
        min_drafts: 200,
        min_acceptance: 0.85,
        demote_on_regression: true,
    };

    fn approval() -> SendMode {
        SendMode::Approval {
            window: Duration::from_secs(86_400),
        }
    }

    fn counts(sent: u64, accepted: u64, blocked: u64) -> SentDrafts {
        SentDrafts {
            sent,
            accepted,
            with_block_findings: blocked,
        }
    }

    #[test]
    fn an_approval_type_qualifies_only_when_every_threshold_holds() {
        let s = |c| assess("cold", &approval(), &RULES, c, false).standing;
        assert_eq!(s(counts(0, 0, 0)), Standing::TooFewDrafts);
        assert_eq!(s(counts(199, 199, 0)), Standing::TooFewDrafts);
        assert_eq!(s(counts(200, 169, 0)), Standing::BelowAcceptance);
        assert_eq!(s(counts(200, 170, 0)), Standing::Qualifies);
        assert_eq!(s(counts(400, 400, 1)), Standing::BlockFindings);
    }

    #[test]
    fn a_promoted_type_that_regresses_is_demoted_once() {
        let a = assess("cold", &SendMode::Auto, &RULES, counts(300, 200, 0), false);
        assert_eq!(a.standing, Standing::Regressed);
        assert!(a.demote_now);
        assert_eq!((a.configured, a.effective), ("auto", "approval"));

        let again = assess("cold", &SendMode::Auto, &RULES, counts(300, 200, 0), true);
        assert!(!again.demote_now, "already demoted under this policy");
        assert_eq!(again.effective, "approval");

        let holds = assess("cold", &SendMode::Auto, &RULES, counts(300, 290, 0), false);
        assert_eq!((holds.standing, holds.effective), (Standing::Holds, "auto"));
        let early = assess("cold", &SendMode::Auto, &RULES, counts(10, 1, 0), false);
        assert_eq!(
            early.standing,
            Standing::Holds,
            "too few sends to judge a rate"
        );
    }

    #[test]
    fn a_sent_blocked_draft_is_a_regression_at_any_volume() {
        let veto = SendMode::Veto {
            window: Duration::from_secs(3600),
        };
        let a = assess("cold", &veto, &RULES, counts(3, 3, 1), false);
        assert_eq!(a.standing, Standing::Regressed);
    }

    #[test]
    fn without_demotion_a_regression_is_only_reported() {
        let rules = Graduation {
            demote_on_regression: false,
            ..RULES
        };
        let a = assess("cold", &SendMode::Auto, &rules, counts(300, 10, 0), false);
        assert_eq!(a.standing, Standing::Regressed);
        assert!(!a.demote_now);
        assert_eq!(a.effective, "auto");
    }

    #[test]
    fn manual_types_do_not_graduate() {
        let a = assess(
            "exec",
            &SendMode::Manual,
            &RULES,
            counts(500, 500, 0),
            false,
        );
        assert_eq!(a.standing, Standing::NotApplicable);
        assert_eq!(a.effective, "manual");
    }
}
