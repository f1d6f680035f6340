//! A transparency-log witness that speaks C2SP `tlog-witness`, and the client
//! a jishi log uses to gather witnesses' cosignatures (docs/FORMAT-merkle.md
//! §12).
//!
//! In a 换届 the county organisation department runs the log; the city's
//! organisation department and its discipline commission each run a witness.
//! A witness cosigns a checkpoint only if it extends, by a valid consistency
//! proof, the last one it cosigned for that log; it writes its new state to
//! disk before it answers. So a county cannot show one history to the city
//! and another to an investigator and have both cosigned: the second is
//! refused, and the two signed checkpoints are kept as evidence.
//!
//! The witness is generic: any log whose checkpoints are C2SP checkpoints
//! and whose key the operator configures can use it (jishi's checkpoints
//! carry a stream-map extension line, which the cosignature covers like the
//! rest of the note; the witness vouches only for the first three lines, as
//! the spec says).

pub mod client;
pub mod request;
pub mod service;
pub mod state;

pub use client::{gather_cosignatures, Gathered, WitnessEndpoint};
pub use request::{AddCheckpoint, RequestError};
pub use service::{
    check_consistency, refusal_record, router, serve, write_evidence, Reply, Witness, WitnessConfig,
};
pub use state::{LogState, WitnessState, STATE_FORMAT};
