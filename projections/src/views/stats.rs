//! Team statistics as the district reports give them (003, 004): average age,
//! under-35 count and share, women per team, share with ≥ 2 years of township
//! work, exchange rate, vote shares and the differential ratio; and the
//! candidate list of an election with each candidate's current state.

use chrono::NaiveDate;
use serde::Serialize;

use super::compliance::team;
use crate::events::{DecisionOutcome, Sex};
use crate::state::{CandidateState, ElectionState};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VoteShare {
    pub candidate_id: String,
    pub name: String,
    pub votes: u64,
    pub share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamStats {
    pub election_id: String,
    pub unit_name: String,
    pub seats: u32,
    /// Which members are counted (elected, listed or approved; see `team`).
    pub basis: String,
    pub members: u32,
    /// The date ages are taken on: the vote, or else the latest event.
    pub on: Option<NaiveDate>,
    pub average_age: Option<f64>,
    pub under_35: u32,
    pub under_35_share: Option<f64>,
    pub women: u32,
    pub township_2y: u32,
    pub township_2y_share: Option<f64>,
    pub exchanged: u32,
    pub exchange_rate: Option<f64>,
    pub nominees: u32,
    /// Candidates on the ballot of the last vote.
    pub on_ballot: Option<u32>,
    /// (on ballot − seats) / seats at the last vote.
    pub differential_ratio: Option<f64>,
    pub vote_shares: Vec<VoteShare>,
    pub average_vote_share: Option<f64>,
}

fn share(n: u32, of: u32) -> Option<f64> {
    (of > 0).then(|| f64::from(n) / f64::from(of))
}

/// The statistics of one election's team from its state.
pub fn stats(state: &ElectionState) -> TeamStats {
    let on = state
        .recorded
        .get("vote.held")
        .map(|r| r.last_at.date_naive())
        .or_else(|| {
            state
                .candidates
                .values()
                .flat_map(|c| c.recorded.values().map(|r| r.last_at))
                .chain(state.recorded.values().map(|r| r.last_at))
                .max()
                .map(|t| t.date_naive())
        });
    let (members, basis) = team(state);
    let n = members.len() as u32;
    let ages: Vec<u32> = on
        .map(|d| members.iter().filter_map(|(_, c)| c.age_on(d)).collect())
        .unwrap_or_default();
    let count =
        |f: &dyn Fn(&CandidateState) -> bool| members.iter().filter(|(_, c)| f(c)).count() as u32;
    let under_35 = ages.iter().filter(|a| **a < 35).count() as u32;
    let women = count(&|c| c.nomination.as_ref().is_some_and(|m| m.sex == Sex::Female));
    let township_2y = count(&|c| {
        c.nomination
            .as_ref()
            .is_some_and(|m| m.township_work_years >= 2)
    });
    let exchanged = count(&|c| c.nomination.as_ref().is_some_and(|m| m.exchanged));
    let seats = state.opened.as_ref().map_or(0, |o| o.seats);
    let last_vote = state.votes.last();
    let on_ballot = last_vote.map(|v| v.votes.len() as u32);
    let vote_shares: Vec<VoteShare> = match last_vote {
        Some(v) if v.ballots_valid > 0 => members
            .iter()
            .filter_map(|(id, c)| {
                let votes = *v.votes.get(*id)?;
                Some(VoteShare {
                    candidate_id: (*id).clone(),
                    name: c
                        .nomination
                        .as_ref()
                        .map(|m| m.name.clone())
                        .unwrap_or_default(),
                    votes,
                    share: votes as f64 / v.ballots_valid as f64,
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let average_vote_share = (!vote_shares.is_empty())
        .then(|| vote_shares.iter().map(|v| v.share).sum::<f64>() / vote_shares.len() as f64);
    TeamStats {
        election_id: state.election_id.clone().unwrap_or_default(),
        unit_name: state
            .opened
            .as_ref()
            .map(|o| o.unit_name.clone())
            .unwrap_or_default(),
        seats,
        basis: basis.to_string(),
        members: n,
        on,
        average_age: (!ages.is_empty())
            .then(|| ages.iter().map(|a| f64::from(*a)).sum::<f64>() / ages.len() as f64),
        under_35,
        under_35_share: share(under_35, n),
        women,
        township_2y,
        township_2y_share: share(township_2y, n),
        exchanged,
        exchange_rate: share(exchanged, n),
        nominees: state
            .candidates
            .values()
            .filter(|c| c.nomination.is_some())
            .count() as u32,
        on_ballot,
        differential_ratio: on_ballot
            .filter(|_| seats > 0)
            .map(|b| (f64::from(b) - f64::from(seats)) / f64::from(seats)),
        vote_shares,
        average_vote_share,
    }
}

/// Several teams together, as a district report sums its townships.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DistrictStats {
    pub teams: u32,
    pub members: u32,
    pub average_age: Option<f64>,
    pub under_35: u32,
    pub under_35_share: Option<f64>,
    /// Teams with at least one woman.
    pub teams_with_women: u32,
    pub women: u32,
    pub township_2y_share: Option<f64>,
    pub exchanged: u32,
    pub exchange_rate: Option<f64>,
    pub average_vote_share: Option<f64>,
}

pub fn summarise(teams: &[TeamStats]) -> DistrictStats {
    let members: u32 = teams.iter().map(|t| t.members).sum();
    let aged: Vec<(f64, u32)> = teams
        .iter()
        .filter_map(|t| t.average_age.map(|a| (a, t.members)))
        .collect();
    let aged_n: u32 = aged.iter().map(|(_, n)| n).sum();
    let under_35 = teams.iter().map(|t| t.under_35).sum();
    let exchanged = teams.iter().map(|t| t.exchanged).sum();
    let township: u32 = teams.iter().map(|t| t.township_2y).sum();
    let shares: Vec<f64> = teams
        .iter()
        .flat_map(|t| t.vote_shares.iter().map(|v| v.share))
        .collect();
    DistrictStats {
        teams: teams.len() as u32,
        members,
        average_age: (aged_n > 0)
            .then(|| aged.iter().map(|(a, n)| a * f64::from(*n)).sum::<f64>() / f64::from(aged_n)),
        under_35,
        under_35_share: share(under_35, members),
        teams_with_women: teams.iter().filter(|t| t.women > 0).count() as u32,
        women: teams.iter().map(|t| t.women).sum(),
        township_2y_share: share(township, members),
        exchanged,
        exchange_rate: share(exchanged, members),
        average_vote_share: (!shares.is_empty())
            .then(|| shares.iter().sum::<f64>() / shares.len() as f64),
    }
}

/// One candidate of an election as they stand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CandidateRow {
    pub candidate_id: String,
    pub name: String,
    pub sex: Option<Sex>,
    pub age: Option<u32>,
    /// The furthest state reached, e.g. `elected`, `listed`, `deferred`.
    pub status: &'static str,
    /// The latest event type recorded for the candidate.
    pub last_step: Option<String>,
    pub open_petitions: Vec<String>,
}

pub fn status_of(c: &CandidateState) -> &'static str {
    if c.election_voided {
        "voided 当选无效"
    } else if c.elected && c.qualification == Some(crate::events::QualificationOutcome::Invalid) {
        "invalid 代表资格无效"
    } else if c.elected {
        "elected 当选"
    } else if c.vote_buying {
        "vote buying 拉票贿选"
    } else if c.removed {
        "removed 拿下"
    } else if c.withdrawn {
        "withdrawn 撤回"
    } else if c.deferred {
        "deferred 暂缓"
    } else if c.decision == Some(DecisionOutcome::Rejected) {
        "rejected 未通过"
    } else if c.listed {
        "listed 候选人"
    } else if c.decision == Some(DecisionOutcome::Approved) {
        "approved 已决定"
    } else if c.nomination.is_some() {
        "in progress 进行中"
    } else {
        "unknown"
    }
}

/// The candidates of an election with their state, ages taken on `on`.
pub fn candidates(state: &ElectionState, on: Option<NaiveDate>) -> Vec<CandidateRow> {
    state
        .candidates
        .iter()
        .map(|(id, c)| CandidateRow {
            candidate_id: id.clone(),
            name: c
                .nomination
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default(),
            sex: c.nomination.as_ref().map(|m| m.sex),
            age: on.and_then(|d| c.age_on(d)),
            status: status_of(c),
            last_step: c
                .recorded
                .iter()
                .max_by_key(|(_, r)| r.last_at)
                .map(|(t, _)| t.clone()),
            open_petitions: c.open_petitions().iter().map(|s| s.to_string()).collect(),
        })
        .collect()
}
