//! Stage 1, list building: the ideal customer profile that scores contacts
//! into tiers, and whether enrolment needs a human.

use serde::Serialize;

use super::condition::{self, Condition};
use super::context::Site;
use super::diagnostic::Issues;
use super::reader::{Located, TableReader, UniqueIds, check_id};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Icp {
    pub tiers: IcpTiers,
    /// Points add up to a contact's score; every rule that fires is kept as
    /// a reason.
    pub rules: Vec<IcpRule>,
    pub lookalike: Option<Lookalike>,
}

/// Minimum scores per tier; below `fair` is "not a fit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IcpTiers {
    pub excellent: i64,
    pub good: i64,
    pub fair: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IcpRule {
    pub id: Option<String>,
    pub when: Condition,
    /// May be negative: a rule can count against a fit.
    pub points: i64,
    /// Shown to people next to the score.
    pub reason: String,
}

/// Scores accounts by similarity to closed-won ones.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lookalike {
    /// A CSV of won accounts, relative to the playbook file.
    pub won_accounts: String,
    /// Points for a perfect match, scaled by similarity.
    pub weight: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListBuilding {
    pub approval: EnrolmentApproval,
}

/// Who lets a scored contact into a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrolmentApproval {
    /// Contacts that fit are enrolled without a human.
    Automatic,
    /// A human approves every enrolment.
    Manual,
}

/// `rule_ids` is shared with the content and escalation rules: one id
/// names one rule in decisions and audit trails.
pub(crate) fn read_icp(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    rule_ids: &mut UniqueIds,
) -> Option<Icp> {
    table.explain_missing(
        "tiers",
        "add the minimum score of each tier: tiers = { excellent = 80, good = 60, fair = 40 }",
    );
    let tiers = table
        .required_table(issues, "tiers")
        .and_then(|tiers| read_tiers(issues, tiers));
    let mut rules = Some(Vec::new());
    for rule_table in table.tables(issues, "rule") {
        let rule = read_rule(issues, rule_table, rule_ids);
        // Every rule is checked even after a bad one.
        match (rule, rules.as_mut()) {
            (Some(rule), Some(rules)) => rules.push(rule),
            _ => rules = None,
        }
    }
    let lookalike = table
        .table(issues, "lookalike")
        .and_then(|lookalike| read_lookalike(issues, lookalike));
    table.finish(issues);
    Some(Icp {
        tiers: tiers?,
        rules: rules?,
        lookalike,
    })
}

fn read_tiers(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Option<IcpTiers> {
    let excellent = table.required_integer(issues, "excellent");
    let good = table.required_integer(issues, "good");
    let fair = table.required_integer(issues, "fair");
    table.finish(issues);
    let (excellent, good, fair) = (excellent?, good?, fair?);
    let mut in_order = true;
    for (higher, higher_name, lower, lower_name) in [
        (&excellent, "excellent", &good, "good"),
        (&good, "good", &fair, "fair"),
    ] {
        if lower.value >= higher.value {
            in_order = false;
            issues.error_with_hint(
                &lower.span,
                format!(
                    "tier `{lower_name}` ({}) must be below `{higher_name}` ({})",
                    lower.value, higher.value
                ),
                "tiers are minimum scores: excellent > good > fair",
            );
        }
    }
    in_order.then_some(IcpTiers {
        excellent: excellent.value,
        good: good.value,
        fair: fair.value,
    })
}

fn read_rule(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
    ids: &mut UniqueIds,
) -> Option<IcpRule> {
    let id = table
        .string(issues, "id")
        .and_then(|id| check_id(issues, id, "id"))
        .filter(|id| ids.claim(issues, id, super::RULE_ID_NAMESPACE));
    let when = table
        .required_string(issues, "when")
        .and_then(|when| condition::compile(issues, when, "when", Some(Site::IcpRule), &[]));
    let points = table.required_integer(issues, "points");
    table.explain_missing(
        "reason",
        "say in a few words why this rule matters, e.g. reason = \"Target industry\"; people see it next to the score",
    );
    let reason = table.required_text(issues, "reason");
    table.finish(issues);
    Some(IcpRule {
        id: id.map(|id| id.value),
        when: when?,
        points: points?.value,
        reason: reason?.value,
    })
}

fn read_lookalike(issues: &mut Issues<'_>, mut table: TableReader<'_, '_>) -> Option<Lookalike> {
    let won_accounts = table.required_text(issues, "won_accounts");
    let weight = table.required_integer(issues, "weight");
    table.finish(issues);
    Some(Lookalike {
        won_accounts: won_accounts?.value,
        weight: weight?.value,
    })
}

pub(crate) fn read_list_building(
    issues: &mut Issues<'_>,
    mut table: TableReader<'_, '_>,
) -> Option<ListBuilding> {
    table.explain_missing(
        "approval",
        "choose who enrols scored contacts: approval = \"automatic\" or \"manual\"",
    );
    let approval = table.required_choice(
        issues,
        "approval",
        &[
            ("automatic", EnrolmentApproval::Automatic),
            ("manual", EnrolmentApproval::Manual),
        ],
    );
    table.finish(issues);
    Some(ListBuilding {
        approval: approval.map(|approval: Located<EnrolmentApproval>| approval.value)?,
    })
}
