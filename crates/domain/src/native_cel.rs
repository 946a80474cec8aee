//! Values and comparisons for evaluating the common subset of CEL
//! natively (fields, literals, lists, comparisons, `in`): one definition
//! shared by ICP scoring and governance conditions, so both follow
//! cel-rust's semantics the same way.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lit {
    Int(i64),
    Float(f64),
    Str(Box<str>),
    Bool(bool),
}

impl Lit {
    pub(crate) fn value(&self) -> V<'_> {
        match self {
            Lit::Int(int) => V::Int(*int),
            Lit::Float(float) => V::Float(*float),
            Lit::Str(text) => V::Str(text),
            Lit::Bool(boolean) => V::Bool(*boolean),
        }
    }
}

impl fmt::Display for Lit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lit::Int(int) => write!(f, "{int}"),
            Lit::Float(float) => write!(f, "{float}"),
            Lit::Str(text) => write!(f, "'{text}'"),
            Lit::Bool(boolean) => write!(f, "{boolean}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CmpOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// The same comparison with its operands swapped: `a < b` is `b > a`.
    pub(crate) fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            other => other,
        }
    }

    /// The comparison that holds when this one does not.
    pub(crate) fn negated(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Ne,
            CmpOp::Ne => CmpOp::Eq,
            CmpOp::Lt => CmpOp::Ge,
            CmpOp::Le => CmpOp::Gt,
            CmpOp::Gt => CmpOp::Le,
            CmpOp::Ge => CmpOp::Lt,
        }
    }
}

/// A value during native evaluation, borrowing the scope and literals.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum V<'a> {
    Int(i64),
    Float(f64),
    Str(&'a str),
    Bool(bool),
    /// A list fact.
    Strs(&'a [String]),
    /// A list of borrowed text (`draft.findings`).
    Refs(&'a [&'a str]),
    /// A list literal of literals.
    Lits(&'a [Lit]),
    List(Vec<V<'a>>),
}

impl V<'_> {
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            V::Int(_) | V::Float(_) => "number",
            V::Str(_) => "text",
            V::Bool(_) => "true/false",
            V::Strs(_) | V::Refs(_) | V::Lits(_) | V::List(_) => "list",
        }
    }
}

/// The elements of a list value.
pub(crate) enum Elements<'x, 'a> {
    Strs(&'a [String]),
    Refs(&'a [&'a str]),
    Lits(&'a [Lit]),
    Values(&'x [V<'a>]),
}

impl<'a> Elements<'_, 'a> {
    pub(crate) fn of<'x>(value: &'x V<'a>) -> Option<Elements<'x, 'a>> {
        match value {
            V::Strs(items) => Some(Elements::Strs(items)),
            V::Refs(items) => Some(Elements::Refs(items)),
            V::Lits(items) => Some(Elements::Lits(items)),
            V::List(items) => Some(Elements::Values(items)),
            _ => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Elements::Strs(items) => items.len(),
            Elements::Refs(items) => items.len(),
            Elements::Lits(items) => items.len(),
            Elements::Values(items) => items.len(),
        }
    }

    pub(crate) fn any(&self, mut predicate: impl FnMut(&V<'_>) -> bool) -> bool {
        match self {
            Elements::Strs(items) => items.iter().any(|item| predicate(&V::Str(item))),
            Elements::Refs(items) => items.iter().any(|item| predicate(&V::Str(item))),
            Elements::Lits(items) => items.iter().any(|item| predicate(&item.value())),
            Elements::Values(items) => items.iter().any(predicate),
        }
    }

    pub(crate) fn get(&self, index: usize) -> Option<V<'a>> {
        match self {
            Elements::Strs(items) => items.get(index).map(|item| V::Str(item)),
            Elements::Refs(items) => items.get(index).map(|item| V::Str(item)),
            Elements::Lits(items) => items.get(index).map(Lit::value),
            Elements::Values(items) => items.get(index).cloned(),
        }
    }
}

/// CEL equality as cel-rust 0.15 has it: numbers across int and double
/// (through `f64`), lists element by element, anything else only with its
/// own type; never an error.
pub(crate) fn equals(lhs: &V<'_>, rhs: &V<'_>) -> bool {
    match (lhs, rhs) {
        (V::Int(a), V::Int(b)) => a == b,
        (V::Int(a), V::Float(b)) => (*a as f64) == *b,
        (V::Float(a), V::Int(b)) => *a == (*b as f64),
        (V::Float(a), V::Float(b)) => a == b,
        (V::Str(a), V::Str(b)) => a == b,
        (V::Bool(a), V::Bool(b)) => a == b,
        _ => match (Elements::of(lhs), Elements::of(rhs)) {
            (Some(a), Some(b)) => {
                a.len() == b.len()
                    && (0..a.len()).all(|index| match (a.get(index), b.get(index)) {
                        (Some(x), Some(y)) => equals(&x, &y),
                        _ => false,
                    })
            }
            _ => false,
        },
    }
}

/// CEL ordering: numbers across int and double, text by code points,
/// false < true; `None` for anything else, and for NaN.
pub(crate) fn compare(lhs: &V<'_>, rhs: &V<'_>) -> Option<std::cmp::Ordering> {
    match (lhs, rhs) {
        (V::Int(a), V::Int(b)) => Some(a.cmp(b)),
        (V::Int(a), V::Float(b)) => (*a as f64).partial_cmp(b),
        (V::Float(a), V::Int(b)) => a.partial_cmp(&(*b as f64)),
        (V::Float(a), V::Float(b)) => a.partial_cmp(b),
        (V::Str(a), V::Str(b)) => Some(a.cmp(b)),
        (V::Bool(a), V::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    }
}
