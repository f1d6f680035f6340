//! The versioned schema, embedded in the binary from the top-level
//! `migrations/` folder so that `jishi init` needs no files beside it.
//!
//! Each store keeps a table `jishi_migrations(version, name, checksum,
//! applied_at)`. Opening a store applies what is missing, in order, each in
//! its own transaction; a recorded migration whose text no longer matches the
//! binary's (checksum) or a database newer than the binary is refused rather
//! than guessed at.

/// One schema step.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    /// BLAKE3 of the SQL text, hex: what the database records, to notice drift.
    pub fn checksum(&self) -> String {
        blake3::hash(self.sql.as_bytes()).to_hex().to_string()
    }
}

/// The SQLite schema, oldest first.
pub const SQLITE: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sql: include_str!("../../migrations/sqlite/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "tree",
        sql: include_str!("../../migrations/sqlite/0002_tree.sql"),
    },
    Migration {
        version: 3,
        name: "attestations",
        sql: include_str!("../../migrations/sqlite/0003_attestations.sql"),
    },
    Migration {
        version: 4,
        name: "stream_prev",
        sql: include_str!("../../migrations/sqlite/0004_stream_prev.sql"),
    },
];

/// The PostgreSQL schema, oldest first. Version 2 is separate from version 1
/// so that the upgrade path (a ledger created before the application role
/// existed) is tested, not only the fresh one.
pub const POSTGRES: &[Migration] = &[
    Migration {
        version: 1,
        name: "ledger",
        sql: include_str!("../../migrations/postgres/0001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "app_role",
        sql: include_str!("../../migrations/postgres/0002_app_role.sql"),
    },
    Migration {
        version: 3,
        name: "stream_prefix",
        sql: include_str!("../../migrations/postgres/0003_stream_prefix.sql"),
    },
    Migration {
        version: 4,
        name: "tree",
        sql: include_str!("../../migrations/postgres/0004_tree.sql"),
    },
    Migration {
        version: 5,
        name: "tree_runs",
        sql: include_str!("../../migrations/postgres/0005_tree_runs.sql"),
    },
    Migration {
        version: 6,
        name: "tree_runs_plain",
        sql: include_str!("../../migrations/postgres/0006_tree_runs_plain.sql"),
    },
    Migration {
        version: 7,
        name: "append_function",
        sql: include_str!("../../migrations/postgres/0007_append_function.sql"),
    },
    Migration {
        version: 8,
        name: "attestations",
        sql: include_str!("../../migrations/postgres/0008_attestations.sql"),
    },
    Migration {
        version: 9,
        name: "stream_prev",
        sql: include_str!("../../migrations/postgres/0009_stream_prev.sql"),
    },
];

/// Checks a database's recorded migrations against the binary's list and
/// returns the ones still to apply.
pub fn pending<'a>(
    all: &'a [Migration],
    applied: &[(i64, String)],
) -> Result<Vec<&'a Migration>, crate::StoreError> {
    for (version, checksum) in applied {
        match all.iter().find(|m| m.version == *version) {
            None => {
                return Err(crate::StoreError::Schema(format!(
                    "the database has schema version {version}, which this jishi does not know \
                     (it knows up to {}); use a newer jishi",
                    all.last().map_or(0, |m| m.version)
                )))
            }
            Some(m) if m.checksum() != *checksum => {
                return Err(crate::StoreError::Schema(format!(
                    "migration {version} ({}) recorded in the database differs from this \
                     jishi's copy (checksum {checksum} vs {})",
                    m.name,
                    m.checksum()
                )))
            }
            Some(_) => {}
        }
    }
    Ok(all
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect())
}
