//! What `handoff policy check` prints: every mistake in the playbook, each
//! with `file:line:column`, what is wrong and how to fix it.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

/// One mistake in a playbook file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub level: Level,
    pub file: String,
    /// 1-based.
    pub line: usize,
    /// 1-based, counted in characters (not bytes).
    pub column: usize,
    pub message: String,
    /// How to fix it, when there is something useful to say.
    pub hint: Option<String>,
}

/// An error makes the playbook unusable; a warning points at something
/// that is almost certainly not what was meant (a rule that never fires)
/// but leaves the playbook usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Error,
    Warning,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "",
            Level::Warning => "warning: ",
        };
        write!(
            f,
            "{}:{}:{}: {level}{}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every mistake found in one run, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    pub fn error_count(&self) -> usize {
        self.count(Level::Error)
    }

    pub fn warning_count(&self) -> usize {
        self.count(Level::Warning)
    }

    fn count(&self, level: Level) -> usize {
        self.0
            .iter()
            .filter(|diagnostic| diagnostic.level == level)
            .count()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// A mistake located by byte offset; turned into a [`Diagnostic`] once all
/// of the file has been read.
#[derive(Debug, Clone)]
pub(crate) struct Issue {
    pub level: Level,
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
    pub kind: IssueKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IssueKind {
    /// The TOML itself is malformed.
    Syntax,
    /// A required key or section is absent.
    Missing,
    Other,
}

/// Collects issues while the playbook is read.
#[derive(Debug)]
pub(crate) struct Issues<'s> {
    source: &'s str,
    list: Vec<Issue>,
}

impl<'s> Issues<'s> {
    pub fn new(source: &'s str) -> Self {
        Self {
            source,
            list: Vec::new(),
        }
    }

    /// The whole playbook text, for locating positions inside string values.
    pub fn source(&self) -> &'s str {
        self.source
    }

    pub fn error(&mut self, span: &Range<usize>, message: impl Into<String>) {
        self.push(span.start, message.into(), None);
    }

    pub fn error_with_hint(
        &mut self,
        span: &Range<usize>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        self.push(span.start, message.into(), Some(hint.into()));
    }

    pub fn push(&mut self, offset: usize, message: String, hint: Option<String>) {
        self.push_kind(IssueKind::Other, offset, message, hint);
    }

    /// Something that does not stop the playbook from being used.
    pub fn warn(&mut self, offset: usize, message: String, hint: Option<String>) {
        self.list.push(Issue {
            level: Level::Warning,
            offset,
            message,
            hint,
            kind: IssueKind::Other,
        });
    }

    pub fn push_kind(
        &mut self,
        kind: IssueKind,
        offset: usize,
        message: String,
        hint: Option<String>,
    ) {
        self.list.push(Issue {
            level: Level::Error,
            offset,
            message,
            hint,
            kind,
        });
    }

    /// After a syntax error the parser's recovery guesses at the structure,
    /// so later findings and "missing" findings are likely its echoes. Keep
    /// the syntax errors and what was found in lines before the first one.
    pub fn drop_echoes_of_syntax_errors(&mut self) {
        let Some(first_syntax_error) = self
            .list
            .iter()
            .filter(|issue| issue.kind == IssueKind::Syntax)
            .map(|issue| issue.offset)
            .min()
        else {
            return;
        };
        let line_start = self
            .source
            .get(..first_syntax_error)
            .and_then(|before| before.rfind('\n'))
            .map_or(0, |newline| newline + 1);
        self.list.retain(|issue| match issue.kind {
            IssueKind::Syntax => true,
            IssueKind::Missing => false,
            IssueKind::Other => issue.offset < line_start,
        });
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn has_errors(&self) -> bool {
        self.list.iter().any(|issue| issue.level == Level::Error)
    }

    /// 1-based line of a byte offset, for messages that refer to another place.
    pub fn line_of(&self, offset: usize) -> usize {
        let before = self.source.get(..offset).unwrap_or(self.source);
        before.bytes().filter(|byte| *byte == b'\n').count() + 1
    }

    pub fn into_diagnostics(self, file_name: &str) -> Diagnostics {
        let source = self.source;
        let index = LineIndex::new(source);
        let mut list = self.list;
        // Stable: issues at the same place keep the order they were found in.
        list.sort_by_key(|issue| issue.offset);
        Diagnostics(
            list.into_iter()
                .map(|issue| {
                    let (line, column) = index.line_column(source, issue.offset);
                    Diagnostic {
                        level: issue.level,
                        file: file_name.to_string(),
                        line,
                        column,
                        message: issue.message,
                        hint: issue.hint,
                    }
                })
                .collect(),
        )
    }
}

/// Byte offset → 1-based line and character column.
struct LineIndex {
    line_starts: Vec<usize>,
}

impl LineIndex {
    fn new(source: &str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(
            source
                .bytes()
                .enumerate()
                .filter(|(_, byte)| *byte == b'\n')
                .map(|(i, _)| i + 1),
        );
        Self { line_starts }
    }

    fn line_column(&self, source: &str, offset: usize) -> (usize, usize) {
        let offset = offset.min(source.len());
        // The number of line starts at or before `offset` is the line number.
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let line_start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(0);
        let column = source
            .get(line_start..)
            .unwrap_or_default()
            .char_indices()
            .take_while(|(i, _)| line_start + i < offset)
            .count()
            + 1;
        (line.max(1), column)
    }
}

/// Edit distance between two strings, in characters: insertions, deletions,
/// substitutions, and swaps of two neighbours (the commonest typo) count one.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Rows of the classic table: distance between a[..i] and b[..j].
    let mut before_previous: Vec<usize> = Vec::new();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let substitution = previous[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(previous[j] + 1).min(current[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(before_previous[j - 2] + 1);
            }
            current[j] = best;
        }
        before_previous = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

/// The candidate closest to `input`, if it is close enough to be a typo.
pub(crate) fn did_you_mean<'c>(input: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let input = input.to_lowercase();
    candidates
        .iter()
        .map(|candidate| (edit_distance(&input, &candidate.to_lowercase()), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.chars().count() / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// "did you mean `x`?" when a candidate is close, else the list of choices.
pub(crate) fn suggestion_hint(input: &str, candidates: &[&str], what: &str) -> String {
    match did_you_mean(input, candidates) {
        Some(close) => format!("did you mean `{close}`?"),
        None => format!("{what}: {}", quoted_list(candidates)),
    }
}

/// `a`, `b`, `c`
pub(crate) fn quoted_list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("windw", "window"), 1);
        assert_eq!(edit_distance("blok", "block"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("ünï", "uni"), 2);
        // A swap of neighbours is one typo.
        assert_eq!(edit_distance("modle", "model"), 1);
        assert_eq!(edit_distance("ab", "ba"), 1);
    }

    #[test]
    fn did_you_mean_only_suggests_close_candidates() {
        let keys = ["window", "mode"];
        assert_eq!(did_you_mean("windw", &keys), Some("window"));
        assert_eq!(did_you_mean("WINDOW", &keys), Some("window"));
        assert_eq!(did_you_mean("colour", &keys), None);
        assert_eq!(
            did_you_mean("amercia", &["America", "Asia"]),
            Some("America")
        );
        assert_eq!(did_you_mean("x", &[]), None);
    }

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = "a = 1\nbé = 2\n";
        let index = LineIndex::new(source);
        assert_eq!(index.line_column(source, 0), (1, 1));
        assert_eq!(index.line_column(source, 4), (1, 5));
        assert_eq!(index.line_column(source, 6), (2, 1));
        // `=` on line 2 is after a two-byte character.
        assert_eq!(index.line_column(source, 10), (2, 4));
        assert_eq!(index.line_column(source, 999), (3, 1));
    }
}
