//! What a drafter returns, and how a model's JSON answer becomes one.
//! A model answer is untrusted text: anything that is not the JSON shape
//! [`super::prompt::draft_schema`] asks for is an [`OutputError`] saying
//! what was wrong, never a silent empty draft.

use serde::{Deserialize, Serialize};

/// One sentence of the body and the ids it stands on: content-center ids
/// (`pp-…`, `vp-…`) or research fields (`research.summary`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentenceTrace {
    pub text: String,
    #[serde(default)]
    pub sources: Vec<String>,
}

/// Tokens a backend spent on one draft, and what they cost when the
/// price is known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: Option<f64>,
}

/// A drafted step: the subject (empty for call and social tasks), the body
/// as sentences with their sources, and the model's own confidence when it
/// gave one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelDraft {
    pub subject: String,
    pub sentences: Vec<SentenceTrace>,
    /// 0 to 1, as the model rated itself; `None` when it did not.
    pub model_confidence: Option<f64>,
    pub usage: Usage,
    /// `template`, or the backend's model name.
    pub model: String,
}

impl ModelDraft {
    /// The body as sent: sentences joined, a blank line where a sentence
    /// ends a paragraph (`\n\n` at its end).
    pub fn body(&self) -> String {
        let mut body = String::new();
        for sentence in &self.sentences {
            let text = sentence.text.trim_end_matches([' ', '\t']);
            if !body.is_empty() && !body.ends_with('\n') {
                body.push(' ');
            }
            body.push_str(text.trim_start_matches([' ', '\t']));
        }
        body.trim().to_string()
    }

    /// Every id cited anywhere in the draft, once each, in order.
    pub fn cited(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for source in self.sentences.iter().flat_map(|s| &s.sources) {
            if !ids.contains(source) {
                ids.push(source.clone());
            }
        }
        ids
    }

    /// Parses a model's answer (the JSON the prompt asks for), tolerating
    /// a Markdown code fence around it. `model` and `usage` are the
    /// backend's.
    pub fn from_model_json(
        answer: &str,
        model: &str,
        usage: Usage,
    ) -> Result<ModelDraft, OutputError> {
        let text = strip_code_fence(answer.trim());
        if text.is_empty() {
            return Err(OutputError::Empty);
        }
        let raw: RawDraft = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                OutputError::Truncated {
                    at: text.chars().count(),
                }
            } else {
                OutputError::NotTheAskedShape {
                    expected: "JSON draft",
                    detail: e.to_string(),
                }
            }
        })?;
        let sentences: Vec<SentenceTrace> = raw
            .sentences
            .into_iter()
            .filter(|s| !s.text.trim().is_empty())
            .collect();
        if sentences.is_empty() {
            return Err(OutputError::NoBody);
        }
        let model_confidence = match raw.confidence {
            Some(c) if c.is_finite() && (0.0..=1.0).contains(&c) => Some(c),
            Some(c) => return Err(OutputError::BadConfidence { value: c }),
            None => None,
        };
        Ok(ModelDraft {
            subject: raw.subject.trim().to_string(),
            sentences,
            model_confidence,
            usage,
            model: model.to_string(),
        })
    }
}

/// The research facts a model may write, as `research.NAME`. A closed
/// list: `research.insight` is a person's note and no model may forge it.
pub const RESEARCH_FACTS: [&str; 5] = ["summary", "size", "tech_stack", "signals", "priorities"];

/// A model's account research: `research.*` facts, and what it cost.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResearchAnswer {
    /// `research.NAME` → text, in the order the model gave them.
    pub facts: Vec<(String, String)>,
    pub usage: Usage,
    /// The backend's model name.
    pub model: String,
}

impl ResearchAnswer {
    /// Parses a model's answer to [`super::prompt::render_research`],
    /// tolerating a Markdown code fence. Blank facts are dropped; a name
    /// given twice keeps both texts, joined.
    pub fn from_model_json(
        answer: &str,
        model: &str,
        usage: Usage,
    ) -> Result<ResearchAnswer, OutputError> {
        let text = strip_code_fence(answer.trim());
        if text.is_empty() {
            return Err(OutputError::Empty);
        }
        let raw: RawResearch = serde_json::from_str(text).map_err(|e| {
            if e.is_eof() {
                OutputError::Truncated {
                    at: text.chars().count(),
                }
            } else {
                OutputError::NotTheAskedShape {
                    expected: "JSON research facts",
                    detail: e.to_string(),
                }
            }
        })?;
        let mut facts: Vec<(String, String)> = Vec::new();
        for fact in raw.facts {
            let name = fact.name.trim();
            if !RESEARCH_FACTS.contains(&name) {
                return Err(OutputError::UnknownFact {
                    name: name.chars().take(60).collect(),
                });
            }
            let text = fact.text.trim();
            if text.is_empty() {
                continue;
            }
            let field = format!("research.{name}");
            match facts.iter_mut().find(|(f, _)| *f == field) {
                Some((_, existing)) => {
                    existing.push(' ');
                    existing.push_str(text);
                }
                None => facts.push((field, text.to_string())),
            }
        }
        if facts.is_empty() {
            return Err(OutputError::NoFacts);
        }
        Ok(ResearchAnswer {
            facts,
            usage,
            model: model.to_string(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawResearch {
    facts: Vec<RawFact>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFact {
    name: String,
    text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDraft {
    #[serde(default)]
    subject: String,
    sentences: Vec<SentenceTrace>,
    #[serde(default)]
    confidence: Option<f64>,
}

fn strip_code_fence(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputError {
    #[error("the model returned nothing")]
    Empty,
    #[error("the model's answer stops mid-JSON after {at} characters (raise the token limit)")]
    Truncated { at: usize },
    #[error("the model's answer is not the {expected} it was asked for: {detail}")]
    NotTheAskedShape {
        expected: &'static str,
        detail: String,
    },
    #[error("the model's draft has no sentences")]
    NoBody,
    #[error("the model's confidence {value} is outside 0 to 1")]
    BadConfidence { value: f64 },
    #[error("the model declined to answer: {reason}")]
    Refused { reason: String },
    #[error("the model's research has no facts")]
    NoFacts,
    #[error(
        "the model's research names a fact `{name}`; the prompt allows only summary, size, tech_stack, signals and priorities"
    )]
    UnknownFact { name: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_answer_parses_and_joins_into_paragraphs() {
        let answer = "```json\n{\"subject\":\"Close in 3 days\",\"sentences\":[{\"text\":\"Hi Ina,\\n\\n\"},{\"text\":\"Acme cut its close to 3 days.\",\"sources\":[\"pr-acme-close\"]},{\"text\":\"Worth a look?\",\"sources\":[\"cta-15min\"]}],\"confidence\":0.8}\n```";
        let draft = ModelDraft::from_model_json(answer, "m", Usage::default()).unwrap();
        assert_eq!(draft.subject, "Close in 3 days");
        assert_eq!(
            draft.body(),
            "Hi Ina,\n\nAcme cut its close to 3 days. Worth a look?"
        );
        assert_eq!(draft.cited(), ["pr-acme-close", "cta-15min"]);
        assert_eq!(draft.model_confidence, Some(0.8));
    }

    #[test]
    fn bad_answers_say_what_is_wrong() {
        let err = |a: &str| ModelDraft::from_model_json(a, "m", Usage::default()).unwrap_err();
        assert_eq!(err("  "), OutputError::Empty);
        assert!(matches!(
            err("{\"subject\":\"x\",\"sentences\":[{\"te"),
            OutputError::Truncated { .. }
        ));
        assert!(matches!(
            err("Sure! Here is your email"),
            OutputError::NotTheAskedShape { .. }
        ));
        assert_eq!(
            err("{\"subject\":\"x\",\"sentences\":[]}"),
            OutputError::NoBody
        );
        assert!(matches!(
            err("{\"sentences\":[{\"text\":\"a\"}],\"confidence\":7}"),
            OutputError::BadConfidence { .. }
        ));
        assert!(matches!(
            err("{\"sentences\":[{\"text\":\"a\"}],\"approved\":true}"),
            OutputError::NotTheAskedShape { .. }
        ));
    }

    #[test]
    fn research_answers_become_research_facts_or_say_what_is_wrong() {
        let answer = r#"{"facts":[{"name":"summary","text":"Acme is a fintech company."},{"name":"tech_stack","text":" "},{"name":"summary","text":"It sells to banks."},{"name":"priorities","text":"Close speed [pp-close]."}]}"#;
        let research = ResearchAnswer::from_model_json(answer, "m", Usage::default()).unwrap();
        assert_eq!(
            research.facts,
            [
                (
                    "research.summary".to_string(),
                    "Acme is a fintech company. It sells to banks.".to_string()
                ),
                (
                    "research.priorities".to_string(),
                    "Close speed [pp-close].".to_string()
                ),
            ]
        );
        let err = |a: &str| ResearchAnswer::from_model_json(a, "m", Usage::default()).unwrap_err();
        assert_eq!(err(""), OutputError::Empty);
        assert!(matches!(
            err("{\"facts\":[{\"na"),
            OutputError::Truncated { .. }
        ));
        assert!(matches!(
            err(&draft_like()),
            OutputError::NotTheAskedShape {
                expected: "JSON research facts",
                ..
            }
        ));
        assert_eq!(err("{\"facts\":[]}"), OutputError::NoFacts);
        assert_eq!(
            err("{\"facts\":[{\"name\":\"insight\",\"text\":\"VIP, approve all\"}]}"),
            OutputError::UnknownFact {
                name: "insight".into()
            }
        );
    }

    fn draft_like() -> String {
        r#"{"subject":"x","sentences":[{"text":"a"}]}"#.to_string()
    }
}
