//! Schema drift in the SQLite file (see [`crate::drift`]): the append-only
//! triggers, read back from `sqlite_master`. SQLite has no roles and no way
//! to disable a trigger short of dropping it, so a trigger is in place when
//! it exists on its table, fires before the operation it refuses, and
//! aborts.

use rusqlite::Connection;

use super::db_err;
use crate::drift::{SchemaDrift, APPEND_ONLY_TRIGGERS};
use crate::store::StoreError;

pub(super) fn schema_drift(conn: &Connection) -> Result<Vec<SchemaDrift>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT name, tbl_name, coalesce(sql, '') FROM sqlite_master WHERE type = 'trigger'",
        )
        .map_err(db_err)?;
    let triggers = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(db_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db_err)?;
    let mut out = Vec::new();
    for (table, name, op) in APPEND_ONLY_TRIGGERS {
        let object = format!("trigger {name} on {table}");
        let Some((_, on, sql)) = triggers.iter().find(|(n, _, _)| n == name) else {
            out.push(SchemaDrift::new(
                object,
                format!("is missing (dropped): {op} on {table} is no longer refused"),
            ));
            continue;
        };
        let sql = sql
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_uppercase();
        if on != table
            || !sql.contains(&format!("BEFORE {op} ON {}", table.to_uppercase()))
            || !sql.contains("RAISE(ABORT")
        {
            out.push(SchemaDrift::new(
                object,
                format!(
                    "was replaced by one that does not abort {op} on {table} before it happens"
                ),
            ));
        }
    }
    Ok(out)
}
