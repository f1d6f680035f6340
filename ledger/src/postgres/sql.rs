//! The SQL the append path sends, and the parameter arrays it binds. The
//! statements are literals (some built with `concat!`) so that the one
//! statement a group writes can embed the others.

use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;

use super::{pg, to_i64, tree};
use crate::attest::Attestation;
use crate::store::{Head, StoreError};
use crate::RecordedEvent;

pub(super) const COLUMNS: &str = "position, stream, stream_version, event_id::text, event_type, \
     schema_version, occurred_at, recorded_at, actor_id, actor_name, actor_role, actor_org, \
     payload, payload_digest, prev_hash, hash, stream_prev";

/// The stored events with any of the ids in `$1`, as [`super::reads::existing_row`] reads them.
pub(super) const STORED_BY_ID: &str =
    "SELECT event_id, position, stream, stream_version, event_type, \
     schema_version, occurred_at, actor_id, actor_name, actor_role, actor_org, payload_digest, \
     hash FROM events WHERE event_id = ANY($1::uuid[])";

/// The byte-order bounds of the streams under `prefix` (see
/// `migrations/postgres/0003_stream_prefix.sql`): such a stream sorts in
/// `[prefix, prefix + "0")` and is the prefix or sorts at or after
/// `prefix + "/"`, as no byte lies between `/` and `0`.
pub(super) const UNDER_PREFIX: &str = "stream COLLATE \"C\" >= $1 AND stream COLLATE \"C\" < $3 \
     AND (stream = $1 OR stream COLLATE \"C\" >= $2)";

pub(super) fn prefix_bounds(prefix: &str) -> (String, String) {
    (format!("{prefix}/"), format!("{prefix}0"))
}

/// The last position under each of the prefixes `$1` (with their bounds `$2`
/// and `$3`, see [`UNDER_PREFIX`]), for the guarded callers of a group, in
/// one statement. The OFFSET 0 fence keeps the planner from turning max()
/// into a backward walk of the position index filtered by stream, which for
/// an election with few or no events reads the whole ledger.
pub(super) const LAST_POSITIONS_UNDER: &str = "SELECT u.prefix, (SELECT max(position) FROM \
     (SELECT position FROM events WHERE stream COLLATE \"C\" >= u.prefix \
     AND stream COLLATE \"C\" < u.upper AND (stream = u.prefix OR stream COLLATE \"C\" >= u.slash) \
     OFFSET 0) AS under) \
     FROM unnest($1::text[], $2::text[], $3::text[]) AS u(prefix, slash, upper)";

/// The statement of [`INSERT_EVENTS`], as a literal so that [`WRITE_GROUP`]
/// can embed it.
macro_rules! insert_events {
    () => {
        "INSERT INTO events (position, stream, stream_version, \
         event_id, event_type, schema_version, occurred_at, recorded_at, actor_id, actor_name, \
         actor_role, actor_org, payload, payload_digest, prev_hash, hash, stream_prev) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], \
         $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::bytea[], $15::bytea[], $16::bytea[], $17::bytea[])"
    };
}

/// The one statement that writes ledger rows: a multi-row insert of arrays,
/// one per column (`insert_rows` binds them). The benchmark's baseline runs the
/// same statement, so the two differ only in what the ledger adds around it.
pub const INSERT_EVENTS: &str = insert_events!();

/// The call that appends ledger rows for the store, owner or `jishi_app`
/// alike (migration 7, D63): [`INSERT_EVENTS`]'s arrays handed to
/// `jishi_append_events`, which refuses them unless their positions follow
/// the head, their prev_hashes link and their recorded_at values are in
/// order and near the database's clock. A literal, for [`WRITE_GROUP`].
macro_rules! append_events {
    // `$sp`: the parameter of the stream_prev column (format 3, migration
    // 9), `$17` on its own, last (`$29`) in [`WRITE_GROUP`].
    ($sp:literal) => {
        concat!(
            "SELECT jishi_append_events($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], \
             $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], \
             $11::text[], $12::text[], $13::text[], $14::bytea[], $15::bytea[], $16::bytea[], ",
            $sp,
            "::bytea[])"
        )
    };
}

/// [`append_events!`] on its own: the rows of a group too large for one
/// [`WRITE_GROUP`], a chunk at a time.
pub(super) const APPEND_EVENTS: &str = append_events!("$17");

/// What a group transaction writes, as one statement: the events (through
/// [`APPEND_EVENTS`], `$1`–`$16` and `$29`), the new leaves' tree nodes
/// (`$17`, `$18`) and the frontier (`$19`). One statement, so that COMMIT can be sent with
/// it safely (see `in_transaction`).
///
/// It writes only if the ledger is still as the group was planned: the head
/// at position `$20` (0: no event) with hash `$21`, the frontier row `$22`
/// (NULL: none) and the last attested position `$23`. With it goes the
/// group's attestation (`$24`–`$28`, NULL when the ledger has no key). Otherwise it writes nothing and reports 0 rows, where
/// a write reports 1 (the `tree_state` row). Under the head lock that can
/// only be false for a group planned from what the writer knew
/// (`writer::commit_from_known`) after another process appended, or after someone
/// changed the tables by hand. All parts read the statement's one snapshot,
/// taken after the lock was granted. The function call is a CTE that the
/// final INSERT reads, so it runs exactly when `ok` holds (a volatile call
/// is never folded away); if it refuses the rows, the statement fails and
/// nothing commits.
pub(super) const WRITE_GROUP: &str = concat!(
    "WITH ok AS (SELECT 1 WHERE COALESCE((SELECT position = $20 AND hash = $21 FROM events \
     ORDER BY position DESC LIMIT 1), $20 = 0) \
     AND (SELECT frontier FROM tree_state WHERE id = 1) IS NOT DISTINCT FROM $22::bytea \
     AND COALESCE((SELECT max(last_position) FROM attestations), 0) = $23), \
     attested AS (INSERT INTO attestations (last_position, first_position, key_name, key_id, \
     signature) SELECT $24::bigint, $25::bigint, $26::text, $27::bigint, $28::bytea FROM ok \
     WHERE $24::bigint IS NOT NULL), \
     written AS (",
    append_events!("$29"),
    " AS n FROM ok), \
     nodes AS (INSERT INTO tree_nodes (leaf, hashes) \
     SELECT * FROM unnest($17::bigint[], $18::bytea[]) WHERE EXISTS (SELECT FROM ok)) \
     INSERT INTO tree_state (id, frontier) SELECT 1, $19::bytea FROM ok, written \
     ON CONFLICT (id) DO UPDATE SET frontier = excluded.frontier"
);

/// The last position the stored attestations cover (0: none).
pub(super) const ATTESTED_THROUGH: &str =
    "SELECT COALESCE(max(last_position), 0)::bigint FROM attestations";

pub(super) async fn insert_attestation<C: GenericClient>(
    client: &C,
    a: &Attestation,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO attestations (last_position, first_position, key_name, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&a.last_position, &a.first_position, &a.key_name, &a.key_id, &a.signature],
        )
        .await
        .map_err(pg("writing the attestation"))?;
    Ok(())
}

/// The parameters of [`WRITE_GROUP`].
pub(super) struct GroupWrite<'a> {
    columns: EventColumns<'a>,
    tree: &'a tree::Extension,
    head_position: i64,
    head_hash: Vec<u8>,
    frontier_before: Option<Vec<u8>>,
    attested_before: i64,
    last: Option<i64>,
    first: Option<i64>,
    key_name: Option<&'a str>,
    key_id: Option<i64>,
    signature: Option<&'a [u8]>,
}

impl<'a> GroupWrite<'a> {
    pub(super) fn new(
        rows: &'a [RecordedEvent],
        tree: &'a tree::Extension,
        head: Option<&Head>,
        frontier_before: Option<Vec<u8>>,
        (attested_before, attestation): (u64, Option<&'a Attestation>),
    ) -> Self {
        GroupWrite {
            columns: EventColumns::of(rows),
            tree,
            head_position: head.map_or(0, |h| to_i64(h.position)),
            head_hash: head.map_or_else(Vec::new, |h| h.hash.0.to_vec()),
            frontier_before,
            attested_before: to_i64(attested_before),
            last: attestation.map(|a| a.last_position),
            first: attestation.map(|a| a.first_position),
            key_name: attestation.map(|a| a.key_name.as_str()),
            key_id: attestation.map(|a| a.key_id),
            signature: attestation.map(|a| a.signature.as_slice()),
        }
    }

    pub(super) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let columns = self.columns.params();
        let mut params: Vec<&(dyn ToSql + Sync)> = columns[..16].to_vec();
        params.extend([
            &self.tree.leaves as &(dyn ToSql + Sync),
            &self.tree.nodes,
            &self.tree.frontier,
            &self.head_position,
            &self.head_hash,
            &self.frontier_before,
            &self.attested_before,
            &self.last,
            &self.first,
            &self.key_name,
            &self.key_id,
            &self.signature,
            // $29: stream_prev, added with format 3 after the others.
            columns[16],
        ]);
        params
    }
}

/// The columns of some ledger rows as the arrays [`INSERT_EVENTS`] binds.
struct EventColumns<'a> {
    position: Vec<i64>,
    stream: Vec<&'a str>,
    version: Vec<i64>,
    event_id: Vec<uuid::Uuid>,
    event_type: Vec<&'a str>,
    schema: Vec<i64>,
    occurred: Vec<&'a str>,
    recorded: Vec<&'a str>,
    actor_id: Vec<&'a str>,
    actor_name: Vec<&'a str>,
    actor_role: Vec<&'a str>,
    actor_org: Vec<&'a str>,
    payload: Vec<&'a str>,
    digest: Vec<&'a [u8]>,
    prev: Vec<&'a [u8]>,
    hash: Vec<&'a [u8]>,
    stream_prev: Vec<Option<&'a [u8]>>,
}

impl<'a> EventColumns<'a> {
    fn of(rows: &'a [RecordedEvent]) -> Self {
        EventColumns {
            position: rows.iter().map(|e| to_i64(e.position)).collect(),
            stream: rows.iter().map(|e| e.stream.as_str()).collect(),
            version: rows.iter().map(|e| to_i64(e.stream_version)).collect(),
            event_id: rows.iter().map(|e| e.event_id).collect(),
            event_type: rows.iter().map(|e| e.event_type.as_str()).collect(),
            schema: rows.iter().map(|e| i64::from(e.schema_version)).collect(),
            occurred: rows.iter().map(|e| e.occurred_at.as_str()).collect(),
            recorded: rows.iter().map(|e| e.recorded_at.as_str()).collect(),
            actor_id: rows.iter().map(|e| e.actor.id.as_str()).collect(),
            actor_name: rows.iter().map(|e| e.actor.name.as_str()).collect(),
            actor_role: rows.iter().map(|e| e.actor.role.as_str()).collect(),
            actor_org: rows.iter().map(|e| e.actor.org.as_str()).collect(),
            payload: rows.iter().map(|e| e.payload.as_str()).collect(),
            digest: rows.iter().map(|e| &e.payload_digest.0[..]).collect(),
            prev: rows.iter().map(|e| &e.prev_hash.0[..]).collect(),
            hash: rows.iter().map(|e| &e.hash.0[..]).collect(),
            stream_prev: rows
                .iter()
                .map(|e| e.stream_prev.as_ref().map(|d| &d.0[..]))
                .collect(),
        }
    }

    /// `$1`–`$17` of [`INSERT_EVENTS`], in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.position,
            &self.stream,
            &self.version,
            &self.event_id,
            &self.event_type,
            &self.schema,
            &self.occurred,
            &self.recorded,
            &self.actor_id,
            &self.actor_name,
            &self.actor_role,
            &self.actor_org,
            &self.payload,
            &self.digest,
            &self.prev,
            &self.hash,
            &self.stream_prev,
        ]
    }
}

/// Writes `rows` as they are (no check, no hashing) with a prepared
/// [`INSERT_EVENTS`].
pub async fn insert_rows<C: GenericClient>(
    client: &C,
    insert: &tokio_postgres::Statement,
    rows: &[RecordedEvent],
) -> Result<(), StoreError> {
    let columns = EventColumns::of(rows);
    client
        .execute(insert, &columns.params())
        .await
        .map_err(pg("inserting ledger rows"))?;
    Ok(())
}
