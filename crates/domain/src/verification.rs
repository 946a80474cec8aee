//! The verdict on an email address: can we send to it? Combines the syntax
//! check, the disposable and role-account lists and the domain's mail
//! servers (see the mail crate); this module only names the outcomes and
//! the order in which they win.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an address is risky: sendable, but a person should decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskReason {
    /// The server accepts every address, so this one proves nothing.
    CatchAll,
    /// info@, sales@, ...: a shared inbox, not a person.
    RoleAccount,
    /// A throwaway mailbox provider.
    Disposable,
    /// Needs a server that speaks SMTPUTF8 (non-ASCII local part).
    Smtputf8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidReason {
    Syntax,
    NoMailServer,
    /// The mail server refused the recipient.
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnknownReason {
    Timeout,
    TemporaryFailure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Verdict {
    Valid,
    Risky(RiskReason),
    Invalid(InvalidReason),
    Unknown(UnknownReason),
}

impl Verdict {
    pub fn status(&self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Risky(_) => "risky",
            Verdict::Invalid(_) => "invalid",
            Verdict::Unknown(_) => "unknown",
        }
    }

    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Verdict::Valid => None,
            Verdict::Risky(r) => Some(match r {
                RiskReason::CatchAll => "catch_all",
                RiskReason::RoleAccount => "role_account",
                RiskReason::Disposable => "disposable",
                RiskReason::Smtputf8 => "smtputf8",
            }),
            Verdict::Invalid(r) => Some(match r {
                InvalidReason::Syntax => "syntax",
                InvalidReason::NoMailServer => "no_mail_server",
                InvalidReason::Rejected => "rejected",
            }),
            Verdict::Unknown(r) => Some(match r {
                UnknownReason::Timeout => "timeout",
                UnknownReason::TemporaryFailure => "temporary_failure",
            }),
        }
    }

    /// Rebuilds a verdict from its stored columns.
    pub fn from_parts(status: &str, reason: Option<&str>) -> Option<Verdict> {
        let all = [
            Verdict::Valid,
            Verdict::Risky(RiskReason::CatchAll),
            Verdict::Risky(RiskReason::RoleAccount),
            Verdict::Risky(RiskReason::Disposable),
            Verdict::Risky(RiskReason::Smtputf8),
            Verdict::Invalid(InvalidReason::Syntax),
            Verdict::Invalid(InvalidReason::NoMailServer),
            Verdict::Invalid(InvalidReason::Rejected),
            Verdict::Unknown(UnknownReason::Timeout),
            Verdict::Unknown(UnknownReason::TemporaryFailure),
        ];
        all.into_iter()
            .find(|v| v.status() == status && v.reason() == reason)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(reason) => write!(f, "{} ({reason})", self.status()),
            None => f.write_str(self.status()),
        }
    }
}

/// What the checks found, before a verdict is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Findings {
    pub syntax_valid: bool,
    /// None: the domain was not checked (offline).
    pub domain: Option<DomainFinding>,
    pub disposable: bool,
    pub role_account: bool,
    pub smtputf8: bool,
    pub catch_all: bool,
    pub recipient_rejected: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainFinding {
    AcceptsMail,
    NoMailServer,
    Timeout,
    TemporaryFailure,
}

/// The order in which findings win: a broken address is invalid whatever
/// else is true; an unreachable domain leaves it unknown; a risk is only
/// worth naming for an address that could otherwise be sent to.
pub fn verdict(f: &Findings) -> Verdict {
    if !f.syntax_valid {
        return Verdict::Invalid(InvalidReason::Syntax);
    }
    match f.domain {
        Some(DomainFinding::NoMailServer) => return Verdict::Invalid(InvalidReason::NoMailServer),
        Some(DomainFinding::Timeout) => return Verdict::Unknown(UnknownReason::Timeout),
        Some(DomainFinding::TemporaryFailure) => {
            return Verdict::Unknown(UnknownReason::TemporaryFailure);
        }
        Some(DomainFinding::AcceptsMail) | None => {}
    }
    if f.recipient_rejected {
        return Verdict::Invalid(InvalidReason::Rejected);
    }
    if f.disposable {
        Verdict::Risky(RiskReason::Disposable)
    } else if f.role_account {
        Verdict::Risky(RiskReason::RoleAccount)
    } else if f.catch_all {
        Verdict::Risky(RiskReason::CatchAll)
    } else if f.smtputf8 {
        Verdict::Risky(RiskReason::Smtputf8)
    } else {
        Verdict::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Findings {
        Findings {
            syntax_valid: true,
            domain: Some(DomainFinding::AcceptsMail),
            ..Findings::default()
        }
    }

    #[test]
    fn findings_win_in_order() {
        assert_eq!(verdict(&ok()), Verdict::Valid);
        assert_eq!(
            verdict(&Findings {
                syntax_valid: false,
                disposable: true,
                ..ok()
            }),
            Verdict::Invalid(InvalidReason::Syntax)
        );
        assert_eq!(
            verdict(&Findings {
                domain: Some(DomainFinding::NoMailServer),
                role_account: true,
                ..ok()
            }),
            Verdict::Invalid(InvalidReason::NoMailServer)
        );
        assert_eq!(
            verdict(&Findings {
                domain: Some(DomainFinding::Timeout),
                ..ok()
            }),
            Verdict::Unknown(UnknownReason::Timeout)
        );
        assert_eq!(
            verdict(&Findings {
                disposable: true,
                role_account: true,
                ..ok()
            }),
            Verdict::Risky(RiskReason::Disposable)
        );
        assert_eq!(
            verdict(&Findings {
                role_account: true,
                ..ok()
            }),
            Verdict::Risky(RiskReason::RoleAccount)
        );
        assert_eq!(
            verdict(&Findings {
                smtputf8: true,
                ..ok()
            }),
            Verdict::Risky(RiskReason::Smtputf8)
        );
        assert_eq!(
            verdict(&Findings {
                domain: None,
                ..ok()
            }),
            Verdict::Valid,
            "offline: syntax and lists only"
        );
    }

    #[test]
    fn verdicts_round_trip_through_columns() {
        for v in [
            Verdict::Valid,
            Verdict::Risky(RiskReason::CatchAll),
            Verdict::Invalid(InvalidReason::Rejected),
            Verdict::Unknown(UnknownReason::TemporaryFailure),
        ] {
            assert_eq!(Verdict::from_parts(v.status(), v.reason()), Some(v));
        }
        assert_eq!(Verdict::from_parts("valid", Some("x")), None);
        assert_eq!(
            Verdict::Risky(RiskReason::RoleAccount).to_string(),
            "risky (role_account)"
        );
    }
}
