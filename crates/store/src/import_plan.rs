//! How a batch of import rows changes the database, decided once for every
//! backend: given what is stored for the batch's emails and domains, the
//! plan lists the rows to write and the ledger entries to append. Backends
//! read, call [`plan`], and write, all inside one transaction.
//!
//! With an [`Assess`], the plan also verifies (offline) and scores each new
//! contact, so it is written once, already carrying what `handoff verify
//! --offline` and `handoff score` would store. Contacts whose score cannot
//! be computed from the batch alone (known contacts, with their signals;
//! contacts of an account the batch changed) are listed for the backend to
//! rescore from the database after writing, in the same transaction.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use handoff_domain::import::{
    AccountRecord, ContactRecord, job_change, merge_account, merge_contact,
};
use handoff_domain::users::Username;
use handoff_domain::verification::Verdict;
use handoff_domain::{AccountId, ContactId, Event, ImportId};

use crate::provenance::Provenance;
use crate::{AccountProfile, Contact, Prospect, StoredScore};

/// A score as it is stored: the reasons already serialised (the same text
/// `StoredScore::reasons.to_string()` gives), so writing it is a copy.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedScore {
    pub score: u8,
    pub tier: String,
    pub reasons: String,
}

impl From<StoredScore> for PreparedScore {
    fn from(s: StoredScore) -> Self {
        PreparedScore {
            score: s.score,
            tier: s.tier,
            reasons: s.reasons.to_string(),
        }
    }
}

/// Offline verification and ICP scoring, as `handoff verify --offline` and
/// `handoff score` do them; the engine implements it.
pub trait Assess: Send + Sync + fmt::Debug {
    /// The verdict on an address without looking anything up; None when
    /// the import leaves verification to `handoff verify`.
    fn verify(&self, email: &str) -> Option<Verdict>;
    /// The prospect's ICP score with its reasons.
    fn score(&self, prospect: &Prospect) -> StoredScore;
}

/// One row of an import, parsed and normalised by the engine.
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// 1-based line number in the file (the header is row 1).
    pub row: u64,
    pub contact: ContactRecord,
    pub account: Option<AccountRecord>,
    pub seniority: Option<String>,
    pub department: Option<String>,
    /// The address's offline verdict, when the import verifies (computed
    /// where the row is parsed, off the writer's path).
    pub verdict: Option<Verdict>,
    /// The id the contact gets if it is new (made beside parsing).
    pub new_id: ContactId,
    /// The score the contact gets if it is new and its account is as this
    /// row describes it, untagged (see [`row_prospect`]); the plan uses it
    /// only when both hold, and scores from the batch's state otherwise.
    pub assessed: Option<PreparedScore>,
}

/// The import the rows belong to, for provenance.
#[derive(Debug, Clone)]
pub struct ImportSource {
    pub import_id: ImportId,
    pub file_name: String,
    /// Given to contacts that are new.
    pub owner: Option<Username>,
    /// Verify and score while importing.
    pub assess: Option<Arc<dyn Assess>>,
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
    pub verification: Option<Verdict>,
    pub verified_at: Option<DateTime<Utc>>,
    /// Set by the plan for a new contact when the import scores.
    pub score: Option<PreparedScore>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredAccount {
    pub id: AccountId,
    pub record: AccountRecord,
    pub sources: Provenance,
    /// Read by scoring rules; imports never change them.
    pub tags: Vec<String>,
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
    /// With an [`Assess`]: known contacts the batch wrote, to rescore from
    /// the database once the batch is written.
    pub rescore_contacts: Vec<ContactId>,
    /// With an [`Assess`]: known accounts the batch changed, whose other
    /// contacts are rescored the same way.
    pub rescore_accounts: Vec<AccountId>,
}

/// A contact or account the batch touched: what it will be, whether it is
/// new, and whether anything about it changed.
struct Slot<T> {
    item: T,
    new: bool,
    written: bool,
}

/// Plans the batch. `contacts` and `accounts` hold what is stored for the
/// batch's emails and domains (absent ones are new).
pub fn plan(
    src: &ImportSource,
    now: DateTime<Utc>,
    rows: &[ImportRow],
    mut contacts: HashMap<String, StoredContact>,
    mut accounts: HashMap<String, StoredAccount>,
) -> ImportPlan {
    let mut plan = ImportPlan::default();
    let import_id = src.import_id.to_string();
    // Touched accounts and contacts, in first-touched order, found by the
    // rows' own keys (no copies of them).
    let mut account_slots: Vec<Slot<StoredAccount>> = Vec::new();
    let mut account_at: HashMap<&str, usize> = HashMap::new();
    let mut contact_slots: Vec<Slot<StoredContact>> = Vec::new();
    let mut contact_at: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    // New contacts whose row's own score still holds: the row that created
    // them, until another row changes them.
    let mut created_by: HashMap<usize, usize> = HashMap::new();

    for (index, row) in rows.iter().enumerate() {
        let Some(email) = row.contact.email.as_ref().map(|e| e.as_str()) else {
            continue;
        };

        // The account first: the contact points at it.
        let account_id = row.account.as_ref().map(|incoming| {
            let domain = incoming.domain.as_str();
            let at = match account_at.get(domain) {
                Some(&at) => Some(at),
                None => accounts.remove(domain).map(|stored| {
                    account_slots.push(Slot {
                        item: stored,
                        new: false,
                        written: false,
                    });
                    account_at.insert(domain, account_slots.len() - 1);
                    account_slots.len() - 1
                }),
            };
            match at.and_then(|at| account_slots.get_mut(at)) {
                Some(slot) => {
                    let stored = &mut slot.item;
                    let merge = merge_account(&stored.record, incoming);
                    if !merge.changed.is_empty() {
                        for field in &merge.changed {
                            stored
                                .sources
                                .set(field, &import_id, &src.file_name, row.row);
                        }
                        stored.record = merge.merged;
                        if src.assess.is_some()
                            && !slot.new
                            && !plan.rescore_accounts.contains(&stored.id)
                        {
                            plan.rescore_accounts.push(stored.id);
                        }
                        plan.ledger.push(Event::AccountUpdated {
                            account_id: stored.id,
                            import_id: src.import_id,
                            fields: merge.changed.iter().map(|f| f.to_string()).collect(),
                            conflicts: merge.conflicts,
                        });
                        slot.written = true;
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
                        domain: domain.to_string(),
                        name: incoming.name.clone().unwrap_or_else(|| domain.to_string()),
                    });
                    plan.outcome.accounts_created += 1;
                    account_slots.push(Slot {
                        item: StoredAccount {
                            id,
                            record: incoming.clone(),
                            sources,
                            tags: Vec::new(),
                        },
                        new: true,
                        written: true,
                    });
                    account_at.insert(domain, account_slots.len() - 1);
                    id
                }
            }
        });

        let at = match contact_at.get(email) {
            Some(&at) => Some(at),
            None => contacts.remove(email).map(|stored| {
                contact_slots.push(Slot {
                    item: stored,
                    new: false,
                    written: false,
                });
                contact_at.insert(email, contact_slots.len() - 1);
                contact_slots.len() - 1
            }),
        };
        match at.and_then(|at| contact_slots.get_mut(at).map(|slot| (at, slot))) {
            Some((at, slot)) => {
                let stored = &mut slot.item;
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
                created_by.remove(&at);
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
                if stored.verification.is_none() && row.verdict.is_some() {
                    stored.verification = row.verdict;
                    stored.verified_at = Some(now);
                }
                plan.ledger.push(Event::ContactMerged {
                    contact_id: stored.id,
                    import_id: src.import_id,
                    row: row.row,
                    fields,
                    conflicts: merge.conflicts,
                });
                plan.outcome.merged += 1;
                slot.written = true;
            }
            None => {
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
                plan.outcome.imported += 1;
                contact_slots.push(Slot {
                    item: StoredContact {
                        id: row.new_id,
                        account_id,
                        record: row.contact.clone(),
                        seniority: row.seniority.clone(),
                        department: row.department.clone(),
                        owner: src.owner.clone(),
                        sources,
                        verification: row.verdict,
                        verified_at: row.verdict.map(|_| now),
                        score: None,
                    },
                    new: true,
                    written: true,
                });
                let at = contact_slots.len() - 1;
                contact_at.insert(email, at);
                if row.assessed.is_some() {
                    created_by.insert(at, index);
                }
            }
        }
    }

    let mut verified: BTreeMap<String, u64> = BTreeMap::new();
    let mut scored: BTreeMap<String, u64> = BTreeMap::new();
    if let Some(assess) = &src.assess {
        let by_id: HashMap<AccountId, &StoredAccount> = account_slots
            .iter()
            .map(|slot| (slot.item.id, &slot.item))
            .collect();
        let mut scores: Vec<(usize, PreparedScore)> = Vec::new();
        for (at, slot) in contact_slots.iter().enumerate() {
            let contact = &slot.item;
            if !slot.written {
                continue;
            }
            if !slot.new {
                plan.rescore_contacts.push(contact.id);
                continue;
            }
            let account = match contact.account_id {
                None => None,
                Some(id) => match by_id.get(&id) {
                    Some(account) => Some(*account),
                    None => {
                        // Not loaded: score it from the database instead.
                        plan.rescore_contacts.push(contact.id);
                        continue;
                    }
                },
            };
            let speculated = created_by
                .get(&at)
                .and_then(|&i| rows.get(i))
                .filter(|row| {
                    account.map(|a| (&a.record, a.tags.is_empty()))
                        == row.account.as_ref().map(|r| (r, true))
                })
                .and_then(|row| row.assessed.clone());
            let score = match speculated {
                Some(score) => score,
                None => {
                    let Some(prospect) = prospect_of(contact, account, now) else {
                        plan.rescore_contacts.push(contact.id);
                        continue;
                    };
                    PreparedScore::from(assess.score(&prospect))
                }
            };
            *scored.entry(score.tier.clone()).or_default() += 1;
            if let Some(verdict) = contact.verification {
                *verified.entry(verdict.to_string()).or_default() += 1;
            }
            scores.push((at, score));
        }
        for (at, score) in scores {
            if let Some(slot) = contact_slots.get_mut(at) {
                slot.item.score = Some(score);
            }
        }
    }
    // A batch that changed nothing appends nothing: re-importing is silent.
    let changed = plan.outcome.imported + plan.outcome.merged > 0;
    if let (true, Some(first), Some(last)) = (changed, rows.first(), rows.last()) {
        plan.ledger.push(Event::ContactsImported {
            import_id: src.import_id,
            first_row: first.row,
            last_row: last.row,
            imported: plan.outcome.imported,
            merged: plan.outcome.merged,
            unchanged: plan.outcome.unchanged,
            verified,
            scored,
        });
    }

    plan.accounts = account_slots
        .into_iter()
        .filter(|slot| slot.written)
        .map(|slot| (slot.item, slot.new))
        .collect();
    plan.contacts = contact_slots
        .into_iter()
        .filter(|slot| slot.written)
        .map(|slot| (slot.item, slot.new))
        .collect();
    plan
}

/// What `handoff score` would read for a new contact: it has no events yet
/// and no score; its account is as the batch leaves it.
fn prospect_of(
    c: &StoredContact,
    account: Option<&StoredAccount>,
    now: DateTime<Utc>,
) -> Option<Prospect> {
    new_prospect(
        c.id,
        &c.record,
        c.seniority.clone(),
        c.department.clone(),
        c.owner.clone(),
        c.verification,
        c.verified_at,
        account.map(|a| (a.id, &a.record, a.tags.clone())),
        now,
    )
}

/// The prospect a row would be if its contact were new, its account as the
/// row describes it and untagged, and its owner `owner`: what an import
/// scores beside parsing, before the batch's state is known.
pub fn row_prospect(row: &ImportRow, owner: Option<&Username>) -> Option<Prospect> {
    let now = DateTime::<Utc>::UNIX_EPOCH;
    new_prospect(
        ContactId::from_uuid(uuid::Uuid::nil()),
        &row.contact,
        row.seniority.clone(),
        row.department.clone(),
        owner.cloned(),
        row.verdict,
        row.verdict.map(|_| now),
        row.account
            .as_ref()
            .map(|a| (AccountId::from_uuid(uuid::Uuid::nil()), a, Vec::new())),
        now,
    )
}

#[allow(clippy::too_many_arguments)]
fn new_prospect(
    id: ContactId,
    r: &ContactRecord,
    seniority: Option<String>,
    department: Option<String>,
    owner: Option<Username>,
    verification: Option<Verdict>,
    verified_at: Option<DateTime<Utc>>,
    account: Option<(AccountId, &AccountRecord, Vec<String>)>,
    now: DateTime<Utc>,
) -> Option<Prospect> {
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Some(Prospect {
        contact: Contact {
            id,
            email: r.email.clone()?,
            first_name: text(&r.first_name),
            last_name: text(&r.last_name),
            title: text(&r.title),
            seniority,
            department,
            phone: r.phone.clone(),
            linkedin_url: r.linkedin_url.clone(),
            city: r.city.clone(),
            country: r.country.clone(),
            company: r.company.clone(),
            account_id: account.as_ref().map(|(id, _, _)| *id),
            owner,
            field_sources: Provenance::default(),
            verification,
            verified_at,
            created_at: now,
        },
        account: account.map(|(id, a, tags)| AccountProfile {
            id,
            domain: a.domain.clone(),
            name: a.name.clone().unwrap_or_else(|| a.domain.clone()),
            industry: a.industry.clone(),
            employees: a.employees,
            revenue: a.revenue,
            technologies: a.technologies.clone().unwrap_or_default(),
            tags,
        }),
        score: None,
        signals: Vec::new(),
    })
}
