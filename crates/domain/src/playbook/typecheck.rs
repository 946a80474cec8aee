//! Checks a CEL condition against the documented context
//! ([`super::context`]) before it ever meets a prospect.
//!
//! cel 0.15 has no checker of its own: it resolves names, fields and
//! functions only while a program runs, so `contact.senority` would show up
//! as a rule that silently never fires. Its parsed tree is public, though
//! (`cel::common::ast`), with the byte offset of every node
//! (`Program::source_info`), so this walks the tree, gives each node a type
//! and reports each mistake where it was written:
//!
//! * errors: unknown variables, fields and functions; variables the rule's
//!   stage does not have; comparisons of values that can never be equal or
//!   that cel-rust refuses to order; `in` on something that is not a list;
//!   string methods on non-strings; a value outside a field's closed set
//!   (`contact.seniority == 'ceo'`); regular expressions that do not
//!   compile; constant parts that always fail; a condition that does not
//!   give true or false.
//! * warnings: a condition, or one side of a `||`, that can never be true:
//!   the constant `false`, bounds that contradict each other or the field's
//!   range, a sequence type no sequence has.
//!
//! Whatever has no known type (map values, `dyn(…)`, macro accumulators) is
//! never reported: the checker only speaks when it is sure.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, LazyLock};

use cel::common::ast::{
    CallExpr, ComprehensionExpr, EntryExpr, Expr, IdedExpr, LiteralValue, SelectExpr, SourceInfo,
    operators,
};
use cel::{Context, Env, Program, Value};

use super::context::{self, CelType, Field, Shape, Site, VARIABLES, Variable};
use super::diagnostic::{Level, did_you_mean, quoted_list};
use super::governance::describe_regex_error;

/// One mistake in a condition, at a byte offset into its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConditionProblem {
    pub offset: usize,
    pub level: Level,
    pub message: String,
    pub hint: Option<String>,
}

/// Parses `source` and checks it as a condition written at `site` (`None`:
/// any variable of the context may be read). `Err` is the parse error.
pub fn check_condition(source: &str, site: Option<Site>) -> Result<Vec<ConditionProblem>, String> {
    // The CEL parser is third-party code fed with user input.
    match catch_unwind(AssertUnwindSafe(|| Program::compile(source))) {
        Ok(Ok(program)) => Ok(check_program(&program, source, site, &[])),
        Ok(Err(errors)) => Err(errors.to_string()),
        Err(_panic) => Err("the CEL parser could not read it".to_string()),
    }
}

/// Checks a compiled condition. `sequence_types` are the types the
/// playbook's sequences have, for `sequence.type == '…'`; empty: unchecked.
pub(crate) fn check_program(
    program: &Program,
    source: &str,
    site: Option<Site>,
    sequence_types: &[String],
) -> Vec<ConditionProblem> {
    let mut checker = Checker {
        source,
        info: program.source_info(),
        site,
        sequence_types,
        scope: Vec::new(),
        problems: Vec::new(),
    };
    let root = program.expression();
    let typed = checker.walk(root);
    if typed.ty.is_known() && typed.ty != Ty::Bool {
        let text = checker.text(root);
        checker.error(
            checker.span_start(root),
            format!(
                "a condition must give true or false, but `{text}` is {}",
                typed.ty.a()
            ),
            bool_hint(&typed.ty, &text),
        );
    }
    if !checker.has_errors() {
        checker.evaluate_constants(root);
    }
    if !checker.has_errors() {
        checker.report_never_true(root, true);
    }
    let mut problems = checker.problems;
    problems.sort_by_key(|problem| problem.offset);
    problems.dedup();
    problems
}

// ── Types ────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, PartialEq)]
enum Ty {
    /// Not known until the condition runs: never reported.
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    List(Box<Ty>),
    Map,
    /// A variable with fields, such as `contact`.
    Record(&'static Variable),
    /// A type name, such as `int` in `type(x) == int`.
    Type,
}

impl Ty {
    fn from_cel(ty: CelType) -> Ty {
        match ty {
            CelType::String => Ty::String,
            CelType::Int => Ty::Int,
            CelType::Double => Ty::Double,
            CelType::Bool => Ty::Bool,
            CelType::StringList => Ty::List(Box::new(Ty::String)),
            CelType::Timestamp => Ty::Timestamp,
            CelType::Duration => Ty::Duration,
        }
    }

    fn is_known(&self) -> bool {
        !matches!(self, Ty::Dyn)
    }

    fn is_number(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    /// "a string", "an int", … for messages.
    fn a(&self) -> String {
        match self {
            Ty::Dyn => "a value".to_string(),
            Ty::Null => "null".to_string(),
            Ty::Bool => "a bool".to_string(),
            Ty::Int => "an int".to_string(),
            Ty::Uint => "a uint".to_string(),
            Ty::Double => "a double".to_string(),
            Ty::String => "a string".to_string(),
            Ty::Bytes => "bytes".to_string(),
            Ty::Timestamp => "a timestamp".to_string(),
            Ty::Duration => "a duration".to_string(),
            Ty::List(item) if item.is_known() => format!("a list of {}", item.plural()),
            Ty::List(_) => "a list".to_string(),
            Ty::Map => "a map".to_string(),
            Ty::Record(variable) => format!("the record `{}`", variable.name),
            Ty::Type => "a type".to_string(),
        }
    }

    fn plural(&self) -> &'static str {
        match self {
            Ty::Bool => "bools",
            Ty::Int => "ints",
            Ty::Uint => "uints",
            Ty::Double => "doubles",
            Ty::String => "strings",
            Ty::Timestamp => "timestamps",
            Ty::Duration => "durations",
            Ty::List(_) => "lists",
            Ty::Map => "maps",
            _ => "values",
        }
    }
}

/// Two values of these types can be equal (CEL compares numbers across
/// int, uint and double; anything else only within its own type).
fn can_be_equal(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn | Ty::Type, _) | (_, Ty::Dyn | Ty::Type) => true,
        (Ty::Null, _) | (_, Ty::Null) => true,
        _ if a.is_number() && b.is_number() => true,
        (Ty::List(_), Ty::List(_)) => true,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

/// cel-rust orders numbers (across types), strings, bools, timestamps and
/// durations; anything else is an error when the condition runs.
fn can_be_ordered(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn, _) | (_, Ty::Dyn) => true,
        _ if a.is_number() && b.is_number() => true,
        (Ty::String, Ty::String)
        | (Ty::Bool, Ty::Bool)
        | (Ty::Bytes, Ty::Bytes)
        | (Ty::Timestamp, Ty::Timestamp)
        | (Ty::Duration, Ty::Duration) => true,
        _ => false,
    }
}

/// A literal's value, kept to check it against closed sets and ranges.
#[derive(Debug, Clone, PartialEq)]
enum Const {
    Bool(bool),
    Number(f64),
    Str(String),
    Null,
    /// Items with the id of the node each was written at.
    List(Vec<(Const, u64)>),
    Other,
}

/// A field of the context, as read by `contact.seniority`.
#[derive(Debug, Clone, Copy)]
struct Path {
    variable: &'static Variable,
    field: &'static Field,
}

impl Path {
    fn name(&self) -> String {
        format!("{}.{}", self.variable.name, self.field.name)
    }
}

/// What the walk knows about one node.
#[derive(Debug, Clone)]
struct Typed {
    ty: Ty,
    /// Set when the node reads one field of the context.
    path: Option<Path>,
    /// Set when the node is a literal, or a list of literals.
    constant: Option<Const>,
}

impl Typed {
    fn of(ty: Ty) -> Typed {
        Typed {
            ty,
            path: None,
            constant: None,
        }
    }
}

/// CEL's type names, which are identifiers too (`type(x) == int`).
const TYPE_NAMES: [&str; 13] = [
    "bool",
    "bytes",
    "double",
    "duration",
    "dyn",
    "int",
    "list",
    "map",
    "null_type",
    "string",
    "timestamp",
    "type",
    "uint",
];

/// The functions of cel 0.15's standard library, as they are called.
const FUNCTIONS: [(&str, &str); 25] = [
    ("size", "size(x) or x.size()"),
    ("contains", "text.contains('…')"),
    ("startsWith", "text.startsWith('…')"),
    ("endsWith", "text.endsWith('…')"),
    ("matches", "text.matches('regex')"),
    ("int", "int(x)"),
    ("uint", "uint(x)"),
    ("double", "double(x)"),
    ("string", "string(x)"),
    ("bytes", "bytes(x)"),
    ("bool", "bool(x)"),
    ("dyn", "dyn(x)"),
    ("type", "type(x)"),
    ("timestamp", "timestamp('2025-01-31T09:00:00Z')"),
    ("duration", "duration('24h')"),
    ("getFullYear", "now.getFullYear()"),
    ("getMonth", "now.getMonth() (0 is January)"),
    ("getDayOfYear", "now.getDayOfYear()"),
    ("getDayOfMonth", "now.getDayOfMonth() (from 0)"),
    ("getDate", "now.getDate() (from 1)"),
    (
        "getDayOfWeek",
        "now.getDayOfWeek('America/New_York') (0 is Sunday)",
    ),
    ("getHours", "now.getHours('America/New_York')"),
    ("getMinutes", "now.getMinutes()"),
    ("getSeconds", "now.getSeconds()"),
    ("getMilliseconds", "now.getMilliseconds()"),
];

/// Time parts a duration has too.
const DURATION_GETTERS: [&str; 4] = ["getHours", "getMinutes", "getSeconds", "getMilliseconds"];

// ── The walk ─────────────────────────────────────────────────────────────

struct Checker<'a> {
    source: &'a str,
    info: &'a SourceInfo,
    site: Option<Site>,
    sequence_types: &'a [String],
    /// Variables bound by macros (`t` in `tags.exists(t, …)`), innermost last.
    scope: Vec<(String, Ty)>,
    problems: Vec<ConditionProblem>,
}

impl Checker<'_> {
    fn error(&mut self, offset: usize, message: String, hint: Option<String>) {
        self.push(Level::Error, offset, message, hint);
    }

    fn warn(&mut self, offset: usize, message: String, hint: Option<String>) {
        self.push(Level::Warning, offset, message, hint);
    }

    fn push(&mut self, level: Level, offset: usize, message: String, hint: Option<String>) {
        self.problems.push(ConditionProblem {
            offset: offset.min(self.source.len()),
            level,
            message,
            hint,
        });
    }

    fn has_errors(&self) -> bool {
        self.problems
            .iter()
            .any(|problem| problem.level == Level::Error)
    }

    // ── Where things are ──

    /// Where the node's own token starts: an operator, a name, a `.`.
    fn start(&self, id: u64) -> usize {
        self.info
            .offset_for(id)
            .map_or(0, |(start, _)| usize::try_from(start).unwrap_or(0))
    }

    /// The byte range the node and everything under it was written in.
    fn span(&self, node: &IdedExpr) -> (usize, usize) {
        let mut span = (usize::MAX, 0);
        visit(node, &mut |expr| {
            if let Some((start, stop)) = self.info.offset_for(expr.id) {
                let start = usize::try_from(start).unwrap_or(0);
                let mut end = usize::try_from(stop).unwrap_or(0).saturating_add(1);
                let mut start = start;
                match &expr.expr {
                    // A select node is its `.`: the field name comes after it.
                    Expr::Select(select) => {
                        let field = self.field_offset(expr, &select.field);
                        if field > start {
                            end = end.max(field + select.field.len());
                        }
                    }
                    // A function call is its `(`: the name comes before it.
                    Expr::Call(call) if call.target.is_none() && is_function(&call.func_name) => {
                        start = start.min(self.function_offset(expr, &call.func_name));
                    }
                    _ => {}
                }
                span = (span.0.min(start), span.1.max(end));
            }
        });
        if span.0 > span.1 { (0, 0) } else { span }
    }

    fn span_start(&self, node: &IdedExpr) -> usize {
        self.span(node).0
    }

    /// The source text of a node, for messages.
    fn text(&self, node: &IdedExpr) -> String {
        let (start, mut end) = self.span(node);
        end = end.min(self.source.len());
        while end < self.source.len() && !self.source.is_char_boundary(end) {
            end += 1;
        }
        let text = self.source.get(start..end).unwrap_or_default().trim();
        // Spans hold tokens, not parentheses: `size(x` lacks its `)`, and
        // `a || b) && c` its `(`.
        let mut balanced = text.to_string();
        for (open, close) in [('(', ')'), ('[', ']')] {
            let opened = balanced.matches(open).count();
            let closed = balanced.matches(close).count();
            let mut text = open.to_string().repeat(closed.saturating_sub(opened));
            text.push_str(&balanced);
            text.push_str(&close.to_string().repeat(opened.saturating_sub(closed)));
            balanced = text;
        }
        balanced
    }

    /// Where `field` is written after the `.` a select node starts at.
    fn field_offset(&self, node: &IdedExpr, field: &str) -> usize {
        let dot = self.start(node.id);
        let rest = self.source.get(dot..).unwrap_or_default();
        let mut searched = 0;
        while let Some(found) = rest.get(searched..).and_then(|tail| tail.find(field)) {
            let at = searched + found;
            let before = rest.get(..at).unwrap_or_default().trim_end();
            if before.ends_with('.') {
                return dot + at;
            }
            searched = at + field.len().max(1);
        }
        dot
    }

    /// Where the name of a called function is written.
    fn function_offset(&self, node: &IdedExpr, name: &str) -> usize {
        let at = self.start(node.id);
        if self
            .source
            .get(at..)
            .is_some_and(|rest| rest.starts_with(name))
        {
            return at;
        }
        let before = self.source.get(..at).unwrap_or_default().trim_end();
        if before.ends_with(name) {
            before.len() - name.len()
        } else {
            at
        }
    }

    // ── Types ──

    fn walk(&mut self, node: &IdedExpr) -> Typed {
        match &node.expr {
            Expr::Literal(literal) => literal_type(literal),
            Expr::Ident(name) => self.ident(node, name),
            Expr::Select(select) => self.select(node, select),
            Expr::Call(call) => self.call(node, call),
            Expr::List(list) => {
                let items: Vec<(Typed, u64)> = list
                    .elements
                    .iter()
                    .map(|element| (self.walk(element), element.id))
                    .collect();
                let item_type = match items.split_first() {
                    Some(((first, _), rest))
                        if rest.iter().all(|(item, _)| item.ty == first.ty) =>
                    {
                        first.ty.clone()
                    }
                    _ => Ty::Dyn,
                };
                let constant = items
                    .iter()
                    .map(|(item, id)| item.constant.clone().map(|constant| (constant, *id)))
                    .collect::<Option<Vec<_>>>()
                    .map(Const::List);
                Typed {
                    ty: Ty::List(Box::new(item_type)),
                    path: None,
                    constant,
                }
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(entry) => {
                            self.walk(&entry.key);
                            self.walk(&entry.value);
                        }
                        EntryExpr::StructField(field) => {
                            self.walk(&field.value);
                        }
                    }
                }
                Typed::of(Ty::Map)
            }
            Expr::Struct(structure) => {
                for entry in &structure.entries {
                    match &entry.expr {
                        EntryExpr::MapEntry(entry) => {
                            self.walk(&entry.key);
                            self.walk(&entry.value);
                        }
                        EntryExpr::StructField(field) => {
                            self.walk(&field.value);
                        }
                    }
                }
                Typed::of(Ty::Dyn)
            }
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Unspecified => Typed::of(Ty::Dyn),
        }
    }

    fn ident(&mut self, node: &IdedExpr, name: &str) -> Typed {
        if let Some((_, ty)) = self.scope.iter().rev().find(|(bound, _)| bound == name) {
            return Typed::of(ty.clone());
        }
        if let Some(variable) = context::variable(name) {
            if let Some(site) = self.site
                && !site.allows(name)
            {
                let hint = unavailable_hint(site, name);
                self.error(
                    self.start(node.id),
                    format!("`{name}` is not available in {}", site.describe()),
                    Some(hint),
                );
            }
            return Typed::of(match variable.shape {
                Shape::Record(_) => Ty::Record(variable),
                Shape::Value(ty) => Ty::from_cel(ty),
            });
        }
        if TYPE_NAMES.contains(&name) {
            return Typed::of(Ty::Type);
        }
        let readable: Vec<&str> = match self.site {
            Some(site) => site.variables().to_vec(),
            None => VARIABLES.iter().map(|variable| variable.name).collect(),
        };
        let everything: Vec<&str> = VARIABLES.iter().map(|variable| variable.name).collect();
        let hint = match did_you_mean(name, &readable).or_else(|| did_you_mean(name, &everything)) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!(
                "{} can read {}",
                self.site
                    .map_or_else(|| "conditions".to_string(), Site::describe),
                quoted_list(&readable)
            ),
        };
        self.error(
            self.start(node.id),
            format!("unknown variable `{name}`"),
            Some(hint),
        );
        Typed::of(Ty::Dyn)
    }

    fn select(&mut self, node: &IdedExpr, select: &SelectExpr) -> Typed {
        let operand = self.walk(&select.operand);
        let presence = |ty: Ty| {
            if select.test {
                Typed::of(Ty::Bool)
            } else {
                Typed::of(ty)
            }
        };
        match &operand.ty {
            Ty::Record(variable) => {
                let at = self.field_offset(node, &select.field);
                match self.field(variable, &select.field, at) {
                    Some(path) if !select.test => Typed {
                        ty: Ty::from_cel(path.field.ty),
                        path: Some(path),
                        constant: None,
                    },
                    _ => presence(Ty::Dyn),
                }
            }
            Ty::Dyn | Ty::Map => presence(Ty::Dyn),
            other => {
                let at = self.field_offset(node, &select.field);
                let hint = match other {
                    Ty::Timestamp => Some(
                        "read its parts with functions, e.g. now.getHours('America/New_York')"
                            .to_string(),
                    ),
                    _ => None,
                };
                self.error(
                    at,
                    format!(
                        "`{}` is {} and has no fields",
                        self.text(&select.operand),
                        other.a()
                    ),
                    hint,
                );
                presence(Ty::Dyn)
            }
        }
    }

    /// The field `name` of `variable`, or an error at `at`.
    fn field(&mut self, variable: &'static Variable, name: &str, at: usize) -> Option<Path> {
        if let Some(field) = variable.field(name) {
            return Some(Path { variable, field });
        }
        let names: Vec<&str> = variable.fields().iter().map(|field| field.name).collect();
        let hint = match did_you_mean(name, &names) {
            Some(close) => format!("did you mean `{}.{close}`?", variable.name),
            None => format!("`{}` has {}", variable.name, quoted_list(&names)),
        };
        self.error(
            at,
            format!("unknown field `{}.{name}`", variable.name),
            Some(hint),
        );
        None
    }

    fn comprehension(&mut self, comprehension: &ComprehensionExpr) -> Typed {
        let range = self.walk(&comprehension.iter_range);
        let item = match &range.ty {
            Ty::List(item) => (**item).clone(),
            Ty::Map | Ty::Dyn => Ty::Dyn,
            other => {
                self.error(
                    self.span_start(&comprehension.iter_range),
                    format!(
                        "`{}` is {}, not a list: exists(), all(), map() and filter() go over lists",
                        self.text(&comprehension.iter_range),
                        other.a()
                    ),
                    None,
                );
                Ty::Dyn
            }
        };
        let accumulator = self.walk(&comprehension.accu_init);
        let depth = self.scope.len();
        match &comprehension.iter_var2 {
            None => self.scope.push((comprehension.iter_var.clone(), item)),
            Some(second) => {
                self.scope.push((comprehension.iter_var.clone(), Ty::Dyn));
                self.scope.push((second.clone(), item));
            }
        }
        self.scope
            .push((comprehension.accu_var.clone(), accumulator.ty));
        self.walk(&comprehension.loop_cond);
        self.walk(&comprehension.loop_step);
        let result = self.walk(&comprehension.result);
        self.scope.truncate(depth);
        Typed::of(result.ty)
    }

    fn call(&mut self, node: &IdedExpr, call: &CallExpr) -> Typed {
        let name = call.func_name.as_str();
        let target = call
            .target
            .as_deref()
            .map(|target| (target, self.walk(target)));
        let args: Vec<(&IdedExpr, Typed)> =
            call.args.iter().map(|arg| (arg, self.walk(arg))).collect();
        let ty = match (name, &target, args.as_slice()) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR, None, [a, b]) => {
                let symbol = if name == operators::LOGICAL_AND {
                    "&&"
                } else {
                    "||"
                };
                self.expect_bool(a, symbol);
                self.expect_bool(b, symbol);
                Ty::Bool
            }
            (operators::LOGICAL_NOT, None, [a]) => {
                self.expect_bool(a, "!");
                Ty::Bool
            }
            (operators::NOT_STRICTLY_FALSE, None, [_]) => Ty::Bool,
            (operators::EQUALS | operators::NOT_EQUALS, None, [a, b]) => {
                self.equality(a, b, name == operators::EQUALS);
                Ty::Bool
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                None,
                [a, b],
            ) => {
                self.ordering(node, a, b);
                Ty::Bool
            }
            (operators::IN, None, [a, b]) => {
                self.membership(a, b);
                Ty::Bool
            }
            (
                operators::ADD
                | operators::SUBSTRACT
                | operators::MULTIPLY
                | operators::DIVIDE
                | operators::MODULO,
                None,
                [a, b],
            ) => self.arithmetic(node, name, a, b),
            (operators::NEGATE, None, [(operand, typed)]) => match &typed.ty {
                Ty::Int | Ty::Double | Ty::Dyn => typed.ty.clone(),
                other => {
                    self.error(
                        self.start(node.id),
                        format!(
                            "cannot negate `{}`, which is {}",
                            self.text(operand),
                            other.a()
                        ),
                        None,
                    );
                    Ty::Dyn
                }
            },
            (operators::CONDITIONAL, None, [condition, yes, no]) => {
                self.expect_bool(condition, "? :");
                if yes.1.ty == no.1.ty {
                    yes.1.ty.clone()
                } else {
                    Ty::Dyn
                }
            }
            (operators::INDEX, None, [container, key]) => return self.index(container, key),
            (operators::OPT_INDEX | operators::OPT_SELECT, _, _) => Ty::Dyn,
            ("size", Some(operand), []) | ("size", None, [operand]) => {
                self.sized(node, operand);
                Ty::Int
            }
            ("contains" | "startsWith" | "endsWith" | "matches", Some(text), [argument])
            | ("matches", None, [text, argument]) => {
                self.text_method(node, name, text, argument);
                Ty::Bool
            }
            ("int", None, [_]) => Ty::Int,
            ("uint", None, [_]) => Ty::Uint,
            ("double", None, [_]) => Ty::Double,
            ("string", None, [_]) => Ty::String,
            ("bytes", None, [_]) => Ty::Bytes,
            ("bool", None, [_]) => Ty::Bool,
            ("timestamp", None, [_]) => Ty::Timestamp,
            ("duration", None, [_]) => Ty::Duration,
            ("dyn", None, [_]) => Ty::Dyn,
            ("type", None, [_]) => Ty::Type,
            (getter, Some(time), [] | [_]) if getter.starts_with("get") && is_function(getter) => {
                self.time_part(node, getter, time);
                Ty::Int
            }
            _ => {
                self.unknown_function(node, name);
                Ty::Dyn
            }
        };
        Typed::of(ty)
    }

    fn unknown_function(&mut self, node: &IdedExpr, name: &str) {
        let at = self.function_offset(node, name);
        if let Some((_, usage)) = FUNCTIONS.iter().find(|(known, _)| *known == name) {
            self.error(
                at,
                format!("`{name}` is not called like that"),
                Some(format!("write {usage}")),
            );
            return;
        }
        let names: Vec<&str> = FUNCTIONS.iter().map(|(known, _)| *known).collect();
        let hint = match did_you_mean(name, &names) {
            Some(close) => format!("did you mean `{close}`?"),
            None => format!("conditions can call {}", quoted_list(&names)),
        };
        self.error(at, format!("unknown function `{name}`"), Some(hint));
    }

    fn expect_bool(&mut self, (node, typed): &(&IdedExpr, Typed), operator: &str) {
        if typed.ty.is_known() && typed.ty != Ty::Bool {
            let text = self.text(node);
            self.error(
                self.span_start(node),
                format!(
                    "`{operator}` needs true or false, but `{text}` is {}",
                    typed.ty.a()
                ),
                bool_hint(&typed.ty, &text),
            );
        }
    }

    /// Where to point when two operands do not fit: at a literal if there
    /// is one (the likelier mistake), else at the first operand.
    fn blame(&self, (a, _): &(&IdedExpr, Typed), (b, b_typed): &(&IdedExpr, Typed)) -> usize {
        if b_typed.constant.is_some() {
            self.span_start(b)
        } else {
            self.span_start(a)
        }
    }

    fn equality(&mut self, a: &(&IdedExpr, Typed), b: &(&IdedExpr, Typed), equal: bool) {
        for (side, other) in [(a, b), (b, a)] {
            if other.1.constant == Some(Const::Null)
                && let Some(path) = side.1.path
            {
                self.error(
                    self.span_start(other.0),
                    format!("`{}` is never null", path.name()),
                    Some(format!(
                        "a value nobody knows is missing, not null: test for one with has({})",
                        path.name()
                    )),
                );
                return;
            }
        }
        if !can_be_equal(&a.1.ty, &b.1.ty) {
            let verdict = if equal {
                "they are never equal"
            } else {
                "they always differ"
            };
            self.error(
                self.blame(a, b),
                format!(
                    "`{}` is {} and `{}` is {}: {verdict}",
                    self.text(a.0),
                    a.1.ty.a(),
                    self.text(b.0),
                    b.1.ty.a()
                ),
                Some(self.mismatch_hint(a, b)),
            );
            return;
        }
        for (side, other) in [(a, b), (b, a)] {
            if let (Some(path), Some(Const::Str(value))) = (side.1.path, &other.1.constant) {
                self.check_value(path, value, self.span_start(other.0));
            }
        }
    }

    fn ordering(&mut self, node: &IdedExpr, a: &(&IdedExpr, Typed), b: &(&IdedExpr, Typed)) {
        if can_be_ordered(&a.1.ty, &b.1.ty) {
            return;
        }
        let at = if a.1.constant.is_none() && b.1.constant.is_none() {
            self.start(node.id)
        } else {
            self.blame(a, b)
        };
        self.error(
            at,
            format!(
                "cannot compare `{}` ({}) with `{}` ({})",
                self.text(a.0),
                a.1.ty.a(),
                self.text(b.0),
                b.1.ty.a()
            ),
            Some(self.mismatch_hint(a, b)),
        );
    }

    fn mismatch_hint(&self, a: &(&IdedExpr, Typed), b: &(&IdedExpr, Typed)) -> String {
        for (side, other) in [(a, b), (b, a)] {
            match (&side.1.ty, &other.1.constant) {
                (ty, Some(Const::Str(text)))
                    if ty.is_number() && text.trim().parse::<f64>().is_ok() =>
                {
                    return format!("remove the quotes: {}", text.trim());
                }
                (Ty::String, Some(Const::Number(_))) => {
                    return format!("put the value in quotes: '{}'", self.text(other.0));
                }
                (Ty::Bool, Some(Const::Str(text))) if text == "true" || text == "false" => {
                    return format!("remove the quotes: {text}");
                }
                (Ty::Timestamp, Some(_)) => {
                    return "compare it with a point in time, e.g. timestamp('2025-01-31T09:00:00Z')"
                        .to_string();
                }
                (Ty::Duration, Some(_)) => {
                    return "compare it with a duration, e.g. duration('24h')".to_string();
                }
                _ => {}
            }
        }
        "compare it with a value of the same type".to_string()
    }

    /// `value` for a field with a closed set of values.
    fn check_value(&mut self, path: Path, value: &str, at: usize) {
        let field = path.field;
        if field.ty == CelType::String && !field.values.is_empty() && !field.values.contains(&value)
        {
            self.error(
                at,
                format!("`{}` is never `{value}`", path.name()),
                Some(closed_set_hint(value, field.values)),
            );
        }
        if path.variable.name == "sequence"
            && field.name == "type"
            && !self.sequence_types.is_empty()
            && !self.sequence_types.iter().any(|known| known == value)
        {
            let sequence_types = self.sequence_types;
            let known: Vec<&str> = sequence_types.iter().map(String::as_str).collect();
            let hint = match did_you_mean(value, &known) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("the playbook's sequence types are {}", quoted_list(&known)),
            };
            self.warn(at, format!("no sequence has type `{value}`"), Some(hint));
        }
    }

    fn membership(&mut self, item: &(&IdedExpr, Typed), list: &(&IdedExpr, Typed)) {
        match &list.1.ty {
            Ty::List(item_type) => {
                if !can_be_equal(&item.1.ty, item_type) {
                    self.error(
                        self.span_start(item.0),
                        format!(
                            "`{}` holds {}, so `{}` ({}) is never in it",
                            self.text(list.0),
                            item_type.plural(),
                            self.text(item.0),
                            item.1.ty.a()
                        ),
                        Some(self.mismatch_hint(&(list.0, Typed::of((**item_type).clone())), item)),
                    );
                    return;
                }
                if let (Some(path), Some(Const::Str(value))) = (list.1.path, &item.1.constant)
                    && !path.field.values.is_empty()
                    && !path.field.values.contains(&value.as_str())
                {
                    self.error(
                        self.span_start(item.0),
                        format!("`{}` never holds `{value}`", path.name()),
                        Some(closed_set_hint(value, path.field.values)),
                    );
                }
                if let (Some(path), Some(Const::List(values))) = (item.1.path, &list.1.constant) {
                    for (value, id) in values {
                        if let Const::Str(value) = value {
                            self.check_value(path, value, self.start(*id));
                        }
                    }
                }
            }
            Ty::Map | Ty::Dyn => {}
            Ty::String => self.error(
                self.span_start(list.0),
                format!(
                    "`in` needs a list on its right, but `{}` is a string",
                    self.text(list.0)
                ),
                Some(format!(
                    "to look for text inside it, write {}.contains({})",
                    self.text(list.0),
                    self.text(item.0)
                )),
            ),
            other => self.error(
                self.span_start(list.0),
                format!(
                    "`in` needs a list on its right, but `{}` is {}",
                    self.text(list.0),
                    other.a()
                ),
                Some("write the values in brackets, e.g. x in ['a', 'b']".to_string()),
            ),
        }
    }

    fn arithmetic(
        &mut self,
        node: &IdedExpr,
        operator: &str,
        a: &(&IdedExpr, Typed),
        b: &(&IdedExpr, Typed),
    ) -> Ty {
        let result = match (operator, &a.1.ty, &b.1.ty) {
            (_, Ty::Dyn, _) | (_, _, Ty::Dyn) => Some(Ty::Dyn),
            (_, Ty::Int, Ty::Int) => Some(Ty::Int),
            (_, Ty::Uint, Ty::Uint) => Some(Ty::Uint),
            (_, Ty::Double, Ty::Double) => Some(Ty::Double),
            (operators::ADD, Ty::String, Ty::String) => Some(Ty::String),
            (operators::ADD, Ty::Bytes, Ty::Bytes) => Some(Ty::Bytes),
            (operators::ADD, Ty::List(x), Ty::List(y)) => {
                Some(Ty::List(if x == y { x.clone() } else { Box::new(Ty::Dyn) }))
            }
            (operators::ADD, Ty::Timestamp, Ty::Duration)
            | (operators::ADD, Ty::Duration, Ty::Timestamp)
            | (operators::SUBSTRACT, Ty::Timestamp, Ty::Duration) => Some(Ty::Timestamp),
            (operators::ADD | operators::SUBSTRACT, Ty::Duration, Ty::Duration)
            | (operators::SUBSTRACT, Ty::Timestamp, Ty::Timestamp) => Some(Ty::Duration),
            _ => None,
        };
        if let Some(result) = result {
            return result;
        }
        let symbol = match operator {
            operators::ADD => "+",
            operators::SUBSTRACT => "-",
            operators::MULTIPLY => "*",
            operators::DIVIDE => "/",
            _ => "%",
        };
        let hint = if a.1.ty.is_number() && b.1.ty.is_number() {
            "CEL does not mix int and double in arithmetic: write 2.0 rather than 2, or convert with double(x)"
                .to_string()
        } else {
            "both sides must be numbers, or a timestamp and a duration".to_string()
        };
        self.error(
            self.start(node.id),
            format!(
                "cannot use `{symbol}` on `{}` ({}) and `{}` ({})",
                self.text(a.0),
                a.1.ty.a(),
                self.text(b.0),
                b.1.ty.a()
            ),
            Some(hint),
        );
        Ty::Dyn
    }

    fn index(
        &mut self,
        (container, typed): &(&IdedExpr, Typed),
        key: &(&IdedExpr, Typed),
    ) -> Typed {
        match &typed.ty {
            Ty::List(item) => {
                if key.1.ty.is_known() && !matches!(key.1.ty, Ty::Int | Ty::Uint) {
                    self.error(
                        self.span_start(key.0),
                        format!(
                            "a list is indexed by position, but `{}` is {}",
                            self.text(key.0),
                            key.1.ty.a()
                        ),
                        None,
                    );
                }
                Typed::of((**item).clone())
            }
            Ty::Record(variable) => match &key.1.constant {
                Some(Const::Str(name)) => {
                    let at = self.span_start(key.0);
                    match self.field(variable, name, at) {
                        Some(path) => Typed {
                            ty: Ty::from_cel(path.field.ty),
                            path: Some(path),
                            constant: None,
                        },
                        None => Typed::of(Ty::Dyn),
                    }
                }
                _ => Typed::of(Ty::Dyn),
            },
            Ty::Map | Ty::Dyn => Typed::of(Ty::Dyn),
            other => {
                self.error(
                    self.span_start(container),
                    format!(
                        "cannot index `{}`, which is {}",
                        self.text(container),
                        other.a()
                    ),
                    None,
                );
                Typed::of(Ty::Dyn)
            }
        }
    }

    fn sized(&mut self, node: &IdedExpr, (operand, typed): &(&IdedExpr, Typed)) {
        if matches!(
            typed.ty,
            Ty::String | Ty::Bytes | Ty::List(_) | Ty::Map | Ty::Dyn
        ) {
            return;
        }
        self.error(
            self.function_offset(node, "size"),
            format!(
                "`size()` works on strings, lists and maps, but `{}` is {}",
                self.text(operand),
                typed.ty.a()
            ),
            None,
        );
    }

    fn text_method(
        &mut self,
        node: &IdedExpr,
        name: &str,
        (text, typed): &(&IdedExpr, Typed),
        argument: &(&IdedExpr, Typed),
    ) {
        if typed.ty.is_known() && typed.ty != Ty::String {
            let hint = match (&typed.ty, name) {
                (Ty::List(_), "contains") => Some(format!(
                    "to test whether the list holds a value, write {} in {}",
                    self.text(argument.0),
                    self.text(text)
                )),
                _ => None,
            };
            self.error(
                self.function_offset(node, name),
                format!(
                    "`{name}()` works on strings, but `{}` is {}",
                    self.text(text),
                    typed.ty.a()
                ),
                hint,
            );
            return;
        }
        if argument.1.ty.is_known() && argument.1.ty != Ty::String {
            self.error(
                self.span_start(argument.0),
                format!(
                    "`{name}()` takes a string, but `{}` is {}",
                    self.text(argument.0),
                    argument.1.ty.a()
                ),
                Some(format!(
                    "put the value in quotes: '{}'",
                    self.text(argument.0)
                )),
            );
            return;
        }
        if name == "matches"
            && let Some(Const::Str(pattern)) = &argument.1.constant
            && let Err(error) = regex::Regex::new(pattern)
        {
            let (summary, column) = describe_regex_error(&error);
            let at = self.in_string_literal(argument.0, pattern, column);
            self.error(
                at,
                format!("invalid regular expression: {summary}"),
                Some(
                    "patterns use Rust regex syntax; inside a CEL string a backslash is written twice ('\\\\d')"
                        .to_string(),
                ),
            );
        }
    }

    /// The offset of character `column` (1-based) of a string literal's
    /// value, when the literal is written without escapes; else its start.
    fn in_string_literal(&self, literal: &IdedExpr, value: &str, column: isize) -> usize {
        let Some((start, stop)) = self.info.offset_for(literal.id) else {
            return 0;
        };
        let start = usize::try_from(start).unwrap_or(0);
        let end = usize::try_from(stop).unwrap_or(0).saturating_add(1);
        let Some(token) = self.source.get(start..end.min(self.source.len())) else {
            return start;
        };
        let unprefixed = token.trim_start_matches(['r', 'R']);
        let prefix = token.len() - unprefixed.len();
        let quote = if unprefixed.starts_with("'''") || unprefixed.starts_with("\"\"\"") {
            3
        } else {
            1
        };
        let content = unprefixed
            .get(quote..unprefixed.len().saturating_sub(quote))
            .unwrap_or_default();
        let content_start = start + prefix + quote;
        if content != value {
            return start;
        }
        let column = usize::try_from(column).unwrap_or(0);
        if column == 0 {
            return content_start;
        }
        content_start
            + content
                .char_indices()
                .nth(column - 1)
                .map_or(content.len(), |(byte, _)| byte)
    }

    fn time_part(&mut self, node: &IdedExpr, name: &str, (time, typed): &(&IdedExpr, Typed)) {
        let fits = match typed.ty {
            Ty::Timestamp | Ty::Dyn => true,
            Ty::Duration => DURATION_GETTERS.contains(&name),
            _ => false,
        };
        if !fits {
            self.error(
                self.function_offset(node, name),
                format!(
                    "`{name}()` works on timestamps, but `{}` is {}",
                    self.text(time),
                    typed.ty.a()
                ),
                None,
            );
        }
    }

    // ── Constant parts ──

    /// Runs every part that reads nothing from the context: one that fails
    /// fails every time the condition runs.
    fn evaluate_constants(&mut self, node: &IdedExpr) {
        if let Expr::Call(call) = &node.expr
            && is_constant(node)
        {
            if let Some(Err(error)) = evaluate(node) {
                let text = self.text(node);
                let (message, hint) = match call.func_name.as_str() {
                    "duration" => (
                        format!("`{text}` is not a valid duration"),
                        Some(
                            "CEL durations look like '90s', '15m', '24h' or '1h30m' (no `d`: write '48h')"
                                .to_string(),
                        ),
                    ),
                    "timestamp" => (
                        format!("`{text}` is not a valid timestamp"),
                        Some("write an RFC 3339 time, e.g. timestamp('2025-01-31T09:00:00Z')".to_string()),
                    ),
                    _ => (format!("`{text}` always fails: {error}"), None),
                };
                self.error(self.span_start(node), message, hint);
            }
            return;
        }
        for child in children(node) {
            self.evaluate_constants(child);
        }
    }

    // ── Never true ──

    fn report_never_true(&mut self, node: &IdedExpr, whole: bool) {
        if let Some(why) = self.never_true(node) {
            let what = if whole {
                "this condition"
            } else {
                "this part of the condition"
            };
            self.warn(
                self.span_start(node),
                format!("{what} is never true: {why}"),
                Some("fix the condition, or remove the rule if it is not wanted".to_string()),
            );
            return;
        }
        if let Expr::Call(call) = &node.expr
            && call.target.is_none()
            && matches!(
                call.func_name.as_str(),
                operators::LOGICAL_AND | operators::LOGICAL_OR
            )
        {
            for part in flatten(node, &call.func_name) {
                self.report_never_true(part, false);
            }
        }
    }

    /// Why `node` can never be true, if it certainly cannot.
    fn never_true(&self, node: &IdedExpr) -> Option<String> {
        match &node.expr {
            Expr::Literal(LiteralValue::Boolean(value)) if !**value => {
                Some("it is the constant `false`".to_string())
            }
            Expr::Call(call) if call.func_name == operators::LOGICAL_AND => {
                let conjuncts = flatten(node, operators::LOGICAL_AND);
                conjuncts
                    .iter()
                    .find_map(|conjunct| self.never_true(conjunct))
                    .or_else(|| self.contradiction(&conjuncts))
            }
            Expr::Call(call) if call.func_name == operators::LOGICAL_OR => {
                let disjuncts = flatten(node, operators::LOGICAL_OR);
                disjuncts
                    .iter()
                    .all(|disjunct| self.never_true(disjunct).is_some())
                    .then(|| "no side of `||` can be true".to_string())
            }
            Expr::Call(_) if is_constant(node) => match evaluate(node) {
                Some(Ok(Value::Bool(false))) => {
                    Some(format!("`{}` is always false", self.text(node)))
                }
                _ => None,
            },
            Expr::Call(_) => self.contradiction(&[node]),
            _ => None,
        }
    }

    /// Why the comparisons among `conjuncts` cannot all hold at once, when
    /// some field is bounded, or pinned to values, in ways that exclude
    /// each other (or its own range).
    fn contradiction<'e>(&self, conjuncts: &[&'e IdedExpr]) -> Option<String> {
        let mut subjects: Vec<Constraints<'e>> = Vec::new();
        for &conjunct in conjuncts {
            let Some((subject, constraint)) = self.constraint(conjunct) else {
                continue;
            };
            let index = match subjects
                .iter()
                .position(|known| known.subject == subject.name)
            {
                Some(index) => index,
                None => {
                    subjects.push(Constraints::new(subject));
                    subjects.len() - 1
                }
            };
            if let Some(constraints) = subjects.get_mut(index) {
                constraints.add(constraint, conjunct);
            }
        }
        let impossible = subjects.iter().find(|constraints| constraints.is_empty())?;
        Some(match impossible.sources.as_slice() {
            [_] if impossible.allowed.as_ref().is_some_and(Vec::is_empty) => {
                "the list is empty".to_string()
            }
            [_] => format!(
                "`{}` is {}",
                impossible.subject,
                describe_range(impossible.range)
            ),
            sources => {
                let texts: Vec<String> = sources
                    .iter()
                    .map(|source| format!("`{}`", self.text(source)))
                    .collect();
                match texts.split_last() {
                    Some((last, [first])) => format!("{first} and {last} cannot both hold"),
                    Some((last, rest)) => {
                        format!("{} and {last} cannot all hold", rest.join(", "))
                    }
                    None => String::new(),
                }
            }
        })
    }

    /// `account.employees < 50` → (account.employees, below 50), and the
    /// like for `==`, `!=`, `in [...]` and bool fields.
    fn constraint(&self, node: &IdedExpr) -> Option<(Subject, Constraint)> {
        match &node.expr {
            Expr::Select(_) => {
                let subject = self.subject(node)?;
                subject
                    .is_bool
                    .then_some((subject, Constraint::Is(Key::Bool(true))))
            }
            Expr::Call(call) if call.target.is_none() => {
                match (call.func_name.as_str(), call.args.as_slice()) {
                    (operators::LOGICAL_NOT, [operand]) => {
                        let subject = self.subject(operand)?;
                        subject
                            .is_bool
                            .then_some((subject, Constraint::Is(Key::Bool(false))))
                    }
                    (operators::IN, [item, list]) => {
                        let subject = self.subject(item)?;
                        let Expr::List(list) = &list.expr else {
                            return None;
                        };
                        let keys = list
                            .elements
                            .iter()
                            .map(
                                |element| match literal_type(literal_of(element)?).constant? {
                                    Const::Str(text) => Some(Key::Str(text)),
                                    Const::Bool(value) => Some(Key::Bool(value)),
                                    _ => None,
                                },
                            )
                            .collect::<Option<Vec<Key>>>()?;
                        Some((subject, Constraint::OneOf(keys)))
                    }
                    (name, [left, right]) => {
                        let comparison = Comparison::of(name)?;
                        let (subject, value, comparison) =
                            match (self.subject(left), literal_of(right)) {
                                (Some(subject), Some(value)) => (subject, value, comparison),
                                _ => (
                                    self.subject(right)?,
                                    literal_of(left)?,
                                    comparison.flipped(),
                                ),
                            };
                        let constant = literal_type(value).constant?;
                        let constraint = match (constant, comparison) {
                            (Const::Number(number), comparison) => {
                                Constraint::Compare(comparison, number)
                            }
                            (Const::Str(text), Comparison::Equal) => Constraint::Is(Key::Str(text)),
                            (Const::Str(text), Comparison::NotEqual) => {
                                Constraint::IsNot(Key::Str(text))
                            }
                            (Const::Bool(value), Comparison::Equal) => {
                                Constraint::Is(Key::Bool(value))
                            }
                            (Const::Bool(value), Comparison::NotEqual) => {
                                Constraint::Is(Key::Bool(!value))
                            }
                            _ => return None,
                        };
                        Some((subject, constraint))
                    }
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// A field of the context, or the size of one.
    fn subject(&self, node: &IdedExpr) -> Option<Subject> {
        match &node.expr {
            Expr::Select(select) if !select.test => {
                let Expr::Ident(root) = &select.operand.expr else {
                    return None;
                };
                if self.scope.iter().any(|(bound, _)| bound == root) {
                    return None;
                }
                let variable = context::variable(root)?;
                let field = variable.field(&select.field)?;
                Some(Subject {
                    name: format!("{}.{}", variable.name, field.name),
                    range: field.range.unwrap_or((f64::NEG_INFINITY, f64::INFINITY)),
                    is_bool: field.ty == CelType::Bool,
                })
            }
            Expr::Call(call) if call.func_name == "size" => {
                let operand = match (&call.target, call.args.as_slice()) {
                    (Some(target), []) => target.as_ref(),
                    (None, [operand]) => operand,
                    _ => return None,
                };
                let inner = self.subject(operand)?;
                Some(Subject {
                    name: format!("size({})", inner.name),
                    range: (0.0, f64::INFINITY),
                    is_bool: false,
                })
            }
            _ => None,
        }
    }
}

fn unavailable_hint(site: Site, name: &str) -> String {
    let elsewhere: Vec<String> = Site::ALL
        .into_iter()
        .filter(|other| other.allows(name))
        .map(Site::describe)
        .collect();
    format!(
        "{} can read {}; `{name}` is known to {}",
        site.describe(),
        quoted_list(site.variables()),
        elsewhere.join(", ")
    )
}

fn closed_set_hint(value: &str, values: &[&str]) -> String {
    match did_you_mean(value, values) {
        Some(close) => format!(
            "did you mean `{close}`? The values are {}",
            quoted_list(values)
        ),
        None => format!("the values are {}", quoted_list(values)),
    }
}

fn bool_hint(ty: &Ty, text: &str) -> Option<String> {
    match ty {
        Ty::String => Some(format!("compare it, e.g. {text} == '…'")),
        Ty::List(_) => Some(format!(
            "test what it holds, e.g. 'x' in {text}, or size({text}) > 0"
        )),
        ty if ty.is_number() => Some(format!("compare it, e.g. {text} > 0")),
        _ => None,
    }
}

fn is_function(name: &str) -> bool {
    FUNCTIONS.iter().any(|(known, _)| *known == name)
}

fn literal_type(literal: &LiteralValue) -> Typed {
    let (ty, constant) = match literal {
        LiteralValue::Boolean(value) => (Ty::Bool, Const::Bool(**value)),
        LiteralValue::Bytes(_) => (Ty::Bytes, Const::Other),
        LiteralValue::Double(value) => (Ty::Double, Const::Number(**value)),
        // Condition values are small: the f64 is exact for them.
        LiteralValue::Int(value) => (Ty::Int, Const::Number(**value as f64)),
        LiteralValue::UInt(value) => (Ty::Uint, Const::Number(**value as f64)),
        LiteralValue::Null => (Ty::Null, Const::Null),
        LiteralValue::String(text) => (Ty::String, Const::Str(text.inner().to_string())),
    };
    Typed {
        ty,
        path: None,
        constant: Some(constant),
    }
}

/// The literal `node` is, reading `-5` as a literal too.
fn literal_of(node: &IdedExpr) -> Option<&LiteralValue> {
    match &node.expr {
        Expr::Literal(literal) => Some(literal),
        _ => None,
    }
}

/// `a && b && c` → [a, b, c], however it is parenthesised.
fn flatten<'e>(node: &'e IdedExpr, operator: &str) -> Vec<&'e IdedExpr> {
    match &node.expr {
        Expr::Call(call) if call.func_name == operator && call.target.is_none() => call
            .args
            .iter()
            .flat_map(|arg| flatten(arg, operator))
            .collect(),
        _ => vec![node],
    }
}

fn children(node: &IdedExpr) -> Vec<&IdedExpr> {
    match &node.expr {
        Expr::Call(call) => call
            .target
            .as_deref()
            .into_iter()
            .chain(&call.args)
            .collect(),
        Expr::Select(select) => vec![&select.operand],
        Expr::List(list) => list.elements.iter().collect(),
        Expr::Map(map) => map
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
                EntryExpr::StructField(field) => vec![&field.value],
            })
            .collect(),
        Expr::Struct(structure) => structure
            .entries
            .iter()
            .flat_map(|entry| match &entry.expr {
                EntryExpr::MapEntry(entry) => vec![&entry.key, &entry.value],
                EntryExpr::StructField(field) => vec![&field.value],
            })
            .collect(),
        Expr::Comprehension(comprehension) => vec![
            &comprehension.iter_range,
            &comprehension.accu_init,
            &comprehension.loop_cond,
            &comprehension.loop_step,
            &comprehension.result,
        ],
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified => Vec::new(),
    }
}

fn visit<'e>(node: &'e IdedExpr, f: &mut impl FnMut(&'e IdedExpr)) {
    f(node);
    for child in children(node) {
        visit(child, f);
    }
}

/// Reads nothing from the context: its value is the same every time.
fn is_constant(node: &IdedExpr) -> bool {
    match &node.expr {
        Expr::Ident(name) => TYPE_NAMES.contains(&name.as_str()),
        Expr::Comprehension(_) | Expr::Struct(_) | Expr::Unspecified => false,
        _ => children(node).into_iter().all(is_constant),
    }
}

/// The standard CEL environment, built once per process.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// Evaluates a constant part; `None` if cel-rust panicked.
fn evaluate(node: &IdedExpr) -> Option<Result<Value, String>> {
    // cel-rust is third-party code: a panic on an odd tree is no answer.
    catch_unwind(AssertUnwindSafe(|| {
        let context = Context::with_env(Arc::clone(&STDLIB));
        Value::resolve(node, &context).map_err(|error| error.to_string())
    }))
    .ok()
}

// ── Constraints, for conditions that can never be true ───────────────────

#[derive(Debug, Clone, PartialEq)]
enum Key {
    Str(String),
    Bool(bool),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn of(function: &str) -> Option<Comparison> {
        Some(match function {
            operators::EQUALS => Comparison::Equal,
            operators::NOT_EQUALS => Comparison::NotEqual,
            operators::LESS => Comparison::Less,
            operators::LESS_EQUALS => Comparison::LessOrEqual,
            operators::GREATER => Comparison::Greater,
            operators::GREATER_EQUALS => Comparison::GreaterOrEqual,
            _ => return None,
        })
    }

    /// `5 < x` is `x > 5`.
    fn flipped(self) -> Comparison {
        match self {
            Comparison::Less => Comparison::Greater,
            Comparison::LessOrEqual => Comparison::GreaterOrEqual,
            Comparison::Greater => Comparison::Less,
            Comparison::GreaterOrEqual => Comparison::LessOrEqual,
            other => other,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Constraint {
    Compare(Comparison, f64),
    Is(Key),
    IsNot(Key),
    OneOf(Vec<Key>),
}

struct Subject {
    name: String,
    range: (f64, f64),
    is_bool: bool,
}

/// Bounds on one number, with whether each bound is included.
#[derive(Debug, Clone, Copy)]
struct Interval {
    low: f64,
    low_included: bool,
    high: f64,
    high_included: bool,
}

impl Interval {
    fn raise_low(&mut self, value: f64, included: bool) {
        if value > self.low || (value == self.low && !included) {
            self.low = value;
            self.low_included = included;
        }
    }

    fn lower_high(&mut self, value: f64, included: bool) {
        if value < self.high || (value == self.high && !included) {
            self.high = value;
            self.high_included = included;
        }
    }

    fn is_empty(&self) -> bool {
        self.low > self.high
            || (self.low == self.high && !(self.low_included && self.high_included))
    }
}

/// What the conjuncts of one `&&` chain say about one subject.
struct Constraints<'e> {
    subject: String,
    range: (f64, f64),
    interval: Interval,
    not_equal: Vec<f64>,
    allowed: Option<Vec<Key>>,
    excluded: Vec<Key>,
    sources: Vec<&'e IdedExpr>,
}

impl<'e> Constraints<'e> {
    fn new(subject: Subject) -> Self {
        let (low, high) = subject.range;
        Constraints {
            subject: subject.name,
            range: subject.range,
            interval: Interval {
                low,
                low_included: true,
                high,
                high_included: true,
            },
            not_equal: Vec::new(),
            allowed: None,
            excluded: Vec::new(),
            sources: Vec::new(),
        }
    }

    fn add(&mut self, constraint: Constraint, source: &'e IdedExpr) {
        self.sources.push(source);
        match constraint {
            Constraint::Compare(comparison, value) => match comparison {
                Comparison::Equal => {
                    self.interval.raise_low(value, true);
                    self.interval.lower_high(value, true);
                }
                Comparison::NotEqual => self.not_equal.push(value),
                Comparison::Less => self.interval.lower_high(value, false),
                Comparison::LessOrEqual => self.interval.lower_high(value, true),
                Comparison::Greater => self.interval.raise_low(value, false),
                Comparison::GreaterOrEqual => self.interval.raise_low(value, true),
            },
            Constraint::Is(key) => self.allow(vec![key]),
            Constraint::OneOf(keys) => self.allow(keys),
            Constraint::IsNot(key) => self.excluded.push(key),
        }
    }

    fn allow(&mut self, keys: Vec<Key>) {
        self.allowed = Some(match self.allowed.take() {
            None => keys,
            Some(allowed) => allowed
                .into_iter()
                .filter(|key| keys.contains(key))
                .collect(),
        });
    }

    fn is_empty(&self) -> bool {
        let interval = self.interval;
        let pinned_and_excluded =
            interval.low == interval.high && self.not_equal.contains(&interval.low);
        interval.is_empty()
            || pinned_and_excluded
            || self
                .allowed
                .as_ref()
                .is_some_and(|allowed| allowed.iter().all(|key| self.excluded.contains(key)))
    }
}

/// "between 0 and 1", "never negative", "at least 1".
fn describe_range((low, high): (f64, f64)) -> String {
    match (low, high) {
        (low, high) if low == 0.0 && high.is_infinite() => "never negative".to_string(),
        (low, high) if high.is_infinite() => format!("at least {low}"),
        (low, high) if low.is_infinite() => format!("at most {high}"),
        (low, high) => format!("between {low} and {high}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::escalation::Stage;

    /// (offset, level, message) of every problem.
    fn problems(source: &str, site: Option<Site>) -> Vec<(usize, Level, String)> {
        check_condition(source, site)
            .unwrap()
            .into_iter()
            .map(|problem| (problem.offset, problem.level, problem.message))
            .collect()
    }

    fn messages(source: &str, site: Option<Site>) -> Vec<String> {
        problems(source, site)
            .into_iter()
            .map(|(_, _, message)| message)
            .collect()
    }

    fn clean(source: &str, site: Site) {
        assert_eq!(
            check_condition(source, Some(site)).unwrap(),
            Vec::new(),
            "{source}"
        );
    }

    const ENGAGEMENT: Option<Site> = Some(Site::Escalation(Stage::Engagement));

    #[test]
    fn well_typed_conditions_pass() {
        for source in [
            "account.industry in ['software', 'fintech']",
            "'strategic' in account.tags || contact.seniority == 'c_suite'",
            "account.employees >= 50 && account.employees <= 5000",
            "size(account.technologies) >= 2 && !('oracle' in account.technologies)",
            "account.name.startsWith('Ledger') && signal.job_change",
            "has(contact.city) && contact.city == 'Boston'",
            "account.tags.exists(t, t.startsWith('tier-'))",
            "1000 > account.employees",
            "contact.score >= 80 || account.lookalike > 50",
        ] {
            clean(source, Site::IcpRule);
        }
        for source in [
            "event.kind == 'page_visit' && event.url.matches('/pricing')",
            "event.kind == 'meeting_logged' && size(event.attendees) >= 3",
            "now - event.at < duration('2h') && now.getHours('America/New_York') >= 9",
            "event.attendees.map(a, a.size()).exists(n, n > 3)",
            "sequence.step == 1 && event.label in ['positive', 'meeting_request']",
        ] {
            clean(source, Site::Escalation(Stage::Engagement));
        }
        clean(
            "draft.confidence < 0.7 || 'regulatory' in draft.findings",
            Site::Escalation(Stage::SendApproval),
        );
    }

    #[test]
    fn unknown_fields_suggest_the_close_one() {
        let problems = check_condition("contact.senority == 'vp'", None).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].offset, 8);
        assert_eq!(problems[0].message, "unknown field `contact.senority`");
        assert_eq!(
            problems[0].hint.as_deref(),
            Some("did you mean `contact.seniority`?")
        );
        // In a macro, and through an index.
        assert_eq!(
            messages("account.tags.exists(t, t == contact.titel)", None),
            ["unknown field `contact.titel`"]
        );
        assert_eq!(
            messages("contact['senority'] == 'vp'", None),
            ["unknown field `contact.senority`"]
        );
    }

    #[test]
    fn unknown_variables_and_functions() {
        assert_eq!(
            problems("contcat.title == 'x'", None),
            [(0, Level::Error, "unknown variable `contcat`".to_string())]
        );
        assert_eq!(
            messages("contact.title.lowerAscii() == 'x'", None),
            ["unknown function `lowerAscii`"]
        );
        assert_eq!(
            problems("contains(contact.title, 'x')", None)[0].2,
            "`contains` is not called like that"
        );
    }

    #[test]
    fn variables_outside_their_stage() {
        assert_eq!(
            problems("event.kind == 'reply'", Some(Site::IcpRule)),
            [(
                0,
                Level::Error,
                "`event` is not available in ICP rules".to_string()
            )]
        );
        let hint = check_condition(
            "draft.confidence < 0.5",
            Some(Site::Escalation(Stage::ListBuilding)),
        )
        .unwrap()[0]
            .hint
            .clone()
            .unwrap();
        assert!(hint.contains("`draft` is known to"), "{hint}");
    }

    #[test]
    fn type_mismatches() {
        assert_eq!(
            problems("account.employees == '50'", None),
            [(
                21,
                Level::Error,
                "`account.employees` is an int and `'50'` is a string: they are never equal"
                    .to_string()
            )]
        );
        assert_eq!(
            messages("account.employees > '50'", None),
            ["cannot compare `account.employees` (an int) with `'50'` (a string)"]
        );
        assert_eq!(
            messages("'soft' in account.industry", None),
            ["`in` needs a list on its right, but `account.industry` is a string"]
        );
        assert_eq!(
            messages("account.tags.contains('strategic')", None),
            ["`contains()` works on strings, but `account.tags` is a list of strings"]
        );
        assert_eq!(
            messages("account.employees", None),
            ["a condition must give true or false, but `account.employees` is an int"]
        );
        assert_eq!(
            messages("account.employees && signal.reply", None),
            ["`&&` needs true or false, but `account.employees` is an int"]
        );
        assert_eq!(
            messages("size(account.employees) > 1", None),
            ["`size()` works on strings, lists and maps, but `account.employees` is an int"]
        );
        assert_eq!(
            messages("5 in account.tags", None),
            ["`account.tags` holds strings, so `5` (an int) is never in it"]
        );
        assert_eq!(
            messages("now.hour > 9", ENGAGEMENT),
            ["`now` is a timestamp and has no fields"]
        );
        assert_eq!(
            messages("account.employees + 1.5 > 3.0", None),
            ["cannot use `+` on `account.employees` (an int) and `1.5` (a double)"]
        );
        assert_eq!(
            messages("contact.city == null", None),
            ["`contact.city` is never null"]
        );
    }

    #[test]
    fn values_outside_a_closed_set() {
        assert_eq!(
            problems("contact.seniority == 'ceo'", None),
            [(
                21,
                Level::Error,
                "`contact.seniority` is never `ceo`".to_string()
            )]
        );
        let hint = check_condition("contact.seniority in ['vp', 'c-suite']", None).unwrap()[0]
            .hint
            .clone()
            .unwrap();
        assert!(hint.starts_with("did you mean `c_suite`?"), "{hint}");
        assert_eq!(
            messages("'page_vist' in signal.kinds", None),
            ["`signal.kinds` never holds `page_vist`"]
        );
        assert_eq!(
            messages("event.label == 'interested'", ENGAGEMENT),
            ["`event.label` is never `interested`"]
        );
    }

    #[test]
    fn regexes_in_matches_are_compiled() {
        let found = problems("event.url.matches('/pricing(')", ENGAGEMENT);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].2.starts_with("invalid regular expression"),
            "{found:?}"
        );
        // At the parenthesis inside the string.
        assert_eq!(found[0].0, "event.url.matches('/pricing".len());
    }

    #[test]
    fn constant_parts_that_fail_are_errors() {
        assert_eq!(
            problems("now - event.at < duration('2 hours')", ENGAGEMENT),
            [(
                17,
                Level::Error,
                "`duration('2 hours')` is not a valid duration".to_string()
            )]
        );
        assert_eq!(
            messages("1 / 0 == 1 || signal.reply", ENGAGEMENT),
            ["`1 / 0 == 1` always fails: Division by zero of Int(1)"]
        );
    }

    #[test]
    fn conditions_that_are_never_true_are_warnings() {
        assert_eq!(
            problems("false", None),
            [(
                0,
                Level::Warning,
                "this condition is never true: it is the constant `false`".to_string()
            )]
        );
        assert_eq!(
            messages("1 == 2 && contact.score > 3", None),
            ["this condition is never true: `1 == 2` is always false"]
        );
        assert_eq!(
            messages("account.employees < 50 && account.employees >= 100", None),
            [
                "this condition is never true: `account.employees < 50` and `account.employees >= 100` cannot both hold"
            ]
        );
        assert_eq!(
            messages(
                "draft.confidence > 1",
                Some(Site::Escalation(Stage::SendApproval))
            ),
            ["this condition is never true: `draft.confidence` is between 0 and 1"]
        );
        assert_eq!(
            messages("size(account.tags) < 0 || signal.reply", None),
            ["this part of the condition is never true: `size(account.tags)` is never negative"]
        );
        assert_eq!(
            messages(
                "contact.tier == 'good' && contact.tier in ['excellent', 'fair']",
                None
            ),
            [
                "this condition is never true: `contact.tier == 'good'` and `contact.tier in ['excellent', 'fair']` cannot both hold"
            ]
        );
        assert_eq!(
            messages("signal.reply && !signal.reply", None),
            ["this condition is never true: `signal.reply` and `!signal.reply` cannot both hold"]
        );
        // Satisfiable ones are left alone.
        clean(
            "account.employees > 50 && account.employees <= 60 || signal.reply",
            Site::IcpRule,
        );
        clean(
            "contact.tier != 'good' && contact.tier == 'fair'",
            Site::IcpRule,
        );
    }

    #[test]
    fn sequence_types_are_checked_against_the_playbook() {
        let program = Program::compile("sequence.type == 'cld'").unwrap();
        let problems = check_program(
            &program,
            "sequence.type == 'cld'",
            Some(Site::ContentGuard),
            &["cold".to_string(), "post_meeting".to_string()],
        );
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].level, Level::Warning);
        assert_eq!(problems[0].message, "no sequence has type `cld`");
        assert_eq!(problems[0].hint.as_deref(), Some("did you mean `cold`?"));
    }

    proptest::proptest! {
        #[test]
        fn checking_never_panics(expression in "[a-z_.()\\[\\]{}'\"!&|<>=+*/%?:, 0-9-]{0,80}") {
            let _ = check_condition(&expression, Some(Site::IcpRule));
        }

        #[test]
        fn checking_context_like_text_never_panics(
            expression in "(contact|account|draft|event|now|signal|x)(\\.[a-z_]{1,10})?( (==|<|in|&&|\\|\\||\\+) ('[a-z]{0,5}'|[0-9]{1,3}|\\[\\]|true|null|size\\(account\\.tags\\))){0,4}"
        ) {
            let _ = check_condition(&expression, None);
        }
    }
}
