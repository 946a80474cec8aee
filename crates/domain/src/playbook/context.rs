//! What a CEL condition can read: the variables of the context, their
//! fields and types, and which variables each kind of rule sees.
//!
//! One table for everyone: `handoff policy check` type-checks conditions
//! against it, the policy engine builds its CEL context from it, and
//! `docs/policy.md` documents it (a test keeps the doc in step). It is
//! plain data on purpose, so a new field is one line here.
//!
//! `contact`, `account` and `signal` are the prospect facts ICP rules and
//! list building already read (`engine::list_building::facts`); `draft`,
//! `event`, `sequence`, `mailbox` and `now` exist once a prospect is in a
//! sequence. A value nobody knows is missing from its record, never null:
//! a condition that reads it cannot be decided.

use serde::Serialize;

use crate::escalation::Stage;

/// The type of a field, as CEL sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CelType {
    String,
    Int,
    Double,
    Bool,
    /// `list<string>`
    StringList,
    Timestamp,
    Duration,
}

impl CelType {
    /// The CEL spelling: `string`, `int`, `list<string>`, ...
    pub fn name(self) -> &'static str {
        match self {
            CelType::String => "string",
            CelType::Int => "int",
            CelType::Double => "double",
            CelType::Bool => "bool",
            CelType::StringList => "list<string>",
            CelType::Timestamp => "timestamp",
            CelType::Duration => "duration",
        }
    }
}

/// One field of a record, e.g. `contact.seniority`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Field {
    pub name: &'static str,
    pub ty: CelType,
    /// Every value a `string` field can have, or every value the items of a
    /// `list<string>` can have; empty when the text is free.
    pub values: &'static [&'static str],
    /// The least and greatest value of a number; `None` when unbounded.
    pub range: Option<(f64, f64)>,
    /// One line for the docs.
    pub description: &'static str,
}

/// A variable of the context: a record with fields, or one value (`now`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Variable {
    pub name: &'static str,
    pub shape: Shape,
    /// One line for the docs.
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// Read as `name.field`.
    Record(&'static [Field]),
    /// Read as `name` itself.
    Value(CelType),
}

impl Variable {
    /// The fields of a record; none for a plain value.
    pub fn fields(&self) -> &'static [Field] {
        match self.shape {
            Shape::Record(fields) => fields,
            Shape::Value(_) => &[],
        }
    }

    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields().iter().find(|field| field.name == name)
    }
}

/// Where a condition is written: which variables exist there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "stage")]
pub enum Site {
    /// `[[icp.rule]] when`
    IcpRule,
    /// `[[governance.content]] guard`
    ContentGuard,
    /// `[[governance.escalate]] when`, at its stage.
    Escalation(Stage),
}

impl Site {
    /// Every site, in workflow order.
    pub const ALL: [Site; 8] = [
        Site::IcpRule,
        Site::Escalation(Stage::ListBuilding),
        Site::Escalation(Stage::Research),
        Site::Escalation(Stage::Drafting),
        Site::ContentGuard,
        Site::Escalation(Stage::SendApproval),
        Site::Escalation(Stage::Engagement),
        Site::Escalation(Stage::FollowUp),
    ];

    /// The variables a condition here may read.
    pub fn variables(self) -> &'static [&'static str] {
        const PROSPECT: &[&str] = &["contact", "account", "signal"];
        match self {
            // List building reads the prospect facts only, as scoring does.
            Site::IcpRule | Site::Escalation(Stage::ListBuilding) => PROSPECT,
            Site::Escalation(Stage::Research) => &["contact", "account", "signal", "now"],
            Site::Escalation(Stage::Drafting) | Site::ContentGuard => {
                &["contact", "account", "signal", "sequence", "draft", "now"]
            }
            Site::Escalation(Stage::SendApproval) => &[
                "contact", "account", "signal", "sequence", "draft", "mailbox", "now",
            ],
            Site::Escalation(Stage::Engagement | Stage::FollowUp) => {
                &["contact", "account", "signal", "sequence", "event", "now"]
            }
        }
    }

    pub fn allows(self, variable: &str) -> bool {
        self.variables().contains(&variable)
    }

    /// For messages: "ICP rules", "`engagement` escalation rules", ...
    pub fn describe(self) -> String {
        match self {
            Site::IcpRule => "ICP rules".to_string(),
            Site::ContentGuard => "content rule guards".to_string(),
            Site::Escalation(stage) => format!("`{stage}` escalation rules"),
        }
    }
}

/// The variable called `name`.
pub fn variable(name: &str) -> Option<&'static Variable> {
    VARIABLES.iter().find(|variable| variable.name == name)
}

// ── Values of the closed fields ──────────────────────────────────────────
// Spelled out because a const table cannot call `as_str`; tests check them
// against the enums they mirror.

/// `crate::titles::Seniority`
pub const SENIORITIES: &[&str] = &[
    "c_suite",
    "vp",
    "director",
    "head",
    "manager",
    "senior_ic",
    "ic",
    "unknown",
];

/// `crate::titles::Department`
pub const DEPARTMENTS: &[&str] = &[
    "engineering",
    "sales",
    "marketing",
    "finance",
    "operations",
    "hr",
    "legal",
    "it",
    "product",
    "executive",
    "customer_success",
    "other",
];

/// `crate::verification::Verdict` statuses, plus `unverified` (never checked).
pub const VERIFICATION_STATUSES: &[&str] = &["valid", "risky", "invalid", "unknown", "unverified"];

/// `crate::scoring::Tier`
pub const TIERS: &[&str] = &["excellent", "good", "fair", "not_a_fit"];

/// What happened to a prospect (DESIGN.md §3), plus `meeting_logged`: notes
/// or a transcript recorded after a meeting.
pub const EVENT_KINDS: &[&str] = &[
    "reply",
    "bounce",
    "complaint",
    "unsubscribe",
    "click",
    "open",
    "page_visit",
    "meeting_booked",
    "meeting_logged",
    "job_change",
];

/// How a reply is classified (DESIGN.md §5). A referral to someone else is
/// `wrong_person`.
pub const REPLY_LABELS: &[&str] = &[
    "positive",
    "meeting_request",
    "objection",
    "not_now",
    "not_interested",
    "unsubscribe",
    "out_of_office",
    "wrong_person",
    "bounce",
];

/// Who wrote a draft.
pub const DRAFT_AUTHORS: &[&str] = &["ai", "template", "human"];

/// `super::OwnerRole`
pub const OWNER_ROLES: &[&str] = &["sdr", "ae"];

// ── The table ────────────────────────────────────────────────────────────

const fn field(name: &'static str, ty: CelType, description: &'static str) -> Field {
    Field {
        name,
        ty,
        values: &[],
        range: None,
        description,
    }
}

const fn one_of(
    name: &'static str,
    ty: CelType,
    values: &'static [&'static str],
    description: &'static str,
) -> Field {
    Field {
        name,
        ty,
        values,
        range: None,
        description,
    }
}

const fn number(
    name: &'static str,
    ty: CelType,
    range: (f64, f64),
    description: &'static str,
) -> Field {
    Field {
        name,
        ty,
        values: &[],
        range: Some(range),
        description,
    }
}

use CelType::{Bool, Double, Int, String as Text, StringList, Timestamp};

const UNBOUNDED: f64 = f64::INFINITY;

const CONTACT: &[Field] = &[
    field("email", Text, "The address, normalised to lower case."),
    field("first_name", Text, "First name."),
    field("last_name", Text, "Last name."),
    field("title", Text, "Job title as imported."),
    one_of(
        "seniority",
        Text,
        SENIORITIES,
        "Seniority normalised from the title; `unknown` when it says nothing.",
    ),
    one_of(
        "department",
        Text,
        DEPARTMENTS,
        "Department normalised from the title; `other` when it says nothing.",
    ),
    field("city", Text, "City."),
    field("country", Text, "Country, as imported."),
    field("company", Text, "Company name as imported."),
    field(
        "owner",
        Text,
        "Username of the person who owns the prospect.",
    ),
    one_of(
        "verification",
        Text,
        VERIFICATION_STATUSES,
        "Email verification status; `unverified` until checked.",
    ),
    one_of("tier", Text, TIERS, "ICP tier of the last score."),
    number(
        "score",
        Int,
        (0.0, 100.0),
        "ICP score of the last scoring, 0 to 100.",
    ),
];

const ACCOUNT: &[Field] = &[
    field("name", Text, "Company name."),
    field(
        "domain",
        Text,
        "Registrable domain, lower case, e.g. `example.com`.",
    ),
    field("industry", Text, "Industry, as imported (free text)."),
    number("employees", Int, (0.0, UNBOUNDED), "Number of employees."),
    number(
        "revenue",
        Int,
        (0.0, UNBOUNDED),
        "Annual revenue, in whole currency units.",
    ),
    field("technologies", StringList, "Technologies the company uses."),
    field(
        "tags",
        StringList,
        "Tags set on import, e.g. `strategic`; empty when none.",
    ),
    field(
        "country",
        Text,
        "Country of the contact the account was seen with.",
    ),
    number(
        "lookalike",
        Int,
        (0.0, 100.0),
        "Similarity to closed-won accounts, 0 to 100; only with `[icp.lookalike]`.",
    ),
];

const SIGNAL: &[Field] = &[
    one_of(
        "kinds",
        StringList,
        EVENT_KINDS,
        "Every kind of event recorded for the contact.",
    ),
    field("job_change", Bool, "The contact changed jobs."),
    field("page_visit", Bool, "The contact visited a tracked page."),
    field("reply", Bool, "The contact replied."),
    field("click", Bool, "The contact clicked a tracked link."),
    field("meeting_booked", Bool, "The contact booked a meeting."),
];

const DRAFT: &[Field] = &[
    field("id", Text, "The draft's id."),
    field("subject", Text, "Subject line."),
    field("body", Text, "Body text."),
    field(
        "sequence_type",
        Text,
        "Type of the sequence it was drafted for.",
    ),
    number(
        "confidence",
        Double,
        (0.0, 1.0),
        "How sure the drafter is, 0 to 1.",
    ),
    one_of("author", Text, DRAFT_AUTHORS, "Who wrote it."),
    number(
        "word_count",
        Int,
        (0.0, UNBOUNDED),
        "Words in subject and body.",
    ),
    field(
        "grounding",
        StringList,
        "Ids of the content-center items and research the draft cites.",
    ),
    field(
        "findings",
        StringList,
        "Ids of the content rules that found something in it; escalation rules only (guards run before there are findings).",
    ),
];

const EVENT: &[Field] = &[
    one_of("kind", Text, EVENT_KINDS, "What happened."),
    field("at", Timestamp, "When it happened."),
    one_of(
        "label",
        Text,
        REPLY_LABELS,
        "Replies: how the reply was classified.",
    ),
    field(
        "link",
        Text,
        "Clicks: the name of the tracked link, e.g. `meeting`.",
    ),
    field("url", Text, "Clicks and page visits: the address."),
    field(
        "attendees",
        StringList,
        "Logged meetings: the people who attended.",
    ),
    field(
        "objections",
        StringList,
        "Logged meetings: the objections raised.",
    ),
    field(
        "deal_stage",
        Text,
        "Logged meetings: the deal stage, e.g. `negotiation`.",
    ),
];

const SEQUENCE: &[Field] = &[
    field("name", Text, "The sequence's name, e.g. `sdr-cold`."),
    field(
        "type",
        Text,
        "Its type, e.g. `cold`; one of the types the playbook's sequences have.",
    ),
    one_of(
        "owner_role",
        Text,
        OWNER_ROLES,
        "Who owns its prospects; missing when unset.",
    ),
    number(
        "step",
        Int,
        (1.0, UNBOUNDED),
        "The step being drafted or sent, from 1.",
    ),
    number("steps", Int, (1.0, UNBOUNDED), "How many steps it has."),
];

const MAILBOX: &[Field] = &[
    field("address", Text, "The sending address."),
    field("owner", Text, "Username of its owner."),
    number(
        "daily_cap",
        Int,
        (1.0, UNBOUNDED),
        "Most messages a day from it (`daily_cap`).",
    ),
    number(
        "sent_today",
        Int,
        (0.0, UNBOUNDED),
        "Messages sent from it today.",
    ),
    field("warmup", Bool, "It is still ramping up to its cap."),
];

/// Every variable, in the order the docs list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "contact",
        shape: Shape::Record(CONTACT),
        description: "The prospect.",
    },
    Variable {
        name: "account",
        shape: Shape::Record(ACCOUNT),
        description: "The prospect's company.",
    },
    Variable {
        name: "signal",
        shape: Shape::Record(SIGNAL),
        description: "Intent signals recorded for the prospect.",
    },
    Variable {
        name: "sequence",
        shape: Shape::Record(SEQUENCE),
        description: "The sequence the prospect is in.",
    },
    Variable {
        name: "draft",
        shape: Shape::Record(DRAFT),
        description: "The message being drafted or approved.",
    },
    Variable {
        name: "event",
        shape: Shape::Record(EVENT),
        description: "What just happened: a reply, click, visit or logged meeting.",
    },
    Variable {
        name: "mailbox",
        shape: Shape::Record(MAILBOX),
        description: "The mailbox the message will be sent from.",
    },
    Variable {
        name: "now",
        shape: Shape::Value(Timestamp),
        description: "The time of the decision, e.g. `now.getHours('America/New_York') < 9`.",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scoring::Tier;
    use crate::titles::{Department, Seniority};

    #[test]
    fn closed_values_mirror_their_enums() {
        let seniorities: Vec<&str> = Seniority::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(seniorities, SENIORITIES);
        let departments: Vec<&str> = Department::ALL.iter().map(|d| d.as_str()).collect();
        assert_eq!(departments, DEPARTMENTS);
        let tiers: Vec<&str> = Tier::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(tiers, TIERS);
        let statuses = [
            crate::verification::Verdict::Valid.status(),
            "risky",
            "invalid",
            "unknown",
        ];
        for status in statuses {
            assert!(VERIFICATION_STATUSES.contains(&status));
        }
    }

    #[test]
    fn every_site_names_known_variables_and_each_variable_is_used() {
        for site in Site::ALL {
            for name in site.variables() {
                assert!(variable(name).is_some(), "{name} in {site:?}");
            }
        }
        for variable in VARIABLES {
            assert!(
                Site::ALL.iter().any(|site| site.allows(variable.name)),
                "{} is readable nowhere",
                variable.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut names: Vec<String> = Vec::new();
        for variable in VARIABLES {
            for field in variable.fields() {
                let path = format!("{}.{}", variable.name, field.name);
                assert!(
                    field
                        .name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_'),
                    "{path}"
                );
                assert!(!names.contains(&path), "{path} twice");
                assert!(
                    field.values.is_empty()
                        || matches!(field.ty, CelType::String | CelType::StringList),
                    "{path}"
                );
                names.push(path);
            }
        }
    }
}
