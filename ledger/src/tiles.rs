//! The log as C2SP `tlog-tiles` (c2sp.org/tlog-tiles): immutable files any
//! transparency client can fetch and check against a signed checkpoint, and
//! that cache and mirror as plain files (D75).
//!
//! - **Merkle tiles** `tile/<L>/<N>[.p/<W>]`: the hashes at tree level 8·L,
//!   `N·256 … N·256 + W − 1`, 32 bytes each. Level 0 holds the leaf hashes.
//!   The tree is jishi's own RFC 9162 tree: a leaf is SHA-256(0x00 ‖ the
//!   event's 32-byte BLAKE3 hash), so the tiles are read from the stored
//!   nodes and nothing is recomputed.
//! - **Entry bundles** `tile/entries/<N>[.p/<W>]`: the entries of those
//!   leaves, each a big-endian u16 length and then the 32-byte event hash.
//!   A standard client checks each entry against the tree.
//! - **Envelope bundles** `jishi/envelopes/<N>[.p/<W>]`: beside the entries,
//!   in the same framing, each event's hash input (the tag and the canonical
//!   envelope, payload digest included: docs/FORMAT.md §4). BLAKE3 of an
//!   item is its entry, so a verifier of events checks every envelope field
//!   without the payload. Payloads are never in a bundle: a bundle is
//!   public, and a payload's digest is all it publishes of it.
//!
//! `N` is written in groups of three digits, each but the last prefixed
//! with `x` (`1234067` is `x001/x234/067`); `.p/<W>` marks a partial tile
//! of `W` (1–255) items. A tile exists once the tree holds every leaf it
//! covers, and never changes after.

use crate::canonical::HashedEnvelope;
use crate::store::StoreError;
use crate::tree::{node_in_run, node_location, ProofStore, StoredRun};
use crate::Digest;

/// Items in a full tile (tiles are of height 8).
pub const TILE_WIDTH: u64 = 256;
/// The tree levels one tile spans.
pub const TILE_HEIGHT: u32 = 8;

/// What a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// A Merkle tile of this level (tree level 8 · level).
    Hashes(u8),
    /// An entry bundle (the events' 32-byte hashes).
    Entries,
    /// An envelope bundle (the events' hash inputs).
    Envelopes,
}

/// A tile: its kind, its index `N` and its width `W` (256 when full).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TilePath {
    pub kind: TileKind,
    pub index: u64,
    pub width: u64,
}

/// Why a path names no tile, or a tile cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    #[error("not a tile path: {0}")]
    BadPath(String),
    #[error("the tile needs {needed} leaves and the tree has {size}: it does not exist yet")]
    NotYet { needed: u64, size: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stored tree cannot give this tile: {0}")]
    Tree(String),
}

/// `N` as the spec writes it in a path.
fn index_path(mut n: u64) -> String {
    let mut out = format!("{:03}", n % 1000);
    while n >= 1000 {
        n /= 1000;
        out = format!("x{:03}/{out}", n % 1000);
    }
    out
}

/// Parses `N[.p/W]` from path elements.
fn parse_index(elems: &[&str]) -> Option<(u64, u64)> {
    let (mut groups, width) = match elems {
        [rest @ .., last, w] if last.ends_with(".p") => {
            // Decimal without a leading zero, so that one tile has one path.
            let width: u64 = w.parse().ok().filter(|n| (1..TILE_WIDTH).contains(n))?;
            if width.to_string() != *w {
                return None;
            }
            let mut g: Vec<&str> = rest.to_vec();
            g.push(last.strip_suffix(".p")?);
            (g, width)
        }
        all => (all.to_vec(), TILE_WIDTH),
    };
    let last = groups.pop()?;
    let digits = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(last)
        || groups
            .iter()
            .any(|g| !g.strip_prefix('x').is_some_and(digits))
    {
        return None;
    }
    // No leading zero group: `x000/…` would name the same tile twice.
    if groups.first().is_some_and(|g| *g == "x000") {
        return None;
    }
    let mut n: u64 = 0;
    for g in groups.iter().map(|g| &g[1..]).chain(std::iter::once(last)) {
        n = n.checked_mul(1000)?.checked_add(g.parse().ok()?)?;
    }
    Some((n, width))
}

impl TilePath {
    /// Parses a path relative to the log's prefix: `tile/<L>/<N>[.p/<W>]`,
    /// `tile/entries/<N>[.p/<W>]` or `jishi/envelopes/<N>[.p/<W>]`.
    pub fn parse(path: &str) -> Result<TilePath, TileError> {
        let bad = || TileError::BadPath(path.chars().take(200).collect());
        let elems: Vec<&str> = path.split('/').collect();
        let (kind, rest) = match elems.as_slice() {
            ["tile", "entries", rest @ ..] => (TileKind::Entries, rest),
            ["jishi", "envelopes", rest @ ..] => (TileKind::Envelopes, rest),
            ["tile", level, rest @ ..] => {
                let l: u8 = level
                    .parse()
                    .ok()
                    .filter(|l: &u8| *l < 8 && l.to_string() == *level)
                    .ok_or_else(bad)?;
                (TileKind::Hashes(l), rest)
            }
            _ => return Err(bad()),
        };
        let (index, width) = parse_index(rest).ok_or_else(bad)?;
        Ok(TilePath { kind, index, width })
    }

    /// The path of this tile, relative to the log's prefix.
    pub fn to_path(&self) -> String {
        let kind = match self.kind {
            TileKind::Hashes(l) => format!("tile/{l}"),
            TileKind::Entries => "tile/entries".to_string(),
            TileKind::Envelopes => "jishi/envelopes".to_string(),
        };
        let partial = if self.width == TILE_WIDTH {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("{kind}/{}{partial}", index_path(self.index))
    }

    /// The tree level of the hashes a Merkle tile holds (0 for bundles,
    /// whose items are leaves).
    fn tree_level(&self) -> u32 {
        match self.kind {
            TileKind::Hashes(l) => TILE_HEIGHT * u32::from(l),
            TileKind::Entries | TileKind::Envelopes => 0,
        }
    }

    /// How many leaves the tree must hold for this tile to exist.
    pub fn leaves_needed(&self) -> Option<u64> {
        self.index
            .checked_mul(TILE_WIDTH)?
            .checked_add(self.width)?
            .checked_mul(1u64.checked_shl(self.tree_level())?)
    }
}

/// The bytes of tile `t` of the ledger's tree, which holds `size` leaves.
pub async fn read_tile<S: ProofStore + ?Sized>(
    store: &S,
    size: u64,
    t: &TilePath,
) -> Result<Vec<u8>, TileError> {
    let needed = t
        .leaves_needed()
        .ok_or_else(|| TileError::BadPath(t.to_path()))?;
    if needed > size {
        return Err(TileError::NotYet { needed, size });
    }
    let first = t.index * TILE_WIDTH;
    match t.kind {
        TileKind::Hashes(_) => {
            let level = t.tree_level();
            let mut out = Vec::with_capacity(32 * t.width as usize);
            let mut rows: Vec<StoredRun> = Vec::new();
            for i in 0..t.width {
                let (leaf, _) = node_location(level, first + i)
                    .ok_or_else(|| TileError::BadPath(t.to_path()))?;
                // The row holding `leaf`: the one with the greatest first
                // leaf at or before it, among those read so far, or read now
                // (at level 0 the rest of the tile's leaves at once).
                let held = rows
                    .iter()
                    .rev()
                    .find(|r| r.leaf <= leaf)
                    .and_then(|r| node_in_run(r.leaf, &r.hashes, leaf, level).ok());
                let node = match held {
                    Some(n) => n,
                    None => {
                        let limit = if level == 0 { t.width - i } else { 1 };
                        rows = store
                            .read_tree_rows(leaf, usize::try_from(limit).unwrap_or(1))
                            .await?;
                        let row = rows.iter().rev().find(|r| r.leaf <= leaf).ok_or_else(|| {
                            TileError::Tree(format!("no tree_nodes row holds leaf {leaf}"))
                        })?;
                        node_in_run(row.leaf, &row.hashes, leaf, level).map_err(TileError::Tree)?
                    }
                };
                out.extend_from_slice(&node.0);
            }
            Ok(out)
        }
        TileKind::Entries | TileKind::Envelopes => {
            let rows = store
                .read_rows(first + 1, usize::try_from(t.width).unwrap_or(0))
                .await?;
            if rows.len() as u64 != t.width {
                return Err(TileError::Tree(format!(
                    "the ledger gave {} events from position {}, not {}",
                    rows.len(),
                    first + 1,
                    t.width
                )));
            }
            let mut out = Vec::new();
            let mut scratch = Vec::new();
            for row in rows {
                let item = match t.kind {
                    TileKind::Entries => Digest::from_slice(&row.hash)
                        .ok_or_else(|| {
                            TileError::Tree(format!("position {}: no 32-byte hash", row.position))
                        })?
                        .0
                        .to_vec(),
                    _ => {
                        let event = row.into_event()?;
                        let id = event.event_id.hyphenated().to_string();
                        scratch.clear();
                        HashedEnvelope::of(&event, &id).write_tagged(&mut scratch);
                        scratch.clone()
                    }
                };
                let len = u16::try_from(item.len()).map_err(|_| {
                    TileError::Tree(format!("an item of {} bytes does not fit", item.len()))
                })?;
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&item);
            }
            Ok(out)
        }
    }
}

/// Splits a bundle into its items (for mirrors and tests).
pub fn bundle_items(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut items = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        if tail.len() < len {
            return None;
        }
        let (item, tail) = tail.split_at(len);
        items.push(item);
        rest = tail;
    }
    Some(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_written_and_read_as_the_spec_shows_them() {
        for (path, kind, index, width) in [
            ("tile/0/000", TileKind::Hashes(0), 0, 256),
            ("tile/1/x001/x234/067", TileKind::Hashes(1), 1_234_067, 256),
            ("tile/0/x001/234.p/8", TileKind::Hashes(0), 1_234, 8),
            ("tile/entries/005.p/255", TileKind::Entries, 5, 255),
            ("jishi/envelopes/999", TileKind::Envelopes, 999, 256),
        ] {
            let t = TilePath::parse(path).expect(path);
            assert_eq!(t, TilePath { kind, index, width }, "{path}");
            assert_eq!(t.to_path(), path);
        }
        for bad in [
            "tile/0/1",
            "tile/0/0001",
            "tile/0/x000/001",
            "tile/0/001.p/256",
            "tile/0/001.p/0",
            "tile/0/001.p/07",
            "tile/8/000",
            "tile/01/000",
            "tile/0/x1/000",
            "tile/0/",
            "tile/data/000",
            "tiles/0/000",
            "jishi/events/000",
        ] {
            assert!(TilePath::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_tile_needs_every_leaf_it_covers() {
        let t = TilePath::parse("tile/1/000.p/2").expect("path");
        assert_eq!(t.leaves_needed(), Some(512));
        let t = TilePath::parse("tile/0/001").expect("path");
        assert_eq!(t.leaves_needed(), Some(512));
        let t = TilePath::parse("tile/entries/000.p/3").expect("path");
        assert_eq!(t.leaves_needed(), Some(3));
    }

    #[test]
    fn bundles_split_back_into_their_items() {
        let bytes = [0, 2, 7, 8, 0, 0, 0, 1, 9];
        assert_eq!(
            bundle_items(&bytes),
            Some(vec![&[7u8, 8][..], &[][..], &[9][..]])
        );
        assert_eq!(bundle_items(&[0, 3, 1]), None);
        assert_eq!(bundle_items(&[0]), None);
    }
}
