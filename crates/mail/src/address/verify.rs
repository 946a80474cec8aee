//! One address, every check: syntax (as python-email-validator judges it),
//! the disposable and role-account lists, and — unless offline — the
//! domain's mail servers. The verdict's order of precedence lives in
//! `handoff_domain::verification`.

use serde::Serialize;

use handoff_domain::verification::{self, DomainFinding, Findings, Verdict};

use super::dns::{DnsConfig, DnsSetupError, DomainVerdict, MailDomainChecker};
use super::{lists, syntax};

/// What was found about one address, for people and machines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressCheck {
    pub address: String,
    /// The normalised form, when the syntax is valid.
    pub normalized: Option<String>,
    pub syntax_valid: bool,
    pub status: &'static str,
    pub reason: Option<&'static str>,
    #[serde(skip)]
    pub verdict: Verdict,
    /// One sentence saying why.
    pub detail: String,
    /// The domain lookup, unless offline.
    pub domain: Option<DomainVerdict>,
}

/// Checks addresses; cheap to clone (the DNS checker and its cache are
/// shared).
#[derive(Debug, Clone)]
pub struct Verifier {
    dns: Option<MailDomainChecker>,
}

impl Verifier {
    /// Syntax and lists only: no network.
    pub fn offline() -> Self {
        Self { dns: None }
    }

    pub fn online(config: DnsConfig) -> Result<Self, DnsSetupError> {
        Ok(Self {
            dns: Some(MailDomainChecker::new(config)?),
        })
    }

    pub fn is_offline(&self) -> bool {
        self.dns.is_none()
    }

    pub async fn check(&self, address: &str) -> AddressCheck {
        let parsed = match syntax::validate(address) {
            Ok(parsed) => parsed,
            Err(e) => {
                let verdict = verification::verdict(&Findings::default());
                return AddressCheck {
                    address: address.to_string(),
                    normalized: None,
                    syntax_valid: false,
                    status: verdict.status(),
                    reason: verdict.reason(),
                    verdict,
                    detail: e.message.clone(),
                    domain: None,
                };
            }
        };
        let domain = match &self.dns {
            Some(dns) => Some(dns.check(&parsed.ascii_domain).await),
            None => None,
        };
        let findings = Findings {
            syntax_valid: true,
            domain: domain.as_ref().map(|d| match d {
                DomainVerdict::HasMx { .. } | DomainVerdict::ImplicitMx { .. } => {
                    DomainFinding::AcceptsMail
                }
                DomainVerdict::NullMx | DomainVerdict::NoMailServer { .. } => {
                    DomainFinding::NoMailServer
                }
                DomainVerdict::Timeout => DomainFinding::Timeout,
                DomainVerdict::TemporaryFailure { .. } => DomainFinding::TemporaryFailure,
            }),
            disposable: lists::is_disposable(&parsed.ascii_domain),
            role_account: lists::is_role_account(&parsed.local_part),
            smtputf8: parsed.smtputf8,
            catch_all: false,
            recipient_rejected: false,
        };
        let verdict = verification::verdict(&findings);
        let detail = explain(
            verdict,
            &parsed.ascii_domain,
            domain.as_ref(),
            self.dns.is_none(),
        );
        AddressCheck {
            address: address.to_string(),
            normalized: Some(parsed.normalized.clone()),
            syntax_valid: true,
            status: verdict.status(),
            reason: verdict.reason(),
            verdict,
            detail,
            domain,
        }
    }
}

fn explain(
    verdict: Verdict,
    domain: &str,
    lookup: Option<&DomainVerdict>,
    offline: bool,
) -> String {
    use handoff_domain::verification::{InvalidReason, RiskReason, UnknownReason};
    match verdict {
        Verdict::Valid if offline => format!("well-formed; {domain} was not looked up (offline)"),
        Verdict::Valid => format!("well-formed and {domain} accepts mail"),
        Verdict::Invalid(InvalidReason::NoMailServer) => match lookup {
            Some(DomainVerdict::NullMx) => {
                format!("{domain} publishes a null MX: it accepts no mail")
            }
            Some(DomainVerdict::NoMailServer { reason }) => {
                format!("{domain} has no mail server ({reason})")
            }
            _ => format!("{domain} has no mail server"),
        },
        Verdict::Invalid(InvalidReason::Rejected) => {
            "the mail server refused this recipient".into()
        }
        Verdict::Invalid(InvalidReason::Syntax) => "the address is not well-formed".into(),
        Verdict::Unknown(UnknownReason::Timeout) => {
            format!("looking up {domain} timed out; try again later")
        }
        Verdict::Unknown(UnknownReason::TemporaryFailure) => match lookup {
            Some(DomainVerdict::TemporaryFailure { reason }) => {
                format!("looking up {domain} failed for now ({reason}); try again later")
            }
            _ => format!("looking up {domain} failed for now; try again later"),
        },
        Verdict::Risky(RiskReason::Disposable) => format!("{domain} hands out throwaway mailboxes"),
        Verdict::Risky(RiskReason::RoleAccount) => "a shared role inbox, not a person".into(),
        Verdict::Risky(RiskReason::Smtputf8) => {
            "the address needs SMTPUTF8, which not every mail server supports".into()
        }
        Verdict::Risky(RiskReason::CatchAll) => {
            format!("{domain} accepts every address, so this one proves nothing")
        }
    }
}
