//! The content center: the only ground a draft may stand on. Value
//! propositions, pain points, proof points and calls to action, each for
//! some personas and segments.

use serde::Serialize;

use crate::drafting::audience::parse_range;
use crate::titles::{Department, Seniority};

use super::diagnostic::{Issues, suggestion_hint};
use super::reader::{Located, TableReader, UniqueIds, check_id};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContentCenter {
    pub value_propositions: Vec<ContentItem>,
    pub pain_points: Vec<ContentItem>,
    pub proof_points: Vec<ProofPoint>,
    pub ctas: Vec<ContentItem>,
}

/// One value proposition, pain point or call to action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContentItem {
    /// Unique across the content center; drafts cite it in their trace.
    pub id: String,
    pub text: String,
    /// Empty: fits every persona.
    pub personas: Vec<String>,
    /// Empty: fits every segment.
    pub segments: Vec<String>,
}

/// A claim about results; only a verified one may be stated without review.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProofPoint {
    pub id: String,
    pub text: String,
    pub personas: Vec<String>,
    pub segments: Vec<String>,
    pub verified: bool,
    /// Where a verified claim can be checked; required when verified.
    pub source: Option<String>,
}

/// The four kinds of content, as named in `unless_grounded_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ContentKind {
    ValueProposition,
    PainPoint,
    ProofPoint,
    Cta,
}

impl ContentKind {
    pub(crate) const CHOICES: [(&'static str, ContentKind); 4] = [
        ("value_proposition", ContentKind::ValueProposition),
        ("pain_point", ContentKind::PainPoint),
        ("proof_point", ContentKind::ProofPoint),
        ("cta", ContentKind::Cta),
    ];
}

pub(crate) fn read_content(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> ContentCenter {
    let mut ids = UniqueIds::default();
    let mut center = ContentCenter::default();
    for item in table.tables(issues, "value_proposition") {
        center
            .value_propositions
            .extend(read_item(issues, item, &mut ids));
    }
    for item in table.tables(issues, "pain_point") {
        center.pain_points.extend(read_item(issues, item, &mut ids));
    }
    for item in table.tables(issues, "proof_point") {
        center
            .proof_points
            .extend(read_proof_point(issues, item, &mut ids));
    }
    for item in table.tables(issues, "cta") {
        center.ctas.extend(read_item(issues, item, &mut ids));
    }
    table.finish(issues);
    center
}

/// The keys every kind of content shares.
struct CommonFields {
    id: Option<Located<String>>,
    text: Option<Located<String>>,
    personas: Vec<String>,
    segments: Vec<String>,
}

fn read_common(
    issues: &mut Issues<'_>,
    table: &mut TableReader<'_, '_>,
    ids: &mut UniqueIds,
) -> CommonFields {
    table.explain_missing(
        "id",
        "give it a short unique id, e.g. id = \"vp-faster-reporting\"; drafts cite it",
    );
    let id = table
        .required_string(issues, "id")
        .and_then(|id| check_id(issues, id, "id"))
        .filter(|id| ids.claim(issues, id, "the content center"));
    let text = table.required_text(issues, "text");
    let personas = table
        .strings(issues, "personas")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|label| check_persona(issues, label))
        .collect();
    let segments = table
        .strings(issues, "segments")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|label| check_segment(issues, label))
        .collect();
    CommonFields {
        id,
        text,
        personas,
        segments,
    }
}

fn read_item(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    ids: &mut UniqueIds,
) -> Option<ContentItem> {
    let common = read_common(issues, &mut table, ids);
    table.finish(issues);
    Some(ContentItem {
        id: common.id?.value,
        text: common.text?.value,
        personas: common.personas,
        segments: common.segments,
    })
}

fn read_proof_point(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    ids: &mut UniqueIds,
) -> Option<ProofPoint> {
    let common = read_common(issues, &mut table, ids);
    let verified = table
        .boolean(issues, "verified")
        .is_some_and(|flag| flag.value);
    let source = table
        .optional_text(issues, "source")
        .map(|source| source.value);
    if verified && source.is_none() && table.get("source").is_none() {
        table.report_missing("source");
        table.explain_missing(
            "source",
            "a verified proof point says where it can be checked, e.g. source = \"https://example.com/customers/acme\"",
        );
    }
    table.finish(issues);
    Some(ProofPoint {
        id: common.id?.value,
        text: common.text?.value,
        personas: common.personas,
        segments: common.segments,
        verified,
        source,
    })
}

/// A persona is a seniority or a department, as titles are normalised.
fn check_persona(issues: &mut Issues<'_>, label: Located<String>) -> Option<String> {
    let known: Vec<&str> = Seniority::ALL
        .iter()
        .map(Seniority::as_str)
        .chain(Department::ALL.iter().map(Department::as_str))
        .collect();
    if known.contains(&label.value.as_str()) {
        return Some(label.value);
    }
    issues.push(
        label.span.start,
        format!("`{}` is not a persona handoff knows", label.value),
        Some(suggestion_hint(
            &label.value,
            &known,
            "personas are seniorities or departments",
        )),
    );
    None
}

/// `industry:NAME`, `employees:MIN-MAX`, `employees:MIN+` or `country:CODE`.
fn check_segment(issues: &mut Issues<'_>, label: Located<String>) -> Option<String> {
    let ok = match label.value.split_once(':') {
        Some(("industry" | "country", value)) => !value.trim().is_empty(),
        Some(("employees", range)) => parse_range(range.trim()).is_some(),
        _ => false,
    };
    if ok {
        return Some(label.value);
    }
    issues.push(
        label.span.start,
        format!("`{}` is not a segment handoff can match", label.value),
        Some(
            "write industry:NAME, employees:MIN-MAX, employees:MIN+ or country:CODE, \
             e.g. \"employees:200-5000\""
                .to_string(),
        ),
    );
    None
}
