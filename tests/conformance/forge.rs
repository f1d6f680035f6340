//! The forger's side of the forged-row suite (`rows` in conformance.rs):
//! each store with plain SQL access to its tables, as its superuser or as
//! `jishi_app`, and rows written wrongly but sealed with a correct hash;
//! also what the attestation suite (conformance/attestation.rs) writes by
//! hand: attestations, checkpoints, edited notes and a cut tail.

use std::sync::Arc;

use jishi_ledger::attest::{self, Attestor};
use jishi_ledger::postgres::{tokio_postgres, PgOptions, PostgresStore};
use jishi_ledger::row::StoredRow;
use jishi_ledger::{EventStore, ProofStore, RecordedEvent};

use super::common;

/// A store under test with plain SQL access to its tables.
pub enum Db {
    Sqlite(common::Fixture),
    Postgres(common::PgFixture),
}

impl Db {
    pub(crate) fn sqlite() -> Db {
        Db::Sqlite(common::sqlite())
    }

    pub(crate) async fn postgres() -> Option<Db> {
        common::postgres().await.map(Db::Postgres)
    }

    pub(crate) fn store(&self) -> Arc<dyn EventStore> {
        match self {
            Db::Sqlite(fx) => fx.store.clone(),
            Db::Postgres(fx) => fx.store.clone(),
        }
    }

    /// The `--db` argument of the `jishi` binary for this ledger.
    pub(crate) fn db_arg(&self) -> String {
        match self {
            Db::Sqlite(fx) => fx.path.display().to_string(),
            Db::Postgres(fx) => fx.schema.db_url(),
        }
    }

    /// Inserts `row` with plain SQL, as the database's superuser (SQLite:
    /// whoever holds the file). INSERT is not refused by any trigger.
    pub(crate) async fn insert_as_dba(&self, row: &StoredRow) {
        match self {
            Db::Sqlite(fx) => {
                let conn = rusqlite::Connection::open(&fx.path).expect("open file");
                common::sqlite_insert_row(&conn, row);
            }
            Db::Postgres(fx) => {
                let c = fx.schema.connect().await;
                let payload = String::from_utf8_lossy(&row.payload).into_owned();
                c.execute(
                    "INSERT INTO events VALUES ($1, $2, $3, $4::text::uuid, $5, $6, $7, $8, \
                     $9, $10, $11, $12, $13, $14, $15, $16, $17)",
                    &[
                        &row.position,
                        &row.stream,
                        &row.stream_version,
                        &row.event_id,
                        &row.event_type,
                        &row.schema_version,
                        &row.occurred_at,
                        &row.recorded_at,
                        &row.actor_id,
                        &row.actor_name,
                        &row.actor_role,
                        &row.actor_org,
                        &payload,
                        &row.payload_digest,
                        &row.prev_hash,
                        &row.hash,
                        &row.stream_prev,
                    ],
                )
                .await
                .expect("insert as superuser");
            }
        }
    }

    /// A connection as `jishi_app` (PostgreSQL only).
    pub(crate) async fn app_connection(&self) -> Option<tokio_postgres::Client> {
        let Db::Postgres(fx) = self else { return None };
        let mut config = fx.schema.config();
        config.options(format!("-csearch_path={} -crole=jishi_app", fx.schema.name));
        Some(common::pg_connect(&config).await)
    }

    /// Writes `row` as `jishi_app` can since migration 7: through
    /// `jishi_append_events`. `None` on SQLite, which has no roles.
    pub(crate) async fn append_as_app(&self, row: &StoredRow) -> Option<Result<(), String>> {
        let c = self.app_connection().await?;
        let payload = String::from_utf8_lossy(&row.payload).into_owned();
        let event_id: uuid::Uuid = row.event_id.parse().expect("a uuid");
        let result = c
            .execute(
                "SELECT jishi_append_events(ARRAY[$1::bigint], ARRAY[$2::text], \
                 ARRAY[$3::bigint], ARRAY[$4::uuid], ARRAY[$5::text], ARRAY[$6::bigint], \
                 ARRAY[$7::text], ARRAY[$8::text], ARRAY[$9::text], ARRAY[$10::text], \
                 ARRAY[$11::text], ARRAY[$12::text], ARRAY[$13::text], ARRAY[$14::bytea], \
                 ARRAY[$15::bytea], ARRAY[$16::bytea], ARRAY[$17::bytea])",
                &[
                    &row.position,
                    &row.stream,
                    &row.stream_version,
                    &event_id,
                    &row.event_type,
                    &row.schema_version,
                    &row.occurred_at,
                    &row.recorded_at,
                    &row.actor_id,
                    &row.actor_name,
                    &row.actor_role,
                    &row.actor_org,
                    &payload,
                    &row.payload_digest,
                    &row.prev_hash,
                    &row.hash,
                    &row.stream_prev,
                ],
            )
            .await;
        Some(result.map(|_| ()).map_err(|e| {
            e.as_db_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string())
        }))
    }

    /// Removes the row at `position` as a DBA who goes around the triggers
    /// (and puts them back).
    pub(crate) async fn delete_as_dba(&self, position: i64) {
        match self {
            Db::Sqlite(fx) => {
                let conn = rusqlite::Connection::open(&fx.path).expect("open file");
                conn.execute_batch(&format!(
                    "BEGIN; DROP TRIGGER events_no_delete; \
                     DELETE FROM events WHERE position = {position}; \
                     CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN \
                     SELECT RAISE(ABORT, 'jishi: the ledger is append-only; events are never \
                     deleted'); END; COMMIT;"
                ))
                .expect("delete as the file's owner");
            }
            Db::Postgres(fx) => {
                let c = fx.schema.connect().await;
                c.batch_execute(&format!(
                    "SET session_replication_role = replica; \
                     DELETE FROM events WHERE position = {position}"
                ))
                .await
                .expect("delete as superuser");
            }
        }
    }

    /// The stored tree: every `tree_nodes` row and the frontier row.
    pub(crate) async fn stored_tree(&self) -> (Vec<(i64, Vec<u8>)>, Vec<Vec<u8>>) {
        match self {
            Db::Sqlite(fx) => {
                let conn = rusqlite::Connection::open(&fx.path).expect("open file");
                let nodes = conn
                    .prepare("SELECT leaf, hashes FROM tree_nodes ORDER BY leaf")
                    .and_then(|mut s| {
                        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .expect("read tree_nodes");
                let state = conn
                    .prepare("SELECT frontier FROM tree_state")
                    .and_then(|mut s| {
                        s.query_map([], |r| r.get(0))?
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .expect("read tree_state");
                (nodes, state)
            }
            Db::Postgres(fx) => {
                let c = fx.schema.connect().await;
                let nodes = c
                    .query("SELECT leaf, hashes FROM tree_nodes ORDER BY leaf", &[])
                    .await
                    .expect("read tree_nodes")
                    .iter()
                    .map(|r| (r.get(0), r.get(1)))
                    .collect();
                let state = c
                    .query("SELECT frontier FROM tree_state", &[])
                    .await
                    .expect("read tree_state")
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                (nodes, state)
            }
        }
    }

    /// The ledger opened again, as the next command would open it.
    pub(crate) async fn reopen(&self) -> Arc<dyn ProofStore> {
        self.reopen_with(None).await
    }

    /// The ledger opened again with a recording key (or none, D69).
    pub(crate) async fn reopen_with(&self, attestor: Option<Arc<Attestor>>) -> Arc<dyn ProofStore> {
        match self {
            Db::Sqlite(fx) => {
                let path = fx.path.clone();
                Arc::new(
                    tokio::task::spawn_blocking(move || jishi_ledger::SqliteStore::open(path))
                        .await
                        .expect("open")
                        .expect("a ledger with a forged row still opens")
                        .with_attestor(attestor),
                )
            }
            Db::Postgres(fx) => Arc::new(
                PostgresStore::open_with(
                    fx.schema.config(),
                    PgOptions {
                        attestor,
                        ..PgOptions::default()
                    },
                )
                .await
                .expect("a ledger with a forged row still opens"),
            ),
        }
    }

    /// Inserts the event `e` with plain SQL, as the database's superuser.
    pub(crate) async fn insert_event(&self, e: &RecordedEvent) {
        self.insert_as_dba(&StoredRow::of(e)).await
    }

    /// Inserts an attestation row as the administrator would.
    pub(crate) async fn insert_attestation(&self, a: &attest::Attestation) {
        match self {
            Db::Sqlite(fx) => {
                common::dba(&fx.path)
                    .execute(
                        "INSERT INTO attestations VALUES (?1, ?2, ?3, ?4, ?5)",
                        rusqlite::params![
                            a.last_position,
                            a.first_position,
                            a.key_name,
                            a.key_id,
                            a.signature
                        ],
                    )
                    .expect("insert by SQL");
            }
            Db::Postgres(fx) => {
                fx.schema
                    .connect()
                    .await
                    .execute(
                        "INSERT INTO attestations (last_position, first_position, key_name, \
                         key_id, signature) VALUES ($1, $2, $3, $4, $5)",
                        &[
                            &a.last_position,
                            &a.first_position,
                            &a.key_name,
                            &a.key_id,
                            &a.signature,
                        ],
                    )
                    .await
                    .expect("insert by SQL");
            }
        }
    }

    /// Inserts a checkpoint row as the administrator would.
    pub(crate) async fn insert_checkpoint(&self, c: &jishi_ledger::Checkpoint, note: &str) {
        match self {
            Db::Sqlite(fx) => {
                common::dba(&fx.path)
                    .execute(
                        "INSERT INTO checkpoints (origin, size, root, note, recorded_at) \
                         VALUES (?1, ?2, ?3, ?4, 'now')",
                        rusqlite::params![c.origin, c.size as i64, &c.root.0[..], note],
                    )
                    .expect("insert by SQL");
            }
            Db::Postgres(fx) => {
                fx.schema
                    .connect()
                    .await
                    .execute(
                        "INSERT INTO checkpoints (origin, size, root, note, recorded_at) \
                         VALUES ($1, $2, $3, $4, 'now')",
                        &[&c.origin, &(c.size as i64), &&c.root.0[..], &note],
                    )
                    .await
                    .expect("insert by SQL");
            }
        }
    }

    /// Rewrites every stored note, with the triggers out of the way.
    pub(crate) async fn edit_notes(&self, from: &str, to: &str) {
        match self {
            Db::Sqlite(fx) => {
                let c = common::dba(&fx.path);
                c.execute_batch("DROP TRIGGER IF EXISTS checkpoints_no_update")
                    .expect("drop trigger");
                c.execute(
                    "UPDATE checkpoints SET note = replace(note, ?1, ?2)",
                    [from, to],
                )
                .expect("update");
            }
            Db::Postgres(fx) => {
                let c = fx.schema.connect().await;
                c.batch_execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")
                    .await
                    .expect("disable triggers");
                c.execute(
                    "UPDATE checkpoints SET note = replace(note, $1, $2)",
                    &[&from, &to],
                )
                .await
                .expect("update");
            }
        }
    }

    /// Deletes the rows after `position` (and their tree nodes), with the
    /// append-only triggers out of the way: a superuser cutting the tail.
    pub(crate) async fn cut_after(&self, position: u64) {
        let p = position as i64;
        match self {
            Db::Sqlite(fx) => {
                // `dba` drops the events' triggers, as a hostile DBA would.
                let c = common::dba(&fx.path);
                c.execute("DELETE FROM events WHERE position > ?1", [p])
                    .expect("delete");
            }
            Db::Postgres(fx) => {
                let c = fx.schema.connect().await;
                c.batch_execute("ALTER TABLE events DISABLE TRIGGER USER")
                    .await
                    .expect("disable triggers");
                c.execute("DELETE FROM events WHERE position > $1", &[&p])
                    .await
                    .expect("delete");
            }
        }
    }

    /// Runs the `jishi` binary on this ledger: exit code and output.
    pub(crate) async fn jishi(&self, args: &[&str]) -> (i32, String) {
        let db = self.db_arg();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = common::jishi(std::path::Path::new(&db), &args, None);
            (out.status.code().unwrap_or(-1), common::text(&out))
        })
        .await
        .expect("jishi")
    }
}

/// A row that follows `last` as the append path would have written it
/// (a new stream, the same time), then changed by `edit`, and sealed with
/// its digest and hash recomputed (docs/FORMAT.md §4): chain-consistent.
pub(crate) fn forged_after(last: &RecordedEvent, edit: impl FnOnce(&mut StoredRow)) -> StoredRow {
    let mut r = StoredRow::of(last);
    r.position = last.position as i64 + 1;
    r.stream = "candidate/forged".into();
    r.stream_version = 1;
    r.event_id = uuid::Uuid::new_v4().hyphenated().to_string();
    r.payload = br#"{"seq":1,"vote":"forged"}"#.to_vec();
    r.prev_hash = last.hash.0.to_vec();
    // The first event of its stream: its stream predecessor is zeros.
    r.stream_prev = Some(vec![0; 32]);
    edit(&mut r);
    r.payload_digest = jishi_ledger::canonical::payload_digest(&r.payload)
        .0
        .to_vec();
    r.hash = r
        .computed_hash_at(r.position as u64, &mut Vec::new())
        .expect("a hashable row")
        .0
        .to_vec();
    r
}

/// `recorded_at` of `last`, moved by `secs` seconds.
pub(crate) fn shifted(last: &RecordedEvent, secs: i64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(&last.recorded_at).expect("rfc 3339");
    jishi_ledger::prepare::format_recorded_at(
        (t + chrono::Duration::seconds(secs)).with_timezone(&chrono::Utc),
    )
}

pub(crate) type Edit = Box<dyn Fn(&mut StoredRow, &RecordedEvent)>;

/// Every malformed-field variant: a name, the edit, and how the verifier's
/// detail must start.
pub(crate) fn variants() -> Vec<(&'static str, Edit, &'static str)> {
    vec![
        (
            "recorded_at 10 minutes backwards",
            Box::new(|r, last| r.recorded_at = shifted(last, -600)),
            "recorded_at: ",
        ),
        (
            "recorded_at a day earlier (yesterday)",
            Box::new(|r, last| r.recorded_at = shifted(last, -86_400)),
            "recorded_at: ",
        ),
        (
            "recorded_at \"yesterday\"",
            Box::new(|r, _| r.recorded_at = "yesterday".into()),
            "recorded_at: \"yesterday\"",
        ),
        (
            "garbage occurred_at",
            Box::new(|r, _| r.occurred_at = "next tuesday-ish".into()),
            "occurred_at: ",
        ),
        (
            "non-JSON payload",
            Box::new(|r, _| r.payload = b"{\"vote\": forged".to_vec()),
            "payload: malformed JSON",
        ),
        (
            "array payload",
            Box::new(|r, _| r.payload = b"[1,2,3]".to_vec()),
            "payload: must be a JSON object",
        ),
        (
            "event type Bad Type!",
            Box::new(|r, _| r.event_type = "Bad Type!".into()),
            "event_type: ",
        ),
        (
            "empty actor name",
            Box::new(|r, _| r.actor_name = String::new()),
            "actor.name: must not be empty",
        ),
        (
            "schema_version 0",
            Box::new(|r, _| r.schema_version = 0),
            "schema_version: ",
        ),
    ]
}

/// Does the time edit of this variant touch recorded_at (which
/// `jishi_append_events` judges)?
pub(crate) fn about_recorded_at(name: &str) -> bool {
    name.starts_with("recorded_at")
}
