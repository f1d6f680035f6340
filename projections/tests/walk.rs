//! A candidate walks through every step of each built-in procedure, recorded by the
//! roles the procedure names, and every step is accepted.

mod common;

use common::*;
use jishi_projections::{fold, DomainEvent, Procedure};

fn walk_whole(kind: &str) -> World {
    // given the built-in procedure of this kind
    let mut world = World::new(kind);
    // when every step is recorded in order
    world.walk_until(None);
    world
}

fn assert_every_step_recorded(world: &World) {
    for step in &world.procedure.steps {
        for ev in &step.events {
            assert!(
                world.events.iter().any(|e| e.event_type() == ev),
                "{}: step `{}` event {ev} was never recorded",
                world.procedure.kind,
                step.id
            );
        }
    }
}

fn assert_folds_back(world: &World) {
    let stored: Vec<DomainEvent> = world
        .events
        .iter()
        .map(|e| {
            DomainEvent::from_parts(e.event_type(), e.schema_version(), &e.to_payload()).unwrap()
        })
        .collect();
    assert_eq!(stored, world.events);
    assert_eq!(fold(&stored), world.state);
}

#[test]
fn township_party_committee_walk_is_accepted() {
    let world = walk_whole("township_party_committee");
    // then c1 went all the way and won; c2 stood as the differential candidate
    let c1 = world.state.candidate("c1").unwrap();
    assert!(c1.elected && c1.listed && c1.is_active());
    let c2 = world.state.candidate("c2").unwrap();
    assert!(c2.listed && !c2.elected);
    assert_every_step_recorded(&world);
    assert!(world.state.overrides.is_empty());
    assert_folds_back(&world);
    // 13 steps; 3 election-level, 4 checks + 9 other events per candidate, c2 not elected.
    assert_eq!(world.procedure.steps.len(), 13);
}

#[test]
fn village_two_committees_walk_is_accepted() {
    let world = walk_whole("village_two_committees");
    assert!(world.state.candidate("c1").unwrap().elected);
    assert_every_step_recorded(&world);
    assert_folds_back(&world);
}

#[test]
fn county_township_congress_walk_is_accepted() {
    let world = walk_whole("county_township_congress");
    let c1 = world.state.candidate("c1").unwrap();
    assert!(c1.elected);
    assert_eq!(
        c1.qualification,
        Some(jishi_projections::events::QualificationOutcome::Valid)
    );
    assert_every_step_recorded(&world);
    assert_folds_back(&world);
}

#[test]
fn every_event_goes_to_its_stream() {
    let world = walk_whole("township_party_committee");
    for e in &world.events {
        match &e.candidate_id {
            Some(c) => assert_eq!(e.stream(), format!("election/{ELECTION}/candidate/{c}")),
            None => assert_eq!(e.stream(), format!("election/{ELECTION}")),
        }
    }
}

#[test]
fn procedures_render_their_steps_roles_and_periods() {
    for p in Procedure::builtins().unwrap() {
        let text = p.to_string();
        for step in &p.steps {
            assert!(text.contains(&step.name), "{} misses {}", p.kind, step.name);
        }
        assert!(text.contains(&format!("{} working days", p.publicity_working_days)));
        assert!(text.contains("组织部门") || text.contains("选举委员会"));
    }
}
