//! "This is everything about 李明": the completeness check of a format-2
//! case export (docs/FORMAT-merkle.md §11.4).
//!
//! The checkpoint's stream-head map states, for every stream, how many
//! events it had and the hash of the last one. The export carries, for each
//! name range its selector covers, the map's leaves in that range and the
//! leaves around it ([`crate::streams::RangeProof`]). So the verifier knows
//! which streams the selector covers and how many events each had as of the
//! checkpoint; it then asks that the file hold exactly versions `1..=count`
//! of each, ending at the stated head, each linked to the one before by its
//! `stream_prev_hash` where the event has one (format 3 events).
//!
//! Every message names what is missing, in the words an investigator uses:
//! which stream, which version, the first, the last, or all of them.

use std::collections::BTreeMap;

use crate::export::{CaseExport, Completeness, ExportedEvent};
use crate::streams::selector_ranges;
use crate::{Checkpoint, Digest};

/// Checks that `export` (format 2) holds every event of every stream its
/// selector covers as of `checkpoint`, whose signatures the caller checked.
/// On failure, every problem found, each a sentence.
pub fn check(export: &CaseExport, checkpoint: &Checkpoint) -> Result<Completeness, Vec<String>> {
    let Some(line) = checkpoint.streams else {
        return Err(vec![format!(
            "the checkpoint of size {} states no stream map (it was signed before format 3), so \
             nothing shows which events the streams had; ask for an export against a newer \
             checkpoint",
            checkpoint.size
        )]);
    };
    let mut problems = Vec::new();
    let wanted = selector_ranges(&export.selector);
    let given: Vec<(String, Option<String>)> = export
        .streams
        .iter()
        .map(|r| (r.from.clone(), r.to.clone()))
        .collect();
    if given != wanted {
        problems.push(format!(
            "the export's stream ranges {given:?} are not the ranges of its selector \
             {wanted:?}: it does not prove which streams {} covers",
            export.selector
        ));
        return Err(problems);
    }
    // stream -> (count, head), from the proven map leaves.
    let mut heads: BTreeMap<&str, (u64, Digest)> = BTreeMap::new();
    for range in &export.streams {
        if let Err(e) = range.verify(&line) {
            problems.push(e.to_string());
        }
        for h in &range.streams {
            heads.insert(h.stream.as_str(), (h.count, h.head));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut by_stream: BTreeMap<&str, Vec<&ExportedEvent>> = BTreeMap::new();
    for e in &export.events {
        by_stream.entry(e.stream.as_str()).or_default().push(e);
    }
    for stream in by_stream.keys() {
        if !heads.contains_key(stream) {
            problems.push(format!(
                "stream {stream:?} has events in the export but no head in the checkpoint's \
                 map under {}: the map does not vouch for it",
                export.selector
            ));
        }
    }
    let mut total = 0u64;
    for (stream, (count, head)) in &heads {
        total += count;
        let mut events = by_stream.remove(stream).unwrap_or_default();
        events.sort_by_key(|e| e.stream_version);
        check_stream(stream, *count, head, &events, &mut problems);
    }
    if problems.is_empty() {
        Ok(Completeness {
            streams: heads.len(),
            events: total,
        })
    } else {
        Err(problems)
    }
}

/// One stream: versions `1..=count`, each once, the last one's hash the
/// head, and each format-3 event linked to the one before.
fn check_stream(
    stream: &str,
    count: u64,
    head: &Digest,
    events: &[&ExportedEvent],
    problems: &mut Vec<String>,
) {
    if events.is_empty() {
        problems.push(format!(
            "stream {stream:?} is in the checkpoint's map with {count} event(s), but the export \
             holds none of them: the whole stream is missing"
        ));
        return;
    }
    let versions: Vec<u64> = events.iter().map(|e| e.stream_version).collect();
    if let Some(w) = versions.windows(2).find(|w| w[0] == w[1]) {
        problems.push(format!(
            "stream {stream:?} holds version {} twice in the export",
            w[0]
        ));
        return;
    }
    let missing: Vec<u64> = (1..=count).filter(|v| !versions.contains(v)).collect();
    let beyond: Vec<u64> = versions.iter().copied().filter(|v| *v > count).collect();
    if !beyond.is_empty() {
        problems.push(format!(
            "stream {stream:?} had {count} event(s) as of the checkpoint, but the export holds \
             version(s) {} beyond them",
            list(&beyond)
        ));
    }
    if !missing.is_empty() {
        let which = missing
            .iter()
            .map(|v| match *v {
                1 => "1 (the first)".to_string(),
                v if v == count => format!("{v} (the last)"),
                v => v.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ");
        problems.push(format!(
            "stream {stream:?} had {count} event(s) as of the checkpoint, but the export lacks \
             version(s) {which}"
        ));
        return;
    }
    // Versions 1..=count are all here (there may be more: those are named
    // above as beyond the map). The head is version `count`'s hash.
    let last = events[events.len() - 1];
    if last.hash != *head {
        problems.push(format!(
            "the checkpoint's map gives stream {stream:?} the head {head} (version {count}), but \
             the export's version {count} has hash {}: it is not the event the checkpoint \
             vouches for",
            last.hash
        ));
    }
    let mut prev = Digest::ZERO;
    for e in events {
        if let Some(sp) = e.stream_prev_hash {
            if sp != prev {
                problems.push(format!(
                    "version {} of stream {stream:?} (position {}) commits to a predecessor \
                     {sp} that is not the export's version {}: the stream's events are not the \
                     ones recorded",
                    e.stream_version,
                    e.position,
                    e.stream_version - 1
                ));
            }
        }
        prev = e.hash;
    }
}

fn list(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}
