//! One address, every check: syntax (as python-email-validator judges it),
//! the disposable and role-account lists, and — unless offline — the
//! domain's mail servers, and — only when a prober is given — an SMTP RCPT
//! probe of those servers. The verdict's order of precedence lives in
//! `handoff_domain::verification`.

use serde::Serialize;

use handoff_domain::verification::{self, DomainFinding, Findings, Verdict};

use super::dns::{DnsConfig, DnsSetupError, DomainVerdict, MailDomainChecker};
use super::probe::{ProbeOutcome, SmtpProber};
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
    /// The SMTP probe, when one was configured and the domain accepts mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeOutcome>,
}

/// Checks addresses; cheap to clone (the DNS checker and its cache are
/// shared).
#[derive(Debug, Clone)]
pub struct Verifier {
    dns: Option<MailDomainChecker>,
    prober: Option<SmtpProber>,
}

impl Verifier {
    /// Syntax and lists only: no network.
    pub fn offline() -> Self {
        Self {
            dns: None,
            prober: None,
        }
    }

    pub fn online(config: DnsConfig) -> Result<Self, DnsSetupError> {
        Ok(Self {
            dns: Some(MailDomainChecker::new(config)?),
            prober: None,
        })
    }

    /// Also asks the domain's mail servers whether they accept each address
    /// (and whether they accept any address at all) over SMTP. Off unless
    /// called: probing can hurt the sender's reputation. Has no effect
    /// offline, where there are no mail servers to ask.
    pub fn with_probe(mut self, prober: SmtpProber) -> Self {
        self.prober = Some(prober);
        self
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
                    probe: None,
                };
            }
        };
        let domain = match &self.dns {
            Some(dns) => Some(dns.check(&parsed.ascii_domain).await),
            None => None,
        };
        let probe = match (&self.prober, domain.as_ref().map(probe_hosts)) {
            (Some(prober), Some(hosts)) if !hosts.is_empty() => {
                // Non-ASCII local parts travel as they are (with SMTPUTF8).
                let address = parsed
                    .ascii_email
                    .clone()
                    .unwrap_or_else(|| format!("{}@{}", parsed.local_part, parsed.ascii_domain));
                Some(prober.probe(&hosts, &address).await)
            }
            _ => None,
        };
        let findings = Findings {
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
            catch_all: matches!(probe, Some(ProbeOutcome::CatchAll)),
            recipient_rejected: matches!(probe, Some(ProbeOutcome::Rejected { .. })),
            ..offline_findings(&parsed)
        };
        let verdict = verification::verdict(&findings);
        let detail = explain(
            verdict,
            &parsed.ascii_domain,
            domain.as_ref(),
            self.dns.is_none(),
        );
        let detail = match &probe {
            Some(outcome) => with_probe_detail(verdict, detail, &parsed.ascii_domain, outcome),
            None => detail,
        };
        AddressCheck {
            address: address.to_string(),
            normalized: Some(parsed.normalized.clone()),
            syntax_valid: true,
            status: verdict.status(),
            reason: verdict.reason(),
            verdict,
            detail,
            domain,
            probe,
        }
    }
}

/// What is known about a well-formed address without asking anyone.
fn offline_findings(parsed: &syntax::ValidAddress) -> Findings {
    Findings {
        syntax_valid: true,
        domain: None,
        disposable: lists::is_disposable(&parsed.ascii_domain),
        role_account: lists::is_role_account(&parsed.local_part),
        smtputf8: parsed.smtputf8,
        catch_all: false,
        recipient_rejected: false,
    }
}

/// The verdict of [`Verifier::offline`] on `address`, without its
/// explanation and without async: for imports that verify as they go.
pub fn offline_verdict(address: &str) -> Verdict {
    match syntax::validate(address) {
        Ok(parsed) => verification::verdict(&offline_findings(&parsed)),
        Err(_) => verification::verdict(&Findings::default()),
    }
}

/// The hosts to probe: the MX hosts in preference order, or the addresses
/// standing in for them.
fn probe_hosts(domain: &DomainVerdict) -> Vec<String> {
    match domain {
        DomainVerdict::HasMx { exchanges } => exchanges.clone(),
        DomainVerdict::ImplicitMx { addresses } => {
            addresses.iter().map(ToString::to_string).collect()
        }
        DomainVerdict::NullMx
        | DomainVerdict::NoMailServer { .. }
        | DomainVerdict::Timeout
        | DomainVerdict::TemporaryFailure { .. } => Vec::new(),
    }
}

/// The detail once a probe has run: what the server said, in the verdict's
/// words when the probe decided it, appended otherwise.
fn with_probe_detail(
    verdict: Verdict,
    detail: String,
    domain: &str,
    outcome: &ProbeOutcome,
) -> String {
    use handoff_domain::verification::{InvalidReason, RiskReason};
    match (verdict, outcome) {
        (Verdict::Invalid(InvalidReason::Rejected), ProbeOutcome::Rejected { code, message }) => {
            format!("the mail server refused this recipient ({code} {message})")
        }
        (Verdict::Risky(RiskReason::CatchAll), ProbeOutcome::CatchAll) => detail,
        (Verdict::Valid, ProbeOutcome::Accepted) => {
            format!("well-formed, {domain} accepts mail and its server accepted this recipient")
        }
        (_, ProbeOutcome::Accepted) => {
            format!("{detail}; the mail server accepted this recipient")
        }
        (_, ProbeOutcome::CatchAll) => {
            format!("{detail}; the mail server also accepts every address")
        }
        (_, ProbeOutcome::Rejected { code, message }) => {
            format!("{detail}; the mail server refused this recipient ({code} {message})")
        }
        (_, ProbeOutcome::TemporaryFailure { code, message }) => {
            let code = code.map(|c| format!("{c} ")).unwrap_or_default();
            format!("{detail}; the SMTP probe was inconclusive ({code}{message})")
        }
        (_, ProbeOutcome::Unreachable { reason }) => {
            format!("{detail}; the SMTP probe reached no mail server ({reason})")
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
