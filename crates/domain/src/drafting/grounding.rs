//! Grounding: does every sentence of a draft stand on something? A
//! sentence's sources count only if the drafter was actually offered them
//! (a content id in the input, or a field it was given); a sentence that
//! states a claim — a number, a result, a customer — with no such source,
//! or with a number none of its sources contain, is an ungrounded claim,
//! and governance holds the draft for a person.

use serde::{Deserialize, Serialize};

use super::input::ModelInput;
use super::output::{ModelDraft, SentenceTrace};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grounding {
    /// The body's sentences with the sources that hold up.
    pub sentences: Vec<SentenceTrace>,
    /// Every valid source cited, once, in order.
    pub cited: Vec<String>,
    /// Sources the drafter cited but was never given: dropped.
    pub unknown_sources: Vec<String>,
    /// Sentences stating something no offered source backs.
    pub ungrounded_claims: Vec<String>,
    /// How much of the draft stands on a source: sentences with one count
    /// fully, ungrounded claims against it, uncited connecting sentences
    /// half.
    pub coverage: f64,
}

/// Checks `draft` against what `input` offered.
pub fn assess(input: &ModelInput, draft: &ModelDraft) -> Grounding {
    let source_text = |id: &str| -> Option<&str> {
        input
            .content()
            .iter()
            .find(|item| item.id == id)
            .map(|item| item.text.as_str())
            .or_else(|| input.field(id))
    };
    let mut grounding = Grounding {
        sentences: Vec::new(),
        cited: Vec::new(),
        unknown_sources: Vec::new(),
        ungrounded_claims: Vec::new(),
        coverage: 1.0,
    };
    let (mut weight, mut backed) = (0_usize, 0_usize);
    for sentence in &draft.sentences {
        let mut sources = Vec::new();
        for id in &sentence.sources {
            if source_text(id).is_some() {
                if !sources.contains(id) {
                    sources.push(id.clone());
                }
                if !grounding.cited.contains(id) {
                    grounding.cited.push(id.clone());
                }
            } else if !grounding.unknown_sources.contains(id) {
                grounding.unknown_sources.push(id.clone());
            }
        }
        let text = sentence.text.trim();
        let backing: String = sources
            .iter()
            .filter_map(|id| source_text(id))
            .collect::<Vec<_>>()
            .join(" ");
        let unbacked_number = numbers(text).any(|n| !numbers(&backing).any(|m| m == n));
        let ungrounded = (sources.is_empty() && states_a_claim(text)) || unbacked_number;
        if ungrounded {
            grounding.ungrounded_claims.push(text.to_string());
            weight += 2;
        } else if !sources.is_empty() {
            backed += 2;
            weight += 2;
        } else if is_substantive(text) {
            // Connecting words ("Following up on my note") claim nothing;
            // they count half, so a draft of them alone is not grounded.
            weight += 1;
        }
        grounding.sentences.push(SentenceTrace {
            text: sentence.text.clone(),
            sources,
        });
    }
    if weight > 0 {
        grounding.coverage = backed as f64 / weight as f64;
    }
    grounding
}

/// Greetings, sign-offs and one-word lines carry no claim and need no
/// source.
fn is_substantive(text: &str) -> bool {
    text.split_whitespace().count() >= 4
}

/// Digits, money, percentages, or words that announce results or
/// customers.
fn states_a_claim(text: &str) -> bool {
    if text
        .chars()
        .any(|c| c.is_ascii_digit() || matches!(c, '%' | '$' | '€' | '£'))
    {
        return true;
    }
    let lower = text.to_lowercase();
    const CLAIM_WORDS: [&str; 16] = [
        "customers",
        "clients",
        "results",
        "increase",
        "increased",
        "reduce",
        "reduced",
        "cut ",
        "saved",
        "guarantee",
        "proven",
        "leading",
        "trusted by",
        "roi",
        "faster",
        "fewer",
    ];
    CLAIM_WORDS.iter().any(|word| lower.contains(word))
}

/// The numbers written in `text` (digits with `.` and `,` inside), as
/// written without separators: "1,000" and "1000" are the same number.
fn numbers(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map(|token| token.trim_matches(['.', ',']).replace(',', ""))
        .filter(|token| token.chars().any(|c| c.is_ascii_digit()))
}

/// How much to trust a draft, 0 to 1: how complete the prospect's data
/// was, how much of the text is grounded, and the model's own rating when
/// it gave one. Each ungrounded claim costs a tenth.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub value: f64,
    pub completeness: f64,
    pub coverage: f64,
    pub model: Option<f64>,
}

/// Fields a good draft wants; withheld ones do not count against it.
const WANTED: [&str; 5] = [
    "contact.first_name",
    "contact.title",
    "account.name",
    "account.industry",
    "research.summary",
];

pub fn confidence(input: &ModelInput, grounding: &Grounding, model: Option<f64>) -> Confidence {
    let withheld = |field: &str| input.withheld().iter().any(|(name, _)| name == field);
    let wanted: Vec<&str> = WANTED.iter().copied().filter(|f| !withheld(f)).collect();
    let completeness = if wanted.is_empty() {
        1.0
    } else {
        wanted.iter().filter(|f| input.field(f).is_some()).count() as f64 / wanted.len() as f64
    };
    let coverage = grounding.coverage;
    let blended = match model.filter(|m| m.is_finite()) {
        Some(m) => 0.45 * coverage + 0.3 * completeness + 0.25 * m.clamp(0.0, 1.0),
        None => 0.6 * coverage + 0.4 * completeness,
    };
    let penalty = 0.1 * grounding.ungrounded_claims.len() as f64;
    Confidence {
        value: (blended - penalty).clamp(0.0, 1.0),
        completeness,
        coverage,
        model,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drafting::{ContentRef, SenderBrief, StepBrief, Usage};
    use crate::playbook::{ContentKind, DataAccess, StepKind};
    use crate::policy::data_access::DataAccessPolicy;

    fn input() -> ModelInput {
        let policy = DataAccessPolicy::new(&DataAccess {
            ai_may_use: vec!["contact.*".into(), "account.*".into(), "research.*".into()],
            human_confirm: vec![],
            never: vec![],
        });
        ModelInput::build(
            &policy,
            StepBrief {
                sequence: "s".into(),
                sequence_type: "cold".into(),
                index: 0,
                count: 1,
                kind: StepKind::Email,
                thread: false,
                note: None,
                thread_subject: None,
            },
            SenderBrief {
                name: "Dana".into(),
                company: "Northwind".into(),
            },
            vec![
                ("contact.first_name".into(), "Ina".into()),
                ("account.name".into(), "Acme".into()),
            ],
            &[],
            vec![ContentRef {
                id: "pr-acme-close".into(),
                kind: ContentKind::ProofPoint,
                text: "Acme cut its month-end close from 9 days to 3".into(),
                verified: true,
            }],
        )
    }

    fn draft(sentences: &[(&str, &[&str])]) -> ModelDraft {
        ModelDraft {
            subject: "s".into(),
            sentences: sentences
                .iter()
                .map(|(text, sources)| SentenceTrace {
                    text: (*text).into(),
                    sources: sources.iter().map(|s| s.to_string()).collect(),
                })
                .collect(),
            model_confidence: None,
            usage: Usage::default(),
            model: "m".into(),
        }
    }

    #[test]
    fn claims_need_a_real_source_with_the_same_numbers() {
        let g = assess(
            &input(),
            &draft(&[
                ("Hi Ina,", &[]),
                ("Acme cut its close from 9 days to 3.", &["pr-acme-close"]),
                ("Acme cut its close from 9 days to 1.", &["pr-acme-close"]),
                ("Our customers see 40% faster reporting.", &[]),
                ("We help teams like yours every day.", &["pp-invented"]),
            ]),
        );
        assert_eq!(g.cited, ["pr-acme-close"]);
        assert_eq!(g.unknown_sources, ["pp-invented"]);
        assert_eq!(
            g.ungrounded_claims,
            [
                "Acme cut its close from 9 days to 1.",
                "Our customers see 40% faster reporting."
            ]
        );
        // One backed sentence (2), two ungrounded claims (2 each), one uncited
        // connecting sentence (1).
        assert!((g.coverage - 2.0 / 7.0).abs() < 1e-9, "{}", g.coverage);
        let c = confidence(&input(), &g, None);
        assert!(c.value < 0.5, "{c:?}");
    }

    #[test]
    fn a_fully_grounded_draft_on_complete_data_is_trusted() {
        let g = assess(
            &input(),
            &draft(&[(
                "Acme cut its month-end close from 9 days to 3.",
                &["pr-acme-close"],
            )]),
        );
        assert!(g.ungrounded_claims.is_empty());
        assert_eq!(g.coverage, 1.0);
        let c = confidence(&input(), &g, Some(0.9));
        assert!(c.value > 0.6, "{c:?}");
    }
}
