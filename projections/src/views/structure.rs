//! Structure checks (findings, never refusals) on the team an election
//! produces, per procedure kind (D23). The township rules — 2/3 with township
//! work (002 "不少于三分之二"), a woman (003 "至少要有1名女干部"), young cadres
//! (003), serving a full term (002 "能干满3年…能干满一届") — belong to the
//! township kind; a village committee or a constituency of 1–3 deputies is
//! not held to them. Each kind names its checks in its procedure's
//! `[structure]` table; a check whose threshold is absent is not made.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::compliance::{team, Finding, FindingKind};
use crate::events::Sex;
use crate::state::ElectionState;

/// The structure checks' thresholds. A `None` check is not made; in a
/// caller's rules, `None` means "as the procedure says" (see
/// [`StructureRules::over`]). `StructureRules::default()` changes nothing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StructureRules {
    /// 002 "不少于三分之二": share of members with `township_years` of township work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub township_share: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub township_years: Option<u32>,
    /// 003 "至少要有1名女干部".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_women: Option<u32>,
    /// 003: young cadres, under `young_age`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub young_age: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_young: Option<u32>,
    /// The age by which a member must be able to finish: 002 "能干满3年…能干满一届".
    /// Open in the seeds; 60, the retirement age of township cadres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retirement_age: Option<u32>,
    /// Years a continuing member must still be able to serve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuing_years: Option<u32>,
    /// A full term, for new members (5 years for a township committee).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_years: Option<u32>,
}

impl StructureRules {
    /// The township rules of DOMAIN.md §4, as the built-in 乡镇党委 procedure
    /// states them.
    pub fn township() -> StructureRules {
        StructureRules {
            township_share: Some(2.0 / 3.0),
            township_years: Some(2),
            min_women: Some(1),
            young_age: Some(35),
            min_young: Some(1),
            retirement_age: Some(60),
            continuing_years: Some(3),
            term_years: Some(5),
        }
    }

    /// These rules where given, `base`'s elsewhere.
    pub fn over(&self, base: &StructureRules) -> StructureRules {
        StructureRules {
            township_share: self.township_share.or(base.township_share),
            township_years: self.township_years.or(base.township_years),
            min_women: self.min_women.or(base.min_women),
            young_age: self.young_age.or(base.young_age),
            min_young: self.min_young.or(base.min_young),
            retirement_age: self.retirement_age.or(base.retirement_age),
            continuing_years: self.continuing_years.or(base.continuing_years),
            term_years: self.term_years.or(base.term_years),
        }
    }

    /// A problem with the thresholds themselves, for the procedure loader.
    pub fn problem(&self) -> Option<String> {
        if let Some(s) = self.township_share {
            if !s.is_finite() || !(0.0..=1.0).contains(&s) {
                return Some(format!("`township_share` must be between 0 and 1, not {s}"));
            }
        }
        None
    }
}

pub(crate) fn structure_findings(
    state: &ElectionState,
    rules: &StructureRules,
    on: Option<NaiveDate>,
    nominated_at: &BTreeMap<String, u64>,
    findings: &mut Vec<Finding>,
) {
    let (members, basis) = team(state);
    let (Some(on), false) = (on, members.is_empty()) else {
        return;
    };
    let n = members.len();
    let evidence_of = |ids: &mut dyn Iterator<Item = &String>| -> Vec<u64> {
        ids.filter_map(|id| nominated_at.get(id).copied()).collect()
    };
    let all_evidence = evidence_of(&mut members.iter().map(|(id, _)| *id));

    if let Some(share) = rules.township_share {
        let years = rules.township_years.unwrap_or(2);
        let lacking: Vec<&String> = members
            .iter()
            .filter(|(_, c)| {
                c.nomination
                    .as_ref()
                    .is_none_or(|nm| nm.township_work_years < years)
            })
            .map(|(id, _)| *id)
            .collect();
        let experienced = n - lacking.len();
        // Counts are whole: a share written to four places (0.6667) must
        // not fail 6 of 9.
        if (experienced as f64) < share * n as f64 - 0.01 {
            findings.push(Finding {
                kind: FindingKind::TownshipWork,
                candidate_id: None,
                rule: None,
                detail: format!(
                    "{experienced} of {n} ({basis}) have ≥ {years} years of township work; at least {:.0}% required; lacking: {}",
                    share * 100.0,
                    lacking.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
                evidence: evidence_of(&mut lacking.into_iter()),
            });
        }
    }

    if let Some(min_women) = rules.min_women {
        let women = members
            .iter()
            .filter(|(_, c)| {
                c.nomination
                    .as_ref()
                    .is_some_and(|nm| nm.sex == Sex::Female)
            })
            .count() as u32;
        if women < min_women {
            findings.push(Finding {
                kind: FindingKind::Women,
                candidate_id: None,
                rule: None,
                detail: format!("{women} women among {n} ({basis}); at least {min_women} required"),
                evidence: all_evidence.clone(),
            });
        }
    }

    if let Some(min_young) = rules.min_young {
        let young_age = rules.young_age.unwrap_or(35);
        let young = members
            .iter()
            .filter(|(_, c)| c.age_on(on).is_some_and(|a| a < young_age))
            .count() as u32;
        if young < min_young {
            findings.push(Finding {
                kind: FindingKind::YoungCadres,
                candidate_id: None,
                rule: None,
                detail: format!(
                    "{young} under {young_age} among {n} ({basis}) on {on}; at least {min_young} required"
                ),
                evidence: all_evidence,
            });
        }
    }

    let Some(retirement) = rules.retirement_age else {
        return;
    };
    for (id, c) in &members {
        let (Some(age), Some(nm)) = (c.age_on(on), c.nomination.as_ref()) else {
            continue;
        };
        let (years, what) = if nm.incumbent {
            (
                rules.continuing_years.unwrap_or(3),
                "continuing member must serve",
            )
        } else {
            (
                rules.term_years.unwrap_or(5),
                "new member must serve a full term of",
            )
        };
        if age + years > retirement {
            findings.push(Finding {
                kind: FindingKind::ServiceTerm,
                candidate_id: Some((*id).clone()),
                rule: None,
                detail: format!(
                    "{} is {age} on {on}; a {what} {years} years before {retirement}",
                    nm.name
                ),
                evidence: nominated_at.get(*id).copied().into_iter().collect(),
            });
        }
    }
}
