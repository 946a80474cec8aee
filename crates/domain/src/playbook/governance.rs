//! `[governance]`: the four areas of policy as code — content rules, data
//! access, send authority and escalation — plus graduation from approval to
//! automatic sending.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

use super::condition::{self, Condition, offset_in_value};
use super::content::ContentKind;
use super::context::Site;
use super::diagnostic::{Issues, suggestion_hint};
use super::duration::{Duration, DurationError};
use super::reader::{Located, TableReader, UniqueIds, check_id};
use crate::escalation::{Priority, Stage};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Governance {
    /// `[[governance.content]]`: claims a draft may not make alone.
    pub content_rules: Vec<ContentRule>,
    pub data_access: DataAccess,
    pub send_authority: SendAuthority,
    /// `[[governance.escalate]]`: when a person takes over, by stage.
    pub escalation_rules: Vec<EscalationRule>,
    /// `None`: no sequence type ever graduates to automatic sending.
    pub graduation: Option<Graduation>,
}

// ── Content rules ─────────────────────────────────────────────────────────

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentRule {
    pub id: String,
    pub severity: Severity,
    /// Regular expressions (Rust `regex` syntax), each known to compile.
    pub patterns: Vec<String>,
    /// Plain text, matched case-insensitively by the policy engine.
    pub phrases: Vec<String>,
    /// The rule applies only when this holds.
    pub guard: Option<Condition>,
    /// A match is fine when the draft cites content of this kind (a
    /// verified one, for proof points).
    pub unless_grounded_in: Option<ContentKind>,
    /// Also matches every sentence the drafting stage found to state a
    /// claim that no offered source backs.
    pub ungrounded_claims: bool,
    /// Shown to the reviewer with the finding.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Noted on the draft; nothing stops it.
    Note,
    /// A human must look before it is sent.
    Review,
    /// Never sent as written.
    Block,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Review => "review",
            Severity::Block => "block",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ── Data access ───────────────────────────────────────────────────────────

/// Which fields may reach a model. Field paths look like `contact.first_name`
/// or `research.*`; a field in no list is treated as `never`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataAccess {
    pub ai_may_use: Vec<String>,
    /// Used only after a person confirmed the value.
    pub human_confirm: Vec<String>,
    /// Never reaches any model backend.
    pub never: Vec<String>,
}

/// The records a data-access field path may start with.
const FIELD_ROOTS: [&str; 4] = ["contact", "account", "research", "signal"];

// ── Send authority ────────────────────────────────────────────────────────

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendAuthority {
    /// By sequence type (`cold`, `post_meeting`, …).
    pub by_sequence_type: BTreeMap<String, SendMode>,
    /// Share of automatic sends a person checks afterwards (0 to 1).
    pub qa_sample_rate: f64,
    /// Drafts scored below this go to a person whatever the mode (0 to 1).
    pub confidence_floor: f64,
}

impl SendAuthority {
    pub const DEFAULT_QA_SAMPLE_RATE: f64 = 0.05;
    pub const DEFAULT_CONFIDENCE_FLOOR: f64 = 0.7;
}

impl Default for SendAuthority {
    fn default() -> Self {
        Self {
            by_sequence_type: BTreeMap::new(),
            qa_sample_rate: Self::DEFAULT_QA_SAMPLE_RATE,
            confidence_floor: Self::DEFAULT_CONFIDENCE_FLOOR,
        }
    }
}

/// Who decides that a draft is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SendMode {
    /// Sent without review; a sample is checked afterwards.
    Auto,
    /// Sent only if a person approves inside the window; otherwise it expires.
    Approval { window: Duration },
    /// Sent when the window ends unless a person vetoes it.
    Veto { window: Duration },
    /// A person writes and sends it.
    Manual,
}

// ── Graduation ────────────────────────────────────────────────────────────

/// When a sequence type may move from approval to automatic sending.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Graduation {
    /// AI drafts sent before graduation is considered.
    pub min_drafts: u32,
    /// Share of drafts sent without a real edit (0 to 1).
    pub min_acceptance: f64,
    /// Back to approval when acceptance falls below the minimum again.
    pub demote_on_regression: bool,
}

// ── Escalation ────────────────────────────────────────────────────────────

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EscalationRule {
    pub id: Option<String>,
    pub stage: Stage,
    pub when: Condition,
    /// Shown to the person the prospect is handed to.
    pub reason: String,
    pub priority: Priority,
    /// How soon a person should act.
    pub sla: Option<Duration>,
}

// ── Reading ───────────────────────────────────────────────────────────────

/// Governance, plus every sequence type named in send authority (even one
/// whose entry had a mistake, so it is not also reported as missing).
pub(crate) struct GovernanceRead {
    pub governance: Governance,
    pub declared_send_types: Vec<String>,
}

/// `rule_ids` holds the ICP rules' ids already: content and escalation
/// rules share their namespace. `sequence_types` are the types the
/// playbook's sequences have, to check `sequence.type` in conditions.
pub(crate) fn read_governance(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    rule_ids: &mut UniqueIds,
    sequence_types: &[String],
) -> GovernanceRead {
    let mut governance = Governance::default();
    let mut declared_send_types = Vec::new();

    for rule in table.tables(issues, "content") {
        governance
            .content_rules
            .extend(read_content_rule(issues, rule, rule_ids, sequence_types));
    }
    if let Some(data_access) = table.table(issues, "data_access") {
        governance.data_access = read_data_access(issues, data_access);
    }
    if let Some(send_authority) = table.table(issues, "send_authority") {
        (governance.send_authority, declared_send_types) =
            read_send_authority(issues, send_authority);
    }
    for rule in table.tables(issues, "escalate") {
        governance.escalation_rules.extend(read_escalation_rule(
            issues,
            rule,
            rule_ids,
            sequence_types,
        ));
    }
    governance.graduation = table
        .table(issues, "graduation")
        .and_then(|graduation| read_graduation(issues, graduation));
    table.finish(issues);
    GovernanceRead {
        governance,
        declared_send_types,
    }
}

fn read_content_rule(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    ids: &mut UniqueIds,
    sequence_types: &[String],
) -> Option<ContentRule> {
    table.explain_missing(
        "id",
        "give the rule a short unique id, e.g. id = \"pricing\"; findings name it",
    );
    let id = table
        .required_string(issues, "id")
        .and_then(|id| check_id(issues, id, "id"))
        .filter(|id| ids.claim(issues, id, super::RULE_ID_NAMESPACE));
    table.explain_missing(
        "severity",
        "choose what a match means: severity = \"block\", \"review\" or \"note\"",
    );
    let severity = table.required_choice(
        issues,
        "severity",
        &[
            (Severity::Block.as_str(), Severity::Block),
            (Severity::Review.as_str(), Severity::Review),
            (Severity::Note.as_str(), Severity::Note),
        ],
    );
    let patterns: Vec<String> = table
        .strings(issues, "patterns")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|pattern| check_pattern(issues, pattern))
        .collect();
    let phrases: Vec<String> = table
        .strings(issues, "phrases")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|phrase| {
            if phrase.value.trim().is_empty() {
                issues.error_with_hint(
                    &phrase.span,
                    "empty phrase",
                    "remove it, or write the words to match",
                );
                None
            } else {
                Some(phrase.value)
            }
        })
        .collect();
    let ungrounded_claims = table
        .boolean(issues, "ungrounded_claims")
        .is_some_and(|flag| flag.value);
    if !ungrounded_claims && declares_no_matchers(&mut table) {
        issues.error_with_hint(
            table.span(),
            format!("content rule {} matches nothing", table.name()),
            "add patterns = ['regex', …], phrases = [\"words\", …] or ungrounded_claims = true",
        );
    }
    let guard = table.string(issues, "guard").and_then(|guard| {
        condition::compile(
            issues,
            guard,
            "guard",
            Some(Site::ContentGuard),
            sequence_types,
        )
    });
    let unless_grounded_in = table
        .choice(issues, "unless_grounded_in", &ContentKind::CHOICES)
        .map(|kind| kind.value);
    table.explain_missing(
        "message",
        "say what the reviewer should check, e.g. message = \"Pricing must be confirmed by a human\"",
    );
    let message = table.required_text(issues, "message");
    table.finish(issues);
    Some(ContentRule {
        id: id?.value,
        severity: severity?.value,
        patterns,
        phrases,
        guard,
        unless_grounded_in,
        ungrounded_claims,
        message: message?.value,
    })
}

/// True when `patterns` and `phrases` are absent or empty lists. (A list of
/// invalid patterns is reported pattern by pattern instead.)
fn declares_no_matchers(table: &mut TableReader<'_, '_>) -> bool {
    ["patterns", "phrases"].into_iter().all(|key| {
        table.get(key).is_none_or(|value| {
            value
                .get_ref()
                .as_array()
                .is_some_and(|items| items.is_empty())
        })
    })
}

/// Compiles a pattern; a mistake points at the column regex complains about.
/// A pattern that matches empty text matches every draft, so it is refused.
fn check_pattern(issues: &mut Issues<'_>, pattern: Located<String>) -> Option<String> {
    match regex::Regex::new(&pattern.value) {
        Ok(regex) if regex.is_match("") => {
            let offset = offset_in_value(issues.source(), &pattern, 1, 1);
            issues.push(
                offset,
                format!(
                    "pattern `{}` matches empty text, so it would match every draft",
                    pattern.value
                ),
                Some(
                    "make something in it required: `+` rather than `*`, no `?` on the whole, \
                     no empty alternative such as `a|`"
                        .to_string(),
                ),
            );
            None
        }
        Ok(_) => Some(pattern.value),
        Err(error) => {
            let (summary, column) = describe_regex_error(&error);
            let offset = offset_in_value(issues.source(), &pattern, 1, column);
            issues.push(
                offset,
                format!("invalid regular expression: {summary}"),
                Some(
                    "patterns use Rust regex syntax; write them in single quotes so backslashes stay as typed, \
                     e.g. '(?i)\\bdiscount\\b'"
                        .to_string(),
                ),
            );
            None
        }
    }
}

/// regex's message is a small drawing: the pattern, a caret line, then
/// "error: …". Returns the last line and the caret's 1-based column.
pub(crate) fn describe_regex_error(error: &regex::Error) -> (String, isize) {
    let text = error.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let summary = lines
        .iter()
        .rev()
        .find_map(|line| line.strip_prefix("error: "))
        .unwrap_or(text.as_str())
        .to_string();
    // The drawing indents the pattern and the caret line by four spaces.
    let column = lines
        .iter()
        .find(|line| {
            line.trim_start().starts_with('^') && line.trim().chars().all(|c| c == '^' || c == '-')
        })
        .and_then(|line| line.find('^'))
        .and_then(|caret| isize::try_from(caret.saturating_sub(4) + 1).ok())
        .unwrap_or(0);
    (summary, column)
}

fn read_data_access(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> DataAccess {
    let mut access = DataAccess::default();
    // Every field seen so far, with the list it is in and where.
    let mut seen: Vec<(String, &'static str, usize)> = Vec::new();
    for list_name in ["ai_may_use", "human_confirm", "never"] {
        let fields = table.strings(issues, list_name).unwrap_or_default();
        for field in fields {
            if !check_field_path(issues, &field) {
                continue;
            }
            if let Some((_, first_list, first_offset)) = seen
                .iter()
                .find(|(seen_field, _, _)| *seen_field == field.value)
            {
                let first_line = issues.line_of(*first_offset);
                let (message, hint) = if *first_list == list_name {
                    (
                        format!("`{}` is listed twice in `{list_name}`", field.value),
                        "remove one of them".to_string(),
                    )
                } else {
                    (
                        format!(
                            "`{}` is in both `{first_list}` (line {first_line}) and `{list_name}`",
                            field.value
                        ),
                        "a field belongs to one list: keep the one you mean".to_string(),
                    )
                };
                issues.error_with_hint(&field.span, message, hint);
                continue;
            }
            seen.push((field.value.clone(), list_name, field.span.start));
            let list = match list_name {
                "ai_may_use" => &mut access.ai_may_use,
                "human_confirm" => &mut access.human_confirm,
                _ => &mut access.never,
            };
            list.push(field.value);
        }
    }
    table.finish(issues);
    access
}

/// `contact.first_name`, `research.*`: a known record, then lower-case
/// names, with `*` allowed as the last part.
fn check_field_path(issues: &mut Issues<'_>, field: &Located<String>) -> bool {
    let parts: Vec<&str> = field.value.split('.').collect();
    let root = parts.first().copied().unwrap_or_default();
    if !FIELD_ROOTS.contains(&root) {
        let hint = suggestion_hint(root, &FIELD_ROOTS, "a field path starts with one of");
        issues.error_with_hint(
            &field.span,
            format!("`{}` is not a field: unknown record `{root}`", field.value),
            hint,
        );
        return false;
    }
    let is_name = |part: &str| {
        part.chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && part
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let last = parts.len().saturating_sub(1);
    let well_formed = parts.len() >= 2
        && parts
            .iter()
            .enumerate()
            .skip(1)
            .all(|(index, part)| is_name(part) || (index == last && *part == "*"));
    if !well_formed {
        issues.error_with_hint(
            &field.span,
            format!("`{}` is not a field path", field.value),
            format!("write record.field, e.g. \"{root}.title\", or \"{root}.*\" for all of it"),
        );
    }
    well_formed
}

fn read_send_authority(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> (SendAuthority, Vec<String>) {
    let mut authority = SendAuthority::default();
    let mut declared = Vec::new();
    if let Some(rate) = table.fraction(issues, "qa_sample_rate") {
        authority.qa_sample_rate = rate.value;
    }
    if let Some(floor) = table.fraction(issues, "confidence_floor") {
        authority.confidence_floor = floor.value;
    }
    let expected =
        "set each sequence type's authority, e.g. cold = { mode = \"approval\", window = \"24h\" }";
    for (sequence_type, mode_table) in table.named_tables(issues, expected) {
        declared.push(sequence_type.value.clone());
        if let Some(mode) = read_send_mode(issues, mode_table) {
            authority.by_sequence_type.insert(sequence_type.value, mode);
        }
    }
    table.finish(issues);
    (authority, declared)
}

#[derive(Clone, Copy)]
enum ModeName {
    Auto,
    Approval,
    Veto,
    Manual,
}

fn read_send_mode(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Option<SendMode> {
    table.explain_missing(
        "mode",
        "choose who decides: mode = \"approval\" (sent only if approved), \"veto\" (sent unless vetoed), \
         \"auto\" or \"manual\"",
    );
    let mode = table.required_choice(
        issues,
        "mode",
        &[
            ("auto", ModeName::Auto),
            ("approval", ModeName::Approval),
            ("veto", ModeName::Veto),
            ("manual", ModeName::Manual),
        ],
    );
    let window_entry = table.entry("window");
    let window = table
        .string(issues, "window")
        .and_then(|window| read_positive_duration(issues, window, "window"));
    let mode = mode.and_then(|mode| match mode.value {
        ModeName::Auto | ModeName::Manual => {
            if let Some((key_span, _)) = &window_entry {
                issues.error_with_hint(
                    key_span,
                    "`window` only applies to mode = \"approval\" or \"veto\"",
                    "remove `window`, or choose a mode with a review window",
                );
            }
            Some(match mode.value {
                ModeName::Auto => SendMode::Auto,
                _ => SendMode::Manual,
            })
        }
        ModeName::Approval | ModeName::Veto => {
            if window_entry.is_none() {
                table.report_missing("window");
                table.explain_missing(
                    "window",
                    "say how long a person has to decide, e.g. window = \"24h\"",
                );
            }
            let window = window?;
            Some(match mode.value {
                ModeName::Approval => SendMode::Approval { window },
                _ => SendMode::Veto { window },
            })
        }
    });
    table.finish(issues);
    mode
}

/// A duration string for `key`, which must be longer than zero.
pub(crate) fn read_positive_duration(
    issues: &mut Issues<'_>,
    text: Located<String>,
    key: &str,
) -> Option<Duration> {
    match Duration::parse(&text.value) {
        Ok(duration) if duration.is_zero() => {
            issues.error_with_hint(
                &text.span,
                format!("`{key}` must be longer than zero"),
                DurationError::HINT,
            );
            None
        }
        Ok(duration) => Some(duration),
        Err(error) => {
            issues.error_with_hint(
                &text.span,
                format!("`{key}` is not a valid duration: {error}"),
                DurationError::HINT,
            );
            None
        }
    }
}

fn read_escalation_rule(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    ids: &mut UniqueIds,
    sequence_types: &[String],
) -> Option<EscalationRule> {
    let id = table
        .string(issues, "id")
        .and_then(|id| check_id(issues, id, "id"))
        .filter(|id| ids.claim(issues, id, super::RULE_ID_NAMESPACE));
    table.explain_missing(
        "stage",
        "name the stage the rule watches, e.g. stage = \"engagement\"",
    );
    let stage = table.required_choice(issues, "stage", &Stage::CHOICES);
    table.explain_missing(
        "when",
        "write the condition as CEL, e.g. when = \"event.kind == 'reply'\"",
    );
    // A stage that could not be read was reported: check the fields only.
    let site = stage.as_ref().map(|stage| Site::Escalation(stage.value));
    let when = table
        .required_string(issues, "when")
        .and_then(|when| condition::compile(issues, when, "when", site, sequence_types));
    table.explain_missing(
        "reason",
        "say why a person should take over, e.g. reason = \"Positive reply\"; it is shown in their inbox",
    );
    let reason = table.required_text(issues, "reason");
    let priority = table
        .choice(
            issues,
            "priority",
            &[
                ("low", Priority::Low),
                ("normal", Priority::Normal),
                ("high", Priority::High),
                ("urgent", Priority::Urgent),
            ],
        )
        .map(|priority| priority.value)
        .unwrap_or_default();
    let sla = table
        .string(issues, "sla")
        .and_then(|sla| read_positive_duration(issues, sla, "sla"));
    table.finish(issues);
    Some(EscalationRule {
        id: id.map(|id| id.value),
        stage: stage?.value,
        when: when?,
        reason: reason?.value,
        priority,
        sla,
    })
}

fn read_graduation(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Option<Graduation> {
    let min_drafts = table
        .required_integer(issues, "min_drafts")
        .and_then(|count| match u32::try_from(count.value) {
            Ok(count) if count > 0 => Some(count),
            _ => {
                issues.error_with_hint(
                    &count.span,
                    format!(
                        "`min_drafts` must be a positive whole number, not {}",
                        count.value
                    ),
                    "e.g. min_drafts = 200",
                );
                None
            }
        });
    let min_acceptance = table.required_fraction(issues, "min_acceptance");
    let demote_on_regression = table.required_boolean(issues, "demote_on_regression");
    table.finish(issues);
    Some(Graduation {
        min_drafts: min_drafts?,
        min_acceptance: min_acceptance?.value,
        demote_on_regression: demote_on_regression?.value,
    })
}
