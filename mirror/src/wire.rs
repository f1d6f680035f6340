//! The bytes of c2sp.org/tlog-mirror's `add-entries` and of jishi's
//! `jishi/add-envelopes` companion (docs/FORMAT-merkle.md §15): the
//! canonical package sequence, the `text/x.tlog.mirror-info` answer, and
//! the encoders a client uses.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use jishi_ledger::Digest;

/// The content type of a 409 or 202 answer to `add-entries`.
pub const MIRROR_INFO_CONTENT_TYPE: &str = "text/x.tlog.mirror-info";

/// Entries per package (and per entry bundle).
pub const PACKAGE_WIDTH: u64 = 256;

/// "`num_hashes`, which MUST be at most 63."
pub const MAX_PROOF_HASHES: u8 = 63;

/// Packages a client sends in one request ("at most 32 entry packages").
pub const PACKAGES_PER_REQUEST: usize = 32;

/// One package of the canonical sequence: the entries `[start, end)` it
/// carries, and `proof_start`, the aligned start of the subtree its proof
/// is computed over (`[proof_start, end)`; the mirror already holds
/// `[proof_start, start)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageRange {
    pub proof_start: u64,
    pub start: u64,
    pub end: u64,
}

/// The canonical sequence of packages for `[upload_start, upload_end)`.
pub fn package_ranges(upload_start: u64, upload_end: u64) -> Vec<PackageRange> {
    if upload_start >= upload_end {
        return Vec::new();
    }
    let rounded_start = upload_start - upload_start % PACKAGE_WIDTH;
    let mut out = Vec::new();
    let mut base = rounded_start;
    while base < upload_end {
        out.push(PackageRange {
            proof_start: base,
            start: upload_start.max(base),
            end: upload_end.min(base + PACKAGE_WIDTH),
        });
        base += PACKAGE_WIDTH;
    }
    out
}

/// The header of an `add-entries` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddEntriesHeader {
    pub origin: String,
    pub upload_start: u64,
    pub upload_end: u64,
    pub ticket: Vec<u8>,
}

impl AddEntriesHeader {
    /// The header's bytes: `u16be` origin length, origin, `u64be` start,
    /// `u64be` end, `u16be` ticket length, ticket.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.origin.len() as u16).to_be_bytes());
        out.extend_from_slice(self.origin.as_bytes());
        out.extend_from_slice(&self.upload_start.to_be_bytes());
        out.extend_from_slice(&self.upload_end.to_be_bytes());
        out.extend_from_slice(&(self.ticket.len() as u16).to_be_bytes());
        out.extend_from_slice(&self.ticket);
        out
    }
}

/// One package's bytes: each entry with a `u16be` length, then the proof
/// with a one-byte count.
pub fn encode_package(entries: &[&[u8]], proof: &[Digest]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&(e.len() as u16).to_be_bytes());
        out.extend_from_slice(e);
    }
    out.push(proof.len() as u8);
    for h in proof {
        out.extend_from_slice(&h.0);
    }
    out
}

/// The three lines of a 409 or 202 answer: a pending checkpoint's size,
/// the next entry, and a ticket (base64; jishi's is always empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorInfo {
    pub pending_size: u64,
    pub next_entry: u64,
    pub ticket: Vec<u8>,
}

impl MirrorInfo {
    pub fn encode(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.pending_size,
            self.next_entry,
            B64.encode(&self.ticket)
        )
    }

    /// Parses the answer; `None` if it is not three such lines.
    pub fn parse(text: &str) -> Option<MirrorInfo> {
        let rest = text.strip_suffix('\n')?;
        let mut lines = rest.split('\n');
        let decimal = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok())
                .flatten()
        };
        let pending_size = decimal(lines.next()?)?;
        let next_entry = decimal(lines.next()?)?;
        let ticket = B64.decode(lines.next()?).ok()?;
        if lines.next().is_some() {
            return None;
        }
        Some(MirrorInfo {
            pending_size,
            next_entry,
            ticket,
        })
    }
}

/// The header of a `jishi/add-envelopes` body: `u16be` origin length,
/// origin, `u64be` index of the first envelope; then items as in an
/// envelope bundle (`u16be` length, the event's hash input), to the end of
/// the body.
pub fn encode_envelopes(origin: &str, start: u64, items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(origin.len() as u16).to_be_bytes());
    out.extend_from_slice(origin.as_bytes());
    out.extend_from_slice(&start.to_be_bytes());
    for item in items {
        out.extend_from_slice(&(item.len() as u16).to_be_bytes());
        out.extend_from_slice(item);
    }
    out
}

/// The lowercase hex SHA-256 of an origin: the log's path on the mirror's
/// monitoring prefix.
pub fn origin_hash(origin: &str) -> String {
    use sha2::Digest as _;
    let d: [u8; 32] = sha2::Sha256::digest(origin.as_bytes()).into();
    Digest(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_canonical_sequence_is_aligned_at_256() {
        assert_eq!(package_ranges(5, 5), vec![]);
        assert_eq!(
            package_ranges(300, 700),
            vec![
                PackageRange {
                    proof_start: 256,
                    start: 300,
                    end: 512
                },
                PackageRange {
                    proof_start: 512,
                    start: 512,
                    end: 700
                },
            ]
        );
        assert_eq!(package_ranges(0, 256).len(), 1);
        assert_eq!(package_ranges(0, 257).len(), 2);
    }

    /// docs/FORMAT-merkle.md §15.5: the header and the one package of an
    /// upload of [0, 3) of §1.3's leaves.
    #[test]
    fn the_format_vector_is_reproduced() {
        let h = AddEntriesHeader {
            origin: "jishi.example/log".into(),
            upload_start: 0,
            upload_end: 3,
            ticket: Vec::new(),
        };
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(
            hex(&h.encode()),
            "00116a697368692e6578616d706c652f6c6f67000000000000000000000000000000030000"
        );
        let leaves: Vec<[u8; 32]> = (0..3u8).map(|i| [i; 32]).collect();
        let items: Vec<&[u8]> = leaves.iter().map(|l| l.as_slice()).collect();
        let p = encode_package(&items, &[]);
        assert_eq!(p.len(), 103);
        assert_eq!(
            (p[0], p[1], p[2], p[34], p[35], p[102]),
            (0, 32, 0, 0, 32, 0)
        );
    }

    #[test]
    fn mirror_info_round_trips_and_refuses_other_text() {
        let i = MirrorInfo {
            pending_size: 700,
            next_entry: 512,
            ticket: Vec::new(),
        };
        assert_eq!(i.encode(), "700\n512\n\n");
        assert_eq!(MirrorInfo::parse(&i.encode()), Some(i));
        for bad in ["700\n512\n", "7x\n1\n\n", "1\n2\n\n\n", "+1\n2\n\n"] {
            assert_eq!(MirrorInfo::parse(bad), None, "{bad:?}");
        }
    }
}
