//! `handoff bench import`: the list-building pipeline on a large Apollo
//! export, against DuckDB loading the same file and computing the same ICP
//! score in SQL, measured in the same run.
//!
//! The CSV is generated (streamed to disk from a seeded generator, so every
//! run with the same `--rows` and `--seed` reads the same bytes): varied
//! titles in several languages, names, companies with multi-part domains,
//! sizes as numbers and as bands, industries, technologies, a few percent of
//! bad rows (empty or malformed email, a broken quote) and about 2% repeated
//! emails with a new title or company.
//!
//! handoff: a fresh SQLite database and `import_file` with the default
//! playbook, which verifies (offline) and scores each contact as it writes
//! it, the same verdicts and scores `handoff verify --offline` and `handoff
//! score` give (crates/engine/tests/fused_import.rs holds them equal). DuckDB (a python3 subprocess, timed inside python): `read_csv`
//! into a table, then one `CREATE TABLE AS` that keeps rows with a usable
//! email, keeps the last row per email, and sums the playbook's rules
//! translated to SQL by [`CompiledCondition::to_sql`].
//!
//! [`CompiledCondition::to_sql`]: handoff_domain::scoring::CompiledCondition::to_sql

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::Serialize;

use handoff_domain::Actor;
use handoff_domain::playbook::{self, DEFAULT_PLAYBOOK, IcpTiers};
use handoff_domain::scoring::CompiledCondition;
use handoff_domain::titles::normalize_title;
use handoff_engine::list_building::import::{ImportOptions, import_file};
use handoff_engine::list_building::score::ImportAssessor;
use handoff_store::{CommandContext, Schema, Store};
use handoff_store_sqlite::{Durability, SqliteStore};

#[derive(Debug, Args)]
pub struct ImportCmd {
    /// Data rows in the generated CSV.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// Keep the CSV and both databases in DIR (created if missing) instead
    /// of a temporary folder that is removed at the end.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Seed of the data generator.
    #[arg(long, default_value_t = 20_261_123)]
    seed: u64,
    /// Write the broken-quote rows without trailing padding, so they read
    /// as fewer columns than the header (import_file then fails writing
    /// its rejects file: the rejects CSV writer is not flexible).
    #[arg(long)]
    ragged_broken_quotes: bool,
    /// The python3 to run DuckDB with.
    #[arg(long, default_value = "python3")]
    python: String,
    #[arg(long)]
    json: bool,
}

// ── Report ───────────────────────────────────────────────────────────────

#[derive(Debug, Serialize)]
struct Report {
    rows: u64,
    seed: u64,
    csv_bytes: u64,
    generated: GenStats,
    handoff: HandoffSide,
    duckdb: Option<DuckSide>,
    /// Why there is no DuckDB side, when there is none.
    duckdb_missing: Option<String>,
    /// handoff seconds ÷ DuckDB seconds (goal ≤ 1.0).
    ratio: Option<f64>,
    /// Rule ids and the SQL each became; untranslated rules are listed in
    /// `rules_left_out` and not part of the DuckDB score.
    rules_sql: Vec<(String, String)>,
    rules_left_out: Vec<String>,
    comparison: Option<Comparison>,
    goals: Goals,
}

#[derive(Debug, Serialize)]
struct Goals {
    ratio_at_most: f64,
    peak_memory_mb_at_most_at_1m_rows: f64,
}

#[derive(Debug, Default, Serialize)]
struct GenStats {
    companies: u64,
    duplicates: u64,
    empty_email: u64,
    malformed_email: u64,
    broken_quote: u64,
    seconds: f64,
}

#[derive(Debug, Serialize)]
struct HandoffSide {
    seconds: f64,
    rows_per_sec: f64,
    open_migrate_seconds: f64,
    /// Parse, normalise, verify (offline) and score, written once.
    import_seconds: f64,
    /// VmHWM of this process after the pipeline, generator included.
    peak_memory_mb: f64,
    rows_read: u64,
    imported: u64,
    merged: u64,
    unchanged: u64,
    rejected: u64,
    job_changes: u64,
    accounts_created: u64,
    warnings: u64,
    verified: u64,
    verdicts: BTreeMap<String, u64>,
    scored: u64,
    database_mb: f64,
}

#[derive(Debug, Serialize)]
struct DuckSide {
    version: String,
    threads: u64,
    seconds: f64,
    rows_per_sec: f64,
    load_seconds: f64,
    score_seconds: f64,
    rows_loaded: u64,
    rows_scored: u64,
    /// Peak RSS of the python process (interpreter and DuckDB).
    peak_memory_mb: f64,
}

#[derive(Debug, Serialize)]
struct Comparison {
    handoff_contacts: u64,
    duckdb_contacts: u64,
    /// Per tier (score ≥ the playbook's minimum): handoff, DuckDB.
    tiers: Vec<(String, u64, u64)>,
    /// Scores whose count differs between the two sides.
    differing_scores: Vec<(u8, u64, u64)>,
    identical: bool,
}

// ── The run ──────────────────────────────────────────────────────────────

impl ImportCmd {
    pub async fn run(self) -> Result<ExitCode> {
        let temp;
        let dir: &Path = match &self.keep {
            Some(dir) => {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                dir
            }
            None => {
                temp = tempfile::tempdir().context("cannot create a temporary folder")?;
                temp.path()
            }
        };
        let csv = dir.join("apollo-export.csv");
        let handoff_db = dir.join("handoff.db");
        let duck_db = dir.join("duckdb.db");
        let titles_csv = dir.join("titles.csv");
        for stale in [
            &handoff_db,
            &dir.join("handoff.db-wal"),
            &dir.join("handoff.db-shm"),
            &duck_db,
            &dir.join("duckdb.db.wal"),
            &dir.join("apollo-export.rejects.csv"),
        ] {
            if stale.exists() {
                std::fs::remove_file(stale)
                    .with_context(|| format!("cannot remove {}", stale.display()))?;
            }
        }

        if !self.json {
            eprintln!("generating {} rows into {} …", self.rows, csv.display());
        }
        let generated = generate(&csv, self.rows, self.seed, !self.ragged_broken_quotes)?;
        let csv_bytes = std::fs::metadata(&csv).map(|m| m.len()).unwrap_or(0);

        let playbook = playbook::parse(DEFAULT_PLAYBOOK, "default playbook")
            .map_err(|d| anyhow::anyhow!("the default playbook does not parse: {d:?}"))?;

        if !self.json {
            eprintln!("handoff: import (verify offline, score) …");
        }
        let handoff = self.run_handoff(&csv, &handoff_db, &playbook).await?;

        // The same rules in SQL.
        let mut rules_sql = Vec::new();
        let mut rules_left_out = Vec::new();
        let mut terms = Vec::new();
        for (index, rule) in playbook.icp.rules.iter().enumerate() {
            let id = rule
                .id
                .clone()
                .unwrap_or_else(|| format!("rule-{}", index + 1));
            let sql = CompiledCondition::compile(rule.when.as_str())
                .ok()
                .and_then(|condition| condition.to_sql(&duckdb_column));
            match sql {
                Some(sql) => {
                    terms.push(format!("CASE WHEN {sql} THEN {} ELSE 0 END", rule.points));
                    rules_sql.push((id, sql));
                }
                None => rules_left_out.push(format!("{id}: {}", rule.when.as_str())),
            }
        }
        let score_sql = format!(
            "LEAST(100, GREATEST(0, {}))",
            if terms.is_empty() {
                "0".to_string()
            } else {
                terms.join("\n + ")
            }
        );
        write_titles(&titles_csv)?;

        if !self.json {
            eprintln!("DuckDB: read_csv → score in SQL …");
        }
        let (duckdb, duckdb_missing) =
            match self.run_duckdb(dir, &csv, &duck_db, &titles_csv, &score_sql) {
                Ok(result) => (Some(result), None),
                Err(e) => (None, Some(format!("{e:#}"))),
            };
        let comparison = match &duckdb {
            Some(duck) => Some(compare(&handoff_db, &duck.histogram, &playbook.icp.tiers)?),
            None => None,
        };
        let ratio = duckdb
            .as_ref()
            .map(|duck| handoff.seconds / duck.side.seconds.max(1e-9));
        let report = Report {
            rows: self.rows,
            seed: self.seed,
            csv_bytes,
            generated,
            handoff,
            duckdb: duckdb.map(|d| d.side),
            duckdb_missing,
            ratio,
            rules_sql,
            rules_left_out,
            comparison,
            goals: Goals {
                ratio_at_most: 1.0,
                peak_memory_mb_at_most_at_1m_rows: 500.0,
            },
        };
        if self.json {
            crate::output::print_json(&report)?;
        } else {
            print_report(&report);
        }
        if let Some(dir) = &self.keep {
            eprintln!("kept the CSV and both databases in {}", dir.display());
        }
        Ok(ExitCode::SUCCESS)
    }

    async fn run_handoff(
        &self,
        csv: &Path,
        db: &Path,
        playbook: &playbook::Playbook,
    ) -> Result<HandoffSide> {
        let ctx = CommandContext::new(Actor::system("bench"), None);
        let start = Instant::now();
        let sqlite = SqliteStore::open(db, Durability::Normal)?;
        sqlite.migrate().await?;
        let store: Arc<dyn Store> = Arc::new(sqlite);
        let open_migrate = start.elapsed().as_secs_f64();

        // One pass: parse, normalise, verify offline and score each contact
        // as it is written (what `handoff import` does with a playbook).
        let assessor = ImportAssessor::new(playbook, None).context("the ICP rules")?;
        let options = ImportOptions {
            assess: Some(Arc::new(assessor)),
            ..ImportOptions::default()
        };
        let phase = Instant::now();
        let report = import_file(store.as_ref(), &ctx, csv, &options, &|_, _| {})
            .await
            .context("the import failed")?;
        let import_seconds = phase.elapsed().as_secs_f64();
        let seconds = start.elapsed().as_secs_f64();
        let peak_memory_mb = vm_hwm_mb().unwrap_or(f64::NAN);
        drop(store);
        let (verdicts, scored) = stored_outcomes(db)?;

        let database_mb = ["", "-wal"]
            .iter()
            .filter_map(|suffix| {
                let mut path = db.as_os_str().to_owned();
                path.push(suffix);
                std::fs::metadata(PathBuf::from(path)).ok()
            })
            .map(|m| m.len() as f64 / 1e6)
            .sum();
        Ok(HandoffSide {
            seconds,
            rows_per_sec: self.rows as f64 / seconds.max(1e-9),
            open_migrate_seconds: open_migrate,
            import_seconds,
            peak_memory_mb,
            rows_read: report.rows,
            imported: report.imported,
            merged: report.merged,
            unchanged: report.unchanged,
            rejected: report.rejected,
            job_changes: report.job_changes,
            accounts_created: report.accounts_created,
            warnings: report.warnings,
            verified: verdicts.values().sum(),
            verdicts,
            scored,
            database_mb,
        })
    }

    fn run_duckdb(
        &self,
        dir: &Path,
        csv: &Path,
        db: &Path,
        titles: &Path,
        score_sql: &str,
    ) -> Result<DuckRun> {
        let has_duckdb = |python: &str| {
            Command::new(python)
                .args(["-c", "import duckdb"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if !has_duckdb(&self.python) {
            if !self.json {
                eprintln!(
                    "the duckdb python package is missing: `{} -m pip install duckdb` …",
                    self.python
                );
            }
            let installed = Command::new(&self.python)
                .args(["-m", "pip", "install", "--quiet", "duckdb"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !installed || !has_duckdb(&self.python) {
                bail!(
                    "DuckDB is not available: `{} -c 'import duckdb'` fails and `{} -m pip install duckdb` did not fix it; only the handoff side is reported",
                    self.python,
                    self.python
                );
            }
        }
        let config = serde_json::json!({
            "csv": csv,
            "db": db,
            "titles": titles,
            "macros": DUCKDB_MACROS,
            "load_sql": DUCKDB_LOAD,
            "score_sql": DUCKDB_SCORE.replace("{score}", score_sql),
        });
        let config_path = dir.join("duckdb-bench.json");
        std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
        let script_path = dir.join("duckdb-bench.py");
        std::fs::write(&script_path, DUCKDB_SCRIPT)?;
        let output = Command::new(&self.python)
            .arg(&script_path)
            .arg(&config_path)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", self.python))?;
        if !output.status.success() {
            bail!("the DuckDB script failed ({})", output.status);
        }
        let out: serde_json::Value = serde_json::from_slice(&output.stdout)
            .context("the DuckDB script printed something other than its JSON result")?;
        let number = |key: &str| {
            out.get(key)
                .and_then(serde_json::Value::as_f64)
                .unwrap_or(f64::NAN)
        };
        let count = |key: &str| {
            out.get(key)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        let mut histogram = BTreeMap::new();
        if let Some(map) = out.get("histogram").and_then(serde_json::Value::as_object) {
            for (score, n) in map {
                if let (Ok(score), Some(n)) = (score.parse::<u8>(), n.as_u64()) {
                    histogram.insert(score, n);
                }
            }
        }
        let seconds = number("total_seconds");
        Ok(DuckRun {
            side: DuckSide {
                version: out
                    .get("version")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                threads: count("threads"),
                seconds,
                rows_per_sec: self.rows as f64 / seconds.max(1e-9),
                load_seconds: number("load_seconds"),
                score_seconds: number("score_seconds"),
                rows_loaded: count("rows_loaded"),
                rows_scored: count("rows_scored"),
                peak_memory_mb: number("peak_rss_kb") / 1024.0,
            },
            histogram,
        })
    }
}

struct DuckRun {
    side: DuckSide,
    histogram: BTreeMap<u8, u64>,
}

/// Peak resident memory of this process (VmHWM), in MB.
fn vm_hwm_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024.0 / 1e6)
}

/// Verdicts (as `handoff verify` counts them) and scored contacts, read
/// from the database after the run.
fn stored_outcomes(db: &Path) -> Result<(BTreeMap<String, u64>, u64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut verdicts = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT verification_status, verification_reason, count(*) FROM contacts
         WHERE verification_status IS NOT NULL GROUP BY 1, 2",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let status: String = row.get(0)?;
        let reason: Option<String> = row.get(1)?;
        let n: i64 = row.get(2)?;
        let verdict = match reason {
            Some(reason) => format!("{status} ({reason})"),
            None => status,
        };
        verdicts.insert(verdict, n.max(0) as u64);
    }
    let scored: i64 = conn.query_row(
        "SELECT count(*) FROM contacts WHERE icp_score IS NOT NULL",
        [],
        |r| r.get(0),
    )?;
    Ok((verdicts, scored.max(0) as u64))
}

/// The score histogram handoff stored, against DuckDB's.
fn compare(db: &Path, duck: &BTreeMap<u8, u64>, tiers: &IcpTiers) -> Result<Comparison> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut ours: BTreeMap<u8, u64> = BTreeMap::new();
    let mut stmt = conn.prepare(
        "SELECT icp_score, count(*) FROM contacts WHERE icp_score IS NOT NULL GROUP BY 1",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let score: i64 = row.get(0)?;
        let n: i64 = row.get(1)?;
        ours.insert(score.clamp(0, 100) as u8, n.max(0) as u64);
    }
    let total = |h: &BTreeMap<u8, u64>| h.values().sum::<u64>();
    let between = |h: &BTreeMap<u8, u64>, lo: i64, hi: i64| {
        h.iter()
            .filter(|(s, _)| i64::from(**s) >= lo && i64::from(**s) < hi)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let bands = [
        (
            format!("excellent (≥ {})", tiers.excellent),
            tiers.excellent,
            101,
        ),
        (
            format!("good ({}–{})", tiers.good, tiers.excellent - 1),
            tiers.good,
            tiers.excellent,
        ),
        (
            format!("fair ({}–{})", tiers.fair, tiers.good - 1),
            tiers.fair,
            tiers.good,
        ),
        (format!("not a fit (< {})", tiers.fair), 0, tiers.fair),
    ];
    let tiers = bands
        .into_iter()
        .map(|(name, lo, hi)| (name, between(&ours, lo, hi), between(duck, lo, hi)))
        .collect();
    let mut differing = Vec::new();
    for score in 0..=100u8 {
        let (a, b) = (
            ours.get(&score).copied().unwrap_or(0),
            duck.get(&score).copied().unwrap_or(0),
        );
        if a != b {
            differing.push((score, a, b));
        }
    }
    Ok(Comparison {
        handoff_contacts: total(&ours),
        duckdb_contacts: total(duck),
        identical: differing.is_empty(),
        tiers,
        differing_scores: differing,
    })
}

fn print_report(r: &Report) {
    let h = &r.handoff;
    println!(
        "List building on {} generated Apollo rows ({:.0} MB CSV, seed {}): handoff (SQLite) vs DuckDB, same run",
        r.rows,
        r.csv_bytes as f64 / 1e6,
        r.seed
    );
    let mut table = crate::output::table(&["", "seconds", "rows/s", "peak memory MB"]);
    table.add_row(vec![
        "handoff total".to_string(),
        format!("{:.2}", h.seconds),
        format!("{:.0}", h.rows_per_sec),
        format!("{:.0}", h.peak_memory_mb),
    ]);
    for (name, seconds) in [
        ("  open + migrate", h.open_migrate_seconds),
        ("  import_file (verify offline + score)", h.import_seconds),
    ] {
        table.add_row(vec![
            name.to_string(),
            format!("{seconds:.2}"),
            format!("{:.0}", r.rows as f64 / seconds.max(1e-9)),
            String::new(),
        ]);
    }
    match &r.duckdb {
        Some(d) => {
            table.add_row(vec![
                format!("DuckDB {} total ({} threads)", d.version, d.threads),
                format!("{:.2}", d.seconds),
                format!("{:.0}", d.rows_per_sec),
                format!("{:.0} (python process)", d.peak_memory_mb),
            ]);
            for (name, seconds) in [
                ("  read_csv into a table", d.load_seconds),
                ("  score (CREATE TABLE AS)", d.score_seconds),
            ] {
                table.add_row(vec![
                    name.to_string(),
                    format!("{seconds:.2}"),
                    format!("{:.0}", r.rows as f64 / seconds.max(1e-9)),
                    String::new(),
                ]);
            }
        }
        None => {
            table.add_row(vec![
                "DuckDB".to_string(),
                "–".to_string(),
                "–".to_string(),
                "–".to_string(),
            ]);
        }
    }
    println!("{table}");
    match r.ratio {
        Some(ratio) => println!(
            "ratio handoff / DuckDB: {ratio:.2} (goal ≤ {:.1}){}",
            r.goals.ratio_at_most,
            if ratio <= r.goals.ratio_at_most {
                ""
            } else {
                "  ✗ not met"
            }
        ),
        None => println!(
            "no DuckDB side: {}",
            r.duckdb_missing.as_deref().unwrap_or("unknown reason")
        ),
    }
    // Streaming: memory should not grow with the file, so the 1M-row goal
    // holds at any size.
    let memory_goal = r.goals.peak_memory_mb_at_most_at_1m_rows;
    println!(
        "peak memory (VmHWM, includes the streaming CSV generator): {:.0} MB (goal ≤ {:.0} MB at 1M rows){}",
        h.peak_memory_mb,
        r.goals.peak_memory_mb_at_most_at_1m_rows,
        if h.peak_memory_mb <= memory_goal {
            ""
        } else {
            "  ✗ not met"
        }
    );
    println!();

    let g = &r.generated;
    println!(
        "Generated: {} companies, {} repeated emails (new title or company), bad rows: {} empty email, {} malformed email, {} broken quote ({:.1} s, not timed)",
        g.companies, g.duplicates, g.empty_email, g.malformed_email, g.broken_quote, g.seconds
    );
    println!(
        "handoff: {} rows read, {} contacts imported, {} merged, {} unchanged, {} rejected, {} job changes, {} accounts, {} cell warnings; {} verified ({}); {} scored; database {:.0} MB",
        h.rows_read,
        h.imported,
        h.merged,
        h.unchanged,
        h.rejected,
        h.job_changes,
        h.accounts_created,
        h.warnings,
        h.verified,
        h.verdicts
            .iter()
            .map(|(v, n)| format!("{v}: {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        h.scored,
        h.database_mb
    );
    if let Some(d) = &r.duckdb {
        println!(
            "DuckDB: {} rows loaded by read_csv ({} dropped as unreadable), {} contacts scored",
            d.rows_loaded,
            r.rows.saturating_sub(d.rows_loaded),
            d.rows_scored
        );
    }
    if let Some(c) = &r.comparison {
        let mut table = crate::output::table(&["score", "handoff", "DuckDB"]);
        table.add_row(vec![
            "contacts scored".to_string(),
            c.handoff_contacts.to_string(),
            c.duckdb_contacts.to_string(),
        ]);
        for (name, a, b) in &c.tiers {
            table.add_row(vec![name.clone(), a.to_string(), b.to_string()]);
        }
        println!("{table}");
        if c.identical {
            println!("Score histograms (every score 0–100): identical.");
        } else {
            let shown: Vec<String> = c
                .differing_scores
                .iter()
                .take(10)
                .map(|(s, a, b)| format!("{s}: {a} vs {b}"))
                .collect();
            println!(
                "Score histograms differ at {} score(s): {}",
                c.differing_scores.len(),
                shown.join(", ")
            );
        }
    }
    println!();
    println!(
        "What DuckDB computes (timed inside python, interpreter start and `import duckdb` excluded):"
    );
    println!(
        "  1. read_csv(all_varchar, strict_mode=false, ignore_errors) of the same file into a table (lenient with the broken quotes, as handoff's reader);\n  \
         2. CREATE TABLE AS: rows whose email passes a regex equivalent to handoff's email parse, \
         the last row per lower-cased email (handoff merges repeats field by field; the generator \
         never blanks a field in a repeat, so the last row is what handoff ends with), \
         and the playbook's rules as SQL summed and clamped to 0–100."
    );
    println!(
        "  DuckDB does strictly less work than handoff: no title normaliser (seniority and department \
         come from a join with a table of the generator's distinct titles, normalised beforehand by \
         handoff's own normaliser), no address verification, no accounts table, provenance, reasons or ledger."
    );
    for (id, sql) in &r.rules_sql {
        println!("  {id}: {sql}");
    }
    if r.rules_left_out.is_empty() {
        println!("  Every rule translated to SQL.");
    } else {
        println!(
            "  Rules that do not translate to SQL and are left out of DuckDB's score: {}",
            r.rules_left_out.join("; ")
        );
    }
}

// ── DuckDB ───────────────────────────────────────────────────────────────

/// The SQL of a fact, over the CSV's columns (`l`) and the title table
/// (`t`); None for facts the CSV does not hold.
fn duckdb_column(path: &str) -> Option<String> {
    let sql = match path {
        "account.industry" => r#"lower(trim(l."Industry"))"#,
        "account.employees" => r##"handoff_employees(l."# Employees")"##,
        "account.technologies" => {
            r#"regexp_split_to_array(lower(trim(l."Technologies")), '\s*[,;|]\s*')"#
        }
        "account.name" | "contact.company" => r#"trim(l."Company")"#,
        "account.country" | "contact.country" => r#"trim(l."Country")"#,
        "account.tags" => "CAST([] AS VARCHAR[])",
        "contact.email" => "l.email_key",
        "contact.first_name" => r#"trim(l."First Name")"#,
        "contact.last_name" => r#"trim(l."Last Name")"#,
        "contact.title" => r#"trim(l."Title")"#,
        "contact.city" => r#"trim(l."City")"#,
        "contact.seniority" => "coalesce(t.seniority, 'unknown')",
        "contact.department" => "coalesce(t.department, 'other')",
        _ => return None,
    };
    Some(sql.to_string())
}

/// `parse_employees` in SQL: "1,200", "51-200" (the middle), "10,001+".
const DUCKDB_MACROS: &str = r#"
CREATE OR REPLACE MACRO handoff_digits(raw) AS
    replace(replace(rtrim(trim(raw), '+'), ',', ''), ' ', '');
CREATE OR REPLACE MACRO handoff_band(s) AS
    CASE WHEN contains(s, '-') THEN
        CASE WHEN TRY_CAST(split_part(s, '-', 1) AS BIGINT) <= TRY_CAST(split_part(s, '-', 2) AS BIGINT)
             THEN (TRY_CAST(split_part(s, '-', 1) AS BIGINT) + TRY_CAST(split_part(s, '-', 2) AS BIGINT)) // 2
        END
    ELSE CAST(round(TRY_CAST(s AS DOUBLE)) AS BIGINT) END;
CREATE OR REPLACE MACRO handoff_employees(raw) AS handoff_band(handoff_digits(raw));
"#;

const DUCKDB_LOAD: &str = r#"
CREATE TABLE titles AS SELECT * FROM read_csv({titles}, header = true, all_varchar = true);
CREATE TABLE contacts_raw AS SELECT * FROM read_csv({csv}, header = true, all_varchar = true,
    delim = ',', quote = '"', escape = '"', strict_mode = false, ignore_errors = true);
"#;

/// `{score}` is replaced by the rules' sum.
const DUCKDB_SCORE: &str = r#"
CREATE TABLE contacts_scored AS
WITH valid AS (
    SELECT rowid AS rn, lower(trim("Email")) AS email_key, *
    FROM contacts_raw
    WHERE "Email" IS NOT NULL
      AND strlen(trim("Email")) <= 254
      AND NOT regexp_matches(trim("Email"), '[[:space:][:cntrl:]]')
      AND regexp_full_match(trim("Email"), '.+@[^@]*[^@.][^@]*')
), latest AS (
    SELECT * FROM valid
    QUALIFY row_number() OVER (PARTITION BY email_key ORDER BY rn DESC) = 1
)
SELECT l.*, coalesce(t.seniority, 'unknown') AS seniority, coalesce(t.department, 'other') AS department,
    {score} AS score
FROM latest l LEFT JOIN titles t ON t.title = trim(l."Title");
"#;

const DUCKDB_SCRIPT: &str = r#"
import json, resource, sys, time

config = json.load(open(sys.argv[1]))
import duckdb

def literal(path):
    return "'" + str(path).replace("'", "''") + "'"

load_sql = config["load_sql"].replace("{titles}", literal(config["titles"])).replace("{csv}", literal(config["csv"]))

start = time.perf_counter()
con = duckdb.connect(config["db"])
con.execute(config["macros"])
con.execute(load_sql)
loaded = time.perf_counter()
con.execute(config["score_sql"])
con.execute("CHECKPOINT")
done = time.perf_counter()

rows_loaded = con.execute("SELECT count(*) FROM contacts_raw").fetchone()[0]
rows_scored = con.execute("SELECT count(*) FROM contacts_scored").fetchone()[0]
histogram = {str(s): n for s, n in con.execute("SELECT score, count(*) FROM contacts_scored GROUP BY 1").fetchall()}
threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
print(json.dumps({
    "version": duckdb.__version__,
    "threads": int(threads),
    "load_seconds": loaded - start,
    "score_seconds": done - loaded,
    "total_seconds": done - start,
    "rows_loaded": rows_loaded,
    "rows_scored": rows_scored,
    "histogram": histogram,
    "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"#;

/// Every title the generator writes, with handoff's reading of it.
fn write_titles(path: &Path) -> Result<()> {
    let mut out = BufWriter::new(File::create(path)?);
    writeln!(out, "title,seniority,department")?;
    let mut line = String::new();
    for (titles, _) in TITLE_GROUPS {
        for title in *titles {
            let normalized = normalize_title(title);
            line.clear();
            push_field(&mut line, title);
            line.push(',');
            line.push_str(normalized.seniority.as_str());
            line.push(',');
            line.push_str(normalized.department.as_str());
            line.push('\n');
            out.write_all(line.as_bytes())?;
        }
    }
    out.flush()?;
    Ok(())
}

// ── The generator ────────────────────────────────────────────────────────

/// splitmix64: tiny, seeded, good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items
            .get(self.below(items.len()))
            .copied()
            .unwrap_or_default()
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Titles by seniority, with how often each group occurs (per mille).
const TITLE_GROUPS: &[(&[&str], u32)] = &[
    (
        &[
            "CEO",
            "Chief Executive Officer",
            "Co-Founder & CEO",
            "Founder",
            "CFO",
            "Chief Financial Officer",
            "CTO",
            "Chief Technology Officer",
            "COO",
            "Chief Operating Officer",
            "CMO",
            "Chief Marketing Officer",
            "CRO",
            "Chief Revenue Officer",
            "CIO",
            "CHRO",
            "Chief People Officer",
            "President",
            "Owner",
            "Managing Partner",
            "Co-founder & CTO",
            "President & COO",
            "CEO & CTO",
            "Managing Director",
            "General Manager",
            "Directeur Général",
            "PDG",
            "Geschäftsführer",
            "Director General",
            "Amministratore Delegato",
            "Chief Data Officer",
            "Chief Strategy Officer",
            "Chief Accounting Officer",
            "Founder, Acme Software",
        ],
        80,
    ),
    (
        &[
            "VP Finance",
            "VP of Finance",
            "Vice President, Finance",
            "VP Sales",
            "Vice President of Sales",
            "VP Marketing",
            "VP Engineering",
            "SVP, Engineering",
            "EVP Operations",
            "VP, Revenue Operations",
            "VP Customer Success",
            "VP Product",
            "VP People",
            "General Counsel",
            "Deputy CFO",
            "Vice President Finance & Administration",
            "RVP Sales",
            "AVP, Financial Planning & Analysis",
        ],
        80,
    ),
    (
        &[
            "Director of Finance",
            "Finance Director",
            "Director, FP&A",
            "Director of Sales",
            "Sales Director",
            "Marketing Director",
            "Director of Engineering",
            "IT Director",
            "Director of Operations",
            "HR Director",
            "Director, Customer Success",
            "Senior Director, Product Management",
            "Associate Director, Accounting",
            "Directeur Financier",
            "Directrice marketing",
            "Directeur commercial",
            "Director de Finanzas",
            "Director Comercial",
            "Leiter Finanzen",
            "Vertriebsleiter",
            "Executive Director",
            "Chief of Staff",
            "Financial Controller",
            "Director of Revenue Accounting",
            "DAF",
            "Treasurer",
        ],
        140,
    ),
    (
        &[
            "Head of Finance",
            "Head of Sales",
            "Head of Growth",
            "Head of Marketing",
            "Head of Engineering",
            "Head of Data",
            "Head of People",
            "Head of Product",
            "Head of Customer Success",
            "Head of IT",
            "Head of Legal",
            "Head of RevOps",
            "Head of FP&A",
        ],
        80,
    ),
    (
        &[
            "Finance Manager",
            "Accounting Manager",
            "Sales Manager",
            "Regional Sales Manager",
            "Marketing Manager",
            "Product Marketing Manager",
            "Engineering Manager",
            "IT Manager",
            "Operations Manager",
            "HR Manager",
            "Customer Success Manager",
            "Product Manager",
            "Project Manager",
            "Office Manager",
            "Team Lead, Accounts Payable",
            "Responsable Comptable",
            "Gerente de Ventas",
            "Teamleiter Vertrieb",
            "Payroll Manager",
            "Demand Generation Manager",
            "Sr. Mgr, Demand Gen",
            "Account Manager",
        ],
        240,
    ),
    (
        &[
            "Senior Software Engineer",
            "Staff Engineer",
            "Principal Engineer",
            "Senior Accountant",
            "Senior Financial Analyst",
            "Lead Data Scientist",
            "Senior Product Designer",
            "Senior Account Executive",
            "Principal Consultant",
            "Lead Developer",
        ],
        120,
    ),
    (
        &[
            "Software Engineer",
            "Accountant",
            "Financial Analyst",
            "FP&A Analyst",
            "Account Executive",
            "Sales Development Representative",
            "SDR",
            "Business Development Representative",
            "Marketing Coordinator",
            "Data Analyst",
            "Data Engineer",
            "Recruiter",
            "Paralegal",
            "Customer Support Specialist",
            "Solutions Engineer",
            "Sales Engineer",
            "DevOps Engineer",
            "QA Engineer",
            "UX Designer",
            "Bookkeeper",
            "Executive Assistant",
            "Assistant to the CEO",
            "Marketing Intern",
            "Junior Developer",
            "Comptable",
            "Ingénieur logiciel",
            "Softwareentwickler",
            "Analista Financiero",
            "Consultant",
            "Key Account Manager",
            "Payroll Specialist",
        ],
        240,
    ),
    (&["-", "n/a", "Mr", "Self-employed"], 20),
];

const FIRST_NAMES: &[&str] = &[
    "James",
    "Mary",
    "John",
    "Patricia",
    "Robert",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Chris",
    "Karen",
    "Daniel",
    "Lisa",
    "Matthew",
    "Nancy",
    "Anthony",
    "Sandra",
    "Mark",
    "Ashley",
    "Steven",
    "Emily",
    "Andrew",
    "Michelle",
    "Joshua",
    "Amanda",
    "Kevin",
    "Melissa",
    "Brian",
    "Stephanie",
    "Ryan",
    "Rebecca",
    "Jacob",
    "Laura",
    "Nicholas",
    "Amy",
    "Eric",
    "Anna",
    "Jonathan",
    "Kate",
    "Justin",
    "Olivia",
    "José",
    "Zoë",
    "Søren",
    "Łukasz",
    "Chloé",
    "François",
    "Björn",
    "Mónica",
    "Siobhán",
    "Jürgen",
    "Renée",
    "Ngozi",
    "Wei",
    "Yuki",
    "Priya",
    "Aarav",
    "Mohammed",
    "Fatima",
    "Hiroshi",
    "Sven",
    "Ingrid",
    "Pierre",
    "Camille",
    "Matteo",
    "Giulia",
    "Lucas",
    "Sofia",
    "Mateo",
    "Valentina",
    "Liam",
    "Noah",
    "Emma",
    "Ava",
    "Mia",
    "Lars",
    "Anja",
    "Pieter",
    "Femke",
    "Raj",
    "Ananya",
    "Chen",
    "Mei",
    "Oluwaseun",
    "Thandiwe",
    "Diego",
    "Lucía",
    "Kwame",
    "Aisha",
    "Tomasz",
    "Zofia",
    "Dmitri",
    "Olga",
    "Ahmed",
    "Leila",
    "Kenji",
    "Sakura",
    "Ethan",
    "Grace",
    "Samuel",
    "Hannah",
    "Benjamin",
    "Victoria",
    "Alexander",
    "Charlotte",
    "Oliver",
    "Isabelle",
    "Jean-Luc",
    "Marie-Claire",
];

const LAST_NAMES: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyễn",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "O'Brien",
    "Müller",
    "Schmidt",
    "Schröder",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Dubois",
    "Lefèvre",
    "Moreau",
    "Laurent",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Gómez",
    "Fernández",
    "Muñoz",
    "Jiménez",
    "Kowalski",
    "Nowak",
    "Wiśniewski",
    "Jansen",
    "de Vries",
    "van den Berg",
    "Bakker",
    "Visser",
    "Johansson",
    "Nilsson",
    "Andersen",
    "Hansen",
    "Sato",
    "Suzuki",
    "Takahashi",
    "Tanaka",
    "Wang",
    "Li",
    "Zhang",
    "Liu",
    "Chen",
    "Patel",
    "Sharma",
    "Singh",
    "Kumar",
    "Gupta",
    "Okafor",
    "Mensah",
    "Silva",
    "Santos",
    "Oliveira",
    "Souza",
    "Costa",
    "Ivanov",
    "Petrov",
    "Cohen",
    "Levi",
    "Murphy",
    "Kelly",
    "O'Connor",
    "Byrne",
    "MacDonald",
    "Campbell-Smith",
    "De la Cruz",
    "Haddad",
    "Khan",
    "Ali",
    "Yilmaz",
    "Kaya",
];

const NAME_PREFIXES: &[&str] = &[
    "Blue", "Red", "North", "South", "Bright", "Clear", "Deep", "Silver", "Golden", "Green",
    "Swift", "Quantum", "Nimbus", "Iron", "Cedar", "Maple", "Summit", "Harbor", "River", "Stone",
    "Star", "Sun", "Moon", "Pixel", "Vector", "Atlas", "Apex", "Nova", "Polar", "Coral", "Prime",
    "True", "Open", "Next", "Smart", "Rapid", "Lumen", "Echo", "Terra", "Ember",
];

const NAME_ROOTS: &[&str] = &[
    "peak", "field", "wave", "bridge", "forge", "ledger", "stack", "grid", "path", "point",
    "works", "logic", "signal", "spark", "cloud", "data", "flow", "mind", "scale", "base", "sight",
    "gate", "line", "loop", "mark", "nest", "port", "ridge", "rock", "shift", "side", "sky",
    "stream", "tide", "vault", "view", "wing", "yard", "hub", "bit",
];

const NAME_KINDS: &[&str] = &[
    "",
    "Labs",
    "Group",
    "Systems",
    "Analytics",
    "Software",
    "Health",
    "Partners",
];

/// How a company's domain is built from its name.
const DOMAIN_STYLES: &[&str] = &["", "get", "hq", "try", "app", "use"];

/// Top-level domain, country, cities, legal suffixes, weight (per mille).
type Place = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    u32,
);

const PLACES: &[Place] = &[
    (
        "com",
        "United States",
        &[
            "San Francisco",
            "New York",
            "Austin",
            "Boston",
            "Chicago",
            "Seattle",
            "Denver",
            "Atlanta",
        ],
        &[", Inc.", " Inc", " LLC", ""],
        520,
    ),
    (
        "io",
        "United States",
        &["San Francisco", "New York", "Austin", "Remote"],
        &["", ", Inc."],
        80,
    ),
    (
        "co.uk",
        "United Kingdom",
        &["London", "Manchester", "Edinburgh", "Bristol"],
        &[" Ltd", " Limited", " plc"],
        90,
    ),
    (
        "com.au",
        "Australia",
        &["Sydney", "Melbourne", "Brisbane"],
        &[" Pty Ltd"],
        50,
    ),
    (
        "de",
        "Germany",
        &["Berlin", "München", "Hamburg", "Köln"],
        &[" GmbH", " AG"],
        60,
    ),
    (
        "fr",
        "France",
        &["Paris", "Lyon", "Toulouse"],
        &[" SAS", " SA"],
        50,
    ),
    ("co.jp", "Japan", &["Tokyo", "Ōsaka"], &[" K.K.", ""], 20),
    (
        "com.br",
        "Brazil",
        &["São Paulo", "Rio de Janeiro"],
        &[" Ltda"],
        20,
    ),
    (
        "ca",
        "Canada",
        &["Toronto", "Montréal", "Vancouver"],
        &[" Inc.", " Ltd"],
        40,
    ),
    (
        "nl",
        "Netherlands",
        &["Amsterdam", "Rotterdam", "Utrecht"],
        &[" B.V."],
        30,
    ),
    (
        "es",
        "Spain",
        &["Madrid", "Barcelona", "Valencia"],
        &[" S.L.", " S.A."],
        25,
    ),
    (
        "co.nz",
        "New Zealand",
        &["Auckland", "Wellington"],
        &[" Limited"],
        15,
    ),
];

/// Industries as Apollo writes them; only some match the playbook's list.
const INDUSTRIES: &[(&str, u32)] = &[
    ("Software", 14),
    ("Computer Software", 8),
    ("Fintech", 7),
    ("eCommerce", 5),
    ("E-Commerce", 2),
    ("Information Technology & Services", 12),
    ("Financial Services", 8),
    ("Internet", 5),
    ("Marketing & Advertising", 6),
    ("Hospital & Health Care", 5),
    ("Banking", 3),
    ("Insurance", 3),
    ("Retail", 4),
    ("Manufacturing", 5),
    ("Logistics & Supply Chain", 3),
    ("Real Estate", 3),
    ("Telecommunications", 2),
    ("Pharmaceuticals", 2),
    ("Higher Education", 2),
    ("Consumer Goods", 2),
    ("", 4),
];

const TECHNOLOGIES: &[&str] = &[
    "Salesforce",
    "HubSpot",
    "Google Analytics",
    "Google Tag Manager",
    "Slack",
    "Zendesk",
    "Intercom",
    "Marketo",
    "Segment",
    "Stripe",
    "Shopify",
    "WordPress",
    "AWS",
    "Google Cloud",
    "Microsoft Azure",
    "Snowflake",
    "Databricks",
    "dbt",
    "Looker",
    "Tableau",
    "Power BI",
    "NetSuite",
    "QuickBooks",
    "Xero",
    "SAP",
    "Workday",
    "Jira",
    "Confluence",
    "GitHub",
    "Datadog",
    "Okta",
    "Zoom",
    "Gong",
    "Outreach",
    "Mixpanel",
    "Amplitude",
];

const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
];

/// What the generator knows about one company; derived from its index.
struct Company {
    name: String,
    /// Without the legal suffix's comma: for the broken-quote rows.
    plain_name: String,
    domain: String,
    website: String,
    industry: &'static str,
    employees: String,
    employees_plain: String,
    revenue: String,
    technologies: Vec<&'static str>,
    place: &'static Place,
    email_style: u8,
    first_offset: usize,
    last_offset: usize,
}

/// Distinct domains before a number is appended.
const DOMAIN_SPACE: usize =
    NAME_PREFIXES.len() * NAME_ROOTS.len() * NAME_KINDS.len() * DOMAIN_STYLES.len();

/// The name parts of the `slot`-th domain (a mixed-radix number).
fn name_parts(slot: usize) -> (&'static str, &'static str, &'static str, &'static str) {
    let (p, r, k) = (NAME_PREFIXES.len(), NAME_ROOTS.len(), NAME_KINDS.len());
    (
        NAME_PREFIXES[slot % p],
        NAME_ROOTS[(slot / p) % r],
        NAME_KINDS[(slot / (p * r)) % k],
        DOMAIN_STYLES[(slot / (p * r * k)) % DOMAIN_STYLES.len()],
    )
}

/// The domain's name before the top-level domain.
fn domain_stem(prefix: &str, root: &str, kind: &str, style: &str) -> String {
    let stem = format!("{}{}{}", prefix.to_lowercase(), root, kind.to_lowercase());
    match style {
        "get" | "try" | "use" => format!("{style}{stem}"),
        "" => stem,
        suffix => format!("{stem}{suffix}"),
    }
}

fn company(index: usize, seed: u64) -> Company {
    // A bijection of 0..DOMAIN_SPACE (7919 is prime to 2, 3 and 5), so
    // neighbouring indexes do not share a name; beyond it, a number.
    let slot = (index % DOMAIN_SPACE * 7919) % DOMAIN_SPACE;
    let extra = index / DOMAIN_SPACE;
    let (prefix, root, kind, style) = name_parts(slot);
    let mut rng = Rng(mix(
        seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407)
    ));

    let place = weighted(&mut rng, PLACES, |p| p.4);
    let mut stem = domain_stem(prefix, root, kind, style);
    if extra > 0 {
        stem.push_str(&extra.to_string());
    }
    let domain = format!("{stem}.{}", place.0);
    let mut root_title = root.to_string();
    if let Some(first) = root_title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    let base = if kind.is_empty() {
        format!("{prefix}{root_title}")
    } else {
        format!("{prefix}{root_title} {kind}")
    };
    let legal = rng.pick(place.3);
    let name = format!("{base}{legal}");
    let plain_name = format!("{base}{}", legal.replace(',', ""));
    let website = match rng.below(6) {
        0 => format!("http://www.{domain}"),
        1 => format!("https://{domain}"),
        2 => domain.clone(),
        3 => format!("www.{domain}"),
        4 => format!("https://www.{domain}/"),
        _ => format!("http://www.{domain}/about"),
    };
    let industry = weighted(&mut rng, INDUSTRIES, |i| i.1).0;

    // Log-uniform 1..50,000.
    let size = (rng.unit() * 50_000f64.ln()).exp().round().max(1.0) as u64;
    let employees_plain = size.to_string();
    let employees = match rng.below(100) {
        0..=74 => employees_plain.clone(),
        75..=82 if size >= 1000 => thousands(size),
        75..=82 => employees_plain.clone(),
        83..=94 => band(size).to_string(),
        95..=96 => "n/a".to_string(),
        _ => String::new(),
    };
    let revenue_dollars = size as f64 * (50_000.0 + rng.unit() * 250_000.0);
    let revenue = match rng.below(10) {
        0..=3 => format!("${:.1}M", revenue_dollars / 1e6),
        4..=6 => format!("{:.0}", revenue_dollars),
        7 => format!("${:.0}K", revenue_dollars / 1e3),
        _ => String::new(),
    };
    let mut technologies = Vec::new();
    if !rng.chance(0.08) {
        let count = rng.below(6);
        while technologies.len() < count {
            let tech = rng.pick(TECHNOLOGIES);
            if tech != "Snowflake" && !technologies.contains(&tech) {
                technologies.push(tech);
            }
        }
        if rng.chance(0.22) {
            let at = rng.below(technologies.len() + 1);
            technologies.insert(at, "Snowflake");
        }
    }
    Company {
        name,
        plain_name,
        domain,
        website,
        industry,
        employees,
        employees_plain,
        revenue,
        technologies,
        place,
        email_style: rng.below(6) as u8,
        first_offset: rng.below(FIRST_NAMES.len()),
        last_offset: rng.below(LAST_NAMES.len()),
    }
}

fn weighted<'a, T>(rng: &mut Rng, items: &'a [T], weight: fn(&T) -> u32) -> &'a T {
    let total: u64 = items.iter().map(|i| u64::from(weight(i))).sum();
    let mut roll = rng.next() % total.max(1);
    for item in items {
        let w = u64::from(weight(item));
        if roll < w {
            return item;
        }
        roll -= w;
    }
    &items[0]
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Apollo's headcount bands.
fn band(size: u64) -> &'static str {
    match size {
        0..=10 => "1-10",
        11..=50 => "11-50",
        51..=200 => "51-200",
        201..=500 => "201-500",
        501..=1000 => "501-1000",
        1001..=5000 => "1001-5000",
        5001..=10000 => "5001-10000",
        _ => "10,001+",
    }
}

/// A name as it appears in an email address: ASCII, lower case.
fn email_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let folded = match c {
            'a'..='z' | '0'..='9' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => Some('a'),
            'é' | 'è' | 'ê' | 'ë' | 'ễ' | 'É' => Some('e'),
            'í' | 'ì' | 'î' | 'ï' => Some('i'),
            'ó' | 'ò' | 'ô' | 'ö' | 'ø' | 'õ' | 'Ō' | 'ō' => Some('o'),
            'ú' | 'ù' | 'û' | 'ü' => Some('u'),
            'ñ' => Some('n'),
            'ç' => Some('c'),
            'ł' | 'Ł' => Some('l'),
            'ś' => Some('s'),
            'ß' => {
                out.push('s');
                Some('s')
            }
            _ => None,
        };
        if let Some(c) = folded {
            out.push(c);
        }
    }
    out
}

/// One person as last written, for repeating them later.
#[derive(Clone)]
struct Person {
    company: usize,
    first: usize,
    last: usize,
    title: &'static str,
    email: String,
    city: &'static str,
    id: u64,
}

/// Appends `value` as one CSV field, quoted when it needs to be.
fn push_field(line: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        line.push('"');
        line.push_str(&value.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(value);
    }
}

const HEADER: &str = "First Name,Last Name,Title,Company,Email,# Employees,Industry,Website,City,Country,Technologies,Annual Revenue,Person Linkedin Url,Apollo Contact Id\n";

/// Writes `rows` data rows to `path`, streaming.
fn generate(path: &Path, rows: u64, seed: u64, pad_broken: bool) -> Result<GenStats> {
    let start = Instant::now();
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(HEADER.as_bytes())?;

    let companies = ((rows / 15).max(1)) as usize;
    // Companies are made once each on first use and kept: about N/15 of
    // them, a few hundred bytes each.
    let mut made: Vec<Option<Company>> = Vec::new();
    made.resize_with(companies, || None);
    let mut contacts_at = vec![0u32; companies];
    let mut recent: Vec<Person> = Vec::with_capacity(8192);
    let mut rng = Rng(seed);
    let mut stats = GenStats {
        companies: companies as u64,
        ..GenStats::default()
    };
    let mut line = String::with_capacity(512);
    let title_total: u32 = TITLE_GROUPS.iter().map(|g| g.1).sum();

    let pick_title = |rng: &mut Rng| -> &'static str {
        let mut roll = (rng.next() % u64::from(title_total)) as u32;
        for (titles, weight) in TITLE_GROUPS {
            if roll < *weight {
                return titles[rng.below(titles.len())];
            }
            roll -= weight;
        }
        "CEO"
    };
    // Skewed: a few companies have many contacts, most have a handful.
    let pick_company = |rng: &mut Rng| -> usize {
        ((rng.unit().powf(1.6) * companies as f64) as usize).min(companies - 1)
    };

    for row in 0..rows {
        let roll = rng.unit();
        let repeat = roll < 0.02 && recent.len() > 100;
        let (person, kind) = if repeat {
            let at = rng.below(recent.len());
            let mut person = recent[at].clone();
            if rng.chance(0.6) {
                let old = person.title;
                while person.title == old {
                    person.title = pick_title(&mut rng);
                }
            } else {
                let old = person.company;
                while person.company == old && companies > 1 {
                    person.company = pick_company(&mut rng);
                }
            }
            // Sometimes the repeat spells the address differently.
            if rng.chance(0.2) {
                person.email = capitalised(&person.email);
            }
            recent[at] = person.clone();
            stats.duplicates += 1;
            (person, RowKind::Good)
        } else {
            let c = pick_company(&mut rng);
            let k = contacts_at[c] as usize;
            contacts_at[c] = contacts_at[c].saturating_add(1);
            let co = made[c].get_or_insert_with(|| company(c, seed));
            let first = (co.first_offset + k) % FIRST_NAMES.len();
            let last = (co.last_offset + k * 7) % LAST_NAMES.len();
            let title = if rng.chance(0.01) {
                ""
            } else {
                pick_title(&mut rng)
            };
            let city = rng.pick(co.place.2);
            let (f, l) = (email_part(FIRST_NAMES[first]), email_part(LAST_NAMES[last]));
            // Unique within the company while k is below the smaller name
            // list (the names all differ); a number beyond that.
            let round = k / FIRST_NAMES.len().min(LAST_NAMES.len());
            let number = if round > 0 {
                round.to_string()
            } else {
                String::new()
            };
            let kind_roll = rng.unit();
            let email = if kind_roll < 0.04 {
                format!("{f}.{l}{}@{}", c * 4096 + k, rng.pick(FREE_MAIL))
            } else if kind_roll < 0.042 {
                format!("{f}.{l}{}@mailinator.com", c * 4096 + k)
            } else if k == 0 && kind_roll < 0.1 {
                format!(
                    "{}@{}",
                    rng.pick(&["info", "sales", "hello", "contact"]),
                    co.domain
                )
            } else {
                let local = match co.email_style {
                    0 | 5 => format!("{f}.{l}"),
                    1 => format!("{}{l}", f.chars().next().unwrap_or('x')),
                    2 => f.clone(),
                    3 => format!("{f}_{l}"),
                    _ => format!("{f}{}", l.chars().next().unwrap_or('x')),
                };
                format!("{local}{number}@{}", co.domain)
            };
            let bad = rng.unit();
            let kind = if bad < 0.01 {
                stats.empty_email += 1;
                RowKind::EmptyEmail
            } else if bad < 0.02 {
                stats.malformed_email += 1;
                RowKind::Malformed(rng.below(4))
            } else if bad < 0.021 {
                stats.broken_quote += 1;
                RowKind::BrokenQuote
            } else {
                RowKind::Good
            };
            let person = Person {
                company: c,
                first,
                last,
                title,
                email,
                city,
                id: mix(seed ^ row),
            };
            // Only good rows with a title are repeated: a repeat then
            // carries every field, and newest-wins needs no blank rules.
            if matches!(kind, RowKind::Good) && !title.is_empty() {
                if recent.len() < 8192 {
                    recent.push(person.clone());
                } else {
                    let at = rng.below(recent.len());
                    recent[at] = person.clone();
                }
            }
            (person, kind)
        };

        let c = person.company;
        let co = made[c].get_or_insert_with(|| company(c, seed));
        let city = if co.place.2.contains(&person.city) {
            person.city
        } else {
            rng.pick(co.place.2)
        };
        write_row(&mut line, &person, co, city, kind, pad_broken);
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    stats.seconds = start.elapsed().as_secs_f64();
    Ok(stats)
}

#[derive(Debug, Clone, Copy)]
enum RowKind {
    Good,
    EmptyEmail,
    Malformed(usize),
    BrokenQuote,
}

fn capitalised(email: &str) -> String {
    let mut out = String::with_capacity(email.len());
    let mut up = true;
    for c in email.chars() {
        if up {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        up = matches!(c, '.' | '@' | '_');
    }
    out
}

fn write_row(
    line: &mut String,
    p: &Person,
    co: &Company,
    city: &str,
    kind: RowKind,
    pad_broken: bool,
) {
    line.clear();
    let first = FIRST_NAMES[p.first];
    let last = LAST_NAMES[p.last];
    let email = match kind {
        RowKind::Good | RowKind::BrokenQuote => p.email.clone(),
        RowKind::EmptyEmail => String::new(),
        RowKind::Malformed(0) => p.email.split('@').next().unwrap_or_default().to_string() + "@",
        RowKind::Malformed(1) => p.email.replacen('.', " ", 1).replacen('@', " @", 1),
        RowKind::Malformed(2) => p.email.replace('@', "."),
        RowKind::Malformed(_) => format!("{} at {}", first, co.domain),
    };
    let broken = matches!(kind, RowKind::BrokenQuote);
    push_field(line, first);
    line.push(',');
    push_field(line, last);
    line.push(',');
    if broken {
        // An opening quote never closed: the field runs on to the next
        // quote in the row (Technologies, made to need quotes below).
        line.push('"');
        line.push_str(&p.title.replace('"', ""));
    } else {
        push_field(line, p.title);
    }
    line.push(',');
    push_field(line, if broken { &co.plain_name } else { &co.name });
    line.push(',');
    push_field(line, &email);
    line.push(',');
    push_field(
        line,
        if broken {
            &co.employees_plain
        } else {
            &co.employees
        },
    );
    line.push(',');
    push_field(line, co.industry);
    line.push(',');
    push_field(line, &co.website);
    line.push(',');
    push_field(line, city);
    line.push(',');
    push_field(line, co.place.1);
    line.push(',');
    let mut technologies = co.technologies.join(", ");
    if broken && co.technologies.len() < 2 {
        technologies = "Slack, Zoom".to_string();
    }
    push_field(line, &technologies);
    line.push(',');
    push_field(line, &co.revenue);
    line.push(',');
    let slug = format!("{}-{}", email_part(first), email_part(last));
    line.push_str("http://www.linkedin.com/in/");
    line.push_str(&slug);
    line.push_str(&format!("-{:08x}", p.id as u32));
    line.push(',');
    line.push_str(&format!(
        "{:024x}",
        (u128::from(p.id) << 32) | u128::from(mix(p.id) as u32)
    ));
    if broken && pad_broken {
        // The csv reader sees First, Last, the run-on field, the rest of
        // Technologies' items, then the last three: pad to the header's 14
        // so the rejects file (not flexible) accepts the row.
        let items = technologies.split(", ").count();
        for _ in (items + 5)..14 {
            line.push(',');
        }
    }
    line.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn domains_are_distinct() {
        let stems: HashSet<String> = (0..DOMAIN_SPACE)
            .map(|slot| {
                let (p, r, k, s) = name_parts(slot);
                domain_stem(p, r, k, s)
            })
            .collect();
        assert_eq!(stems.len(), DOMAIN_SPACE);
        let slots: HashSet<usize> = (0..DOMAIN_SPACE)
            .map(|i| (i * 7919) % DOMAIN_SPACE)
            .collect();
        assert_eq!(slots.len(), DOMAIN_SPACE);
    }

    #[test]
    fn names_give_distinct_email_parts() {
        // Within a company, k and k + 1 .. k + min(F, L) - 1 differ in both
        // names, so every address style is unique.
        let firsts: HashSet<String> = FIRST_NAMES.iter().map(|n| email_part(n)).collect();
        let lasts: HashSet<String> = LAST_NAMES.iter().map(|n| email_part(n)).collect();
        assert_eq!(firsts.len(), FIRST_NAMES.len());
        assert_eq!(lasts.len(), LAST_NAMES.len());
        assert_ne!(LAST_NAMES.len() % 7, 0);
    }

    #[test]
    fn the_csv_reads_back_as_generated() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("x.csv");
        let stats = generate(&path, 20_000, 7, true).expect("generated");
        let bytes = std::fs::read(&path).expect("read");
        let dry =
            handoff_engine::list_building::import::dry_run(&bytes, None, &[]).expect("parsed");
        assert_eq!(dry.rows, 20_000);
        let bad = stats.empty_email + stats.malformed_email + stats.broken_quote;
        assert_eq!(dry.rejected, bad);
        assert!(stats.duplicates > 200, "{stats:?}");
        assert!(stats.broken_quote > 0, "{stats:?}");
    }

    #[test]
    fn employees_in_sql_and_rust_agree_on_the_generated_forms() {
        use handoff_domain::import::parse_employees;
        assert_eq!(parse_employees("51-200"), Some(125));
        assert_eq!(parse_employees("10,001+"), Some(10_001));
        assert_eq!(parse_employees("1,200"), Some(1_200));
        assert_eq!(thousands(1_200), "1,200");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(999), "999");
    }
}
