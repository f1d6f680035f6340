//! A transparency-log mirror that speaks C2SP `tlog-mirror`, and the client
//! a jishi log pushes itself with (docs/FORMAT-merkle.md §15).
//!
//! In a 换届 the county organisation department runs the log; the city runs
//! a mirror of it (上查一级). A witness only remembers the last checkpoint;
//! a mirror keeps the whole log, verified, so that the city still holds the
//! county's history if the county's server is lost or its database is
//! rewritten, and an investigator can read it from the city. The mirror's
//! cosignature says more than a witness's: that the mirror has durably
//! stored every entry up to the checkpoint and serves it.
//!
//! - `add-checkpoint` is the witness's call, on the mirror's *pending*
//!   checkpoint: the same checks, the same evidence of forks, no
//!   cosignature ([`service`]).
//! - `add-entries` takes entry packages of 256, each with a subtree
//!   consistency proof against a pending checkpoint, and commits each one
//!   before reading the next, so an upload cut off, or a mirror killed,
//!   loses no verified package; at the end it cosigns, after the commit
//!   ([`entries`]).
//! - For a jishi log the mirror checks every event too: `jishi/add-envelopes`
//!   uploads each event's hash input first, checked for canonical bytes,
//!   position, the ledger's chain and each stream's chain ([`events`]); an
//!   entry is then taken only if it is the BLAKE3 of its envelope.
//! - The replica is served as C2SP tiles under `/<sha256(origin)>/`
//!   ([`tiles`]).
//! - Push is the first mode ([`client`]: the county sends); in pull mode
//!   the city fetches the county's tiles and feeds its mirror ([`pull`]).
//!
//! Why a crate of its own and not part of `witness/`: the witness holds no
//! log (one JSON file); the mirror is a store, an upload protocol and a tile
//! server. What they share, the `add-checkpoint` parser and the evidence
//! files, it takes from `jishi-witness` (D90).

pub mod body;
pub mod client;
pub mod entries;
pub mod events;
pub mod pull;
pub mod service;
pub mod store;
pub mod tiles;
pub mod wire;

pub use client::{push, push_log, EntryTree, Pushed};
pub use pull::pull;
pub use service::{router, serve, LogConfig, Mirror, MirrorConfig, Reply};
pub use wire::origin_hash;
