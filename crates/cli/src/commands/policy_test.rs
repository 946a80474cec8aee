//! `handoff policy test CASES.toml...`: every case judged by the playbook,
//! a diff for each that does not get what it expects.

use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use serde_json::json;

use handoff_domain::policy::Policy;
use handoff_domain::policy::cases::{parse_cases, run_cases};

use super::policy::TestCmd;
use crate::settings::GlobalArgs;

pub fn run(cmd: TestCmd, global: &GlobalArgs) -> Result<ExitCode> {
    let path = cmd
        .policy
        .clone()
        .unwrap_or_else(|| global.playbook.clone());
    let playbook = super::load_playbook(&path)?;
    let policy = Policy::compile(&playbook).map_err(|e| {
        anyhow!(
            "{}: {e}; fix it (see `handoff policy check`)",
            path.display()
        )
    })?;

    let mut total = 0usize;
    let mut failed = 0usize;
    let mut report = Vec::new();
    for file in &cmd.files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read the case file {}", file.display()))?;
        let cases = parse_cases(&text).map_err(|e| {
            anyhow!(
                "{}:{}:{}: {} (a case file holds [[case]] tables; see docs/policy.md)",
                file.display(),
                e.line,
                e.column,
                e.message
            )
        })?;
        let failures = run_cases(&policy, &cases);
        total += cases.len();
        failed += failures.len();
        if !cmd.json {
            for f in &failures {
                println!(
                    "FAIL {}:{} {} (- expected, + got)",
                    file.display(),
                    f.line,
                    f.name
                );
                for line in f.describe() {
                    println!("{line}");
                }
            }
        }
        report.push(json!({
            "file": file.display().to_string(),
            "cases": cases.len(),
            "failures": failures,
        }));
    }
    if cmd.json {
        crate::output::print_json(&json!({
            "policy": path.display().to_string(),
            "policy_version": playbook.policy_version(),
            "cases": total,
            "failed": failed,
            "files": report,
        }))?;
    } else {
        if failed > 0 {
            println!();
        }
        println!(
            "{total} case(s), {} passed, {failed} failed, under {} ({}).",
            total - failed,
            path.display(),
            playbook.policy_version()
        );
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
