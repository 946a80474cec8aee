//! Drafting, the pure part: what a model may be told ([`ModelInput`], the
//! data-access boundary), how it is told ([`prompt`]), and what it must
//! answer ([`ModelDraft`]). Backends live in the `ai` crate; none of them
//! can reach prospect data except through a [`ModelInput`].

pub mod audience;
pub mod grounding;
mod input;
mod output;
pub mod prompt;
pub mod research;

pub use audience::{Audience, offer};
pub use grounding::{Confidence, Grounding, assess, confidence};
pub use input::{ContentRef, ModelInput, ResearchInput, SenderBrief, StepBrief};
pub use output::{ModelDraft, OutputError, RESEARCH_FACTS, ResearchAnswer, SentenceTrace, Usage};
pub use research::{AccountFacts, Research, research_from_input, summarize};
