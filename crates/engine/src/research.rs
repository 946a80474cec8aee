//! The research stage: one summary per account, built the first time a
//! contact there needs one and reused by every other contact, rebuilt only
//! when the data it stands on changes. A model backend writes it from the
//! filtered account data; the template backend composes it from the same. High-value accounts (the playbook's
//! `research` escalation rules) go to a person for custom insight first;
//! what they write when they resolve the escalation becomes
//! `research.insight`.

use handoff_ai::{DraftError, Drafter};
use handoff_domain::AccountId;
use handoff_domain::drafting::{AccountFacts, ResearchInput, research_from_input};
use handoff_domain::playbook::{Playbook, Stage};
use handoff_domain::policy::data_access::DataAccessPolicy;
use handoff_domain::policy::{Context, Policy};
use handoff_store::{
    AccountProfile, AccountResearch, CommandContext, NewEscalation, Prospect, Store, StoreError,
};
use sha2::{Digest, Sha256};

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

#[derive(Debug, thiserror::Error)]
pub enum ResearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The model could not write the research; nothing was stored, so the
    /// next contact at the account tries again.
    #[error("the research for account {account} ({name}) could not be written: {source}")]
    Model {
        account: AccountId,
        name: String,
        #[source]
        source: DraftError,
    },
}

/// The account's research, built (and stored, with its ledger entry) only
/// when there is none or its inputs changed, or always when `reuse` is
/// false (per-contact research, the baseline `bench draft` measures).
/// `drafter` writes it when it is a model backend; otherwise it is composed
/// from the same filtered input.
#[allow(clippy::too_many_arguments)]
pub async fn ensure_research(
    store: &dyn Store,
    ctx: &CommandContext,
    playbook: &Playbook,
    data_access: &DataAccessPolicy,
    drafter: &dyn Drafter,
    account: &AccountProfile,
    country: Option<&str>,
    reuse: bool,
) -> Result<Researched, ResearchError> {
    let input = ResearchInput::build(
        data_access,
        &account_facts(account, country),
        &[],
        &playbook.content,
    );
    // The hash is of the filtered inputs, never of what a model wrote, so
    // the same data always finds the stored research.
    let data_hash = input.data_hash();
    if reuse
        && let Some(stored) = store.account_research(account.id).await?
        && stored.data_hash == data_hash
    {
        return Ok(Researched {
            research: stored,
            reused: true,
        });
    }
    let template = research_from_input(&input);
    let written = drafter
        .research(&input, research_seed(account.id))
        .await
        .map_err(|source| ResearchError::Model {
            account: account.id,
            name: account.name.clone(),
            source,
        })?;
    let (facts, built_by, usage) = match written {
        Some(answer) => (
            answer.facts,
            answer.model,
            serde_json::to_value(answer.usage).ok(),
        ),
        None => (template.facts, "template".to_string(), None),
    };
    let research = AccountResearch {
        account_id: account.id,
        data_hash,
        facts,
        priorities: template.priorities,
        built_by,
        usage,
        built_at: ctx.now,
    };
    store.save_research(ctx, &research).await?;
    Ok(Researched {
        research,
        reused: false,
    })
}

fn research_seed(account: AccountId) -> u64 {
    let digest = Sha256::digest(account.to_string().as_bytes());
    let mut bytes = [0_u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
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
                due_at: Some(handoff_domain::escalation::due_at(ctx.now, rule.sla_secs)),
            },
        )
        .await?;
    Ok(Insight::Waiting {
        rule_id: rule.rule_id.to_string(),
        opened_now: true,
    })
}
