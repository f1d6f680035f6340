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
