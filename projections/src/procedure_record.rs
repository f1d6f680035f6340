//! The procedure as part of the record (D65, D66): its canonical text and
//! digest, the `procedure.adopted` event `decide` writes beside an election's
//! opening, the checks on a `procedure.amended`, and the differences between
//! two procedures, named so that a clerk can see what a file changes.
//!
//! Why canonical TOML and not the file as given: two files that differ only
//! in comments, spacing or key order define the same procedure, and must get
//! the same digest, or `jishi record --procedure FILE` would refuse a file for
//! a comment. The canonical text is the procedure written back in the file
//! format itself (every `after` explicit, keys in a fixed order), so it loads
//! with [`Procedure::from_toml_str`] like any file, and loading it gives the
//! same procedure (a unit test holds every built-in to that).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::decide::Refusal;
use crate::events::{EventBody, ProcedureAdopted, ProcedureAmended};
use crate::procedure::Procedure;
use crate::state::ElectionState;

#[derive(Serialize)]
struct Canon<'a> {
    kind: &'a str,
    name: &'a str,
    description: &'a str,
    publicity_working_days: u32,
    report_deadline_working_days: u32,
    min_differential_ratio: f64,
    max_proxies_per_holder: u32,
    min_mobile_box_scrutineers: u32,
    // Written only when not the default, so that a procedure recorded before
    // the key existed keeps its canonical text and digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    majority_basis: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_seats: Option<u32>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    joint_review_departments: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    invalidity_decided_by: Option<&'a str>,
    required_checks: &'a [String],
    calendar: CanonCalendar,
    #[serde(skip_serializing_if = "Option::is_none")]
    structure: Option<&'a crate::views::StructureRules>,
    // Absent from every procedure recorded before decision 36, whose
    // canonical text and digest therefore stay the same.
    #[serde(skip_serializing_if = "Option::is_none")]
    composition: Option<&'a crate::views::composition::CompositionRules>,
    roles: BTreeMap<&'a str, &'a str>,
    stages: Vec<CanonStage<'a>>,
    steps: Vec<CanonStep<'a>>,
    permissions: &'a BTreeMap<String, Vec<String>>,
    overrides: BTreeMap<&'static str, &'a [String]>,
}

#[derive(Serialize)]
struct CanonCalendar {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    years: Vec<i32>,
    holidays: Vec<String>,
    extra_working_days: Vec<String>,
}

#[derive(Serialize)]
struct CanonStage<'a> {
    id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct CanonStep<'a> {
    id: &'a str,
    stage: &'a str,
    name: &'a str,
    mandatory: bool,
    events: &'a [String],
    ordered: bool,
    roles: &'a [String],
    after: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    event_roles: &'a BTreeMap<String, Vec<String>>,
}

impl Procedure {
    /// The procedure in canonical form: TOML in the file format, which loads
    /// back into an equal procedure.
    pub fn canonical_toml(&self) -> String {
        let dates = |set: &BTreeSet<chrono::NaiveDate>| {
            set.iter()
                .map(|d| d.format("%Y-%m-%d").to_string())
                .collect()
        };
        let canon = Canon {
            kind: &self.kind,
            name: &self.name,
            description: &self.description,
            publicity_working_days: self.publicity_working_days,
            report_deadline_working_days: self.report_deadline_working_days,
            min_differential_ratio: self.min_differential_ratio,
            max_proxies_per_holder: self.max_proxies_per_holder,
            min_mobile_box_scrutineers: self.min_mobile_box_scrutineers,
            majority_basis: (self.majority_basis != crate::procedure::MajorityBasis::default())
                .then(|| self.majority_basis.as_str()),
            max_seats: self.max_seats,
            joint_review_departments: &self.joint_review_departments,
            invalidity_decided_by: self.invalidity_decided_by.as_deref(),
            required_checks: &self.required_checks,
            calendar: CanonCalendar {
                years: self.calendar.years.iter().copied().collect(),
                holidays: dates(&self.calendar.holidays),
                extra_working_days: dates(&self.calendar.extra_working_days),
            },
            structure: self.structure.as_ref(),
            composition: self.composition.as_ref(),
            roles: self
                .roles
                .iter()
                .map(|r| (r.id.as_str(), r.label.as_str()))
                .collect(),
            stages: self
                .stages
                .iter()
                .map(|s| CanonStage {
                    id: &s.id,
                    name: &s.name,
                })
                .collect(),
            steps: self
                .steps
                .iter()
                .map(|s| CanonStep {
                    id: &s.id,
                    stage: &s.stage,
                    name: &s.name,
                    mandatory: s.mandatory,
                    events: &s.events,
                    ordered: s.ordered,
                    roles: &s.roles,
                    after: &s.after,
                    source: s.source.as_deref(),
                    event_roles: &s.event_roles,
                })
                .collect(),
            permissions: &self.permissions,
            overrides: self
                .overrides
                .iter()
                .map(|(rule, roles)| (rule.as_str(), roles.as_slice()))
                .collect(),
        };
        // Every field is a string, number, bool, list or map of those, which
        // TOML can always write; an empty text keeps the function total and
        // would fail to load, so it could never pass for a procedure.
        toml::to_string(&canon).unwrap_or_default()
    }

    /// BLAKE3 (hex) of [`Procedure::canonical_toml`]: the procedure's identity
    /// in the record.
    pub fn digest(&self) -> String {
        digest_of(&self.canonical_toml())
    }
}

/// BLAKE3 (hex) of a canonical text.
pub fn digest_of(canonical: &str) -> String {
    blake3::hash(canonical.as_bytes()).to_hex().to_string()
}

/// The event `decide` writes right after `election.opened`: the procedure the
/// opening was decided under.
pub(crate) fn adopted(procedure: &Procedure) -> EventBody {
    let content = procedure.canonical_toml();
    EventBody::ProcedureAdopted(ProcedureAdopted {
        kind: procedure.kind.clone(),
        digest: digest_of(&content),
        content,
    })
}

/// The body `decide` records for an act: the command's, except that an
/// amendment's content is loaded, checked and stored canonical with its
/// digest. A content that does not load, or that changes the kind of the
/// election, is refused: no rule could make it meaningful.
pub(crate) fn act_body(state: &ElectionState, body: &EventBody) -> Result<EventBody, Refusal> {
    let EventBody::ProcedureAmended(b) = body else {
        return Ok(body.clone());
    };
    let invalid = |field: &str, reason: String| Refusal::Invalid {
        field: field.into(),
        reason,
    };
    if b.reason.trim().is_empty() {
        return Err(invalid(
            "reason",
            "must say why the procedure changes".into(),
        ));
    }
    let new = Procedure::from_toml_str(&b.content, "<procedure.amended content>")
        .map_err(|e| invalid("content", e.to_string()))?;
    if let Some(opened) = &state.opened {
        if opened.kind != new.kind {
            return Err(invalid(
                "content",
                format!(
                    "the procedure is of kind {:?}, but the election is {:?}; the kind cannot change",
                    new.kind, opened.kind
                ),
            ));
        }
    }
    let content = new.canonical_toml();
    let digest = digest_of(&content);
    if let Some(given) = &b.digest {
        if *given != digest {
            return Err(invalid(
                "digest",
                format!("{given} given, but the content's canonical digest is {digest}"),
            ));
        }
    }
    Ok(EventBody::ProcedureAmended(ProcedureAmended {
        content,
        reason: b.reason.clone(),
        digest: Some(digest),
    }))
}

/// What `new` changes against `old`, one line per difference, most
/// consequential first (steps, checks and permissions before labels).
pub fn differences(old: &Procedure, new: &Procedure) -> Vec<String> {
    let mut out = Vec::new();
    if old.kind != new.kind {
        out.push(format!("kind {:?} → {:?}", old.kind, new.kind));
    }
    let ids =
        |p: &Procedure| -> BTreeSet<String> { p.steps.iter().map(|s| s.id.clone()).collect() };
    let (old_ids, new_ids) = (ids(old), ids(new));
    for id in old_ids.difference(&new_ids) {
        out.push(format!("step `{id}` removed"));
    }
    for id in new_ids.difference(&old_ids) {
        out.push(format!("step `{id}` added"));
    }
    for s in &old.steps {
        let Some(n) = new.steps.iter().find(|n| n.id == s.id) else {
            continue;
        };
        let (a, b): (BTreeSet<&String>, BTreeSet<&String>) =
            (s.events.iter().collect(), n.events.iter().collect());
        for e in a.difference(&b) {
            out.push(format!("step `{}`: event {e} removed", s.id));
        }
        for e in b.difference(&a) {
            out.push(format!("step `{}`: event {e} added", s.id));
        }
        if s.mandatory != n.mandatory {
            out.push(format!(
                "step `{}`: {}",
                s.id,
                if n.mandatory {
                    "now mandatory"
                } else {
                    "no longer mandatory"
                }
            ));
        }
        if s.after != n.after {
            out.push(format!(
                "step `{}`: after [{}] → [{}]",
                s.id,
                s.after.join(", "),
                n.after.join(", ")
            ));
        }
        if s.roles != n.roles || s.event_roles != n.event_roles {
            out.push(format!("step `{}`: roles changed", s.id));
        }
        if s.ordered != n.ordered || s.stage != n.stage || s.name != n.name {
            out.push(format!("step `{}`: order, stage or name changed", s.id));
        }
    }
    if old.joint_review_departments != new.joint_review_departments {
        out.push("joint review departments changed (joint_review_departments)".into());
    }
    if old.structure_rules() != new.structure_rules() {
        out.push("structure checks changed ([structure])".into());
    }
    let (a, b): (BTreeSet<&String>, BTreeSet<&String>) = (
        old.required_checks.iter().collect(),
        new.required_checks.iter().collect(),
    );
    for c in a.difference(&b) {
        out.push(format!("required check {c} removed (R2)"));
    }
    for c in b.difference(&a) {
        out.push(format!("required check {c} added (R2)"));
    }
    let numbers = [
        (
            "publicity_working_days (R5)",
            old.publicity_working_days.to_string(),
            new.publicity_working_days.to_string(),
        ),
        (
            "report_deadline_working_days (R4)",
            old.report_deadline_working_days.to_string(),
            new.report_deadline_working_days.to_string(),
        ),
        (
            "min_differential_ratio (R6)",
            old.min_differential_ratio.to_string(),
            new.min_differential_ratio.to_string(),
        ),
        (
            "max_proxies_per_holder (R7)",
            old.max_proxies_per_holder.to_string(),
            new.max_proxies_per_holder.to_string(),
        ),
        (
            "min_mobile_box_scrutineers (R8)",
            old.min_mobile_box_scrutineers.to_string(),
            new.min_mobile_box_scrutineers.to_string(),
        ),
        (
            "max_seats",
            format!("{:?}", old.max_seats),
            format!("{:?}", new.max_seats),
        ),
        (
            "invalidity_decided_by",
            format!("{:?}", old.invalidity_decided_by),
            format!("{:?}", new.invalidity_decided_by),
        ),
        (
            "majority_basis (R13)",
            old.majority_basis.as_str().to_string(),
            new.majority_basis.as_str().to_string(),
        ),
    ];
    for (name, a, b) in numbers {
        if a != b {
            out.push(format!("{name}: {a} → {b}"));
        }
    }
    if old.permissions != new.permissions {
        out.push("[permissions] changed".into());
    }
    if old.overrides != new.overrides {
        out.push("[overrides] changed".into());
    }
    if old.roles != new.roles {
        out.push("[roles] changed".into());
    }
    if old.calendar != new.calendar {
        out.push("[calendar] changed".into());
    }
    if old.stages != new.stages {
        out.push("[[stages]] changed".into());
    }
    if out.is_empty() && (old.name != new.name || old.description != new.description) {
        out.push("name or description changed".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_loads_back_from_its_canonical_text_with_the_same_digest() {
        for p in Procedure::builtins().unwrap() {
            let text = p.canonical_toml();
            let again = Procedure::from_toml_str(&text, "<canonical>")
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", p.kind));
            assert_eq!(again, p, "{}", p.kind);
            assert_eq!(again.canonical_toml(), text);
            assert_eq!(again.digest(), p.digest());
            assert!(differences(&p, &again).is_empty());
        }
    }

    #[test]
    fn a_comment_does_not_change_the_digest_but_a_removed_check_does() {
        let (_, text) = crate::procedure::BUILTIN[0];
        let p = Procedure::from_toml_str(text, "a").unwrap();
        let commented = Procedure::from_toml_str(&format!("# note\n{text}"), "b").unwrap();
        assert_eq!(p.digest(), commented.digest());
        let weaker =
            Procedure::from_toml_str(&text.replace("  \"check.archive_reviewed\",\n", ""), "c")
                .unwrap();
        assert_ne!(p.digest(), weaker.digest());
        let diff = differences(&p, &weaker);
        assert!(
            diff.iter()
                .any(|d| d == "required check check.archive_reviewed removed (R2)"),
            "{diff:?}"
        );
    }
}
