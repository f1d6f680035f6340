//! Reading rows back: the lenient column readers (a mangled row must reach
//! the verifier rather than fail the read), the head, and the queries behind
//! the read half of `EventStore`.

use std::collections::{BTreeMap, HashMap};

use deadpool_postgres::Client;
use tokio_postgres::{GenericClient, Row};

use super::sql::{prefix_bounds, COLUMNS, STORED_BY_ID, UNDER_PREFIX};
use super::{pg, to_i64};
use crate::attest::Attestation;
use crate::row::StoredRow;
use crate::store::{ExistingEvent, Head, StoreError, StreamTip};
use crate::{Actor, Digest, RecordedEvent};

// Lenient column readers: a row a superuser mangled (NULLs where the schema
// says NOT NULL, after dropping the constraint) must still reach the verifier.

pub(super) fn text(r: &Row, i: usize) -> Result<String, tokio_postgres::Error> {
    Ok(r.try_get::<_, Option<String>>(i)?.unwrap_or_default())
}

pub(super) fn bytes(r: &Row, i: usize) -> Result<Vec<u8>, tokio_postgres::Error> {
    Ok(r.try_get::<_, Option<Vec<u8>>>(i)?.unwrap_or_default())
}

pub(super) fn int(r: &Row, i: usize) -> Result<i64, tokio_postgres::Error> {
    // -1 fails every check, as a NULL number should.
    Ok(r.try_get::<_, Option<i64>>(i)?.unwrap_or(-1))
}

pub(super) fn stored_row(r: &Row) -> Result<StoredRow, tokio_postgres::Error> {
    Ok(StoredRow {
        position: int(r, 0)?,
        stream: text(r, 1)?,
        stream_version: int(r, 2)?,
        event_id: text(r, 3)?,
        event_type: text(r, 4)?,
        schema_version: int(r, 5)?,
        occurred_at: text(r, 6)?,
        recorded_at: text(r, 7)?,
        actor_id: text(r, 8)?,
        actor_name: text(r, 9)?,
        actor_role: text(r, 10)?,
        actor_org: text(r, 11)?,
        payload: text(r, 12)?.into_bytes(),
        payload_digest: bytes(r, 13)?,
        prev_hash: bytes(r, 14)?,
        hash: bytes(r, 15)?,
        stream_prev: r.try_get::<_, Option<Vec<u8>>>(16)?,
    })
}

pub(super) async fn read_head<C: GenericClient>(client: &C) -> Result<Option<Head>, StoreError> {
    client
        .query_opt(
            "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(pg("reading the ledger head"))?
        .as_ref()
        .map(head_of)
        .transpose()
}

/// A head from a `position, hash, recorded_at` row.
pub(super) fn head_of(row: &Row) -> Result<Head, StoreError> {
    let what = "reading the ledger head";
    let position = int(row, 0).map_err(pg(what))?;
    let hash = bytes(row, 1).map_err(pg(what))?;
    Ok(Head {
        position: u64::try_from(position).map_err(|_| StoreError::Corrupt {
            position,
            reason: "negative position".into(),
        })?,
        hash: Digest::from_slice(&hash).ok_or(StoreError::Corrupt {
            position,
            reason: "hash is not 32 bytes".into(),
        })?,
        recorded_at: text(row, 2).map_err(pg(what))?,
    })
}

/// One row of [`STORED_BY_ID`].
pub(super) fn existing_row(r: &Row) -> Result<(uuid::Uuid, ExistingEvent), tokio_postgres::Error> {
    Ok((
        r.try_get::<_, uuid::Uuid>(0)?,
        ExistingEvent {
            position: u64::try_from(int(r, 1)?).unwrap_or(0),
            stream: text(r, 2)?,
            stream_version: u64::try_from(int(r, 3)?).unwrap_or(0),
            event_type: text(r, 4)?,
            schema_version: u32::try_from(int(r, 5)?).unwrap_or(0),
            occurred_at: text(r, 6)?,
            actor: Actor {
                id: text(r, 7)?,
                name: text(r, 8)?,
                role: text(r, 9)?,
                org: text(r, 10)?,
            },
            payload_digest: Digest::from_slice(&bytes(r, 11)?).unwrap_or_default(),
            hash: Digest::from_slice(&bytes(r, 12)?).unwrap_or_default(),
        },
    ))
}

pub(super) async fn read_attestations(
    client: &Client,
    from_last: u64,
    limit: usize,
) -> Result<Vec<Attestation>, StoreError> {
    let what = "reading attestations";
    let rows = client
        .query(
            "SELECT first_position, last_position, key_name, key_id, signature \
             FROM attestations WHERE last_position >= $1 ORDER BY last_position LIMIT $2",
            &[&to_i64(from_last), &(limit.min(i64::MAX as usize) as i64)],
        )
        .await
        .map_err(pg(what))?;
    rows.iter()
        .map(|r| {
            Ok(Attestation {
                first_position: int(r, 0)?,
                last_position: int(r, 1)?,
                key_name: text(r, 2)?,
                key_id: int(r, 3)?,
                signature: bytes(r, 4)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(pg(what))
}

pub(super) async fn read_prefix(
    client: &Client,
    prefix: &str,
    from_position: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let what = "reading streams under a prefix";
    let stmt = client
        .prepare_cached(&format!(
            // As in `LAST_POSITIONS_UNDER`: read the election's range of the
            // stream index and sort it, rather than walk the whole ledger
            // in position order looking for the election's rows.
            "SELECT * FROM (SELECT {COLUMNS} FROM events \
             WHERE {UNDER_PREFIX} AND position >= $4 OFFSET 0) AS under \
             ORDER BY position LIMIT $5"
        ))
        .await
        .map_err(pg(what))?;
    let (slash, end) = prefix_bounds(prefix);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    client
        .query(
            &stmt,
            &[&prefix, &slash, &end, &to_i64(from_position), &limit],
        )
        .await
        .map_err(pg(what))?
        .iter()
        .map(|r| stored_row(r).map_err(pg(what))?.into_event())
        .collect()
}

pub(super) async fn read_stream(
    client: &Client,
    stream: &str,
    from_version: u64,
    limit: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let what = "reading a stream";
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE stream = $1 AND stream_version >= $2 \
             ORDER BY stream_version LIMIT $3"
        ))
        .await
        .map_err(pg(what))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    client
        .query(&stmt, &[&stream, &to_i64(from_version), &limit])
        .await
        .map_err(pg(what))?
        .iter()
        .map(|r| stored_row(r).map_err(pg(what))?.into_event())
        .collect()
}

/// A primary-key range scan of at most `limit` rows: the verifier pages
/// through a ledger of any length in constant memory.
pub(super) async fn read_rows(
    client: &Client,
    from_position: u64,
    limit: usize,
) -> Result<Vec<StoredRow>, StoreError> {
    let what = "reading ledger rows";
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"
        ))
        .await
        .map_err(pg(what))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    client
        // 0 reads every row, also rows at positions below 1 (tampering).
        .query(
            &stmt,
            &[
                &if from_position == 0 {
                    i64::MIN
                } else {
                    to_i64(from_position)
                },
                &limit,
            ],
        )
        .await
        .map_err(pg(what))?
        .iter()
        .map(|r| stored_row(r).map_err(pg(what)))
        .collect()
}

pub(super) async fn stream_version(
    client: &Client,
    stream: &str,
) -> Result<Option<u64>, StoreError> {
    let what = "reading a stream version";
    let v: Option<i64> = client
        .query_one(
            "SELECT max(stream_version) FROM events WHERE stream = $1",
            &[&stream],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(pg(what))?;
    Ok(v.map(|v| u64::try_from(v).unwrap_or(0)))
}

pub(super) async fn stream_heads(
    client: &Client,
    size: u64,
) -> Result<BTreeMap<String, StreamTip>, StoreError> {
    let what = "reading the stream heads";
    let rows = client
        .query(
            "SELECT DISTINCT ON (stream) stream, stream_version, hash FROM events \
             WHERE position <= $1 ORDER BY stream, stream_version DESC",
            &[&to_i64(size)],
        )
        .await
        .map_err(pg(what))?;
    let mut out = BTreeMap::new();
    for r in &rows {
        let stream: String = r.try_get(0).map_err(pg(what))?;
        let version: i64 = r.try_get(1).map_err(pg(what))?;
        let hash: Vec<u8> = r.try_get(2).map_err(pg(what))?;
        let hash = Digest::from_slice(&hash).ok_or_else(|| StoreError::Corrupt {
            position: -1,
            reason: format!("the last event of stream {stream:?} has no 32-byte hash"),
        })?;
        out.insert(stream, (u64::try_from(version).unwrap_or(0), hash));
    }
    Ok(out)
}

pub(super) async fn stored_events(
    client: &Client,
    ids: &[uuid::Uuid],
) -> Result<HashMap<uuid::Uuid, ExistingEvent>, StoreError> {
    let what = "looking up event ids";
    let stmt = client
        .prepare_cached(STORED_BY_ID)
        .await
        .map_err(pg(what))?;
    let mut out = HashMap::new();
    // In pages, so that a file of a million lines is not one parameter.
    for page in ids.chunks(10_000) {
        for r in client.query(&stmt, &[&page]).await.map_err(pg(what))? {
            let (id, e) = existing_row(&r).map_err(pg(what))?;
            out.insert(id, e);
        }
    }
    Ok(out)
}
