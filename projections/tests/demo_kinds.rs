//! The demo's party representatives, village and constituency (issue 16): every command passes the
//! gates of its own kind, the result is as tallied, and the compliance report
//! `jishi check` shows has no finding on them — in particular no township
//! structure rule (D23).

use jishi_projections::demo_kinds::other_kinds;
use jishi_projections::replay::compliance;
use jishi_projections::views::{Entry, StructureRules};
use jishi_projections::{decide, ElectionState, EventBody, Procedure};

#[test]
fn the_other_kinds_pass_the_gates_and_check_clean() {
    let elections = other_kinds(2021).expect("procedures load");
    let mut kinds = Vec::new();
    for e in &elections {
        let EventBody::ElectionOpened(opened) = &e.commands[0].command.body else {
            panic!("{} does not open first", e.election_id);
        };
        let procedure = Procedure::builtin(&opened.kind).expect("builtin");
        kinds.push(procedure.kind.clone());
        let digest = procedure.digest();
        let mut state = ElectionState::default();
        let mut entries = Vec::new();
        for p in &e.commands {
            let events = decide(&state, &p.actor, &p.command, &procedure)
                .unwrap_or_else(|r| panic!("{} {}: {r}", e.election_id, p.command.kind()));
            for event in events {
                state.apply(&event);
                let position = entries.len() as u64 + 1;
                entries.push(Entry {
                    position,
                    event_id: position.to_string(),
                    recorded_at: event.occurred_at,
                    actor: p.actor.clone(),
                    hash: [0; 32],
                    payload_digest: [0; 32],
                    gated_under: Some(digest.clone()),
                    event,
                });
            }
        }
        let seats = opened.seats as usize;
        if procedure.step_of("vote.held").is_some() {
            let held = state.candidates.values().filter(|c| c.holds_seat()).count();
            assert_eq!(held, seats, "{}", e.election_id);
        } else {
            // A selection (政协): every member confirmed, no vote.
            let listed = state.candidates.values().filter(|c| c.listed).count();
            assert_eq!(listed, seats, "{}", e.election_id);
        }
        let (report, replayed) = compliance(&entries, &procedure, &StructureRules::default());
        assert!(replayed.findings.is_empty(), "{:#?}", replayed.findings);
        assert!(
            report.findings.is_empty(),
            "{}: {:#?}",
            e.election_id,
            report.findings
        );
    }
    assert_eq!(
        kinds,
        [
            "party_representative",
            "village_two_committees",
            "cppcc_members",
            "county_township_congress"
        ]
    );
}
