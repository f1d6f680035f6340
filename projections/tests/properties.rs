//! Properties of decide and apply over random command sequences:
//! - decide and apply agree: the state built by applying each accepted command's
//!   events as they are decided equals the state folded from scratch over the same
//!   events, also after a to_payload / from_parts round trip (what the ledger does);
//! - a refused command produces no events and leaves the state as it was;
//! - decide is deterministic.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::{decide, fold, Actor, Command, DomainEvent, EventBody, RuleId};
use proptest::prelude::*;

const KINDS: [&str; 3] = [
    "township_party_committee",
    "village_two_committees",
    "county_township_congress",
];

#[derive(Debug, Clone)]
struct Step {
    /// Take the next step of the procedure for the candidate (biased toward
    /// progress, so that sequences reach the late gates) rather than a random kind.
    advance: bool,
    /// Act as a role the procedure entitles for the kind.
    entitled: bool,
    kind: usize,
    candidate: usize,
    role: usize,
    outsider: bool,
    days: i64,
    override_rule: Option<usize>,
    variant: u8,
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop::bool::weighted(0.6),
        prop::bool::weighted(0.85),
        0usize..64,
        0usize..3,
        0usize..16,
        prop::bool::weighted(0.1),
        0i64..4,
        prop::option::weighted(0.15, 0usize..12),
        0u8..4,
    )
        .prop_map(
            |(advance, entitled, kind, candidate, role, outsider, days, override_rule, variant)| {
                Step {
                    advance,
                    entitled,
                    kind,
                    candidate,
                    role,
                    outsider,
                    days,
                    override_rule,
                    variant,
                }
            },
        )
}

/// Some payloads other than the happy one, so that the gates see problems.
fn perturb(body: EventBody, variant: u8) -> EventBody {
    if variant == 0 {
        return body;
    }
    match body {
        EventBody::DisciplineOpinionIssued(mut b) => {
            b.opinion = if variant == 1 {
                DisciplineOpinion::Pending
            } else {
                DisciplineOpinion::Objection
            };
            EventBody::DisciplineOpinionIssued(b)
        }
        EventBody::PetitionReceived(mut b) => {
            b.petition_id = format!("p-{variant}");
            b.specific = variant != 3;
            EventBody::PetitionReceived(b)
        }
        EventBody::PetitionInvestigated(mut b) => {
            b.petition_id = format!("p-{variant}");
            EventBody::PetitionInvestigated(b)
        }
        EventBody::PetitionClosed(mut b) => {
            b.petition_id = format!("p-{}", variant.min(2));
            b.conclusion = if variant == 3 {
                PetitionConclusion::VoteBuying
            } else {
                PetitionConclusion::Substantiated
            };
            EventBody::PetitionClosed(b)
        }
        EventBody::VoteHeld(mut b) => {
            if variant == 1 {
                b.proxies[0].giver_ids.push("v-4".into());
            } else if variant == 2 {
                b.mobile_boxes[0].sealed = false;
            } else {
                b.ballots_valid = b.ballots_returned + 1;
            }
            EventBody::VoteHeld(b)
        }
        EventBody::CommitteeDecided(mut b) => {
            if variant == 1 {
                b.outcome = DecisionOutcome::Rejected;
            } else {
                b.chair = "insp-2".into();
            }
            EventBody::CommitteeDecided(b)
        }
        EventBody::ArchiveReviewed(mut b) => {
            b.discrepancies.push(Discrepancy {
                field: "birth_date".into(),
                note: "出生日期不一致".into(),
                resolved: variant == 2,
            });
            EventBody::ArchiveReviewed(b)
        }
        EventBody::NominationWithdrawn(mut b) => {
            b.nominator_id = "other".into();
            EventBody::NominationWithdrawn(b)
        }
        other => other,
    }
}

/// The first event of the procedure not yet recorded for the candidate (or the
/// election, for election-level steps).
fn next_event(world: &World, cand: &str) -> Option<(String, Option<String>)> {
    for step in &world.procedure.steps {
        for ev in &step.events {
            match step.scope {
                Scope::Election => {
                    if !world.state.recorded.contains_key(ev) {
                        return Some((ev.clone(), None));
                    }
                }
                _ => {
                    if !world.state.candidate(cand).is_some_and(|c| c.has(ev)) {
                        return Some((ev.clone(), Some(cand.to_string())));
                    }
                }
            }
        }
    }
    None
}

fn round_trip(e: &DomainEvent) -> DomainEvent {
    DomainEvent::from_parts(e.event_type(), e.schema_version(), &e.to_payload())
        .unwrap_or_else(|err| panic!("{} does not round-trip: {err}", e.event_type()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn decide_and_apply_agree_and_refusals_change_nothing(
        procedure in 0usize..3,
        prefix in 0usize..40,
        steps in prop::collection::vec(step(), 1..50),
    ) {
        let mut world = World::new(KINDS[procedure]);
        // Start part-way through a walk, so that random commands hit every gate.
        let all_events: Vec<String> = world.procedure.steps.iter().flat_map(|s| s.events.clone()).collect();
        if prefix < all_events.len() {
            let stop = all_events[prefix].clone();
            world.walk_until(Some(&stop));
        }
        let kinds: Vec<&'static str> = Command::kinds().map(|k| k.event_type).collect();
        let roles: Vec<String> = world.procedure.roles.iter().map(|r| r.id.clone()).collect();
        let mut accepted = 0usize;

        for s in steps {
            let cand = ["c1", "c2", "c3"][s.candidate];
            let next = if s.advance { next_event(&world, cand) } else { None };
            let (event_type, candidate): (&str, Option<&str>) = match &next {
                Some((ev, c)) => (
                    kinds.iter().copied().find(|k| k == ev).unwrap_or("pledge.signed"),
                    c.as_ref().map(|_| cand),
                ),
                None => {
                    let event_type = kinds[s.kind % kinds.len()];
                    let scope = kind_of(event_type).map(|k| k.scope).unwrap_or(Scope::Election);
                    let candidate = match scope {
                        Scope::Election => None,
                        Scope::Candidate => Some(cand),
                        Scope::Either => (s.candidate != 2).then_some(cand),
                    };
                    (event_type, candidate)
                }
            };
            let variant = if s.advance { s.variant.saturating_sub(2) } else { s.variant };
            let body = perturb(world.happy(event_type, candidate), variant);
            world.tick(s.days);
            let mut cmd = world.cmd(candidate, body);
            if let Some(r) = s.override_rule {
                cmd = cmd.with_override(RuleId::ALL[r], "随机覆盖");
            }
            let entitled = world.procedure.roles_for(event_type);
            let role = if s.entitled && !entitled.is_empty() {
                &entitled[s.role % entitled.len()]
            } else {
                &roles[s.role % roles.len()]
            };
            let org = if s.outsider { "天元区/河西镇" } else { "天元区" };
            let who = Actor::new(&format!("{role}-1"), "经办人", role, org);

            let before = world.state.clone();
            let first = decide(&world.state, &who, &cmd, &world.procedure);
            let second = decide(&world.state, &who, &cmd, &world.procedure);
            prop_assert_eq!(&first, &second, "decide is not deterministic");
            match first {
                Err(refusal) => {
                    prop_assert!(!refusal.to_string().is_empty());
                    prop_assert_eq!(&world.state, &before);
                }
                Ok(events) => {
                    accepted += 1;
                    prop_assert!(!events.is_empty());
                    prop_assert!(events.iter().any(|e| e.event_type() == event_type));
                    for e in &events {
                        prop_assert_eq!(&round_trip(e), e);
                        prop_assert_eq!(e.candidate_id.as_deref(), candidate);
                        world.state.apply(e);
                    }
                    world.events.extend(events);
                }
            }
        }

        prop_assert_eq!(&fold(&world.events), &world.state);
        let stored: Vec<DomainEvent> = world.events.iter().map(round_trip).collect();
        prop_assert_eq!(&fold(&stored), &world.state);
        // Every accepted command added at least one event.
        prop_assert!(world.events.len() >= accepted);
    }
}
