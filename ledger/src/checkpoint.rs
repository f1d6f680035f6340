//! C2SP tlog checkpoints (c2sp.org/tlog-checkpoint): the signed statement
//! "the log named *origin* had *size* events and this RFC 9162 root".
//!
//! The body is three newline-terminated lines, then optional extension lines:
//!
//! ```text
//! <origin>
//! <tree size in decimal, no leading zeros>
//! <root hash, standard padded base64 of 32 bytes>
//! ```
//!
//! It is published as a signed note ([`crate::note`]); witnesses add their
//! cosignatures to the same note after checking, with a consistency proof,
//! that the log only appended since the last checkpoint they cosigned
//! ([`cosign`]). A log that shows different histories to different people
//! then cannot get both views cosigned.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;

use crate::merkle::{empty_root, verify_consistency, VerifyError};
use crate::note::{Note, NoteError, SignerKey, VerifiedNote, VerifierKey};
use crate::streams::{StreamsLine, StreamsLineError};
use crate::Digest;

/// A tree head: which log, how many leaves, which root, and (from format 3
/// on) the stream-head map of those leaves ([`crate::streams`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Digest,
    /// The `jishi.streams/v1` extension line, if the checkpoint has one.
    #[serde(default)]
    pub streams: Option<StreamsLine>,
}

/// Why checkpoint text was refused, or a checkpoint note did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("a checkpoint body must end with a newline")]
    MissingFinalNewline,
    #[error("the checkpoint has no {0} line")]
    MissingLine(&'static str),
    #[error("the checkpoint origin (first line) is empty")]
    EmptyOrigin,
    #[error("jishi writes origins without spaces, '+' or control characters, so that the log's key can carry the same name: {0:?}")]
    BadOrigin(String),
    #[error("line {line} of the checkpoint holds control character U+{code:04X}")]
    ControlCharacter { line: usize, code: u32 },
    #[error("the tree size (second line) must be ASCII decimal digits, got {0:?}")]
    SizeNotDecimal(String),
    #[error("the tree size (second line) must have no leading zeros, got {0:?}")]
    SizeLeadingZero(String),
    #[error("the tree size (second line) does not fit in 64 bits: {0:?}")]
    SizeTooLarge(String),
    #[error("the root hash (third line) is not standard padded base64: {0:?}")]
    RootNotBase64(String),
    #[error("the root hash (third line) decodes to {0} bytes; a SHA-256 root has 32")]
    RootWrongLength(usize),
    #[error("extension line {line} of the checkpoint is empty; extension lines must be non-empty")]
    EmptyExtensionLine { line: usize },
    #[error("the checkpoint's stream map: {0}")]
    Streams(#[from] StreamsLineError),
    #[error("the checkpoint note did not verify")]
    Note(#[from] NoteError),
}

impl Checkpoint {
    /// A checkpoint to sign. The origin is checked as jishi writes it:
    /// non-empty, no spaces, `+` or control characters (the spec's SHOULD,
    /// made a MUST here so the origin can double as the log's key name).
    pub fn new(origin: &str, size: u64, root: Digest) -> Result<Checkpoint, CheckpointError> {
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        if origin
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
        {
            return Err(CheckpointError::BadOrigin(
                origin.chars().take(100).collect(),
            ));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            streams: None,
        })
    }

    /// Whether two checkpoints of one log, of the same size, cannot both be
    /// true: different roots, or the same root with different stream maps
    /// (one of the two maps then misstates the same events). A checkpoint
    /// without a map claims nothing about streams, so it contradicts no
    /// map. Checkpoints of different sizes need a consistency proof to be
    /// compared, which this does not do.
    pub fn contradicts(&self, other: &Checkpoint) -> bool {
        self.size == other.size
            && (self.root != other.root
                || matches!((&self.streams, &other.streams), (Some(a), Some(b)) if a != b))
    }

    /// The same checkpoint, committing to the stream-head map `streams`.
    pub fn with_streams(mut self, streams: StreamsLine) -> Checkpoint {
        self.streams = Some(streams);
        self
    }

    /// The note text: origin, size and base64 root, each newline-terminated,
    /// then the stream-map line when there is one.
    pub fn to_body(&self) -> String {
        let mut body = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        if let Some(s) = &self.streams {
            body.push_str(&s.to_line());
            body.push('\n');
        }
        body
    }

    /// Parses a checkpoint body strictly. Extension lines after the root are
    /// accepted if non-empty (the spec allows them); a `jishi.streams/v1`
    /// line is parsed (at most one), the others are not kept. Signatures are
    /// always checked over the original text, never over a re-serialisation.
    pub fn from_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let mut line_no = 1;
        for c in body.chars() {
            if c == '\n' {
                line_no += 1;
            } else if (c as u32) < 0x20 {
                return Err(CheckpointError::ControlCharacter {
                    line: line_no,
                    code: c as u32,
                });
            }
        }
        let Some(content) = body.strip_suffix('\n') else {
            return Err(if body.is_empty() {
                CheckpointError::MissingLine("origin")
            } else {
                CheckpointError::MissingFinalNewline
            });
        };
        let mut lines = content.split('\n');
        let origin = lines.next().ok_or(CheckpointError::MissingLine("origin"))?;
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size = parse_size(
            lines
                .next()
                .ok_or(CheckpointError::MissingLine("tree size"))?,
        )?;
        let root = parse_root(
            lines
                .next()
                .ok_or(CheckpointError::MissingLine("root hash"))?,
        )?;
        let mut streams = None;
        for (i, ext) in lines.enumerate() {
            if ext.is_empty() {
                return Err(CheckpointError::EmptyExtensionLine { line: 4 + i });
            }
            if let Some(line) = StreamsLine::parse(ext)? {
                if streams.replace(line).is_some() {
                    return Err(StreamsLineError::Twice.into());
                }
            }
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size,
            root,
            streams,
        })
    }

    /// Signs this checkpoint as a new note (the log's own signature).
    pub fn sign(&self, signer: &SignerKey) -> Result<Note, CheckpointError> {
        Ok(Note::sign(&self.to_body(), signer)?)
    }

    /// Parses and verifies a checkpoint note against trusted keys, then
    /// parses its text as a checkpoint. Which keys signed is in the
    /// returned [`VerifiedNote`]; the caller applies its policy (e.g. the
    /// log's key and at least one witness).
    pub fn open(
        note: &str,
        keys: &[VerifierKey],
    ) -> Result<(Checkpoint, VerifiedNote), CheckpointError> {
        let verified = Note::parse(note)?.verify(keys)?;
        let checkpoint = Checkpoint::from_body(verified.text())?;
        Ok((checkpoint, verified))
    }
}

fn parse_size(line: &str) -> Result<u64, CheckpointError> {
    // u64::from_str would accept a leading '+', which the spec does not.
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CheckpointError::SizeNotDecimal(
            line.chars().take(40).collect(),
        ));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(CheckpointError::SizeLeadingZero(
            line.chars().take(40).collect(),
        ));
    }
    line.parse()
        .map_err(|_| CheckpointError::SizeTooLarge(line.chars().take(40).collect()))
}

fn parse_root(line: &str) -> Result<Digest, CheckpointError> {
    let bytes = B64
        .decode(line)
        .map_err(|_| CheckpointError::RootNotBase64(line.chars().take(80).collect()))?;
    Digest::from_slice(&bytes).ok_or(CheckpointError::RootWrongLength(bytes.len()))
}

/// Why a witness refused to cosign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CosignError {
    #[error("the checkpoint is not validly signed by the log key {log:?}")]
    LogSignature {
        log: String,
        #[source]
        source: NoteError,
    },
    #[error("the signed note is not a checkpoint")]
    NotCheckpoint(#[source] CheckpointError),
    #[error("the checkpoint is for log {got:?}, but this witness follows {expected:?}")]
    OriginMismatch { expected: String, got: String },
    #[error("the checkpoint has size {new}, smaller than the {last} already cosigned: a log never shrinks")]
    Rollback { last: u64, new: u64 },
    #[error("the checkpoint of size {new} is not consistent with the cosigned one of size {last}; the log may have rewritten history")]
    Inconsistent {
        last: u64,
        new: u64,
        #[source]
        source: VerifyError,
    },
    #[error("adding the cosignature failed")]
    Note(#[source] NoteError),
}

/// A witness's cosignature on a new checkpoint, and the checkpoint to
/// remember as its new "last cosigned" state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub note: Note,
    pub checkpoint: Checkpoint,
}

/// The witness rule: cosign `note` only if the log signed it and it extends
/// what this witness cosigned before.
///
/// * the note must verify under `log_key`;
/// * its origin must equal `last`'s origin;
/// * its size must be ≥ `last.size`;
/// * `proof` must be a valid RFC 9162 consistency proof from `last` to it
///   (empty when the sizes are equal, which then needs equal roots).
///
/// `last = None` is a witness's first checkpoint from this log: it is
/// treated as the empty tree, so `proof` must be empty (trust on first
/// use). The caller must store the returned checkpoint as the new `last`
/// atomically with publishing the cosignature, or a crash could let it
/// cosign a fork later.
///
/// The cosignature is a note signature by the witness key over the same
/// text: a C2SP `cosignature/v1` line (type 0x04, timestamped) for a
/// cosignature-v1 key, a plain note signature for an Ed25519 or SM2 key
/// (docs/FORMAT-merkle.md §6.2).
pub fn cosign(
    witness: &SignerKey,
    log_key: &VerifierKey,
    last: Option<&Checkpoint>,
    note: &Note,
    proof: &[Digest],
) -> Result<Cosigned, CosignError> {
    let verified = note
        .verify(std::slice::from_ref(log_key))
        .map_err(|source| CosignError::LogSignature {
            log: log_key.name().to_string(),
            source,
        })?;
    let new = Checkpoint::from_body(verified.text()).map_err(CosignError::NotCheckpoint)?;
    let (last_size, last_root) = match last {
        None => (0, empty_root()),
        Some(last) => {
            if last.origin != new.origin {
                return Err(CosignError::OriginMismatch {
                    expected: last.origin.clone(),
                    got: new.origin,
                });
            }
            if new.size < last.size {
                return Err(CosignError::Rollback {
                    last: last.size,
                    new: new.size,
                });
            }
            (last.size, last.root)
        }
    };
    verify_consistency(last_size, new.size, &last_root, &new.root, proof).map_err(|source| {
        CosignError::Inconsistent {
            last: last_size,
            new: new.size,
            source,
        }
    })?;
    let mut cosigned = note.clone();
    cosigned.add_signature(witness).map_err(CosignError::Note)?;
    Ok(Cosigned {
        note: cosigned,
        checkpoint: new,
    })
}
