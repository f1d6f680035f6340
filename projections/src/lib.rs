//! The 换届 selection domain for jishi: the procedure as data, the event catalogue,
//! and the pure `decide` / `apply` functions that refuse to record a step which
//! breaks the procedure (程序不走样).
//!
//! Architecture invariant: this crate does no I/O and knows no SQL and no ledger.
//! Time comes from commands, procedures from strings, events from values; the
//! application maps them to and from the ledger's envelopes.

pub mod actor;
pub mod calendar;
pub mod command;
pub mod decide;
pub mod demo;
pub mod demo_kinds;
pub mod events;
pub mod person;
pub mod procedure;
pub mod procedure_record;
pub mod replay;
pub mod results;
pub mod rules;
pub mod state;
pub mod views;

pub use actor::{org_covers, Actor};
pub use calendar::WorkCalendar;
pub use command::{Command, CommandError, OverrideRequest};
pub use decide::{decide, Refusal};
pub use events::{
    candidate_stream, election_stream, kind_of, parse_stream, sensitivity_of, stream_in_election,
    DomainEvent, EventBody, EventError, EventKind, FieldDoc, Scope, Sensitivity, CATALOGUE,
};
pub use procedure::{Procedure, ProcedureError, Role, Stage, Step, BUILTIN, FOUR_CHECKS};
pub use procedure_record::{differences, digest_of};
pub use rules::{RuleId, Source, Violation};
pub use state::{apply, fold, CandidateState, ElectionState};
