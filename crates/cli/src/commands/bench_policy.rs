//! `handoff bench policy`: governance verdicts per second on one core with
//! the default playbook, against the same content-rule regexes alone in a
//! `RegexSet`, measured in the same run.
//!
//! The drafts are generated from a seeded generator (the same `--drafts`
//! and `--seed` always give the same texts): cold and post-meeting emails of
//! 120–250 words built from greetings, openers, pain points, value
//! propositions, proof points, detail sentences, calls to action and
//! sign-offs, some with curly quotes and dashes as model output has them.
//! About a third carry one or two sentences that some content rule is
//! written to catch (a price, a guarantee, a compliance claim, a leftover
//! placeholder, ...). Each draft gets one of a few hundred contexts
//! (industries, seniorities, tiers, sizes) and cites some content-center
//! items.
//!
//! handoff: `Policy::evaluate` on every draft, single-threaded, so the rate
//! is per core. Baseline: one `RegexSet` holding every content-rule pattern
//! and every phrase as its equivalent regex ([`phrase_to_regex`]), run over
//! the same subjects and bodies with no CEL, grounding or findings.
//!
//! [`phrase_to_regex`]: handoff_domain::policy::phrase_to_regex Both are
//! timed over the whole set; the best of `--rounds` is reported.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde::Serialize;

use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK, Playbook};
use handoff_domain::policy::{AuthorKind, Context, DraftInput, Policy, RegexBaseline};

#[derive(Debug, Args)]
pub struct PolicyCmd {
    /// Drafts to generate and judge.
    #[arg(long, default_value_t = 100_000)]
    drafts: usize,
    /// Seed of the draft generator.
    #[arg(long, default_value_t = 20_261_123)]
    seed: u64,
    /// Timed rounds per side; the best of each is reported. (The regex
    /// baseline takes over a minute a round on 100,000 drafts.)
    #[arg(long, default_value_t = 1)]
    rounds: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    drafts: usize,
    seed: u64,
    rounds: u32,
    content_rules: usize,
    escalation_rules: usize,
    conditions_on_cel_rust: Vec<String>,
    baseline_regexes: usize,
    mean_words: f64,
    mean_bytes: f64,
    non_ascii_share: f64,
    verdicts_per_sec: f64,
    baseline_per_sec: f64,
    /// handoff ÷ baseline (goal ≥ 0.5).
    ratio: f64,
    /// The same, over the drafts whose text is all ASCII, and the others.
    ascii: Split,
    non_ascii: Split,
    verdicts: BTreeMap<String, usize>,
    findings_per_draft: f64,
    drafts_with_findings: usize,
    findings_by_rule: BTreeMap<String, usize>,
    grounded_findings: usize,
    qa_sampled: usize,
    goals: Goals,
}

#[derive(Debug, Serialize)]
struct Split {
    drafts: usize,
    verdicts_per_sec: f64,
    baseline_per_sec: f64,
    ratio: f64,
}

#[derive(Debug, Serialize)]
struct Goals {
    verdicts_per_sec_at_least: f64,
    ratio_at_least: f64,
    met: bool,
}

const GOAL_RATE: f64 = 50_000.0;
const GOAL_RATIO: f64 = 0.5;

impl PolicyCmd {
    pub async fn run(self) -> Result<ExitCode> {
        let playbook =
            playbook::parse(DEFAULT_PLAYBOOK, "default handoff.toml").map_err(|diagnostics| {
                anyhow::anyhow!("the default playbook does not parse:\n{diagnostics}")
            })?;
        let policy = Policy::compile(&playbook).context("the default playbook does not compile")?;
        let baseline = baseline_set(&playbook)?;

        if !self.json {
            eprintln!("Generating {} drafts (seed {})…", self.drafts, self.seed);
        }
        let (drafts, contexts) = generate(self.drafts, self.seed, &playbook);
        if drafts.is_empty() {
            bail!("--drafts must be at least 1");
        }
        let words: usize = drafts
            .iter()
            .map(|(draft, _)| draft.body.split_whitespace().count())
            .sum();
        let bytes: usize = drafts
            .iter()
            .map(|(draft, _)| draft.subject.len() + draft.body.len())
            .sum();
        let non_ascii = drafts
            .iter()
            .filter(|(draft, _)| !draft.body.is_ascii())
            .count();

        // One untimed pass: the histogram, and warm caches on both sides.
        let mut verdicts: BTreeMap<String, usize> = BTreeMap::new();
        let mut findings_by_rule: BTreeMap<String, usize> = BTreeMap::new();
        let (mut findings, mut with_findings, mut grounded, mut sampled) = (0, 0, 0, 0);
        for (draft, context) in &drafts {
            let evaluation = policy.evaluate(draft, &contexts[*context]);
            *verdicts
                .entry(evaluation.verdict.name().to_string())
                .or_default() += 1;
            findings += evaluation.findings.len();
            with_findings += usize::from(!evaluation.findings.is_empty());
            grounded += evaluation.grounded.len();
            sampled += usize::from(evaluation.qa_sampled);
            for finding in &evaluation.findings {
                *findings_by_rule.entry(finding.rule_id.clone()).or_default() += 1;
            }
        }
        let _ = black_box(baseline_pass(&baseline, &drafts));

        if !self.json {
            eprintln!("Timing {} round(s) of each side…", self.rounds.max(1));
        }
        // Timed apart, so the report can show where the time goes; the
        // overall rate is all drafts over the sum of the two times.
        let (ascii_drafts, other_drafts): (Vec<_>, Vec<_>) = drafts
            .iter()
            .cloned()
            .partition(|(draft, _)| draft.subject.is_ascii() && draft.body.is_ascii());
        let mut best = [[f64::INFINITY; 2]; 2];
        for _ in 0..self.rounds.max(1) {
            for (part, subset) in [&ascii_drafts, &other_drafts].into_iter().enumerate() {
                let start = Instant::now();
                let mut checksum = 0usize;
                for (draft, context) in subset {
                    let evaluation = policy.evaluate(black_box(draft), &contexts[*context]);
                    checksum += evaluation.findings.len() + evaluation.escalations.len();
                    black_box(&evaluation);
                }
                black_box(checksum);
                best[part][0] = best[part][0].min(start.elapsed().as_secs_f64());

                let start = Instant::now();
                black_box(baseline_pass(&baseline, subset));
                best[part][1] = best[part][1].min(start.elapsed().as_secs_f64());
            }
        }
        let per_sec = |count: usize, seconds: f64| count as f64 / seconds.max(1e-9);
        let split = |count: usize, [policy_seconds, baseline_seconds]: [f64; 2]| Split {
            drafts: count,
            verdicts_per_sec: per_sec(count, policy_seconds),
            baseline_per_sec: per_sec(count, baseline_seconds),
            ratio: baseline_seconds / policy_seconds.max(1e-9),
        };
        let best_policy = per_sec(drafts.len(), best[0][0] + best[1][0]);
        let best_baseline = per_sec(drafts.len(), best[0][1] + best[1][1]);
        let ratio = best_policy / best_baseline.max(f64::MIN_POSITIVE);
        let count = drafts.len() as f64;
        let report = Report {
            drafts: drafts.len(),
            seed: self.seed,
            rounds: self.rounds.max(1),
            content_rules: policy.content_rule_count(),
            escalation_rules: policy.escalation_rule_count(),
            conditions_on_cel_rust: policy
                .conditions_without_fast_path()
                .into_iter()
                .map(str::to_string)
                .collect(),
            baseline_regexes: baseline.len(),
            mean_words: words as f64 / count,
            mean_bytes: bytes as f64 / count,
            non_ascii_share: non_ascii as f64 / count,
            verdicts_per_sec: best_policy,
            baseline_per_sec: best_baseline,
            ratio,
            ascii: split(ascii_drafts.len(), best[0]),
            non_ascii: split(other_drafts.len(), best[1]),
            verdicts,
            findings_per_draft: findings as f64 / count,
            drafts_with_findings: with_findings,
            findings_by_rule,
            grounded_findings: grounded,
            qa_sampled: sampled,
            goals: Goals {
                verdicts_per_sec_at_least: GOAL_RATE,
                ratio_at_least: GOAL_RATIO,
                met: best_policy >= GOAL_RATE && ratio >= GOAL_RATIO,
            },
        };
        if self.json {
            crate::output::print_json(&report)?;
        } else {
            print_report(&report);
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn print_report(report: &Report) {
    println!(
        "Governance verdicts with the default playbook ({} content rules, {} escalation rules), \
         one thread, best of {} round(s)",
        report.content_rules, report.escalation_rules, report.rounds
    );
    println!(
        "{} drafts: {:.0} words and {:.0} bytes on average; {:.0}% with non-ASCII text",
        report.drafts,
        report.mean_words,
        report.mean_bytes,
        report.non_ascii_share * 100.0
    );
    let mut table = crate::output::table(&[
        "drafts",
        "count",
        "handoff verdicts /s/core",
        &format!(
            "RegexSet alone ({} regexes) /s/core",
            report.baseline_regexes
        ),
        "ratio",
    ]);
    let rows = [
        (
            "all",
            report.drafts,
            report.verdicts_per_sec,
            report.baseline_per_sec,
            report.ratio,
        ),
        (
            "all-ASCII text",
            report.ascii.drafts,
            report.ascii.verdicts_per_sec,
            report.ascii.baseline_per_sec,
            report.ascii.ratio,
        ),
        (
            "non-ASCII text",
            report.non_ascii.drafts,
            report.non_ascii.verdicts_per_sec,
            report.non_ascii.baseline_per_sec,
            report.non_ascii.ratio,
        ),
    ];
    for (name, count, ours, theirs, ratio) in rows {
        table.add_row(vec![
            name.to_string(),
            count.to_string(),
            format!("{ours:.0}"),
            format!("{theirs:.0}"),
            format!("{ratio:.2}"),
        ]);
    }
    println!("{table}");
    println!(
        "Ratio handoff / RegexSet: {:.2}. On non-ASCII text (’, —, é) a Unicode \\b sends \
         regex to its slow engine; the policy avoids that (see handoff_domain::policy).",
        report.ratio
    );

    let mut table = crate::output::table(&["verdict", "drafts", "share"]);
    for (verdict, count) in &report.verdicts {
        table.add_row(vec![
            verdict.clone(),
            count.to_string(),
            format!("{:.1}%", *count as f64 * 100.0 / report.drafts as f64),
        ]);
    }
    println!("{table}");
    println!(
        "{} drafts with findings, {:.2} findings per draft, {} grounded by a cited proof point, {} QA-sampled",
        report.drafts_with_findings,
        report.findings_per_draft,
        report.grounded_findings,
        report.qa_sampled
    );
    let rules: Vec<String> = report
        .findings_by_rule
        .iter()
        .map(|(rule, count)| format!("{rule} {count}"))
        .collect();
    println!("Findings by rule: {}", rules.join(", "));
    if !report.conditions_on_cel_rust.is_empty() {
        println!(
            "Conditions evaluated by cel-rust: {}",
            report.conditions_on_cel_rust.join(", ")
        );
    }
    println!(
        "Goal: ≥ {:.0} verdicts/s per core and ratio ≥ {:.1}: {}",
        report.goals.verdicts_per_sec_at_least,
        report.goals.ratio_at_least,
        if report.goals.met { "met" } else { "NOT met" }
    );
}

// ── Baseline ─────────────────────────────────────────────────────────────

/// Every content-rule pattern, and every phrase as the regex that matches
/// what the phrase matches, in one set.
fn baseline_set(playbook: &Playbook) -> Result<RegexBaseline> {
    RegexBaseline::new(&playbook.governance.content_rules)
        .map_err(|error| anyhow::anyhow!("the baseline RegexSet does not compile: {error}"))
}

/// Which regexes match each subject and body; the number of matches.
fn baseline_pass(set: &RegexBaseline, drafts: &[(DraftInput, usize)]) -> usize {
    let mut matched = 0;
    for (draft, _) in drafts {
        matched += set.count_matching(black_box(&draft.subject));
        matched += set.count_matching(black_box(&draft.body));
    }
    matched
}

// ── The draft generator ──────────────────────────────────────────────────

/// splitmix64: small, seeded, the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len()))
            .copied()
            .unwrap_or_default()
    }
}

const FIRST_NAMES: &[&str] = &[
    "Dana", "Priya", "Marcus", "Elena", "Tom", "Aisha", "Kenji", "Sofia", "Liam", "Chloé", "José",
    "Zoë", "Grace", "Omar", "Hannah", "Mateo", "Ingrid", "Wei", "Fatima", "Noah",
];

const COMPANIES: &[&str] = &[
    "Brightline Logistics",
    "Cobalt Health",
    "Harbor Capital",
    "Juniper Retail",
    "Keystone Labs",
    "Lumen Payments",
    "Meridian Foods",
    "Northstar Insurance",
    "Orbit Software",
    "Pinecrest Bank",
    "Quarry Systems",
    "Redwood Pharma",
    "Summit Apparel",
    "Tidewater Energy",
    "Vantage Media",
];

const SUBJECTS: &[&str] = &[
    "Month-end close at {company}",
    "Board reporting, without the late nights",
    "{first}, a question about revenue numbers",
    "One set of numbers for finance and sales",
    "Idea for {company}'s board pack",
    "Following up on the board pack example",
    "Next steps from our call",
    "Quick thought on your reporting stack",
];

const GREETINGS: &[&str] = &[
    "Hi {first},",
    "Hello {first},",
    "{first},",
    "Good morning {first},",
];

const OPENERS: &[&str] = &[
    "I noticed {company} is hiring two financial analysts, which usually means the reporting load is growing faster than the team.",
    "Congratulations on the new funding round; the board will probably ask for sharper revenue reporting soon.",
    "I read your interview about scaling the finance function at {company} and had a thought worth sharing.",
    "Thanks again for the time on Tuesday and for walking us through how the close works today.",
    "I'm reaching out because teams at companies the size of {company} often tell us the close is where the week disappears.",
    "Your post about bringing sales and finance onto the same numbers caught my eye.",
];

const PAINS: &[&str] = &[
    "Month-end close still runs on spreadsheets and late nights for a lot of finance teams.",
    "Sales and finance often bring different revenue numbers to the same meeting, and the first half hour goes on reconciling them.",
    "Every new board question tends to become a ticket in the data team's backlog, and the answer arrives after the meeting.",
    "Most teams we speak with still stitch together exports from the CRM, the billing system and the warehouse before every board meeting.",
    "When the numbers disagree, people stop trusting the dashboard and go back to their own spreadsheets.",
];

const VALUES: &[&str] = &[
    "Northwind gives you board-ready revenue reporting in hours instead of days.",
    "We give finance, sales and the board one agreed set of revenue numbers.",
    "Northwind connects to the warehouse you already have, without an engineering project.",
    "Your analysts keep working in the tools they know, and the definitions live in one place.",
    "Every number in the board pack links back to the rows it came from, so questions get answered in the room.",
];

const PROOFS: &[&str] = &[
    "Acme cut its month-end close from 9 days to 3.",
    "Globex now prepares its board pack in one afternoon.",
];

const DETAILS: &[&str] = &[
    "The setup starts with your revenue definitions, which we agree with your controller before anything is built.",
    "From there, the daily refresh runs on its own and flags any number that moved more than you expect.",
    "Your team reviews a short list of exceptions instead of rebuilding the whole pack every month.",
    "It also keeps a history of every definition change, which auditors tend to appreciate.",
    "Most of the work happens in the first few weeks, and after that the reporting mostly runs itself.",
    "We usually start with one report the board already asks for, so the value is visible early.",
    "Your data team stays in control of the warehouse; we only read from the tables you choose.",
    "If it helps, I can share how a similar finance team structured their first month with us.",
    "The controllers we work with like that they can answer a follow-up question without waiting a week.",
    "There is no new spreadsheet to maintain, and nobody has to copy numbers between systems at midnight.",
    "Your sales leaders see the same bookings figure as finance, down to the definition of a renewal.",
    "It works alongside the planning tools you have, rather than replacing them.",
];

const CTAS: &[&str] = &[
    "Worth a 15-minute look next week?",
    "Shall I send over an example board pack?",
    "If this sits with someone else on your team, who should I talk to?",
    "Would Thursday or Friday afternoon work for a short call?",
];

const SIGN_OFFS: &[&str] = &[
    "Best,\nDana",
    "Thanks,\nDana Whitfield\nNorthwind Analytics",
    "Cheers,\nDana",
    "Kind regards,\nDana Whitfield",
];

/// Sentences some content rule is written to catch.
const TRIGGERS: &[&str] = &[
    "Pricing starts at $45 per seat per month, billed annually.",
    "For teams signing this quarter I can offer 20% off the first year.",
    "You can start a free trial today and cancel anytime.",
    "We guarantee you will close the books in half the time.",
    "Our platform is SOC 2 certified and fully GDPR compliant.",
    "We handle PHI for several hospital groups under a business associate agreement.",
    "Unlike other tools, we never make you rebuild your models.",
    "Honestly, most legacy vendor dashboards are clunky and overpriced.",
    "This offer ends Friday, so act now to lock in the rate.",
    "As discussed, I am attaching the deck for your team.",
    "I saw you visited our pricing page yesterday.",
    "Our customers include some of the largest banks in the country.",
    "We helped over 200 finance teams cut reporting time by 60%.",
    "Our industry-leading engine is the number one choice for controllers.",
    "Hi {{first_name}}, I wanted to reach out about {{company}}.",
    "No need to unsubscribe, just ignore the unsubscribe link if these are useful.",
    "Read the case study on how Acme did it.",
    "Teams moving off Contoso Reports usually see the difference in the first week.",
];

const INDUSTRIES: &[&str] = &[
    "software",
    "fintech",
    "ecommerce",
    "healthcare",
    "banking",
    "insurance",
    "manufacturing",
    "logistics",
    "media",
    "retail",
];

const SENIORITIES: &[&str] = &[
    "c_suite",
    "vp",
    "vp",
    "director",
    "director",
    "director",
    "head",
    "manager",
    "manager",
    "senior_ic",
    "ic",
    "unknown",
];

const DEPARTMENTS: &[&str] = &[
    "finance",
    "finance",
    "finance",
    "executive",
    "sales",
    "operations",
    "it",
];

const TIERS: &[&str] = &["excellent", "good", "good", "fair", "fair", "not_a_fit"];

/// Drafts with the index of their context, and the contexts.
fn generate(
    count: usize,
    seed: u64,
    playbook: &Playbook,
) -> (Vec<(DraftInput, usize)>, Vec<Context>) {
    let mut rng = Rng(seed);
    let now = chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default();
    let contexts: Vec<Context> = (0..500)
        .map(|_| {
            let mut context = Context::new(now)
                .with_contact("first_name", rng.pick(FIRST_NAMES))
                .with_contact("seniority", rng.pick(SENIORITIES))
                .with_contact("department", rng.pick(DEPARTMENTS))
                .with_contact("tier", rng.pick(TIERS))
                .with_contact("score", rng.below(101) as i64)
                .with_account("name", rng.pick(COMPANIES))
                .with_account("employees", 20 + rng.below(8000) as i64)
                .with_account("technologies", vec!["snowflake", "salesforce"])
                .with_mailbox("address", "dana@northwind.example")
                .with_mailbox("sent_today", rng.below(40) as i64);
            // Some accounts have no known industry: the rule that reads it
            // is undecided for them.
            if !rng.chance(10) {
                context = context.with_account("industry", rng.pick(INDUSTRIES));
            }
            let tags: Vec<&str> = if rng.chance(5) {
                vec!["strategic"]
            } else {
                vec![]
            };
            context.with_account("tags", tags)
        })
        .collect();

    let proof_ids: Vec<&str> = playbook
        .content
        .proof_points
        .iter()
        .map(|proof| proof.id.as_str())
        .collect();
    let other_ids: Vec<&str> = playbook
        .content
        .value_propositions
        .iter()
        .chain(&playbook.content.pain_points)
        .chain(&playbook.content.ctas)
        .map(|item| item.id.as_str())
        .collect();

    let mut drafts = Vec::with_capacity(count);
    for index in 0..count {
        let context = rng.below(contexts.len());
        let first = rng.pick(FIRST_NAMES);
        let company = rng.pick(COMPANIES);
        let fill = |text: &str| text.replace("{first}", first).replace("{company}", company);
        let post_meeting = rng.chance(20);
        let target_words = 120 + rng.below(131);

        let mut sentences: Vec<String> = Vec::new();
        sentences.push(fill(rng.pick(OPENERS)));
        sentences.push(rng.pick(PAINS).to_string());
        sentences.push(rng.pick(VALUES).to_string());
        let mut grounding: Vec<String> = Vec::new();
        for _ in 0..1 + rng.below(3) {
            grounding.push(rng.pick(&other_ids).to_string());
        }
        if rng.chance(40) {
            sentences.push(rng.pick(PROOFS).to_string());
            if rng.chance(70) {
                grounding.push(rng.pick(&proof_ids).to_string());
            }
        }
        let triggers = if rng.chance(35) { 1 + rng.below(2) } else { 0 };
        let mut pending: Vec<String> = (0..triggers)
            .map(|_| rng.pick(TRIGGERS).to_string())
            .collect();
        let cta = rng.pick(CTAS);
        let sign_off = rng.pick(SIGN_OFFS);
        let fixed_words = cta.split_whitespace().count() + sign_off.split_whitespace().count() + 2;
        loop {
            let words: usize = sentences
                .iter()
                .map(|s| s.split_whitespace().count())
                .sum::<usize>()
                + pending
                    .iter()
                    .map(|s| s.split_whitespace().count())
                    .sum::<usize>();
            if words + fixed_words >= target_words {
                break;
            }
            sentences.push(rng.pick(DETAILS).to_string());
        }
        for trigger in pending.drain(..) {
            let at = 1 + rng.below(sentences.len());
            sentences.insert(at.min(sentences.len()), trigger);
        }

        // Paragraphs of two or three sentences.
        let mut body = fill(rng.pick(GREETINGS));
        body.push_str("\n\n");
        let mut in_paragraph = 0;
        for sentence in &sentences {
            if in_paragraph > 0 {
                body.push(' ');
            }
            body.push_str(sentence);
            in_paragraph += 1;
            if in_paragraph >= 2 + rng.below(2) {
                body.push_str("\n\n");
                in_paragraph = 0;
            }
        }
        if in_paragraph > 0 {
            body.push_str("\n\n");
        }
        body.push_str(cta);
        body.push_str("\n\n");
        body.push_str(sign_off);
        // Model output often has typographic punctuation.
        if rng.chance(30) {
            body = body
                .replace('\'', "\u{2019}")
                .replace(", which", " \u{2014} which");
        }

        let author = match rng.below(20) {
            0 => AuthorKind::Human,
            1 | 2 => AuthorKind::Template,
            _ => AuthorKind::Ai,
        };
        drafts.push((
            DraftInput {
                id: format!("bench-{seed}-{index}"),
                subject: fill(rng.pick(SUBJECTS)),
                body,
                sequence_type: if post_meeting { "post_meeting" } else { "cold" }.to_string(),
                confidence: 0.55 + 0.45 * rng.unit(),
                grounding,
                author,
                ungrounded: Vec::new(),
            },
            context,
        ));
    }
    (drafts, contexts)
}
