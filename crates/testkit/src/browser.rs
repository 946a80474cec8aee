//! A real browser for UI tests: Debian's Chromium driven by npm's
//! `playwright-core` (never a browser Playwright downloads itself).
//! `scripts/test` installs both; here they are only found. Under `CI=true`
//! a missing piece fails the test; elsewhere the test skips loudly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::in_ci;

/// The flags every browser test launches Chromium with (no sandbox as
/// root, no network of its own, no first-run work).
pub const CHROMIUM_FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
];

/// `HANDOFF_CHROMIUM`, else Debian's `/usr/bin/chromium`.
pub fn chromium() -> PathBuf {
    std::env::var_os("HANDOFF_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// The `node_modules` folder holding `playwright-core`:
/// `HANDOFF_NODE_MODULES`, else where `scripts/test` installs it.
pub fn node_modules() -> PathBuf {
    std::env::var_os("HANDOFF_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/handoff-node/node_modules"))
}

fn missing() -> Option<String> {
    let chromium = chromium();
    if !chromium.exists() {
        return Some(format!(
            "Chromium is not at {} (apt-get install chromium, or set HANDOFF_CHROMIUM)",
            chromium.display()
        ));
    }
    let playwright = node_modules().join("playwright-core");
    if !playwright.exists() {
        return Some(format!(
            "playwright-core is not in {} (npm install --prefix {} playwright-core, or set HANDOFF_NODE_MODULES)",
            node_modules().display(),
            node_modules().parent().unwrap_or(Path::new(".")).display()
        ));
    }
    None
}

/// Runs a CommonJS Playwright script with node: `script ARGS…`, with
/// `CHROMIUM` and `CHROMIUM_FLAGS` (space-separated) in its environment.
/// `None` (after a loud line) when the browser or Playwright is missing
/// outside CI.
pub fn run_script(script: &Path, args: &[&str]) -> Option<Output> {
    if let Some(why) = missing() {
        if in_ci() {
            panic!("a browser test needs a browser under CI=true: {why}");
        }
        eprintln!("\n!!! SKIPPING browser test {}: {why}\n", script.display());
        return None;
    }
    let output = Command::new("node")
        .arg(script)
        .args(args)
        .env("NODE_PATH", node_modules())
        .env("CHROMIUM", chromium())
        .env("CHROMIUM_FLAGS", CHROMIUM_FLAGS.join(" "))
        .stdin(Stdio::null())
        .output()
        .expect("node runs (it comes with the machine; apt-get install nodejs otherwise)");
    Some(output)
}
