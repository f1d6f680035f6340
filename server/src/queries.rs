//! The reads the API and the pages share: each takes the signed-in user,
//! applies the policy (scope, redaction), records the read where the rules
//! say a read must be recorded, and returns typed values that the API turns
//! into JSON and the pages into HTML.

use std::borrow::Cow;
use std::sync::Arc;

use jishi_app::access::{self, AccessEntry, AccessRecord, View};
use jishi_app::users::User;
use jishi_app::views::{occurred_by, procedure_of, resolve_as_of, OccurredCut};
use jishi_ledger::attest::KeyRegistry;
use jishi_ledger::StoredCheckpoint;
use jishi_projections::views::{
    self, redact_accountability, redact_report, redact_trail, Accountability, CandidateRow,
    ComplianceReport, ElectionProjection, Entry, TeamStats, Trail,
};
use jishi_projections::{fold, Sensitivity};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::policy;
use crate::state::{election_org, AppState, Verified};

/// The one answer for an election that does not exist or that the user may
/// not read (D53): the same status and bytes either way, naming no
/// organisation.
pub fn no_election(election_id: &str) -> ApiError {
    ApiError::NotFound(format!("election {election_id:?}: not found"))
}

/// One line of the list of elections.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionSummary {
    pub election_id: String,
    pub unit_name: String,
    pub unit_org: String,
    pub kind: String,
    pub body: String,
    pub candidates: usize,
    pub events: usize,
    pub last_position: u64,
    /// Compliance findings today; `None` when the procedure is unknown.
    pub findings: Option<usize>,
    /// Whether the vote was held: before it, no findings means little
    /// ("no findings yet", not a green tick).
    pub concluded: bool,
}

/// One election's line of the list. Its findings are the compliance kept
/// with the projection (D118), current after every catch-up, so that the
/// list reads kept reports instead of replaying every election in scope on
/// every request.
pub fn summary(id: &str, e: &ElectionProjection) -> ElectionSummary {
    let opened = e.state.opened.as_ref();
    ElectionSummary {
        election_id: id.to_string(),
        unit_name: opened.map(|o| o.unit_name.clone()).unwrap_or_default(),
        unit_org: election_org(e),
        kind: opened.map(|o| o.kind.clone()).unwrap_or_default(),
        body: opened.map(|o| o.body.clone()).unwrap_or_default(),
        candidates: e.state.candidates.len(),
        events: e.entries.len(),
        last_position: e.entries.last().map_or(0, |x| x.position),
        findings: e.compliance().map(|r| r.findings.len()),
        concluded: !e.state.votes.is_empty(),
    }
}

/// The lines of the elections of `elections` that `user` may read, in the
/// order given: the list `GET /api/elections` answers with.
pub fn summaries<'a>(
    user: &User,
    elections: impl IntoIterator<Item = (&'a String, &'a ElectionProjection)>,
) -> Vec<ElectionSummary> {
    elections
        .into_iter()
        .filter(|(_, e)| policy::may_read_election(user, &election_org(e)).is_ok())
        .map(|(id, e)| summary(id, e))
        .collect()
}

/// The elections `user` may read, with their compliance status.
pub async fn elections(state: &AppState, user: &User) -> Result<Vec<ElectionSummary>, ApiError> {
    state.with_views(|v| summaries(user, &v.elections)).await
}

/// The two clocks a view may be cut by, as a query asks for them (issue 16,
/// item 4; domain decision 35). `as_of` is the **recorded** clock: what the
/// ledger held then, a prefix of positions. `as_of_occurred` is the
/// **occurred** clock: the events that had happened by then, whenever they
/// were recorded. An inspector asking "what did the record show on the day
/// of the vote" wants the first; one asking "what had happened by the vote"
/// wants the second, and is told which events the record held only later.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AsOf {
    /// A ledger position, an RFC 3339 time or a date (recorded time).
    pub as_of: Option<String>,
    /// An RFC 3339 time or a date (occurred time; a date is the end of
    /// that day in Beijing time).
    pub as_of_occurred: Option<String>,
}

/// Which clock a view was cut by, named in every answer so that a reader
/// never mistakes one for the other (also in the `jishi-clock` header of
/// every answer cut by one, [`Clock::header`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Clock {
    /// Now, or as of a recorded position.
    Recorded,
    /// As of an occurred time.
    Occurred,
}

/// An [`AsOf`] resolved against the ledger: at most one clock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cut {
    /// The last position shown (recorded clock); `None` is now.
    pub as_of: Option<u64>,
    /// The occurred time, as read (occurred clock), in RFC 3339.
    pub occurred: Option<String>,
}

impl Clock {
    /// The `jishi-clock` header naming this clock.
    pub fn header(self) -> [(&'static str, &'static str); 1] {
        [(
            "jishi-clock",
            match self {
                Clock::Recorded => "recorded",
                Clock::Occurred => "occurred",
            },
        )]
    }
}

impl Cut {
    pub fn clock(&self) -> Clock {
        if self.occurred.is_some() {
            Clock::Occurred
        } else {
            Clock::Recorded
        }
    }

    /// The entries this cut shows, in ledger order, with what an occurred
    /// cut left out. Occurred time does not grow along positions, so that
    /// cut filters rather than takes a prefix.
    pub fn apply<'a>(
        &self,
        entries: &'a [Entry],
    ) -> Result<(Cow<'a, [Entry]>, Option<OccurredCut>), ApiError> {
        match &self.occurred {
            Some(spec) => {
                let (kept, cut) = occurred_by(entries.to_vec(), spec)
                    .map_err(|e| ApiError::bad("as_of_occurred", e.to_string()))?;
                Ok((Cow::Owned(kept), Some(cut)))
            }
            None => Ok((Cow::Borrowed(upto(entries, self.as_of)), None)),
        }
    }

    /// Whether an event at `position` is inside the cut, judged by position
    /// alone (entries that could not be decoded have no occurred time; an
    /// occurred cut keeps them all, so that a fault is never hidden).
    pub fn covers_position(&self, position: u64) -> bool {
        self.occurred.is_some() || self.as_of.is_none_or(|a| position <= a)
    }
}

/// Reads an [`AsOf`]: `as_of` as a position (a number, or the last position
/// recorded at or before a time or date), `as_of_occurred` checked as a
/// time; blank means not given, and both at once is refused.
pub async fn cut(state: &AppState, q: &AsOf) -> Result<Cut, ApiError> {
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match (given(&q.as_of), given(&q.as_of_occurred)) {
        (Some(_), Some(_)) => Err(ApiError::bad(
            "as_of_occurred",
            "give as_of (what the ledger had recorded by then) or as_of_occurred (what had \
             happened by then), not both: they are different clocks",
        )),
        (Some(s), None) => Ok(Cut {
            as_of: Some(resolve_as_of(state.read_events().await?, &s).await?),
            occurred: None,
        }),
        (None, Some(s)) => {
            // Refused here, before any read is recorded, when it is no
            // time; kept as the time it was read as (a date is the end of
            // that day, +08:00), which is what a recorded read names.
            let (_, read) = occurred_by(Vec::new(), &s)
                .map_err(|e| ApiError::bad("as_of_occurred", e.to_string()))?;
            Ok(Cut {
                as_of: None,
                occurred: Some(read.time),
            })
        }
        (None, None) => Ok(Cut::default()),
    }
}

pub fn upto(entries: &[Entry], as_of: Option<u64>) -> &[Entry] {
    match as_of {
        Some(p) => views::as_of(entries, p),
        None => entries,
    }
}

/// An election's page: its summary, candidates, compliance and statistics.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionDetail {
    pub summary: ElectionSummary,
    /// The clock the view was cut by.
    pub clock: Clock,
    pub as_of: Option<u64>,
    /// What an occurred-time cut showed and left out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of_occurred: Option<OccurredCut>,
    pub candidates: Vec<CandidateRow>,
    /// Redacted for the reader like a trail (D51).
    pub compliance: Option<ComplianceReport>,
    pub stats: TeamStats,
    /// Where the reads of restricted content this report showed were
    /// recorded, one per candidate (D52); empty when it showed none.
    pub recorded_reads: Vec<u64>,
}

/// An election with its compliance report; the report's reads of restricted
/// content are recorded (D52).
pub async fn election(
    state: &AppState,
    user: &User,
    election_id: &str,
    q: &AsOf,
) -> Result<ElectionDetail, ApiError> {
    election_with(state, user, election_id, q, true).await
}

/// As [`election`]; without `compliance` the report is left out, so that
/// statistics or the candidate list record no read.
pub async fn election_with(
    state: &AppState,
    user: &User,
    election_id: &str,
    q: &AsOf,
    compliance: bool,
) -> Result<ElectionDetail, ApiError> {
    let cut = cut(state, q).await?;
    let may_see = |s: Sensitivity| policy::may_see(user, s);
    let (mut detail, shown) = state
        .with_election(user, election_id, |e| {
            let (entries, occurred) = cut.apply(&e.entries)?;
            let entries = &entries[..];
            let folded = fold(entries.iter().map(|x| &x.event));
            let mut stats = views::stats(&folded);
            stats.election_id = election_id.to_string();
            let candidates = views::candidates(&folded, stats.on);
            let mut shown = Default::default();
            let report = if compliance {
                procedure_of(election_id, entries, None).ok().map(|p| {
                    let upto_unreadable: Vec<_> = e
                        .unreadable
                        .iter()
                        .filter(|u| cut.covers_position(u.position))
                        .cloned()
                        .collect();
                    let (mut r, _) = jishi_projections::replay::compliance_with(
                        entries,
                        &upto_unreadable,
                        &p,
                        &views::StructureRules::default(),
                    );
                    r.election_id = election_id.to_string();
                    shown = redact_report(&mut r, entries, &may_see);
                    r
                })
            } else {
                None
            };
            Ok((
                ElectionDetail {
                    summary: summary(election_id, e),
                    clock: cut.clock(),
                    as_of: cut.as_of,
                    as_of_occurred: occurred,
                    candidates,
                    compliance: report,
                    stats,
                    recorded_reads: Vec::new(),
                },
                shown,
            ))
        })
        .await?;
    // Recorded before the report is handed out, one event per candidate
    // whose restricted content it shows, so that each candidate's reads list
    // has it (D52).
    let shown: Vec<String> = shown.into_iter().collect();
    detail.recorded_reads =
        record_reads(state, user, election_id, &shown, View::Compliance, &cut).await?;
    Ok(detail)
}

/// A candidate's trail and responsibility chain, redacted for `user`, with
/// the position of the access event that recorded this read.
#[derive(Debug, Clone, Serialize)]
pub struct CandidateView {
    pub trail: Trail,
    pub accountability: Accountability,
    /// The clock the view was cut by.
    pub clock: Clock,
    /// The as-of position asked for (`None`: now).
    pub as_of: Option<u64>,
    /// What an occurred-time cut showed and left out.
    pub as_of_occurred: Option<OccurredCut>,
    /// The ledger's head when read: the right end of the as-of slider.
    pub head: u64,
    /// Where this read was recorded (`access.read`).
    pub recorded_read_at: u64,
}

pub async fn candidate(
    state: &AppState,
    user: &User,
    election_id: &str,
    candidate_id: &str,
    q: &AsOf,
    view: View,
) -> Result<CandidateView, ApiError> {
    let cut = cut(state, q).await?;
    let may_see = |s: Sensitivity| policy::may_see(user, s);
    let (trail, accountability, head, occurred) = state
        .with_election(user, election_id, |e| {
            if !e.state.candidates.contains_key(candidate_id) {
                return Err(ApiError::NotFound(format!(
                    "candidate {candidate_id:?}: not in election {election_id:?}"
                )));
            }
            let (entries, _) = cut.apply(&e.entries)?;
            let entries = &entries[..];
            // What the cut showed and left out is told of the candidate's
            // own events, as `jishi trail --as-of-occurred` tells it.
            // Counted only for that clock: a trail read by recorded time,
            // the common case, copies nothing.
            let occurred = match cut.occurred {
                Some(_) => {
                    let own: Vec<Entry> = e
                        .entries
                        .iter()
                        .filter(|x| x.event.candidate_id.as_deref() == Some(candidate_id))
                        .cloned()
                        .collect();
                    cut.apply(&own)?.1
                }
                None => None,
            };
            let mut t = views::trail(entries, candidate_id);
            t.election_id = election_id.to_string();
            redact_trail(&mut t, entries, &may_see);
            let mut a = views::accountability(entries, candidate_id);
            a.election_id = election_id.to_string();
            redact_accountability(&mut a, entries, &may_see);
            Ok((t, a, e.entries.last().map_or(0, |x| x.position), occurred))
        })
        .await?;
    // Recorded before anything is handed out: an unrecorded read is not served.
    let recorded_read_at = record_read(
        state,
        user,
        election_id.to_string(),
        candidate_id.to_string(),
        view,
        &cut,
    )
    .await?;
    Ok(CandidateView {
        trail,
        accountability,
        clock: cut.clock(),
        as_of: cut.as_of,
        as_of_occurred: occurred,
        head,
        recorded_read_at,
    })
}

/// 上查一级 for a candidate (domain decision 33), redacted for `user`, with
/// the as-of position and where this read was recorded: it shows the
/// responsibility chain, so it is recorded as a read of it.
pub async fn one_level_up(
    state: &AppState,
    user: &User,
    election_id: &str,
    candidate_id: &str,
    q: &AsOf,
) -> Result<(views::oversight::OneLevelUp, Cut, Option<OccurredCut>, u64), ApiError> {
    let cut = cut(state, q).await?;
    let may_see = |s: Sensitivity| policy::may_see(user, s);
    let (up, occurred) = state
        .with_election(user, election_id, |e| {
            if !e.state.candidates.contains_key(candidate_id) {
                return Err(ApiError::NotFound(format!(
                    "candidate {candidate_id:?}: not in election {election_id:?}"
                )));
            }
            let (entries, occurred) = cut.apply(&e.entries)?;
            let entries = &entries[..];
            let mut up = views::oversight::one_level_up(entries, candidate_id, &may_see);
            let mut chain = views::Accountability::new(election_id, candidate_id);
            chain.duties = std::mem::take(&mut up.direct);
            redact_accountability(&mut chain, entries, &may_see);
            up.direct = chain.duties;
            up.election_id = election_id.to_string();
            Ok((up, occurred))
        })
        .await?;
    let recorded_read_at = record_read(
        state,
        user,
        election_id.to_string(),
        candidate_id.to_string(),
        View::Accountability,
        &cut,
    )
    .await?;
    Ok((up, cut, occurred, recorded_read_at))
}

/// Records that `user` read (or exported) `view` of a candidate, before it
/// is handed out: an unrecorded read is not served. Its position.
pub async fn record_read(
    state: &AppState,
    user: &User,
    election_id: impl Into<String>,
    candidate_id: impl Into<String>,
    view: View,
    cut: &Cut,
) -> Result<u64, ApiError> {
    Ok(access::record_access(
        state.events.as_ref(),
        &user.actor(),
        &AccessRecord {
            election_id: election_id.into(),
            candidate_id: candidate_id.into(),
            view,
            as_of: cut.as_of,
            as_of_occurred: cut.occurred.clone(),
            petition_id: None,
        },
    )
    .await?)
}

/// As [`record_read`] for several candidates of one election, in one
/// transaction: their positions, in order.
pub async fn record_reads(
    state: &AppState,
    user: &User,
    election_id: &str,
    candidates: &[String],
    view: View,
    cut: &Cut,
) -> Result<Vec<u64>, ApiError> {
    let records: Vec<AccessRecord> = candidates
        .iter()
        .map(|c| AccessRecord {
            election_id: election_id.to_string(),
            candidate_id: c.clone(),
            view,
            as_of: cut.as_of,
            as_of_occurred: cut.occurred.clone(),
            petition_id: None,
        })
        .collect();
    Ok(access::record_accesses(state.events.as_ref(), &user.actor(), &records).await?)
}

/// Who read a candidate's records, and when.
pub async fn accesses(
    state: &AppState,
    user: &User,
    election_id: &str,
    candidate_id: &str,
) -> Result<Vec<AccessEntry>, ApiError> {
    policy::may_read_accesses(user)?;
    state.with_election(user, election_id, |_| Ok(())).await?;
    Ok(access::accesses(state.read_events().await?, election_id, candidate_id).await?)
}

/// The "verified up to checkpoint N, signed by …" badge.
#[derive(Debug, Clone, Serialize)]
pub struct Badge {
    pub verified: Option<Verified>,
    /// The ledger's head when the badge was read: the events after the
    /// checkpoint are `head - checkpoint.size`.
    pub head: u64,
    /// The newest stored checkpoint the last successful verification covers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<CheckpointInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointInfo {
    pub id: u64,
    pub origin: String,
    pub size: u64,
    pub root: String,
    pub recorded_at: String,
    /// The names of the registered keys whose signatures on the note
    /// verified (the log's, witnesses'); empty when it does not verify.
    pub signed_by: Vec<String>,
    /// Whether the note verifies under the ledger's registered keys.
    pub verified: bool,
    /// Why it does not, if it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Names on signature lines of keys the ledger never registered.
    pub unverified_signers: Vec<String>,
    pub note: String,
}

/// A stored checkpoint as the API shows it: its signers are only the keys
/// the ledger registered whose signatures verify (issue 13); a note that
/// does not verify says so, and names no signer.
pub fn checkpoint_info(c: &StoredCheckpoint, registry: &KeyRegistry) -> CheckpointInfo {
    let check = jishi_ledger::signers::check(c, registry);
    let signed_by = if check.fault.is_none() {
        check
            .verified_by
            .iter()
            .map(|v| v.split('+').next().unwrap_or_default().to_string())
            .collect()
    } else {
        Vec::new()
    };
    CheckpointInfo {
        id: c.id,
        origin: c.origin.clone(),
        size: c.size,
        root: c.root.to_string(),
        recorded_at: c.recorded_at.clone(),
        signed_by,
        verified: check.fault.is_none(),
        fault: check.fault,
        unverified_signers: check.unverified,
        note: c.note.clone(),
    }
}

pub async fn badge(state: &AppState) -> Result<Badge, ApiError> {
    let verified = state.verified.read().await.clone();
    let checkpoint = match &verified {
        Some(v) if v.ok => {
            let registry = jishi_ledger::attest::verified_registry(state.store.as_ref()).await?;
            state
                .store
                .checkpoints()
                .await?
                .into_iter()
                .filter(|c| c.size <= v.checked)
                .max_by_key(|c| c.id)
                .map(|c| checkpoint_info(&c, &registry))
        }
        _ => None,
    };
    let head = state.store.head().await?.map_or(0, |h| h.position);
    Ok(Badge {
        verified,
        head,
        checkpoint,
    })
}

/// Verifies the whole ledger (chain and tree) and keeps the outcome for the
/// badge. One at a time; a second caller waits and then runs its own.
pub async fn run_verify(state: &Arc<AppState>) -> Result<Verified, ApiError> {
    run_verify_with(state, &jishi_ledger::verify::Quiet).await
}

/// As [`run_verify`], reporting its progress to `progress`.
pub async fn run_verify_with(
    state: &Arc<AppState>,
    progress: &dyn jishi_ledger::verify::Progress,
) -> Result<Verified, ApiError> {
    let _one = state.verifying.lock().await;
    let report = jishi_ledger::verify_with_proofs(state.store.as_ref(), progress).await?;
    // The schema's protections too, as `jishi verify` checks them (D64).
    let drift = state.store.schema_drift().await?;
    let fault = report
        .fault
        .as_ref()
        .map(|f| f.to_string())
        .or_else(|| {
            let tree = report.tree.as_ref()?;
            tree.checkpoint_fault
                .as_ref()
                .map(|c| c.to_string())
                .or_else(|| tree.tree_fault.clone())
        })
        .or_else(|| {
            report
                .signers
                .iter()
                .find(|s| s.fault.is_some())
                .map(|s| s.to_string())
        })
        .or_else(|| drift.first().map(|d| format!("schema: {d}")));
    let outcome = Verified {
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ok: report.is_ok() && drift.is_empty(),
        checked: report.checked,
        fault,
    };
    *state.verified.write().await = Some(outcome.clone());
    Ok(outcome)
}
