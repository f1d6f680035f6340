//! Issue 16 item 2 through the real binary: results add up (R13, D21). A
//! winner beyond the seats is refused naming the rule; an election declared
//! void ends its seats, and only a repeat vote may follow.

mod common;

use std::path::Path;

use common::{jishi, text};
use jishi_projections::demo::{generate, DemoConfig};
use jishi_projections::events::{Elected, ElectionDeclaredVoid, VoteHeld, VotePurpose};
use jishi_projections::{Actor, Command, EventBody};
use serde_json::Value;

fn record(db: &Path, actor: &Actor, cmd: &Command) -> std::process::Output {
    let json = cmd.to_json().to_string();
    let actor = serde_json::to_string(actor).expect("actor");
    jishi(
        db,
        &["record", cmd.kind(), "--json", &json, "--actor", &actor],
        None,
    )
}

#[test]
fn a_winner_beyond_the_seats_is_refused_and_a_void_election_is_held_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("results.db");
    assert!(jishi(&db, &["init"], None).status.success());
    let demo = generate(&DemoConfig {
        seed: 11,
        townships: 1,
    })
    .expect("demo");
    let e = &demo.elections[0];
    for p in &e.commands {
        let out = record(&db, &p.actor, &p.command);
        assert!(out.status.success(), "{}: {}", p.command.kind(), text(&out));
    }
    let vote = e
        .commands
        .iter()
        .find_map(|p| match &p.command.body {
            EventBody::VoteHeld(v) => Some((p.clone(), v.clone())),
            _ => None,
        })
        .expect("the vote");
    let (vote_p, tally): (_, VoteHeld) = vote;
    let committee = vote_p.actor.clone();
    let winners: Vec<String> = e
        .commands
        .iter()
        .filter(|p| matches!(p.command.body, EventBody::Elected(_)))
        .filter_map(|p| p.command.candidate_id.clone())
        .collect();
    let loser = tally
        .votes
        .keys()
        .find(|c| !winners.contains(c))
        .expect("a loser")
        .clone();
    let at = vote_p.command.occurred_at + chrono::Duration::hours(9);

    // One more winner than seats, with the tally's own figures: refused.
    let extra = Command::new(
        &e.election_id,
        Some(&loser),
        at,
        EventBody::Elected(Elected {
            votes: tally.votes[&loser],
            ballots_valid: tally.ballots_valid,
        }),
    );
    let out = record(&db, &committee, &extra);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("R13 violated"), "{said}");
    assert!(said.contains("seats are already held"), "{said}");
    assert!(said.contains("选举结果由选举委员会依法确定有效"), "{said}");

    // The election is declared void: its seats end, the old tally elects no one.
    let void = Command::new(
        &e.election_id,
        None,
        at,
        EventBody::ElectionDeclaredVoid(ElectionDeclaredVoid {
            reason: "选举程序不符合规定".into(),
            decided_by: "区委".into(),
        }),
    );
    let out = record(&db, &committee, &void);
    assert!(out.status.success(), "{}", text(&out));
    let again = Command::new(
        &e.election_id,
        Some(&winners[0]),
        at + chrono::Duration::minutes(5),
        EventBody::Elected(Elected {
            votes: tally.votes[&winners[0]],
            ballots_valid: tally.ballots_valid,
        }),
    );
    let out = record(&db, &committee, &again);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("tallied votes for"), "{said}");

    // The repeat vote, and a winner from it.
    let mut repeat = tally.clone();
    repeat.purpose = Some(VotePurpose::Repeat);
    let vote_again = Command::new(
        &e.election_id,
        None,
        at + chrono::Duration::days(7),
        EventBody::VoteHeld(repeat),
    );
    let out = record(&db, &committee, &vote_again);
    assert!(out.status.success(), "{}", text(&out));
    let mut won = again.clone();
    won.occurred_at = at + chrono::Duration::days(7) + chrono::Duration::hours(2);
    let out = record(&db, &committee, &won);
    assert!(out.status.success(), "{}", text(&out));

    // Replay agrees with every step taken.
    let out = jishi(&db, &["check", &e.election_id, "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("check --json");
    let refused: Vec<&Value> = v["findings"]
        .as_array()
        .map(|f| f.iter().filter(|f| f["kind"] == "gate_refused").collect())
        .unwrap_or_default();
    assert!(refused.is_empty(), "{refused:?}");
}
