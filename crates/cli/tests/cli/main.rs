//! End-to-end tests of the `handoff` binary: real processes, real SQLite
//! files, a real PostgreSQL server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bad_input;
mod bench;
mod contacts;
mod drafting;
mod governance;
mod ledger_invariant;
mod policy_check;
mod review;
mod scheduling;
mod sending;
mod serve;
mod workers;
mod workspace;

use std::path::Path;
use std::process::{Command, Output};

pub fn handoff_bin() -> &'static str {
    env!("CARGO_BIN_EXE_handoff")
}

/// Runs `handoff ARGS` in `dir` with a clean environment for our variables.
pub fn handoff(dir: &Path, args: &[&str]) -> Output {
    command(dir, args)
        .output()
        .expect("the handoff binary runs")
}

pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(handoff_bin());
    cmd.current_dir(dir)
        .args(args)
        .env_remove("HANDOFF_DATABASE_URL")
        .env_remove("HANDOFF_DATABASE_URL_FILE")
        .env_remove("HANDOFF_PLAYBOOK")
        .env("HANDOFF_USER", "tester");
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns stdout.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "handoff failed ({}):\nstdout:\n{}\nstderr:\n{}",
        o.status,
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// A fresh workspace made by `handoff init`.
pub fn init_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    ok(handoff(dir.path(), &["init"]));
    dir
}
