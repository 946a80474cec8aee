//! `handoff policy check` on conditions: a located type error exits 1, a
//! rule that can never fire is a warning and exits 0.

use crate::*;

const PLAYBOOK: &str = r#"[workspace]
name = "Acme Outbound"
time_zone = "UTC"
physical_address = "1 Main St, Boston, MA 02110, USA"

[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[list_building]
approval = "manual"

[[governance.escalate]]
id = "executives"
stage = "drafting"
when = "CONDITION"
reason = "Executive recipient"
"#;

fn check(condition: &str, json: bool) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rules.toml");
    std::fs::write(&path, PLAYBOOK.replace("CONDITION", condition)).unwrap();
    let mut args = vec!["policy", "check", "rules.toml"];
    if json {
        args.push("--json");
    }
    handoff(dir.path(), &args)
}

#[test]
fn an_unknown_field_is_located_and_exits_1() {
    let out = check("contact.senority == 'c_suite'", false);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains(
            "rules.toml:15:17: unknown field `contact.senority`\n  hint: did you mean `contact.seniority`?\n"
        ),
        "{text}"
    );
    assert!(text.contains("1 problem(s) in rules.toml."), "{text}");

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&check("contact.senority == 'c_suite'", true))).unwrap();
    assert_eq!(json["valid"], false);
    let diagnostic = &json["diagnostics"][0];
    assert_eq!(
        (
            diagnostic["level"].as_str(),
            diagnostic["line"].as_u64(),
            diagnostic["column"].as_u64()
        ),
        (Some("error"), Some(15), Some(17))
    );
}

#[test]
fn a_rule_that_never_fires_is_a_warning_and_exits_0() {
    let out = check("false", false);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("rules.toml:15:9: warning: this condition is never true"),
        "{text}"
    );
    assert!(text.contains("is valid, with 1 warning(s) above"), "{text}");
}
