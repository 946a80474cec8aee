//! Walks the spanned TOML tree by hand so that every mistake is collected
//! with its location, instead of stopping at the first one as serde would.
//!
//! A [`TableReader`] remembers which keys the schema asked for; whatever is
//! left when it is finished is an unknown key, reported with a did-you-mean.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::diagnostic::{IssueKind, Issues, did_you_mean, quoted_list};

pub(crate) type Span = Range<usize>;

/// A value read from the file, with where it was written.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    pub value: T,
    pub span: Span,
}

type Value<'i> = Spanned<DeValue<'i>>;

/// Reads one table of the playbook.
#[derive(Debug)]
pub(crate) struct TableReader<'t, 'i> {
    table: &'t DeTable<'i>,
    /// Where "missing key" mistakes point: the table header or inline table.
    span: Span,
    /// How messages name this table: `[workspace]`, `[[icp.rule]] #2`, …
    name: String,
    /// The dotted path, while the table is reachable through plain tables only.
    path: Option<String>,
    /// Every key the schema asked for, present or not.
    known: Vec<&'static str>,
    /// Known keys that are refused (a literal `password`): reported by the
    /// caller, never suggested.
    refused: Vec<&'static str>,
    missing: Vec<&'static str>,
    missing_hints: Vec<(&'static str, String)>,
    /// Set when the caller took the remaining keys itself (map-like tables).
    rest_taken: bool,
}

impl<'t, 'i> TableReader<'t, 'i> {
    pub fn root(table: &'t DeTable<'i>) -> Self {
        Self::new(
            table,
            0..0,
            "the top level".to_string(),
            Some(String::new()),
        )
    }

    fn new(table: &'t DeTable<'i>, span: Span, name: String, path: Option<String>) -> Self {
        Self {
            table,
            span,
            name,
            path,
            known: Vec::new(),
            refused: Vec::new(),
            missing: Vec::new(),
            missing_hints: Vec::new(),
            rest_taken: false,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn span(&self) -> &Span {
        &self.span
    }

    fn is_root(&self) -> bool {
        self.path.as_deref() == Some("")
    }

    /// The raw value of `key`, registering `key` as one this table accepts.
    pub fn get(&mut self, key: &'static str) -> Option<&'t Value<'i>> {
        self.entry(key).map(|(_, value)| value)
    }

    /// Like [`get`](Self::get), also returning where the key was written.
    pub fn entry(&mut self, key: &'static str) -> Option<(Span, &'t Value<'i>)> {
        if !self.known.contains(&key) {
            self.known.push(key);
        }
        self.table
            .iter()
            .find(|(name, _)| name.get_ref().as_ref() == key)
            .map(|(name, value)| (name.span(), value))
    }

    /// A key that must not be written here, for the caller to report with a
    /// better message than "unknown key"; it is never suggested.
    pub fn refused_entry(&mut self, key: &'static str) -> Option<(Span, &'t Value<'i>)> {
        self.refused.push(key);
        self.entry(key)
    }

    /// Keys worth suggesting: the accepted ones.
    fn suggestible(&self) -> Vec<&'static str> {
        self.known
            .iter()
            .copied()
            .filter(|key| !self.refused.contains(key))
            .collect()
    }

    /// Records that a required key is absent; reported by [`finish`](Self::finish)
    /// unless an unknown key there is a likely misspelling of it.
    pub fn report_missing(&mut self, key: &'static str) {
        if !self.missing.contains(&key) {
            self.missing.push(key);
        }
    }

    /// A better hint than the generic one, should `key` turn out missing.
    pub fn explain_missing(&mut self, key: &'static str, hint: impl Into<String>) {
        self.missing_hints.push((key, hint.into()));
    }

    /// The keys nobody asked for yet, for tables whose keys are names
    /// (sequences, send authority per sequence type). After this, unknown
    /// keys are the caller's business.
    fn remaining_entries(&mut self) -> Vec<(Located<String>, &'t Value<'i>)> {
        self.rest_taken = true;
        self.table
            .iter()
            .filter(|(name, _)| !self.known.contains(&name.get_ref().as_ref()))
            .map(|(name, value)| {
                (
                    Located {
                        value: name.get_ref().to_string(),
                        span: name.span(),
                    },
                    value,
                )
            })
            .collect()
    }

    /// For tables whose keys are names the user chose (`[sequence.NAME]`,
    /// send authority per sequence type): every key not read so far, each of
    /// which must hold a table. `expected` describes such a table for hints.
    pub fn named_tables(
        &mut self,
        issues: &mut Issues<'_>,
        expected: &str,
    ) -> Vec<(Located<String>, TableReader<'t, 'i>)> {
        let mut named = Vec::new();
        for (name, value) in self.remaining_entries() {
            let path = self.child_path(&name.value);
            match value.get_ref() {
                DeValue::Table(table) => {
                    let table_name = match &path {
                        Some(path) => format!("[{path}]"),
                        None => format!("`{}` in {}", name.value, self.name),
                    };
                    named.push((
                        name,
                        TableReader::new(table, value.span(), table_name, path),
                    ));
                }
                other => {
                    // Most likely a misspelt fixed key, such as `qa_sample_rte`.
                    let (message, hint) = match did_you_mean(&name.value, &self.suggestible()) {
                        Some(close) => (
                            format!("unknown key `{}` in {}", name.value, self.name),
                            format!("did you mean `{close}`?"),
                        ),
                        None => (
                            format!(
                                "`{}` in {} must be a table, not {}",
                                name.value,
                                self.name,
                                describe(other)
                            ),
                            expected.to_string(),
                        ),
                    };
                    issues.error_with_hint(&name.span, message, hint);
                }
            }
        }
        named
    }

    /// Reports unknown and missing keys. Call after every key was read.
    pub fn finish(mut self, issues: &mut Issues<'_>) {
        let mut missing = std::mem::take(&mut self.missing);
        let suggestible = self.suggestible();
        if !self.rest_taken {
            for (key, _) in self.table.iter() {
                let key_name = key.get_ref().as_ref();
                if self.known.contains(&key_name) {
                    continue;
                }
                let suggestion = did_you_mean(key_name, &suggestible);
                // `windw = "24h"` is one mistake, not also a missing `window`.
                missing.retain(|required| Some(*required) != suggestion);
                let hint = match suggestion {
                    Some(close) => format!("did you mean `{close}`?"),
                    None if suggestible.is_empty() => "remove it".to_string(),
                    None => format!("allowed here: {}", quoted_list(&suggestible)),
                };
                let message = if self.is_root() {
                    format!("unknown section `{key_name}`")
                } else {
                    format!("unknown key `{key_name}` in {}", self.name)
                };
                issues.error_with_hint(&key.span(), message, hint);
            }
        }
        for key in missing {
            let hint = self
                .missing_hints
                .iter()
                .find(|(explained, _)| *explained == key)
                .map(|(_, hint)| hint.clone());
            let (message, hint) = if self.is_root() {
                (
                    format!("missing required section [{key}]"),
                    hint.unwrap_or_else(|| format!("add a [{key}] section")),
                )
            } else {
                (
                    format!("missing required key `{key}` in {}", self.name),
                    hint.unwrap_or_else(|| format!("add `{key} = …` to {}", self.name)),
                )
            };
            issues.push_kind(IssueKind::Missing, self.span.start, message, Some(hint));
        }
    }

    fn child_path(&self, key: &str) -> Option<String> {
        self.path.as_ref().map(|path| {
            if path.is_empty() {
                key.to_string()
            } else {
                format!("{path}.{key}")
            }
        })
    }

    // ── Typed getters: each reports a wrong type itself and returns None. ──

    pub fn string(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<String>> {
        let value = self.get(key)?;
        expect_string(issues, value, &format!("`{key}`"))
    }

    pub fn required_string(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<String>> {
        if self.get(key).is_none() {
            self.report_missing(key);
        }
        self.string(issues, key)
    }

    /// A required string that must also say something.
    pub fn required_text(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<String>> {
        let text = self.required_string(issues, key)?;
        if text.value.trim().is_empty() {
            issues.error_with_hint(
                &text.span,
                format!("`{key}` in {} is empty", self.name),
                format!("write the {} between the quotes", key.replace('_', " ")),
            );
            return None;
        }
        Some(text)
    }

    /// An optional string that, when present, must say something.
    pub fn optional_text(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<String>> {
        let text = self.string(issues, key)?;
        if text.value.trim().is_empty() {
            issues.error_with_hint(
                &text.span,
                format!("`{key}` in {} is empty", self.name),
                format!(
                    "write the {} between the quotes, or remove the key",
                    key.replace('_', " ")
                ),
            );
            return None;
        }
        Some(text)
    }

    pub fn integer(&mut self, issues: &mut Issues<'_>, key: &'static str) -> Option<Located<i64>> {
        let value = self.get(key)?;
        expect_integer(issues, value, key)
    }

    pub fn required_integer(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<i64>> {
        if self.get(key).is_none() {
            self.report_missing(key);
        }
        self.integer(issues, key)
    }

    /// A number that may be written with or without a decimal point.
    pub fn number(&mut self, issues: &mut Issues<'_>, key: &'static str) -> Option<Located<f64>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Integer(_) => expect_integer(issues, value, key).map(|n| Located {
                // Playbook numbers are small; precision loss cannot matter here.
                value: n.value as f64,
                span: n.span,
            }),
            DeValue::Float(float) => match float.as_str().parse::<f64>() {
                Ok(n) => Some(Located {
                    value: n,
                    span: value.span(),
                }),
                Err(_) => {
                    issues.error(&value.span(), format!("`{key}` is not a number"));
                    None
                }
            },
            other => {
                let hint = match other.as_str() {
                    Some(text) if text.trim().parse::<f64>().is_ok() => {
                        format!("remove the quotes: {key} = {}", text.trim())
                    }
                    _ => format!("write a number without quotes, e.g. {key} = 0.5"),
                };
                issues.error_with_hint(
                    &value.span(),
                    format!("`{key}` must be a number, not {}", describe(other)),
                    hint,
                );
                None
            }
        }
    }

    /// A number between 0 and 1 inclusive (rates, floors, shares).
    pub fn fraction(&mut self, issues: &mut Issues<'_>, key: &'static str) -> Option<Located<f64>> {
        let number = self.number(issues, key)?;
        if !(0.0..=1.0).contains(&number.value) {
            issues.error_with_hint(
                &number.span,
                format!("`{key}` must be between 0 and 1, not {}", number.value),
                "write a share as a decimal: 0.05 means 5%",
            );
            return None;
        }
        Some(number)
    }

    pub fn required_fraction(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<f64>> {
        if self.get(key).is_none() {
            self.report_missing(key);
        }
        self.fraction(issues, key)
    }

    pub fn boolean(&mut self, issues: &mut Issues<'_>, key: &'static str) -> Option<Located<bool>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(flag) => Some(Located {
                value: *flag,
                span: value.span(),
            }),
            other => {
                let hint = match other.as_str() {
                    Some(text @ ("true" | "false")) => format!("remove the quotes: {key} = {text}"),
                    _ => format!("write {key} = true or {key} = false"),
                };
                issues.error_with_hint(
                    &value.span(),
                    format!("`{key}` must be true or false, not {}", describe(other)),
                    hint,
                );
                None
            }
        }
    }

    pub fn required_boolean(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Located<bool>> {
        if self.get(key).is_none() {
            self.report_missing(key);
        }
        self.boolean(issues, key)
    }

    /// A list of strings; each entry is checked, bad entries are dropped.
    pub fn strings(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<Vec<Located<String>>> {
        let value = self.get(key)?;
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match value.get_ref().as_str() {
                Some(text) => format!("put it in brackets: {key} = [\"{text}\"]"),
                None => format!("write a list in brackets: {key} = [\"…\", \"…\"]"),
            };
            issues.error_with_hint(
                &value.span(),
                format!(
                    "`{key}` must be a list of strings, not {}",
                    describe(value.get_ref())
                ),
                hint,
            );
            return None;
        };
        let label = format!("each entry of `{key}`");
        Some(
            items
                .iter()
                .filter_map(|item| expect_string(issues, item, &label))
                .collect(),
        )
    }

    /// A string that must be one of `choices`; misspellings get a did-you-mean.
    pub fn choice<T: Copy>(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
        choices: &[(&'static str, T)],
    ) -> Option<Located<T>> {
        let text = self.string(issues, key)?;
        parse_choice(issues, &text, key, choices)
    }

    pub fn required_choice<T: Copy>(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
        choices: &[(&'static str, T)],
    ) -> Option<Located<T>> {
        if self.get(key).is_none() {
            self.report_missing(key);
        }
        self.choice(issues, key, choices)
    }

    /// A nested table, written as `[a.b]` or inline `{ … }`.
    pub fn table(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<TableReader<'t, 'i>> {
        let value = self.get(key)?;
        let path = self.child_path(key);
        let name = match &path {
            Some(path) => format!("[{path}]"),
            None => format!("`{key}` in {}", self.name),
        };
        match value.get_ref() {
            DeValue::Table(table) => Some(TableReader::new(table, value.span(), name, path)),
            other => {
                let hint = if self.is_root() {
                    format!("start the section with a [{key}] line")
                } else {
                    format!(
                        "write {key} = {{ … }} or a [{}] section",
                        path.unwrap_or_else(|| key.to_string())
                    )
                };
                issues.error_with_hint(
                    &value.span(),
                    format!("`{key}` must be a table, not {}", describe(other)),
                    hint,
                );
                None
            }
        }
    }

    pub fn required_table(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Option<TableReader<'t, 'i>> {
        if self.get(key).is_none() {
            self.report_missing(key);
        }
        self.table(issues, key)
    }

    /// A list of tables, written as `[[a.b]]` blocks or `[{ … }, { … }]`.
    /// Entries that are not tables are reported and skipped.
    pub fn tables(
        &mut self,
        issues: &mut Issues<'_>,
        key: &'static str,
    ) -> Vec<TableReader<'t, 'i>> {
        let Some(value) = self.get(key) else {
            return Vec::new();
        };
        let path = self.child_path(key);
        let DeValue::Array(items) = value.get_ref() else {
            let hint = match &path {
                Some(path) => format!("write each entry as a [[{path}]] block"),
                None => format!("write {key} = [{{ … }}, {{ … }}]"),
            };
            issues.error_with_hint(
                &value.span(),
                format!(
                    "`{key}` must be a list of tables, not {}",
                    describe(value.get_ref())
                ),
                hint,
            );
            return Vec::new();
        };
        let mut readers = Vec::new();
        for (index, item) in items.iter().enumerate() {
            let name = match &path {
                Some(path) => format!("[[{path}]] #{}", index + 1),
                None => format!("`{key}` #{} in {}", index + 1, self.name),
            };
            match item.get_ref() {
                DeValue::Table(table) => {
                    readers.push(TableReader::new(table, item.span(), name, None));
                }
                other => issues.error_with_hint(
                    &item.span(),
                    format!("{name} must be a table, not {}", describe(other)),
                    "write each entry as { key = value, … }",
                ),
            }
        }
        readers
    }
}

/// The string in `value`, or a type mistake about `label`.
pub(crate) fn expect_string(
    issues: &mut Issues<'_>,
    value: &Value<'_>,
    label: &str,
) -> Option<Located<String>> {
    match value.get_ref() {
        DeValue::String(text) => Some(Located {
            value: text.to_string(),
            span: value.span(),
        }),
        other => {
            issues.error_with_hint(
                &value.span(),
                format!("{label} must be a string, not {}", describe(other)),
                "put the text in double quotes: \"…\"",
            );
            None
        }
    }
}

fn expect_integer(issues: &mut Issues<'_>, value: &Value<'_>, key: &str) -> Option<Located<i64>> {
    match value.get_ref() {
        DeValue::Integer(integer) => match i64::from_str_radix(integer.as_str(), integer.radix()) {
            Ok(number) => Some(Located {
                value: number,
                span: value.span(),
            }),
            Err(_) => {
                issues.error(&value.span(), format!("`{key}` is too large"));
                None
            }
        },
        other => {
            let hint = match other {
                DeValue::String(text) if text.trim().parse::<i64>().is_ok() => {
                    format!("remove the quotes: {key} = {}", text.trim())
                }
                DeValue::Float(float) => {
                    format!(
                        "write a whole number: {key} = {}",
                        float.as_str().split('.').next().unwrap_or("0")
                    )
                }
                _ => format!("write a whole number without quotes, e.g. {key} = 10"),
            };
            issues.error_with_hint(
                &value.span(),
                format!("`{key}` must be a whole number, not {}", describe(other)),
                hint,
            );
            None
        }
    }
}

/// Matches `text` against `choices`, reporting a did-you-mean if none fits.
pub(crate) fn parse_choice<T: Copy>(
    issues: &mut Issues<'_>,
    text: &Located<String>,
    key: &str,
    choices: &[(&'static str, T)],
) -> Option<Located<T>> {
    if let Some((_, value)) = choices.iter().find(|(name, _)| *name == text.value) {
        return Some(Located {
            value: *value,
            span: text.span.clone(),
        });
    }
    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
    let hint = match did_you_mean(&text.value, &names) {
        Some(close) => format!(
            "did you mean `{close}`? ({key} is one of {})",
            quoted_list(&names)
        ),
        None => format!("{key} is one of {}", quoted_list(&names)),
    };
    issues.error_with_hint(
        &text.span,
        format!("`{}` is not a valid `{key}`", text.value),
        hint,
    );
    None
}

/// "a string", "an integer", … for type mistakes.
pub(crate) fn describe(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "a whole number",
        DeValue::Float(_) => "a decimal number",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

const ID_HINT: &str = "ids use letters, digits, `-`, `_` and `.`, starting with a letter or digit, e.g. \"vp-faster-reporting\"";

/// Ids appear in audit trails and on the command line: keep them plain.
pub(crate) fn check_id(
    issues: &mut Issues<'_>,
    id: Located<String>,
    key: &str,
) -> Option<Located<String>> {
    let well_formed = id.value.chars().next().is_some_and(|c| c.is_alphanumeric())
        && id
            .value
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if well_formed {
        Some(id)
    } else {
        issues.error_with_hint(
            &id.span,
            format!("`{}` is not a valid {key}", id.value),
            ID_HINT,
        );
        None
    }
}

/// Remembers ids already used in one namespace, to report duplicates.
#[derive(Debug, Default)]
pub(crate) struct UniqueIds {
    seen: Vec<(String, usize)>,
}

impl UniqueIds {
    /// False (and a diagnostic) when `id` was used before.
    pub fn claim(
        &mut self,
        issues: &mut Issues<'_>,
        id: &Located<String>,
        namespace: &str,
    ) -> bool {
        if let Some((_, seen_offset)) = self.seen.iter().find(|(seen, _)| *seen == id.value) {
            // Sections are read kind by kind, not in file order: report at
            // whichever use comes later in the file.
            let (first, second) = if *seen_offset < id.span.start {
                (*seen_offset, id.span.start)
            } else {
                (id.span.start, *seen_offset)
            };
            let first_line = issues.line_of(first);
            issues.push(
                second,
                format!(
                    "duplicate id `{}`: already used on line {first_line}",
                    id.value
                ),
                Some(format!(
                    "ids must be unique across {namespace}; rename one of them"
                )),
            );
            return false;
        }
        self.seen.push((id.value.clone(), id.span.start));
        true
    }
}
