//! Policy test cases: a draft (or an event) in a context, and the verdict
//! and rule ids a policy must give it. `handoff policy test CASES.toml`
//! runs them; a RevOps change to the playbook that breaks a case fails in
//! review like code does.
//!
//! ```toml
//! [[case]]
//! name = "a price in the body needs approval"
//! sequence_type = "cold"          # default "cold"
//! subject = "Quick question"
//! body = "Our pricing starts at $400 a month."
//! confidence = 0.9                # default 1.0
//! grounding = ["pr-acme-close"]   # content-center ids the draft cites
//! ungrounded = ["Our customers save 40%."]  # sentences the drafter could not trace
//! author = "ai"                   # ai | template | human (default ai)
//! contact = { seniority = "manager", department = "finance" }
//! account = { industry = "software", employees = 300, tags = ["strategic"] }
//! expect = { verdict = "needs_approval", rules = ["pricing"] }
//!
//! [[case]]
//! name = "a positive reply goes to a person at once"
//! stage = "engagement"            # judge an event against this stage's escalation rules
//! event = { kind = "reply", label = "positive" }
//! expect = { verdict = "escalate", rules = ["positive-reply"], priority = "urgent" }
//! ```
//!
//! `rules` lists every rule that fired, in any order: content rules with a
//! finding that was not grounded, and escalation rules that matched. A
//! case whose `stage` is given judges only that stage's escalation rules;
//! its verdict is `escalate` or `none`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AuthorKind, Context, DraftInput, Policy, Verdict};
use crate::escalation::Stage;
use crate::scoring::Fact;

/// The evaluation time of a case that gives none: fixed, so a case file
/// gives the same answers on every machine and every day.
pub const DEFAULT_NOW: &str = "2026-01-05T15:00:00Z";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    #[serde(default)]
    case: Vec<toml::Spanned<Case>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default = "default_sequence_type")]
    pub sequence_type: String,
    #[serde(default)]
    pub subject: String,
    #[serde(default)]
    pub body: String,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
    #[serde(default)]
    pub grounding: Vec<String>,
    #[serde(default)]
    pub ungrounded: Vec<String>,
    #[serde(default = "default_author")]
    pub author: String,
    #[serde(default)]
    pub now: Option<String>,
    #[serde(default)]
    pub contact: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub account: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub signal: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub draft: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub event: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub sequence: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub mailbox: BTreeMap<String, toml::Value>,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub verdict: String,
    #[serde(default)]
    pub rules: Vec<String>,
    #[serde(default)]
    pub priority: Option<String>,
}

fn default_sequence_type() -> String {
    "cold".into()
}

fn default_confidence() -> f64 {
    1.0
}

fn default_author() -> String {
    "ai".into()
}

/// A case as read, with the line it starts on.
#[derive(Debug, Clone)]
pub struct LocatedCase {
    pub line: usize,
    pub case: Case,
}

/// A case file that cannot be read: where and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct CaseFileError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Reads a case file.
pub fn parse_cases(source: &str) -> Result<Vec<LocatedCase>, CaseFileError> {
    let file: CaseFile = toml::from_str(source).map_err(|e| {
        let (line, column) = e
            .span()
            .map(|span| line_col(source, span.start))
            .unwrap_or((1, 1));
        CaseFileError {
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    if file.case.is_empty() {
        return Err(CaseFileError {
            line: 1,
            column: 1,
            message: "no cases: add one or more [[case]] tables (see docs/policy.md)".into(),
        });
    }
    Ok(file
        .case
        .into_iter()
        .map(|spanned| LocatedCase {
            line: line_col(source, spanned.span().start).0,
            case: spanned.into_inner(),
        })
        .collect())
}

/// What the policy gave a case.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub verdict: String,
    pub rules: BTreeSet<String>,
    pub priority: Option<String>,
}

/// A case whose outcome differs from what it expects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    pub line: usize,
    pub name: String,
    pub expected_verdict: String,
    pub got_verdict: String,
    /// Expected to fire and did not.
    pub missing_rules: Vec<String>,
    /// Fired and not expected.
    pub unexpected_rules: Vec<String>,
    pub expected_priority: Option<String>,
    pub got_priority: Option<String>,
    /// A case that could not be run at all (a bad value in it).
    pub problem: Option<String>,
}

fn fact(value: &toml::Value) -> Result<Fact, String> {
    Ok(match value {
        toml::Value::String(s) => Fact::Text(s.clone()),
        toml::Value::Integer(i) => Fact::Int(*i),
        toml::Value::Float(f) => Fact::Float(*f),
        toml::Value::Boolean(b) => Fact::Bool(*b),
        toml::Value::Array(items) => Fact::List(
            items
                .iter()
                .map(|item| match item {
                    toml::Value::String(s) => Ok(s.clone()),
                    other => Err(format!("lists hold text only, found {}", other.type_str())),
                })
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("a {} cannot be a fact", other.type_str())),
    })
}

fn facts(
    root: &str,
    values: &BTreeMap<String, toml::Value>,
) -> Result<BTreeMap<String, Fact>, String> {
    values
        .iter()
        .map(|(k, v)| {
            fact(v)
                .map(|f| (k.clone(), f))
                .map_err(|e| format!("{root}.{k}: {e}"))
        })
        .collect()
}

fn context_of(case: &Case) -> Result<Context, String> {
    let now = case.now.as_deref().unwrap_or(DEFAULT_NOW);
    let now: DateTime<Utc> = DateTime::parse_from_rfc3339(now)
        .map_err(|e| {
            format!("now = {now:?} is not an RFC 3339 time ({e}); write e.g. \"{DEFAULT_NOW}\"")
        })?
        .with_timezone(&Utc);
    let mut context = Context::new(now);
    context.contact = facts("contact", &case.contact)?;
    context.account = facts("account", &case.account)?;
    context.signal = facts("signal", &case.signal)?;
    context.draft = facts("draft", &case.draft)?;
    context.event = facts("event", &case.event)?;
    context.sequence = facts("sequence", &case.sequence)?;
    context.mailbox = facts("mailbox", &case.mailbox)?;
    Ok(context)
}

fn author(name: &str) -> Result<AuthorKind, String> {
    match name {
        "ai" => Ok(AuthorKind::Ai),
        "template" => Ok(AuthorKind::Template),
        "human" => Ok(AuthorKind::Human),
        other => Err(format!(
            "author = {other:?}: write \"ai\", \"template\" or \"human\""
        )),
    }
}

/// What `policy` gives `case`.
pub fn run_case(policy: &Policy, case: &Case, id: &str) -> Result<Outcome, String> {
    let context = context_of(case)?;
    if let Some(stage) = &case.stage {
        let stage: Stage = stage.parse().map_err(|_| {
            format!(
                "stage = {stage:?}: write one of list_building, research, drafting, send_approval, engagement, follow_up"
            )
        })?;
        let matched = policy.escalations(stage, &context);
        let top = matched.top();
        return Ok(Outcome {
            verdict: if top.is_some() { "escalate" } else { "none" }.to_string(),
            rules: matched
                .matched
                .iter()
                .map(|e| e.rule_id.to_string())
                .collect(),
            priority: top.map(|e| e.priority.as_str().to_string()),
        });
    }
    let draft = DraftInput {
        id: id.to_string(),
        subject: case.subject.clone(),
        body: case.body.clone(),
        sequence_type: case.sequence_type.clone(),
        confidence: case.confidence,
        grounding: case.grounding.clone(),
        author: author(&case.author)?,
        ungrounded: case.ungrounded.clone(),
    };
    let evaluation = policy.evaluate(&draft, &context);
    let mut rules: BTreeSet<String> = evaluation
        .findings
        .iter()
        .map(|f| f.rule_id.to_string())
        .collect();
    rules.extend(evaluation.escalations.iter().map(|e| e.rule_id.to_string()));
    let priority = match &evaluation.verdict {
        Verdict::Escalate { priority, .. } => Some(priority.as_str().to_string()),
        _ => None,
    };
    Ok(Outcome {
        verdict: evaluation.verdict.name().to_string(),
        rules,
        priority,
    })
}

/// Runs every case; the failures, in file order.
pub fn run_cases(policy: &Policy, cases: &[LocatedCase]) -> Vec<Failure> {
    let mut failures = Vec::new();
    for (index, LocatedCase { line, case }) in cases.iter().enumerate() {
        let expected_rules: BTreeSet<String> = case.expect.rules.iter().cloned().collect();
        let failure = |got: Option<&Outcome>, problem: Option<String>| Failure {
            line: *line,
            name: case.name.clone(),
            expected_verdict: case.expect.verdict.clone(),
            got_verdict: got.map(|o| o.verdict.clone()).unwrap_or_default(),
            missing_rules: got
                .map(|o| expected_rules.difference(&o.rules).cloned().collect())
                .unwrap_or_default(),
            unexpected_rules: got
                .map(|o| o.rules.difference(&expected_rules).cloned().collect())
                .unwrap_or_default(),
            expected_priority: case.expect.priority.clone(),
            got_priority: got.and_then(|o| o.priority.clone()),
            problem,
        };
        // A fixed id per case: QA sampling depends on it, and must not
        // change between runs.
        match run_case(policy, case, &format!("case-{}", index + 1)) {
            Err(problem) => failures.push(failure(None, Some(problem))),
            Ok(outcome) => {
                let priority_ok = case
                    .expect
                    .priority
                    .as_ref()
                    .is_none_or(|p| Some(p) == outcome.priority.as_ref());
                if outcome.verdict != case.expect.verdict
                    || outcome.rules != expected_rules
                    || !priority_ok
                {
                    failures.push(failure(Some(&outcome), None));
                }
            }
        }
    }
    failures
}

impl Failure {
    /// The lines `policy test` prints for this failure.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(problem) = &self.problem {
            lines.push(format!("  cannot run: {problem}"));
            return lines;
        }
        if self.expected_verdict != self.got_verdict {
            lines.push(format!("  - verdict {}", self.expected_verdict));
            lines.push(format!("  + verdict {}", self.got_verdict));
        }
        for rule in &self.missing_rules {
            lines.push(format!("  - rule {rule} (expected to fire, did not)"));
        }
        for rule in &self.unexpected_rules {
            lines.push(format!("  + rule {rule} (fired, not expected)"));
        }
        if let Some(expected) = &self.expected_priority
            && Some(expected) != self.got_priority.as_ref()
        {
            lines.push(format!("  - priority {expected}"));
            lines.push(format!(
                "  + priority {}",
                self.got_priority.as_deref().unwrap_or("(none)")
            ));
        }
        lines
    }
}
