//! [`ModelInput`]: everything a drafter may know about one step for one
//! prospect. Its fields are private and [`ModelInput::build`] is the only
//! way to make one, so every value in it has passed the playbook's
//! data-access rules: a field the playbook marks `never`, or
//! `human_confirm` without a confirmation, cannot reach any backend.

use serde::Serialize;

use sha2::{Digest, Sha256};

use super::audience::{Audience, offer};
use super::research::AccountFacts;
use crate::playbook::{ContentCenter, ContentKind, StepKind};
use crate::policy::data_access::{Access, DataAccessPolicy};

/// The step being drafted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepBrief {
    pub sequence: String,
    /// `cold`, `post_meeting`, …
    pub sequence_type: String,
    /// 0-based position in the sequence.
    pub index: u32,
    /// How many email, call and social steps the sequence has.
    pub count: u32,
    pub kind: StepKind,
    /// A follow-up in the thread of the previous email.
    pub thread: bool,
    /// The playbook's guidance for this step.
    pub note: Option<String>,
    /// The subject of the thread this step replies in.
    pub thread_subject: Option<String>,
}

/// Who is writing: the workspace's own facts, not the prospect's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SenderBrief {
    pub name: String,
    pub company: String,
}

/// A content-center item offered to the drafter, citable by `id`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentRef {
    pub id: String,
    pub kind: ContentKind,
    pub text: String,
    /// Proof points only: checked, so it may be stated as written.
    pub verified: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInput {
    step: StepBrief,
    sender: SenderBrief,
    /// `root.name` → value, only what the data-access rules allow.
    fields: Vec<(String, String)>,
    content: Vec<ContentRef>,
    /// Names (never values) of the fields held back, and why.
    withheld: Vec<(String, Access)>,
}

impl ModelInput {
    /// The one door to a model. `candidates` are every field the caller
    /// knows (`contact.first_name`, `account.industry`, `research.summary`,
    /// …); only those `policy` allows pass, `human_confirm` ones only when
    /// named in `confirmed`. Empty values are dropped: a blank is not a fact.
    pub fn build(
        policy: &DataAccessPolicy,
        step: StepBrief,
        sender: SenderBrief,
        candidates: Vec<(String, String)>,
        confirmed: &[String],
        content: Vec<ContentRef>,
    ) -> ModelInput {
        let present = candidates
            .into_iter()
            .filter(|(_, value)| !value.trim().is_empty());
        let filtered = policy.filter(present, confirmed);
        ModelInput {
            step,
            sender,
            fields: filtered.allowed,
            content,
            withheld: filtered.withheld,
        }
    }

    pub fn step(&self) -> &StepBrief {
        &self.step
    }

    pub fn sender(&self) -> &SenderBrief {
        &self.sender
    }

    /// The allowed fields, in the order they were given.
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn content(&self) -> &[ContentRef] {
        &self.content
    }

    pub fn content_of(&self, kind: ContentKind) -> impl Iterator<Item = &ContentRef> {
        self.content.iter().filter(move |item| item.kind == kind)
    }

    /// What was held back, by name only, for `handoff ai prompt`.
    pub fn withheld(&self) -> &[(String, Access)] {
        &self.withheld
    }
}

/// Everything an account's research may be built from. Like
/// [`ModelInput`], only [`ResearchInput::build`] makes one: the account's
/// `account.*` / `signal.*` fields the playbook allows, and the
/// content-center pain points for the account's segment. Research is
/// shared by every contact at the account, so no `contact.*` field can get
/// in, whatever the policy says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResearchInput {
    fields: Vec<(String, String)>,
    /// The segment's pain points: what the content center says matters.
    priorities: Vec<ContentRef>,
    withheld: Vec<(String, Access)>,
}

impl ResearchInput {
    pub fn build(
        policy: &DataAccessPolicy,
        account: &AccountFacts,
        confirmed: &[String],
        center: &ContentCenter,
    ) -> ResearchInput {
        let present = account.candidates().into_iter().filter(|(name, value)| {
            !value.trim().is_empty()
                && (name.starts_with("account.") || name.starts_with("signal."))
        });
        let filtered = policy.filter(present, confirmed);
        let get = |name: &str| {
            filtered
                .allowed
                .iter()
                .find(|(field, _)| field == name)
                .map(|(_, value)| value.clone())
        };
        // The segment is read from allowed fields only, so a withheld
        // industry cannot leak back in through the items it selects.
        let audience = Audience {
            industry: get("account.industry"),
            employees: get("account.employees").and_then(|n| n.parse().ok()),
            country: get("account.country"),
            ..Audience::default()
        };
        let priorities = offer(center, &audience)
            .into_iter()
            .filter(|item| item.kind == ContentKind::PainPoint)
            .collect();
        ResearchInput {
            fields: filtered.allowed,
            priorities,
            withheld: filtered.withheld,
        }
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn priorities(&self) -> &[ContentRef] {
        &self.priorities
    }

    pub fn withheld(&self) -> &[(String, Access)] {
        &self.withheld
    }

    /// SHA-256 of the allowed fields and the priorities: research is
    /// rebuilt when this changes, whoever (template or model) built it.
    pub fn data_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for (field, value) in &self.fields {
            hasher.update(field.as_bytes());
            hasher.update([0]);
            hasher.update(value.as_bytes());
            hasher.update([0]);
        }
        for item in &self.priorities {
            hasher.update(item.id.as_bytes());
            hasher.update([0]);
            hasher.update(item.text.as_bytes());
            hasher.update([0]);
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::DataAccess;

    fn step() -> StepBrief {
        StepBrief {
            sequence: "sdr-cold".into(),
            sequence_type: "cold".into(),
            index: 0,
            count: 3,
            kind: StepKind::Email,
            thread: false,
            note: None,
            thread_subject: None,
        }
    }

    #[test]
    fn only_allowed_and_confirmed_fields_get_in() {
        let policy = DataAccessPolicy::new(&DataAccess {
            ai_may_use: vec!["contact.first_name".into(), "research.*".into()],
            human_confirm: vec!["contact.city".into()],
            never: vec!["contact.phone".into()],
        });
        let candidates = vec![
            ("contact.first_name".to_string(), "Ina".to_string()),
            ("contact.phone".to_string(), "+49 30 1234".to_string()),
            ("contact.city".to_string(), "Berlin".to_string()),
            (
                "research.summary".to_string(),
                "Fintech, 400 people".to_string(),
            ),
            ("research.empty".to_string(), "  ".to_string()),
            ("contact.unlisted".to_string(), "secret".to_string()),
        ];
        let sender = SenderBrief {
            name: "Dana".into(),
            company: "Northwind".into(),
        };
        let input = ModelInput::build(&policy, step(), sender, candidates, &[], Vec::new());
        let names: Vec<&str> = input.fields().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["contact.first_name", "research.summary"]);
        assert_eq!(input.field("contact.phone"), None);
        let withheld: Vec<&str> = input.withheld().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            withheld,
            ["contact.phone", "contact.city", "contact.unlisted"]
        );
    }

    #[test]
    fn research_input_keeps_to_allowed_account_fields() {
        let policy = DataAccessPolicy::new(&DataAccess {
            ai_may_use: vec!["account.name".into(), "account.industry".into()],
            human_confirm: vec!["signal.page_visit".into()],
            never: vec!["account.revenue".into()],
        });
        let account = AccountFacts {
            name: "Acme".into(),
            domain: "acme.com".into(),
            industry: Some("fintech".into()),
            revenue: Some(9_000_000),
            signals: vec!["page_visit".into()],
            ..AccountFacts::default()
        };
        let input = ResearchInput::build(&policy, &account, &[], &ContentCenter::default());
        let names: Vec<&str> = input.fields().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["account.name", "account.industry"]);
        let withheld: Vec<&str> = input.withheld().iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            withheld,
            ["account.domain", "account.revenue", "signal.page_visit"]
        );
        let confirmed = ResearchInput::build(
            &policy,
            &account,
            &["signal.page_visit".into()],
            &ContentCenter::default(),
        );
        assert_eq!(confirmed.field("signal.page_visit"), Some("true"));
        assert_ne!(input.data_hash(), confirmed.data_hash());
    }
}
