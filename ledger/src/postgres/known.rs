//! What the writer remembers between groups, so that the usual group
//! commits in one round trip without reading first (D30).

use std::collections::HashMap;

use super::plan::BatchState;
use crate::store::{Head, StreamTip};
use crate::RecordedEvent;

/// What the writer's last transaction left behind: the head, the tree's
/// frontier and the versions of the streams it read or wrote. With it, the
/// next group can be planned without reading anything first (see
/// `writer::commit_from_known`).
///
/// It can go stale only through another process appending to the same
/// ledger, and then the write planned from it cannot succeed: the ledger's
/// unique indexes make every such write collide with what the other process
/// wrote. Another append took position `head + 1` (primary key), and the
/// leaf after the frontier (`tree_nodes` primary key); another append to a
/// stream took the version after the known one, since versions are gapless
/// from 1 (`(stream, stream_version)`); an event id already stored is refused
/// by `events_event_id`. Rows are never changed (triggers), so what was
/// known about a row stays true.
pub(super) struct Known {
    pub(super) tip: Option<Head>,
    pub(super) frontier: Option<Vec<u8>>,
    /// The last position the stored attestations cover (0: none). Stale only
    /// if another process wrote, and then the write's check of it fails.
    pub(super) attested: u64,
    /// `None`: the stream had no event.
    pub(super) versions: HashMap<String, Option<StreamTip>>,
    /// The last position under each stream prefix a guarded caller named
    /// (0: none), as of `tip`. Unlike a stale version, a stale entry here
    /// would make no index refuse anything, so it is only kept while every
    /// append since it was read is the writer's own and was added to it: a
    /// full transaction that finds the head elsewhere than `tip` (another
    /// process appended) forgets them all, as does a known write refused.
    pub(super) latest_under: HashMap<String, u64>,
}

/// Streams whose versions [`Known`] keeps at most; past that it starts
/// afresh, which costs one full transaction per stream seen again.
const KNOWN_STREAMS: usize = 100_000;

/// Guarded prefixes (elections, in practice) [`Known`] keeps at most.
const KNOWN_PREFIXES: usize = 10_000;

impl Known {
    /// After a transaction planned from `known` committed `rows`.
    pub(super) fn learn_in(
        known: &mut Known,
        state: BatchState,
        frontier: Vec<u8>,
        rows: &[RecordedEvent],
        attested: u64,
    ) {
        known.attested = attested;
        known.tip = state.tip;
        known.frontier = Some(frontier);
        known.versions.extend(state.versions);
        note_positions(&mut known.latest_under, rows);
    }

    /// After a full transaction committed `rows`: the head it read under the
    /// lock (`head_read`), the state it planned against and left, and the
    /// last positions under the guarded prefixes it read.
    pub(super) fn learn(
        known: &mut Option<Known>,
        head_read: Option<&Head>,
        state: BatchState,
        frontier: Option<Vec<u8>>,
        read_under: HashMap<String, u64>,
        rows: &[RecordedEvent],
        attested: u64,
    ) {
        let k = known.get_or_insert_with(|| Known {
            tip: None,
            frontier: None,
            attested: 0,
            versions: HashMap::new(),
            latest_under: HashMap::new(),
        });
        // Someone else appended since the writer's last commit (or there
        // was none): what it knew of prefixes may have changed unseen.
        if k.tip.as_ref() != head_read || k.latest_under.len() + read_under.len() > KNOWN_PREFIXES {
            k.latest_under.clear();
        }
        k.latest_under.extend(read_under);
        note_positions(&mut k.latest_under, rows);
        k.tip = state.tip;
        k.frontier = frontier;
        k.attested = attested;
        if k.versions.len() + state.versions.len() > KNOWN_STREAMS {
            k.versions.clear();
        }
        k.versions.extend(state.versions);
    }

    /// The known state proved stale: forget what no index would catch.
    pub(super) fn forget_guesses(&mut self) {
        self.versions.clear();
        self.latest_under.clear();
    }
}

/// Raises the last position of every known prefix that `rows` were written
/// under: each ancestor of a row's stream (`a`, `a/b`, … and the stream).
fn note_positions(latest_under: &mut HashMap<String, u64>, rows: &[RecordedEvent]) {
    if latest_under.is_empty() {
        return;
    }
    for row in rows {
        let stream = row.stream.as_str();
        let ancestors = stream
            .match_indices('/')
            .map(|(i, _)| &stream[..i])
            .chain(std::iter::once(stream));
        for prefix in ancestors {
            if let Some(last) = latest_under.get_mut(prefix) {
                *last = (*last).max(row.position);
            }
        }
    }
}
