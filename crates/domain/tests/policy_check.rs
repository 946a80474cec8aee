//! `handoff policy check` beyond syntax: conditions type-checked against the
//! documented CEL context, content rules that can never match, rule ids
//! unique across rule kinds, and docs/policy.md kept in step with the
//! context. Every diagnostic is asserted at its exact line and column.

#![allow(clippy::unwrap_used)]

use handoff_domain::playbook::context::{CelType, Shape, Site, VARIABLES};
use handoff_domain::playbook::{
    Checked, DEFAULT_PLAYBOOK, Diagnostic, Level, check, check_condition, parse,
};

const POLICY_DOC: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/policy.md"));

/// A small playbook without mistakes; tests append one block to it.
const BASE: &str = r#"[workspace]
name = "Acme Outbound"
time_zone = "UTC"
physical_address = "1 Main St, Boston, MA 02110, USA"

[icp]
tiers = { excellent = 80, good = 60, fair = 40 }

[[icp.rule]]
id = "seniority"
when = "contact.seniority in ['vp', 'director']"
points = 30
reason = "Senior buyer"

[list_building]
approval = "manual"

[sequence.cold-intro]
type = "cold"
steps = [{ kind = "email", day = 0 }]

[governance.send_authority]
cold = { mode = "approval", window = "24h" }

[[governance.content]]
id = "pricing"
severity = "review"
patterns = ['\$\s?\d']
message = "Pricing needs a person"

[[governance.escalate]]
id = "reply"
stage = "engagement"
when = "event.kind == 'reply'"
reason = "Replied"
"#;

/// BASE with `block` appended.
fn with(block: &str) -> String {
    format!("{BASE}\n{block}")
}

fn checked(source: &str) -> Checked {
    check(source, "handoff.toml")
}

/// The only diagnostic `check` reports for `source`.
fn only(source: &str) -> Diagnostic {
    let diagnostics = checked(source).diagnostics;
    assert_eq!(
        diagnostics.len(),
        1,
        "expected one diagnostic:\n{diagnostics}"
    );
    diagnostics.0.into_iter().next().unwrap()
}

/// 1-based line and character column of the last `needle` in `source`.
fn position(source: &str, needle: &str) -> (usize, usize) {
    let offset = source.rfind(needle).unwrap();
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, source[line_start..offset].chars().count() + 1)
}

/// Asserts where `diagnostic` is and what it says.
fn assert_at(diagnostic: &Diagnostic, (line, column): (usize, usize), level: Level, message: &str) {
    assert_eq!(
        (
            diagnostic.line,
            diagnostic.column,
            diagnostic.level,
            diagnostic.message.as_str()
        ),
        (line, column, level, message),
        "{diagnostic}"
    );
}

fn escalation(stage: &str, when: &str) -> String {
    format!(
        "[[governance.escalate]]\nid = \"under-test\"\nstage = \"{stage}\"\nwhen = \"{when}\"\nreason = \"Test\"\n"
    )
}

// ── Playbooks without mistakes ───────────────────────────────────────────

#[test]
fn the_base_playbook_has_no_problems() {
    let checked = checked(BASE);
    assert!(checked.playbook.is_some());
    assert!(checked.diagnostics.is_empty(), "{}", checked.diagnostics);
}

#[test]
fn the_default_playbook_has_no_errors_and_no_warnings() {
    let checked = check(DEFAULT_PLAYBOOK, "handoff.toml");
    assert!(checked.playbook.is_some());
    assert!(checked.diagnostics.is_empty(), "{}", checked.diagnostics);
}

// ── Conditions against the context ───────────────────────────────────────

#[test]
fn an_unknown_field_gets_a_did_you_mean() {
    let source = with(&escalation("drafting", "contact.senority == 'vp'"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "senority"),
        Level::Error,
        "unknown field `contact.senority`",
    );
    assert_eq!(diagnostic.line, 40);
    assert_eq!(diagnostic.column, 17);
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("did you mean `contact.seniority`?")
    );
    assert_eq!(
        diagnostic.to_string(),
        "handoff.toml:40:17: unknown field `contact.senority`\n  hint: did you mean `contact.seniority`?"
    );
    assert!(parse(&source, "handoff.toml").is_err());
}

#[test]
fn an_unknown_field_without_a_close_one_lists_the_fields() {
    let source = with(&escalation("research", "account.headcount > 50"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "headcount"),
        Level::Error,
        "unknown field `account.headcount`",
    );
    assert!(
        diagnostic
            .hint
            .as_deref()
            .unwrap()
            .starts_with("`account` has `name`, `domain`"),
        "{diagnostic}"
    );
}

#[test]
fn an_unknown_variable_gets_a_did_you_mean() {
    let source = with(&escalation("engagement", "evnt.kind == 'reply'"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "evnt"),
        Level::Error,
        "unknown variable `evnt`",
    );
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `event`?"));
}

#[test]
fn a_variable_outside_its_stage_is_an_error() {
    let source = with(&escalation("list_building", "event.kind == 'reply'"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "event.kind == 'reply'\"\nreason = \"Test\""),
        Level::Error,
        "`event` is not available in `list_building` escalation rules",
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some(
            "`list_building` escalation rules can read `contact`, `account`, `signal`; \
             `event` is known to `engagement` escalation rules, `follow_up` escalation rules"
        )
    );

    let source =
        with("[[icp.rule]]\nwhen = \"draft.confidence > 0.5\"\npoints = 5\nreason = \"Test\"\n");
    assert_at(
        &only(&source),
        position(&source, "draft.confidence > 0.5"),
        Level::Error,
        "`draft` is not available in ICP rules",
    );
}

#[test]
fn comparing_a_number_with_text_is_an_error() {
    let source = with(&escalation("research", "account.employees >= '50'"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "'50'"),
        Level::Error,
        "cannot compare `account.employees` (an int) with `'50'` (a string)",
    );
    assert_eq!(diagnostic.hint.as_deref(), Some("remove the quotes: 50"));

    let source = with(&escalation("research", "contact.title == 3"));
    assert_at(
        &only(&source),
        position(&source, "3\"\nreason"),
        Level::Error,
        "`contact.title` is a string and `3` is an int: they are never equal",
    );
}

#[test]
fn in_on_something_that_is_not_a_list_is_an_error() {
    let source = with(&escalation("research", "'soft' in account.industry"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "account.industry"),
        Level::Error,
        "`in` needs a list on its right, but `account.industry` is a string",
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("to look for text inside it, write account.industry.contains('soft')")
    );
}

#[test]
fn contains_on_something_that_is_not_a_string_is_an_error() {
    let source = with(&escalation(
        "research",
        "account.tags.contains('strategic')",
    ));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "contains('strategic')"),
        Level::Error,
        "`contains()` works on strings, but `account.tags` is a list of strings",
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("to test whether the list holds a value, write 'strategic' in account.tags")
    );
}

#[test]
fn a_value_outside_a_closed_set_is_an_error() {
    let source = with(&escalation(
        "drafting",
        "contact.seniority in ['vp', 'ceo']",
    ));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "'ceo'"),
        Level::Error,
        "`contact.seniority` is never `ceo`",
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some(
            "the values are `c_suite`, `vp`, `director`, `head`, `manager`, `senior_ic`, `ic`, `unknown`"
        )
    );

    let source = with(&escalation("engagement", "event.kind == 'page-visit'"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "'page-visit'"),
        Level::Error,
        "`event.kind` is never `page-visit`",
    );
    assert!(
        diagnostic
            .hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean `page_visit`?"),
        "{diagnostic}"
    );
}

#[test]
fn a_condition_must_be_true_or_false() {
    let source = with(&escalation("research", "account.tags"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "account.tags"),
        Level::Error,
        "a condition must give true or false, but `account.tags` is a list of strings",
    );
}

#[test]
fn a_regex_in_matches_is_compiled_and_located() {
    let source = with(&escalation("engagement", "event.url.matches('/pricing(')"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "(')\""),
        Level::Error,
        "invalid regular expression: unclosed group",
    );
}

#[test]
fn a_guard_is_checked_as_a_content_guard() {
    let source = with(
        "[[governance.content]]\nid = \"late\"\nseverity = \"note\"\nphrases = [\"late\"]\nguard = \"event.kind == 'reply'\"\nmessage = \"Test\"\n",
    );
    assert_at(
        &only(&source),
        position(&source, "event.kind == 'reply'\"\nmessage"),
        Level::Error,
        "`event` is not available in content rule guards",
    );
}

// ── Conditions that can never be true: warnings ──────────────────────────

#[test]
fn the_constant_false_is_a_warning_and_the_playbook_stays_usable() {
    let source = with(&escalation("research", "false"));
    let checked = checked(&source);
    assert!(checked.playbook.is_some());
    let diagnostic = &checked.diagnostics.0[0];
    assert_eq!(checked.diagnostics.len(), 1);
    assert_at(
        diagnostic,
        position(&source, "false"),
        Level::Warning,
        "this condition is never true: it is the constant `false`",
    );
    assert_eq!(
        diagnostic.to_string().lines().next().unwrap(),
        format!(
            "handoff.toml:{}:{}: warning: this condition is never true: it is the constant `false`",
            diagnostic.line, diagnostic.column
        )
    );
    // `parse` leaves warnings out.
    assert!(parse(&source, "handoff.toml").is_ok());
}

#[test]
fn contradicting_bounds_are_a_warning() {
    let source = with(&escalation(
        "research",
        "account.employees < 50 && account.employees >= 100",
    ));
    assert_at(
        &only(&source),
        position(&source, "account.employees < 50"),
        Level::Warning,
        "this condition is never true: `account.employees < 50` and `account.employees >= 100` cannot both hold",
    );
}

#[test]
fn a_bound_outside_the_fields_range_is_a_warning() {
    let source = with(&escalation("send_approval", "draft.confidence > 70"));
    assert_at(
        &only(&source),
        position(&source, "draft.confidence > 70"),
        Level::Warning,
        "this condition is never true: `draft.confidence` is between 0 and 1",
    );
}

#[test]
fn a_sequence_type_no_sequence_has_is_a_warning() {
    let source = with(&escalation("drafting", "sequence.type == 'cld'"));
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "'cld'"),
        Level::Warning,
        "no sequence has type `cld`",
    );
    assert_eq!(diagnostic.hint.as_deref(), Some("did you mean `cold`?"));
}

// ── Rule ids and content rules ───────────────────────────────────────────

#[test]
fn rule_ids_are_unique_across_icp_content_and_escalation_rules() {
    let source = with(
        "[[governance.escalate]]\nid = \"pricing\"\nstage = \"drafting\"\nwhen = \"true\"\nreason = \"Test\"\n",
    );
    let diagnostic = only(&source);
    let first_line = position(BASE, "id = \"pricing\"").0;
    assert_at(
        &diagnostic,
        position(&source, "\"pricing\""),
        Level::Error,
        &format!("duplicate id `pricing`: already used on line {first_line}"),
    );
    assert_eq!(
        diagnostic.hint.as_deref(),
        Some("ids must be unique across ICP, content and escalation rules; rename one of them")
    );

    let source = with(
        "[[governance.content]]\nid = \"seniority\"\nseverity = \"note\"\nphrases = [\"senior\"]\nmessage = \"Test\"\n",
    );
    let first_line = position(BASE, "id = \"seniority\"").0;
    assert_at(
        &only(&source),
        position(&source, "\"seniority\""),
        Level::Error,
        &format!("duplicate id `seniority`: already used on line {first_line}"),
    );
}

#[test]
fn a_pattern_that_matches_empty_text_is_an_error() {
    let source = with(
        "[[governance.content]]\nid = \"amounts\"\nseverity = \"review\"\npatterns = ['\\$?\\d*']\nmessage = \"Test\"\n",
    );
    let diagnostic = only(&source);
    assert_at(
        &diagnostic,
        position(&source, "\\$?\\d*"),
        Level::Error,
        "pattern `\\$?\\d*` matches empty text, so it would match every draft",
    );
}

#[test]
fn an_invalid_pattern_points_inside_its_string() {
    let source = with(
        "[[governance.content]]\nid = \"amounts\"\nseverity = \"review\"\npatterns = ['\\$\\d+)']\nmessage = \"Test\"\n",
    );
    assert_at(
        &only(&source),
        position(&source, ")']"),
        Level::Error,
        "invalid regular expression: unopened group",
    );
}

#[test]
fn an_empty_phrase_and_a_rule_without_matchers_are_errors() {
    let source = with(
        "[[governance.content]]\nid = \"blank\"\nseverity = \"note\"\nphrases = [\"late\", \" \"]\nmessage = \"Test\"\n",
    );
    assert_at(
        &only(&source),
        position(&source, "\" \"]"),
        Level::Error,
        "empty phrase",
    );

    let source = with(
        "[[governance.content]]\nid = \"nothing\"\nseverity = \"note\"\npatterns = []\nmessage = \"Test\"\n",
    );
    assert_at(
        &only(&source),
        position(&source, "[[governance.content]]\nid = \"nothing\""),
        Level::Error,
        "content rule [[governance.content]] #2 matches nothing",
    );
}

// ── docs/policy.md ───────────────────────────────────────────────────────

#[test]
fn the_policy_doc_lists_every_variable_and_field_with_its_type() {
    for variable in VARIABLES {
        match variable.shape {
            Shape::Record(fields) => {
                for field in fields {
                    let path = format!("`{}.{}`", variable.name, field.name);
                    let row = POLICY_DOC
                        .lines()
                        .find(|line| line.starts_with(&format!("| {path} |")))
                        .unwrap_or_else(|| panic!("docs/policy.md has no row for {path}"));
                    assert!(
                        row.contains(&format!("| `{}` |", field.ty.name())),
                        "the row for {path} does not say `{}`: {row}",
                        field.ty.name()
                    );
                    for value in field.values {
                        assert!(
                            row.contains(&format!("`{value}`")),
                            "{path}: {value} missing in {row}"
                        );
                    }
                }
            }
            Shape::Value(ty) => {
                let name = format!("| `{}` | `{}` |", variable.name, ty.name());
                assert!(
                    POLICY_DOC.contains(&name),
                    "docs/policy.md has no row {name}"
                );
            }
        }
    }
    // And which variables each kind of rule reads.
    for site in Site::ALL {
        let row = POLICY_DOC
            .lines()
            .find(|line| line.starts_with(&format!("| {} |", site.describe())))
            .unwrap_or_else(|| panic!("docs/policy.md has no row for {}", site.describe()));
        for variable in VARIABLES {
            let listed = row.contains(&format!("`{}`", variable.name));
            assert_eq!(listed, site.allows(variable.name), "{row}");
        }
    }
    assert!(CelType::StringList.name() == "list<string>");
}

/// The code blocks of docs/policy.md in `language`.
fn doc_blocks(language: &str) -> Vec<String> {
    let fence = format!("```{language}\n");
    POLICY_DOC
        .split(fence.as_str())
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_policy_doc_examples_pass_the_check() {
    let rule_blocks: Vec<String> = doc_blocks("toml")
        .into_iter()
        .filter(|block| {
            block.starts_with("[[governance.escalate]]")
                || block.starts_with("[[governance.content]]")
        })
        .collect();
    assert!(rule_blocks.len() >= 2);
    for block in rule_blocks {
        let source = with(&block);
        let checked = checked(&source);
        assert!(
            checked.diagnostics.is_empty(),
            "{block}\n{}",
            checked.diagnostics
        );
    }
    let conditions = doc_blocks("")
        .into_iter()
        .find(|block| block.contains("account.employees >= 50"))
        .unwrap();
    for condition in conditions.lines() {
        assert_eq!(
            check_condition(condition, None),
            Ok(Vec::new()),
            "{condition}"
        );
    }
}
