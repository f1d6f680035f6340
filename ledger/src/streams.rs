//! The stream-head map: what every signed checkpoint says about each stream,
//! so that a case file can prove it holds *all* of a candidate's events, not
//! only that the ones it holds are genuine (docs/FORMAT-merkle.md §10).
//!
//! For the first `size` events of the ledger, each stream has a *head*: how
//! many events it has (its last `stream_version`) and the hash of the last
//! one. The map is an RFC 9162 Merkle tree whose leaves are the heads'
//! digests in byte order of the stream names, so
//!
//! * one inclusion proof shows a stream's head (and so, with the events'
//!   per-stream chain, exactly which events it has);
//! * two adjacent leaves show that no stream lies between their names, so a
//!   run of leaves with its two neighbours shows every stream of a name
//!   range: every candidate of an election, say.
//!
//! Why a sorted tree and not a sparse Merkle tree keyed by hashed names:
//! hashing the names scatters an election's streams over the whole key
//! space, so "every stream under this prefix" would need a proof of absence
//! for every empty key range between them; sorted names keep an election's
//! streams next to each other, and the proofs are the log's own inclusion
//! proofs, with the verifier an independent implementer already has. The
//! price is that the map is rebuilt, not updated, at a checkpoint: a sort
//! and a tree over the streams, once per checkpoint (measured in
//! docs/PERFORMANCE.md), never on the append path.
//!
//! The checkpoint commits to the map by an extension line (see
//! [`StreamsLine`]); the log's key signs it and the witnesses cosign it with
//! the rest of the note.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::merkle::{verify_inclusion, MemoryTree, VerifyError};
use crate::Digest;

/// The tag that starts a head's digest input.
const HEAD_TAG: &[u8] = b"jishi.stream-head.v1\0";

/// The first word of the checkpoint extension line that carries the map.
pub const STREAMS_LINE_TAG: &str = "jishi.streams/v1";

/// The digest of one stream's head, the map's leaf:
/// `BLAKE3("jishi.stream-head.v1" 0x00 ‖ u32be(len(name)) ‖ name ‖
/// u64be(count) ‖ last event hash)`.
pub fn head_digest(stream: &str, count: u64, last: &Digest) -> Digest {
    let mut h = blake3::Hasher::new();
    h.update(HEAD_TAG);
    // Stream names are at most 256 bytes (docs/FORMAT.md §1).
    h.update(&(stream.len() as u32).to_be_bytes());
    h.update(stream.as_bytes());
    h.update(&count.to_be_bytes());
    h.update(&last.0);
    Digest(*h.finalize().as_bytes())
}

/// What a checkpoint states about the map: how many streams, and the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamsLine {
    pub streams: u64,
    pub root: Digest,
}

/// Why a checkpoint's map line was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamsLineError {
    #[error(
        "the stream-map line must be `{STREAMS_LINE_TAG} <number of streams> <base64 root>`, \
         got {0:?}"
    )]
    Malformed(String),
    #[error("the checkpoint has two stream-map lines")]
    Twice,
}

impl StreamsLine {
    /// The extension line, without its newline.
    pub fn to_line(&self) -> String {
        format!(
            "{STREAMS_LINE_TAG} {} {}",
            self.streams,
            B64.encode(self.root.0)
        )
    }

    /// Parses an extension line, `Ok(None)` when it is another extension.
    pub fn parse(line: &str) -> Result<Option<StreamsLine>, StreamsLineError> {
        let mut words = line.split(' ');
        if words.next() != Some(STREAMS_LINE_TAG) {
            return Ok(None);
        }
        let bad = || StreamsLineError::Malformed(line.chars().take(120).collect());
        let (Some(count), Some(root), None) = (words.next(), words.next(), words.next()) else {
            return Err(bad());
        };
        if count.is_empty()
            || !count.bytes().all(|b| b.is_ascii_digit())
            || (count.len() > 1 && count.starts_with('0'))
        {
            return Err(bad());
        }
        let streams = count.parse().map_err(|_| bad())?;
        let root = B64
            .decode(root)
            .ok()
            .and_then(|b| Digest::from_slice(&b))
            .ok_or_else(bad)?;
        Ok(Some(StreamsLine { streams, root }))
    }
}

/// A stream's head in the map, with its place and inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenHead {
    /// The leaf index (0-based) in the map.
    pub index: u64,
    pub stream: String,
    /// The stream's number of events as of the checkpoint.
    pub count: u64,
    /// The hash of its last event as of the checkpoint.
    pub head: Digest,
    /// RFC 9162 `PATH(index, map)`, nearest sibling first.
    pub proof: Vec<Digest>,
}

impl ProvenHead {
    fn verify(&self, line: &StreamsLine) -> Result<(), VerifyError> {
        verify_inclusion(
            &head_digest(&self.stream, self.count, &self.head),
            self.index,
            line.streams,
            &self.proof,
            &line.root,
        )
    }
}

/// Every stream whose name lies in a range, with the two streams around it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeProof {
    /// The range's lower bound (inclusive).
    pub from: String,
    /// The upper bound (exclusive); absent for "to the end".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// The stream before the range; absent when the range starts the map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<ProvenHead>,
    /// Every stream in the range, in map order.
    pub streams: Vec<ProvenHead>,
    /// The stream after the range; absent when the range ends the map.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<ProvenHead>,
}

/// Why a range proof does not show a range complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error(
        "the map head of stream {stream:?} (leaf {index}) is not in the checkpoint's map: {source}"
    )]
    NotInMap {
        stream: String,
        index: u64,
        source: VerifyError,
    },
    #[error(
        "stream {stream:?} is listed for the range [{from:?}, {to}) but its name lies outside it"
    )]
    OutsideRange {
        stream: String,
        from: String,
        to: String,
    },
    #[error("the neighbour {stream:?} {side} the range lies inside it: the range proof is not the map's")]
    NeighbourInside { stream: String, side: &'static str },
    #[error(
        "the proof does not show the range [{from:?}, {to}) complete: {why}; streams may be \
         missing from the export"
    )]
    Gap {
        from: String,
        to: String,
        why: String,
    },
}

impl RangeProof {
    fn to_text(&self) -> String {
        self.to
            .as_ref()
            .map_or_else(|| "the end".to_string(), |t| format!("{t:?}"))
    }

    fn in_range(&self, name: &str) -> bool {
        name >= self.from.as_str() && self.to.as_deref().is_none_or(|t| name < t)
    }

    /// Checks that the proof shows every stream of `[from, to)` in the map
    /// the checkpoint states: each head is in the map, the listed streams
    /// are consecutive leaves, and the leaves around them (or the map's
    /// ends) lie outside the range.
    pub fn verify(&self, line: &StreamsLine) -> Result<(), RangeError> {
        let to = self.to_text();
        let gap = |why: String| RangeError::Gap {
            from: self.from.clone(),
            to: to.clone(),
            why,
        };
        let all = self
            .before
            .iter()
            .chain(&self.streams)
            .chain(self.after.iter());
        for h in all.clone() {
            h.verify(line).map_err(|source| RangeError::NotInMap {
                stream: h.stream.clone(),
                index: h.index,
                source,
            })?;
        }
        for h in &self.streams {
            if !self.in_range(&h.stream) {
                return Err(RangeError::OutsideRange {
                    stream: h.stream.clone(),
                    from: self.from.clone(),
                    to: to.clone(),
                });
            }
        }
        if let Some(b) = &self.before {
            if b.stream.as_str() >= self.from.as_str() {
                return Err(RangeError::NeighbourInside {
                    stream: b.stream.clone(),
                    side: "before",
                });
            }
        }
        if let Some(a) = &self.after {
            if self.to.as_deref().is_none_or(|t| a.stream.as_str() < t) {
                return Err(RangeError::NeighbourInside {
                    stream: a.stream.clone(),
                    side: "after",
                });
            }
        }
        // Consecutive leaves, from the one after `before` (or leaf 0) to the
        // one before `after` (or the last leaf).
        let mut next = match &self.before {
            Some(b) => b.index + 1,
            None => 0,
        };
        for h in self.streams.iter().chain(self.after.iter()) {
            if h.index != next {
                return Err(gap(format!(
                    "leaf {next} of the map is not shown (the next one shown is leaf {}, {:?})",
                    h.index, h.stream
                )));
            }
            next += 1;
        }
        if self.after.is_none() && next != line.streams {
            return Err(gap(format!(
                "the map has {} streams but the proof ends at leaf {next} without a stream after \
                 the range",
                line.streams
            )));
        }
        // Names increase along the shown leaves (a map the log built out of
        // order would not be a map of names).
        let names: Vec<&str> = all.map(|h| h.stream.as_str()).collect();
        if let Some(w) = names.windows(2).find(|w| w[0] >= w[1]) {
            return Err(gap(format!(
                "the map's leaves are not in name order ({:?} before {:?})",
                w[0], w[1]
            )));
        }
        Ok(())
    }
}

/// The name ranges a selector covers, as `(from, to)`: the stream itself,
/// and (for a prefix) the names below it, which sort together.
pub fn selector_ranges(selector: &crate::export::Selector) -> Vec<(String, Option<String>)> {
    use crate::export::Selector;
    // The names starting with `p` are `[p, p with its last byte + 1)`; `p`
    // ends in an ASCII byte here ('/' or any), so the increment stays ASCII
    // unless the byte is 0x7f or above, where "to the end" is the safe bound.
    fn below(p: &str) -> (String, Option<String>) {
        let mut bytes = p.as_bytes().to_vec();
        let to = match bytes.last_mut() {
            Some(b) if *b < 0x7f => {
                *b += 1;
                String::from_utf8(bytes).ok()
            }
            _ => None,
        };
        (p.to_string(), to)
    }
    match selector {
        Selector::Stream(s) => vec![(s.clone(), Some(format!("{s}\0")))],
        Selector::Prefix(p) if p.ends_with('/') => vec![below(p)],
        Selector::Prefix(p) => vec![(p.clone(), Some(format!("{p}\0"))), below(&format!("{p}/"))],
    }
}

/// The map of the first `size` events: every stream's head, in name order.
#[derive(Debug, Clone, Default)]
pub struct StreamMap {
    heads: Vec<(String, u64, Digest)>,
    tree: MemoryTree,
}

impl StreamMap {
    /// The map of these heads (stream → (count, last hash)).
    pub fn new(heads: BTreeMap<String, (u64, Digest)>) -> StreamMap {
        let heads: Vec<(String, u64, Digest)> =
            heads.into_iter().map(|(s, (c, h))| (s, c, h)).collect();
        let tree = heads
            .iter()
            .map(|(s, c, h)| head_digest(s, *c, h))
            .collect();
        StreamMap { heads, tree }
    }

    /// The line a checkpoint carries.
    pub fn line(&self) -> StreamsLine {
        StreamsLine {
            streams: self.heads.len() as u64,
            root: self.tree.root(),
        }
    }

    /// The head of `stream`, if the map has it.
    pub fn get(&self, stream: &str) -> Option<(u64, Digest)> {
        let i = self
            .heads
            .binary_search_by(|(s, _, _)| s.as_str().cmp(stream))
            .ok()?;
        let (_, c, h) = &self.heads[i];
        Some((*c, *h))
    }

    fn proven(&self, i: usize) -> ProvenHead {
        let (stream, count, head) = &self.heads[i];
        let size = self.heads.len() as u64;
        ProvenHead {
            index: i as u64,
            stream: stream.clone(),
            count: *count,
            head: *head,
            // Every index below the tree's size has a proof in a full tree.
            proof: self
                .tree
                .prove_inclusion(i as u64, size)
                .map(|p| p.path)
                .unwrap_or_default(),
        }
    }

    /// The proof that `[from, to)` holds exactly the streams it lists.
    pub fn prove_range(&self, from: &str, to: Option<&str>) -> RangeProof {
        let start = self.heads.partition_point(|(s, _, _)| s.as_str() < from);
        let end = match to {
            Some(t) => self.heads.partition_point(|(s, _, _)| s.as_str() < t),
            None => self.heads.len(),
        };
        let end = end.max(start);
        RangeProof {
            from: from.to_string(),
            to: to.map(str::to_string),
            before: start.checked_sub(1).map(|i| self.proven(i)),
            streams: (start..end).map(|i| self.proven(i)).collect(),
            after: (end < self.heads.len()).then(|| self.proven(end)),
        }
    }

    /// The range proofs of a selector.
    pub fn prove_selector(&self, selector: &crate::export::Selector) -> Vec<RangeProof> {
        selector_ranges(selector)
            .iter()
            .map(|(from, to)| self.prove_range(from, to.as_deref()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::Selector;

    fn map(names: &[(&str, u64)]) -> StreamMap {
        StreamMap::new(
            names
                .iter()
                .map(|(s, c)| {
                    (
                        s.to_string(),
                        (*c, Digest(blake3::hash(s.as_bytes()).into())),
                    )
                })
                .collect(),
        )
    }

    const NAMES: &[(&str, u64)] = &[
        ("election/a", 3),
        ("election/a-2021", 1),
        ("election/a/candidate/c1", 5),
        ("election/a/candidate/c2", 2),
        ("election/b", 4),
        ("ledger/keys", 1),
    ];

    #[test]
    fn a_prefix_proof_shows_every_stream_under_it_and_nothing_else() {
        let m = map(NAMES);
        let line = m.line();
        let proofs = m.prove_selector(&Selector::Prefix("election/a".into()));
        assert_eq!(proofs.len(), 2);
        let names: Vec<&str> = proofs
            .iter()
            .flat_map(|p| p.streams.iter().map(|h| h.stream.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                "election/a",
                "election/a/candidate/c1",
                "election/a/candidate/c2"
            ]
        );
        for p in &proofs {
            p.verify(&line).expect("complete");
        }
        // Dropping a stream from the list leaves a gap the verifier names.
        let mut cut = proofs[1].clone();
        cut.streams.remove(0);
        assert!(matches!(cut.verify(&line), Err(RangeError::Gap { .. })));
        // Dropping the last one and its neighbour after: the end is not shown.
        let mut cut = proofs[1].clone();
        cut.streams.pop();
        cut.after = None;
        assert!(matches!(cut.verify(&line), Err(RangeError::Gap { .. })));
        // A neighbour moved inside the range.
        let mut moved = proofs[1].clone();
        moved.before = moved.streams.first().cloned();
        assert!(moved.verify(&line).is_err());
        // A changed count no longer has its leaf in the map.
        let mut changed = proofs[1].clone();
        changed.streams[0].count -= 1;
        assert!(matches!(
            changed.verify(&line),
            Err(RangeError::NotInMap { .. })
        ));
    }

    #[test]
    fn an_absent_stream_is_shown_absent_and_the_ends_of_the_map_are_proved() {
        let m = map(NAMES);
        let line = m.line();
        let p = m.prove_range("election/c", Some("election/c\0"));
        assert!(p.streams.is_empty());
        p.verify(&line).expect("adjacent neighbours show absence");
        let last = m.prove_range("ledger/", Some("ledger0"));
        assert!(last.after.is_none());
        last.verify(&line).expect("ends the map");
        let first = m.prove_range("", Some("election/a\0"));
        assert!(first.before.is_none());
        first.verify(&line).expect("starts the map");
        let empty = StreamMap::default();
        empty
            .prove_range("x", None)
            .verify(&empty.line())
            .expect("an empty map has nothing in any range");
    }

    #[test]
    fn the_line_round_trips_and_refuses_variants() {
        let line = map(NAMES).line();
        assert_eq!(StreamsLine::parse(&line.to_line()), Ok(Some(line)));
        assert_eq!(StreamsLine::parse("other extension"), Ok(None));
        for bad in [
            "jishi.streams/v1",
            "jishi.streams/v1 06 AAAA",
            "jishi.streams/v1 6",
            "jishi.streams/v1 +6 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "jishi.streams/v1 6 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU= x",
            "jishi.streams/v1 6 AAAA",
        ] {
            assert!(StreamsLine::parse(bad).is_err(), "{bad:?}");
        }
    }
}
