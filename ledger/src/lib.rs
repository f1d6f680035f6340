//! `jishi-ledger`: a general tamper-evident event store.
//!
//! Architecture invariant: this crate knows no word of 换届. It stores envelopes
//! whose payloads are opaque JSON objects, chains them by BLAKE3, and proves
//! that nothing stored was changed, removed, inserted or reordered.

pub mod checkpoint;
mod digest;
mod envelope;
pub mod merkle;
pub mod note;

pub use checkpoint::{cosign, Checkpoint, CheckpointError, CosignError, Cosigned};
pub use digest::{Digest, DigestParseError};
pub use envelope::{Actor, AppendRequest, ExpectedVersion, NewEvent, Payload, RecordedEvent};
pub use merkle::{
    ConsistencyProof, Frontier, FrontierError, InclusionProof, MemoryTree, NodeSource, ProveError,
    TreeNode, VerifyError,
};
pub use note::{KeyError, Note, NoteError, NoteSignature, SignerKey, VerifiedNote, VerifierKey};
