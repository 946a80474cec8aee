//! [`ModelInput`]: everything a drafter may know about one step for one
//! prospect. Its fields are private and [`ModelInput::build`] is the only
//! way to make one, so every value in it has passed the playbook's
//! data-access rules: a field the playbook marks `never`, or
//! `human_confirm` without a confirmation, cannot reach any backend.

use serde::Serialize;

use crate::playbook::{ContentKind, StepKind};
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
}
