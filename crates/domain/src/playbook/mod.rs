//! The playbook: a workspace's policy as code, read from `handoff.toml`.
//!
//! [`parse`] reads the whole file and reports every mistake at once, each
//! with `file:line:column` and a hint, so `handoff policy check` can be run
//! once per round of fixes rather than once per typo. The TOML is walked by
//! hand (see `reader`) because serde stops at the first error.
//!
//! The file reads top to bottom in workflow order: workspace, list building
//! (ICP), the content center, sequences, governance (content rules, data
//! access, send authority, escalation, graduation), mailboxes, model.
//!
//! Conditions are type-checked against [`context`], the documented CEL
//! context; [`check`] also returns warnings (rules that can never fire),
//! which [`parse`] leaves out. `docs/policy.md` documents every key.

mod condition;
mod content;
pub mod context;
mod diagnostic;
mod duration;
mod governance;
mod icp;
mod mailbox;
mod model;
mod reader;
mod sending;
mod sequence;
mod typecheck;
mod workspace;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};
use toml::de::DeTable;

pub use crate::escalation::{Priority, Stage};
pub use condition::Condition;
pub use content::{ContentCenter, ContentItem, ContentKind, ProofPoint};
pub use context::Site;
pub use diagnostic::{Diagnostic, Diagnostics, Level};
pub use duration::{Duration, DurationError};
pub use governance::{
    ContentRule, DataAccess, EscalationRule, Governance, Graduation, SendAuthority, SendMode,
    Severity,
};
pub use icp::{EnrolmentApproval, Icp, IcpRule, IcpTiers, ListBuilding, Lookalike};
pub use mailbox::{ClockTime, Dkim, Mailbox, SecretSource, SendWindow, Smtp, Tls, Weekday};
pub use model::{Backend, ModelConfig};
pub use sending::Sending;
pub use sequence::{OwnerRole, Sequence, Step, StepKind};
pub use typecheck::{ConditionProblem, check_condition};
pub use workspace::{DatabaseSection, Workspace};

use diagnostic::{IssueKind, Issues, did_you_mean};
use reader::{TableReader, UniqueIds};

/// ICP, content and escalation rules share one namespace of ids: a decision
/// names the rules that fired by id alone.
const RULE_ID_NAMESPACE: &str = "ICP, content and escalation rules";

/// The playbook `handoff init` writes: parses with no diagnostics.
pub const DEFAULT_PLAYBOOK: &str = include_str!("default_handoff.toml");

/// A parsed, validated playbook.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Playbook {
    pub workspace: Workspace,
    /// Operational, not policy: not part of [`Playbook::policy_version`].
    pub database: DatabaseSection,
    pub icp: Icp,
    pub list_building: ListBuilding,
    pub content: ContentCenter,
    /// By name, e.g. `sdr-cold`.
    pub sequences: BTreeMap<String, Sequence>,
    pub governance: Governance,
    pub mailboxes: Vec<Mailbox>,
    pub model: ModelConfig,
    /// `[sending]`: rules for every mailbox, and the circuit breakers.
    pub sending: Sending,
}

/// Identifies the policy a decision was made under: "pv-" and the first 16
/// hex digits of a SHA-256 over the parsed playbook (without `[database]`).
/// Comments, layout and key order do not change it; any policy change does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct PolicyVersion(String);

impl PolicyVersion {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bumped if the hashed form ever changes meaning, so old and new versions
/// cannot collide.
const POLICY_HASH_DOMAIN: &[u8] = b"handoff-policy-v1\n";

impl Playbook {
    pub fn policy_version(&self) -> PolicyVersion {
        // Spelled out so that a new field forces a decision: policy or not?
        let Playbook {
            workspace,
            database: _,
            icp,
            list_building,
            content,
            sequences,
            governance,
            mailboxes,
            model,
            sending,
        } = self;
        #[derive(Serialize)]
        struct Policy<'a> {
            workspace: &'a Workspace,
            icp: &'a Icp,
            list_building: &'a ListBuilding,
            content: &'a ContentCenter,
            sequences: &'a BTreeMap<String, Sequence>,
            governance: &'a Governance,
            mailboxes: &'a [Mailbox],
            model: &'a ModelConfig,
            // Left out while it is the default, so playbooks written before
            // [sending] existed keep their version.
            #[serde(skip_serializing_if = "Sending::is_default")]
            sending: &'a Sending,
        }
        let policy = Policy {
            workspace,
            icp,
            list_building,
            content,
            sequences,
            governance,
            mailboxes,
            model,
            sending,
        };
        // Struct fields serialise in declaration order and maps are sorted,
        // so the JSON is canonical. It cannot fail for these types (string
        // keys only); should it ever, Debug output is just as deterministic.
        let canonical =
            serde_json::to_vec(&policy).unwrap_or_else(|_| format!("{self:?}").into_bytes());
        let mut hasher = Sha256::new();
        hasher.update(POLICY_HASH_DOMAIN);
        hasher.update(&canonical);
        let digest = hasher.finalize();
        let hex: String = digest
            .iter()
            .take(8)
            .map(|byte| format!("{byte:02x}"))
            .collect();
        PolicyVersion(format!("pv-{hex}"))
    }
}

/// What `handoff policy check` reports on a playbook.
#[derive(Debug, Clone)]
pub struct Checked {
    /// `None` when a diagnostic is an error.
    pub playbook: Option<Playbook>,
    /// Errors and warnings, in file order.
    pub diagnostics: Diagnostics,
}

/// Reads and validates a playbook. `file_name` is only used in diagnostics.
/// Warnings are left out: see [`check`] for them.
pub fn parse(source: &str, file_name: &str) -> Result<Playbook, Diagnostics> {
    let checked = check(source, file_name);
    match checked.playbook {
        Some(playbook) => Ok(playbook),
        None => {
            let mut diagnostics = checked.diagnostics;
            diagnostics
                .0
                .retain(|diagnostic| diagnostic.level == Level::Error);
            Err(diagnostics)
        }
    }
}

/// Reads and validates a playbook, keeping warnings as well as errors.
pub fn check(source: &str, file_name: &str) -> Checked {
    let mut issues = Issues::new(source);
    let (document, syntax_errors) = DeTable::parse_recoverable(source);
    for error in &syntax_errors {
        report_syntax_error(&mut issues, error);
    }

    let mut root = TableReader::root(document.get_ref());
    root.explain_missing(
        "workspace",
        "start the file with [workspace]: name, time_zone and physical_address",
    );
    let workspace = root
        .required_table(&mut issues, "workspace")
        .and_then(|table| workspace::read_workspace(&mut issues, table));
    let database = root
        .table(&mut issues, "database")
        .map(|table| workspace::read_database(&mut issues, table))
        .unwrap_or_default();
    root.explain_missing(
        "icp",
        "add [icp] with tiers = { excellent = 80, good = 60, fair = 40 } and [[icp.rule]] blocks",
    );
    let mut rule_ids = UniqueIds::default();
    let icp = root
        .required_table(&mut issues, "icp")
        .and_then(|table| icp::read_icp(&mut issues, table, &mut rule_ids));
    root.explain_missing(
        "list_building",
        "add [list_building] with approval = \"automatic\" or \"manual\"",
    );
    let list_building = root
        .required_table(&mut issues, "list_building")
        .and_then(|table| icp::read_list_building(&mut issues, table));
    let content = root
        .table(&mut issues, "content")
        .map(|table| content::read_content(&mut issues, table))
        .unwrap_or_default();
    let sequences = root
        .table(&mut issues, "sequence")
        .map(|table| sequence::read_sequences(&mut issues, table));
    let known_sequence_types: Vec<String> = sequences
        .iter()
        .flat_map(|read| &read.type_locations)
        .map(|(_, sequence_type)| sequence_type.value.clone())
        .collect();
    let governance = root.table(&mut issues, "governance").map(|table| {
        governance::read_governance(&mut issues, table, &mut rule_ids, &known_sequence_types)
    });
    let mailbox_tables = root.tables(&mut issues, "mailbox");
    let mailboxes = mailbox::read_mailboxes(&mut issues, mailbox_tables);
    let model = root
        .table(&mut issues, "model")
        .map(|table| model::read_model(&mut issues, table))
        .unwrap_or_default();
    let sending = root
        .table(&mut issues, "sending")
        .map(|table| sending::read_sending(&mut issues, table))
        .unwrap_or_default();
    root.finish(&mut issues);

    let (sequences, sequence_types) = sequences
        .map(|read| (read.sequences, read.type_locations))
        .unwrap_or_default();
    let (governance, declared_send_types) = governance
        .map(|read| (read.governance, read.declared_send_types))
        .unwrap_or_default();
    check_send_authority_covers_sequences(&mut issues, &sequence_types, &declared_send_types);
    issues.drop_echoes_of_syntax_errors();

    if issues.has_errors() {
        return Checked {
            playbook: None,
            diagnostics: issues.into_diagnostics(file_name),
        };
    }
    let playbook = match (workspace, icp, list_building) {
        (Some(workspace), Some(icp), Some(list_building)) => Some(Playbook {
            workspace,
            database,
            icp,
            list_building,
            content,
            sequences,
            governance,
            mailboxes,
            model,
            sending,
        }),
        // Every path to None above reports an error; this is a safety net.
        _ => {
            issues.push(
                0,
                "the playbook could not be read".to_string(),
                Some("this is a bug in handoff; please report it with the file".to_string()),
            );
            None
        }
    };
    Checked {
        playbook,
        diagnostics: issues.into_diagnostics(file_name),
    }
}

fn report_syntax_error(issues: &mut Issues<'_>, error: &toml::de::Error) {
    let offset = error.span().map(|span| span.start).unwrap_or(0);
    let message = error.message().trim();
    if message.starts_with("duplicate key") {
        // The document around it is intact (the first value is kept), so
        // this is not a syntax error whose echoes must be dropped.
        issues.push(
            offset,
            format!("`{}` is set twice", key_at(issues.source(), offset)),
            Some("a key may appear once per table; remove one of them".to_string()),
        );
        return;
    }
    issues.push_kind(
        IssueKind::Syntax,
        offset,
        format!("invalid TOML: {message}"),
        Some("check quotes, brackets and `key = value` syntax on this line".to_string()),
    );
}

/// The bare or quoted key starting at `offset`, for messages.
fn key_at(source: &str, offset: usize) -> &str {
    let rest = source.get(offset..).unwrap_or_default();
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-' || c == '"' || c == '\''))
        .unwrap_or(rest.len());
    rest.get(..end)
        .unwrap_or_default()
        .trim_matches(|c| c == '"' || c == '\'')
}

/// Every sequence type needs a send authority: otherwise nobody has decided
/// whether its drafts need approval.
fn check_send_authority_covers_sequences(
    issues: &mut Issues<'_>,
    sequence_types: &[(String, reader::Located<String>)],
    declared: &[String],
) {
    let used: Vec<&str> = sequence_types
        .iter()
        .map(|(_, sequence_type)| sequence_type.value.as_str())
        .collect();
    // A misspelt entry in send_authority is the likeliest cause.
    let unused: Vec<&str> = declared
        .iter()
        .map(String::as_str)
        .filter(|declared| !used.contains(declared))
        .collect();
    for (name, sequence_type) in sequence_types {
        if declared.contains(&sequence_type.value) {
            continue;
        }
        let hint = match did_you_mean(&sequence_type.value, &unused) {
            Some(close) => format!(
                "[governance.send_authority] has `{close}`: did you mean `{}` there, or `{close}` here?",
                sequence_type.value
            ),
            None => format!(
                "add {} = {{ mode = \"approval\", window = \"24h\" }} to [governance.send_authority]",
                sequence_type.value
            ),
        };
        issues.error_with_hint(
            &sequence_type.span,
            format!(
                "sequence `{name}` has type `{}`, which has no send authority",
                sequence_type.value
            ),
            hint,
        );
    }
}
