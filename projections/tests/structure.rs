//! D23 (issue 16 item 5): structure rules belong to each procedure kind. The
//! township-team rules (2/3 with township work, under-35, service term) raise
//! no finding on a village or a constituency; the village keeps its woman on
//! the committee; a constituency elects 1–3 deputies.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::views::{self, Entry, FindingKind, StructureRules};
use jishi_projections::{EventBody, Procedure, Refusal};

/// A full walk whose nominees are men of 59 without township work: every
/// township rule fails for them.
fn walked_with_unlikely_team(kind: &str) -> Vec<Entry> {
    let mut w = World::new(kind);
    w.walk_until(None);
    let mut es = entries(&w);
    for e in &mut es {
        match &mut e.event.body {
            EventBody::Nominated(n) => {
                n.sex = Sex::Male;
                n.township_work_years = 0;
                n.birth_date = date("1962-01-01");
            }
            EventBody::ArchiveReviewed(a) => a.birth_date = date("1962-01-01"),
            _ => {}
        }
    }
    es
}

fn kinds(es: &[Entry], procedure: &Procedure) -> Vec<FindingKind> {
    views::check(es, procedure, &StructureRules::default())
        .findings
        .iter()
        .map(|f| f.kind)
        .collect()
}

const TOWNSHIP_RULES: [FindingKind; 3] = [
    FindingKind::TownshipWork,
    FindingKind::YoungCadres,
    FindingKind::ServiceTerm,
];

#[test]
fn the_township_rules_hold_the_township_team_only() {
    let township = Procedure::builtin("township_party_committee").unwrap();
    let found = kinds(&walked_with_unlikely_team(&township.kind), &township);
    for k in TOWNSHIP_RULES.iter().chain([&FindingKind::Women]) {
        assert!(found.contains(k), "{k:?} missing from {found:?}");
    }

    // a village: only the woman on the committee
    let village = Procedure::builtin("village_two_committees").unwrap();
    let found = kinds(&walked_with_unlikely_team(&village.kind), &village);
    for k in TOWNSHIP_RULES {
        assert!(!found.contains(&k), "false {k:?} on a village: {found:?}");
    }
    assert!(found.contains(&FindingKind::Women), "{found:?}");

    // a constituency: none of them
    let congress = Procedure::builtin("county_township_congress").unwrap();
    let found = kinds(&walked_with_unlikely_team(&congress.kind), &congress);
    for k in TOWNSHIP_RULES.iter().chain([&FindingKind::Women]) {
        assert!(
            !found.contains(k),
            "false {k:?} on a constituency: {found:?}"
        );
    }
}

#[test]
fn a_procedure_without_its_structure_table_falls_back_by_kind() {
    // a village procedure recorded before [structure] existed
    let village = Procedure::builtin("village_two_committees").unwrap();
    let mut legacy = village.clone();
    legacy.structure = None;
    assert_eq!(legacy.structure_rules(), StructureRules::default());
    let mut township = Procedure::builtin("township_party_committee").unwrap();
    township.structure = None;
    assert_eq!(township.structure_rules(), StructureRules::township());
    // and the table is part of the canonical text, which loads back equal
    let again = Procedure::from_toml_str(&village.canonical_toml(), "canon").unwrap();
    assert_eq!(again, village);
}

#[test]
fn a_structure_table_with_a_bad_share_or_unknown_key_names_its_line() {
    let text = jishi_projections::BUILTIN
        .iter()
        .find(|(f, _)| f.starts_with("township"))
        .unwrap()
        .1;
    let bad = text.replace("township_share = 0.6667", "township_share = 1.5");
    let err = Procedure::from_toml_str(&bad, "bad.toml").unwrap_err();
    assert!(err.reason.contains("township_share"), "{err}");
    let unknown = text.replace("township_share = 0.6667", "township_shares = 0.6667");
    let err = Procedure::from_toml_str(&unknown, "bad.toml").unwrap_err();
    assert!(err.to_string().contains("township_shares"), "{err}");
}

#[test]
fn a_constituency_elects_one_to_three_deputies() {
    let mut w = World::new("county_township_congress");
    w.seats = 4;
    let open = w.cmd(None, w.happy("election.opened", None));
    let ec = actor("election_committee");
    match w.attempt(&ec, &open) {
        Err(Refusal::Invalid { field, reason }) => {
            assert_eq!(field, "seats");
            assert!(reason.contains("每一选区选1至3名代表"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    w.seats = 3;
    let open = w.cmd(None, w.happy("election.opened", None));
    assert!(w.attempt(&ec, &open).is_ok());
}
