//! Account research: one summary per account, built once and reused by
//! every contact there. It is made only from account fields the playbook
//! lets a model see (the summary itself goes to models as `research.*`, so
//! building it from anything else would walk around the data-access rules),
//! and it records a hash of what it was built from: when the account's data
//! changes, the hash does, and the summary is rebuilt.

use serde::{Deserialize, Serialize};

use super::input::ResearchInput;
use crate::playbook::ContentCenter;
use crate::policy::data_access::DataAccessPolicy;

/// What is known about an account, before any data-access filtering.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AccountFacts {
    pub name: String,
    pub domain: String,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub revenue: Option<i64>,
    pub technologies: Vec<String>,
    pub country: Option<String>,
    /// Event kinds recorded for anyone at the account (`page_visit`, …).
    pub signals: Vec<String>,
}

/// A research summary: `research.*` facts, and the content-center items
/// it says matter for the account's segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Research {
    pub facts: Vec<(String, String)>,
    pub priorities: Vec<String>,
    /// SHA-256 of the filtered inputs and content it was built from.
    pub data_hash: String,
}

impl AccountFacts {
    /// The account's fields as `account.*` / `signal.*` candidates.
    pub fn candidates(&self) -> Vec<(String, String)> {
        let mut fields = vec![
            ("account.name".to_string(), self.name.clone()),
            ("account.domain".to_string(), self.domain.clone()),
        ];
        let mut push = |name: &str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
                fields.push((name.to_string(), value));
            }
        };
        push("account.industry", self.industry.clone());
        push("account.employees", self.employees.map(|n| n.to_string()));
        push("account.revenue", self.revenue.map(|n| n.to_string()));
        push("account.technologies", Some(self.technologies.join(", ")));
        push("account.country", self.country.clone());
        for kind in &self.signals {
            push(&format!("signal.{kind}"), Some("true".to_string()));
        }
        fields
    }
}

/// Builds the summary from what `policy` allows (with `confirmed`
/// human-confirm fields) and the content center.
pub fn summarize(
    policy: &DataAccessPolicy,
    confirmed: &[String],
    account: &AccountFacts,
    center: &ContentCenter,
) -> Research {
    research_from_input(&ResearchInput::build(policy, account, confirmed, center))
}

/// The template research: composed from the filtered input with no model.
pub fn research_from_input(input: &ResearchInput) -> Research {
    let get = |name: &str| input.field(name);
    let employees = get("account.employees").and_then(|n| n.parse::<i64>().ok());
    let industry = get("account.industry");

    let mut facts = Vec::new();
    if let Some(name) = get("account.name") {
        let mut summary = name.to_string();
        match (industry, employees) {
            (Some(industry), Some(n)) => {
                summary.push_str(&format!(
                    " is {} {industry} company with about {n} employees",
                    article(industry)
                ));
            }
            (Some(industry), None) => {
                summary.push_str(&format!(" is {} {industry} company", article(industry)));
            }
            (None, Some(n)) => summary.push_str(&format!(" has about {n} employees")),
            (None, None) => summary.clear(),
        }
        if !summary.is_empty() {
            summary.push('.');
            facts.push(("research.summary".to_string(), summary));
        }
    }
    if let Some(n) = employees {
        facts.push(("research.size".to_string(), size_band(n).to_string()));
    }
    if let Some(stack) = get("account.technologies").filter(|s| !s.is_empty()) {
        facts.push(("research.tech_stack".to_string(), stack.to_string()));
    }
    let signals: Vec<&str> = input
        .fields()
        .iter()
        .filter_map(|(field, _)| field.strip_prefix("signal."))
        .collect();
    if !signals.is_empty() {
        facts.push(("research.signals".to_string(), signals.join(", ")));
    }
    let priorities = input.priorities();
    if !priorities.is_empty() {
        let texts: Vec<&str> = priorities.iter().map(|p| p.text.as_str()).collect();
        facts.push(("research.priorities".to_string(), texts.join("; ")));
    }
    Research {
        facts,
        priorities: priorities.iter().map(|p| p.id.clone()).collect(),
        data_hash: input.data_hash(),
    }
}

fn article(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// Coarse company size, as sales teams talk about it.
pub fn size_band(employees: i64) -> &'static str {
    match employees {
        ..=49 => "small business (under 50 employees)",
        50..=199 => "growing company (50-199 employees)",
        200..=999 => "mid-market (200-999 employees)",
        1000..=4999 => "upper mid-market (1,000-4,999 employees)",
        _ => "enterprise (5,000+ employees)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::playbook::DataAccess;

    fn account() -> AccountFacts {
        AccountFacts {
            name: "Acme".into(),
            domain: "acme.com".into(),
            industry: Some("fintech".into()),
            employees: Some(400),
            revenue: Some(90_000_000),
            technologies: vec!["Snowflake".into(), "Salesforce".into()],
            country: Some("US".into()),
            signals: vec!["page_visit".into()],
        }
    }

    #[test]
    fn only_allowed_fields_reach_the_summary() {
        let policy = DataAccessPolicy::new(&DataAccess {
            ai_may_use: vec![
                "account.name".into(),
                "account.industry".into(),
                "account.employees".into(),
            ],
            human_confirm: vec!["signal.page_visit".into()],
            never: vec!["account.revenue".into()],
        });
        let research = summarize(&policy, &[], &account(), &ContentCenter::default());
        let text = format!("{:?}", research.facts);
        assert!(text.contains("Acme is a fintech company with about 400 employees."));
        assert!(!text.contains("90000000"), "{text}");
        assert!(!text.contains("Snowflake"), "{text}");
        assert!(!text.contains("page_visit"), "{text}");
        let confirmed = summarize(
            &policy,
            &["signal.page_visit".into()],
            &account(),
            &ContentCenter::default(),
        );
        assert!(format!("{:?}", confirmed.facts).contains("page_visit"));
        assert_ne!(research.data_hash, confirmed.data_hash);
    }

    #[test]
    fn the_hash_changes_when_the_account_does() {
        let policy = DataAccessPolicy::new(&DataAccess {
            ai_may_use: vec!["account.*".into()],
            human_confirm: vec![],
            never: vec![],
        });
        let before = summarize(&policy, &[], &account(), &ContentCenter::default());
        let again = summarize(&policy, &[], &account(), &ContentCenter::default());
        assert_eq!(before, again);
        let mut grown = account();
        grown.employees = Some(450);
        let after = summarize(&policy, &[], &grown, &ContentCenter::default());
        assert_ne!(before.data_hash, after.data_hash);
    }
}
