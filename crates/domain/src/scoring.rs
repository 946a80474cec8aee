//! ICP scoring: the playbook's `[[icp.rule]]`s applied to what is known
//! about a prospect, giving a 0–100 score, a tier and the reasons for both.
//!
//! # Semantics
//!
//! * Every rule whose `when` is true adds its `points` (which may be
//!   negative). The sum is `raw_points`; `score` is that sum clamped into
//!   0..=100, and the tier is the highest whose minimum (`[icp] tiers`) the
//!   score reaches: a score exactly at a threshold is in that tier.
//! * A rule that reads a fact nobody knows does not match, and is listed in
//!   [`Score::skipped`] ("account.employees is unknown"), so a low score can
//!   be told apart from an unknown one. So is a rule whose evaluation fails
//!   for a type reason (text compared with a number), with the reason. CEL's
//!   own rules decide when an unknown fact matters: `a || b` is true when `b`
//!   is true whatever `a` is, and `a && b` is false when `b` is false.
//! * A condition that gives something other than true or false is skipped.
//! * Reasons and skipped rules come in playbook order; the lookalike reason,
//!   if any, comes last. A rule without an `id` is `rule-N` (1-based).
//! * [`Reason::text`] says what matched, derived from the condition and the
//!   facts it read: `+30 industry = fintech`, `-30 employees 12 (< 50)`,
//!   `+20 employees 200 (>= 50, <= 5000)`, `+10 technologies include
//!   snowflake`. When that cannot be derived (a condition outside the subset
//!   below) it is the points and the rule's `reason`.
//!
//! # Evaluation: a native fast path, cel-rust for the rest
//!
//! Each condition is compiled once with cel-rust. When its parsed expression
//! (cel's own AST, [`cel::common::ast`]) stays within the subset ICP rules
//! use — `contact.x` / `account.x` / `signal.x`, int, double, string and bool
//! literals, lists, `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `&&`, `||`, `!`,
//! unary `-`, `size(x)` and `x.size()` — it is also compiled into a small
//! tree evaluated directly over [`Facts`], without building CEL values. The
//! tree reproduces cel-rust 0.15's semantics exactly, errors included:
//! heterogeneous equality (`1 == 1.0` is true, `1 == '1'` is false),
//! int/double ordering through `f64`, NaN never equal nor ordered, `in` over
//! lists by element equality, and cel-rust's `&&` / `||` (an error on the left
//! is absorbed by a deciding right side; an error on the right is not). The
//! `scoring` integration tests check it against cel-rust on random facts and
//! expressions. Anything else (macros, arithmetic, functions, `has()`, ...)
//! is evaluated by cel-rust.
//!
//! # Lookalike
//!
//! With a [`LookalikeModel`] attached, the similarity of the account to the
//! won accounts is visible to rules as `account.lookalike` (0–100, it
//! replaces any such fact), and when the playbook gives
//! `[icp.lookalike] weight`, `round(weight × similarity)` points are added.

use crate::native_cel::{CmpOp, Elements, Lit, V, compare, equals};
use std::collections::{BTreeMap, HashMap};
use std::fmt::{self, Write as _};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr, LiteralValue, operators};
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString};
use cel::common::value::Val;
use cel::{Context, Env, ExecutionError, IdedExpr, Program, Value};
use serde::{Deserialize, Serialize};

use crate::playbook::{Icp, IcpTiers};

// ── Facts ────────────────────────────────────────────────────────────────

/// What is known about a prospect, as CEL sees it: `contact.*`, `account.*`,
/// `signal.*`. A fact that is not in its map is unknown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    #[serde(default)]
    pub contact: BTreeMap<String, Fact>,
    #[serde(default)]
    pub account: BTreeMap<String, Fact>,
    #[serde(default)]
    pub signal: BTreeMap<String, Fact>,
}

impl Facts {
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
}

/// One known value. In CEL: `string`, `int`, `double`, `bool`, `list(string)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Fact {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    List(Vec<String>),
}

impl Fact {
    /// "text", "number", "true/false" or "list": for messages to people.
    pub fn kind(&self) -> &'static str {
        match self {
            Fact::Text(_) => "text",
            Fact::Int(_) | Fact::Float(_) => "number",
            Fact::Bool(_) => "true/false",
            Fact::List(_) => "list",
        }
    }
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Text(text) => f.write_str(text),
            Fact::Int(int) => write!(f, "{int}"),
            Fact::Float(float) => write!(f, "{float}"),
            Fact::Bool(boolean) => write!(f, "{boolean}"),
            Fact::List(items) => write_list(f, items.iter().map(String::as_str)),
        }
    }
}

/// At most five items, then "…".
fn write_list<'a>(f: &mut fmt::Formatter<'_>, items: impl Iterator<Item = &'a str>) -> fmt::Result {
    for (index, item) in items.enumerate() {
        if index == 5 {
            return f.write_str(", …");
        }
        if index > 0 {
            f.write_str(", ")?;
        }
        f.write_str(item)?;
    }
    Ok(())
}

impl From<&str> for Fact {
    fn from(text: &str) -> Self {
        Fact::Text(text.to_string())
    }
}

impl From<String> for Fact {
    fn from(text: String) -> Self {
        Fact::Text(text)
    }
}

impl From<i64> for Fact {
    fn from(int: i64) -> Self {
        Fact::Int(int)
    }
}

impl From<f64> for Fact {
    fn from(float: f64) -> Self {
        Fact::Float(float)
    }
}

impl From<bool> for Fact {
    fn from(boolean: bool) -> Self {
        Fact::Bool(boolean)
    }
}

impl From<Vec<String>> for Fact {
    fn from(items: Vec<String>) -> Self {
        Fact::List(items)
    }
}

impl From<Vec<&str>> for Fact {
    fn from(items: Vec<&str>) -> Self {
        Fact::List(items.into_iter().map(str::to_string).collect())
    }
}

impl<const N: usize> From<[&str; N]> for Fact {
    fn from(items: [&str; N]) -> Self {
        Fact::List(items.into_iter().map(str::to_string).collect())
    }
}

// ── Results ──────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    Excellent,
    Good,
    Fair,
    NotAFit,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Excellent, Tier::Good, Tier::Fair, Tier::NotAFit];

    /// The highest tier whose minimum `score` reaches.
    pub fn for_score(score: u8, tiers: &IcpTiers) -> Tier {
        let score = i64::from(score);
        if score >= tiers.excellent {
            Tier::Excellent
        } else if score >= tiers.good {
            Tier::Good
        } else if score >= tiers.fair {
            Tier::Fair
        } else {
            Tier::NotAFit
        }
    }

    /// For machines: "excellent", "good", "fair", "not_a_fit".
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Excellent => "excellent",
            Tier::Good => "good",
            Tier::Fair => "fair",
            Tier::NotAFit => "not_a_fit",
        }
    }

    /// For people: "Excellent", "Good", "Fair", "Not a Fit".
    pub fn label(self) -> &'static str {
        match self {
            Tier::Excellent => "Excellent",
            Tier::Good => "Good",
            Tier::Fair => "Fair",
            Tier::NotAFit => "Not a Fit",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tier name that is none of the four.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown tier `{0}`: use excellent, good, fair or not_a_fit")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;

    /// Accepts [`Tier::as_str`] and [`Tier::label`], ignoring case, with
    /// spaces, `-` or `_` between words.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let normalised: String = text
            .trim()
            .chars()
            .map(|c| match c {
                ' ' | '-' => '_',
                c => c.to_ascii_lowercase(),
            })
            .collect();
        Tier::ALL
            .into_iter()
            .find(|tier| tier.as_str() == normalised)
            .ok_or_else(|| UnknownTier(text.to_string()))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Score {
    /// `raw_points` clamped into 0..=100.
    pub score: u8,
    pub raw_points: i64,
    pub tier: Tier,
    /// The rules that matched, in playbook order, then the lookalike.
    pub reasons: Vec<Reason>,
    /// The rules that could not be decided, in playbook order.
    pub skipped: Vec<SkippedRule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    /// The rule's `id`, `rule-N` for the N-th rule without one, or
    /// `lookalike`.
    pub rule_id: String,
    pub points: i64,
    /// Signed points, then what matched: "+30 industry = fintech".
    pub text: String,
    /// The playbook's `reason`.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkippedRule {
    pub rule_id: String,
    /// Why it could not be decided: "account.employees is unknown".
    pub missing: String,
}

/// A score without its reasons: what bulk ranking needs, computed without
/// allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ScoreSummary {
    pub score: u8,
    pub raw_points: i64,
    pub tier: Tier,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScoringError {
    #[error("ICP rule `{rule_id}`: `{condition}` is not a valid CEL expression: {message}")]
    InvalidCondition {
        rule_id: String,
        condition: String,
        message: String,
    },
}

/// How one condition came out for one prospect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Match,
    NoMatch,
    /// Could not be decided; why, for people.
    Skipped(String),
}

// ── The scorer ───────────────────────────────────────────────────────────

/// The rule id and reason of the lookalike points.
pub const LOOKALIKE_RULE_ID: &str = "lookalike";
const LOOKALIKE_REASON: &str = "Looks like accounts we won";

/// The ICP of one playbook, compiled once; scores any number of prospects,
/// from any number of threads.
#[derive(Debug)]
pub struct Scorer {
    tiers: IcpTiers,
    rules: Vec<ScoringRule>,
    lookalike_weight: Option<i64>,
    lookalike: Option<LookalikeModel>,
    fast_path: bool,
}

#[derive(Debug)]
struct ScoringRule {
    id: String,
    points: i64,
    /// `+30 `: how every reason of the rule starts.
    signed_points: String,
    reason: String,
    condition: CompiledCondition,
}

impl Scorer {
    /// Compiles every rule once.
    pub fn new(icp: &Icp) -> Result<Scorer, ScoringError> {
        let mut rules = Vec::with_capacity(icp.rules.len());
        for (index, rule) in icp.rules.iter().enumerate() {
            let id = rule
                .id
                .clone()
                .unwrap_or_else(|| format!("rule-{}", index + 1));
            let condition = CompiledCondition::compile(rule.when.as_str()).map_err(|message| {
                ScoringError::InvalidCondition {
                    rule_id: id.clone(),
                    condition: rule.when.as_str().to_string(),
                    message,
                }
            })?;
            rules.push(ScoringRule {
                id,
                points: rule.points,
                signed_points: format!("{:+} ", rule.points),
                reason: rule.reason.clone(),
                condition,
            });
        }
        Ok(Scorer {
            tiers: icp.tiers,
            rules,
            lookalike_weight: icp.lookalike.as_ref().map(|lookalike| lookalike.weight),
            lookalike: None,
            fast_path: true,
        })
    }

    /// Scores accounts by similarity to `lookalike`'s won accounts too.
    pub fn with_lookalike(mut self, lookalike: LookalikeModel) -> Self {
        self.lookalike = Some(lookalike);
        self
    }

    /// Evaluates every rule with cel-rust, even those the native evaluator
    /// could take: for measuring the fast path, and checking it.
    pub fn without_fast_path(mut self) -> Self {
        self.fast_path = false;
        self
    }

    /// The ids of the rules evaluated by cel-rust rather than natively.
    pub fn rules_without_fast_path(&self) -> Vec<&str> {
        self.rules
            .iter()
            .filter(|rule| !self.fast_path || rule.condition.fast.is_none())
            .map(|rule| rule.id.as_str())
            .collect()
    }

    pub fn score(&self, facts: &Facts) -> Score {
        let lookalike = self.lookalike.as_ref().map(|model| {
            let profile = Profile::of(&facts.account);
            let measure = model.measure_profile(&profile);
            (model, profile, measure)
        });
        let scope = Scope {
            facts,
            lookalike: lookalike
                .as_ref()
                .map(|(_, _, measure)| percent(measure.similarity)),
        };
        let mut cel_context = None;
        let mut raw_points: i64 = 0;
        let mut reasons = Vec::with_capacity(self.rules.len() + 1);
        let mut skipped = Vec::new();
        let mut phrases = Vec::new();
        for rule in &self.rules {
            let fast = if self.fast_path {
                rule.condition.fast.as_ref()
            } else {
                None
            };
            // Ok(the native tree, to explain the match with), or why skipped.
            let outcome = match fast {
                Some(node) => match node.decide(&scope) {
                    Ok(true) => Ok(Some(node)),
                    Ok(false) => continue,
                    Err(problem) => Err(problem.message(&rule.condition.fields, &scope)),
                },
                None => {
                    let context = cel_context.get_or_insert_with(|| cel_context_for(&scope));
                    match rule.condition.decide_with_cel(context, &scope) {
                        Ok(true) => Ok(None),
                        Ok(false) => continue,
                        Err(message) => Err(message),
                    }
                }
            };
            match outcome {
                Ok(node) => {
                    raw_points = raw_points.saturating_add(rule.points);
                    let mut text = String::with_capacity(48);
                    text.push_str(&rule.signed_points);
                    let explained = node.is_some_and(|node| {
                        write_explanation(&mut text, node, &scope, &mut phrases)
                    });
                    if !explained {
                        text.push_str(&rule.reason);
                    }
                    reasons.push(Reason {
                        rule_id: rule.id.clone(),
                        points: rule.points,
                        text,
                        reason: rule.reason.clone(),
                    });
                }
                Err(missing) => skipped.push(SkippedRule {
                    rule_id: rule.id.clone(),
                    missing,
                }),
            }
        }
        if let Some(weight) = self.lookalike_weight {
            match &lookalike {
                None => skipped.push(SkippedRule {
                    rule_id: LOOKALIKE_RULE_ID.to_string(),
                    missing: "the won accounts are not loaded".to_string(),
                }),
                Some((model, _, _)) if model.is_empty() => skipped.push(SkippedRule {
                    rule_id: LOOKALIKE_RULE_ID.to_string(),
                    missing: "there are no won accounts to compare with".to_string(),
                }),
                Some((_, profile, _)) if profile.is_unknown() => skipped.push(SkippedRule {
                    rule_id: LOOKALIKE_RULE_ID.to_string(),
                    missing: "account.industry, account.employees, account.country and \
                              account.technologies are unknown"
                        .to_string(),
                }),
                Some((model, profile, measure)) => {
                    let points = lookalike_points(weight, measure.similarity);
                    if points != 0 {
                        raw_points = raw_points.saturating_add(points);
                        let why = model.explain(profile, measure);
                        reasons.push(Reason {
                            rule_id: LOOKALIKE_RULE_ID.to_string(),
                            points,
                            text: format!(
                                "{points:+} lookalike {:.2} to won accounts ({})",
                                measure.similarity,
                                why.join(", ")
                            ),
                            reason: LOOKALIKE_REASON.to_string(),
                        });
                    }
                }
            }
        }
        let score = clamp_score(raw_points);
        Score {
            score,
            raw_points,
            tier: Tier::for_score(score, &self.tiers),
            reasons,
            skipped,
        }
    }

    /// [`Scorer::score`] without reasons or skipped rules.
    pub fn score_without_reasons(&self, facts: &Facts) -> ScoreSummary {
        let similarity = self
            .lookalike
            .as_ref()
            .map(|model| model.measure(&facts.account).similarity);
        let scope = Scope {
            facts,
            lookalike: similarity.map(percent),
        };
        let mut cel_context = None;
        let mut raw_points: i64 = 0;
        for rule in &self.rules {
            let fast = if self.fast_path {
                rule.condition.fast.as_ref()
            } else {
                None
            };
            let matched = match fast {
                Some(node) => node.decide(&scope).unwrap_or(false),
                None => {
                    let context = cel_context.get_or_insert_with(|| cel_context_for(&scope));
                    rule.condition
                        .decide_with_cel(context, &scope)
                        .unwrap_or(false)
                }
            };
            if matched {
                raw_points = raw_points.saturating_add(rule.points);
            }
        }
        if let (Some(weight), Some(similarity)) = (self.lookalike_weight, similarity) {
            raw_points = raw_points.saturating_add(lookalike_points(weight, similarity));
        }
        let score = clamp_score(raw_points);
        ScoreSummary {
            score,
            raw_points,
            tier: Tier::for_score(score, &self.tiers),
        }
    }
}

fn clamp_score(raw_points: i64) -> u8 {
    // In range after the clamp.
    raw_points.clamp(0, 100) as u8
}

fn percent(similarity: f64) -> i64 {
    (similarity * 100.0).round() as i64
}

fn lookalike_points(weight: i64, similarity: f64) -> i64 {
    // `as` saturates, and similarity is within 0..=1.
    (weight as f64 * similarity).round() as i64
}

// ── One condition ────────────────────────────────────────────────────────

/// The standard CEL environment, built once per process.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// One `when`, compiled for cel-rust and, when it is in the subset, for the
/// native evaluator.
#[derive(Debug)]
pub struct CompiledCondition {
    source: String,
    program: Program,
    fast: Option<Node>,
    /// Every `root.field` the condition reads, in order, without repeats.
    fields: Vec<FieldRef>,
}

impl CompiledCondition {
    /// Compiles `source`; the error is cel's message.
    pub fn compile(source: &str) -> Result<CompiledCondition, String> {
        // The CEL parser is third-party code fed with user input: a panic in
        // it becomes an error.
        let program = match catch_unwind(AssertUnwindSafe(|| Program::compile(source))) {
            Ok(Ok(program)) => program,
            Ok(Err(errors)) => return Err(errors.to_string()),
            Err(_panic) => return Err("the CEL parser could not read it".to_string()),
        };
        let fast = Node::compile(program.expression());
        let mut fields = Vec::new();
        collect_fields(program.expression(), &mut fields);
        Ok(CompiledCondition {
            source: source.to_string(),
            program,
            fast,
            fields,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the native evaluator takes this condition.
    pub fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// Evaluates natively when possible, else with cel-rust.
    pub fn evaluate(&self, facts: &Facts) -> Outcome {
        let scope = Scope {
            facts,
            lookalike: None,
        };
        match &self.fast {
            Some(node) => match node.decide(&scope) {
                Ok(true) => Outcome::Match,
                Ok(false) => Outcome::NoMatch,
                Err(problem) => Outcome::Skipped(problem.message(&self.fields, &scope)),
            },
            None => self.evaluate_with_cel(facts),
        }
    }

    /// Evaluates with cel-rust, whether or not the native evaluator could.
    pub fn evaluate_with_cel(&self, facts: &Facts) -> Outcome {
        let scope = Scope {
            facts,
            lookalike: None,
        };
        let context = cel_context_for(&scope);
        match self.decide_with_cel(&context, &scope) {
            Ok(true) => Outcome::Match,
            Ok(false) => Outcome::NoMatch,
            Err(message) => Outcome::Skipped(message),
        }
    }

    /// What matched, when the condition is true for `facts` and the
    /// native evaluator can say; empty otherwise.
    pub fn explain(&self, facts: &Facts) -> String {
        let scope = Scope {
            facts,
            lookalike: None,
        };
        match &self.fast {
            Some(node) if node.decide(&scope) == Ok(true) => explain_text(node, &scope),
            _ => String::new(),
        }
    }

    fn decide_with_cel(
        &self,
        context: &Context<'_, '_>,
        scope: &Scope<'_>,
    ) -> Result<bool, String> {
        // cel-rust panics on a few malformed trees; one rule must not take
        // the scorer down.
        let result = catch_unwind(AssertUnwindSafe(|| self.program.execute(context)));
        match result {
            Ok(Ok(Value::Bool(matched))) => Ok(matched),
            Ok(Ok(other)) => Err(format!(
                "the condition gives {}, not true or false",
                cel_kind(&other)
            )),
            Ok(Err(error)) => Err(cel_error_message(&error, &self.fields, scope)),
            Err(_panic) => Err("cel-rust failed evaluating the condition".to_string()),
        }
    }
}

/// The facts of one prospect, with the lookalike similarity (0–100) that
/// stands in for `account.lookalike` when a model is attached.
struct Scope<'a> {
    facts: &'a Facts,
    lookalike: Option<i64>,
}

impl<'a> Scope<'a> {
    fn map(&self, root: Root) -> &'a BTreeMap<String, Fact> {
        match root {
            Root::Contact => &self.facts.contact,
            Root::Account => &self.facts.account,
            Root::Signal => &self.facts.signal,
        }
    }

    fn is_lookalike(&self, field: &FieldRef) -> bool {
        self.lookalike.is_some() && field.root == Root::Account && &*field.name == "lookalike"
    }

    fn knows(&self, field: &FieldRef) -> bool {
        self.is_lookalike(field) || self.map(field.root).contains_key(&*field.name)
    }

    /// The value of `field` as people read it, if known.
    fn shown(&self, field: &FieldRef) -> Option<Shown<'a>> {
        match (self.lookalike, self.is_lookalike(field)) {
            (Some(lookalike), true) => Some(Shown::Int(lookalike)),
            _ => self.map(field.root).get(&*field.name).map(Shown::Fact),
        }
    }
}

// ── cel-rust ─────────────────────────────────────────────────────────────

/// A context whose values borrow the facts' strings rather than copy them.
fn cel_context_for<'f>(scope: &Scope<'f>) -> Context<'f, 'f> {
    let mut context = Context::with_env(Arc::clone(&STDLIB));
    for root in Root::ALL {
        let map = match root {
            Root::Contact => &scope.facts.contact,
            Root::Account => &scope.facts.account,
            Root::Signal => &scope.facts.signal,
        };
        let mut entries: HashMap<CelMapKey<'f>, Box<dyn Val + 'f>> =
            HashMap::with_capacity(map.len() + 1);
        for (name, fact) in map {
            entries.insert(CelMapKey::from(name.as_str()), fact_to_cel(fact));
        }
        if let (Root::Account, Some(lookalike)) = (root, scope.lookalike) {
            entries.insert(
                CelMapKey::from("lookalike"),
                Box::new(CelInt::from(lookalike)),
            );
        }
        context.add_variable_as_val(root.name(), Box::new(CelMap::from(entries)));
    }
    context
}

fn fact_to_cel(fact: &Fact) -> Box<dyn Val + '_> {
    match fact {
        Fact::Text(text) => Box::new(CelString::from(text.as_str())),
        Fact::Int(int) => Box::new(CelInt::from(*int)),
        Fact::Float(float) => Box::new(CelDouble::from(*float)),
        Fact::Bool(boolean) => Box::new(CelBool::from(*boolean)),
        Fact::List(items) => {
            let items: Vec<Box<dyn Val + '_>> = items
                .iter()
                .map(|item| Box::new(CelString::from(item.as_str())) as Box<dyn Val + '_>)
                .collect();
            Box::new(CelList::from(items))
        }
    }
}

fn cel_kind(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "text",
        Value::Int(_) | Value::UInt(_) | Value::Float(_) => "a number",
        Value::List(_) => "a list",
        Value::Map(_) => "a map",
        Value::Null => "null",
        _ => "a value",
    }
}

fn cel_error_message(error: &ExecutionError, fields: &[FieldRef], scope: &Scope<'_>) -> String {
    match error {
        ExecutionError::NoSuchKey(key) => {
            missing_message(fields, scope).unwrap_or_else(|| format!("`{key}` is unknown"))
        }
        ExecutionError::UndeclaredReference(name) => format!(
            "`{name}` is not something ICP rules can read: use contact.*, account.* or signal.*"
        ),
        ExecutionError::NoSuchOverload(overload) => format!(
            "cannot use {} on {}",
            operator_symbol(overload.function()),
            overload.argument_types().join(" and ")
        ),
        ExecutionError::ValuesNotComparable(lhs, rhs) => {
            format!("cannot compare {lhs:?} with {rhs:?}")
        }
        ExecutionError::UnexpectedType { got, want } => format!("expected {want}, got {got}"),
        other => other.to_string(),
    }
}

fn operator_symbol(function: &str) -> String {
    let symbol = match function {
        operators::EQUALS => "==",
        operators::NOT_EQUALS => "!=",
        operators::LESS => "<",
        operators::LESS_EQUALS => "<=",
        operators::GREATER => ">",
        operators::GREATER_EQUALS => ">=",
        operators::IN => "in",
        operators::LOGICAL_AND => "&&",
        operators::LOGICAL_OR => "||",
        operators::LOGICAL_NOT => "!",
        operators::NEGATE => "-",
        operators::ADD => "+",
        operators::SUBSTRACT => "-",
        operators::MULTIPLY => "*",
        operators::DIVIDE => "/",
        operators::MODULO => "%",
        other => return format!("{other}()"),
    };
    format!("`{symbol}`")
}

/// "account.employees is unknown", naming every field the condition reads
/// that is not known.
fn missing_message(fields: &[FieldRef], scope: &Scope<'_>) -> Option<String> {
    let missing: Vec<&str> = fields
        .iter()
        .filter(|field| !scope.knows(field))
        .map(|field| &*field.path)
        .collect();
    match missing.as_slice() {
        [] => None,
        [one] => Some(format!("{one} is unknown")),
        [first @ .., last] => Some(format!("{} and {last} are unknown", first.join(", "))),
    }
}

fn collect_fields(expr: &IdedExpr, fields: &mut Vec<FieldRef>) {
    match &expr.expr {
        Expr::Select(select) => {
            if let (Expr::Ident(root), false) = (&select.operand.expr, select.test)
                && let Some(field) = FieldRef::new(root, &select.field)
            {
                if !fields.contains(&field) {
                    fields.push(field);
                }
                return;
            }
            collect_fields(&select.operand, fields);
        }
        Expr::Call(call) => {
            if let Some(target) = &call.target {
                collect_fields(target, fields);
            }
            for arg in &call.args {
                collect_fields(arg, fields);
            }
        }
        Expr::List(list) => {
            for element in &list.elements {
                collect_fields(element, fields);
            }
        }
        Expr::Comprehension(comprehension) => {
            for part in [
                &comprehension.iter_range,
                &comprehension.accu_init,
                &comprehension.loop_cond,
                &comprehension.loop_step,
                &comprehension.result,
            ] {
                collect_fields(part, fields);
            }
        }
        _ => {}
    }
}

// ── The native evaluator ─────────────────────────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Contact,
    Account,
    Signal,
}

impl Root {
    const ALL: [Root; 3] = [Root::Contact, Root::Account, Root::Signal];

    fn parse(name: &str) -> Option<Root> {
        match name {
            "contact" => Some(Root::Contact),
            "account" => Some(Root::Account),
            "signal" => Some(Root::Signal),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Root::Contact => "contact",
            Root::Account => "account",
            Root::Signal => "signal",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRef {
    root: Root,
    name: Box<str>,
    /// `account.employees`
    path: Box<str>,
}

impl FieldRef {
    fn new(root: &str, name: &str) -> Option<FieldRef> {
        let root = Root::parse(root)?;
        Some(FieldRef {
            root,
            name: name.into(),
            path: format!("{}.{name}", root.name()).into(),
        })
    }
}

/// A condition in the subset, as a tree over [`Facts`].
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Field(FieldRef),
    Lit(Lit),
    /// A list literal of literals, kept as is: no list is built to evaluate it.
    ConstList(Vec<Lit>),
    List(Vec<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Size(Box<Node>),
}

/// Why a condition could not be decided. Cheap to make: the message is
/// only written for rules that end up skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Problem<'a> {
    /// A fact it read is unknown.
    Missing,
    /// An operator does not apply to these operands.
    Mismatch {
        op: &'static str,
        lhs: &'a Node,
        rhs: Option<&'a Node>,
    },
    /// Needed true or false.
    NotBool(&'a Node),
    Overflow(&'a Node),
}

impl Node {
    /// The native tree for `expr`, if it stays within the subset.
    fn compile(expr: &IdedExpr) -> Option<Node> {
        match &expr.expr {
            Expr::Literal(literal) => Some(Node::Lit(Self::literal(literal)?)),
            Expr::Select(select) if !select.test => match &select.operand.expr {
                Expr::Ident(root) => Some(Node::Field(FieldRef::new(root, &select.field)?)),
                _ => None,
            },
            Expr::List(list) if list.optional_indices.is_empty() => {
                let literals: Option<Vec<Lit>> = list
                    .elements
                    .iter()
                    .map(|element| match &element.expr {
                        Expr::Literal(literal) => Self::literal(literal),
                        _ => None,
                    })
                    .collect();
                match literals {
                    Some(literals) => Some(Node::ConstList(literals)),
                    None => Some(Node::List(
                        list.elements
                            .iter()
                            .map(Node::compile)
                            .collect::<Option<Vec<_>>>()?,
                    )),
                }
            }
            Expr::Call(call) => {
                let boxed = |expr: &IdedExpr| Node::compile(expr).map(Box::new);
                match (call.func_name.as_str(), &call.target, call.args.as_slice()) {
                    (name, None, [lhs, rhs]) => {
                        let (lhs, rhs) = (boxed(lhs)?, boxed(rhs)?);
                        let cmp = |op| Some(Node::Cmp(op, lhs.clone(), rhs.clone()));
                        match name {
                            operators::EQUALS => cmp(CmpOp::Eq),
                            operators::NOT_EQUALS => cmp(CmpOp::Ne),
                            operators::LESS => cmp(CmpOp::Lt),
                            operators::LESS_EQUALS => cmp(CmpOp::Le),
                            operators::GREATER => cmp(CmpOp::Gt),
                            operators::GREATER_EQUALS => cmp(CmpOp::Ge),
                            operators::IN => Some(Node::In(lhs, rhs)),
                            operators::LOGICAL_AND => Some(Node::And(lhs, rhs)),
                            operators::LOGICAL_OR => Some(Node::Or(lhs, rhs)),
                            _ => None,
                        }
                    }
                    (operators::LOGICAL_NOT, None, [operand]) => Some(Node::Not(boxed(operand)?)),
                    (operators::NEGATE, None, [operand]) => Some(Node::Neg(boxed(operand)?)),
                    ("size", None, [operand]) => Some(Node::Size(boxed(operand)?)),
                    ("size", Some(target), []) => Some(Node::Size(boxed(target)?)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn literal(literal: &LiteralValue) -> Option<Lit> {
        match literal {
            LiteralValue::Int(int) => Some(Lit::Int(*int.inner())),
            LiteralValue::Double(double) => Some(Lit::Float(*double.inner())),
            LiteralValue::String(text) => Some(Lit::Str(text.inner().into())),
            LiteralValue::Boolean(boolean) => Some(Lit::Bool(*boolean.inner())),
            _ => None,
        }
    }

    /// True, false, or why neither: the condition's verdict.
    fn decide<'a>(&'a self, scope: &Scope<'a>) -> Result<bool, Problem<'a>> {
        match self.eval(scope)? {
            V::Bool(verdict) => Ok(verdict),
            _ => Err(Problem::NotBool(self)),
        }
    }

    /// Evaluates as cel-rust 0.15's interpreter does: operands left to
    /// right, the first error wins, except in `&&` and `||`.
    fn eval<'a>(&'a self, scope: &Scope<'a>) -> Result<V<'a>, Problem<'a>> {
        match self {
            Node::Field(field) => {
                if let (Some(lookalike), true) = (scope.lookalike, scope.is_lookalike(field)) {
                    return Ok(V::Int(lookalike));
                }
                match scope.map(field.root).get(&*field.name) {
                    Some(Fact::Text(text)) => Ok(V::Str(text)),
                    Some(Fact::Int(int)) => Ok(V::Int(*int)),
                    Some(Fact::Float(float)) => Ok(V::Float(*float)),
                    Some(Fact::Bool(boolean)) => Ok(V::Bool(*boolean)),
                    Some(Fact::List(items)) => Ok(V::Strs(items)),
                    None => Err(Problem::Missing),
                }
            }
            Node::Lit(literal) => Ok(literal.value()),
            Node::ConstList(items) => Ok(V::Lits(items)),
            Node::List(items) => Ok(V::List(
                items
                    .iter()
                    .map(|item| item.eval(scope))
                    .collect::<Result<_, _>>()?,
            )),
            Node::Cmp(op, lhs_node, rhs_node) => {
                let lhs = lhs_node.eval(scope)?;
                let rhs = rhs_node.eval(scope)?;
                let verdict = match op {
                    CmpOp::Eq => equals(&lhs, &rhs),
                    CmpOp::Ne => !equals(&lhs, &rhs),
                    _ => {
                        let ordering = compare(&lhs, &rhs).ok_or(Problem::Mismatch {
                            op: op.symbol(),
                            lhs: lhs_node,
                            rhs: Some(rhs_node),
                        })?;
                        match op {
                            CmpOp::Lt => ordering.is_lt(),
                            CmpOp::Le => ordering.is_le(),
                            CmpOp::Gt => ordering.is_gt(),
                            _ => ordering.is_ge(),
                        }
                    }
                };
                Ok(V::Bool(verdict))
            }
            Node::In(needle_node, haystack_node) => {
                let needle = needle_node.eval(scope)?;
                let haystack = haystack_node.eval(scope)?;
                let elements = Elements::of(&haystack).ok_or(Problem::Mismatch {
                    op: "in",
                    lhs: needle_node,
                    rhs: Some(haystack_node),
                })?;
                Ok(V::Bool(elements.any(|element| equals(element, &needle))))
            }
            Node::And(lhs, rhs) => logical(scope, lhs, rhs, false),
            Node::Or(lhs, rhs) => logical(scope, lhs, rhs, true),
            Node::Not(operand) => match operand.eval(scope)? {
                V::Bool(boolean) => Ok(V::Bool(!boolean)),
                _ => Err(Problem::Mismatch {
                    op: "!",
                    lhs: operand,
                    rhs: None,
                }),
            },
            Node::Neg(operand) => match operand.eval(scope)? {
                V::Int(int) => int.checked_neg().map(V::Int).ok_or(Problem::Overflow(self)),
                V::Float(float) => Ok(V::Float(-float)),
                _ => Err(Problem::Mismatch {
                    op: "-",
                    lhs: operand,
                    rhs: None,
                }),
            },
            Node::Size(operand) => {
                let value = operand.eval(scope)?;
                let size = match &value {
                    V::Str(text) => text.chars().count(),
                    other => match Elements::of(other) {
                        Some(elements) => elements.len(),
                        None => {
                            return Err(Problem::Mismatch {
                                op: "size()",
                                lhs: operand,
                                rhs: None,
                            });
                        }
                    },
                };
                Ok(V::Int(i64::try_from(size).unwrap_or(i64::MAX)))
            }
        }
    }
}

/// `lhs && rhs` (`decisive` false) or `lhs || rhs` (`decisive` true), as
/// cel-rust 0.15 has them: a decisive left side wins without evaluating the
/// right; otherwise an error on the right is the result; a decisive right
/// side wins over an error or non-bool on the left; else both must be
/// bools, and the right one is the result.
fn logical<'a>(
    scope: &Scope<'a>,
    lhs: &'a Node,
    rhs: &'a Node,
    decisive: bool,
) -> Result<V<'a>, Problem<'a>> {
    let left = match lhs.eval(scope) {
        Ok(V::Bool(boolean)) => Ok(boolean),
        Ok(_) => Err(Problem::NotBool(lhs)),
        Err(problem) => Err(problem),
    };
    if left == Ok(decisive) {
        return Ok(V::Bool(decisive));
    }
    let right = rhs.eval(scope)?;
    match (left, right) {
        (Ok(_), V::Bool(right)) => Ok(V::Bool(right)),
        (Err(_), V::Bool(right)) if right == decisive => Ok(V::Bool(decisive)),
        (Err(problem), _) => Err(problem),
        (Ok(_), _) => Err(Problem::NotBool(rhs)),
    }
}

impl Problem<'_> {
    fn message(&self, fields: &[FieldRef], scope: &Scope<'_>) -> String {
        match self {
            Problem::Missing => missing_message(fields, scope)
                .unwrap_or_else(|| "a fact it reads is unknown".to_string()),
            Problem::Mismatch { op, lhs, rhs } => match rhs {
                Some(rhs) => format!(
                    "cannot use `{op}` on {} and {}",
                    describe(lhs, scope),
                    describe(rhs, scope)
                ),
                None => format!("cannot use `{op}` on {}", describe(lhs, scope)),
            },
            Problem::NotBool(node) => format!("{} is not true or false", describe(node, scope)),
            Problem::Overflow(node) => {
                format!("{} is too large a number", describe(node, scope))
            }
        }
    }
}

/// `account.employees (text "fifty")`, `50 (number)`, `a list`.
fn describe(node: &Node, scope: &Scope<'_>) -> String {
    match node {
        Node::Field(field) => match (scope.shown(field), node.eval(scope)) {
            (Some(text), Ok(value)) => format!("{} ({} \"{text}\")", field.path, value.kind()),
            _ => format!("{} (unknown)", field.path),
        },
        Node::Lit(literal) => format!("{literal} ({})", literal.value().kind()),
        other => match other.eval(scope) {
            Ok(value) => format!("a {}", value.kind()),
            Err(_) => "an undecided value".to_string(),
        },
    }
}

// ── Explaining a match ───────────────────────────────────────────────────

/// One thing that made a condition true, borrowing the rule and the facts:
/// written straight into the reason's text.
#[derive(Debug, Clone, PartialEq)]
enum Phrase<'a> {
    /// `industry = fintech`
    Is {
        subject: Subject<'a>,
        value: Shown<'a>,
    },
    /// `employees 12 (< 50)`; bounds on the same subject are merged:
    /// `employees 200 (>= 50, <= 5000)`.
    Bounded {
        subject: Subject<'a>,
        value: Shown<'a>,
        bounds: Vec<(CmpOp, &'a Lit)>,
    },
    /// `technologies include snowflake`, `technologies without oracle`
    Includes {
        subject: &'a str,
        item: &'a Lit,
        present: bool,
    },
}

/// What a phrase is about: a fact, or its size.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Subject<'a> {
    Fact(&'a str),
    SizeOf(&'a str),
}

/// A value as people read it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shown<'a> {
    Fact(&'a Fact),
    Int(i64),
}

impl fmt::Display for Subject<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Fact(name) => f.write_str(name),
            Subject::SizeOf(name) => write!(f, "number of {name}"),
        }
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Shown::Fact(fact) => fact.fmt(f),
            Shown::Int(int) => write!(f, "{int}"),
        }
    }
}

impl fmt::Display for Phrase<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phrase::Is { subject, value } => write!(f, "{subject} = {value}"),
            Phrase::Bounded {
                subject,
                value,
                bounds,
            } => {
                write!(f, "{subject} {value} (")?;
                for (index, (op, literal)) in bounds.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{} {literal}", op.symbol())?;
                }
                f.write_str(")")
            }
            Phrase::Includes {
                subject,
                item,
                present,
            } => {
                let verb = if *present { "include" } else { "without" };
                match item {
                    Lit::Str(text) => write!(f, "{subject} {verb} {text}"),
                    other => write!(f, "{subject} {verb} {other}"),
                }
            }
        }
    }
}

/// What made `node` true, for people; empty when that cannot be said.
fn explain_text(node: &Node, scope: &Scope<'_>) -> String {
    let mut text = String::new();
    write_explanation(&mut text, node, scope, &mut Vec::new());
    text
}

/// Appends what made `node` true to `text`; false when nothing could be
/// said. `phrases` is scratch space, reused between rules.
fn write_explanation<'a>(
    text: &mut String,
    node: &'a Node,
    scope: &Scope<'a>,
    phrases: &mut Vec<Phrase<'a>>,
) -> bool {
    phrases.clear();
    explain(node, scope, true, phrases);
    for (index, phrase) in phrases.iter().enumerate() {
        if index > 0 {
            text.push_str(", ");
        }
        match phrase {
            // The common case, without the formatting machinery.
            Phrase::Is {
                subject: Subject::Fact(name),
                value: Shown::Fact(Fact::Text(value)),
            } => {
                text.push_str(name);
                text.push_str(" = ");
                text.push_str(value);
            }
            // Writing to a String cannot fail.
            other => {
                let _ = write!(text, "{other}");
            }
        }
    }
    !phrases.is_empty()
}

/// Adds what made `node` come out as `want` (which it did) to `phrases`.
fn explain<'a>(node: &'a Node, scope: &Scope<'a>, want: bool, phrases: &mut Vec<Phrase<'a>>) {
    match node {
        // All of a true `&&` is true; one false side makes it false. And
        // the other way round for `||`.
        Node::And(lhs, rhs) | Node::Or(lhs, rhs) => {
            let all = matches!(node, Node::And(..)) == want;
            if all {
                explain(lhs, scope, want, phrases);
                explain(rhs, scope, want, phrases);
            } else if lhs.decide(scope) == Ok(want) {
                explain(lhs, scope, want, phrases);
            } else {
                explain(rhs, scope, want, phrases);
            }
        }
        Node::Not(operand) => explain(operand, scope, !want, phrases),
        Node::Field(_) => {
            if let Some((subject, value)) = subject(node, scope) {
                push(phrases, Phrase::Is { subject, value });
            }
        }
        Node::Cmp(op, lhs, rhs) => {
            let op = if want { *op } else { op.negated() };
            let ((subject, value), bound, op) = match (subject(lhs, scope), subject(rhs, scope)) {
                (Some(subject), None) => (subject, rhs, op),
                (None, Some(subject)) => (subject, lhs, op.flipped()),
                (Some((subject, value)), Some((other, other_value))) => {
                    push(phrases, Phrase::Is { subject, value });
                    push(
                        phrases,
                        Phrase::Is {
                            subject: other,
                            value: other_value,
                        },
                    );
                    return;
                }
                (None, None) => return,
            };
            match (op, &**bound) {
                (CmpOp::Lt | CmpOp::Le | CmpOp::Gt | CmpOp::Ge, Node::Lit(literal)) => push(
                    phrases,
                    Phrase::Bounded {
                        subject,
                        value,
                        bounds: vec![(op, literal)],
                    },
                ),
                _ => push(phrases, Phrase::Is { subject, value }),
            }
        }
        Node::In(needle, haystack) => match (subject(needle, scope), &**haystack, &**needle) {
            (Some((subject, value)), _, _) => push(phrases, Phrase::Is { subject, value }),
            (None, Node::Field(field), Node::Lit(item)) => push(
                phrases,
                Phrase::Includes {
                    subject: &field.name,
                    item,
                    present: want,
                },
            ),
            _ => {}
        },
        _ => {}
    }
}

/// A fact, or a fact's size, and its value: `industry`, `fintech`.
fn subject<'a>(node: &'a Node, scope: &Scope<'a>) -> Option<(Subject<'a>, Shown<'a>)> {
    match node {
        Node::Field(field) => Some((Subject::Fact(&field.name), scope.shown(field)?)),
        Node::Size(inner) => match (&**inner, node.eval(scope)) {
            (Node::Field(field), Ok(V::Int(size))) => {
                Some((Subject::SizeOf(&field.name), Shown::Int(size)))
            }
            _ => None,
        },
        _ => None,
    }
}

/// Adds `phrase`, merging bounds on one subject and dropping repeats.
fn push<'a>(phrases: &mut Vec<Phrase<'a>>, phrase: Phrase<'a>) {
    if phrases.contains(&phrase) {
        return;
    }
    if let Phrase::Bounded {
        subject,
        value,
        bounds,
    } = &phrase
        && let Some(Phrase::Bounded {
            subject: last_subject,
            value: last_value,
            bounds: last_bounds,
        }) = phrases.last_mut()
        && last_subject == subject
        && last_value == value
    {
        for bound in bounds {
            if !last_bounds.contains(bound) {
                last_bounds.push(*bound);
            }
        }
        return;
    }
    phrases.push(phrase);
}

// ── SQL ──────────────────────────────────────────────────────────────────

impl CompiledCondition {
    /// The condition as a SQL boolean expression, for running the same
    /// rule inside a database (the DuckDB dialect: lists are `[...]`,
    /// `list_contains`, `length`). `column` gives the SQL expression of a
    /// fact (`account.employees` → `TRY_CAST("# Employees" AS BIGINT)`), or
    /// None when the database does not have it.
    ///
    /// Only conditions in the native subset translate (field access,
    /// literals, list literals, `==`, `!=`, `<`, `<=`, `>`, `>=`, `in`, `&&`,
    /// `||`, `!`, unary `-`, `size()`); None for anything else, and for a
    /// condition reading a fact `column` does not map.
    ///
    /// An unknown fact is SQL NULL. SQL's three-valued logic then follows
    /// the scorer: a comparison with an unknown fact is undecided, `x || y`
    /// is true when either side is true and `x && y` false when either is
    /// false, whatever the other (cel-rust's rule, which the scorer keeps),
    /// and `!` of an undecided value stays undecided. The whole is wrapped
    /// in `COALESCE(…, FALSE)`: an undecided rule does not count, as a
    /// skipped rule does not. What SQL cannot mirror without knowing the
    /// columns' types: CEL never equates values of different types (`1 ==
    /// '1'` is false) and refuses to order them, where a database casts or
    /// fails; comparisons between two literals are decided here, with CEL's
    /// rules.
    pub fn to_sql(&self, column: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        let node = self.fast.as_ref()?;
        Some(format!("COALESCE({}, FALSE)", node.to_sql(column)?))
    }
}

impl Lit {
    fn to_sql(&self) -> Option<String> {
        match self {
            Lit::Int(int) => Some(int.to_string()),
            // `{:?}` keeps a decimal point or exponent: `1.0`, `1e300`.
            Lit::Float(float) if float.is_finite() => Some(format!("{float:?}")),
            Lit::Float(_) => None,
            Lit::Str(text) => Some(format!("'{}'", text.replace('\'', "''"))),
            Lit::Bool(true) => Some("TRUE".to_string()),
            Lit::Bool(false) => Some("FALSE".to_string()),
        }
    }

    /// Literals SQL compares without casting: numbers with numbers, text
    /// with text, booleans with booleans.
    fn sql_family(&self) -> u8 {
        match self {
            Lit::Int(_) | Lit::Float(_) => 0,
            Lit::Str(_) => 1,
            Lit::Bool(_) => 2,
        }
    }
}

impl CmpOp {
    fn sql(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "<>",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// A decided constant: `TRUE`, `FALSE`, or `NULL` for an error.
fn sql_constant(verdict: Option<bool>) -> String {
    match verdict {
        Some(true) => "TRUE".to_string(),
        Some(false) => "FALSE".to_string(),
        None => "NULL".to_string(),
    }
}

impl Node {
    fn to_sql(&self, column: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        match self {
            Node::Field(field) => column(&field.path).map(|sql| format!("({sql})")),
            Node::Lit(literal) => literal.to_sql(),
            Node::ConstList(items) => {
                let family = items.first().map(Lit::sql_family);
                if items.iter().any(|item| Some(item.sql_family()) != family) {
                    return None;
                }
                let items: Vec<String> = items.iter().map(Lit::to_sql).collect::<Option<_>>()?;
                Some(format!("[{}]", items.join(", ")))
            }
            // A list of facts: only as the right side of `in` (below).
            Node::List(_) => None,
            Node::Cmp(op, lhs, rhs) => {
                if let (Node::Lit(a), Node::Lit(b)) = (&**lhs, &**rhs) {
                    let (a, b) = (a.value(), b.value());
                    return Some(sql_constant(match op {
                        CmpOp::Eq => Some(equals(&a, &b)),
                        CmpOp::Ne => Some(!equals(&a, &b)),
                        CmpOp::Lt => compare(&a, &b).map(|o| o.is_lt()),
                        CmpOp::Le => compare(&a, &b).map(|o| o.is_le()),
                        CmpOp::Gt => compare(&a, &b).map(|o| o.is_gt()),
                        CmpOp::Ge => compare(&a, &b).map(|o| o.is_ge()),
                    }));
                }
                Some(format!(
                    "({} {} {})",
                    lhs.to_sql(column)?,
                    op.sql(),
                    rhs.to_sql(column)?
                ))
            }
            Node::In(needle, haystack) => match &**haystack {
                Node::ConstList(items) => {
                    if let Node::Lit(literal) = &**needle {
                        let value = literal.value();
                        return Some(sql_constant(Some(
                            items.iter().any(|item| equals(&item.value(), &value)),
                        )));
                    }
                    let needle = needle.to_sql(column)?;
                    if items.is_empty() {
                        // False, unless the needle is undecided.
                        return Some(format!(
                            "(CASE WHEN {needle} IS NULL THEN NULL ELSE FALSE END)"
                        ));
                    }
                    let family = items.first().map(Lit::sql_family);
                    if items.iter().any(|item| Some(item.sql_family()) != family) {
                        return None;
                    }
                    let items: Vec<String> =
                        items.iter().map(Lit::to_sql).collect::<Option<_>>()?;
                    Some(format!("({needle} IN ({}))", items.join(", ")))
                }
                Node::List(items) => {
                    let needle = needle.to_sql(column)?;
                    let items: Vec<String> = items
                        .iter()
                        .map(|item| item.to_sql(column))
                        .collect::<Option<_>>()?;
                    if items.is_empty() {
                        return Some(format!(
                            "(CASE WHEN {needle} IS NULL THEN NULL ELSE FALSE END)"
                        ));
                    }
                    // CEL fails on an unknown element where SQL's IN could
                    // still find the needle among the others.
                    let unknown: Vec<String> =
                        items.iter().map(|item| format!("{item} IS NULL")).collect();
                    Some(format!(
                        "(CASE WHEN {} THEN NULL ELSE ({needle} IN ({})) END)",
                        unknown.join(" OR "),
                        items.join(", ")
                    ))
                }
                other => Some(format!(
                    "list_contains({}, {})",
                    other.to_sql(column)?,
                    needle.to_sql(column)?
                )),
            },
            Node::And(lhs, rhs) => Some(format!(
                "({} AND {})",
                lhs.to_sql(column)?,
                rhs.to_sql(column)?
            )),
            Node::Or(lhs, rhs) => Some(format!(
                "({} OR {})",
                lhs.to_sql(column)?,
                rhs.to_sql(column)?
            )),
            Node::Not(operand) => Some(format!("(NOT {})", operand.to_sql(column)?)),
            Node::Neg(operand) => Some(format!("(-{})", operand.to_sql(column)?)),
            Node::Size(operand) => match &**operand {
                Node::ConstList(items) => Some(items.len().to_string()),
                Node::Lit(Lit::Str(text)) => Some(text.chars().count().to_string()),
                Node::List(_) | Node::Lit(_) => None,
                // Characters of a text, elements of a list.
                other => Some(format!("length({})", other.to_sql(column)?)),
            },
        }
    }
}

// ── Lookalike ────────────────────────────────────────────────────────────

/// How many of the most similar won accounts the similarity averages.
const LOOKALIKE_TOP: usize = 3;

/// Similarity to closed-won accounts, from what is known of an account:
/// `industry` (text), `employees` (number, or text holding one), `country`
/// (text) and `technologies` (list, or text separated by `,`, `;` or `|`).
///
/// Against one won account, the similarity is the mean of four parts, each
/// 0 when either side does not know it:
///
/// * industry: 1 when equal (ignoring case), else 0;
/// * size: `1 - |log10(a) - log10(b)| / 2`, at least 0: 1 for the same
///   headcount, 0.5 for ten times more or less, 0 for a hundred times;
/// * technologies: Jaccard, shared / all distinct (ignoring case);
/// * country: 1 when equal (ignoring case), else 0.
///
/// The account's similarity is the mean over its three most similar won
/// accounts (all of them when fewer): one odd won account does not make a
/// lookalike, and a few close ones do.
#[derive(Debug, Clone, PartialEq)]
pub struct LookalikeModel {
    won: Vec<Profile>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Profile {
    industry: Option<String>,
    /// log10 of the headcount.
    size: Option<f64>,
    band: Option<&'static str>,
    country: Option<String>,
    /// Lowercased, sorted, without repeats.
    technologies: Vec<String>,
}

/// The parts of one account's similarity, for its explanation.
#[derive(Debug, Clone, Copy, Default)]
struct Match {
    index: usize,
    similarity: f64,
    industry: bool,
    size: f64,
    country: bool,
}

struct Measure {
    similarity: f64,
    top: Vec<Match>,
}

impl LookalikeModel {
    /// `won` holds the account facts of each won account.
    pub fn new(won: Vec<BTreeMap<String, Fact>>) -> LookalikeModel {
        LookalikeModel {
            won: won.iter().map(Profile::of).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.won.len()
    }

    pub fn is_empty(&self) -> bool {
        self.won.is_empty()
    }

    /// How similar `account` is to the won accounts (0..=1), and what made
    /// it so: "industry fintech", "shares snowflake and dbt",
    /// "size 201-500 like 3 won accounts", "country US". Empty when nothing
    /// is shared.
    pub fn similarity(&self, account: &BTreeMap<String, Fact>) -> (f64, Vec<String>) {
        let profile = Profile::of(account);
        let measure = self.measure_profile(&profile);
        let why = self.explain(&profile, &measure);
        (measure.similarity, why)
    }

    fn measure(&self, account: &BTreeMap<String, Fact>) -> Measure {
        self.measure_profile(&Profile::of(account))
    }

    fn measure_profile(&self, profile: &Profile) -> Measure {
        let mut top: Vec<Match> = Vec::with_capacity(LOOKALIKE_TOP + 1);
        for (index, won) in self.won.iter().enumerate() {
            let found = profile.compare(won, index);
            // Ties keep the earlier won account: deterministic.
            let at = top
                .iter()
                .position(|kept| found.similarity > kept.similarity)
                .unwrap_or(top.len());
            if at < LOOKALIKE_TOP {
                top.insert(at, found);
                top.truncate(LOOKALIKE_TOP);
            }
        }
        let similarity = if top.is_empty() {
            0.0
        } else {
            top.iter().map(|found| found.similarity).sum::<f64>() / top.len() as f64
        };
        Measure {
            similarity: similarity.clamp(0.0, 1.0),
            top,
        }
    }

    fn explain(&self, profile: &Profile, measure: &Measure) -> Vec<String> {
        let mut why = Vec::new();
        let top = &measure.top;
        if let Some(industry) = &profile.industry
            && top.iter().any(|found| found.industry)
        {
            why.push(format!("industry {industry}"));
        }
        // Shared technologies, the most widely shared among the closest won
        // accounts first, then by name.
        let mut shared: Vec<(usize, &str)> = profile
            .technologies
            .iter()
            .filter_map(|technology| {
                let count = top
                    .iter()
                    .filter(|found| {
                        self.won
                            .get(found.index)
                            .is_some_and(|won| won.technologies.binary_search(technology).is_ok())
                    })
                    .count();
                (count > 0).then_some((count, technology.as_str()))
            })
            .collect();
        shared.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let shared: Vec<&str> = shared.iter().take(3).map(|(_, name)| *name).collect();
        match shared.as_slice() {
            [] => {}
            [one] => why.push(format!("shares {one}")),
            [first @ .., last] => why.push(format!("shares {} and {last}", first.join(", "))),
        }
        if let Some(band) = profile.band
            && top.iter().any(|found| found.size > 0.0)
        {
            let like = self.won.iter().filter(|won| won.band == Some(band)).count();
            match like {
                0 => why.push(format!("size {band} close to won accounts")),
                1 => why.push(format!("size {band} like 1 won account")),
                n => why.push(format!("size {band} like {n} won accounts")),
            }
        }
        if let Some(country) = &profile.country
            && top.iter().any(|found| found.country)
        {
            why.push(format!("country {}", country.to_uppercase()));
        }
        why
    }
}

impl Profile {
    /// Knows none of the four facts a similarity is made of.
    fn is_unknown(&self) -> bool {
        self.industry.is_none()
            && self.size.is_none()
            && self.country.is_none()
            && self.technologies.is_empty()
    }

    fn of(account: &BTreeMap<String, Fact>) -> Profile {
        let text = |name: &str| match account.get(name) {
            Some(Fact::Text(text)) if !text.trim().is_empty() => Some(text.trim().to_lowercase()),
            _ => None,
        };
        let employees = match account.get("employees") {
            Some(Fact::Int(int)) => Some(*int as f64),
            Some(Fact::Float(float)) => Some(*float),
            Some(Fact::Text(text)) => text.trim().replace([',', '_'], "").parse::<f64>().ok(),
            _ => None,
        }
        .filter(|employees| employees.is_finite() && *employees >= 1.0);
        let mut technologies: Vec<String> = match account.get("technologies") {
            Some(Fact::List(items)) => items
                .iter()
                .map(|item| item.trim().to_lowercase())
                .collect(),
            Some(Fact::Text(text)) => text
                .split([',', ';', '|'])
                .map(|item| item.trim().to_lowercase())
                .collect(),
            _ => Vec::new(),
        };
        technologies.retain(|technology| !technology.is_empty());
        technologies.sort();
        technologies.dedup();
        Profile {
            industry: text("industry"),
            size: employees.map(f64::log10),
            band: employees.map(band),
            country: text("country"),
            technologies,
        }
    }

    fn compare(&self, won: &Profile, index: usize) -> Match {
        let industry = self.industry.is_some() && self.industry == won.industry;
        let country = self.country.is_some() && self.country == won.country;
        let size = match (self.size, won.size) {
            (Some(a), Some(b)) => (1.0 - (a - b).abs() / 2.0).max(0.0),
            _ => 0.0,
        };
        let technologies = jaccard(&self.technologies, &won.technologies);
        let parts = [
            f64::from(u8::from(industry)),
            size,
            technologies,
            f64::from(u8::from(country)),
        ];
        Match {
            index,
            similarity: parts.iter().sum::<f64>() / parts.len() as f64,
            industry,
            size,
            country,
        }
    }
}

/// |a ∩ b| / |a ∪ b| of two sorted lists without repeats; 0 when either is
/// empty.
fn jaccard(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while let (Some(x), Some(y)) = (a.get(i), b.get(j)) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f64 / (a.len() + b.len() - shared) as f64
}

/// The usual headcount bands.
fn band(employees: f64) -> &'static str {
    match employees {
        e if e <= 10.0 => "1-10",
        e if e <= 50.0 => "11-50",
        e if e <= 200.0 => "51-200",
        e if e <= 500.0 => "201-500",
        e if e <= 1000.0 => "501-1000",
        e if e <= 5000.0 => "1001-5000",
        e if e <= 10000.0 => "5001-10000",
        _ => "10001+",
    }
}

#[cfg(test)]
mod sql_tests {
    use super::*;
    use crate::playbook::{self, DEFAULT_PLAYBOOK};

    /// `account.employees` → `account_employees`; `signal.*` unmapped.
    fn columns(path: &str) -> Option<String> {
        (!path.starts_with("signal.")).then(|| path.replace('.', "_"))
    }

    fn sql(source: &str) -> Option<String> {
        CompiledCondition::compile(source)
            .ok()
            .and_then(|condition| condition.to_sql(&columns))
    }

    #[test]
    fn the_default_rules_translate() {
        let Ok(playbook) = playbook::parse(DEFAULT_PLAYBOOK, "default") else {
            panic!("the default playbook parses");
        };
        let translated: Vec<(String, Option<String>)> = playbook
            .icp
            .rules
            .iter()
            .map(|rule| (rule.id.clone().unwrap_or_default(), sql(rule.when.as_str())))
            .collect();
        let expected = [
            (
                "target-industry",
                "COALESCE(((account_industry) IN ('software', 'fintech', 'ecommerce')), FALSE)",
            ),
            (
                "company-size",
                "COALESCE((((account_employees) >= 50) AND ((account_employees) <= 5000)), FALSE)",
            ),
            ("too-small", "COALESCE(((account_employees) < 50), FALSE)"),
            (
                "buyer-seniority",
                "COALESCE(((contact_seniority) IN ('c_suite', 'vp', 'director')), FALSE)",
            ),
            (
                "finance-department",
                "COALESCE(((contact_department) = 'finance'), FALSE)",
            ),
            (
                "uses-snowflake",
                "COALESCE(list_contains((account_technologies), 'snowflake'), FALSE)",
            ),
        ];
        let expected: Vec<(String, Option<String>)> = expected
            .iter()
            .map(|(id, sql)| (id.to_string(), Some(sql.to_string())))
            .collect();
        assert_eq!(translated, expected);
    }

    #[test]
    fn the_subset_translates() {
        assert_eq!(
            sql("!(contact.country != 'US') || size(account.technologies) > 2").as_deref(),
            Some(
                "COALESCE(((NOT ((contact_country) <> 'US')) OR (length((account_technologies)) > 2)), FALSE)"
            )
        );
        assert_eq!(
            sql("account.revenue >= 1.5e6 && account.employees > -1").as_deref(),
            Some(
                "COALESCE((((account_revenue) >= 1500000.0) AND ((account_employees) > -1)), FALSE)"
            )
        );
        assert_eq!(
            sql("contact.title == \"O'Brien's assistant\"").as_deref(),
            Some("COALESCE(((contact_title) = 'O''Brien''s assistant'), FALSE)")
        );
        assert_eq!(
            sql("account.industry in [contact.a, contact.b]").as_deref(),
            Some(
                "COALESCE((CASE WHEN (contact_a) IS NULL OR (contact_b) IS NULL THEN NULL ELSE ((account_industry) IN ((contact_a), (contact_b))) END), FALSE)"
            )
        );
        assert_eq!(
            sql("contact.x in []").as_deref(),
            Some("COALESCE((CASE WHEN (contact_x) IS NULL THEN NULL ELSE FALSE END), FALSE)")
        );
        assert_eq!(
            sql("size(['a', 'b']) == 2 && size('héllo') == 5").as_deref(),
            Some("COALESCE(((2 = 2) AND (5 = 5)), FALSE)")
        );
    }

    #[test]
    fn literals_are_compared_with_cel_rules() {
        // CEL never equates text with a number; a database would cast.
        assert_eq!(sql("1 == '1'").as_deref(), Some("COALESCE(FALSE, FALSE)"));
        assert_eq!(sql("1 == 1.0").as_deref(), Some("COALESCE(TRUE, FALSE)"));
        assert_eq!(sql("1 < 'a'").as_deref(), Some("COALESCE(NULL, FALSE)"));
        assert_eq!(
            sql("'b' in ['a', 'b']").as_deref(),
            Some("COALESCE(TRUE, FALSE)")
        );
    }

    #[test]
    fn what_does_not_translate_is_none() {
        // Outside the native subset.
        assert_eq!(
            sql("account.technologies.exists(t, t.startsWith('snow'))"),
            None
        );
        assert_eq!(sql("account.employees * 2 > 100"), None);
        assert_eq!(sql("contact.title.contains('VP')"), None);
        // A fact the database does not have.
        assert_eq!(sql("signal.job_change"), None);
        assert_eq!(sql("signal.job_change || account.employees > 5"), None);
        // Lists SQL cannot hold.
        assert_eq!(sql("account.industry in ['a', 1]"), None);
    }
}
