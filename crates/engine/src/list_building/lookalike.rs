//! The won accounts lookalike scoring compares against: a CSV of accounts
//! (domain, industry, employees, technologies, country — any order, common
//! vendor spellings accepted), or every account carrying a tag, written
//! `tag:won` in the playbook.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use handoff_domain::import::{parse_employees, split_list};
use handoff_domain::scoring::{Fact, LookalikeModel};
use handoff_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LookalikeError {
    #[error("the playbook's [icp.lookalike] won_accounts file {path} cannot be read: {reason}")]
    Read { path: String, reason: String },
    #[error(
        "the won accounts file {path} has no industry, employees, technologies or country column: {columns}"
    )]
    NoUsableColumns { path: String, columns: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `source` is the playbook's `won_accounts`: `tag:NAME` or a CSV path
/// relative to `base_dir`.
pub async fn load(
    store: &dyn Store,
    source: &str,
    base_dir: &Path,
) -> Result<LookalikeModel, LookalikeError> {
    match source.strip_prefix("tag:") {
        Some(tag) => from_tag(store, tag.trim()).await,
        None => from_csv(&base_dir.join(source)),
    }
}

async fn from_tag(store: &dyn Store, tag: &str) -> Result<LookalikeModel, LookalikeError> {
    let mut seen = BTreeSet::new();
    let mut won = Vec::new();
    let mut after = None;
    loop {
        let page = store.prospects(after, 1_000).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.contact.id);
        for p in page {
            let Some(a) = p.account else { continue };
            if !a.tags.iter().any(|t| t == tag) || !seen.insert(a.id) {
                continue;
            }
            let mut facts = BTreeMap::new();
            if let Some(industry) = a.industry {
                facts.insert("industry".to_string(), Fact::Text(industry));
            }
            if let Some(employees) = a.employees {
                facts.insert("employees".to_string(), Fact::Int(employees));
            }
            facts.insert("technologies".to_string(), Fact::List(a.technologies));
            if let Some(country) = p.contact.country {
                facts.insert("country".to_string(), Fact::Text(country));
            }
            won.push(facts);
        }
    }
    Ok(LookalikeModel::new(won))
}

/// The won accounts from a CSV file.
pub fn from_csv(path: &Path) -> Result<LookalikeModel, LookalikeError> {
    let read_err = |reason: String| LookalikeError::Read {
        path: path.display().to_string(),
        reason,
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| read_err(e.to_string()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| read_err(e.to_string()))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let industry = find(&["industry"]);
    let employees = find(&[
        "employees",
        "# employees",
        "number of employees",
        "numberofemployees",
    ]);
    let technologies = find(&["technologies", "tech stack", "technology"]);
    let country = find(&[
        "country",
        "company country",
        "country/region",
        "billingcountry",
    ]);
    if [industry, employees, technologies, country]
        .iter()
        .all(Option::is_none)
    {
        return Err(LookalikeError::NoUsableColumns {
            path: path.display().to_string(),
            columns: headers.join(", "),
        });
    }
    let mut won = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| read_err(e.to_string()))?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let mut facts = BTreeMap::new();
        if let Some(v) = cell(industry) {
            facts.insert("industry".to_string(), Fact::Text(v.to_lowercase()));
        }
        if let Some(v) = cell(employees).and_then(parse_employees) {
            facts.insert("employees".to_string(), Fact::Int(v));
        }
        if let Some(v) = cell(technologies) {
            facts.insert("technologies".to_string(), Fact::List(split_list(v)));
        }
        if let Some(v) = cell(country) {
            facts.insert("country".to_string(), Fact::Text(v.to_string()));
        }
        if !facts.is_empty() {
            won.push(facts);
        }
    }
    Ok(LookalikeModel::new(won))
}
