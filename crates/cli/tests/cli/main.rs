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

/// Opens the default playbook's send window around the clock, with no
/// spacing, warm-up or holidays: for tests about something other than the
/// scheduler, whenever they run (the scheduler's own are in scheduling.rs).
pub fn open_send_window(ws: &Path) {
    let path = ws.join("handoff.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let open = text
        .replacen(
            "send_window = { days = \"mon-fri\", from = \"08:30\", to = \"17:30\" }",
            "send_window = { days = \"mon-sun\", from = \"00:00\", to = \"24:00\" }",
            1,
        )
        .replacen("min_spacing = \"10m\"", "min_spacing = \"0s\"", 1)
        .replacen("warmup = true", "warmup = false", 1)
        .replacen("holidays = true", "holidays = false", 1);
    assert_ne!(text, open, "the playbook has the default send window");
    std::fs::write(&path, open).unwrap();
}
