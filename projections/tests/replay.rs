//! Replay (D68) on the demo's elections decided through `decide`, as the
//! gated path writes them: clean as recorded, and each way of writing around
//! the gates found at its position.

use jishi_projections::demo::{generate, DemoConfig, DemoElection};
use jishi_projections::replay::{replay, ReplayKind};
use jishi_projections::views::Entry;
use jishi_projections::{decide, ElectionState, EventBody, Procedure};

/// The entries the gated path writes for an election: every command
/// decided on the state before it, each event with the gate mark.
fn gated_entries(e: &DemoElection) -> Vec<Entry> {
    let procedure = Procedure::builtin("township_party_committee").expect("builtin");
    let digest = procedure.digest();
    let mut state = ElectionState::default();
    let mut out = Vec::new();
    for p in &e.commands {
        let events = decide(&state, &p.actor, &p.command, &procedure).expect("the demo passes");
        for event in events {
            state.apply(&event);
            let position = out.len() as u64 + 1;
            out.push(Entry {
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
    out
}

fn demo() -> Vec<DemoElection> {
    generate(&DemoConfig {
        seed: 11,
        townships: 6,
    })
    .expect("demo")
    .elections
}

fn is_override(e: &Entry) -> bool {
    matches!(e.event.body, EventBody::OverrideRecorded(_))
}

#[test]
fn every_demo_election_replays_clean_with_its_overrides_respected() {
    let mut overrides = 0;
    for e in demo() {
        let entries = gated_entries(&e);
        overrides += entries.iter().filter(|x| is_override(x)).count();
        let r = replay(&entries);
        assert!(r.findings.is_empty(), "{}: {:?}", e.election_id, r.findings);
        assert!(r.legacy.is_none());
        assert_eq!(r.procedures.len(), 1);
        assert_eq!(r.procedures[0].how, "adopted");
        assert!(r.procedures[0].changes.is_empty());
    }
    assert!(overrides > 0, "the demo plants overrides");
}

#[test]
fn an_act_whose_override_is_taken_out_is_refused_under_that_rule() {
    let e = demo()
        .into_iter()
        .find(|e| gated_entries(e).iter().any(is_override))
        .expect("an election with an override");
    let mut entries = gated_entries(&e);
    let i = entries.iter().position(is_override).expect("override");
    let EventBody::OverrideRecorded(o) = entries[i].event.body.clone() else {
        unreachable!()
    };
    entries.remove(i);
    let act = entries[i..]
        .iter()
        .find(|x| !is_override(x))
        .expect("the act")
        .position;
    let r = replay(&entries);
    assert!(
        r.findings
            .iter()
            .any(|f| f.kind == ReplayKind::Refused && f.position == act && f.rule == Some(o.rule)),
        "{:?}",
        r.findings
    );
}

#[test]
fn a_missing_check_makes_a_later_step_refused_and_an_unmarked_event_is_outside_the_gates() {
    let e = &demo()[0];
    let mut entries = gated_entries(e);
    let i = entries
        .iter()
        .position(|x| x.event.event_type() == "check.archive_reviewed")
        .expect("an archive review");
    let removed = entries.remove(i).position;
    let r = replay(&entries);
    let refused: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.kind == ReplayKind::Refused)
        .collect();
    assert!(
        refused.iter().any(
            |f| f.position > removed && matches!(f.rule.map(|x| x.as_str()), Some("R1" | "R2"))
        ),
        "{:?}",
        r.findings
    );

    // One event without its mark: only it is outside the gates.
    let mut entries = gated_entries(e);
    entries[5].gated_under = None;
    let r = replay(&entries);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].kind, ReplayKind::OutsideGates);
    assert_eq!(r.findings[0].position, entries[5].position);

    // One with the mark of another procedure.
    let mut entries = gated_entries(e);
    entries[7].gated_under = Some("0".repeat(64));
    let r = replay(&entries);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].kind, ReplayKind::OtherProcedure);
}

#[test]
fn a_legacy_election_replays_under_the_builtin_with_a_note_and_no_finding() {
    let e = &demo()[1];
    let mut entries: Vec<Entry> = gated_entries(e)
        .into_iter()
        .filter(|x| !matches!(x.event.body, EventBody::ProcedureAdopted(_)))
        .collect();
    for x in &mut entries {
        x.gated_under = None;
    }
    let r = replay(&entries);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(r.legacy.as_deref().is_some_and(|n| n.contains("built-in")));
    assert_eq!(r.procedures[0].how, "builtin (legacy)");

    // Once the gated path has marked an event, an unmarked one after it counts.
    let digest = Procedure::builtin("township_party_committee")
        .expect("builtin")
        .digest();
    let n = entries.len();
    entries[n - 3].gated_under = Some(digest);
    let r = replay(&entries);
    let outside: Vec<u64> = r
        .findings
        .iter()
        .filter(|f| f.kind == ReplayKind::OutsideGates)
        .map(|f| f.position)
        .collect();
    assert_eq!(
        outside,
        vec![entries[n - 2].position, entries[n - 1].position],
        "{:?}",
        r.findings
    );
}

#[test]
fn an_amendment_is_the_party_committees_must_load_and_keeps_the_kind() {
    use jishi_projections::events::ProcedureAmended;
    use jishi_projections::{Command, Refusal, RuleId};
    let e = &demo()[0];
    let procedure = Procedure::builtin("township_party_committee").expect("builtin");
    let mut state = ElectionState::default();
    for p in &e.commands[..3] {
        for ev in decide(&state, &p.actor, &p.command, &procedure).expect("gates") {
            state.apply(&ev);
        }
    }
    let committee = e
        .commands
        .iter()
        .find(|p| p.actor.role == "party_committee")
        .expect("a committee actor")
        .actor
        .clone();
    let at = e.commands[2].command.occurred_at;
    let amend = |content: String| {
        Command::new(
            &e.election_id,
            None,
            at,
            EventBody::ProcedureAmended(ProcedureAmended {
                content,
                reason: "区委批准".into(),
                digest: None,
            }),
        )
    };
    let field = |r: Result<Vec<jishi_projections::DomainEvent>, Refusal>| match r {
        Err(Refusal::Invalid { field, reason }) => format!("{field}: {reason}"),
        other => panic!("{other:?}"),
    };
    let bad = field(decide(
        &state,
        &committee,
        &amend("kind = 1".into()),
        &procedure,
    ));
    assert!(
        bad.starts_with("content: <procedure.amended content>:1:"),
        "{bad}"
    );
    let village = Procedure::builtin("village_two_committees").expect("builtin");
    let other = field(decide(
        &state,
        &committee,
        &amend(village.canonical_toml()),
        &procedure,
    ));
    assert!(other.contains("the kind cannot change"), "{other}");
    let clerk = &e.commands[0].actor;
    match decide(
        &state,
        clerk,
        &amend(procedure.canonical_toml()),
        &procedure,
    ) {
        Err(Refusal::Violation(v)) => assert_eq!(v.rule, RuleId::R11),
        other => panic!("{other:?}"),
    }
    // By the committee, a file with a comment is stored canonical, with its digest.
    let text = format!("# 修订\n{}", procedure.canonical_toml());
    let events = decide(&state, &committee, &amend(text), &procedure).expect("amended");
    match &events[0].body {
        EventBody::ProcedureAmended(b) => {
            assert_eq!(b.content, procedure.canonical_toml());
            assert_eq!(b.digest.as_deref(), Some(procedure.digest().as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_needless_override_is_reported_where_it_is_stored_and_the_act_judged_without_it() {
    let e = &demo()[0];
    let mut entries = gated_entries(e);
    // An override of R5 put before the first nomination, which breaks no rule.
    let i = entries
        .iter()
        .position(|x| x.event.event_type() == "candidate.nominated")
        .expect("a nomination");
    let act = entries[i].clone();
    let mut forged = act.clone();
    forged.event.body = EventBody::OverrideRecorded(jishi_projections::events::OverrideRecorded {
        rule: jishi_projections::RuleId::R5,
        justification: "伪造".into(),
        authorised_by: act.actor.clone(),
        overridden_event_type: "candidate.nominated".into(),
        violation: "none".into(),
    });
    entries.insert(i, forged);
    for (n, x) in entries.iter_mut().enumerate() {
        x.position = n as u64 + 1;
    }
    let r = replay(&entries);
    assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
    assert_eq!(r.findings[0].kind, ReplayKind::NotAsDecided);
    assert_eq!(r.findings[0].position, i as u64 + 1);
    assert_eq!(r.findings[0].event_type, "override.recorded");
}

#[test]
fn an_unmarked_procedure_adopted_does_not_set_the_procedure() {
    let e = &demo()[2];
    let mut entries = gated_entries(e);
    // The opening and a weakened procedure, both written around the gates.
    let weakened = Procedure::from_toml_str(
        &Procedure::builtin("township_party_committee")
            .expect("builtin")
            .canonical_toml()
            .replace("\"check.archive_reviewed\", ", ""),
        "weakened",
    )
    .expect("loads");
    let content = weakened.canonical_toml();
    entries[1].event.body =
        EventBody::ProcedureAdopted(jishi_projections::events::ProcedureAdopted {
            kind: weakened.kind.clone(),
            digest: jishi_projections::digest_of(&content),
            content,
        });
    entries[0].gated_under = None;
    entries[1].gated_under = None;
    let r = replay(&entries);
    assert_eq!(
        r.procedures[0].how, "builtin (legacy)",
        "{:?}",
        r.procedures
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.position == 2 && f.kind == ReplayKind::Refused),
        "{:?}",
        r.findings
    );
    // The gated events after it carry the built-in digest, which is in force.
    assert!(
        r.findings.iter().all(|f| f.position <= 2),
        "{:?}",
        r.findings
    );
}
