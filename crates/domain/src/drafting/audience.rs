//! Which content-center items suit a prospect. Personas are seniorities or
//! departments (`c_suite`, `finance`); segments are `industry:NAME`,
//! `employees:MIN-MAX`, `employees:MIN+` or `country:CODE`. An item with no
//! personas (or no segments) suits everyone on that axis.

use std::cmp::Reverse;

use super::input::ContentRef;
use crate::playbook::{ContentCenter, ContentItem, ContentKind};

/// The facts content is matched on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Audience {
    pub seniority: Option<String>,
    pub department: Option<String>,
    pub industry: Option<String>,
    pub employees: Option<i64>,
    pub country: Option<String>,
}

/// How many items of each kind a drafter is offered: enough to vary the
/// steps of a sequence, few enough to keep prompts short.
pub const PER_KIND: usize = 3;

impl Audience {
    fn fits_persona(&self, personas: &[String]) -> Fit {
        if personas.is_empty() {
            return Fit::Everyone;
        }
        let mine = [self.seniority.as_deref(), self.department.as_deref()];
        if personas
            .iter()
            .any(|p| mine.iter().flatten().any(|m| m.eq_ignore_ascii_case(p)))
        {
            Fit::Targeted
        } else {
            Fit::No
        }
    }

    fn fits_segment(&self, segments: &[String]) -> Fit {
        if segments.is_empty() {
            return Fit::Everyone;
        }
        if segments.iter().any(|s| self.in_segment(s) == Some(true)) {
            Fit::Targeted
        } else if segments.iter().all(|s| self.in_segment(s) == Some(false)) {
            Fit::No
        } else {
            // Not knowing the account's size is not a reason to drop an item.
            Fit::Everyone
        }
    }

    /// `None` when the fact the segment needs is unknown or the label is
    /// not one of the known forms.
    pub fn in_segment(&self, label: &str) -> Option<bool> {
        let (axis, value) = label.split_once(':')?;
        match axis.trim() {
            "industry" => {
                let industry = self.industry.as_deref()?;
                Some(industry.eq_ignore_ascii_case(value.trim()))
            }
            "country" => {
                let country = self.country.as_deref()?;
                Some(country.eq_ignore_ascii_case(value.trim()))
            }
            "employees" => {
                let employees = self.employees?;
                let (min, max) = parse_range(value.trim())?;
                Some(employees >= min && max.is_none_or(|max| employees <= max))
            }
            _ => None,
        }
    }
}

/// `200-5000` or `1000+`.
pub fn parse_range(value: &str) -> Option<(i64, Option<i64>)> {
    if let Some(min) = value.strip_suffix('+') {
        return Some((min.trim().parse().ok()?, None));
    }
    let (min, max) = value.split_once('-')?;
    let (min, max): (i64, i64) = (min.trim().parse().ok()?, max.trim().parse().ok()?);
    (min <= max).then_some((min, Some(max)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fit {
    No,
    Everyone,
    Targeted,
}

/// The items a drafter is offered for this audience: per kind, the best
/// fitting first (targeted at both persona and segment, then at one, then
/// general), at most [`PER_KIND`]; items that positively do not fit are
/// left out unless nothing of that kind fits at all.
pub fn offer(center: &ContentCenter, audience: &Audience) -> Vec<ContentRef> {
    let mut offered = Vec::new();
    fn items(kind: ContentKind, list: &[ContentItem]) -> Vec<(ContentRef, &[String], &[String])> {
        list.iter()
            .map(|item| {
                (
                    ContentRef {
                        id: item.id.clone(),
                        kind,
                        text: item.text.clone(),
                        verified: false,
                    },
                    item.personas.as_slice(),
                    item.segments.as_slice(),
                )
            })
            .collect()
    }
    let proofs: Vec<(ContentRef, &[String], &[String])> = center
        .proof_points
        .iter()
        .map(|p| {
            (
                ContentRef {
                    id: p.id.clone(),
                    kind: ContentKind::ProofPoint,
                    text: p.text.clone(),
                    verified: p.verified,
                },
                p.personas.as_slice(),
                p.segments.as_slice(),
            )
        })
        .collect();
    for candidates in [
        items(ContentKind::PainPoint, &center.pain_points),
        items(ContentKind::ValueProposition, &center.value_propositions),
        proofs,
        items(ContentKind::Cta, &center.ctas),
    ] {
        let mut ranked: Vec<(Fit, Fit, usize, ContentRef)> = candidates
            .into_iter()
            .enumerate()
            .map(|(i, (item, personas, segments))| {
                (
                    audience.fits_persona(personas),
                    audience.fits_segment(segments),
                    i,
                    item,
                )
            })
            .collect();
        let any_fit = ranked
            .iter()
            .any(|(p, s, _, _)| *p != Fit::No && *s != Fit::No);
        if any_fit {
            ranked.retain(|(p, s, _, _)| *p != Fit::No && *s != Fit::No);
        }
        // Best fit first; playbook order breaks ties, so the choice is stable.
        ranked.sort_by_key(|(p, s, i, _)| (Reverse((*p).max(*s)), Reverse((*p).min(*s)), *i));
        offered.extend(
            ranked
                .into_iter()
                .take(PER_KIND)
                .map(|(_, _, _, item)| item),
        );
    }
    offered
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: &str, personas: &[&str], segments: &[&str]) -> ContentItem {
        ContentItem {
            id: id.into(),
            text: id.into(),
            personas: personas.iter().map(|s| s.to_string()).collect(),
            segments: segments.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn targeted_items_come_first_and_misfits_are_dropped() {
        let center = ContentCenter {
            pain_points: vec![
                item("general", &[], &[]),
                item("for-eng", &["engineering"], &[]),
                item("for-finance-midsize", &["finance"], &["employees:200-5000"]),
                item("for-finance-small", &["finance"], &["employees:1-50"]),
            ],
            ..ContentCenter::default()
        };
        let cfo = Audience {
            seniority: Some("c_suite".into()),
            department: Some("finance".into()),
            employees: Some(400),
            ..Audience::default()
        };
        let ids: Vec<String> = offer(&center, &cfo).into_iter().map(|c| c.id).collect();
        assert_eq!(ids, ["for-finance-midsize", "general"]);
    }

    #[test]
    fn when_nothing_fits_the_kind_is_still_offered() {
        let center = ContentCenter {
            ctas: vec![item("only-for-hr", &["hr"], &[])],
            ..ContentCenter::default()
        };
        let ids: Vec<String> = offer(&center, &Audience::default())
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(ids, ["only-for-hr"]);
    }

    #[test]
    fn segment_labels() {
        let a = Audience {
            industry: Some("Fintech".into()),
            employees: Some(1200),
            ..Audience::default()
        };
        assert_eq!(a.in_segment("industry:fintech"), Some(true));
        assert_eq!(a.in_segment("employees:1000+"), Some(true));
        assert_eq!(a.in_segment("employees:1-999"), Some(false));
        assert_eq!(a.in_segment("country:DE"), None);
        assert_eq!(a.in_segment("headcount:5"), None);
        assert_eq!(parse_range("9-3"), None);
    }
}
