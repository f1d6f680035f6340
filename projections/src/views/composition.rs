//! A congress's composition, counted and held to its quotas (domain
//! decisions 32 and 36).
//!
//! The seeds give composition as the whole congress's (003:8: of 1,057
//! township representatives, 56% front-line), and its quotas as set from
//! above: "对优化代表结构,中央、省委、州委和县委都已经提出了明确要求" (002:725),
//! with one rule stated outright, "一线代表的比例应当比上一届有所上升". So the
//! quotas are data, a procedure's `[composition]`, filled in by the district
//! from the notices it receives, and they are checked over the elected of
//! all the congress's units together: a township's two seats cannot hold a
//! 56% share. Like structure, a shortfall is a finding, never a refusal: a
//! vote already held cannot be undone by a quota, and the inspector must see
//! the shortfall and who was elected.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::rules::Source;
use crate::state::ElectionState;

/// The composition of the representatives (or deputies) elected in a set of
/// elections, the congress's whole (domain decision 32): the seeds report
/// it so (003:8, 1,057 township representatives: 56% front-line, 28.2%
/// professionals and models, 4.6% migrant workers), and a unit's few seats
/// say little on their own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Composition {
    pub elections: Vec<String>,
    /// Those holding a seat (elected, not voided).
    pub elected: usize,
    pub women: usize,
    /// Of a stated ethnicity other than 汉族.
    pub minorities: usize,
    /// Elected with no ethnicity stated.
    pub ethnicity_unstated: usize,
    /// By category (`unstated` for a nomination that gives none).
    pub by_category: BTreeMap<String, usize>,
    /// Each category's share of the elected.
    pub shares: BTreeMap<String, f64>,
}

/// The composition of the elected in `elections` (id and state).
pub fn composition<'a>(
    elections: impl IntoIterator<Item = (&'a str, &'a crate::state::ElectionState)>,
) -> Composition {
    use crate::events::{RepresentativeCategory as C, Sex};
    let mut out = Composition {
        elections: Vec::new(),
        elected: 0,
        women: 0,
        minorities: 0,
        ethnicity_unstated: 0,
        by_category: BTreeMap::new(),
        shares: BTreeMap::new(),
    };
    for (id, state) in elections {
        out.elections.push(id.to_string());
        for c in state.candidates.values().filter(|c| c.holds_seat()) {
            let Some(n) = &c.nomination else { continue };
            out.elected += 1;
            if n.sex == Sex::Female {
                out.women += 1;
            }
            match n.ethnicity.as_deref().map(str::trim) {
                None | Some("") => out.ethnicity_unstated += 1,
                Some("汉族" | "汉") => {}
                Some(_) => out.minorities += 1,
            }
            let key = match n.representative_category {
                Some(C::Frontline) => "frontline",
                Some(C::ProfessionalOrModel) => "professional_or_model",
                Some(C::MigrantWorker) => "migrant_worker",
                Some(C::LeadingCadre) => "leading_cadre",
                Some(C::Other) => "other",
                None => "unstated",
            };
            *out.by_category.entry(key.to_string()).or_default() += 1;
        }
    }
    if out.elected > 0 {
        let total = out.elected as f64;
        out.shares = out
            .by_category
            .iter()
            .map(|(k, v)| (k.clone(), *v as f64 / total))
            .collect();
    }
    out
}

/// The measures a quota may name: the categories of [`Composition::by_category`],
/// and `women` and `minorities`.
pub const MEASURES: &[&str] = &[
    "frontline",
    "professional_or_model",
    "migrant_worker",
    "leading_cadre",
    "other",
    "women",
    "minorities",
];

/// A procedure's `[composition]`: the congress's quotas, as shares of the
/// elected (0 to 1). None is shipped in the built-in procedures: the seeds
/// say the quotas come from the higher committees and give none as a
/// number, so a shipped figure would be a guess (decision 36).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompositionRules {
    /// The least share of each measure (e.g. `frontline = 0.5`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min_share: BTreeMap<String, f64>,
    /// The largest share (e.g. `leading_cadre = 0.25`: 002:725
    /// "党政干部、企业负责人不得挤占工人、农民和专业技术人员代表名额").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_share: BTreeMap<String, f64>,
    /// The previous term's shares; each measure listed must rise above its
    /// figure (002:725 "一线代表的比例应当比上一届有所上升").
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_term: BTreeMap<String, f64>,
}

impl CompositionRules {
    pub fn is_empty(&self) -> bool {
        self.min_share.is_empty() && self.max_share.is_empty() && self.previous_term.is_empty()
    }

    /// A problem with the quotas themselves, for the procedure loader: an
    /// unknown measure, or a share outside 0 to 1.
    pub fn problem(&self) -> Option<String> {
        for (table, map) in [
            ("min_share", &self.min_share),
            ("max_share", &self.max_share),
            ("previous_term", &self.previous_term),
        ] {
            for (measure, share) in map {
                if !MEASURES.contains(&measure.as_str()) {
                    return Some(format!(
                        "`{table}.{measure}`: unknown measure; expected one of {}",
                        MEASURES.join(", ")
                    ));
                }
                if !share.is_finite() || !(0.0..=1.0).contains(share) {
                    return Some(format!(
                        "`{table}.{measure}` must be a share between 0 and 1, not {share}"
                    ));
                }
            }
        }
        for (measure, min) in &self.min_share {
            if let Some(max) = self.max_share.get(measure) {
                if min > max {
                    return Some(format!(
                        "`min_share.{measure}` ({min}) is above `max_share.{measure}` ({max})"
                    ));
                }
            }
        }
        None
    }
}

/// Which quota a [`QuotaFinding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quota {
    MinShare,
    MaxShare,
    AbovePreviousTerm,
}

impl Quota {
    /// The seed phrase the quota rests on.
    pub fn source(self) -> Source {
        let phrase = match self {
            Quota::MinShare => "对优化代表结构,中央、省委、州委和县委都已经提出了明确要求",
            Quota::MaxShare => "党政干部、企业负责人不得挤占工人、农民和专业技术人员代表名额",
            Quota::AbovePreviousTerm => "一线代表的比例应当比上一届有所上升",
        };
        Source {
            file: "002",
            phrase,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Quota::MinShare => "低于规定比例 below the least share",
            Quota::MaxShare => "超过规定比例 above the largest share",
            Quota::AbovePreviousTerm => "未比上一届有所上升 not above the previous term",
        }
    }
}

/// A quota the elected do not meet, with the counts it was judged on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaFinding {
    pub quota: Quota,
    pub measure: String,
    /// The share the quota states.
    pub required: f64,
    /// The share of the elected.
    pub actual: f64,
    pub count: usize,
    pub elected: usize,
    /// The seed passage, as `seeds/002 「…」`.
    pub source: String,
    /// Elected whose category (for a category) or ethnicity (for
    /// minorities) was not stated: they may be why the share falls short,
    /// and the reader is told rather than left to guess.
    pub unstated: usize,
}

/// A congress's composition held to its quotas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompositionCheck {
    pub rules: CompositionRules,
    pub findings: Vec<QuotaFinding>,
    /// The chosen elections whose vote has not been held: until they have,
    /// the findings are provisional.
    pub pending: Vec<String>,
}

/// Holds `c` to `rules`. Nothing is judged before anyone is elected.
pub fn check_quotas(
    c: &Composition,
    rules: &CompositionRules,
    pending: Vec<String>,
) -> CompositionCheck {
    let mut findings = Vec::new();
    if c.elected > 0 {
        let count_of = |measure: &str| match measure {
            "women" => c.women,
            "minorities" => c.minorities,
            cat => c.by_category.get(cat).copied().unwrap_or(0),
        };
        let unstated_of = |measure: &str| match measure {
            "women" => 0,
            "minorities" => c.ethnicity_unstated,
            _ => c.by_category.get("unstated").copied().unwrap_or(0),
        };
        let total = c.elected as f64;
        let mut judge =
            |quota: Quota, measure: &str, required: f64, fails: &dyn Fn(usize) -> bool| {
                let count = count_of(measure);
                if fails(count) {
                    findings.push(QuotaFinding {
                        quota,
                        measure: measure.to_string(),
                        required,
                        actual: count as f64 / total,
                        count,
                        elected: c.elected,
                        source: quota.source().to_string(),
                        unstated: unstated_of(measure),
                    });
                }
            };
        // Counts are whole: a share written to a few places (0.5600) must
        // neither fail nor pass by rounding, so each quota becomes a count.
        for (m, share) in &rules.min_share {
            let least = (share * total - 1e-9).ceil() as usize;
            judge(Quota::MinShare, m, *share, &|n| n < least);
        }
        for (m, share) in &rules.max_share {
            let most = (share * total + 1e-9).floor() as usize;
            judge(Quota::MaxShare, m, *share, &|n| n > most);
        }
        for (m, share) in &rules.previous_term {
            // "有所上升": strictly more than the previous term's share.
            let at_most = (share * total + 1e-9).floor() as usize;
            judge(Quota::AbovePreviousTerm, m, *share, &|n| n <= at_most);
        }
    }
    CompositionCheck {
        rules: rules.clone(),
        findings,
        pending,
    }
}

/// The elections among `elections` whose vote has not been held.
pub fn pending<'a>(
    elections: impl IntoIterator<Item = (&'a str, &'a ElectionState)>,
) -> Vec<String> {
    elections
        .into_iter()
        .filter(|(_, s)| s.votes.is_empty())
        .map(|(id, _)| id.to_string())
        .collect()
}
