//! `[sequence.NAME]`: the touches a contact receives, by business day.

use std::collections::BTreeMap;

use serde::Serialize;

use super::diagnostic::Issues;
use super::reader::{Located, TableReader, check_id};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sequence {
    /// Send authority and metrics are set per type (cold, post_meeting, …).
    #[serde(rename = "type")]
    pub sequence_type: String,
    /// Who owns the prospects in it; `None` leaves it to the enrolling user.
    pub owner_role: Option<OwnerRole>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerRole {
    Sdr,
    Ae,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub kind: StepKind,
    /// Business days after enrolment.
    pub day: u32,
    /// Emails only: reply in the thread of the previous email.
    pub thread: bool,
    /// Guidance for the drafter or the person doing the task.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Email,
    /// A call task for a person.
    Call,
    /// A social-network task for a person.
    Social,
    Wait,
}

/// The furthest a step may be scheduled: about a year of business days.
const MAX_DAY: i64 = 260;

/// Sequences by name, plus where each one's type was written (send
/// authority is checked against it once governance has been read).
pub(crate) struct SequencesRead {
    pub sequences: BTreeMap<String, Sequence>,
    pub type_locations: Vec<(String, Located<String>)>,
}

pub(crate) fn read_sequences(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> SequencesRead {
    let mut read = SequencesRead {
        sequences: BTreeMap::new(),
        type_locations: Vec::new(),
    };
    let expected = "write each sequence as a section: [sequence.sdr-cold] with type and steps";
    for (name, sequence_table) in table.named_tables(issues, expected) {
        let name_ok = check_id(issues, name.clone(), "sequence name").is_some();
        let (sequence, type_location) = read_sequence(issues, sequence_table);
        if let Some(type_location) = type_location {
            read.type_locations
                .push((name.value.clone(), type_location));
        }
        if let (true, Some(sequence)) = (name_ok, sequence) {
            read.sequences.insert(name.value, sequence);
        }
    }
    table.finish(issues);
    read
}

fn read_sequence(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> (Option<Sequence>, Option<Located<String>>) {
    table.explain_missing(
        "type",
        "name the kind of sequence, e.g. type = \"cold\"; send authority is set per type",
    );
    let sequence_type = table
        .required_string(issues, "type")
        .and_then(|sequence_type| check_sequence_type(issues, sequence_type));
    let owner_role = table
        .choice(
            issues,
            "owner_role",
            &[("sdr", OwnerRole::Sdr), ("ae", OwnerRole::Ae)],
        )
        .map(|role| role.value);
    table.explain_missing(
        "steps",
        "list the touches, e.g. steps = [{ kind = \"email\", day = 0 }, { kind = \"call\", day = 2 }]",
    );
    if table.get("steps").is_none() {
        table.report_missing("steps");
    }
    let empty_steps = table
        .get("steps")
        .filter(|steps| {
            steps
                .get_ref()
                .as_array()
                .is_some_and(|items| items.is_empty())
        })
        .map(|steps| steps.span());
    let step_tables = table.tables(issues, "steps");
    let steps = read_steps(issues, step_tables, empty_steps);
    table.finish(issues);
    let sequence = match (&sequence_type, steps) {
        (Some(sequence_type), Some(steps)) => Some(Sequence {
            sequence_type: sequence_type.value.clone(),
            owner_role,
            steps,
        }),
        _ => None,
    };
    (sequence, sequence_type)
}

fn check_sequence_type(
    issues: &mut Issues<'_>,
    sequence_type: Located<String>,
) -> Option<Located<String>> {
    let mut chars = sequence_type.value.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if well_formed {
        Some(sequence_type)
    } else {
        issues.error_with_hint(
            &sequence_type.span,
            format!("`{}` is not a valid sequence type", sequence_type.value),
            "sequence types are lowercase words joined by `_`, e.g. \"cold\" or \"post_meeting\"",
        );
        None
    }
}

fn read_steps(
    issues: &mut Issues<'_>,
    tables: Vec<TableReader<'_, '_>>,
    empty_steps: Option<std::ops::Range<usize>>,
) -> Option<Vec<Step>> {
    if let Some(span) = empty_steps {
        issues.error_with_hint(
            &span,
            "a sequence needs at least one step",
            "e.g. steps = [{ kind = \"email\", day = 0 }]",
        );
        return None;
    }
    let mut steps = Vec::new();
    let mut all_ok = true;
    let mut previous_day: Option<Located<i64>> = None;
    let mut emails_so_far = 0;
    for (index, mut table) in tables.into_iter().enumerate() {
        let kind = table.required_choice(
            issues,
            "kind",
            &[
                ("email", StepKind::Email),
                ("call", StepKind::Call),
                ("social", StepKind::Social),
                ("wait", StepKind::Wait),
            ],
        );
        let day = table.required_integer(issues, "day");
        let thread = table.boolean(issues, "thread");
        let note = table.optional_text(issues, "note").map(|note| note.value);

        let day = day.filter(|day| {
            let in_range = (0..=MAX_DAY).contains(&day.value);
            if !in_range {
                issues.error_with_hint(
                    &day.span,
                    format!("`day` must be between 0 and {MAX_DAY}, not {}", day.value),
                    "days count business days from enrolment; the first touch is usually day 0",
                );
            }
            in_range
        });
        if let (Some(day), Some(previous)) = (&day, &previous_day)
            && day.value < previous.value
        {
            issues.error_with_hint(
                &day.span,
                format!(
                    "step {} is on day {}, before the step above it (day {})",
                    index + 1,
                    day.value,
                    previous.value
                ),
                "list steps in the order they happen: days must not decrease",
            );
            all_ok = false;
        }
        if day.is_some() {
            previous_day.clone_from(&day);
        }

        let is_email = kind
            .as_ref()
            .is_some_and(|kind| kind.value == StepKind::Email);
        if let (Some(thread), Some(kind)) = (&thread, &kind) {
            if kind.value != StepKind::Email {
                issues.error_with_hint(
                    &thread.span,
                    "only email steps can thread",
                    "remove `thread` from this step",
                );
                all_ok = false;
            } else if thread.value && emails_so_far == 0 {
                issues.error_with_hint(
                    &thread.span,
                    "the first email of a sequence has no thread to reply in",
                    "remove `thread = true` from the first email",
                );
                all_ok = false;
            }
        }
        if is_email {
            emails_so_far += 1;
        }
        table.finish(issues);

        match (kind, day) {
            (Some(kind), Some(day)) => steps.push(Step {
                kind: kind.value,
                // In range 0..=MAX_DAY, checked above.
                day: u32::try_from(day.value).unwrap_or_default(),
                thread: thread.is_some_and(|thread| thread.value),
                note,
            }),
            _ => all_ok = false,
        }
    }
    all_ok.then_some(steps)
}
