//! Reading the views from the ledger: ledger rows become [`Entry`] values for
//! the pure views in `jishi_projections::views`, "as of" specs become
//! positions, and [`Projections`] catch up from the last position they saw.

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};
use jishi_ledger::{EventStore, RecordedEvent};
use jishi_projections::views::{Entry, Projections, UnknownProcedure};
use jishi_projections::{candidate_stream, election_stream, parse_stream, Procedure};

use crate::{decode_marked, RecordError};

/// Events read per query.
const PAGE: usize = 10_000;

/// Why a view could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Store(#[from] jishi_ledger::StoreError),
    #[error("position {position}: recorded_at {value:?} is not an RFC 3339 time: {reason}")]
    RecordedAt {
        position: u64,
        value: String,
        reason: String,
    },
    #[error("--as-of {0:?}: give a ledger position (e.g. 1200), an RFC 3339 time (2021-05-10T12:00:00+08:00) or a date (2021-05-10)")]
    AsOf(String),
    #[error("--as-of-occurred {0:?}: give an RFC 3339 time (2021-05-10T12:00:00+08:00) or a date (2021-05-10, the end of that day in Beijing time)")]
    AsOfOccurred(String),
    #[error("candidate {0:?}: no stream election/<election>/candidate/{0} in the ledger")]
    UnknownCandidate(String),
    #[error("candidate {candidate:?} is in several elections ({}): name one with --election", elections.join(", "))]
    Ambiguous {
        candidate: String,
        elections: Vec<String>,
    },
    #[error("election {0:?}: no event in the ledger")]
    UnknownElection(String),
    #[error("candidate {candidate:?}: no event in election {election:?}")]
    NoCandidateEvents { election: String, candidate: String },
    #[error("election {0:?} has no election.opened event, so its procedure is unknown")]
    NotOpened(String),
    #[error(transparent)]
    Procedure(#[from] jishi_projections::ProcedureError),
    #[error("the elections counted together are under different [composition] quotas ({0}): a congress has one set; count each set of units apart")]
    MixedQuotas(String),
    #[error(transparent)]
    Apply(#[from] jishi_projections::views::ViewError),
}

/// The view's input for one stored event.
pub fn entry_of(e: &RecordedEvent) -> Result<Entry, ViewError> {
    let (event, gated_under) = decode_marked(e)?;
    let recorded_at =
        DateTime::parse_from_rfc3339(&e.recorded_at).map_err(|err| ViewError::RecordedAt {
            position: e.position,
            value: e.recorded_at.clone(),
            reason: err.to_string(),
        })?;
    Ok(Entry {
        position: e.position,
        event_id: e.event_id.hyphenated().to_string(),
        recorded_at,
        actor: crate::domain_actor(&e.actor),
        hash: *e.hash.as_bytes(),
        payload_digest: *e.payload_digest.as_bytes(),
        gated_under,
        event,
    })
}

/// An election's entries (its stream and its candidates'), up to `as_of`.
pub async fn election_entries(
    store: &dyn EventStore,
    election_id: &str,
    as_of: Option<u64>,
) -> Result<Vec<Entry>, ViewError> {
    read_election(store, election_id, as_of, None).await
}

/// An election's entries as [`election_entries`] reads them, except that an
/// event that is no domain event is set aside (and returned) instead of
/// failing the read: what `jishi check` reports (D68).
pub async fn election_entries_lenient(
    store: &dyn EventStore,
    election_id: &str,
    as_of: Option<u64>,
) -> Result<(Vec<Entry>, Vec<jishi_projections::replay::Unreadable>), ViewError> {
    let mut unreadable = Vec::new();
    let out = read_election(store, election_id, as_of, Some(&mut unreadable)).await?;
    Ok((out, unreadable))
}

/// The election's entries; an undecodable event fails the read, or, given
/// `set_aside`, is put there.
async fn read_election(
    store: &dyn EventStore,
    election_id: &str,
    as_of: Option<u64>,
    mut set_aside: Option<&mut Vec<jishi_projections::replay::Unreadable>>,
) -> Result<Vec<Entry>, ViewError> {
    let prefix = election_stream(election_id);
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let page = store.read_prefix(&prefix, from, PAGE).await?;
        let full = page.len() == PAGE;
        for e in &page {
            if as_of.is_some_and(|p| e.position > p) {
                return Ok(out);
            }
            from = e.position + 1;
            match (entry_of(e), set_aside.as_deref_mut()) {
                (Ok(entry), _) => out.push(entry),
                (
                    Err(ViewError::Record(RecordError::Undecodable { position, source })),
                    Some(unreadable),
                ) => unreadable.push(jishi_projections::replay::Unreadable {
                    position,
                    event_type: e.event_type.clone(),
                    reason: source.to_string(),
                }),
                (Err(err), _) => return Err(err),
            }
        }
        if !full {
            return Ok(out);
        }
    }
}

/// One candidate's entries (their stream only: one indexed read), up to `as_of`.
pub async fn candidate_entries(
    store: &dyn EventStore,
    election_id: &str,
    candidate_id: &str,
    as_of: Option<u64>,
) -> Result<Vec<Entry>, ViewError> {
    let stream = candidate_stream(election_id, candidate_id);
    let mut out = Vec::new();
    let mut from = 1;
    loop {
        let page = store.read_stream(&stream, from, PAGE).await?;
        let full = page.len() == PAGE;
        for e in &page {
            if as_of.is_some_and(|p| e.position > p) {
                return Ok(out);
            }
            out.push(entry_of(e)?);
            from = e.stream_version + 1;
        }
        if !full {
            return Ok(out);
        }
    }
}

/// `as_of` read by [`resolve_as_of`], when given.
pub async fn as_of_position(
    store: &dyn EventStore,
    spec: Option<&str>,
) -> Result<Option<u64>, ViewError> {
    match spec {
        Some(s) => Ok(Some(resolve_as_of(store, s).await?)),
        None => Ok(None),
    }
}

/// A candidate's entries (as of `as_of_spec`) and the election they belong
/// to. A candidate with no event today is an error (a mistyped id must not
/// look like an empty trail); as of an early moment, an empty trail is an
/// answer.
pub async fn candidate_view(
    store: &dyn EventStore,
    candidate: &str,
    election: Option<&str>,
    as_of_spec: Option<&str>,
) -> Result<(String, Vec<Entry>), ViewError> {
    let election = election_of(store, candidate, election).await?;
    let as_of = as_of_position(store, as_of_spec).await?;
    let entries = candidate_entries(store, &election, candidate, as_of).await?;
    if entries.is_empty() && as_of.is_none() {
        return Err(ViewError::NoCandidateEvents {
            election,
            candidate: candidate.to_string(),
        });
    }
    Ok((election, entries))
}

/// An election's entries as of `as_of_spec`; an election with no event today
/// is an error, as for [`candidate_view`].
pub async fn election_view(
    store: &dyn EventStore,
    election: &str,
    as_of_spec: Option<&str>,
) -> Result<Vec<Entry>, ViewError> {
    let as_of = as_of_position(store, as_of_spec).await?;
    let entries = election_entries(store, election, as_of).await?;
    if entries.is_empty() && as_of.is_none() {
        return Err(ViewError::UnknownElection(election.to_string()));
    }
    Ok(entries)
}

/// The procedure an election's views are computed under: the one given (a
/// file the user named), else the one recorded in force (D65), else the
/// built-in one of the kind its opening names.
pub fn procedure_of(
    election: &str,
    entries: &[Entry],
    given: Option<Procedure>,
) -> Result<Procedure, ViewError> {
    if let Some(p) = given {
        return Ok(p);
    }
    jishi_projections::views::procedure_in_force(entries).map_err(|e| match e {
        UnknownProcedure::NotOpened => ViewError::NotOpened(election.to_string()),
        UnknownProcedure::Procedure(p) => ViewError::Procedure(p),
    })
}

/// The elections that have a stream for `candidate_id`. The ledger has no
/// index of stream names by suffix, so this reads every row once; give
/// `--election` to avoid it on a large ledger.
pub async fn elections_of(
    store: &dyn EventStore,
    candidate_id: &str,
) -> Result<Vec<String>, ViewError> {
    let mut found = std::collections::BTreeSet::new();
    let mut from = 1;
    loop {
        let rows = store.read_rows(from, PAGE).await?;
        let Some(last) = rows.last() else { break };
        from = (last.position.max(0) as u64) + 1;
        for r in &rows {
            if let Some((e, Some(c))) = parse_stream(&r.stream) {
                if c == candidate_id {
                    found.insert(e.to_string());
                }
            }
        }
        if rows.len() < PAGE {
            break;
        }
    }
    Ok(found.into_iter().collect())
}

/// The election a candidate belongs to: `given`, or the only one found.
pub async fn election_of(
    store: &dyn EventStore,
    candidate_id: &str,
    given: Option<&str>,
) -> Result<String, ViewError> {
    if let Some(e) = given {
        return Ok(e.to_string());
    }
    let mut found = elections_of(store, candidate_id).await?;
    match found.len() {
        0 => Err(ViewError::UnknownCandidate(candidate_id.to_string())),
        1 => Ok(found.remove(0)),
        _ => Err(ViewError::Ambiguous {
            candidate: candidate_id.to_string(),
            elections: found,
        }),
    }
}

/// Reads `--as-of`: a position as is; a time (or a date, read as the end of
/// that day in China Standard Time, +08:00) as the last position recorded at
/// or before it. `recorded_at` never decreases along positions (D5), so a
/// binary search over positions finds it with ~log2(n) one-row reads.
pub async fn resolve_as_of(store: &dyn EventStore, spec: &str) -> Result<u64, ViewError> {
    let spec = spec.trim();
    if let Ok(p) = spec.parse::<u64>() {
        return Ok(p);
    }
    let time = parse_time(spec).ok_or_else(|| ViewError::AsOf(spec.to_string()))?;
    let Some(head) = store.head().await? else {
        return Ok(0);
    };
    // Invariant: positions ≤ lo are recorded at or before `time`; > hi after it.
    let (mut lo, mut hi) = (0u64, head.position);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        let row = store.read_all(mid, 1).await?;
        let Some(e) = row.first() else { break };
        let at =
            DateTime::parse_from_rfc3339(&e.recorded_at).map_err(|err| ViewError::RecordedAt {
                position: e.position,
                value: e.recorded_at.clone(),
                reason: err.to_string(),
            })?;
        if at <= time {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Ok(lo)
}

/// "As of" by the other clock (issue 16, item 4): the events that
/// **happened** by `spec`, whenever they were recorded, where `--as-of`
/// takes those the ledger had **recorded** by then. Occurred time does not
/// grow along positions (a step is often recorded days after it happened),
/// so this filters the entries instead of cutting a prefix. It keeps them in
/// ledger order, and says which were recorded only after the time. An
/// inspector asking "what had happened by the vote" needs those, and an
/// inspector asking "what did the record show on the day" should use
/// `--as-of`.
pub fn occurred_by(
    entries: Vec<Entry>,
    spec: &str,
) -> Result<(Vec<Entry>, OccurredCut), ViewError> {
    let time = parse_time(spec.trim()).ok_or_else(|| ViewError::AsOfOccurred(spec.to_string()))?;
    let total = entries.len();
    let kept: Vec<Entry> = entries
        .into_iter()
        .filter(|e| e.event.occurred_at <= time)
        .collect();
    let recorded_later = kept
        .iter()
        .filter(|e| e.recorded_at > time)
        .map(|e| e.position)
        .collect();
    let cut = OccurredCut {
        time: time.to_rfc3339(),
        shown: kept.len(),
        recorded_later,
        happened_later: total - kept.len(),
    };
    Ok((kept, cut))
}

/// What [`occurred_by`] kept and left out, for the reader to be told.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OccurredCut {
    /// The time, as read (a date is the end of that day, +08:00).
    pub time: String,
    /// Events that happened by then.
    pub shown: usize,
    /// Of those, the positions of the ones recorded only after the time.
    pub recorded_later: Vec<u64>,
    /// Events left out because they happened after it.
    pub happened_later: usize,
}

fn parse_time(spec: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(spec) {
        return Some(t);
    }
    let day = NaiveDate::parse_from_str(spec, "%Y-%m-%d").ok()?;
    let cst = FixedOffset::east_opt(8 * 3600)?;
    cst.from_local_datetime(&day.and_hms_micro_opt(23, 59, 59, 999_999)?)
        .single()
}

/// Applies every event after `projections.last_position`, then keeps the
/// compliance of the elections that changed (D118), so that a list of
/// elections with their findings reads kept reports; returns how many
/// events were applied. Events outside `election/…` streams (raw appends)
/// are not part of any view and are skipped.
pub async fn catch_up(
    store: &dyn EventStore,
    projections: &mut Projections,
) -> Result<u64, ViewError> {
    let applied = apply_new(store, projections).await?;
    projections.keep_compliance();
    Ok(applied)
}

/// Applies every event after `projections.last_position`; returns how many.
/// The compliance of the elections it changed is left stale.
async fn apply_new(
    store: &dyn EventStore,
    projections: &mut Projections,
) -> Result<u64, ViewError> {
    let mut applied = 0;
    let mut page = store.read_all(projections.last_position + 1, PAGE).await?;
    loop {
        let Some(last) = page.last().map(|e| e.position) else {
            return Ok(applied);
        };
        let full = page.len() == PAGE;
        // Read the next page while this one is decoded: the store reads on a
        // blocking thread, started at the first poll, which `join!` gives it
        // before the decoding runs.
        let (next, decoded) = tokio::join!(
            async {
                if full {
                    store.read_all(last + 1, PAGE).await.map(Some)
                } else {
                    Ok(None)
                }
            },
            async { decode_page(&page) }
        );
        for (row, entry) in page.iter().zip(decoded) {
            match entry {
                Ok(Some(entry)) => {
                    projections.apply(entry)?;
                    applied += 1;
                }
                Ok(None) => {}
                // An event of an election stream that is no domain event
                // (a raw append) is kept beside the election, not allowed to
                // stop every read (D68).
                Err(ViewError::Record(RecordError::Undecodable { position, source })) => {
                    if let Some((election, _)) = parse_stream(&row.stream) {
                        projections.note_unreadable(
                            election,
                            jishi_projections::replay::Unreadable {
                                position,
                                event_type: row.event_type.clone(),
                                reason: source.to_string(),
                            },
                        );
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Skipped raw events still count as seen.
        projections.last_position = projections.last_position.max(last);
        match next? {
            Some(p) => page = p,
            None => return Ok(applied),
        }
    }
}

/// Every projection rebuilt from position 1, compliance not kept: the
/// command line's whole-ledger views (`jishi unit`, `jishi composition`)
/// read states, not findings, and a kept report per election would make
/// them compute every election's compliance for nothing. Its elections'
/// [`ElectionProjection::compliance`](jishi_projections::views::ElectionProjection::compliance)
/// is still right, computed when asked.
pub async fn rebuild(store: &dyn EventStore) -> Result<Projections, ViewError> {
    let mut p = Projections::default();
    apply_new(store, &mut p).await?;
    Ok(p)
}

/// Decodes a page of events (JSON payload to typed event), on every core for
/// a large page: decoding, not reading or folding, is most of a rebuild's
/// time. Events outside `election/…` streams decode to `None`. The order of
/// the page is kept; folding stays sequential.
fn decode_page(page: &[RecordedEvent]) -> Vec<Result<Option<Entry>, ViewError>> {
    let one = |e: &RecordedEvent| match parse_stream(&e.stream) {
        None => Ok(None),
        Some(_) => entry_of(e).map(Some),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    if threads < 2 || page.len() < 2_000 {
        return page.iter().map(one).collect();
    }
    let chunk = page.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = page
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(decoded) => decoded,
                // A decoding thread cannot panic on data (errors are values),
                // so this is a bug; surface it rather than lose events.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// A congress's composition over `elections` (its units), with its quotas
/// checked when their procedures state any (domain decision 36). The units
/// of one congress share one set of quotas; units under different sets are
/// refused rather than judged by one of them.
pub fn congress<'a>(
    elections: impl IntoIterator<Item = (&'a str, &'a jishi_projections::views::ElectionProjection)>,
) -> Result<
    (
        jishi_projections::views::composition::Composition,
        Option<jishi_projections::views::composition::CompositionCheck>,
    ),
    ViewError,
> {
    use jishi_projections::views::composition::{self, CompositionRules};
    let chosen: Vec<_> = elections.into_iter().collect();
    let mut rules: Vec<(String, CompositionRules)> = Vec::new();
    for (id, e) in &chosen {
        let stated = procedure_of(id, &e.entries, None)
            .ok()
            .and_then(|p| p.composition)
            .filter(|r| !r.is_empty());
        if let Some(r) = stated {
            if rules.first().is_some_and(|(_, first)| *first != r) {
                return Err(ViewError::MixedQuotas(format!("{} and {id}", rules[0].0)));
            }
            rules.push((id.to_string(), r));
        }
    }
    let c = composition::composition(chosen.iter().map(|(id, e)| (*id, &e.state)));
    let check = match rules.first() {
        Some((_, r)) => {
            let pending = composition::pending(chosen.iter().map(|(id, e)| (*id, &e.state)));
            Some(composition::check_quotas(&c, r, pending))
        }
        None => None,
    };
    Ok((c, check))
}
