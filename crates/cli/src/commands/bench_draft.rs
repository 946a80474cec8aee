//! `handoff bench draft`: the research and drafting stage in three parts,
//! each against a baseline measured in the same run.
//!
//! (a) Template drafts per second on one core, over inputs built the way
//! the engine builds them (the default playbook's data access, research
//! and content center) for generated prospects across every touch of the
//! default sequences. Baseline: a plain mail-merge over the same inputs,
//! one fixed template with the first name and company substituted, as
//! bulk-email tools do.
//!
//! (b) The openai backend against a local server that answers after
//! 200 ms, 16 requests at a time; the baseline is the endpoint's ceiling
//! (16 / 0.2 s = 80/s).
//!
//! (c) Model tokens per contact for contacts across accounts, drafted
//! through the openai backend and the real engine (a temporary SQLite
//! database, import, verify, score, enrol, `draft_due`), once with
//! account-level research reuse and once with research rebuilt for every
//! contact. The local server reports `usage` estimated from sizes
//! (tokens ≈ bytes / 4 of the messages sent and of the answer).

use std::hint::black_box;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Args;
use serde::Serialize;

use handoff_ai::bench::{UsageServer, UsageTotals, openai_throughput};
use handoff_ai::template::compose;
use handoff_ai::{HttpOptions, OpenAiConfig, OpenAiDrafter};
use handoff_domain::Actor;
use handoff_domain::drafting::{
    AccountFacts, Audience, ModelInput, SenderBrief, StepBrief, offer, summarize,
};
use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK, Playbook, StepKind};
use handoff_domain::policy::data_access::DataAccessPolicy;
use handoff_engine::drafting::Drafting;
use handoff_engine::governance::effective_policy;
use handoff_engine::list_building::enroll::{EnrollRequest, enroll_matching};
use handoff_engine::list_building::import::{ImportOptions, import_file};
use handoff_engine::list_building::score::score_all;
use handoff_engine::list_building::verify::verify_all;
use handoff_mail::address::verify::Verifier;
use handoff_store::{CommandContext, Store};
use handoff_store_sqlite::{Durability, SqliteStore};

const TEMPLATE_GOAL: f64 = 5_000.0;
const OPENAI_GOAL: f64 = 70.0;
const TOKEN_RATIO_GOAL: f64 = 0.5;

#[derive(Debug, Args)]
pub struct DraftCmd {
    /// (a) template drafts timed per round.
    #[arg(long, default_value_t = 100_000)]
    template_drafts: usize,
    /// (a) distinct prospects the inputs are built for (each across every
    /// touch of the default sequences).
    #[arg(long, default_value_t = 1_000)]
    prospects: usize,
    /// (a) timed rounds per side; the best of each is reported.
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// (b) drafts through the openai backend.
    #[arg(long, default_value_t = 800)]
    openai_drafts: usize,
    /// (c) accounts.
    #[arg(long, default_value_t = 100)]
    accounts: usize,
    /// (c) contacts at each account.
    #[arg(long, default_value_t = 10)]
    contacts_per_account: usize,
    /// Tiny sizes, to check the wiring in seconds (the numbers mean little).
    #[arg(long)]
    quick: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct Report {
    template: TemplateReport,
    openai: OpenAiReport,
    tokens: TokenReport,
}

#[derive(Debug, Serialize)]
struct TemplateReport {
    drafts: usize,
    inputs: usize,
    prospects: usize,
    rounds: u32,
    drafts_per_sec: f64,
    mail_merge_per_sec: f64,
    /// template ÷ mail-merge.
    ratio: f64,
    mean_body_bytes: f64,
    goal_per_sec: f64,
    met: bool,
}

#[derive(Debug, Serialize)]
struct OpenAiReport {
    drafts: usize,
    concurrency: usize,
    latency_ms: u64,
    drafts_per_sec: f64,
    ceiling_per_sec: f64,
    /// rate ÷ ceiling.
    ratio: f64,
    goal_per_sec: f64,
    met: bool,
}

#[derive(Debug, Serialize)]
struct TokenReport {
    accounts: usize,
    contacts: usize,
    estimate: &'static str,
    reuse: TokenRun,
    per_contact: TokenRun,
    /// Tokens per contact with reuse ÷ per-contact research.
    ratio: f64,
    goal_ratio: f64,
    met: bool,
}

#[derive(Debug, Serialize)]
struct TokenRun {
    drafted: u64,
    held: u64,
    failed: u64,
    research_calls: u64,
    research_tokens: u64,
    draft_calls: u64,
    draft_tokens: u64,
    total_tokens: u64,
    tokens_per_contact: f64,
    research_tokens_per_call: f64,
    draft_tokens_per_call: f64,
    elapsed_ms: u128,
}

impl DraftCmd {
    pub async fn run(mut self) -> Result<ExitCode> {
        if self.quick {
            self.template_drafts = self.template_drafts.min(2_000);
            self.prospects = self.prospects.min(50);
            self.rounds = 1;
            self.openai_drafts = self.openai_drafts.min(32);
            self.accounts = self.accounts.min(4);
            self.contacts_per_account = self.contacts_per_account.min(3);
        }
        if self.template_drafts == 0
            || self.prospects == 0
            || self.openai_drafts == 0
            || self.accounts == 0
            || self.contacts_per_account == 0
        {
            bail!("every size must be at least 1");
        }
        let playbook = playbook::parse(DEFAULT_PLAYBOOK, "handoff.toml").map_err(|d| {
            anyhow::anyhow!("the built-in playbook is invalid (a bug in handoff): {d}")
        })?;

        let template = self.template(&playbook)?;
        if !self.json {
            print_template(&template);
        }
        let openai = self.openai().await?;
        if !self.json {
            print_openai(&openai);
        }
        let tokens = self.tokens(&playbook).await?;
        if self.json {
            crate::output::print_json(&Report {
                template,
                openai,
                tokens,
            })?;
        } else {
            print_tokens(&tokens);
        }
        Ok(ExitCode::SUCCESS)
    }

    /// (a), on the calling thread only: one core.
    fn template(&self, playbook: &Playbook) -> Result<TemplateReport> {
        let inputs = template_inputs(playbook, self.prospects);
        if inputs.is_empty() {
            bail!("the default playbook gave no steps to draft (a bug in handoff)");
        }
        let n = self.template_drafts;
        let mut body_bytes = 0usize;
        for (i, input) in inputs.iter().enumerate().take(n) {
            let draft = compose(input, i as u64).context("the template drafter failed")?;
            body_bytes += draft.body().len();
        }
        let sampled = n.min(inputs.len());
        let (mut ours, mut baseline) = (0f64, 0f64);
        for _ in 0..self.rounds.max(1) {
            let started = Instant::now();
            for i in 0..n {
                let draft = compose(&inputs[i % inputs.len()], i as u64)
                    .context("the template drafter failed")?;
                black_box(draft.body());
            }
            ours = ours.max(rate(n, started.elapsed()));
            let started = Instant::now();
            for i in 0..n {
                black_box(mail_merge(&inputs[i % inputs.len()]));
            }
            baseline = baseline.max(rate(n, started.elapsed()));
        }
        Ok(TemplateReport {
            drafts: n,
            inputs: inputs.len(),
            prospects: self.prospects,
            rounds: self.rounds.max(1),
            drafts_per_sec: ours,
            mail_merge_per_sec: baseline,
            ratio: ours / baseline.max(1e-9),
            mean_body_bytes: body_bytes as f64 / sampled.max(1) as f64,
            goal_per_sec: TEMPLATE_GOAL,
            met: ours >= TEMPLATE_GOAL,
        })
    }

    /// (b).
    async fn openai(&self) -> Result<OpenAiReport> {
        let run = openai_throughput(self.openai_drafts, 16, Duration::from_millis(200))
            .await
            .context("the openai throughput run failed")?;
        Ok(OpenAiReport {
            drafts: run.drafts,
            concurrency: run.concurrency,
            latency_ms: run.latency.as_millis() as u64,
            drafts_per_sec: run.drafts_per_sec,
            ceiling_per_sec: run.ceiling_per_sec,
            ratio: run.drafts_per_sec / run.ceiling_per_sec.max(1e-9),
            goal_per_sec: OPENAI_GOAL,
            met: run.drafts_per_sec >= OPENAI_GOAL,
        })
    }

    /// (c).
    async fn tokens(&self, playbook: &Playbook) -> Result<TokenReport> {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let csv = dir.path().join("contacts.csv");
        std::fs::write(&csv, contacts_csv(self.accounts, self.contacts_per_account))
            .with_context(|| format!("cannot write {}", csv.display()))?;
        let reuse = token_run(playbook, dir.path(), &csv, true).await?;
        let per_contact = token_run(playbook, dir.path(), &csv, false).await?;
        let ratio = reuse.tokens_per_contact / per_contact.tokens_per_contact.max(1e-9);
        Ok(TokenReport {
            accounts: self.accounts,
            contacts: self.accounts * self.contacts_per_account,
            estimate: "tokens ≈ bytes / 4 of the messages sent and of the answer (an estimate, not a tokenizer count)",
            reuse,
            per_contact,
            ratio,
            goal_ratio: TOKEN_RATIO_GOAL,
            met: ratio <= TOKEN_RATIO_GOAL,
        })
    }
}

fn rate(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// One fresh SQLite workspace with the contacts imported, verified,
/// scored and enrolled in `sdr-cold`, then every due first step drafted
/// through the openai backend against a [`UsageServer`].
async fn token_run(playbook: &Playbook, dir: &Path, csv: &Path, reuse: bool) -> Result<TokenRun> {
    let db = dir.join(if reuse { "reuse.db" } else { "per-contact.db" });
    let sqlite = SqliteStore::open(&db, Durability::Normal)
        .with_context(|| format!("cannot open {}", db.display()))?;
    let store: Arc<dyn Store> = Arc::new(sqlite);
    store.migrate().await?;
    let ctx = CommandContext::new(Actor::system("bench"), Some(playbook.policy_version()));
    handoff_engine::workspace::initialize(store.as_ref(), &ctx, playbook).await?;
    let report = import_file(
        store.as_ref(),
        &ctx,
        csv,
        &ImportOptions {
            rejects: Some(dir.join("rejects.csv")),
            force: true,
            ..ImportOptions::default()
        },
        &|_, _| {},
    )
    .await?;
    if report.rejected > 0 {
        bail!(
            "{} generated rows were rejected on import (a bug in the bench)",
            report.rejected
        );
    }
    verify_all(store.clone(), &ctx, &Verifier::offline(), 4, &|_| {}).await?;
    score_all(store.as_ref(), &ctx, playbook, None, &|_| {}).await?;
    enroll_matching(
        store.as_ref(),
        &ctx,
        playbook,
        &EnrollRequest {
            sequence: "sdr-cold".into(),
            condition: None,
            owner: None,
            // Generated domains cannot be checked offline; every contact
            // should reach drafting, which is what is measured.
            allow_risky: true,
        },
        &|_| {},
    )
    .await?;

    let server = UsageServer::start()
        .await
        .context("cannot start the local chat-completions server")?;
    let mut config = OpenAiConfig::new(server.base_url(), "bench-model");
    config.http = HttpOptions {
        max_attempts: 1,
        ..HttpOptions::default()
    };
    let drafter = OpenAiDrafter::new(config)?;
    let policy = effective_policy(store.as_ref(), playbook).await?;
    let mut drafting = Drafting::new(playbook, &policy);
    drafting.reuse_research = reuse;
    let started = Instant::now();
    let summary = drafting
        .draft_due(store.as_ref(), &ctx, &drafter, ctx.now, &|_| {})
        .await?;
    let elapsed = started.elapsed();
    let totals: UsageTotals = server.totals();
    drop(server);
    if summary.drafted == 0 {
        let reason = summary
            .steps
            .iter()
            .find_map(|s| match &s.outcome {
                handoff_engine::drafting::StepOutcome::Failed { reason }
                | handoff_engine::drafting::StepOutcome::Held { reason }
                | handoff_engine::drafting::StepOutcome::Skipped { reason } => Some(reason.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "no step was due".into());
        bail!("the token run drafted nothing: {reason}");
    }
    let per_call = |tokens: u64, calls: u64| tokens as f64 / calls.max(1) as f64;
    Ok(TokenRun {
        drafted: summary.drafted,
        held: summary.held,
        failed: summary.failed,
        research_calls: totals.research_calls,
        research_tokens: totals.research_tokens(),
        draft_calls: totals.draft_calls,
        draft_tokens: totals.draft_tokens(),
        total_tokens: totals.total_tokens(),
        tokens_per_contact: totals.total_tokens() as f64 / summary.drafted as f64,
        research_tokens_per_call: per_call(totals.research_tokens(), totals.research_calls),
        draft_tokens_per_call: per_call(totals.draft_tokens(), totals.draft_calls),
        elapsed_ms: elapsed.as_millis(),
    })
}

fn print_template(r: &TemplateReport) {
    println!(
        "(a) Template drafts on one core: {} drafts over {} inputs ({} prospects × every touch of the default sequences), best of {}",
        r.drafts, r.inputs, r.prospects, r.rounds
    );
    let mut table = crate::output::table(&["path", "drafts /s", "mean body bytes"]);
    table.add_row(vec![
        "template drafter".to_string(),
        format!("{:.0}", r.drafts_per_sec),
        format!("{:.0}", r.mean_body_bytes),
    ]);
    table.add_row(vec![
        "mail-merge baseline".to_string(),
        format!("{:.0}", r.mail_merge_per_sec),
        format!("{}", MAIL_MERGE_BODY.len()),
    ]);
    println!("{table}");
    println!(
        "    ratio template / mail-merge: {:.4}; goal ≥ {:.0} drafts/s: {}\n",
        r.ratio,
        r.goal_per_sec,
        met(r.met)
    );
}

fn print_openai(r: &OpenAiReport) {
    println!(
        "(b) openai backend, local server answering after {} ms, concurrency {}: {} drafts",
        r.latency_ms, r.concurrency, r.drafts
    );
    println!(
        "    {:.1} drafts/s; endpoint ceiling {:.0}/s; ratio {:.3}; goal ≥ {:.0}/s: {}\n",
        r.drafts_per_sec,
        r.ceiling_per_sec,
        r.ratio,
        r.goal_per_sec,
        met(r.met)
    );
}

fn print_tokens(r: &TokenReport) {
    println!(
        "(c) Model tokens for {} contacts across {} accounts (openai backend, real engine on SQLite); {}",
        r.contacts, r.accounts, r.estimate
    );
    let mut table = crate::output::table(&[
        "research",
        "drafted",
        "research calls",
        "research tokens",
        "draft calls",
        "draft tokens",
        "total tokens",
        "tokens / contact",
    ]);
    for (name, run) in [
        ("per account (reused)", &r.reuse),
        ("per contact (baseline)", &r.per_contact),
    ] {
        table.add_row(vec![
            name.to_string(),
            run.drafted.to_string(),
            run.research_calls.to_string(),
            run.research_tokens.to_string(),
            run.draft_calls.to_string(),
            run.draft_tokens.to_string(),
            run.total_tokens.to_string(),
            format!("{:.1}", run.tokens_per_contact),
        ]);
    }
    println!("{table}");
    println!(
        "    per call: research {:.0} tokens, draft {:.0} tokens",
        r.reuse.research_tokens_per_call, r.reuse.draft_tokens_per_call
    );
    println!(
        "    ratio reused / per contact: {:.3}; goal ≤ {:.1}: {}",
        r.ratio,
        r.goal_ratio,
        met(r.met)
    );
    if !r.met {
        println!(
            "    (reuse removes the research calls but not the drafts: each contact still needs its own draft prompt, which carries the research; the ratio cannot fall below draft ÷ (research + draft) per contact)"
        );
    }
}

fn met(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

const MAIL_MERGE_SUBJECT: &str = "Quick question for {{company}}";
const MAIL_MERGE_BODY: &str = "Hi {{first_name}},\n\nI work with teams like {{company}} on closing the books faster. Would a 15-minute call next week be useful?\n\nBest,\nDana";

/// The baseline: one fixed template, two substitutions.
fn mail_merge(input: &ModelInput) -> (String, String) {
    let first = input.field("contact.first_name").unwrap_or("there");
    let company = input.field("account.name").unwrap_or("your team");
    (
        MAIL_MERGE_SUBJECT.replace("{{company}}", company),
        MAIL_MERGE_BODY
            .replace("{{first_name}}", first)
            .replace("{{company}}", company),
    )
}

/// Inputs as the engine builds them: candidates through the playbook's
/// data access, template research from the account, the content center
/// offered for the prospect's audience; every touch of every sequence.
fn template_inputs(playbook: &Playbook, prospects: usize) -> Vec<ModelInput> {
    let policy = DataAccessPolicy::new(&playbook.governance.data_access);
    let mut inputs = Vec::new();
    for p in 0..prospects {
        let company = company(p / 7);
        let person = person(p);
        let facts = company.facts();
        let research = summarize(&policy, &[], &facts, &playbook.content);
        let mut candidates = vec![
            ("contact.first_name".to_string(), person.first.to_string()),
            ("contact.last_name".to_string(), person.last.to_string()),
            ("contact.title".to_string(), person.title.to_string()),
            (
                "contact.seniority".to_string(),
                person.seniority.to_string(),
            ),
            (
                "contact.department".to_string(),
                person.department.to_string(),
            ),
            (
                "contact.email".to_string(),
                format!("{}@{}", person.first.to_lowercase(), company.domain),
            ),
            ("contact.phone".to_string(), format!("+1 555 01{p:04}")),
        ];
        candidates.extend(facts.candidates());
        candidates.extend(research.facts);
        let audience = Audience {
            seniority: Some(person.seniority.to_string()),
            department: Some(person.department.to_string()),
            industry: Some(company.industry.to_string()),
            employees: Some(company.employees),
            country: Some(company.country.to_string()),
        };
        let content = offer(&playbook.content, &audience);
        for (name, sequence) in &playbook.sequences {
            let touches: Vec<_> = sequence
                .steps
                .iter()
                .filter(|s| s.kind != StepKind::Wait)
                .collect();
            for (index, step) in touches.iter().enumerate() {
                inputs.push(ModelInput::build(
                    &policy,
                    StepBrief {
                        sequence: name.clone(),
                        sequence_type: sequence.sequence_type.clone(),
                        index: index as u32,
                        count: touches.len() as u32,
                        kind: step.kind,
                        thread: step.thread,
                        note: step.note.clone(),
                        thread_subject: None,
                    },
                    SenderBrief {
                        name: "Dana Reyes".into(),
                        company: playbook.workspace.name.clone(),
                    },
                    candidates.clone(),
                    &[],
                    content.clone(),
                ));
            }
        }
    }
    inputs
}

struct Company {
    name: String,
    domain: String,
    industry: &'static str,
    employees: i64,
    technologies: Vec<&'static str>,
    country: &'static str,
}

impl Company {
    fn facts(&self) -> AccountFacts {
        AccountFacts {
            name: self.name.clone(),
            domain: self.domain.clone(),
            industry: Some(self.industry.to_string()),
            employees: Some(self.employees),
            revenue: Some(self.employees * 180_000),
            technologies: self.technologies.iter().map(|t| t.to_string()).collect(),
            country: Some(self.country.to_string()),
            signals: Vec::new(),
        }
    }
}

const PREFIXES: [&str; 20] = [
    "North", "Blue", "Iron", "Bright", "Silver", "Clear", "Summit", "Harbor", "Red", "Stone",
    "Green", "Swift", "Oak", "Pine", "Lumen", "Vista", "Cedar", "Atlas", "Nova", "Quarry",
];
const SUFFIXES: [&str; 10] = [
    "beam", "ledger", "works", "field", "path", "gate", "point", "line", "forge", "bridge",
];
const INDUSTRIES: [&str; 8] = [
    "Fintech",
    "Software",
    "Logistics",
    "Healthcare",
    "Manufacturing",
    "Retail",
    "Insurance",
    "Education",
];
const TECH: [&str; 10] = [
    "Snowflake",
    "Salesforce",
    "NetSuite",
    "dbt",
    "HubSpot",
    "Workday",
    "SAP",
    "Looker",
    "Stripe",
    "Zendesk",
];
const COUNTRIES: [&str; 5] = [
    "United States",
    "Germany",
    "United Kingdom",
    "France",
    "Canada",
];

/// The `i`-th generated account; under 1,000 employees, so no account hits
/// the default playbook's high-value research escalation.
fn company(i: usize) -> Company {
    let name = format!(
        "{}{}{}",
        PREFIXES[i % PREFIXES.len()],
        SUFFIXES[(i / PREFIXES.len()) % SUFFIXES.len()],
        if i >= PREFIXES.len() * SUFFIXES.len() {
            format!(" {}", i / (PREFIXES.len() * SUFFIXES.len()) + 1)
        } else {
            String::new()
        }
    );
    let domain = format!("{}.com", name.to_lowercase().replace(' ', "-"));
    let technologies = (0..(2 + i % 3))
        .map(|k| TECH[(i * 3 + k * 7) % TECH.len()])
        .collect();
    Company {
        name,
        domain,
        industry: INDUSTRIES[i % INDUSTRIES.len()],
        employees: 40 + ((i * 137) % 900) as i64,
        technologies,
        country: COUNTRIES[(i / 3) % COUNTRIES.len()],
    }
}

struct Person {
    first: &'static str,
    last: &'static str,
    title: &'static str,
    seniority: &'static str,
    department: &'static str,
}

const FIRST: [&str; 16] = [
    "Ina", "Tom", "Lea", "Priya", "Marco", "Aiko", "Sam", "Nora", "Felix", "Maya", "Omar", "Julia",
    "Ken", "Rosa", "David", "Elif",
];
const LAST: [&str; 12] = [
    "Roe", "Ash", "Fox", "Raman", "Silva", "Tanaka", "Berg", "Novak", "Okafor", "Meyer", "Park",
    "Costa",
];
/// Titles below VP: a VP or C-suite contact waits for a person before
/// enrolment in the default playbook.
const TITLES: [(&str, &str, &str); 8] = [
    ("Financial Controller", "manager", "finance"),
    ("Director of Finance", "director", "finance"),
    ("Head of Data", "director", "engineering"),
    ("Data Engineer", "senior", "engineering"),
    ("Operations Manager", "manager", "operations"),
    ("Director of Operations", "director", "operations"),
    ("Accounting Manager", "manager", "finance"),
    ("Senior Analyst", "senior", "finance"),
];

fn person(i: usize) -> Person {
    let (title, seniority, department) = TITLES[(i * 5) % TITLES.len()];
    Person {
        first: FIRST[i % FIRST.len()],
        last: LAST[(i / FIRST.len() + i) % LAST.len()],
        title,
        seniority,
        department,
    }
}

/// An Apollo-style export: `accounts` accounts, `per_account` contacts each.
fn contacts_csv(accounts: usize, per_account: usize) -> String {
    let mut csv = String::from(
        "First Name,Last Name,Title,Company,Email,# Employees,Industry,Website,Country,Technologies,Apollo Contact Id\n",
    );
    for a in 0..accounts {
        let company = company(a);
        for c in 0..per_account {
            let n = a * per_account + c;
            let person = person(n);
            csv.push_str(&format!(
                "{},{},{},{},{}.{}{}@{},{},{},{},{},\"{}\",b{n}\n",
                person.first,
                person.last,
                person.title,
                company.name,
                person.first.to_lowercase(),
                person.last.to_lowercase(),
                n,
                company.domain,
                company.employees,
                company.industry,
                company.domain,
                company.country,
                company.technologies.join(", "),
            ));
        }
    }
    csv
}
