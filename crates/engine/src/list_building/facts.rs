//! What CEL conditions see about a prospect: `contact.*`, `account.*` and
//! `signal.*`. One place builds it, so ICP rules, `--where` filters and the
//! list-building gate all read the same names.

use handoff_domain::scoring::{Fact, Facts};
use handoff_store::Prospect;

pub fn facts_of(p: &Prospect) -> Facts {
    let c = &p.contact;
    let mut facts = Facts::default();
    let mut contact = |name: &str, value: Option<Fact>| {
        if let Some(v) = value {
            facts.contact.insert(name.to_string(), v);
        }
    };
    let text = |s: &str| (!s.is_empty()).then(|| Fact::Text(s.to_string()));
    let opt = |s: &Option<String>| {
        s.as_deref()
            .and_then(|s| (!s.is_empty()).then(|| Fact::Text(s.to_string())))
    };
    contact("email", Some(Fact::Text(c.email.to_string())));
    contact("first_name", text(&c.first_name));
    contact("last_name", text(&c.last_name));
    contact("title", text(&c.title));
    contact(
        "seniority",
        Some(Fact::Text(
            c.seniority.clone().unwrap_or_else(|| "unknown".into()),
        )),
    );
    contact(
        "department",
        Some(Fact::Text(
            c.department.clone().unwrap_or_else(|| "other".into()),
        )),
    );
    contact("city", opt(&c.city));
    contact("country", opt(&c.country));
    contact("company", opt(&c.company));
    contact("owner", c.owner.as_ref().map(|o| Fact::Text(o.to_string())));
    contact(
        "verification",
        Some(Fact::Text(
            c.verification
                .map(|v| v.status().to_string())
                .unwrap_or_else(|| "unverified".into()),
        )),
    );
    contact("tier", p.score.as_ref().map(|s| Fact::Text(s.tier.clone())));
    contact(
        "score",
        p.score.as_ref().map(|s| Fact::Int(i64::from(s.score))),
    );

    // Intent signals: every recorded kind as a list, and the common ones as
    // booleans that are always present, so `signal.job_change` never makes
    // a rule undecidable.
    facts
        .signal
        .insert("kinds".into(), Fact::List(p.signals.clone()));
    for kind in [
        "job_change",
        "page_visit",
        "reply",
        "click",
        "meeting_booked",
    ] {
        facts
            .signal
            .insert(kind.into(), Fact::Bool(p.signals.iter().any(|s| s == kind)));
    }

    if let Some(a) = &p.account {
        let mut account = |name: &str, value: Option<Fact>| {
            if let Some(v) = value {
                facts.account.insert(name.to_string(), v);
            }
        };
        account("name", Some(Fact::Text(a.name.clone())));
        account("domain", Some(Fact::Text(a.domain.clone())));
        account("industry", a.industry.clone().map(Fact::Text));
        account("employees", a.employees.map(Fact::Int));
        account("revenue", a.revenue.map(Fact::Int));
        account("technologies", Some(Fact::List(a.technologies.clone())));
        account("tags", Some(Fact::List(a.tags.clone())));
        account("country", opt(&c.country));
    } else {
        // Conditions like `'strategic' in account.tags` stay answerable.
        facts.account.insert("tags".into(), Fact::List(Vec::new()));
        facts
            .account
            .insert("technologies".into(), Fact::List(Vec::new()));
    }
    facts
}
