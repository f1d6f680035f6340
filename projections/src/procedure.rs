//! The selection procedure as data: one TOML definition per election kind.
//!
//! The documents require "4个阶段13个环节" (000) but never list them, and the kinds
//! of election differ, so the procedure cannot be code. A definition is checked
//! completely when it is loaded — unknown step or event type, a cycle, a step with
//! no role, a contradiction — and the error names the line, because the person who
//! fixes it is an organisation-department clerk with a text editor, not a Rust
//! programmer. The schema is documented field by field in `projections/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use serde::Deserialize;
use toml::Spanned;

use crate::calendar::WorkCalendar;
use crate::events::{kind_of, Scope};
use crate::rules::RuleId;

/// The procedures shipped with the binary: (file name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "township_party_committee.toml",
        include_str!("../procedures/township_party_committee.toml"),
    ),
    (
        "village_two_committees.toml",
        include_str!("../procedures/village_two_committees.toml"),
    ),
    (
        "county_township_congress.toml",
        include_str!("../procedures/county_township_congress.toml"),
    ),
    (
        "party_representative.toml",
        include_str!("../procedures/party_representative.toml"),
    ),
    (
        "cppcc_members.toml",
        include_str!("../procedures/cppcc_members.toml"),
    ),
];

/// The four checks of 凡提四必, by event type. `required_checks` must be a subset.
pub const FOUR_CHECKS: [&str; 4] = [
    "check.archive_reviewed",
    "check.personal_matters_verified",
    "check.discipline_opinion",
    "check.petitions_swept",
];

/// A procedure file could not be accepted. `line` is 1-based; `origin` is the file
/// name or `<builtin …>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}:{line}: {reason}")]
pub struct ProcedureError {
    pub origin: String,
    pub line: usize,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    pub id: String,
    pub name: String,
}

/// One step (环节): the event types that make it up, who may record them and what
/// must be complete before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    pub stage: String,
    pub name: String,
    pub mandatory: bool,
    /// Event types of the step. The step is complete when each has been recorded.
    pub events: Vec<String>,
    /// Whether the events must come in the listed order (false for the four checks,
    /// which may be done in any order).
    pub ordered: bool,
    pub roles: Vec<String>,
    /// Narrower roles for single events of the step (e.g. only the discipline organ
    /// gives the discipline opinion within the four checks).
    pub event_roles: BTreeMap<String, Vec<String>>,
    /// Direct predecessors as written (or defaulted to the previous mandatory step).
    pub after: Vec<String>,
    /// Election-level or per candidate; all events of a step share it.
    pub scope: Scope,
    /// Where the step comes from in the documents.
    pub source: Option<String>,
}

/// What a winner's votes must be more than half of (R13, D21): those entitled
/// to vote (应到, the party's rule) or the ballots returned (实到 / 参加投票,
/// the village and people's congress rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MajorityBasis {
    Electors,
    #[default]
    BallotsReturned,
}

impl MajorityBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            MajorityBasis::Electors => "electors",
            MajorityBasis::BallotsReturned => "ballots_returned",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MajorityBasis::Electors => "应到人数 those entitled to vote",
            MajorityBasis::BallotsReturned => "参加投票人数 ballots returned",
        }
    }
}

/// A loaded, validated procedure.
#[derive(Debug, Clone, PartialEq)]
pub struct Procedure {
    pub kind: String,
    pub name: String,
    pub description: String,
    /// R5: length of publicity in working days.
    pub publicity_working_days: u32,
    /// R4: working days within which a report's result is due.
    pub report_deadline_working_days: u32,
    /// R6: minimum (candidates − seats) / seats.
    pub min_differential_ratio: f64,
    /// R7: most proxies one holder may carry.
    pub max_proxies_per_holder: u32,
    /// R8: fewest scrutineers per mobile ballot box.
    pub min_mobile_box_scrutineers: u32,
    /// R13: what a winner's votes must be more than half of.
    pub majority_basis: MajorityBasis,
    /// Most seats one election unit may have (人大: 002 "每一选区选1至3名代表"), D23.
    pub max_seats: Option<u32>,
    /// The departments whose verdicts a joint review (联审) must each give
    /// once (004 "17个部门区级联审机制", D27); empty: any departments.
    pub joint_review_departments: Vec<String>,
    /// Where a qualification review only proposes invalidity, the role that
    /// decides it by recording `candidate.election_voided` (人大: 002
    /// "由县人大会、乡镇人大主席团确定"). `None`: the review's `invalid` ends the
    /// seat itself (D23).
    pub invalidity_decided_by: Option<String>,
    /// R2: the checks that must be recorded and clean before decision and candidacy.
    pub required_checks: Vec<String>,
    pub calendar: WorkCalendar,
    /// The structure checks of this kind (`[structure]`, D23); `None` in a
    /// file without the table.
    pub structure: Option<crate::views::StructureRules>,
    /// The congress's composition quotas (`[composition]`, decision 36),
    /// checked over the elected of all its units together; `None` in a file
    /// without the table, and then no quota is checked.
    pub composition: Option<crate::views::composition::CompositionRules>,
    pub roles: Vec<Role>,
    pub stages: Vec<Stage>,
    pub steps: Vec<Step>,
    /// Who may record events that belong to no step (petitions, conflicts, …).
    pub permissions: BTreeMap<String, Vec<String>>,
    /// Which roles may override which rule; a rule absent here cannot be overridden.
    pub overrides: BTreeMap<RuleId, Vec<String>>,
    step_of_event: BTreeMap<String, usize>,
    /// Per step: the mandatory steps that must be complete first, looking through
    /// optional predecessors.
    required: Vec<Vec<usize>>,
}

// ---------------------------------------------------------------------------
// The raw file, with spans for everything an error may need to point at.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProcedure {
    kind: Spanned<String>,
    name: String,
    #[serde(default)]
    description: String,
    publicity_working_days: Spanned<u32>,
    report_deadline_working_days: Spanned<u32>,
    min_differential_ratio: Spanned<f64>,
    max_proxies_per_holder: Spanned<u32>,
    min_mobile_box_scrutineers: Spanned<u32>,
    #[serde(default)]
    majority_basis: Option<Spanned<String>>,
    #[serde(default)]
    max_seats: Option<Spanned<u32>>,
    #[serde(default)]
    joint_review_departments: Vec<Spanned<String>>,
    #[serde(default)]
    invalidity_decided_by: Option<Spanned<String>>,
    #[serde(default)]
    required_checks: Vec<Spanned<String>>,
    #[serde(default)]
    calendar: RawCalendar,
    #[serde(default)]
    structure: Option<Spanned<crate::views::StructureRules>>,
    // Not `Spanned`: the canonical text writes the table as dotted headers
    // (`[composition.min_share]`), which `Spanned` cannot read; an error
    // points at the table's first header instead.
    #[serde(default)]
    composition: Option<crate::views::composition::CompositionRules>,
    roles: BTreeMap<Spanned<String>, Spanned<String>>,
    stages: Vec<RawStage>,
    steps: Vec<RawStep>,
    #[serde(default)]
    permissions: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    #[serde(default)]
    overrides: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    #[serde(default)]
    holidays: Vec<Spanned<String>>,
    #[serde(default)]
    extra_working_days: Vec<Spanned<String>>,
    #[serde(default)]
    years: Vec<Spanned<i32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    id: Spanned<String>,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStep {
    id: Spanned<String>,
    stage: Spanned<String>,
    name: String,
    #[serde(default = "yes")]
    mandatory: bool,
    #[serde(default)]
    events: Vec<Spanned<String>>,
    #[serde(default = "yes")]
    ordered: bool,
    #[serde(default)]
    roles: Vec<Spanned<String>>,
    #[serde(default)]
    event_roles: BTreeMap<Spanned<String>, Vec<Spanned<String>>>,
    after: Option<Vec<Spanned<String>>>,
    source: Option<String>,
}

fn yes() -> bool {
    true
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// What a TOML error says, never empty: for a file cut short after `key =`
/// the parser's own message is blank (found by tests/fuzz_parsers.rs), and
/// an error that names a line but no reason tells the user nothing.
fn toml_reason(e: &toml::de::Error) -> String {
    let message = e.message().trim();
    if message.is_empty() {
        "incomplete TOML: a value or closing bracket is missing (is the file cut short?)".into()
    } else {
        message.to_string()
    }
}

struct Ctx<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Ctx<'_> {
    fn err<T>(
        &self,
        span: std::ops::Range<usize>,
        reason: impl Into<String>,
    ) -> Result<T, ProcedureError> {
        Err(ProcedureError {
            origin: self.origin.to_string(),
            line: line_of(self.text, span.start),
            reason: reason.into(),
        })
    }
}

impl Procedure {
    /// Parses and validates a procedure definition. `origin` names it in errors.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Procedure, ProcedureError> {
        let ctx = Ctx { text, origin };
        let raw: RawProcedure = toml::from_str(text).map_err(|e| ProcedureError {
            origin: origin.to_string(),
            line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
            reason: toml_reason(&e),
        })?;
        validate(&ctx, raw)
    }

    /// A recorded procedure's text loaded, with its digest, parsed once per
    /// process for each distinct text (D119): every election of a district
    /// records the same procedure, and replaying each one (compliance, kept
    /// for the server's list, D118) spent most of its time parsing that
    /// TOML and serialising it again for the digest. A text that does not
    /// load is not kept, so its error names `origin` each time.
    pub fn load_with_digest(
        text: &str,
        origin: &str,
    ) -> Result<(Procedure, String), ProcedureError> {
        use std::collections::HashMap;
        use std::sync::{Mutex, OnceLock};
        /// Distinct texts kept; past it the cache starts again (a ledger
        /// has a handful of procedures, a fuzzer many).
        const KEPT: usize = 64;
        static LOADED: OnceLock<Mutex<HashMap<String, (Procedure, String)>>> = OnceLock::new();
        let cache = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(hit) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(text) {
            return Ok(hit.clone());
        }
        let p = Procedure::from_toml_str(text, origin)?;
        let digest = p.digest();
        let mut kept = cache.lock().unwrap_or_else(|p| p.into_inner());
        if kept.len() >= KEPT {
            kept.clear();
        }
        kept.insert(text.to_string(), (p.clone(), digest.clone()));
        Ok((p, digest))
    }

    /// A procedure shipped with the binary, by kind.
    pub fn builtin(kind: &str) -> Result<Procedure, ProcedureError> {
        let all = Procedure::parsed_builtins()
            .as_ref()
            .map_err(Clone::clone)?;
        if let Some(p) = all.iter().find(|p| p.kind == kind) {
            return Ok(p.clone());
        }
        Err(ProcedureError {
            origin: "<builtin>".into(),
            line: 0,
            reason: format!(
                "no built-in procedure of kind {kind:?}; known: {}",
                Procedure::builtins()?
                    .iter()
                    .map(|p| p.kind.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// All procedures shipped with the binary, parsed once per process
    /// (D119): `builtin` is asked for on every replay and every opening.
    pub fn builtins() -> Result<Vec<Procedure>, ProcedureError> {
        Procedure::parsed_builtins().clone()
    }

    fn parsed_builtins() -> &'static Result<Vec<Procedure>, ProcedureError> {
        static PARSED: std::sync::OnceLock<Result<Vec<Procedure>, ProcedureError>> =
            std::sync::OnceLock::new();
        PARSED.get_or_init(|| {
            BUILTIN
                .iter()
                .map(|(file, text)| Procedure::from_toml_str(text, &format!("<builtin {file}>")))
                .collect()
        })
    }

    /// The step an event type belongs to, if any. Events outside every step
    /// (petitions, conflicts, corrections, …) may be recorded at any time by the
    /// roles in `permissions`.
    pub fn step_of(&self, event_type: &str) -> Option<&Step> {
        self.step_of_event.get(event_type).map(|&i| &self.steps[i])
    }

    pub(crate) fn step_index(&self, event_type: &str) -> Option<usize> {
        self.step_of_event.get(event_type).copied()
    }

    /// The mandatory steps that must be complete before step `index`.
    pub(crate) fn required_before(&self, index: usize) -> &[usize] {
        self.required.get(index).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Roles that may record an event type: its step's roles, or its permission.
    pub fn roles_for(&self, event_type: &str) -> &[String] {
        if let Some(step) = self.step_of(event_type) {
            return step
                .event_roles
                .get(event_type)
                .map(Vec::as_slice)
                .unwrap_or(&step.roles);
        }
        self.permissions
            .get(event_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The structure checks in force for this procedure (D23): its
    /// `[structure]`, or for a file without one (a procedure recorded before
    /// the table existed) the township rules for the township kind and none
    /// for any other, so that a village or a constituency is never held to
    /// the township's.
    pub fn structure_rules(&self) -> crate::views::StructureRules {
        match &self.structure {
            Some(s) => s.clone(),
            None if self.kind == "township_party_committee" => {
                crate::views::StructureRules::township()
            }
            None => crate::views::StructureRules::default(),
        }
    }

    /// Roles that may override a rule.
    pub fn override_roles(&self, rule: RuleId) -> &[String] {
        self.overrides.get(&rule).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn role_label(&self, id: &str) -> Option<&str> {
        self.roles
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.label.as_str())
    }
}

fn validate(ctx: &Ctx<'_>, raw: RawProcedure) -> Result<Procedure, ProcedureError> {
    if raw.kind.get_ref().trim().is_empty() {
        return ctx.err(raw.kind.span(), "`kind` must not be empty");
    }
    if *raw.publicity_working_days.get_ref() == 0 {
        return ctx.err(
            raw.publicity_working_days.span(),
            "`publicity_working_days` must be at least 1 (R5)",
        );
    }
    if *raw.report_deadline_working_days.get_ref() == 0 {
        return ctx.err(
            raw.report_deadline_working_days.span(),
            "`report_deadline_working_days` must be at least 1 (R4)",
        );
    }
    let ratio = *raw.min_differential_ratio.get_ref();
    if !ratio.is_finite() || !(0.0..=10.0).contains(&ratio) {
        return ctx.err(
            raw.min_differential_ratio.span(),
            format!("`min_differential_ratio` must be between 0 and 10, not {ratio} (R6)"),
        );
    }
    if *raw.min_mobile_box_scrutineers.get_ref() == 0 {
        return ctx.err(
            raw.min_mobile_box_scrutineers.span(),
            "`min_mobile_box_scrutineers` must be at least 1 (R8)",
        );
    }

    let majority_basis = match &raw.majority_basis {
        None => MajorityBasis::default(),
        Some(m) => match m.get_ref().as_str() {
            "electors" => MajorityBasis::Electors,
            "ballots_returned" => MajorityBasis::BallotsReturned,
            other => {
                return ctx.err(
                    m.span(),
                    format!(
                        "`majority_basis` must be \"electors\" (应到) or \"ballots_returned\" (实到), not {other:?} (R13)"
                    ),
                )
            }
        },
    };

    let mut joint_review_departments: Vec<String> = Vec::new();
    for d in &raw.joint_review_departments {
        if d.get_ref().trim().is_empty() || joint_review_departments.contains(d.get_ref()) {
            return ctx.err(
                d.span(),
                format!(
                    "`joint_review_departments`: {:?} is blank or listed twice",
                    d.get_ref()
                ),
            );
        }
        joint_review_departments.push(d.get_ref().clone());
    }
    if let Some(m) = &raw.max_seats {
        if *m.get_ref() == 0 {
            return ctx.err(m.span(), "`max_seats` must be at least 1");
        }
    }
    if let Some(st) = &raw.structure {
        if let Some(problem) = st.get_ref().problem() {
            return ctx.err(st.span(), format!("[structure]: {problem}"));
        }
    }
    if let Some(c) = &raw.composition {
        if let Some(problem) = c.problem() {
            let at = ctx.text.find("[composition").unwrap_or(0);
            return ctx.err(at..at, format!("[composition]: {problem}"));
        }
    }

    // Calendar.
    let mut calendar = WorkCalendar::default();
    for (list, target) in [
        (&raw.calendar.holidays, &mut calendar.holidays),
        (
            &raw.calendar.extra_working_days,
            &mut calendar.extra_working_days,
        ),
    ] {
        for d in list {
            match NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d") {
                Ok(day) => {
                    target.insert(day);
                }
                Err(e) => {
                    return ctx.err(
                        d.span(),
                        format!("date {:?} is not YYYY-MM-DD: {e}", d.get_ref()),
                    )
                }
            }
        }
    }
    for y in &raw.calendar.years {
        if !(1949..=2100).contains(y.get_ref()) || !calendar.years.insert(*y.get_ref()) {
            return ctx.err(
                y.span(),
                format!(
                    "[calendar] years: {} is out of range or listed twice",
                    y.get_ref()
                ),
            );
        }
    }
    if !calendar.years.is_empty() {
        for d in raw
            .calendar
            .holidays
            .iter()
            .chain(&raw.calendar.extra_working_days)
        {
            let day = NaiveDate::parse_from_str(d.get_ref(), "%Y-%m-%d");
            if let Ok(day) = day {
                if !calendar.years.contains(&chrono::Datelike::year(&day)) {
                    return ctx.err(
                        d.span(),
                        format!(
                            "{day} lies outside the calendar's `years` ({})",
                            calendar.covered()
                        ),
                    );
                }
            }
        }
    }
    if let Some(both) = calendar
        .holidays
        .intersection(&calendar.extra_working_days)
        .next()
    {
        let span = raw
            .calendar
            .extra_working_days
            .iter()
            .find(|d| d.get_ref() == &both.format("%Y-%m-%d").to_string())
            .map(|d| d.span())
            .unwrap_or(0..0);
        return ctx.err(
            span,
            format!("{both} is listed both as a holiday and as a working day"),
        );
    }

    // Roles.
    let mut roles = Vec::new();
    for (id, label) in &raw.roles {
        if label.get_ref().trim().is_empty() {
            return ctx.err(
                label.span(),
                format!("role `{}` has an empty label", id.get_ref()),
            );
        }
        roles.push(Role {
            id: id.get_ref().clone(),
            label: label.get_ref().clone(),
        });
    }
    let role_ids: BTreeSet<&str> = raw.roles.keys().map(|k| k.get_ref().as_str()).collect();
    let check_roles =
        |list: &[Spanned<String>], what: &str| -> Result<Vec<String>, ProcedureError> {
            let mut out = Vec::new();
            for r in list {
                if !role_ids.contains(r.get_ref().as_str()) {
                    return ctx.err(
                        r.span(),
                        format!(
                            "{what}: unknown role `{}` (define it under [roles])",
                            r.get_ref()
                        ),
                    );
                }
                out.push(r.get_ref().clone());
            }
            Ok(out)
        };

    // Stages.
    let mut stages = Vec::new();
    let mut stage_pos = BTreeMap::new();
    for s in &raw.stages {
        if stage_pos
            .insert(s.id.get_ref().clone(), stages.len())
            .is_some()
        {
            return ctx.err(
                s.id.span(),
                format!("stage `{}` is defined twice", s.id.get_ref()),
            );
        }
        stages.push(Stage {
            id: s.id.get_ref().clone(),
            name: s.name.clone(),
        });
    }
    if stages.is_empty() {
        return ctx.err(0..0, "the procedure has no [[stages]]");
    }

    // Steps: identity, stage, events, roles.
    let mut steps: Vec<Step> = Vec::new();
    let mut step_pos: BTreeMap<String, usize> = BTreeMap::new();
    let mut step_of_event: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_stage = 0;
    for raw_step in &raw.steps {
        let id = raw_step.id.get_ref();
        if step_pos.contains_key(id) {
            return ctx.err(raw_step.id.span(), format!("step `{id}` is defined twice"));
        }
        let Some(&stage_index) = stage_pos.get(raw_step.stage.get_ref()) else {
            return ctx.err(
                raw_step.stage.span(),
                format!("step `{id}`: unknown stage `{}`", raw_step.stage.get_ref()),
            );
        };
        if stage_index < last_stage {
            return ctx.err(
                raw_step.stage.span(),
                format!(
                    "step `{id}` is in stage `{}` but follows a step of the later stage `{}`: steps must be listed stage by stage",
                    raw_step.stage.get_ref(),
                    stages[last_stage].id
                ),
            );
        }
        last_stage = stage_index;
        if raw_step.events.is_empty() {
            return ctx.err(raw_step.id.span(), format!("step `{id}` has no event type"));
        }
        let mut scope = None;
        let mut events = Vec::new();
        for ev in &raw_step.events {
            let Some(kind) = kind_of(ev.get_ref()) else {
                return ctx.err(
                    ev.span(),
                    format!("step `{id}`: unknown event type `{}`", ev.get_ref()),
                );
            };
            if !kind.recordable || kind.scope == Scope::Either {
                return ctx.err(
                    ev.span(),
                    format!("step `{id}`: `{}` cannot be part of a step", ev.get_ref()),
                );
            }
            if let Some(other) = step_of_event.get(ev.get_ref()) {
                return ctx.err(
                    ev.span(),
                    format!(
                        "step `{id}`: event type `{}` already belongs to step `{}`",
                        ev.get_ref(),
                        steps[*other].id
                    ),
                );
            }
            match scope {
                None => scope = Some(kind.scope),
                Some(s) if s != kind.scope => {
                    return ctx.err(
                        ev.span(),
                        format!(
                            "step `{id}` mixes election-level and candidate-level events (`{}` is {}-level)",
                            ev.get_ref(),
                            kind.scope.as_str()
                        ),
                    )
                }
                Some(_) => {}
            }
            step_of_event.insert(ev.get_ref().clone(), steps.len());
            events.push(ev.get_ref().clone());
        }
        if raw_step.roles.is_empty() {
            return ctx.err(
                raw_step.id.span(),
                format!("step `{id}` has no role that may record it"),
            );
        }
        let roles = check_roles(&raw_step.roles, &format!("step `{id}`"))?;
        let mut event_roles = BTreeMap::new();
        for (ev, list) in &raw_step.event_roles {
            if !events.contains(ev.get_ref()) {
                return ctx.err(
                    ev.span(),
                    format!("step `{id}`: `event_roles` names `{}`, which is not one of the step's events", ev.get_ref()),
                );
            }
            if list.is_empty() {
                return ctx.err(
                    ev.span(),
                    format!("step `{id}`: `{}` has no role", ev.get_ref()),
                );
            }
            event_roles.insert(
                ev.get_ref().clone(),
                check_roles(list, &format!("step `{id}`"))?,
            );
        }
        step_pos.insert(id.clone(), steps.len());
        steps.push(Step {
            id: id.clone(),
            stage: raw_step.stage.get_ref().clone(),
            name: raw_step.name.clone(),
            mandatory: raw_step.mandatory,
            events,
            ordered: raw_step.ordered,
            roles,
            event_roles,
            after: Vec::new(),
            scope: scope.unwrap_or(Scope::Candidate),
            source: raw_step.source.clone(),
        });
    }
    if steps.is_empty() {
        return ctx.err(0..0, "the procedure has no [[steps]]");
    }
    if !step_of_event.contains_key("election.opened") {
        return ctx.err(
            0..0,
            "no step records `election.opened`, so no election could begin",
        );
    }

    // Predecessors: explicit `after`, or the previous mandatory step.
    let mut after_spans: Vec<Vec<std::ops::Range<usize>>> = Vec::new();
    let mut preds: Vec<Vec<usize>> = Vec::new();
    for (i, raw_step) in raw.steps.iter().enumerate() {
        let mut p = Vec::new();
        let mut spans = Vec::new();
        match &raw_step.after {
            Some(list) => {
                for a in list {
                    let Some(&j) = step_pos.get(a.get_ref()) else {
                        return ctx.err(
                            a.span(),
                            format!(
                                "step `{}`: `after` names unknown step `{}`",
                                steps[i].id,
                                a.get_ref()
                            ),
                        );
                    };
                    if j == i {
                        return ctx.err(
                            a.span(),
                            format!("step `{}` cannot come after itself", steps[i].id),
                        );
                    }
                    p.push(j);
                    spans.push(a.span());
                }
            }
            None => {
                if let Some(j) = (0..i).rev().find(|&j| steps[j].mandatory) {
                    p.push(j);
                    spans.push(raw_step.id.span());
                }
            }
        }
        steps[i].after = p.iter().map(|&j| steps[j].id.clone()).collect();
        preds.push(p);
        after_spans.push(spans);
    }
    if let Some((i, k)) = find_cycle(&preds) {
        return ctx.err(
            after_spans[i][k].clone(),
            format!(
                "cycle: step `{}` comes after `{}`, which (directly or not) comes after `{}`",
                steps[i].id, steps[preds[i][k]].id, steps[i].id
            ),
        );
    }
    let opened = step_of_event["election.opened"];
    if !preds[opened].is_empty() {
        return ctx.err(
            0..0,
            "the step recording `election.opened` must have no predecessor",
        );
    }
    let mut required = Vec::new();
    for i in 0..steps.len() {
        let mut out = BTreeSet::new();
        collect_required(i, &preds, &steps, &mut out, &mut BTreeSet::new());
        required.push(out.into_iter().collect());
    }

    // Required checks (R2).
    let mut required_checks = Vec::new();
    for c in &raw.required_checks {
        if !FOUR_CHECKS.contains(&c.get_ref().as_str()) {
            return ctx.err(
                c.span(),
                format!(
                    "`required_checks`: `{}` is not one of the four checks {:?}",
                    c.get_ref(),
                    FOUR_CHECKS
                ),
            );
        }
        if !step_of_event.contains_key(c.get_ref()) {
            return ctx.err(
                c.span(),
                format!(
                    "`required_checks`: `{}` is required but no step records it",
                    c.get_ref()
                ),
            );
        }
        required_checks.push(c.get_ref().clone());
    }

    // Permissions for events outside the steps.
    let mut permissions = BTreeMap::new();
    for (ev, list) in &raw.permissions {
        let Some(kind) = kind_of(ev.get_ref()) else {
            return ctx.err(
                ev.span(),
                format!("[permissions]: unknown event type `{}`", ev.get_ref()),
            );
        };
        if !kind.recordable {
            return ctx.err(
                ev.span(),
                format!(
                    "[permissions]: `{}` is emitted by decide, not recorded",
                    ev.get_ref()
                ),
            );
        }
        if let Some(&s) = step_of_event.get(ev.get_ref()) {
            return ctx.err(
                ev.span(),
                format!(
                    "[permissions]: `{}` belongs to step `{}`; give its roles there",
                    ev.get_ref(),
                    steps[s].id
                ),
            );
        }
        if list.is_empty() {
            return ctx.err(
                ev.span(),
                format!("[permissions]: `{}` has no role", ev.get_ref()),
            );
        }
        permissions.insert(ev.get_ref().clone(), check_roles(list, "[permissions]")?);
    }

    // Overrides.
    let mut overrides = BTreeMap::new();
    for (rule, list) in &raw.overrides {
        let id: RuleId = match rule.get_ref().parse() {
            Ok(id) => id,
            Err(e) => return ctx.err(rule.span(), format!("[overrides]: {e}")),
        };
        overrides.insert(id, check_roles(list, "[overrides]")?);
    }

    Ok(Procedure {
        kind: raw.kind.get_ref().clone(),
        name: raw.name,
        description: raw.description,
        publicity_working_days: *raw.publicity_working_days.get_ref(),
        report_deadline_working_days: *raw.report_deadline_working_days.get_ref(),
        min_differential_ratio: ratio,
        max_proxies_per_holder: *raw.max_proxies_per_holder.get_ref(),
        min_mobile_box_scrutineers: *raw.min_mobile_box_scrutineers.get_ref(),
        majority_basis,
        max_seats: raw.max_seats.as_ref().map(|m| *m.get_ref()),
        joint_review_departments,
        invalidity_decided_by: match &raw.invalidity_decided_by {
            None => None,
            Some(r) => {
                Some(check_roles(std::slice::from_ref(r), "`invalidity_decided_by`")?.remove(0))
            }
        },
        required_checks,
        calendar,
        structure: raw.structure.map(|s| s.into_inner()),
        composition: raw.composition,
        roles,
        stages,
        steps,
        permissions,
        overrides,
        step_of_event,
        required,
    })
}

/// Finds an edge (step, index into its predecessor list) that lies on a cycle.
fn find_cycle(preds: &[Vec<usize>]) -> Option<(usize, usize)> {
    // 0 = unvisited, 1 = on the DFS stack, 2 = done.
    fn visit(n: usize, preds: &[Vec<usize>], mark: &mut [u8]) -> Option<(usize, usize)> {
        mark[n] = 1;
        for (k, &p) in preds[n].iter().enumerate() {
            if mark[p] == 1 {
                return Some((n, k));
            }
            if mark[p] == 0 {
                if let Some(found) = visit(p, preds, mark) {
                    return Some(found);
                }
            }
        }
        mark[n] = 2;
        None
    }
    let mut mark = vec![0u8; preds.len()];
    for n in 0..preds.len() {
        if mark[n] == 0 {
            if let Some(found) = visit(n, preds, &mut mark) {
                return Some(found);
            }
        }
    }
    None
}

fn collect_required(
    i: usize,
    preds: &[Vec<usize>],
    steps: &[Step],
    out: &mut BTreeSet<usize>,
    seen: &mut BTreeSet<usize>,
) {
    for &p in &preds[i] {
        if !seen.insert(p) {
            continue;
        }
        if steps[p].mandatory {
            out.insert(p);
        } else {
            collect_required(p, preds, steps, out, seen);
        }
    }
}

impl fmt::Display for Procedure {
    /// The human form for `jishi procedure show`: stages, steps, who records them,
    /// what they wait for, and the periods and ratios in force.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} ({})", self.name, self.kind)?;
        if !self.description.is_empty() {
            writeln!(f, "{}", self.description)?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "公示期 publicity: {} working days (R5)",
            self.publicity_working_days
        )?;
        writeln!(
            f,
            "查核时限 report deadline: {} working days (R4)",
            self.report_deadline_working_days
        )?;
        writeln!(
            f,
            "差额比例 minimum differential ratio: {:.1}% and not below last term's (R6)",
            self.min_differential_ratio * 100.0
        )?;
        writeln!(
            f,
            "委托 proxies per holder: at most {} (R7); 流动票箱 scrutineers per box: at least {} (R8)",
            self.max_proxies_per_holder, self.min_mobile_box_scrutineers
        )?;
        writeln!(
            f,
            "当选 a winner needs more than half of: {} (R13)",
            self.majority_basis.label()
        )?;
        writeln!(
            f,
            "凡提四必 required before decision/candidacy: {} (R2)",
            if self.required_checks.is_empty() {
                "none".to_string()
            } else {
                self.required_checks.join(", ")
            }
        )?;
        let label = |r: &String| -> String {
            match self.role_label(r) {
                Some(l) => format!("{l}({r})"),
                None => r.clone(),
            }
        };
        let mut n = 0;
        for stage in &self.stages {
            writeln!(f)?;
            writeln!(f, "阶段 {} {}", stage.id, stage.name)?;
            for step in self.steps.iter().filter(|s| s.stage == stage.id) {
                n += 1;
                writeln!(
                    f,
                    "  {n:>2}. {} [{}] {}{}",
                    step.name,
                    step.id,
                    if step.mandatory {
                        "必经 mandatory"
                    } else {
                        "可选 optional"
                    },
                    if step.scope == Scope::Election {
                        ", per election"
                    } else {
                        ", per candidate"
                    },
                )?;
                writeln!(
                    f,
                    "      events: {}",
                    step.events.join(if step.ordered { " → " } else { " + " })
                )?;
                writeln!(
                    f,
                    "      roles:  {}",
                    step.roles.iter().map(label).collect::<Vec<_>>().join(", ")
                )?;
                for (ev, roles) in &step.event_roles {
                    writeln!(
                        f,
                        "        {ev} only by: {}",
                        roles.iter().map(label).collect::<Vec<_>>().join(", ")
                    )?;
                }
                if !step.after.is_empty() {
                    writeln!(f, "      after:  {}", step.after.join(", "))?;
                }
                if let Some(src) = &step.source {
                    writeln!(f, "      source: {src}")?;
                }
            }
        }
        if !self.permissions.is_empty() {
            writeln!(f)?;
            writeln!(f, "随时可记录 recordable at any time:")?;
            for (ev, roles) in &self.permissions {
                writeln!(
                    f,
                    "  {ev}: {}",
                    roles.iter().map(label).collect::<Vec<_>>().join(", ")
                )?;
            }
        }
        writeln!(f)?;
        writeln!(f, "越权记录 overrides:")?;
        for rule in RuleId::ALL {
            let roles = self.override_roles(rule);
            writeln!(
                f,
                "  {rule}: {}",
                if roles.is_empty() {
                    "not permitted".to_string()
                } else {
                    roles.iter().map(label).collect::<Vec<_>>().join(", ")
                }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_load_and_have_distinct_kinds() {
        let all = Procedure::builtins().unwrap();
        assert_eq!(all.len(), 5);
        let kinds: BTreeSet<_> = all.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(kinds.len(), 5);
        for p in &all {
            assert!(p.to_string().contains(&p.kind));
        }
    }

    #[test]
    fn township_default_has_four_stages_and_thirteen_steps() {
        let p = Procedure::builtin("township_party_committee").unwrap();
        assert_eq!(p.stages.len(), 4);
        assert_eq!(p.steps.len(), 13);
    }

    #[test]
    fn an_unknown_builtin_kind_is_an_error_naming_the_known_ones() {
        let err = Procedure::builtin("nope").unwrap_err();
        assert!(err.reason.contains("township_party_committee"), "{err}");
    }
}
