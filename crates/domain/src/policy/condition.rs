//! Escalation conditions and content-rule guards: CEL over the policy
//! context (`contact`, `account`, `signal`, `draft`, `event`, `sequence`,
//! `mailbox`, `now`).
//!
//! As in [`crate::scoring`], a condition inside the common subset (fields,
//! literals, lists, comparisons, `in`, `&&`, `||`, `!`, unary `-`,
//! `size()`, plus the string methods `contains`, `startsWith` and
//! `endsWith`) is evaluated natively with cel-rust 0.15's semantics; any
//! other condition runs on cel-rust, behind `catch_unwind`.

use crate::native_cel::{CmpOp, Elements, Lit, V, compare, equals};
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{Expr, LiteralValue, operators};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelString, CelTimestamp,
};
use cel::common::value::Val;
use cel::{Env, ExecutionError, IdedExpr, Program, Value};

use super::{Context, DraftInput};
use crate::scoring::Fact;

/// The standard CEL environment, built once per process.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// How a condition came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Decision {
    True,
    False,
    /// Neither: a fact it reads is unknown, or a type does not fit. Why,
    /// for people.
    Undecided(String),
}

/// One `when` or `guard`, compiled for cel-rust and, when it is in the
/// subset, for the native evaluator.
#[derive(Debug)]
pub(super) struct PolicyCondition {
    program: Program,
    fast: Option<Node>,
    /// Every `root.field` the condition reads, in order, without repeats.
    fields: Vec<FieldRef>,
}

impl PolicyCondition {
    /// The error is cel's message.
    pub(super) fn compile(source: &str) -> Result<PolicyCondition, String> {
        // The CEL parser is third-party code fed with user input.
        let program = match catch_unwind(AssertUnwindSafe(|| Program::compile(source))) {
            Ok(Ok(program)) => program,
            Ok(Err(errors)) => return Err(errors.to_string()),
            Err(_panic) => return Err("the CEL parser could not read it".to_string()),
        };
        let fast = Node::compile(program.expression());
        let mut fields = Vec::new();
        collect_fields(program.expression(), &mut fields);
        Ok(PolicyCondition {
            program,
            fast,
            fields,
        })
    }

    pub(super) fn has_fast_path(&self) -> bool {
        self.fast.is_some()
    }

    /// Natively when possible (and `native`), else with cel-rust. `cel` is
    /// the cel-rust context for this scope, built on first use and kept for
    /// the other conditions of the same evaluation.
    pub(super) fn decide<'s>(
        &self,
        scope: &Scope<'s>,
        cel: &mut Option<cel::Context<'s, 's>>,
        native: bool,
    ) -> Decision {
        match self.fast.as_ref().filter(|_| native) {
            Some(node) => match node.decide(scope) {
                Ok(true) => Decision::True,
                Ok(false) => Decision::False,
                Err(problem) => Decision::Undecided(problem.message(&self.fields, scope)),
            },
            None => {
                let context = cel.get_or_insert_with(|| cel_context(scope));
                self.decide_with_cel(context, scope)
            }
        }
    }

    /// With cel-rust, whether or not the native evaluator could.
    pub(super) fn decide_with_cel(
        &self,
        context: &cel::Context<'_, '_>,
        scope: &Scope<'_>,
    ) -> Decision {
        // cel-rust panics on a few malformed trees; one rule must not take
        // the evaluation down.
        let result = catch_unwind(AssertUnwindSafe(|| self.program.execute(context)));
        match result {
            Ok(Ok(Value::Bool(true))) => Decision::True,
            Ok(Ok(Value::Bool(false))) => Decision::False,
            Ok(Ok(other)) => Decision::Undecided(format!(
                "the condition gives {}, not true or false",
                cel_kind(&other)
            )),
            Ok(Err(error)) => Decision::Undecided(cel_error_message(&error, &self.fields, scope)),
            Err(_panic) => {
                Decision::Undecided("cel-rust failed evaluating the condition".to_string())
            }
        }
    }
}

// ── The scope: what a condition can read ────────────────────────────────

/// The context of one evaluation, with the draft (when there is one) and
/// the ids of the rules that found something in it (for escalation rules;
/// guards run before findings are known).
#[derive(Debug)]
pub(super) struct Scope<'a> {
    pub context: &'a Context,
    pub draft: Option<&'a DraftInput>,
    pub findings: Option<&'a [&'a str]>,
    word_count: OnceCell<i64>,
}

impl<'a> Scope<'a> {
    pub(super) fn new(
        context: &'a Context,
        draft: Option<&'a DraftInput>,
        findings: Option<&'a [&'a str]>,
    ) -> Scope<'a> {
        Scope {
            context,
            draft,
            findings,
            word_count: OnceCell::new(),
        }
    }

    fn map(&self, root: Root) -> &'a BTreeMap<String, Fact> {
        match root {
            Root::Contact => &self.context.contact,
            Root::Account => &self.context.account,
            Root::Signal => &self.context.signal,
            Root::Draft => &self.context.draft,
            Root::Event => &self.context.event,
            Root::Sequence => &self.context.sequence,
            Root::Mailbox => &self.context.mailbox,
        }
    }

    fn word_count(&self, draft: &DraftInput) -> i64 {
        *self.word_count.get_or_init(|| {
            let words =
                draft.subject.split_whitespace().count() + draft.body.split_whitespace().count();
            i64::try_from(words).unwrap_or(i64::MAX)
        })
    }

    /// A field's value, or `None` when it is unknown.
    fn get(&self, field: &FieldRef) -> Option<V<'a>> {
        if let (Some(derived), Some(draft)) = (field.derived, self.draft) {
            match derived {
                DraftField::Id => return Some(V::Str(&draft.id)),
                DraftField::Subject => return Some(V::Str(&draft.subject)),
                DraftField::Body => return Some(V::Str(&draft.body)),
                DraftField::SequenceType => return Some(V::Str(&draft.sequence_type)),
                DraftField::Confidence => return Some(V::Float(draft.confidence)),
                DraftField::Author => return Some(V::Str(draft.author.as_str())),
                DraftField::WordCount => return Some(V::Int(self.word_count(draft))),
                DraftField::Grounding => return Some(V::Strs(&draft.grounding)),
                DraftField::Findings => {
                    if let Some(findings) = self.findings {
                        return Some(V::Refs(findings));
                    }
                }
            }
        }
        match self.map(field.root).get(&*field.name)? {
            Fact::Text(text) => Some(V::Str(text)),
            Fact::Int(int) => Some(V::Int(*int)),
            Fact::Float(float) => Some(V::Float(*float)),
            Fact::Bool(boolean) => Some(V::Bool(*boolean)),
            Fact::List(items) => Some(V::Strs(items)),
        }
    }

    fn knows(&self, field: &FieldRef) -> bool {
        self.get(field).is_some()
    }
}

/// The records a condition reads, besides `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Contact,
    Account,
    Signal,
    Draft,
    Event,
    Sequence,
    Mailbox,
}

impl Root {
    const ALL: [Root; 7] = [
        Root::Contact,
        Root::Account,
        Root::Signal,
        Root::Draft,
        Root::Event,
        Root::Sequence,
        Root::Mailbox,
    ];

    fn parse(name: &str) -> Option<Root> {
        Root::ALL.into_iter().find(|root| root.name() == name)
    }

    fn name(self) -> &'static str {
        match self {
            Root::Contact => "contact",
            Root::Account => "account",
            Root::Signal => "signal",
            Root::Draft => "draft",
            Root::Event => "event",
            Root::Sequence => "sequence",
            Root::Mailbox => "mailbox",
        }
    }
}

/// `draft.*` fields taken from the draft itself rather than the context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DraftField {
    Id,
    Subject,
    Body,
    SequenceType,
    Confidence,
    Author,
    WordCount,
    Grounding,
    Findings,
}

impl DraftField {
    const ALL: [(&'static str, DraftField); 9] = [
        ("id", DraftField::Id),
        ("subject", DraftField::Subject),
        ("body", DraftField::Body),
        ("sequence_type", DraftField::SequenceType),
        ("confidence", DraftField::Confidence),
        ("author", DraftField::Author),
        ("word_count", DraftField::WordCount),
        ("grounding", DraftField::Grounding),
        ("findings", DraftField::Findings),
    ];

    fn parse(name: &str) -> Option<DraftField> {
        DraftField::ALL
            .into_iter()
            .find(|(known, _)| *known == name)
            .map(|(_, field)| field)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldRef {
    root: Root,
    name: Box<str>,
    /// `account.employees`
    path: Box<str>,
    derived: Option<DraftField>,
}

impl FieldRef {
    fn new(root: &str, name: &str) -> Option<FieldRef> {
        let root = Root::parse(root)?;
        let derived = match root {
            Root::Draft => DraftField::parse(name),
            _ => None,
        };
        Some(FieldRef {
            root,
            name: name.into(),
            path: format!("{}.{name}", root.name()).into(),
            derived,
        })
    }
}

// ── cel-rust ─────────────────────────────────────────────────────────────

/// A cel-rust context whose values borrow the scope's strings.
pub(super) fn cel_context<'f>(scope: &Scope<'f>) -> cel::Context<'f, 'f> {
    let mut context = cel::Context::with_env(Arc::clone(&STDLIB));
    for root in Root::ALL {
        let map = scope.map(root);
        let mut entries: HashMap<CelMapKey<'f>, Box<dyn Val + 'f>> =
            HashMap::with_capacity(map.len() + DraftField::ALL.len());
        for (name, fact) in map {
            entries.insert(CelMapKey::from(name.as_str()), fact_to_cel(fact));
        }
        if root == Root::Draft
            && let Some(draft) = scope.draft
        {
            // The draft's own values win over the context's extras.
            for (name, field) in DraftField::ALL {
                let value: Box<dyn Val + 'f> = match field {
                    DraftField::Id => Box::new(CelString::from(draft.id.as_str())),
                    DraftField::Subject => Box::new(CelString::from(draft.subject.as_str())),
                    DraftField::Body => Box::new(CelString::from(draft.body.as_str())),
                    DraftField::SequenceType => {
                        Box::new(CelString::from(draft.sequence_type.as_str()))
                    }
                    DraftField::Confidence => Box::new(CelDouble::from(draft.confidence)),
                    DraftField::Author => Box::new(CelString::from(draft.author.as_str())),
                    DraftField::WordCount => Box::new(CelInt::from(scope.word_count(draft))),
                    DraftField::Grounding => {
                        string_list(draft.grounding.iter().map(String::as_str))
                    }
                    DraftField::Findings => match scope.findings {
                        Some(findings) => string_list(findings.iter().copied()),
                        None => continue,
                    },
                };
                entries.insert(CelMapKey::from(name), value);
            }
        }
        context.add_variable_as_val(root.name(), Box::new(CelMap::from(entries)));
    }
    context.add_variable_as_val(
        "now",
        Box::new(CelTimestamp::from(scope.context.now.fixed_offset())),
    );
    context
}

fn string_list<'f>(items: impl Iterator<Item = &'f str>) -> Box<dyn Val + 'f> {
    let items: Vec<Box<dyn Val + 'f>> = items
        .map(|item| Box::new(CelString::from(item)) as Box<dyn Val + 'f>)
        .collect();
    Box::new(CelList::from(items))
}

fn fact_to_cel(fact: &Fact) -> Box<dyn Val + '_> {
    match fact {
        Fact::Text(text) => Box::new(CelString::from(text.as_str())),
        Fact::Int(int) => Box::new(CelInt::from(*int)),
        Fact::Float(float) => Box::new(CelDouble::from(*float)),
        Fact::Bool(boolean) => Box::new(CelBool::from(*boolean)),
        Fact::List(items) => string_list(items.iter().map(String::as_str)),
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
            "`{name}` is not something a condition can read: use contact, account, signal, \
             draft, event, sequence, mailbox or now"
        ),
        ExecutionError::NoSuchOverload(overload) => format!(
            "cannot use {}() on {}",
            overload.function(),
            overload.argument_types().join(" and ")
        ),
        ExecutionError::ValuesNotComparable(lhs, rhs) => {
            format!("cannot compare {lhs:?} with {rhs:?}")
        }
        ExecutionError::UnexpectedType { got, want } => format!("expected {want}, got {got}"),
        other => other.to_string(),
    }
}

/// "account.employees is unknown", naming every field read that is unknown.
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

/// `text.contains(x)`, `text.startsWith(x)`, `text.endsWith(x)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextOp {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextOp {
    fn name(self) -> &'static str {
        match self {
            TextOp::Contains => "contains()",
            TextOp::StartsWith => "startsWith()",
            TextOp::EndsWith => "endsWith()",
        }
    }
}

/// A condition in the subset, as a tree over the scope.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Field(FieldRef),
    Lit(Lit),
    /// A list literal of literals: no list is built to evaluate it.
    ConstList(Vec<Lit>),
    List(Vec<Node>),
    Cmp(CmpOp, Box<Node>, Box<Node>),
    In(Box<Node>, Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Size(Box<Node>),
    Text(TextOp, Box<Node>, Box<Node>),
}

/// Why a condition could not be decided; the message is only written for
/// conditions that end up undecided.
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
                        match name {
                            operators::EQUALS => Some(Node::Cmp(CmpOp::Eq, lhs, rhs)),
                            operators::NOT_EQUALS => Some(Node::Cmp(CmpOp::Ne, lhs, rhs)),
                            operators::LESS => Some(Node::Cmp(CmpOp::Lt, lhs, rhs)),
                            operators::LESS_EQUALS => Some(Node::Cmp(CmpOp::Le, lhs, rhs)),
                            operators::GREATER => Some(Node::Cmp(CmpOp::Gt, lhs, rhs)),
                            operators::GREATER_EQUALS => Some(Node::Cmp(CmpOp::Ge, lhs, rhs)),
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
                    (name, Some(target), [argument]) => {
                        let op = match name {
                            "contains" => TextOp::Contains,
                            "startsWith" => TextOp::StartsWith,
                            "endsWith" => TextOp::EndsWith,
                            _ => return None,
                        };
                        Some(Node::Text(op, boxed(target)?, boxed(argument)?))
                    }
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
            Node::Field(field) => scope.get(field).ok_or(Problem::Missing),
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
            Node::Text(op, target_node, argument_node) => {
                let target = target_node.eval(scope)?;
                let argument = argument_node.eval(scope)?;
                match (&target, &argument) {
                    (V::Str(text), V::Str(part)) => Ok(V::Bool(match op {
                        TextOp::Contains => text.contains(part),
                        TextOp::StartsWith => text.starts_with(part),
                        TextOp::EndsWith => text.ends_with(part),
                    })),
                    _ => Err(Problem::Mismatch {
                        op: op.name(),
                        lhs: target_node,
                        rhs: Some(argument_node),
                    }),
                }
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
            Problem::Overflow(node) => format!("{} is too large a number", describe(node, scope)),
        }
    }
}

/// `account.employees (text)`, `50 (number)`, `a list`.
fn describe(node: &Node, scope: &Scope<'_>) -> String {
    match node {
        Node::Field(field) => match scope.get(field) {
            Some(value) => format!("{} ({})", field.path, value.kind()),
            None => format!("{} (unknown)", field.path),
        },
        Node::Lit(literal) => format!("{literal} ({})", literal.value().kind()),
        other => match other.eval(scope) {
            Ok(value) => format!("a {}", value.kind()),
            Err(_) => "an undecided value".to_string(),
        },
    }
}
