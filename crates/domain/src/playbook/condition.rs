//! Conditions: CEL expressions over the context documented in
//! [`super::context`]. Here they are compiled and type-checked, so that
//! `policy check` catches mistakes; evaluation lives with the policy engine.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;

use super::context::Site;
use super::diagnostic::{Issues, Level};
use super::reader::Located;
use super::typecheck;

/// The source text of a CEL expression that is known to compile and to
/// read only what its place in the playbook can read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Condition(String);

impl Condition {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const CONDITION_HINT: &str = "write a CEL expression over the context in docs/policy.md, \
e.g. \"account.employees >= 50 && contact.seniority in ['vp', 'director']\"";

/// Compiles `text` (the value of `key`) and checks it as a condition written
/// at `site` (`None` when the site could not be read: every variable is
/// allowed). `sequence_types` are the playbook's, for `sequence.type`.
/// Mistakes are reported at the place inside the string where they are,
/// when that place can be known.
pub(crate) fn compile(
    issues: &mut Issues<'_>,
    text: Located<String>,
    key: &str,
    site: Option<Site>,
    sequence_types: &[String],
) -> Option<Condition> {
    if text.value.trim().is_empty() {
        issues.error_with_hint(&text.span, format!("`{key}` is empty"), CONDITION_HINT);
        return None;
    }
    // The CEL parser is third-party code fed with user input: a panic in it
    // must become a diagnostic, not a crash.
    let compiled = catch_unwind(AssertUnwindSafe(|| cel::Program::compile(&text.value)));
    let first_error = match compiled {
        Ok(Ok(program)) => {
            let problems = typecheck::check_program(&program, &text.value, site, sequence_types);
            let mut usable = true;
            for problem in problems {
                let offset = offset_of_byte(issues.source(), &text, problem.offset);
                match problem.level {
                    Level::Error => {
                        usable = false;
                        issues.push(offset, problem.message, problem.hint);
                    }
                    Level::Warning => issues.warn(offset, problem.message, problem.hint),
                }
            }
            return usable.then_some(Condition(text.value));
        }
        Ok(Err(errors)) => errors
            .errors
            .first()
            .map(|error| (error.msg.clone(), error.pos))
            .unwrap_or_else(|| ("invalid expression".to_string(), (0, 0))),
        Err(_panic) => ("the CEL parser could not read it".to_string(), (0, 0)),
    };
    let (message, (line, column)) = first_error;
    let offset = offset_in_value(issues.source(), &text, line, column);
    issues.push(
        offset,
        format!("`{key}` is not a valid CEL expression: {}", tidy(&message)),
        Some(CONDITION_HINT.to_string()),
    );
    None
}

/// CEL's parser speaks in grammar terms ("mismatched input '<EOF>'
/// expecting {'[', '{', …}"); keep the part a person can act on.
fn tidy(message: &str) -> String {
    let message = message.strip_prefix("Syntax error: ").unwrap_or(message);
    let message = message.split(" expecting ").next().unwrap_or(message);
    if message.contains("'<EOF>'") {
        "the expression ends too early".to_string()
    } else {
        message.to_string()
    }
}

/// File offset of `line`:`column` (1-based, characters) inside the string
/// value. Exact when the TOML string has no escapes, so its text in the file
/// is the expression itself; otherwise the start of the string.
pub(crate) fn offset_in_value(
    source: &str,
    text: &Located<String>,
    line: isize,
    column: isize,
) -> usize {
    let Some(content_start) = verbatim_content_start(source, text) else {
        return text.span.start;
    };
    let (Ok(line), Ok(column)) = (usize::try_from(line), usize::try_from(column)) else {
        return content_start;
    };
    if line == 0 || column == 0 {
        return content_start;
    }
    let mut line_start = 0;
    for (index, line_text) in text.value.split('\n').enumerate() {
        if index + 1 == line {
            let within_line = line_text
                .char_indices()
                .nth(column - 1)
                .map(|(byte, _)| byte)
                .unwrap_or(line_text.len());
            return content_start + line_start + within_line;
        }
        line_start += line_text.len() + 1;
    }
    content_start
}

/// File offset of byte `offset` of the string value: exact when the string
/// is written without escapes, else the start of the string.
pub(crate) fn offset_of_byte(source: &str, text: &Located<String>, offset: usize) -> usize {
    match verbatim_content_start(source, text) {
        Some(start) => start + offset.min(text.value.len()),
        None => text.span.start,
    }
}

/// Where the string's content starts in the file, if the content there is
/// exactly the decoded value (no escapes, no line-continuations).
fn verbatim_content_start(source: &str, text: &Located<String>) -> Option<usize> {
    let raw = source.get(text.span.clone())?;
    for delimiter in ["\"\"\"", "'''", "\"", "'"] {
        if raw.len() >= 2 * delimiter.len()
            && raw.starts_with(delimiter)
            && raw.ends_with(delimiter)
        {
            let mut start = delimiter.len();
            let inner = raw.get(start..raw.len() - delimiter.len())?;
            let mut content = inner;
            // A multi-line string drops the newline right after its opening quotes.
            if delimiter.len() == 3 {
                for newline in ["\r\n", "\n"] {
                    if let Some(rest) = content.strip_prefix(newline) {
                        start += newline.len();
                        content = rest;
                        break;
                    }
                }
            }
            return (content == text.value).then_some(text.span.start + start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn located(source: &str, needle: &str) -> Located<String> {
        let start = source.find(needle).unwrap_or(0);
        let span = start..start + needle.len();
        let value = needle[1..needle.len() - 1].to_string();
        Located { value, span }
    }

    #[test]
    fn compiles_the_conditions_of_the_design() {
        for expression in [
            "account.industry in ['software', 'fintech']",
            "'strategic' in account.tags || contact.seniority == 'c_suite'",
            "event.kind == 'page_visit' && event.url.matches('/pricing')",
            "draft.confidence < 0.7",
        ] {
            let source = format!("when = \"{expression}\"");
            let mut issues = Issues::new(&source);
            let text = located(&source, &format!("\"{expression}\""));
            assert!(
                compile(&mut issues, text, "when", None, &[]).is_some(),
                "{expression}"
            );
            assert!(issues.is_empty());
        }
    }

    #[test]
    fn a_mistake_points_inside_the_string() {
        let source = "when = \"account.employees >= \"";
        let mut issues = Issues::new(source);
        let text = located(source, "\"account.employees >= \"");
        assert!(compile(&mut issues, text, "when", None, &[]).is_none());
        let diagnostics = issues.into_diagnostics("f.toml");
        assert_eq!(diagnostics.len(), 1);
        let diagnostic = &diagnostics.0[0];
        assert!(diagnostic.message.contains("not a valid CEL expression"));
        // Somewhere after the opening quote, not at `when`.
        assert!(diagnostic.column > 8, "{diagnostic}");
    }

    #[test]
    fn escaped_strings_point_at_the_string_start() {
        let source = "when = \"a \\u0026\\u0026\"";
        let text = Located {
            value: "a &&".to_string(),
            span: 7..source.len(),
        };
        assert_eq!(verbatim_content_start(source, &text), None);
        assert_eq!(offset_in_value(source, &text, 1, 3), 7);
    }

    #[test]
    fn multi_line_strings_skip_the_first_newline() {
        let source = "when = \"\"\"\na ||\nb &&\"\"\"";
        let text = Located {
            value: "a ||\nb &&".to_string(),
            span: 7..source.len(),
        };
        assert_eq!(verbatim_content_start(source, &text), Some(11));
        // line 2, column 3 is the first `&`.
        let offset = offset_in_value(source, &text, 2, 3);
        assert_eq!(&source[offset..offset + 1], "&");
    }

    proptest::proptest! {
        #[test]
        fn compiling_never_panics(expression in ".{0,200}") {
            let source = format!("when = {expression:?}");
            let mut issues = Issues::new(&source);
            let text = Located { value: expression, span: 7..source.len() };
            let _ = compile(&mut issues, text, "when", None, &[]);
            let _ = issues.into_diagnostics("f.toml");
        }

        #[test]
        fn compiling_cel_like_text_never_panics(
            expression in "[a-z_.()\\[\\]{}'\"!&|<>=+*/%?:, 0-9-]{0,80}"
        ) {
            let source = format!("when = {expression:?}");
            let mut issues = Issues::new(&source);
            let text = Located { value: expression, span: 7..source.len() };
            let _ = compile(&mut issues, text, "when", None, &[]);
        }
    }
}
