//! R13 (D21): results add up. A winner is declared only from the tally of a
//! vote that counted them, with those very votes, more than half of what the
//! procedure counts (应到 or 实到), and while a seat is free; a later round is
//! held only when the result calls for it: another round for seats left
//! (另行选举), a by-election for a seat vacated (补选), or the whole vote again
//! after the election was declared void (重新选举). Seed 002:213 "选举结果由选举委员会依法确定有效";
//! 002:959 "代表的产生不符合规定程序的,应责成原选举单位重新进行选举".

use crate::command::Command;
use crate::decide::{Found, Refusal};
use crate::events::{ElectionDeclaredVoid, EventBody, VoteHeld, VotePurpose};
use crate::procedure::{MajorityBasis, Procedure};
use crate::rules::RuleId;
use crate::state::{CandidateState, ElectionState};

/// What the result checks read, borrowed from `decide`'s context.
pub(crate) struct ResultCtx<'a> {
    pub state: &'a ElectionState,
    pub cmd: &'a Command,
    pub proc_: &'a Procedure,
    pub cand: Option<&'a CandidateState>,
}

fn invalid(field: &str, reason: String) -> Refusal {
    Refusal::Invalid {
        field: field.into(),
        reason,
    }
}

/// Seats held now, by whom.
pub fn seat_holders(state: &ElectionState) -> Vec<&str> {
    state
        .candidates
        .iter()
        .filter(|(_, c)| c.holds_seat())
        .map(|(id, _)| id.as_str())
        .collect()
}

/// Seats the vote fills: all of them for a first or repeated vote, the free
/// ones for a re-run or by-election.
fn seats_to_fill(state: &ElectionState, purpose: VotePurpose) -> u64 {
    let seats = state.opened.as_ref().map_or(0, |o| u64::from(o.seats));
    match purpose {
        VotePurpose::Regular | VotePurpose::Repeat => seats,
        VotePurpose::Rerun | VotePurpose::ByElection => {
            seats.saturating_sub(seat_holders(state).len() as u64)
        }
    }
}

/// A tally that cannot be true whatever the rules say: more votes than one
/// valid ballot per seat allows, or more voters than those entitled.
pub(crate) fn validate_vote(state: &ElectionState, vote: &VoteHeld) -> Result<(), Refusal> {
    let purpose = vote.purpose.unwrap_or_default();
    let per_ballot = seats_to_fill(state, purpose).max(1);
    let total: u64 = vote.votes.values().sum();
    if total > vote.ballots_valid.saturating_mul(per_ballot) {
        return Err(invalid(
            "votes",
            format!(
                "{total} votes in all, but {} valid ballots of at most {per_ballot} name(s) each allow {}",
                vote.ballots_valid,
                vote.ballots_valid.saturating_mul(per_ballot)
            ),
        ));
    }
    if let Some(electors) = vote.electors {
        if vote.ballots_returned > electors {
            return Err(invalid(
                "electors",
                format!(
                    "{electors} entitled to vote, but {} ballots returned",
                    vote.ballots_returned
                ),
            ));
        }
    }
    Ok(())
}

pub(crate) fn validate_void(
    state: &ElectionState,
    b: &ElectionDeclaredVoid,
) -> Result<(), Refusal> {
    if b.reason.trim().is_empty() {
        return Err(invalid(
            "reason",
            "must say why the election is void".into(),
        ));
    }
    if b.decided_by.trim().is_empty() {
        return Err(invalid("decided_by", "must name the deciding body".into()));
    }
    if state.votes.is_empty() {
        return Err(invalid(
            "kind",
            "no vote has been held since the election opened or was last declared void: nothing to void".into(),
        ));
    }
    Ok(())
}

pub(crate) fn check_results(ctx: &ResultCtx<'_>, found: &mut Found) {
    match &ctx.cmd.body {
        EventBody::VoteHeld(vote) => check_round(ctx, vote, found),
        EventBody::Elected(b) => check_winner(ctx, b.votes, b.ballots_valid, found),
        _ => {}
    }
}

/// A later round only when the result calls for it.
fn check_round(ctx: &ResultCtx<'_>, vote: &VoteHeld, found: &mut Found) {
    let state = ctx.state;
    let purpose = vote.purpose.unwrap_or_default();
    let held = !state.votes.is_empty();
    let seats = state.opened.as_ref().map_or(0, |o| o.seats) as usize;
    let holders = seat_holders(state);
    if state.repeat_pending && purpose != VotePurpose::Repeat {
        found.push(
            RuleId::R13,
            format!(
                "the election was declared void: the next vote is held again in full (purpose repeat), not {}",
                purpose.label()
            ),
        );
        return;
    }
    match purpose {
        VotePurpose::Regular if held => found.push(
            RuleId::R13,
            "a vote was already held: a further round is a rerun (另行选举) or by_election (补选)",
        ),
        VotePurpose::Repeat if !state.repeat_pending => found.push(
            RuleId::R13,
            "a repeat (重新选举) follows only an election.declared_void",
        ),
        VotePurpose::Rerun | VotePurpose::ByElection if !held => found.push(
            RuleId::R13,
            format!("a {} follows a first vote; none was held", purpose.label()),
        ),
        VotePurpose::Rerun | VotePurpose::ByElection if holders.len() >= seats => found.push(
            RuleId::R13,
            format!(
                "all {seats} seats are held ({}): no {} is due",
                holders.join(", "),
                purpose.label()
            ),
        ),
        _ => {}
    }
    // Those who hold a seat are not voted on again.
    for id in vote.votes.keys() {
        if holders.contains(&id.as_str()) && purpose != VotePurpose::Repeat {
            found.push(
                RuleId::R13,
                format!(
                    "{id} already holds a seat and is not on the ballot of a {}",
                    purpose.label()
                ),
            );
        }
    }
    if round_taken(state, vote.round) {
        found.push(
            RuleId::R13,
            format!(
                "round {} was already held; number the rounds in order",
                vote.round
            ),
        );
    }
}

fn round_taken(state: &ElectionState, round: u32) -> bool {
    state.votes.iter().any(|v| v.round >= round)
}

/// A winner: counted by the latest vote that tallied them, with those votes,
/// over half of the procedure's basis, while a seat is free.
fn check_winner(ctx: &ResultCtx<'_>, votes: u64, ballots_valid: u64, found: &mut Found) {
    let state = ctx.state;
    let id = ctx.cmd.candidate_id.as_deref().unwrap_or_default();
    if ctx.cand.is_some_and(CandidateState::holds_seat) {
        found.push(RuleId::R13, format!("{id} already holds a seat"));
        return;
    }
    let seats = state.opened.as_ref().map_or(0, |o| o.seats) as usize;
    let holders = seat_holders(state);
    if holders.len() >= seats {
        found.push(
            RuleId::R13,
            format!(
                "all {seats} seats are already held ({}): a winner more than seats",
                holders.join(", ")
            ),
        );
    }
    let Some(vote) = state.votes.iter().rev().find(|v| v.votes.contains_key(id)) else {
        found.push(
            RuleId::R13,
            format!("no vote.held since the election opened (or was declared void) tallied votes for {id}"),
        );
        return;
    };
    let tallied = vote.votes.get(id).copied().unwrap_or(0);
    if tallied != votes || vote.ballots_valid != ballots_valid {
        found.push(
            RuleId::R13,
            format!(
                "{votes} votes of {ballots_valid} valid ballots declared, but the tally of round {} gives {tallied} of {}",
                vote.round, vote.ballots_valid
            ),
        );
    }
    let (basis, what) = match ctx.proc_.majority_basis {
        MajorityBasis::BallotsReturned => {
            (Some(vote.ballots_returned), "ballots returned (参加投票)")
        }
        MajorityBasis::Electors => (vote.electors, "those entitled to vote (应到)"),
    };
    match basis {
        None => found.push(
            RuleId::R13,
            format!(
                "the procedure counts the majority of {what}, but round {} records no `electors`",
                vote.round
            ),
        ),
        Some(n) if tallied.saturating_mul(2) <= n => found.push(
            RuleId::R13,
            format!("{tallied} votes are not more than half of the {n} {what} (得票须过半数)"),
        ),
        Some(_) => {}
    }
}
