-- jishi ledger, SQLite, version 1.
-- One row per event. The hash chain covers every column except `payload`,
-- which it covers through `payload_digest`. See docs/FORMAT.md.
CREATE TABLE events (
    position        INTEGER PRIMARY KEY,   -- global, gapless, 1-based
    stream          TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL,      -- 1-based, gapless within the stream
    event_id        TEXT    NOT NULL,      -- UUID, lowercase, hyphenated
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    occurred_at     TEXT    NOT NULL,      -- RFC 3339 as normalised by jishi
    recorded_at     TEXT    NOT NULL,      -- RFC 3339 UTC, microseconds
    actor_id        TEXT    NOT NULL,
    actor_name      TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    actor_org       TEXT    NOT NULL,
    payload         TEXT    NOT NULL,      -- RFC 8785 canonical JSON object
    payload_digest  BLOB    NOT NULL,      -- BLAKE3(payload), 32 bytes
    prev_hash       BLOB    NOT NULL,      -- hash at position - 1, 32 bytes
    hash            BLOB    NOT NULL       -- BLAKE3(tag || canonical envelope), 32 bytes
);

CREATE UNIQUE INDEX events_event_id ON events (event_id);
CREATE UNIQUE INDEX events_stream_version ON events (stream, stream_version);

-- The ledger is append-only. Anyone with the file can drop these triggers; the
-- hash chain and signed checkpoints are what catch that, the triggers stop
-- accidents and tools that assume rows can be edited.
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'jishi: the ledger is append-only; record a correction event instead');
END;

CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'jishi: the ledger is append-only; events are never deleted');
END;
