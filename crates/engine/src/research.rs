//! The research stage: one summary per account, built the first time a
//! contact there needs one and reused by every other contact, rebuilt only
//! when the data it stands on changes. High-value accounts (the playbook's
//! `research` escalation rules) go to a person for custom insight first;
//! what they write when they resolve the escalation becomes
//! `research.insight`.

use handoff_domain::drafting::{AccountFacts, summarize};
use handoff_domain::playbook::{Playbook, Stage};
use handoff_domain::policy::data_access::DataAccessPolicy;
use handoff_domain::policy::{Context, Policy};
use handoff_store::{
    AccountProfile, AccountResearch, CommandContext, NewEscalation, Prospect, Store, StoreError,
};

use crate::list_building::facts::facts_of;

/// What the account's stored research is after [`ensure_research`].
#[derive(Debug, Clone, PartialEq)]
pub struct Researched {
    pub research: AccountResearch,
    /// True when the stored summary was still current and reused.
    pub reused: bool,
}

pub fn account_facts(account: &AccountProfile, country: Option<&str>) -> AccountFacts {
    AccountFacts {
        name: account.name.clone(),
        domain: account.domain.clone(),
        industry: account.industry.clone(),
        employees: account.employees,
        revenue: account.revenue,
        technologies: account.technologies.clone(),
        country: country.map(str::to_string),
        signals: Vec::new(),
    }
}

/// The account's research, built (and stored, with its ledger entry) only
/// when there is none or its inputs changed.
pub async fn ensure_research(
    store: &dyn Store,
    ctx: &CommandContext,
    playbook: &Playbook,
    data_access: &DataAccessPolicy,
    account: &AccountProfile,
    country: Option<&str>,
) -> Result<Researched, StoreError> {
    let built = summarize(
        data_access,
        &[],
        &account_facts(account, country),
        &playbook.content,
    );
    if let Some(stored) = store.account_research(account.id).await?
        && stored.data_hash == built.data_hash
    {
        return Ok(Researched {
            research: stored,
            reused: true,
        });
    }
    let research = AccountResearch {
        account_id: account.id,
        data_hash: built.data_hash,
        facts: built.facts,
        priorities: built.priorities,
        built_by: "template".to_string(),
        usage: None,
        built_at: ctx.now,
    };
    store.save_research(ctx, &research).await?;
    Ok(Researched {
        research,
        reused: false,
    })
}

/// Whether a person must add insight before AI drafts for this prospect.
#[derive(Debug, Clone, PartialEq)]
pub enum Insight {
    /// No research rule applies.
    NotNeeded,
    /// A person is on it (the escalation was opened now or earlier).
    Waiting { rule_id: String, opened_now: bool },
    /// A person resolved it; their note is the insight.
    Given(String),
}

/// Runs the playbook's `research` escalation rules for the prospect and
/// opens the escalation the first time one matches.
pub async fn custom_insight(
    store: &dyn Store,
    ctx: &CommandContext,
    policy: &Policy,
    prospect: &Prospect,
) -> Result<Insight, StoreError> {
    let context = Context::from_facts(&facts_of(prospect), ctx.now);
    let matched = policy.escalations(Stage::Research, &context).matched;
    let Some(rule) = matched.first() else {
        return Ok(Insight::NotNeeded);
    };
    let earlier = store.escalations_for(prospect.contact.id).await?;
    let mine = earlier
        .iter()
        .filter(|e| e.stage == Stage::Research && e.rule_id == rule.rule_id);
    if let Some(resolved) = mine.clone().rev().find(|e| e.resolved_at.is_some()) {
        return Ok(Insight::Given(
            resolved.resolution.clone().unwrap_or_default(),
        ));
    }
    if mine.clone().next().is_some() {
        return Ok(Insight::Waiting {
            rule_id: rule.rule_id.to_string(),
            opened_now: false,
        });
    }
    store
        .open_escalation(
            ctx,
            &NewEscalation {
                contact_id: Some(prospect.contact.id),
                stage: Stage::Research,
                rule_id: rule.rule_id.to_string(),
                reason: rule.reason.to_string(),
                priority: rule.priority,
                assignee: prospect.contact.owner.clone(),
                due_at: rule
                    .sla_secs
                    .and_then(|secs| i64::try_from(secs).ok())
                    .map(|secs| ctx.now + chrono::Duration::seconds(secs)),
            },
        )
        .await?;
    Ok(Insight::Waiting {
        rule_id: rule.rule_id.to_string(),
        opened_now: true,
    })
}
