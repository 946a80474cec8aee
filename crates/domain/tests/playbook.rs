//! The playbook parser from the outside: what `handoff policy check` reports
//! and what the rest of handoff gets back.

#![allow(clippy::unwrap_used)]

use handoff_domain::playbook::{
    Backend, DEFAULT_PLAYBOOK, Diagnostic, Diagnostics, EnrolmentApproval, Playbook, SendMode,
    Severity, Stage, StepKind, parse,
};
use proptest::prelude::*;

const TEN_MISTAKES: &str = include_str!("playbooks/ten_mistakes.toml");
const SMALL: &str = include_str!("playbooks/small.toml");
const SMALL_REORDERED: &str = include_str!("playbooks/small_reordered.toml");

fn default_playbook() -> Playbook {
    match parse(DEFAULT_PLAYBOOK, "handoff.toml") {
        Ok(playbook) => playbook,
        Err(diagnostics) => panic!("the default playbook has mistakes:\n{diagnostics}"),
    }
}

/// The default playbook with `from` (which must occur exactly once) replaced.
fn default_with(from: &str, to: &str) -> String {
    assert_eq!(
        DEFAULT_PLAYBOOK.matches(from).count(),
        1,
        "`{from}` must occur once in the default playbook"
    );
    DEFAULT_PLAYBOOK.replacen(from, to, 1)
}

fn diagnostics(source: &str) -> Diagnostics {
    match parse(source, "handoff.toml") {
        Ok(_) => panic!("expected diagnostics, the playbook parsed"),
        Err(diagnostics) => diagnostics,
    }
}

/// The only diagnostic for `source`.
fn only_diagnostic(source: &str) -> Diagnostic {
    let diagnostics = diagnostics(source);
    assert_eq!(
        diagnostics.len(),
        1,
        "expected one diagnostic, got:\n{diagnostics}"
    );
    diagnostics.0.into_iter().next().unwrap()
}

/// 1-based line of the first occurrence of `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    let offset = source.find(needle).unwrap();
    source[..offset].matches('\n').count() + 1
}

/// 1-based line of the last occurrence of `needle`.
fn last_line_of(source: &str, needle: &str) -> usize {
    let offset = source.rfind(needle).unwrap();
    source[..offset].matches('\n').count() + 1
}

/// Asserts one diagnostic, on the line where `needle` is, mentioning `fragment`.
fn assert_one(source: &str, needle: &str, fragment: &str) -> Diagnostic {
    let diagnostic = only_diagnostic(source);
    assert_eq!(diagnostic.line, line_of(source, needle), "{diagnostic}");
    assert!(
        diagnostic.message.contains(fragment),
        "`{fragment}` not in: {diagnostic}"
    );
    diagnostic
}

fn hint(diagnostic: &Diagnostic) -> &str {
    diagnostic.hint.as_deref().unwrap_or_default()
}

// ── The default playbook ──────────────────────────────────────────────────

#[test]
fn default_playbook_parses_without_diagnostics() {
    let playbook = default_playbook();

    assert_eq!(
        playbook.database.url.as_deref(),
        Some("sqlite://handoff.db")
    );
    assert!(!playbook.workspace.physical_address.is_empty());
    assert_eq!(
        playbook.list_building.approval,
        EnrolmentApproval::Automatic
    );
    assert!((5..=6).contains(&playbook.icp.rules.len()));

    let content = &playbook.content;
    assert_eq!(content.value_propositions.len(), 3);
    assert_eq!(content.pain_points.len(), 3);
    assert_eq!(content.proof_points.len(), 3);
    assert_eq!(content.ctas.len(), 3);
    assert!(content.proof_points.iter().any(|proof| !proof.verified));

    let cold = &playbook.sequences["sdr-cold"];
    assert_eq!(cold.sequence_type, "cold");
    let touches: Vec<(StepKind, u32, bool)> = cold
        .steps
        .iter()
        .map(|step| (step.kind, step.day, step.thread))
        .collect();
    assert_eq!(
        touches,
        [
            (StepKind::Email, 0, false),
            (StepKind::Email, 3, true),
            (StepKind::Call, 5, false),
            (StepKind::Email, 8, true),
        ]
    );
    assert_eq!(
        playbook.sequences["ae-follow-up"].sequence_type,
        "post_meeting"
    );

    let authority = &playbook.governance.send_authority;
    assert_eq!(
        authority.by_sequence_type["cold"],
        SendMode::Approval {
            window: "24h".parse().unwrap()
        }
    );
    assert_eq!(
        authority.by_sequence_type["post_meeting"],
        SendMode::Approval {
            window: "48h".parse().unwrap()
        }
    );
    assert_eq!(authority.qa_sample_rate, 0.05);
    assert_eq!(authority.confidence_floor, 0.7);

    let access = &playbook.governance.data_access;
    for field in [
        "contact.phone",
        "contact.personal_email",
        "contact.street_address",
    ] {
        assert!(access.never.iter().any(|never| never == field), "{field}");
    }

    let rules = &playbook.governance.content_rules;
    let severity_of = |id: &str| rules.iter().find(|rule| rule.id == id).unwrap().severity;
    assert_eq!(severity_of("pricing"), Severity::Review);
    assert_eq!(severity_of("guarantees"), Severity::Block);
    assert_eq!(severity_of("unsubscribe-hiding"), Severity::Block);

    let stages: Vec<Stage> = playbook
        .governance
        .escalation_rules
        .iter()
        .map(|rule| rule.stage)
        .collect();
    for (_, stage) in Stage::CHOICES {
        assert!(stages.contains(&stage), "no escalation rule at {stage:?}");
    }

    assert_eq!(playbook.mailboxes.len(), 1);
    assert!(playbook.mailboxes[0].smtp.is_none());
    assert_eq!(playbook.model.backend, Backend::Template);
}

#[test]
fn default_playbook_tells_the_reader_how_to_check_it() {
    let header: String = DEFAULT_PLAYBOOK
        .lines()
        .take(12)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(header.contains("handoff policy check"));
    assert!(DEFAULT_PLAYBOOK.contains("HANDOFF_DATABASE_URL"));
}

#[test]
fn default_playbook_sections_come_in_workflow_order() {
    let order = [
        "[workspace]",
        "[database]",
        "[icp]",
        "[list_building]",
        "[[content.value_proposition]]",
        "[sequence.sdr-cold]",
        "[[governance.content]]",
        "[governance.data_access]",
        "[governance.send_authority]",
        "[[governance.escalate]]",
        "[governance.graduation]",
        "[[mailbox]]",
        "[model]",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|header| DEFAULT_PLAYBOOK.find(header).unwrap())
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]));
}

#[test]
fn the_sketch_shape_parses_once_rules_have_reasons() {
    let playbook = parse(SMALL, "small.toml").unwrap();
    assert_eq!(playbook.sequences.len(), 1);
    assert_eq!(playbook.model.backend, Backend::Openai);
}

// ── Reporting every mistake ───────────────────────────────────────────────

#[test]
fn ten_mistakes_give_ten_diagnostics_at_their_lines() {
    let diagnostics = diagnostics(TEN_MISTAKES);
    let expected: [(usize, &str); 10] = [
        (7, "unknown key `physical_adress` in [workspace]"),
        (10, "tier `good` (70) must be below `excellent` (60)"),
        (13, "`when` is not a valid CEL expression"),
        (19, "`points` must be a whole number, not a string"),
        (30, "duplicate id `vp-faster-reporting`"),
        (38, "step 3 is on day 3, before the step above it (day 5)"),
        (43, "`blok` is not a valid `severity`"),
        (50, "invalid regular expression"),
        (54, "`window` is not a valid duration"),
        (58, "`owner` is empty"),
    ];
    let found: Vec<(usize, &str)> = diagnostics
        .iter()
        .map(|diagnostic| (diagnostic.line, diagnostic.message.as_str()))
        .collect();
    assert_eq!(found.len(), expected.len(), "\n{diagnostics}");
    for ((line, message), (expected_line, fragment)) in found.iter().zip(expected) {
        assert_eq!(*line, expected_line, "{message}");
        assert!(
            message.contains(fragment),
            "`{fragment}` not in `{message}`"
        );
    }
    // Each mistake is marked in the fixture, so the lines above are the marked ones.
    for (line, _) in expected {
        let text = TEN_MISTAKES.lines().nth(line - 1).unwrap();
        assert!(text.contains("# mistake"), "line {line}: {text}");
    }
    assert!(
        diagnostics
            .iter()
            .all(|diagnostic| diagnostic.hint.is_some())
    );
    assert!(
        diagnostics
            .iter()
            .all(|diagnostic| diagnostic.file == "handoff.toml")
    );
}

#[test]
fn diagnostics_point_at_the_value_not_the_line_start() {
    let diagnostics = diagnostics(TEN_MISTAKES);
    let severity = diagnostics
        .iter()
        .find(|d| d.message.contains("blok"))
        .unwrap();
    // severity = "blok": the value starts in column 12.
    assert_eq!(severity.column, 12);
    // The regex error points at the unclosed `(` inside the pattern.
    let regex = diagnostics
        .iter()
        .find(|d| d.message.contains("regular"))
        .unwrap();
    let line = TEN_MISTAKES.lines().nth(regex.line - 1).unwrap();
    assert_eq!(line.chars().nth(regex.column - 1), Some('('));
    // The CEL error points at the end of the expression, where `]` is missing.
    let cel = diagnostics
        .iter()
        .find(|d| d.message.contains("CEL"))
        .unwrap();
    let line = TEN_MISTAKES.lines().nth(cel.line - 1).unwrap();
    assert_eq!(line.chars().nth(cel.column - 1), Some('"'));
    assert!(cel.column > line.find("account").unwrap());
}

#[test]
fn display_is_file_line_column_message_then_hint() {
    // The cold entry as a table of its own, with a misspelt key.
    let source = default_with("cold = { mode = \"approval\", window = \"24h\" }\n", "").replacen(
        "# ── Governance: escalation",
        "[governance.send_authority.cold]\nmode = \"approval\"\nwindw = \"24h\"\n\n# ── Governance: escalation",
        1,
    );
    let diagnostic = only_diagnostic(&source);
    let line = line_of(&source, "windw");
    assert_eq!(
        diagnostic.to_string(),
        format!(
            "handoff.toml:{line}:1: unknown key `windw` in [governance.send_authority.cold]\n  hint: did you mean `window`?"
        )
    );
}

#[test]
fn diagnostics_display_one_per_line_group() {
    let diagnostics = diagnostics(TEN_MISTAKES);
    let text = diagnostics.to_string();
    let first_lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.starts_with("  hint: "))
        .collect();
    assert_eq!(first_lines.len(), 10);
    assert!(
        first_lines
            .iter()
            .all(|line| line.starts_with("handoff.toml:"))
    );
    let error: &dyn std::error::Error = &diagnostics;
    assert_eq!(error.to_string(), text);
}

#[test]
fn diagnostics_serialise_for_json_output() {
    let diagnostics = diagnostics(TEN_MISTAKES);
    let json = serde_json::to_value(&diagnostics).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 10);
    assert_eq!(json[0]["line"], 7);
    assert_eq!(json[0]["file"], "handoff.toml");
    assert!(
        json[0]["hint"]
            .as_str()
            .unwrap()
            .contains("physical_address")
    );
}

// ── Did you mean ──────────────────────────────────────────────────────────

#[test]
fn unknown_keys_suggest_the_closest_known_key() {
    let source = default_with("daily_cap = 40 ", "daily_cpa = 40 ");
    let diagnostic = assert_one(
        &source,
        "daily_cpa",
        "unknown key `daily_cpa` in [[mailbox]] #1",
    );
    assert_eq!(hint(&diagnostic), "did you mean `daily_cap`?");
}

#[test]
fn unknown_keys_far_from_any_list_the_allowed_ones() {
    let source = default_with("[list_building]\n", "[list_building]\ncolour = \"blue\"\n");
    let diagnostic = assert_one(&source, "colour", "unknown key `colour`");
    assert!(hint(&diagnostic).contains("`approval`"), "{diagnostic}");
}

#[test]
fn unknown_sections_suggest_the_closest_section() {
    let source = format!("{DEFAULT_PLAYBOOK}\n[modle]\nbackend = \"template\"\n");
    let diagnostic = assert_one(&source, "[modle]", "unknown section `modle`");
    assert_eq!(hint(&diagnostic), "did you mean `model`?");
}

#[test]
fn bad_enum_values_suggest_the_closest_value() {
    let source = default_with(
        "id = \"guarantees\"\nseverity = \"block\"",
        "id = \"guarantees\"\nseverity = \"blok\"",
    );
    let diagnostic = assert_one(&source, "\"blok\"", "`blok` is not a valid `severity`");
    assert!(
        hint(&diagnostic).starts_with("did you mean `block`?"),
        "{diagnostic}"
    );

    let source = default_with("stage = \"research\"", "stage = \"reserch\"");
    let diagnostic = assert_one(&source, "reserch", "not a valid `stage`");
    assert!(hint(&diagnostic).starts_with("did you mean `research`?"));
}

#[test]
fn a_misspelt_required_key_is_one_mistake_not_two() {
    let source = default_with(
        "reason = \"Industry we win in\"",
        "reasn = \"Industry we win in\"",
    );
    let diagnostic = assert_one(&source, "reasn", "unknown key `reasn`");
    assert_eq!(hint(&diagnostic), "did you mean `reason`?");
}

// ── Each kind of mistake ──────────────────────────────────────────────────

#[test]
fn wrong_types_name_the_expected_type() {
    let source = default_with("points = 15", "points = 1.5");
    let diagnostic = assert_one(
        &source,
        "points = 1.5",
        "`points` must be a whole number, not a decimal number",
    );
    assert!(hint(&diagnostic).contains("points = 1"));

    let source = default_with(
        "demote_on_regression = true",
        "demote_on_regression = \"true\"",
    );
    let diagnostic = assert_one(&source, "demote_on_regression", "must be true or false");
    assert_eq!(
        hint(&diagnostic),
        "remove the quotes: demote_on_regression = true"
    );

    let source = default_with(
        "personas = [\"engineering\", \"it\", \"executive\"]",
        "personas = \"finance\"",
    );
    assert_one(
        &source,
        "personas = \"finance\"",
        "`personas` must be a list of strings",
    );

    let source = default_with(
        "personas = [\"engineering\", \"it\", \"executive\"]",
        "personas = [\"finance\", 7]",
    );
    assert_one(
        &source,
        "personas = [\"finance\", 7]",
        "each entry of `personas` must be a string",
    );
}

#[test]
fn missing_required_keys_point_at_their_table() {
    let source = default_with(
        "physical_address = \"100 Main St, Suite 200, Boston, MA 02110, USA\"  # legally required footer in every email (CAN-SPAM, CASL)\n",
        "",
    );
    let diagnostic = assert_one(
        &source,
        "[workspace]",
        "missing required key `physical_address` in [workspace]",
    );
    assert!(hint(&diagnostic).contains("postal address"));
}

#[test]
fn missing_required_sections_are_reported() {
    let diagnostics = diagnostics("[model]\nbackend = \"template\"\n");
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "missing required section [workspace]",
            "missing required section [icp]",
            "missing required section [list_building]",
        ]
    );
    assert!(diagnostics.iter().all(|d| d.line == 1 && d.column == 1));
}

#[test]
fn invalid_regexes_are_located_at_the_pattern() {
    let source = default_with("'\\$\\s?\\d'", "'\\$\\s?\\d+)'");
    let diagnostic = assert_one(&source, "\\d+)", "invalid regular expression");
    assert!(
        diagnostic.message.contains("unopened group"),
        "{diagnostic}"
    );
}

#[test]
fn cel_that_does_not_compile_is_located_in_the_expression() {
    let source = default_with(
        "when = \"draft.confidence < 0.7\"",
        "when = \"draft.confidence < < 0.7\"",
    );
    let diagnostic = assert_one(&source, "draft.confidence <", "not a valid CEL expression");
    let line = source.lines().nth(diagnostic.line - 1).unwrap();
    // Inside the string, past its start.
    assert!(
        diagnostic.column > line.find('"').unwrap() + 1,
        "{diagnostic}"
    );

    let source = default_with(
        "unless_grounded_in = \"proof_point\"",
        "unless_grounded_in = \"proof_point\"\nguard = \"sequence.type ==\"",
    );
    assert_one(&source, "guard =", "`guard` is not a valid CEL expression");

    let source = default_with("when = \"draft.confidence < 0.7\"", "when = \"\"");
    assert_one(&source, "when = \"\"", "`when` is empty");
}

#[test]
fn duplicate_ids_name_the_first_use() {
    let source = default_with("id = \"cta-right-person\"", "id = \"pp-analyst-backlog\"");
    let diagnostic = only_diagnostic(&source);
    assert_eq!(
        diagnostic.line,
        line_of(&source, "text = \"If this sits").saturating_sub(1)
    );
    let first = line_of(&source, "id = \"pp-analyst-backlog\"");
    assert!(
        diagnostic
            .message
            .contains(&format!("already used on line {first}")),
        "{diagnostic}"
    );

    let source = default_with("id = \"pressure\"", "id = \"pricing\"");
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic.message.contains("duplicate id `pricing`"),
        "{diagnostic}"
    );
    assert_eq!(diagnostic.line, last_line_of(&source, "id = \"pricing\""));
}

#[test]
fn bad_durations_say_how_to_write_one() {
    let source = default_with("sla = \"4h\"", "sla = \"4 hours\"");
    let diagnostic = assert_one(&source, "4 hours", "`sla` is not a valid duration");
    assert!(hint(&diagnostic).contains("1h30m"));

    let source = default_with("min_spacing = \"10m\"", "min_spacing = \"10\"");
    assert_one(
        &source,
        "min_spacing",
        "`min_spacing` is not a valid duration",
    );
}

#[test]
fn tiers_must_be_in_order() {
    let source = default_with("fair = 40 }", "fair = 60 }");
    assert_one(
        &source,
        "tiers",
        "tier `fair` (60) must be below `good` (60)",
    );
}

#[test]
fn a_sequence_type_needs_send_authority() {
    let source = default_with("type = \"post_meeting\"", "type = \"post_call\"");
    let diagnostic = assert_one(
        &source,
        "post_call",
        "sequence `ae-follow-up` has type `post_call`, which has no send authority",
    );
    assert!(hint(&diagnostic).contains("post_call = { mode = \"approval\""));

    // A misspelling on the send-authority side is suggested.
    let source = default_with("post_meeting = { mode", "post_meetng = { mode");
    let diagnostic = assert_one(
        &source,
        "type = \"post_meeting\"",
        "has type `post_meeting`",
    );
    assert!(hint(&diagnostic).contains("`post_meetng`"), "{diagnostic}");
}

#[test]
fn send_authority_windows_match_the_mode() {
    let source = default_with(
        "cold = { mode = \"approval\", window = \"24h\" }",
        "cold = { mode = \"approval\" }",
    );
    assert_one(&source, "cold = { mode", "missing required key `window`");

    let source = default_with(
        "cold = { mode = \"approval\", window = \"24h\" }",
        "cold = { mode = \"auto\", window = \"24h\" }",
    );
    assert_one(
        &source,
        "cold = { mode",
        "`window` only applies to mode = \"approval\" or \"veto\"",
    );

    let source = default_with("window = \"48h\"", "window = \"0h\"");
    assert_one(&source, "0h", "`window` must be longer than zero");
}

#[test]
fn rates_must_be_fractions() {
    let source = default_with("qa_sample_rate = 0.05", "qa_sample_rate = 5");
    let diagnostic = assert_one(
        &source,
        "qa_sample_rate",
        "`qa_sample_rate` must be between 0 and 1",
    );
    assert!(hint(&diagnostic).contains("0.05"));
}

#[test]
fn a_field_in_two_data_access_lists_is_a_mistake() {
    let source = default_with(
        "human_confirm = [\"contact.city\"",
        "human_confirm = [\"contact.title\"",
    );
    let diagnostic = assert_one(
        &source,
        "human_confirm",
        "`contact.title` is in both `ai_may_use`",
    );
    assert!(
        diagnostic
            .message
            .contains(&format!("line {}", line_of(&source, "\"contact.title\"")))
    );

    let source = default_with("\"contact.phone\"", "\"contcat.phone\"");
    let diagnostic = assert_one(&source, "contcat", "unknown record `contcat`");
    assert_eq!(hint(&diagnostic), "did you mean `contact`?");
}

#[test]
fn secrets_never_go_in_the_playbook() {
    let source = default_with(
        "daily_cap = 40 ",
        "smtp = { host = \"smtp.example.com\", port = 587, tls = \"starttls\", username = \"dana\", password = \"hunter2\" }\ndaily_cap = 40 ",
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic
            .message
            .contains("a literal `password` is not allowed"),
        "{diagnostic}"
    );
    assert_eq!(diagnostic.line, last_line_of(&source, "smtp = {"));
    assert!(hint(&diagnostic).contains("password_env"));
    assert!(hint(&diagnostic).contains("password_file"));
    assert_eq!(
        diagnostic.column,
        source
            .lines()
            .nth(diagnostic.line - 1)
            .unwrap()
            .find("password")
            .unwrap()
            + 1
    );

    let source = default_with(
        "backend = \"template\"",
        "backend = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_key = \"sk-123\"",
    );
    let diagnostic = assert_one(&source, "api_key", "a literal `api_key` is not allowed");
    assert!(hint(&diagnostic).contains("api_key_env"));

    // A near-miss of the refused key is never "corrected" to it.
    let source = default_with(
        "daily_cap = 40 ",
        "smtp = { host = \"smtp.example.com\", port = 587, tls = \"starttls\", passwd = \"x\" }\ndaily_cap = 40 ",
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic.message.contains("unknown key `passwd`"),
        "{diagnostic}"
    );
    assert!(!hint(&diagnostic).contains("`password`"), "{diagnostic}");
}

#[test]
fn smtp_settings_are_checked() {
    let source = default_with(
        "daily_cap = 40 ",
        "smtp = { host = \"smtp.example.com\", port = 587, tls = \"ssl\", username = \"dana\", password_env = \"SMTP_DANA\" }\ndaily_cap = 40 ",
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic.message.contains("`ssl` is not a valid `tls`"),
        "{diagnostic}"
    );
    assert_eq!(diagnostic.line, last_line_of(&source, "smtp = {"));
    assert!(hint(&diagnostic).contains("`starttls`"));

    let source = default_with(
        "daily_cap = 40 ",
        "smtp = { host = \"smtp.example.com\", port = 587, tls = \"starttls\", username = \"dana\" }\ndaily_cap = 40 ",
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic
            .message
            .contains("an SMTP username needs a password source"),
        "{diagnostic}"
    );
    assert_eq!(diagnostic.line, last_line_of(&source, "smtp = {"));
}

#[test]
fn mailbox_owner_and_address_are_checked() {
    let source = default_with("owner = \"dana\"", "owner = \"\"");
    assert_one(&source, "owner = \"\"", "`owner` is empty");

    let source = default_with("owner = \"dana\"", "owner = \"Dana Smith\"");
    assert_one(&source, "Dana Smith", "not a valid username");

    let source = default_with(
        "address = \"dana@northwind.example\"",
        "address = \"dana.northwind.example\"",
    );
    assert_one(
        &source,
        "address = \"dana.",
        "`address` is not an email address",
    );

    let mailbox_start = DEFAULT_PLAYBOOK.find("\n[[mailbox]]").unwrap() + 1;
    let model_start = DEFAULT_PLAYBOOK.find("# ── Model").unwrap();
    let mailbox = &DEFAULT_PLAYBOOK[mailbox_start..model_start];
    let source = format!(
        "{DEFAULT_PLAYBOOK}\n{}",
        mailbox.replace("owner = \"dana\"", "owner = \"dana2\"")
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic.message.contains("already defined on line"),
        "{diagnostic}"
    );
    assert!(diagnostic.line > line_of(&source, "[model]"));
}

#[test]
fn mailbox_limits_and_windows_are_checked() {
    let source = default_with("daily_cap = 40 ", "daily_cap = 5000 ");
    assert_one(
        &source,
        "daily_cap",
        "`daily_cap` must be between 1 and 500",
    );

    let source = default_with(
        "from = \"08:30\", to = \"17:30\"",
        "from = \"17:30\", to = \"08:30\"",
    );
    assert_one(
        &source,
        "send_window",
        "the send window ends (08:30) before it starts (17:30)",
    );

    let source = default_with("days = \"mon-fri\"", "days = \"mon-frii\"");
    let diagnostic = assert_one(&source, "send_window", "`frii` in `days` is not a day");
    assert_eq!(hint(&diagnostic), "did you mean `fri`?");
}

#[test]
fn sequence_steps_are_checked() {
    let source = default_with(
        "{ kind = \"email\", day = 0, note = \"Lead with",
        "{ kind = \"email\", day = 0, thread = true, note = \"Lead with",
    );
    assert_one(
        &source,
        "thread = true, note = \"Lead",
        "the first email of a sequence has no thread",
    );

    let source = default_with(
        "{ kind = \"call\",  day = 5,",
        "{ kind = \"call\",  day = 5, thread = true,",
    );
    assert_one(&source, "kind = \"call\"", "only email steps can thread");

    let source = default_with(
        "steps = [\n  { kind = \"email\", day = 0, note = \"Summarise the meeting and agree the next step\" },\n]",
        "steps = []",
    );
    assert_one(&source, "steps = []", "a sequence needs at least one step");

    let source = default_with(
        "{ kind = \"email\", day = 8,",
        "{ kind = \"email\", day = 4,",
    );
    assert_one(
        &source,
        "day = 4",
        "step 4 is on day 4, before the step above it (day 5)",
    );

    let source = default_with("owner_role = \"ae\"", "owner_role = \"account_executive\"");
    assert_one(&source, "account_executive", "not a valid `owner_role`");
}

#[test]
fn verified_proof_points_need_a_source() {
    let source = default_with(
        "source = \"https://northwind.example/customers/globex\"\n",
        "",
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic.message.contains("missing required key `source`"),
        "{diagnostic}"
    );
    assert_eq!(
        diagnostic.line,
        line_of(&source, "id = \"pr-globex-board-pack\"") - 1
    );
}

#[test]
fn content_rules_must_match_something() {
    let source = default_with(
        "phrases = [\"better than\", \"unlike other\", \"switch from\", \"outdated\", \"clunky\"]",
        "phrases = []",
    );
    let diagnostic = only_diagnostic(&source);
    assert!(
        diagnostic.message.contains("matches nothing"),
        "{diagnostic}"
    );
    // At the rule's [[governance.content]] header, just above its id.
    assert_eq!(
        diagnostic.line,
        line_of(&source, "id = \"competitors\"") - 1
    );
}

#[test]
fn workspace_values_are_shape_checked() {
    let source = default_with("\"America/New_York\"", "\"Eastern Time\"");
    let diagnostic = assert_one(
        &source,
        "Eastern Time",
        "`Eastern Time` is not an IANA time zone",
    );
    assert!(hint(&diagnostic).contains("America/New_York"));

    let source = default_with("\"America/New_York\"", "\"Amercia/New_York\"");
    let diagnostic = assert_one(&source, "Amercia", "not an IANA time zone");
    assert_eq!(hint(&diagnostic), "did you mean `America/New_York`?");

    let source = default_with("\"America/New_York\"", "\"UTC\"");
    assert!(parse(&source, "handoff.toml").is_ok());

    let source = default_with(
        "\"https://handoff.northwind.example\"",
        "\"handoff.northwind.example\"",
    );
    assert_one(
        &source,
        "public_url",
        "`public_url` must be an http:// or https:// address",
    );
}

#[test]
fn model_backends_need_their_settings() {
    let source = default_with("backend = \"template\"", "backend = \"local\"");
    assert_one(
        &source,
        "[model]",
        "missing required key `model_path` in [model]",
    );

    let source = default_with("backend = \"template\"", "backend = \"anthropic\"");
    assert_one(
        &source,
        "[model]",
        "missing required key `model` in [model]",
    );
}

#[test]
fn model_limits_and_prices_are_read_and_checked() {
    let settings = "backend = \"openai\"\nmodel = \"gpt-4o-mini\"\ntop_p = 0.9\nmax_tokens = 900\n\
        timeout_secs = 30\nconcurrency = 16\nmax_attempts = 3\n\
        input_price_per_1k = 0.00015\noutput_price_per_1k = 0.0006";
    let source = default_with("backend = \"template\"", settings);
    let model = parse(&source, "handoff.toml").unwrap().model;
    assert_eq!(model.top_p, Some(0.9));
    assert_eq!(model.max_tokens, Some(900));
    assert_eq!(model.timeout_secs, Some(30));
    assert_eq!(model.concurrency, Some(16));
    assert_eq!(model.max_attempts, Some(3));
    assert_eq!(model.input_price_per_1k, Some(0.00015));
    assert_eq!(model.output_price_per_1k, Some(0.0006));

    for (bad, fragment) in [
        (
            "max_tokens = 0",
            "`max_tokens` must be between 1 and 32768, not 0",
        ),
        (
            "concurrency = 1000",
            "`concurrency` must be between 1 and 256",
        ),
        (
            "max_attempts = 0",
            "`max_attempts` must be between 1 and 10",
        ),
        (
            "timeout_secs = 3600",
            "`timeout_secs` must be between 1 and 600",
        ),
        ("top_p = 0", "`top_p` must be above 0 and at most 1"),
        (
            "input_price_per_1k = -1",
            "`input_price_per_1k` must be between 0 and 1000",
        ),
    ] {
        let source = default_with(
            "backend = \"template\"",
            &format!("backend = \"template\"\n{bad}"),
        );
        assert_one(&source, bad, fragment);
    }
}

#[test]
fn syntax_errors_are_reported_without_their_echoes() {
    // A mistake early on, then an unterminated string: the parser's
    // recovery must not add "missing key" noise after it.
    let source = default_with("\"America/New_York\"", "\"America/NewYork City\"")
        .replace("backend = \"template\"", "backend = \"template");
    let found = diagnostics(&source);
    let messages: Vec<&str> = found.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{found}");
    assert!(messages[0].contains("is not an IANA time zone"), "{found}");
    assert!(messages[1].starts_with("invalid TOML"), "{found}");
    assert_eq!(found.0[1].line, line_of(&source, "backend = \"template"));
}

#[test]
fn duplicate_keys_are_one_mistake_and_do_not_hide_others() {
    let source = default_with(
        "[list_building]\napproval = \"automatic\"",
        "[list_building]\napproval = \"automatic\"\napproval = \"manual\"",
    )
    .replace("daily_cap = 40 ", "daily_cap = 0 ");
    let found = diagnostics(&source);
    assert_eq!(found.len(), 2, "{found}");
    assert_eq!(found.0[0].message, "`approval` is set twice");
    assert_eq!(found.0[0].line, line_of(&source, "approval = \"manual\""));
    assert!(found.0[1].message.contains("daily_cap"), "{found}");
}

#[test]
fn empty_input_lists_the_required_sections() {
    assert_eq!(diagnostics("").len(), 3);
    assert_eq!(diagnostics("   \n# nothing here\n").len(), 3);
}

#[test]
fn columns_count_characters_not_bytes() {
    let source = default_with(
        "name = \"Northwind Analytics\"",
        "name = \"Nörthwind Ånalytics\"",
    )
    .replace(
        "severity = \"review\"\nphrases = [\"act now\"",
        "\"sévérité\" = \"review\"\nphrases = [\"act now\"",
    );
    let diagnostics = diagnostics(&source);
    assert!(
        diagnostics
            .iter()
            .any(|d| d.message.contains("unknown key `sévérité`") && d.column == 1),
        "{diagnostics}"
    );
    let source = "[workspace]\nname = \"Ωmega\"\ntime_zone = \"Ω/Ω\"\nphysical_address = \"x\"\n";
    let diagnostic = diagnostics_for_line(source, 3);
    assert_eq!(diagnostic.column, 13);
}

fn diagnostics_for_line(source: &str, line: usize) -> Diagnostic {
    diagnostics(source)
        .0
        .into_iter()
        .find(|d| d.line == line)
        .unwrap()
}

// ── Policy version ────────────────────────────────────────────────────────

#[test]
fn policy_version_looks_like_pv_and_sixteen_hex_digits() {
    let version = default_playbook().policy_version();
    let text = version.as_str();
    assert_eq!(text.len(), 19, "{text}");
    assert!(text.starts_with("pv-"));
    assert!(
        text[3..]
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(version.to_string(), text);
    assert_eq!(
        serde_json::to_string(&version).unwrap(),
        format!("\"{text}\"")
    );
}

#[test]
fn policy_version_ignores_layout_comments_order_and_database() {
    let small = parse(SMALL, "a.toml").unwrap();
    let reordered = parse(SMALL_REORDERED, "b.toml").unwrap();
    assert_ne!(small.database, reordered.database);
    assert_eq!(small.policy_version(), reordered.policy_version());

    // The default playbook without any of its comments or blank lines.
    let bare: String = DEFAULT_PLAYBOOK
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_ne!(bare, DEFAULT_PLAYBOOK);
    let bare = parse(&bare, "handoff.toml").unwrap();
    assert_eq!(bare.policy_version(), default_playbook().policy_version());
}

#[test]
fn policy_version_changes_with_any_policy_change() {
    let original = default_playbook().policy_version();
    for (from, to) in [
        ("points = 25", "points = 26"),
        ("window = \"24h\"", "window = \"1d1h\""),
        (
            "\"contact.street_address\"",
            "\"contact.street_address\", \"contact.birthday\"",
        ),
        ("daily_cap = 40 ", "daily_cap = 41 "),
        (
            "verified = false",
            "verified = true\nsource = \"https://x.example\"",
        ),
        (
            "physical_address = \"100 Main St",
            "physical_address = \"101 Main St",
        ),
    ] {
        let changed = parse(&default_with(from, to), "handoff.toml").unwrap();
        assert_ne!(changed.policy_version(), original, "{from} -> {to}");
    }
    // `24h` and `1d` are the same window: the same policy.
    let same = parse(
        &default_with("window = \"24h\"", "window = \"1d\""),
        "handoff.toml",
    )
    .unwrap();
    assert_eq!(same.policy_version(), original);
}

// ── Never panics ──────────────────────────────────────────────────────────

/// An edit of the default playbook: replace, insert or delete one character.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    let interesting = prop_oneof![
        Just('"'),
        Just('\''),
        Just('['),
        Just(']'),
        Just('{'),
        Just('}'),
        Just('='),
        Just(','),
        Just('\n'),
        Just('#'),
        Just('\\'),
        Just('.'),
        Just('-'),
        Just('('),
        any::<char>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(at, c)| Edit::Replace(at, c)),
        (any::<usize>(), interesting).prop_map(|(at, c)| Edit::Insert(at, c)),
        any::<usize>().prop_map(Edit::Delete),
    ]
}

fn apply(source: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = source.chars().collect();
    for edit in edits {
        let len = chars.len().max(1);
        match *edit {
            Edit::Replace(at, c) if !chars.is_empty() => chars[at % len] = c,
            Edit::Insert(at, c) => chars.insert(at % (chars.len() + 1), c),
            Edit::Delete(at) if !chars.is_empty() => {
                chars.remove(at % len);
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

proptest! {
    // Failures are reproduced from the printed seed; no regression files.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(source in ".{0,400}") {
        let _ = parse(&source, "handoff.toml");
    }

    #[test]
    fn parse_never_panics_on_an_edited_default_playbook(edits in prop::collection::vec(edit_strategy(), 1..8)) {
        let source = apply(DEFAULT_PLAYBOOK, &edits);
        match parse(&source, "handoff.toml") {
            Ok(playbook) => { let _ = playbook.policy_version(); }
            Err(diagnostics) => {
                prop_assert!(!diagnostics.is_empty());
                let lines = source.lines().count().max(1);
                for diagnostic in &diagnostics {
                    prop_assert!(diagnostic.line >= 1 && diagnostic.line <= lines + 1, "{}", diagnostic);
                    prop_assert!(diagnostic.column >= 1);
                }
            }
        }
    }
}

#[test]
fn personas_and_segments_must_be_ones_content_can_be_matched_on() {
    let source = default_with(
        "personas = [\"engineering\", \"it\", \"executive\"]",
        "personas = [\"enginering\", \"it\", \"executive\"]",
    );
    let diagnostic = assert_one(
        &source,
        "\"enginering\"",
        "`enginering` is not a persona handoff knows",
    );
    assert_eq!(hint(&diagnostic), "did you mean `engineering`?");

    let source = default_with(
        "segments = [\"employees:200-5000\"]",
        "segments = [\"employees:5000-200\"]",
    );
    let diagnostic = assert_one(
        &source,
        "\"employees:5000-200\"",
        "`employees:5000-200` is not a segment handoff can match",
    );
    assert!(hint(&diagnostic).contains("employees:MIN-MAX"));
}

#[test]
fn dkim_signs_with_the_mailbox_domain_unless_told_otherwise() {
    let source = default_with(
        "daily_cap = 40 ",
        "dkim = { selector = \"s2026\", key_file = \"dkim/s2026.pem\" }\ndaily_cap = 40 ",
    );
    let playbook = parse(&source, "handoff.toml").unwrap();
    let dkim = playbook.mailboxes[0].dkim.clone().unwrap();
    assert_eq!(dkim.domain, "northwind.example");
    assert_eq!(dkim.selector, "s2026");
    assert_eq!(dkim.key_file, "dkim/s2026.pem");
    let source = default_with(
        "daily_cap = 40 ",
        "dkim = { selector = \"s2026\", key_file = \"k.pem\", domain = \"Mail.Northwind.example\" }\ndaily_cap = 40 ",
    );
    let playbook = parse(&source, "handoff.toml").unwrap();
    assert_eq!(
        playbook.mailboxes[0].dkim.as_ref().unwrap().domain,
        "mail.northwind.example"
    );
    assert_eq!(default_playbook().mailboxes[0].dkim, None);
}

#[test]
fn dkim_mistakes_are_located() {
    let source = default_with(
        "daily_cap = 40 ",
        "dkim = { selector = \"s 2026\", key_file = \"k.pem\" }\ndaily_cap = 40 ",
    );
    assert_one(
        &source,
        "dkim = { selector = \"s 2026\"",
        "`selector` `s 2026` is not a DNS name",
    );
    let source = default_with(
        "daily_cap = 40 ",
        "dkim = { selector = \"s2026\" }\ndaily_cap = 40 ",
    );
    let diagnostic = assert_one(&source, "dkim = { selector = \"s2026\" }", "key_file");
    assert!(
        hint(&diagnostic).contains("openssl genpkey"),
        "{diagnostic}"
    );
    let source = default_with(
        "daily_cap = 40 ",
        "dkim = { selector = \"s2026\", key_file = \"k.pem\", private_key = \"-----BEGIN\" }\ndaily_cap = 40 ",
    );
    assert_one(&source, "private_key", "private_key");
}

// ── [sending] and the scheduler's keys ───────────────────────────────────

#[test]
fn sending_rules_are_read_with_their_defaults() {
    let playbook = default_playbook();
    assert_eq!(playbook.sending.contact_gap_days, 2);
    assert!(playbook.sending.holidays);
    assert_eq!(playbook.sending.circuit_breaker.bounce_rate, 0.03);
    assert_eq!(playbook.sending.circuit_breaker.min_sends, 20);
    assert_eq!(playbook.sending.circuit_breaker.window_days, 7);
    let source = default_with(
        "extra_holidays = []",
        "extra_holidays = [\"2026-12-24\", \"2026-12-31\"]",
    );
    let playbook = parse(&source, "handoff.toml").unwrap();
    assert_eq!(playbook.sending.extra_holidays.len(), 2);
    // A window may run to the end of the day.
    let source = default_with("to = \"17:30\"", "to = \"24:00\"");
    let playbook = parse(&source, "handoff.toml").unwrap();
    assert_eq!(
        playbook.mailboxes[0]
            .send_window
            .to
            .minutes_after_midnight(),
        1440
    );
}

#[test]
fn sending_mistakes_are_located_with_a_hint() {
    let source = default_with("contact_gap_days = 2", "contact_gap_dayz = 2");
    let d = assert_one(
        &source,
        "contact_gap_dayz",
        "unknown key `contact_gap_dayz`",
    );
    assert!(hint(&d).contains("did you mean `contact_gap_days`"), "{d}");

    let source = default_with("contact_gap_days = 2", "contact_gap_days = 90");
    assert_one(&source, "contact_gap_days = 90", "between 0 and 30");

    let source = default_with("extra_holidays = []", "extra_holidays = [\"24/12/2026\"]");
    let d = assert_one(
        &source,
        "extra_holidays = [",
        "`24/12/2026` in `extra_holidays` is not a date",
    );
    assert!(hint(&d).contains("YYYY-MM-DD"), "{d}");

    let source = default_with("window = \"7d\"", "window = \"36h\"");
    assert_one(&source, "window = \"36h\"", "whole days");

    let source = default_with("bounce_rate = 0.03", "bounce_rate = 3");
    assert_one(&source, "bounce_rate = 3", "between 0 and 1");

    let source = default_with("min_sends = 20", "min_sends = 0");
    assert_one(&source, "min_sends = 0", "at least 1");

    let source = default_with("from = \"08:30\"", "from = \"24:00\"");
    assert_one(&source, "from = \"24:00\"", "not a time of day");
}

#[test]
fn time_zones_are_looked_up_in_the_zone_database() {
    let source = default_with(
        "time_zone = \"America/New_York\"",
        "time_zone = \"America/New_Yrok\"",
    );
    let d = assert_one(
        &source,
        "America/New_Yrok",
        "not in the IANA time zone database",
    );
    assert!(hint(&d).contains("America/New_York"), "{d}");
}
