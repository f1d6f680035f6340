//! Schema drift: the protections the migrations installed, as the database
//! holds them now.
//!
//! The chain catches a changed row whatever the schema says, so the
//! append-only triggers and the application role's narrow grants "only"
//! stop accidents and the application role. But an operator who reads
//! `jishi verify: ok` should also know when those protections are gone: a
//! dropped or disabled trigger, or an UPDATE granted to `jishi_app`, makes
//! the next edit silent until the next verify. So verify and init compare
//! the schema with what the migrations installed (D64), and each store
//! says what it finds ([`crate::EventStore::schema_drift`]).

use std::fmt;

/// One protection that is not as the migrations left it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaDrift {
    /// What it concerns: `trigger events_no_update on events`,
    /// `grant to jishi_app on events`, …
    pub object: String,
    /// What is wrong with it, and what it allows.
    pub problem: String,
}

impl SchemaDrift {
    pub fn new(object: impl Into<String>, problem: impl Into<String>) -> SchemaDrift {
        SchemaDrift {
            object: object.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for SchemaDrift {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.object, self.problem)
    }
}

/// The append-only triggers both stores install, as (table, trigger, the
/// operation it refuses). PostgreSQL also refuses TRUNCATE
/// ([`POSTGRES_TRUNCATE_TRIGGERS`]); SQLite has no TRUNCATE.
pub const APPEND_ONLY_TRIGGERS: &[(&str, &str, &str)] = &[
    ("events", "events_no_update", "UPDATE"),
    ("events", "events_no_delete", "DELETE"),
    ("tree_nodes", "tree_nodes_no_update", "UPDATE"),
    ("tree_nodes", "tree_nodes_no_delete", "DELETE"),
    ("checkpoints", "checkpoints_no_update", "UPDATE"),
    ("checkpoints", "checkpoints_no_delete", "DELETE"),
    ("attestations", "attestations_no_update", "UPDATE"),
    ("attestations", "attestations_no_delete", "DELETE"),
];

/// PostgreSQL's TRUNCATE triggers, beside [`APPEND_ONLY_TRIGGERS`].
pub const POSTGRES_TRUNCATE_TRIGGERS: &[(&str, &str, &str)] = &[
    ("events", "events_no_truncate", "TRUNCATE"),
    ("tree_nodes", "tree_nodes_no_truncate", "TRUNCATE"),
    ("checkpoints", "checkpoints_no_truncate", "TRUNCATE"),
    ("attestations", "attestations_no_truncate", "TRUNCATE"),
];
