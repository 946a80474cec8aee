//! Data access: which fields may reach a model. The playbook lists fields
//! (`contact.phone`) and field families (`research.*`) under `ai_may_use`,
//! `human_confirm` and `never`; everything it does not list is `never`, so
//! a new field is private until someone decides otherwise.
//!
//! An exact name beats a family (`research.*` may be open while
//! `research.salary` is `never`); when one name is listed twice, the
//! stricter list wins.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::playbook::DataAccess;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Given to the model.
    AiMayUse,
    /// Given to the model once a person has confirmed the value.
    HumanConfirm,
    /// Never given to any model.
    Never,
}

/// The playbook's data-access lists, ready to answer per field.
#[derive(Debug, Clone, Default)]
pub struct DataAccessPolicy {
    exact: BTreeMap<String, Access>,
    families: BTreeMap<String, Access>,
}

impl DataAccessPolicy {
    pub fn new(lists: &DataAccess) -> DataAccessPolicy {
        let mut policy = DataAccessPolicy::default();
        for (names, access) in [
            (&lists.ai_may_use, Access::AiMayUse),
            (&lists.human_confirm, Access::HumanConfirm),
            (&lists.never, Access::Never),
        ] {
            for name in names {
                let (map, key) = match name.strip_suffix(".*") {
                    Some(family) => (&mut policy.families, family.to_string()),
                    None => (&mut policy.exact, name.clone()),
                };
                let slot = map.entry(key).or_insert(access);
                *slot = (*slot).max(access);
            }
        }
        policy
    }

    /// How `field` (`root.name`) may be used.
    pub fn access(&self, field: &str) -> Access {
        if let Some(access) = self.exact.get(field) {
            return *access;
        }
        let root = field.split_once('.').map_or(field, |(root, _)| root);
        self.families.get(root).copied().unwrap_or(Access::Never)
    }

    /// Splits `fields` into what a model may see now and what it may not:
    /// `human_confirm` fields pass only when named in `confirmed`.
    pub fn filter<V>(
        &self,
        fields: impl IntoIterator<Item = (String, V)>,
        confirmed: &[String],
    ) -> Filtered<V> {
        let mut out = Filtered {
            allowed: Vec::new(),
            withheld: Vec::new(),
        };
        for (field, value) in fields {
            match self.access(&field) {
                Access::AiMayUse => out.allowed.push((field, value)),
                Access::HumanConfirm if confirmed.contains(&field) => {
                    out.allowed.push((field, value))
                }
                access => out.withheld.push((field, access)),
            }
        }
        out
    }
}

/// Fields a model may see, and the names of those withheld with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered<V> {
    pub allowed: Vec<(String, V)>,
    pub withheld: Vec<(String, Access)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> DataAccess {
        DataAccess {
            ai_may_use: vec![
                "contact.first_name".into(),
                "research.*".into(),
                "contact.city".into(),
            ],
            human_confirm: vec!["contact.city".into(), "signal.job_change".into()],
            never: vec!["contact.phone".into(), "research.salary".into()],
        }
    }

    #[test]
    fn exact_names_beat_families_and_the_stricter_list_wins() {
        let p = DataAccessPolicy::new(&lists());
        assert_eq!(p.access("contact.first_name"), Access::AiMayUse);
        assert_eq!(p.access("research.funding"), Access::AiMayUse);
        assert_eq!(p.access("research.salary"), Access::Never);
        assert_eq!(
            p.access("contact.city"),
            Access::HumanConfirm,
            "listed twice"
        );
        assert_eq!(p.access("contact.phone"), Access::Never);
    }

    #[test]
    fn unlisted_fields_are_never_given_to_a_model() {
        let p = DataAccessPolicy::new(&lists());
        assert_eq!(p.access("contact.street_address"), Access::Never);
        assert_eq!(p.access("account.revenue"), Access::Never);
        assert_eq!(p.access("nonsense"), Access::Never);
    }

    #[test]
    fn filtering_withholds_unconfirmed_and_private_fields() {
        let p = DataAccessPolicy::new(&lists());
        let fields = vec![
            ("contact.first_name".to_string(), "Ina"),
            ("contact.phone".to_string(), "+49 30 1234"),
            ("contact.city".to_string(), "Berlin"),
            ("signal.job_change".to_string(), "true"),
        ];
        let out = p.filter(fields.clone(), &[]);
        assert_eq!(out.allowed, vec![("contact.first_name".to_string(), "Ina")]);
        assert_eq!(
            out.withheld,
            vec![
                ("contact.phone".to_string(), Access::Never),
                ("contact.city".to_string(), Access::HumanConfirm),
                ("signal.job_change".to_string(), Access::HumanConfirm),
            ]
        );
        let confirmed = p.filter(fields, &["contact.city".to_string()]);
        assert!(confirmed.allowed.iter().any(|(f, _)| f == "contact.city"));
        assert!(!confirmed.allowed.iter().any(|(f, _)| f == "contact.phone"));
    }

    #[test]
    fn the_default_playbook_never_gives_a_model_phone_numbers_or_addresses() {
        let book = crate::playbook::parse(crate::playbook::DEFAULT_PLAYBOOK, "default")
            .unwrap_or_else(|d| panic!("{d:?}"));
        let p = DataAccessPolicy::new(&book.governance.data_access);
        for field in [
            "contact.phone",
            "contact.personal_email",
            "contact.street_address",
        ] {
            assert_eq!(p.access(field), Access::Never, "{field}");
        }
        assert_eq!(p.access("contact.first_name"), Access::AiMayUse);
    }
}
