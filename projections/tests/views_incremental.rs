//! Property: projections kept incrementally (entries applied in catch-up
//! batches of any size) equal projections rebuilt from position 1, and equal
//! the views computed from scratch, over random valid histories: seeded
//! districts decided command by command through `decide`, elections
//! interleaved at random, cut at a random position.

use chrono::{DateTime, Duration, FixedOffset};
use jishi_projections::demo::{generate, DemoConfig, Rng};
use jishi_projections::views::{self, Entry, Projections, StructureRules};
use jishi_projections::{decide, fold, DomainEvent, ElectionState, EventBody, Procedure};
use proptest::prelude::*;

/// Decides every command of each election in order (each must pass), then
/// interleaves the elections' events at random, keeping each one's order.
fn history(seed: u64, townships: usize) -> Vec<Entry> {
    let demo = generate(&DemoConfig { seed, townships }).expect("generate");
    let procedure = Procedure::builtin("township_party_committee").expect("procedure");
    let mut per_election: Vec<Vec<(DomainEvent, jishi_projections::Actor)>> = Vec::new();
    for e in &demo.elections {
        let mut state = ElectionState::default();
        let mut events = Vec::new();
        for p in &e.commands {
            let decided = decide(&state, &p.actor, &p.command, &procedure)
                .unwrap_or_else(|r| panic!("{} refused: {r}", p.command.kind()));
            for d in decided {
                state.apply(&d);
                let actor = match &d.body {
                    EventBody::OverrideRecorded(o) => o.authorised_by.clone(),
                    _ => p.actor.clone(),
                };
                events.push((d, actor));
            }
        }
        per_election.push(events);
    }
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut cursors = vec![0usize; per_election.len()];
    let base: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339("2021-06-01T00:00:00+08:00").expect("time");
    let mut out = Vec::new();
    loop {
        let open: Vec<usize> = (0..per_election.len())
            .filter(|i| cursors[*i] < per_election[*i].len())
            .collect();
        if open.is_empty() {
            return out;
        }
        let i = *rng.pick(&open);
        // A run of a few events of one election, as concurrent recorders produce.
        let run = rng.range(1, 8) as usize;
        for _ in 0..run {
            let Some((event, actor)) = per_election[i].get(cursors[i]) else {
                break;
            };
            cursors[i] += 1;
            let position = out.len() as u64 + 1;
            out.push(Entry {
                position,
                event_id: format!("ev-{position}"),
                recorded_at: base + Duration::milliseconds(position as i64 * 7),
                actor: actor.clone(),
                hash: [(position % 251) as u8; 32],
                payload_digest: [(position % 241) as u8; 32],
                gated_under: None,
                event: event.clone(),
            });
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_rebuild(
        seed in any::<u64>(),
        townships in 1usize..4,
        cut in 0.0f64..=1.0,
        batches in proptest::collection::vec(1usize..400, 1..20),
    ) {
        // Given a random valid history, cut at a random position
        let all = history(seed, townships);
        prop_assert!(all.len() > 120 * townships, "{} events", all.len());
        let n = ((all.len() as f64) * cut).round() as usize;
        let entries = &all[..n];

        // When it is applied in catch-up batches of random sizes
        let mut incremental = Projections::default();
        let mut at = 0;
        let mut sizes = batches.iter().cycle();
        while at < entries.len() {
            let size = *sizes.next().unwrap_or(&1);
            let end = (at + size).min(entries.len());
            incremental.extend(entries[at..end].iter().cloned()).expect("in order");
            at = end;
        }

        // Then it equals a rebuild from position 1
        let rebuilt = Projections::rebuild(entries.iter().cloned()).expect("in order");
        prop_assert_eq!(&incremental, &rebuilt);

        // And compliance kept after every batch equals compliance kept once
        // after the rebuild, and a recomputation from scratch (D118)
        let mut kept = Projections::default();
        let mut at = 0;
        let mut sizes = batches.iter().cycle();
        while at < entries.len() {
            let size = *sizes.next().unwrap_or(&1);
            let end = (at + size).min(entries.len());
            kept.extend(entries[at..end].iter().cloned()).expect("in order");
            kept.keep_compliance();
            at = end;
        }
        let mut rebuilt_kept = rebuilt.clone();
        rebuilt_kept.keep_compliance();
        prop_assert_eq!(&kept, &rebuilt_kept);
        for p in kept.elections.values() {
            let k = p.compliance.as_ref().expect("kept");
            prop_assert_eq!(k.through, p.last_position());
            prop_assert_eq!(&k.report, &p.compliance_now());
        }
        prop_assert_eq!(incremental.last_position, n as u64);

        // And each election's state, chains, trails, stats and findings equal
        // the views computed from scratch from that election's entries
        let procedure = Procedure::builtin("township_party_committee").expect("procedure");
        for (id, p) in &incremental.elections {
            let own: Vec<Entry> = entries
                .iter()
                .filter(|e| &e.event.election_id == id)
                .cloned()
                .collect();
            prop_assert_eq!(&p.entries, &own);
            prop_assert_eq!(&p.state, &fold(own.iter().map(|e| &e.event)));
            for (c, chain) in &p.chains {
                prop_assert_eq!(chain, &views::accountability(&own, c));
                prop_assert_eq!(p.trail(c), views::trail(&own, c));
            }
            prop_assert_eq!(p.stats(), views::stats(&fold(own.iter().map(|e| &e.event))));
            let rules = StructureRules::default();
            prop_assert_eq!(
                views::check(&p.entries, &procedure, &rules),
                views::check(&own, &procedure, &rules)
            );
        }
    }
}

/// The district of [`history`] with, after it, a correction of a recorded
/// step, a seat voided, a whole election declared void, and an event that is
/// no domain event: each decided through `decide` where it passes, else
/// appended as written around the gates (then replay reports it, so the
/// findings change either way).
fn corrected_and_voided(seed: u64) -> (Vec<Entry>, Vec<(u64, String)>) {
    let mut entries = history(seed, 2);
    let procedure = Procedure::builtin("township_party_committee").expect("procedure");
    let elections: Vec<String> = {
        let mut ids: Vec<String> = entries
            .iter()
            .map(|e| e.event.election_id.clone())
            .collect();
        ids.sort();
        ids.dedup();
        ids
    };
    let actor = entries[0].actor.clone();
    let last = entries.last().expect("events").clone();
    let push =
        |entries: &mut Vec<Entry>, election: &str, candidate: Option<&str>, body: EventBody| {
            let state = fold(
                entries
                    .iter()
                    .filter(|e| e.event.election_id == election)
                    .map(|e| &e.event),
            );
            let at = last.event.occurred_at + Duration::days(1);
            let command = jishi_projections::Command::new(election, candidate, at, body.clone());
            let decided = decide(&state, &actor, &command, &procedure).unwrap_or_else(|_| {
                vec![DomainEvent {
                    election_id: election.to_string(),
                    candidate_id: candidate.map(str::to_string),
                    occurred_at: at,
                    body,
                }]
            });
            for event in decided {
                let position = entries.len() as u64 + 1;
                entries.push(Entry {
                    position,
                    event_id: format!("ev-{position}"),
                    recorded_at: last.recorded_at + Duration::milliseconds(position as i64),
                    actor: actor.clone(),
                    hash: [(position % 251) as u8; 32],
                    payload_digest: [(position % 241) as u8; 32],
                    gated_under: None,
                    event,
                });
            }
        };
    let first = &elections[0];
    let elected = fold(
        entries
            .iter()
            .filter(|e| &e.event.election_id == first)
            .map(|e| &e.event),
    )
    .candidates
    .iter()
    .find(|(_, c)| c.elected)
    .map(|(id, _)| id.clone())
    .expect("an elected candidate");
    let archive = entries
        .iter()
        .find(|e| {
            &e.event.election_id == first && e.event.candidate_id.as_deref() == Some(&elected)
        })
        .expect("a step of the candidate")
        .position;
    push(
        &mut entries,
        first,
        Some(&elected),
        EventBody::CorrectionRecorded(jishi_projections::events::CorrectionRecorded {
            corrects_event_id: archive.to_string(),
            reason: "录入笔误".into(),
            corrected: Some(serde_json::json!({ "note": "以原件为准" })),
        }),
    );
    push(
        &mut entries,
        first,
        Some(&elected),
        EventBody::ElectionVoided(jishi_projections::events::ElectionVoided {
            reason: "查实拉票贿选".into(),
            rule: None,
        }),
    );
    push(
        &mut entries,
        &elections[1],
        None,
        EventBody::ElectionDeclaredVoid(jishi_projections::events::ElectionDeclaredVoid {
            reason: "程序不合法".into(),
            decided_by: "镇党委代表资格审查小组".into(),
        }),
    );
    // An unreadable event of the first election, after everything else.
    let unreadable = vec![(entries.len() as u64 + 1, first.clone())];
    (entries, unreadable)
}

/// Kept compliance (D118) equals a full recomputation after every single
/// event of a scenario with corrections and voiding, for the election the
/// event changed and for every other; only the changed election is
/// computed again; and the report kept at each position equals the as-of
/// view of the final history at that position.
#[test]
fn kept_compliance_equals_a_recomputation_after_each_event() {
    let (entries, unreadable) = corrected_and_voided(7);
    let mut p = Projections::default();
    let mut kept_at: Vec<(u64, String, Option<views::ComplianceReport>)> = Vec::new();
    for e in &entries {
        let id = e.event.election_id.clone();
        p.apply(e.clone()).expect("in order");
        assert!(p.is_stale(&id));
        assert_eq!(
            p.keep_compliance(),
            1,
            "only the changed election is computed"
        );
        let own: Vec<Entry> = entries[..e.position as usize]
            .iter()
            .filter(|x| x.event.election_id == id)
            .cloned()
            .collect();
        let procedure = views::procedure_in_force(&own).expect("opened");
        let (fresh, _) = jishi_projections::replay::compliance_with(
            &own,
            &[],
            &procedure,
            &StructureRules::default(),
        );
        let election = &p.elections[&id];
        let kept = election.compliance.as_ref().expect("kept");
        assert_eq!(kept.through, e.position);
        assert_eq!(kept.report.as_ref(), Some(&fresh), "after #{}", e.position);
        assert_eq!(election.compliance().as_deref(), Some(&fresh));
        kept_at.push((e.position, id, kept.report.clone()));
    }
    // The correction and the void changed the first election's report
    // (the last three entries are the correction, the void and the other
    // election's declaration).
    let first = &kept_at[kept_at.len() - 3].1;
    let before = kept_at
        .iter()
        .rev()
        .skip(3)
        .find(|(_, id, _)| id == first)
        .map(|(_, _, r)| r.clone());
    let after = kept_at[kept_at.len() - 2].2.clone();
    assert_ne!(
        before.flatten(),
        after,
        "the correction and the void changed nothing"
    );

    // An unreadable event makes its election stale and is reported.
    for (position, election) in &unreadable {
        let before = p.elections[election].compliance().map(|r| r.findings.len());
        p.note_unreadable(
            election,
            jishi_projections::replay::Unreadable {
                position: *position,
                event_type: "raw.thing".into(),
                reason: "not a domain event".into(),
            },
        );
        assert!(p.is_stale(election));
        // Read before keeping: computed, not the stale kept report.
        let now = p.elections[election].compliance().map(|r| r.findings.len());
        assert_eq!(now, before.map(|n| n + 1));
        assert_eq!(p.keep_compliance(), 1);
        let e = &p.elections[election];
        assert_eq!(e.compliance.as_ref().expect("kept").through, *position);
        assert_eq!(
            e.compliance.as_ref().and_then(|k| k.report.clone()),
            e.compliance_now()
        );
        assert_eq!(e.compliance().map(|r| r.findings.len()), now);
    }

    // As of each position, the as-of view of the final history shows what
    // was kept then.
    for (position, id, report) in &kept_at {
        let then = views::as_of(&p.elections[id].entries, *position);
        let procedure = views::procedure_in_force(then).expect("opened");
        let (as_of, _) = jishi_projections::replay::compliance_with(
            then,
            &[],
            &procedure,
            &StructureRules::default(),
        );
        assert_eq!(report.as_ref(), Some(&as_of), "as of #{position}");
    }
}
