//! Python tools some tests talk to (aiosmtpd, dkimpy): installed with pip
//! once per test binary when missing. Under `CI=true` a missing tool fails
//! the test; elsewhere the test skips with a loud line.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

use crate::in_ci;

fn importable(module: &str) -> bool {
    Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Whether `module` can be imported, after one `pip install` of
/// `pip_packages` per test binary if it could not.
pub fn available(module: &str, pip_packages: &[&str]) -> bool {
    static KNOWN: OnceLock<Mutex<HashMap<String, bool>>> = OnceLock::new();
    let known = KNOWN.get_or_init(|| Mutex::new(HashMap::new()));
    // Held across the install so parallel tests do not run pip twice.
    let mut known = known
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(answer) = known.get(module) {
        return *answer;
    }
    let mut answer = importable(module);
    if !answer {
        eprintln!(
            "python module {module} is missing; trying `python3 -m pip install {}`",
            pip_packages.join(" ")
        );
        let _ = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet"])
            .args(pip_packages)
            .stdin(Stdio::null())
            .status();
        answer = importable(module);
    }
    known.insert(module.to_owned(), answer);
    answer
}

/// `true` when the module is there. Otherwise panics under `CI=true`, and
/// elsewhere prints a loud SKIP line naming `what` did not run and returns
/// `false`.
pub fn require(module: &str, pip_packages: &[&str], what: &str) -> bool {
    if available(module, pip_packages) {
        return true;
    }
    if in_ci() {
        panic!(
            "python module {module} is required under CI=true and `python3 -m pip install {}` failed",
            pip_packages.join(" ")
        );
    }
    eprintln!(
        "\n********** SKIP: python module {module} is not available (python3 -m pip install {}); {what} did not run **********\n",
        pip_packages.join(" ")
    );
    false
}
