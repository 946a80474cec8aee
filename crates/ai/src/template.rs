//! The template drafter: grounded messages composed from the content
//! center, the account's research and the contact fields the playbook
//! allows, with no model at all. It is the embedded default, so the whole
//! workflow runs offline.
//!
//! Every sentence cites what it stands on. Within one sequence no two steps
//! open or close the same way: each email step takes the next phrasing of
//! its family (first touch, follow-up, last note) and the next sign-off,
//! starting from an offset the seed picks, so the same seed always gives
//! the same text.

use async_trait::async_trait;
use handoff_domain::drafting::{ContentRef, ModelDraft, ModelInput, SentenceTrace, Usage};
use handoff_domain::playbook::{ContentKind, StepKind};

use crate::{DraftError, Drafter};

#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateDrafter;

#[async_trait]
impl Drafter for TemplateDrafter {
    fn backend(&self) -> &'static str {
        "template"
    }

    async fn draft(&self, input: &ModelInput, seed: u64) -> Result<ModelDraft, DraftError> {
        compose(input, seed)
    }
}

/// Composes the step synchronously (the bench calls this directly).
pub fn compose(input: &ModelInput, seed: u64) -> Result<ModelDraft, DraftError> {
    let step = input.step();
    let mut w = Writer::new(input, seed);
    match step.kind {
        StepKind::Email => w.email(),
        StepKind::Call => w.call_script(),
        StepKind::Social => w.social_note(),
        StepKind::Wait => {
            return Err(DraftError::Config(
                "a wait step has nothing to draft".to_string(),
            ));
        }
    }
    Ok(ModelDraft {
        subject: w.subject,
        sentences: w.sentences,
        model_confidence: None,
        usage: Usage::default(),
        model: "template".to_string(),
    })
}

/// Where an email sits in its sequence decides what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    FirstTouch,
    FollowUp,
    LastNote,
}

const SIGN_OFFS: [&str; 5] = [
    "Best,",
    "Thanks,",
    "All the best,",
    "Kind regards,",
    "Cheers,",
];

struct Writer<'a> {
    input: &'a ModelInput,
    /// A stable pseudo-random offset from the seed.
    pick: usize,
    /// The step's place among the sequence's steps, for rotation.
    ordinal: usize,
    subject: String,
    sentences: Vec<SentenceTrace>,
}

impl<'a> Writer<'a> {
    fn new(input: &'a ModelInput, seed: u64) -> Self {
        Writer {
            input,
            pick: (splitmix(seed) % 997) as usize,
            ordinal: input.step().index as usize,
            subject: String::new(),
            sentences: Vec::new(),
        }
    }

    fn choose<'t>(&self, options: &[&'t str]) -> &'t str {
        options[(self.pick + self.ordinal) % options.len()]
    }

    fn say(&mut self, text: impl Into<String>, sources: &[&str]) {
        self.sentences.push(SentenceTrace {
            text: text.into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
        });
    }

    /// Ends the paragraph the last sentence is in.
    fn paragraph(&mut self) {
        if let Some(last) = self.sentences.last_mut()
            && !last.text.ends_with("\n\n")
        {
            last.text.push_str("\n\n");
        }
    }

    fn field(&self, name: &str) -> Option<&'a str> {
        self.input.field(name)
    }

    /// The `n`-th offered item of `kind`, rotating, so successive steps use
    /// different content when there is more than one.
    fn item(&self, kind: ContentKind, n: usize) -> Option<&'a ContentRef> {
        let items: Vec<&ContentRef> = self.input.content_of(kind).collect();
        if items.is_empty() {
            return None;
        }
        Some(items[(n + self.pick) % items.len()])
    }

    fn verified_proof(&self, n: usize) -> Option<&'a ContentRef> {
        let items: Vec<&ContentRef> = self
            .input
            .content_of(ContentKind::ProofPoint)
            .filter(|p| p.verified)
            // A customer story about the prospect's own company reads oddly.
            .filter(|p| {
                self.company()
                    .is_none_or(|company| !p.text.contains(company))
            })
            .collect();
        if items.is_empty() {
            return None;
        }
        Some(items[(n + self.pick) % items.len()])
    }

    fn company(&self) -> Option<&'a str> {
        self.field("account.name")
    }

    /// "finance leaders", "engineering teams", … from the department.
    fn peers(&self) -> String {
        match self.field("contact.department") {
            Some("executive") => "leadership teams".to_string(),
            Some("other") | None => "teams".to_string(),
            Some("it") => "IT leaders".to_string(),
            Some("hr") => "HR leaders".to_string(),
            Some(dept) => format!("{} leaders", dept.replace('_', " ")),
        }
    }

    fn peers_source(&self) -> Vec<&'static str> {
        match self.field("contact.department") {
            Some("other") | None => Vec::new(),
            Some(_) => vec!["contact.department"],
        }
    }

    fn greet(&mut self, options: &[&str]) {
        let greeting = self.choose(options);
        match self.field("contact.first_name") {
            Some(name) => {
                let text = greeting.replace("{name}", name);
                self.say(text, &["contact.first_name"]);
            }
            None => self.say("Hello,", &[]),
        }
        self.paragraph();
    }

    fn role(&self) -> Role {
        let step = self.input.step();
        if step.index == 0 {
            Role::FirstTouch
        } else if step.index + 1 >= step.count {
            Role::LastNote
        } else {
            Role::FollowUp
        }
    }

    fn email(&mut self) {
        let role = self.role();
        let step = self.input.step();
        self.subject = if step.thread {
            // Delivery threads it as "Re:" the first email's subject.
            String::new()
        } else {
            self.subject_line(role)
        };
        self.greet(&["Hi {name},", "Hello {name},", "{name},", "Hi {name} -"]);
        match role {
            Role::FirstTouch => self.first_touch(),
            Role::FollowUp => self.follow_up(),
            Role::LastNote => self.last_note(),
        }
        self.paragraph();
        self.sign_off();
    }

    fn subject_line(&self, role: Role) -> String {
        let company = self.company();
        let options: Vec<String> = match (role, company) {
            (Role::FirstTouch, Some(company)) => vec![
                format!("Idea for {company}"),
                format!("Question about {company}"),
                format!("{company} and {}", self.input.sender().company),
            ],
            (Role::FollowUp, Some(company)) => vec![
                format!("One example for {company}"),
                format!("Following up, {company}"),
            ],
            (Role::LastNote, Some(company)) => vec![
                format!("Closing the loop, {company}"),
                format!("Last note for {company}"),
            ],
            (Role::FirstTouch, None) => vec!["Quick idea".into(), "A question".into()],
            (Role::FollowUp, None) => vec!["One example".into()],
            (Role::LastNote, None) => vec!["Closing the loop".into()],
        };
        options[self.pick % options.len()].clone()
    }

    fn first_touch(&mut self) {
        let peers = self.peers();
        let mut peer_sources = self.peers_source();
        let industry = self.field("account.industry");
        if industry.is_some() {
            peer_sources.push("account.industry");
        }
        let at = match industry {
            Some(industry) => format!("{peers} at {industry} companies"),
            None => format!("{peers} at companies like yours"),
        };
        if let Some(pain) = self.item(ContentKind::PainPoint, 0) {
            let pain_text = lower_first(&pain.text);
            let opener = match (self.pick + self.ordinal) % 3 {
                0 => format!("When I talk with {at}, one theme keeps coming up: {pain_text}."),
                1 => format!("I'm reaching out because {at} often tell me that {pain_text}."),
                _ => format!(
                    "{}: that's what I hear most often from {at}.",
                    trim_period(&pain.text)
                ),
            };
            let mut sources = vec![pain.id.as_str()];
            sources.extend(peer_sources.iter().copied());
            self.say(opener, &sources);
        } else if let Some(summary) = self.field("research.summary") {
            self.say(
                format!(
                    "I've been reading up on {}.",
                    lower_first(trim_period(summary))
                ),
                &["research.summary"],
            );
        }
        if let Some(company) = self.company()
            && self.field("research.size").is_some()
        {
            self.say(
                format!("I suspect it's familiar at {company}, too."),
                &["account.name"],
            );
        }
        self.paragraph();
        if let Some(value) = self.item(ContentKind::ValueProposition, 0) {
            let from = self.input.sender().company.clone();
            self.say(
                format!(
                    "What we do at {from}, in one line: {}.",
                    lower_first(trim_period(&value.text))
                ),
                &[value.id.as_str()],
            );
        }
        self.paragraph();
        self.ask(0);
    }

    fn follow_up(&mut self) {
        let opener = self.choose(&[
            "Following up on my note below with one example.",
            "A quick addition to my last email.",
            "Bumping this up with something concrete.",
        ]);
        self.say(opener, &[]);
        if let Some(proof) = self.verified_proof(self.ordinal) {
            self.say(
                format!("{}.", trim_period(&proof.text)),
                &[proof.id.as_str()],
            );
        } else if let Some(value) = self.item(ContentKind::ValueProposition, self.ordinal) {
            self.say(
                format!(
                    "The short version: {}.",
                    lower_first(trim_period(&value.text))
                ),
                &[value.id.as_str()],
            );
        }
        if let Some(pain) = self.item(ContentKind::PainPoint, self.ordinal) {
            self.say(
                format!(
                    "Many teams tell me {}; if that sounds familiar, it may be worth comparing notes.",
                    lower_first(trim_period(&pain.text))
                ),
                &[pain.id.as_str()],
            );
        }
        self.paragraph();
        self.ask(self.ordinal);
    }

    fn last_note(&mut self) {
        let opener = self.choose(&[
            "I haven't heard back, so this will be my last note for now.",
            "I don't want to crowd your inbox, so I'll stop after this one.",
            "I'll keep this short, as it's my last email on this.",
        ]);
        self.say(opener, &[]);
        if let Some(value) = self.item(ContentKind::ValueProposition, self.ordinal) {
            self.say(
                format!(
                    "For reference, what we do in one line: {}.",
                    lower_first(trim_period(&value.text))
                ),
                &[value.id.as_str()],
            );
            self.say("If the timing changes, I'm easy to find.", &[]);
        }
        self.paragraph();
        // A last note hands the choice to them: prefer the call to action
        // that asks who else to talk to, when the playbook has one.
        let right_person = self
            .input
            .content_of(ContentKind::Cta)
            .find(|cta| asks_for_someone_else(&cta.text));
        match right_person {
            Some(cta) => {
                let text = cta.text.clone();
                self.say(text, &[cta.id.as_str()]);
            }
            None => self.ask(self.ordinal),
        }
    }

    /// A call to action other than "who else should I talk to", which is
    /// kept for the last note when there is a choice.
    fn ask(&mut self, n: usize) {
        let ctas: Vec<&ContentRef> = self.input.content_of(ContentKind::Cta).collect();
        let direct: Vec<&ContentRef> = ctas
            .iter()
            .copied()
            .filter(|cta| !asks_for_someone_else(&cta.text))
            .collect();
        let pool = if direct.is_empty() { ctas } else { direct };
        if let Some(cta) = (!pool.is_empty()).then(|| pool[(n + self.pick) % pool.len()]) {
            let text = cta.text.clone();
            self.say(text, &[cta.id.as_str()]);
        }
    }

    fn sign_off(&mut self) {
        self.paragraph();
        let sign_off = SIGN_OFFS[(self.pick + self.ordinal) % SIGN_OFFS.len()];
        let name = self.input.sender().name.clone();
        self.say(format!("{sign_off}\n{name}"), &[]);
    }

    fn call_script(&mut self) {
        let sender = self.input.sender().clone();
        let name = self.field("contact.first_name").unwrap_or("there");
        let mut sources = Vec::new();
        if self.field("contact.first_name").is_some() {
            sources.push("contact.first_name");
        }
        let context = if self.input.step().index > 0 {
            "I sent you a note recently; do you have a moment?"
        } else {
            "Is now a bad time for a quick question?"
        };
        self.say(
            format!(
                "Opener: \"Hi {name}, this is {} from {}. {context}\"",
                sender.name, sender.company
            ),
            &sources,
        );
        self.paragraph();
        if let Some(pain) = self.item(ContentKind::PainPoint, self.ordinal) {
            self.say(
                format!(
                    "Reason for calling: \"{}: I'd like to hear how your team handles it.\"",
                    trim_period(&pain.text)
                ),
                &[pain.id.as_str()],
            );
            self.paragraph();
        }
        self.say(
            "Question: \"How do you handle that today, and who else is involved?\"",
            &[],
        );
        self.paragraph();
        if let Some(value) = self.item(ContentKind::ValueProposition, self.ordinal) {
            self.say(
                format!(
                    "If it resonates: \"In one line, what we do: {}.\"",
                    lower_first(trim_period(&value.text))
                ),
                &[value.id.as_str()],
            );
            self.paragraph();
        }
        if let Some(cta) = self.item(ContentKind::Cta, self.ordinal) {
            self.say(format!("Ask: \"{}\"", cta.text), &[cta.id.as_str()]);
            self.paragraph();
        }
        self.say(
            "If voicemail: leave your name and number, mention the email thread, and keep it brief.",
            &[],
        );
    }

    fn social_note(&mut self) {
        let name = self.field("contact.first_name");
        let peers = self.peers();
        let mut text = match name {
            Some(name) => format!("Hi {name}, "),
            None => "Hi, ".to_string(),
        };
        let mut sources: Vec<&str> = Vec::new();
        if name.is_some() {
            sources.push("contact.first_name");
        }
        sources.extend(self.peers_source());
        match self.item(ContentKind::ValueProposition, self.ordinal) {
            Some(value) => {
                text.push_str(&format!(
                    "I work with {peers} on {}. Would be glad to connect.",
                    lower_first(trim_period(&value.text))
                ));
                sources.push(value.id.as_str());
            }
            None => text.push_str(&format!(
                "I work with {peers} like you. Would be glad to connect."
            )),
        }
        // LinkedIn caps connection notes at 300 characters.
        if text.chars().count() > 300 {
            text = match name {
                Some(name) => format!("Hi {name}, I'd be glad to connect."),
                None => "Hi, I'd be glad to connect.".to_string(),
            };
            sources.retain(|s| *s == "contact.first_name");
        }
        self.say(text, &sources);
    }
}

fn asks_for_someone_else(text: &str) -> bool {
    let t = text.to_lowercase();
    t.contains("someone else") || t.contains("right person") || t.contains("who should")
}

fn trim_period(text: &str) -> &str {
    text.trim().trim_end_matches(['.', '!'])
}

/// Lower-cases the first letter unless the first word looks like a name or
/// an acronym ("Acme", "SOC").
fn lower_first(text: &str) -> String {
    let text = text.trim();
    let first_word = text.split_whitespace().next().unwrap_or("");
    let common = [
        "month-end",
        "sales",
        "every",
        "board-ready",
        "one",
        "connects",
        "most",
        "the",
        "a",
        "an",
        "our",
        "your",
        "teams",
        "revenue",
        "month",
        "no",
        "less",
        "faster",
        "fewer",
    ];
    if common.contains(&first_word.to_lowercase().as_str()) {
        let mut chars = text.chars();
        match chars.next() {
            Some(c) => c.to_lowercase().chain(chars).collect(),
            None => String::new(),
        }
    } else {
        text.to_string()
    }
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
