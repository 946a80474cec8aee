//! How a batch of import rows changes the database, decided once for every
//! backend: given what is stored for the batch's emails and domains, the
//! plan lists the rows to write and the ledger entries to append. Backends
//! read, call [`plan`], and write, all inside one transaction.

use std::collections::HashMap;

use serde::Serialize;

use handoff_domain::import::{
    AccountRecord, ContactRecord, job_change, merge_account, merge_contact,
};
use handoff_domain::users::Username;
use handoff_domain::{AccountId, ContactId, Event, ImportId};

use crate::provenance::Provenance;

/// One row of an import, parsed and normalised by the engine.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line number in the file (the header is row 1).
    pub row: u64,
    pub contact: ContactRecord,
    pub account: Option<AccountRecord>,
    pub seniority: Option<String>,
    pub department: Option<String>,
}

/// The import the rows belong to, for provenance.
#[derive(Debug, Clone)]
pub struct ImportSource {
    pub import_id: ImportId,
    pub file_name: String,
    /// Given to contacts that are new.
    pub owner: Option<Username>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredContact {
    pub id: ContactId,
    pub account_id: Option<AccountId>,
    pub record: ContactRecord,
    pub seniority: Option<String>,
    pub department: Option<String>,
    pub owner: Option<Username>,
    /// Per field: where its value came from.
    pub sources: Provenance,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredAccount {
    pub id: AccountId,
    pub record: AccountRecord,
    pub sources: Provenance,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BatchOutcome {
    pub imported: u64,
    pub merged: u64,
    pub unchanged: u64,
    pub job_changes: u64,
    pub accounts_created: u64,
}

/// A contact whose company changed, for the events table.
#[derive(Debug, Clone, PartialEq)]
pub struct JobChange {
    pub contact_id: ContactId,
    pub row: u64,
    pub from_company: String,
    pub to_company: String,
}

#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// Accounts to insert or update, in first-touched order.
    pub accounts: Vec<(StoredAccount, bool /* new */)>,
    /// Contacts to insert or update, in first-touched order.
    pub contacts: Vec<(StoredContact, bool /* new */)>,
    pub job_changes: Vec<JobChange>,
    pub ledger: Vec<Event>,
    pub outcome: BatchOutcome,
}

/// Plans the batch. `contacts` and `accounts` hold what is stored for the
/// batch's emails and domains (absent ones are new).
pub fn plan(
    src: &ImportSource,
    rows: &[ImportRow],
    mut contacts: HashMap<String, StoredContact>,
    mut accounts: HashMap<String, StoredAccount>,
) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let import_id = src.import_id.to_string();
    let mut account_order: Vec<String> = Vec::new();
    let mut account_new: HashMap<String, bool> = HashMap::new();
    let mut contact_order: Vec<String> = Vec::new();
    let mut contact_new: HashMap<String, bool> = HashMap::new();

    for row in rows {
        let Some(email) = row.contact.email.as_ref().map(|e| e.as_str().to_string()) else {
            continue;
        };

        // The account first: the contact points at it.
        let account_id = row.account.as_ref().map(|incoming| {
            let domain = incoming.domain.clone();
            match accounts.get_mut(&domain) {
                Some(stored) => {
                    let merge = merge_account(&stored.record, incoming);
                    if !merge.changed.is_empty() {
                        for field in &merge.changed {
                            stored
                                .sources
                                .set(field, &import_id, &src.file_name, row.row);
                        }
                        stored.record = merge.merged;
                        plan.ledger.push(Event::AccountUpdated {
                            account_id: stored.id,
                            import_id: src.import_id,
                            fields: merge.changed.iter().map(|f| f.to_string()).collect(),
                            conflicts: merge.conflicts,
                        });
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            account_new.entry(domain.clone())
                        {
                            slot.insert(false);
                            account_order.push(domain.clone());
                        }
                    }
                    stored.id
                }
                None => {
                    let id = AccountId::new();
                    let fields: Vec<&'static str> = [
                        ("name", incoming.name.is_some()),
                        ("industry", incoming.industry.is_some()),
                        ("employees", incoming.employees.is_some()),
                        ("revenue", incoming.revenue.is_some()),
                        ("technologies", incoming.technologies.is_some()),
                    ]
                    .into_iter()
                    .filter_map(|(field, present)| present.then_some(field))
                    .collect();
                    let sources =
                        Provenance::from_row(&import_id, &src.file_name, row.row, &fields);
                    plan.ledger.push(Event::AccountCreated {
                        account_id: id,
                        domain: domain.clone(),
                        name: incoming.name.clone().unwrap_or_else(|| domain.clone()),
                    });
                    plan.outcome.accounts_created += 1;
                    accounts.insert(
                        domain.clone(),
                        StoredAccount {
                            id,
                            record: incoming.clone(),
                            sources,
                        },
                    );
                    account_order.push(domain.clone());
                    account_new.insert(domain, true);
                    id
                }
            }
        });

        match contacts.get_mut(&email) {
            Some(stored) => {
                let merge = merge_contact(&stored.record, &row.contact);
                let mut fields: Vec<String> = merge.changed.iter().map(|f| f.to_string()).collect();
                let moved_account = account_id.is_some() && account_id != stored.account_id;
                if moved_account {
                    fields.push("account".into());
                }
                let title_changed = merge.changed.contains(&"title");
                if fields.is_empty() {
                    plan.outcome.unchanged += 1;
                    continue;
                }
                if let Some(change) = job_change(&merge) {
                    plan.ledger.push(Event::JobChanged {
                        contact_id: stored.id,
                        import_id: src.import_id,
                        from_company: change.old.clone(),
                        to_company: change.new.clone(),
                    });
                    plan.job_changes.push(JobChange {
                        contact_id: stored.id,
                        row: row.row,
                        from_company: change.old.clone(),
                        to_company: change.new.clone(),
                    });
                    plan.outcome.job_changes += 1;
                }
                for field in &merge.changed {
                    stored
                        .sources
                        .set(field, &import_id, &src.file_name, row.row);
                }
                stored.record = merge.merged;
                if moved_account {
                    stored.account_id = account_id;
                }
                if title_changed {
                    stored.seniority = row.seniority.clone();
                    stored.department = row.department.clone();
                }
                plan.ledger.push(Event::ContactMerged {
                    contact_id: stored.id,
                    import_id: src.import_id,
                    row: row.row,
                    fields,
                    conflicts: merge.conflicts,
                });
                plan.outcome.merged += 1;
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    contact_new.entry(email.clone())
                {
                    slot.insert(false);
                    contact_order.push(email);
                }
            }
            None => {
                let id = ContactId::new();
                let c = &row.contact;
                let fields: Vec<&'static str> = [
                    ("email", true),
                    ("first_name", c.first_name.is_some()),
                    ("last_name", c.last_name.is_some()),
                    ("title", c.title.is_some()),
                    ("phone", c.phone.is_some()),
                    ("linkedin_url", c.linkedin_url.is_some()),
                    ("city", c.city.is_some()),
                    ("country", c.country.is_some()),
                    ("company", c.company.is_some()),
                ]
                .into_iter()
                .filter_map(|(field, present)| present.then_some(field))
                .collect();
                let sources = Provenance::from_row(&import_id, &src.file_name, row.row, &fields);
                plan.ledger.push(Event::ContactImported {
                    contact_id: id,
                    account_id,
                    import_id: src.import_id,
                    row: row.row,
                });
                plan.outcome.imported += 1;
                contacts.insert(
                    email.clone(),
                    StoredContact {
                        id,
                        account_id,
                        record: row.contact.clone(),
                        seniority: row.seniority.clone(),
                        department: row.department.clone(),
                        owner: src.owner.clone(),
                        sources,
                    },
                );
                contact_order.push(email.clone());
                contact_new.insert(email, true);
            }
        }
    }

    plan.accounts = account_order
        .into_iter()
        .filter_map(|d| {
            let new = account_new.get(&d).copied().unwrap_or(false);
            accounts.remove(&d).map(|a| (a, new))
        })
        .collect();
    plan.contacts = contact_order
        .into_iter()
        .filter_map(|e| {
            let new = contact_new.get(&e).copied().unwrap_or(false);
            contacts.remove(&e).map(|c| (c, new))
        })
        .collect();
    plan
}
