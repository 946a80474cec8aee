//! Governance evaluation: (draft, context, playbook) → verdict, with the
//! findings and escalations behind it. Pure and deterministic: the same
//! draft, context and playbook always give the same evaluation, so a
//! replay (`handoff policy simulate`) gives the same answers as the day
//! the draft was written.
//!
//! [`Policy::compile`] turns a playbook's `[governance]` and content center
//! into matchers and conditions once; [`Policy::evaluate`] then judges any
//! number of drafts, from any number of threads. A mistake in a pattern or
//! condition is a [`PolicyError`] naming the rule and the key at compile
//! time; evaluation itself never fails and never panics.
//!
//! # Content rules
//!
//! Every rule's `patterns` (Rust regexes, as written) and `phrases` are
//! matched against the subject and the body. A phrase matches as whole
//! words (a `\b` wherever it starts or ends with a letter, digit or `_`),
//! ignoring case (Unicode simple case folding), with any white space
//! between its words and curly or straight quotes: see [`phrase_to_regex`].
//! Each match is a [`Finding`] with a byte span into the field it was found
//! in (`subject` or `body`: offsets are into that string, as given in
//! [`DraftInput`]). At most [`MAX_FINDINGS_PER_RULE`] findings are kept per
//! rule and field; the rest are counted in `findings_omitted`.
//!
//! * `guard`: the rule applies only when the condition is true. A guard
//!   that cannot be decided (a fact it reads is unknown) counts as true, so
//!   the rule still applies: a gap in the data never lets a claim through.
//!   The guard is listed in `undecided`.
//! * `unless_grounded_in = KIND`: a finding is moved to `grounded` (with
//!   the id that grounds it) when the draft's grounding trace cites an item
//!   of that kind from the content center; a proof point must be
//!   `verified = true`. Ids that are not in the content center ground
//!   nothing.
//! * `note` findings are shown to the reviewer and never hold a draft.
//!
//! # Conditions and their context
//!
//! Guards and escalation `when`s are CEL over:
//!
//! | name | what |
//! |---|---|
//! | `contact`, `account`, `signal` | the prospect's facts, as scoring reads them ([`Fact`]: text, int, double, bool, list of text) |
//! | `draft` | `id`, `subject`, `body`, `sequence_type`, `confidence` (double), `author` (`'ai'`, `'template'`, `'human'`), `word_count` (int), `grounding` (cited ids); for escalation rules also `findings` (ids of the content rules with findings, after guards and grounding); plus any extra facts in [`Context::draft`] (the draft's own values win) |
//! | `event` | the event being handled (`kind`, `label`, `url`, …) |
//! | `sequence` | the sequence and step (`name`, `type`, `step`, …) |
//! | `mailbox` | the sending mailbox (`address`, `sent_today`, …) |
//! | `now` | the evaluation time, a CEL `timestamp` |
//!
//! A condition within the common subset (fields, literals, lists,
//! comparisons, `in`, `&&`, `||`, `!`, unary `-`, `size()`, and
//! `contains`/`startsWith`/`endsWith` on text) is evaluated natively with
//! cel-rust's semantics; anything else (macros, `has()`, arithmetic, `now`)
//! runs on cel-rust. A condition that reads an unknown fact, or compares
//! text with a number, is undecided (CEL's own rules decide when that
//! matters: `a || b` is true when `b` is, whatever `a` is): for an
//! escalation rule that means it does not match, and it is listed in
//! `undecided` with the reason.
//!
//! # Verdict precedence
//!
//! [`Policy::evaluate`] also runs the escalation rules of the `drafting` and
//! `send_approval` stages (the others are for events:
//! [`Policy::escalations`]). The first that applies wins:
//!
//! 1. a `block` finding → `blocked` (the ids of the blocking rules);
//! 2. a matching escalation rule → `escalate` (the highest priority, then
//!    the first in the playbook; all matches are in `escalations`);
//! 3. send authority `manual` → `manual`;
//! 4. a `review` finding, or confidence below the floor (NaN included) →
//!    `needs_approval` with the sequence type's window (24 h when its mode
//!    has none);
//! 5. `veto` → `veto_window`;
//! 6. `approval`, or a sequence type with no send authority →
//!    `needs_approval`;
//! 7. `auto` → `auto_send`, and `qa_sampled` says whether a person checks
//!    it afterwards ([`qa_sampled`]: a fixed hash of the draft id against
//!    the rate, so the same draft is always sampled the same way).
//!
//! # JSON
//!
//! ```json
//! {
//!   "draft_id": "d-42",
//!   "verdict": "needs_approval",
//!   "window_secs": 86400,
//!   "because": ["review_findings", "approval_required"],
//!   "send_mode": { "mode": "approval", "window": 86400 },
//!   "findings": [
//!     { "rule_id": "pricing", "severity": "review", "field": "body",
//!       "start": 112, "end": 119, "text": "pricing",
//!       "message": "Prices and fees must be confirmed by a person" }
//!   ],
//!   "findings_omitted": 0,
//!   "grounded": [
//!     { "rule_id": "customer-claims", "severity": "review", "field": "body",
//!       "start": 40, "end": 50, "text": "case study", "message": "…",
//!       "cited": "pr-acme-close" }
//!   ],
//!   "escalations": [],
//!   "undecided": [
//!     { "rule_id": "regulated-industry", "condition": "when",
//!       "why": "account.industry is unknown" }
//!   ],
//!   "qa_sampled": false
//! }
//! ```
//!
//! The verdict's own fields sit beside `verdict`: `auto_send` and `manual`
//! have none; `needs_approval` has `window_secs` and `because`
//! (`review_findings`, `below_confidence_floor`, `approval_required`,
//! `no_send_authority`); `veto_window` has `window_secs`; `blocked` has
//! `rule_ids`; `escalate` has `stage`, `rule_id`, `reason` and `priority`.

pub mod cases;
mod condition;
mod content;
pub mod data_access;
pub mod graduation;
pub mod replay;
mod sampling;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::escalation::{Priority, Stage};
use crate::playbook::{
    ContentCenter, ContentKind, Duration, Governance, Playbook, SendMode, Severity,
};
use crate::scoring::{Fact, Facts};
use condition::{Decision, PolicyCondition, Scope};
use content::{ContentMatcher, RawMatch, RuleText, Scratch};

pub use content::{MAX_FINDINGS_PER_RULE, RegexBaseline, phrase_to_regex};
pub use sampling::{qa_point, qa_sampled};

/// The review window when the sequence type's mode has none of its own
/// (DESIGN.md §1: the owner has 24 hours).
pub const DEFAULT_REVIEW_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

// ── Input ────────────────────────────────────────────────────────────────

/// What is judged: one draft, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftInput {
    /// Decides QA sampling: the same id is always sampled the same way.
    pub id: String,
    #[serde(default)]
    pub subject: String,
    pub body: String,
    /// Decides the send authority (`cold`, `post_meeting`, …).
    pub sequence_type: String,
    /// The drafter's confidence, 0 to 1.
    pub confidence: f64,
    /// Content-center ids the draft cites.
    #[serde(default)]
    pub grounding: Vec<String>,
    pub author: AuthorKind,
    /// Sentences of the body that state a claim no source backs, as the
    /// drafting stage found them; rules with `ungrounded_claims = true`
    /// match them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ungrounded: Vec<String>,
}

/// Who wrote a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Ai,
    Template,
    Human,
}

impl AuthorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthorKind::Ai => "ai",
            AuthorKind::Template => "template",
            AuthorKind::Human => "human",
        }
    }
}

/// What conditions can read besides the draft. A fact not in its map is
/// unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Context {
    #[serde(default)]
    pub contact: BTreeMap<String, Fact>,
    #[serde(default)]
    pub account: BTreeMap<String, Fact>,
    #[serde(default)]
    pub signal: BTreeMap<String, Fact>,
    /// Extra `draft.*` facts; the draft's own values win over these.
    #[serde(default)]
    pub draft: BTreeMap<String, Fact>,
    #[serde(default)]
    pub event: BTreeMap<String, Fact>,
    #[serde(default)]
    pub sequence: BTreeMap<String, Fact>,
    #[serde(default)]
    pub mailbox: BTreeMap<String, Fact>,
    /// `now` in conditions: passed in, never read from a clock, so a replay
    /// decides as the original did.
    pub now: DateTime<Utc>,
}

impl Context {
    /// Nothing known yet, at `now`.
    pub fn new(now: DateTime<Utc>) -> Context {
        Context {
            contact: BTreeMap::new(),
            account: BTreeMap::new(),
            signal: BTreeMap::new(),
            draft: BTreeMap::new(),
            event: BTreeMap::new(),
            sequence: BTreeMap::new(),
            mailbox: BTreeMap::new(),
            now,
        }
    }

    /// The prospect facts scoring reads: contact, account and signal.
    pub fn from_facts(facts: &Facts, now: DateTime<Utc>) -> Context {
        let mut context = Context::new(now);
        context.contact = facts.contact.clone();
        context.account = facts.account.clone();
        context.signal = facts.signal.clone();
        context
    }

    pub fn with_contact(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.contact.insert(name.into(), fact.into());
        self
    }

    pub fn with_account(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.account.insert(name.into(), fact.into());
        self
    }

    pub fn with_signal(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.signal.insert(name.into(), fact.into());
        self
    }

    pub fn with_draft(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.draft.insert(name.into(), fact.into());
        self
    }

    pub fn with_event(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.event.insert(name.into(), fact.into());
        self
    }

    pub fn with_sequence(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.sequence.insert(name.into(), fact.into());
        self
    }

    pub fn with_mailbox(mut self, name: impl Into<String>, fact: impl Into<Fact>) -> Self {
        self.mailbox.insert(name.into(), fact.into());
        self
    }
}

// ── Output ───────────────────────────────────────────────────────────────

/// A draft's judgement and everything behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub draft_id: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// The sequence type's send authority (`approval` with the default
    /// window when the type has none).
    pub send_mode: SendMode,
    /// Findings that count, subject first, then by position.
    pub findings: Vec<Finding>,
    /// Matches beyond [`MAX_FINDINGS_PER_RULE`] per rule and field.
    pub findings_omitted: usize,
    /// Findings a cited content-center item makes acceptable.
    pub grounded: Vec<GroundedFinding>,
    /// Every matching `drafting` / `send_approval` escalation rule, in
    /// playbook order.
    pub escalations: Vec<Escalation>,
    /// Guards and conditions that could not be decided, and why.
    pub undecided: Vec<Undecided>,
    /// A person checks this automatic send afterwards; false for any
    /// verdict but `auto_send`.
    pub qa_sampled: bool,
}

/// What happens to the draft.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Sent without review.
    AutoSend,
    /// Sent only if a person approves it within the window; otherwise it
    /// expires unsent.
    NeedsApproval {
        window_secs: u64,
        because: Vec<HoldReason>,
    },
    /// Sent when the window ends unless a person rejects or edits it.
    VetoWindow { window_secs: u64 },
    /// A person writes and sends it.
    Manual,
    /// Never sent as written.
    Blocked { rule_ids: Vec<String> },
    /// A person takes over.
    Escalate {
        stage: Stage,
        rule_id: String,
        reason: String,
        priority: Priority,
    },
}

impl Verdict {
    /// `auto_send`, `needs_approval`, …: as in the JSON.
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::AutoSend => "auto_send",
            Verdict::NeedsApproval { .. } => "needs_approval",
            Verdict::VetoWindow { .. } => "veto_window",
            Verdict::Manual => "manual",
            Verdict::Blocked { .. } => "blocked",
            Verdict::Escalate { .. } => "escalate",
        }
    }

    /// Whether a person is involved before the draft goes out.
    pub fn holds(&self) -> bool {
        !matches!(self, Verdict::AutoSend)
    }
}

/// Why a draft needs approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldReason {
    ReviewFindings,
    BelowConfidenceFloor,
    /// The sequence type's send authority is `approval`.
    ApprovalRequired,
    /// The sequence type has no send authority: approval is the safe
    /// default.
    NoSendAuthority,
}

/// Which text of the draft a span points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TextField {
    Subject,
    Body,
}

/// One match of a content rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub field: TextField,
    /// Byte offsets into `field`: `text == field[start..end]`.
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub message: String,
}

/// A finding that does not count: the draft cites `cited`, a content
/// center item of the kind the rule accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroundedFinding {
    #[serde(flatten)]
    pub finding: Finding,
    pub cited: String,
}

/// A matching escalation rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub stage: Stage,
    /// The rule's `id`, or `escalate-N` for the N-th rule (1-based).
    pub rule_id: String,
    pub reason: String,
    pub priority: Priority,
    pub sla_secs: Option<u64>,
}

/// A condition that could not be decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Undecided {
    pub rule_id: String,
    /// `guard` (of a content rule; the rule applied) or `when` (of an
    /// escalation rule; it did not match).
    pub condition: ConditionKey,
    pub why: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKey {
    Guard,
    When,
}

/// The escalation rules of one stage that match a context.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct StageEscalations {
    /// In playbook order.
    pub matched: Vec<Escalation>,
    pub undecided: Vec<Undecided>,
}

impl StageEscalations {
    /// The one a person sees first: highest priority, then playbook order.
    pub fn top(&self) -> Option<&Escalation> {
        top_escalation(&self.matched)
    }
}

/// A playbook mistake found while compiling, named by rule and key:
/// "[[governance.content]] `pricing` patterns[2]: invalid regular
/// expression: …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct PolicyError {
    pub location: String,
    pub message: String,
}

// ── The compiled policy ──────────────────────────────────────────────────

/// A playbook's governance, compiled once.
#[derive(Debug)]
pub struct Policy {
    matcher: ContentMatcher,
    rules: Vec<ContentRule>,
    escalation_rules: Vec<EscalationRule>,
    /// Indices into `escalation_rules` of the drafting and send_approval
    /// rules, which [`Policy::evaluate`] runs.
    draft_stage_rules: Vec<usize>,
    by_sequence_type: BTreeMap<String, SendMode>,
    qa_sample_rate: f64,
    confidence_floor: f64,
    /// Content-center ids that can ground a claim, with their kind (proof
    /// points only when verified).
    grounding: HashMap<String, ContentKind>,
    /// Conditions in the native subset are evaluated natively.
    fast_path: bool,
}

#[derive(Debug)]
struct ContentRule {
    id: String,
    severity: Severity,
    message: String,
    guard: Option<PolicyCondition>,
    unless_grounded_in: Option<ContentKind>,
    ungrounded_claims: bool,
}

#[derive(Debug)]
struct EscalationRule {
    id: String,
    stage: Stage,
    when: PolicyCondition,
    reason: String,
    priority: Priority,
    sla_secs: Option<u64>,
}

impl Policy {
    /// Compiles the playbook's governance against its content center.
    pub fn compile(playbook: &Playbook) -> Result<Policy, PolicyError> {
        Policy::from_governance(&playbook.governance, &playbook.content)
    }

    pub fn from_governance(
        governance: &Governance,
        content: &ContentCenter,
    ) -> Result<Policy, PolicyError> {
        let content_location = |index: usize| {
            let id = governance
                .content_rules
                .get(index)
                .map(|rule| rule.id.as_str())
                .unwrap_or("?");
            format!("[[governance.content]] #{} `{id}`", index + 1)
        };
        let texts: Vec<RuleText<'_>> = governance
            .content_rules
            .iter()
            .map(|rule| RuleText {
                patterns: &rule.patterns,
                phrases: &rule.phrases,
            })
            .collect();
        let matcher = ContentMatcher::compile(&texts).map_err(|error| PolicyError {
            location: format!(
                "{} {}[{}]",
                content_location(error.rule),
                error.key,
                error.index + 1
            ),
            message: error.message,
        })?;

        let mut rules = Vec::with_capacity(governance.content_rules.len());
        for (index, rule) in governance.content_rules.iter().enumerate() {
            let guard = match &rule.guard {
                Some(guard) => {
                    Some(PolicyCondition::compile(guard.as_str()).map_err(|message| {
                        PolicyError {
                            location: format!("{} guard", content_location(index)),
                            message: format!("`{guard}` is not a valid CEL expression: {message}"),
                        }
                    })?)
                }
                None => None,
            };
            rules.push(ContentRule {
                id: rule.id.as_str().into(),
                severity: rule.severity,
                message: rule.message.as_str().into(),
                guard,
                unless_grounded_in: rule.unless_grounded_in,
                ungrounded_claims: rule.ungrounded_claims,
            });
        }

        let mut escalation_rules = Vec::with_capacity(governance.escalation_rules.len());
        for (index, rule) in governance.escalation_rules.iter().enumerate() {
            let id = rule
                .id
                .clone()
                .unwrap_or_else(|| format!("escalate-{}", index + 1));
            let when =
                PolicyCondition::compile(rule.when.as_str()).map_err(|message| PolicyError {
                    location: format!("[[governance.escalate]] #{} `{id}` when", index + 1),
                    message: format!("`{}` is not a valid CEL expression: {message}", rule.when),
                })?;
            escalation_rules.push(EscalationRule {
                id,
                stage: rule.stage,
                when,
                reason: rule.reason.as_str().into(),
                priority: rule.priority,
                sla_secs: rule.sla.map(Duration::as_secs),
            });
        }
        let draft_stage_rules = escalation_rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| matches!(rule.stage, Stage::Drafting | Stage::SendApproval))
            .map(|(index, _)| index)
            .collect();

        let authority = &governance.send_authority;
        for (key, value) in [
            ("qa_sample_rate", authority.qa_sample_rate),
            ("confidence_floor", authority.confidence_floor),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(PolicyError {
                    location: format!("[governance.send_authority] {key}"),
                    message: format!("must be between 0 and 1, not {value}"),
                });
            }
        }
        for (sequence_type, mode) in &authority.by_sequence_type {
            if let SendMode::Approval { window } | SendMode::Veto { window } = mode
                && window.is_zero()
            {
                return Err(PolicyError {
                    location: format!("[governance.send_authority] {sequence_type}"),
                    message: "the review window must be longer than zero".to_string(),
                });
            }
        }

        let mut grounding = HashMap::new();
        let items = [
            (ContentKind::ValueProposition, &content.value_propositions),
            (ContentKind::PainPoint, &content.pain_points),
            (ContentKind::Cta, &content.ctas),
        ];
        for (kind, list) in items {
            for item in list {
                grounding.insert(item.id.clone(), kind);
            }
        }
        for proof in &content.proof_points {
            if proof.verified {
                grounding.insert(proof.id.clone(), ContentKind::ProofPoint);
            }
        }

        Ok(Policy {
            matcher,
            rules,
            escalation_rules,
            draft_stage_rules,
            by_sequence_type: authority.by_sequence_type.clone(),
            qa_sample_rate: authority.qa_sample_rate,
            confidence_floor: authority.confidence_floor,
            grounding,
            fast_path: true,
        })
    }

    /// Evaluates every condition with cel-rust, even those the native
    /// evaluator could take: for measuring the fast path, and checking it.
    pub fn without_fast_path(mut self) -> Self {
        self.fast_path = false;
        self
    }

    pub fn content_rule_count(&self) -> usize {
        self.rules.len()
    }

    pub fn escalation_rule_count(&self) -> usize {
        self.escalation_rules.len()
    }

    /// Ids of the guards and escalation conditions evaluated by cel-rust
    /// rather than natively.
    pub fn conditions_without_fast_path(&self) -> Vec<&str> {
        let guards = self
            .rules
            .iter()
            .filter(|rule| {
                rule.guard
                    .as_ref()
                    .is_some_and(|guard| !self.fast_path || !guard.has_fast_path())
            })
            .map(|rule| &*rule.id);
        let escalations = self
            .escalation_rules
            .iter()
            .filter(|rule| !self.fast_path || !rule.when.has_fast_path())
            .map(|rule| &*rule.id);
        guards.chain(escalations).collect()
    }

    /// The send authority of a sequence type; `None` when the playbook
    /// names none (evaluation then asks for approval).
    pub fn send_mode(&self, sequence_type: &str) -> Option<SendMode> {
        self.by_sequence_type.get(sequence_type).copied()
    }

    /// Overrides a sequence type's send authority, e.g. to demote a type
    /// that graduated to `auto` back to approval.
    pub fn set_send_mode(&mut self, sequence_type: &str, mode: SendMode) {
        self.by_sequence_type
            .insert(sequence_type.to_string(), mode);
    }

    pub fn qa_sample_rate(&self) -> f64 {
        self.qa_sample_rate
    }

    pub fn confidence_floor(&self) -> f64 {
        self.confidence_floor
    }

    /// Matches for rules with `ungrounded_claims = true`: each sentence the
    /// drafting stage flagged, where it stands in the body.
    fn mark_ungrounded(&self, draft: &DraftInput, raw: &mut Vec<RawMatch>) {
        if draft.ungrounded.is_empty() {
            return;
        }
        for (rule, _) in self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.ungrounded_claims)
        {
            for sentence in &draft.ungrounded {
                let sentence = sentence.trim();
                if sentence.is_empty() {
                    continue;
                }
                // A sentence a person has since edited away flags nothing.
                if let Some(start) = draft.body.find(sentence) {
                    raw.push(RawMatch {
                        field: TextField::Body,
                        start,
                        end: start + sentence.len(),
                        rule,
                    });
                }
            }
        }
    }

    /// Judges one draft (see the module documentation for the order).
    pub fn evaluate(&self, draft: &DraftInput, context: &Context) -> Evaluation {
        let mut findings_omitted = 0;
        let mut undecided = Vec::new();
        let mut findings = Vec::new();
        let mut grounded = Vec::new();
        // Per rule: whether it has a finding that counts.
        let mut fired: Vec<bool> = vec![false; self.rules.len()];
        with_scratch(|scratch| {
            scratch.raw.clear();
            self.matcher.scan(
                TextField::Subject,
                &draft.subject,
                scratch,
                &mut findings_omitted,
            );
            self.matcher
                .scan(TextField::Body, &draft.body, scratch, &mut findings_omitted);
            self.mark_ungrounded(draft, &mut scratch.raw);
            let raw = &mut scratch.raw;
            if raw.is_empty() {
                return;
            }
            raw.sort_unstable();
            raw.dedup();
            let scope = Scope::new(context, Some(draft), None);
            let mut cel = None;
            // Per rule: None until its guard is decided, then whether it applies.
            let mut applies: Vec<Option<bool>> = vec![None; self.rules.len()];
            let mut cited: [Option<Option<&str>>; 4] = [None; 4];
            for found in raw.iter() {
                let Some(rule) = self.rules.get(found.rule) else {
                    continue;
                };
                let Some(slot) = applies.get_mut(found.rule) else {
                    continue;
                };
                let rule_applies = *slot.get_or_insert_with(|| match &rule.guard {
                    None => true,
                    Some(guard) => match guard.decide(&scope, &mut cel, self.fast_path) {
                        Decision::True => true,
                        Decision::False => false,
                        Decision::Undecided(why) => {
                            undecided.push(Undecided {
                                rule_id: rule.id.clone(),
                                condition: ConditionKey::Guard,
                                why,
                            });
                            true
                        }
                    },
                });
                if !rule_applies {
                    continue;
                }
                let text = match found.field {
                    TextField::Subject => &draft.subject,
                    TextField::Body => &draft.body,
                };
                let finding = Finding {
                    rule_id: rule.id.clone(),
                    severity: rule.severity,
                    field: found.field,
                    start: found.start,
                    end: found.end,
                    text: text
                        .get(found.start..found.end)
                        .unwrap_or_default()
                        .to_string(),
                    message: rule.message.clone(),
                };
                let grounding = rule.unless_grounded_in.and_then(|kind| {
                    let slot = cited.get_mut(kind_index(kind))?;
                    *slot.get_or_insert_with(|| self.cited(draft, kind))
                });
                match grounding {
                    Some(cited) => grounded.push(GroundedFinding {
                        finding,
                        cited: cited.to_string(),
                    }),
                    None => {
                        if let Some(flag) = fired.get_mut(found.rule) {
                            *flag = true;
                        }
                        findings.push(finding);
                    }
                }
            }
        });

        // Rule ids with findings, in playbook order, for `draft.findings`.
        let fired_ids: Vec<&str> = self
            .rules
            .iter()
            .zip(&fired)
            .filter(|(_, fired)| **fired)
            .map(|(rule, _)| &*rule.id)
            .collect();

        let mut escalations = Vec::new();
        {
            let scope = Scope::new(context, Some(draft), Some(&fired_ids));
            let mut cel = None;
            for &index in &self.draft_stage_rules {
                if let Some(rule) = self.escalation_rules.get(index) {
                    self.run_escalation(rule, &scope, &mut cel, &mut escalations, &mut undecided);
                }
            }
        }

        let mode = self.send_mode(&draft.sequence_type);
        let send_mode = mode.unwrap_or(SendMode::Approval {
            window: DEFAULT_REVIEW_WINDOW,
        });
        let blocking: Vec<String> = self
            .rules
            .iter()
            .zip(&fired)
            .filter(|(rule, fired)| **fired && rule.severity == Severity::Block)
            .map(|(rule, _)| rule.id.clone())
            .collect();
        let verdict = if !blocking.is_empty() {
            Verdict::Blocked { rule_ids: blocking }
        } else if let Some(top) = top_escalation(&escalations) {
            Verdict::Escalate {
                stage: top.stage,
                rule_id: top.rule_id.clone(),
                reason: top.reason.clone(),
                priority: top.priority,
            }
        } else if send_mode == SendMode::Manual {
            Verdict::Manual
        } else {
            let mut because = Vec::new();
            if findings
                .iter()
                .any(|finding| finding.severity == Severity::Review)
            {
                because.push(HoldReason::ReviewFindings);
            }
            // NaN is below every floor.
            let at_or_above_floor = draft
                .confidence
                .partial_cmp(&self.confidence_floor)
                .is_some_and(|order| order.is_ge());
            if !at_or_above_floor {
                because.push(HoldReason::BelowConfidenceFloor);
            }
            match (mode, send_mode) {
                (None, _) => because.push(HoldReason::NoSendAuthority),
                (Some(_), SendMode::Approval { .. }) => because.push(HoldReason::ApprovalRequired),
                _ => {}
            }
            let window = match send_mode {
                SendMode::Approval { window } | SendMode::Veto { window } => window,
                SendMode::Auto | SendMode::Manual => DEFAULT_REVIEW_WINDOW,
            };
            match (because.is_empty(), send_mode) {
                (false, _) => Verdict::NeedsApproval {
                    window_secs: window.as_secs(),
                    because,
                },
                (true, SendMode::Veto { window }) => Verdict::VetoWindow {
                    window_secs: window.as_secs(),
                },
                (true, _) => Verdict::AutoSend,
            }
        };
        let qa_sampled = verdict == Verdict::AutoSend && qa_sampled(&draft.id, self.qa_sample_rate);
        Evaluation {
            draft_id: draft.id.clone(),
            verdict,
            send_mode,
            findings,
            findings_omitted,
            grounded,
            escalations,
            undecided,
            qa_sampled,
        }
    }

    /// The escalation rules of `stage` against a context with no draft
    /// (`draft.*` then comes from [`Context::draft`] alone): replies,
    /// clicks and visits at `engagement`, meetings at `follow_up`, …
    pub fn escalations(&self, stage: Stage, context: &Context) -> StageEscalations {
        let scope = Scope::new(context, None, None);
        let mut cel = None;
        let mut result = StageEscalations::default();
        for rule in self
            .escalation_rules
            .iter()
            .filter(|rule| rule.stage == stage)
        {
            self.run_escalation(
                rule,
                &scope,
                &mut cel,
                &mut result.matched,
                &mut result.undecided,
            );
        }
        result
    }

    fn run_escalation<'s>(
        &self,
        rule: &EscalationRule,
        scope: &Scope<'s>,
        cel: &mut Option<cel::Context<'s, 's>>,
        matched: &mut Vec<Escalation>,
        undecided: &mut Vec<Undecided>,
    ) {
        match rule.when.decide(scope, cel, self.fast_path) {
            Decision::True => matched.push(Escalation {
                stage: rule.stage,
                rule_id: rule.id.clone(),
                reason: rule.reason.clone(),
                priority: rule.priority,
                sla_secs: rule.sla_secs,
            }),
            Decision::False => {}
            Decision::Undecided(why) => undecided.push(Undecided {
                rule_id: rule.id.clone(),
                condition: ConditionKey::When,
                why,
            }),
        }
    }

    /// The first id in the draft's grounding that grounds claims of `kind`.
    fn cited<'d>(&self, draft: &'d DraftInput, kind: ContentKind) -> Option<&'d str> {
        draft
            .grounding
            .iter()
            .find(|id| self.grounding.get(id.as_str()) == Some(&kind))
            .map(String::as_str)
    }
}

thread_local! {
    /// Matching buffers, kept between evaluations on the same thread so a
    /// draft costs no allocation for them.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(work: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let result = work(&mut scratch);
            // One huge draft must not keep its buffers for the thread's life.
            scratch.shrink();
            result
        }
        // Only if an evaluation ever ran inside another on this thread.
        Err(_) => work(&mut Scratch::default()),
    })
}

fn kind_index(kind: ContentKind) -> usize {
    match kind {
        ContentKind::ValueProposition => 0,
        ContentKind::PainPoint => 1,
        ContentKind::ProofPoint => 2,
        ContentKind::Cta => 3,
    }
}

/// Highest priority first; the earlier rule among equals.
fn top_escalation(escalations: &[Escalation]) -> Option<&Escalation> {
    escalations.iter().reduce(|best, next| {
        if next.priority > best.priority {
            next
        } else {
            best
        }
    })
}
