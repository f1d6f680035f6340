-- jishi ledger, PostgreSQL, version 1.
-- One row per event, in the schema named first on the connection's search_path.
-- The hash chain covers every column except `payload`, which it covers through
-- `payload_digest`. See docs/FORMAT.md.
--
-- Text that the hash covers is kept as `text`, exactly as hashed: a timestamp
-- type would normalise `occurred_at`'s offset and break the chain; `jsonb`
-- would re-serialise the canonical payload bytes.
CREATE TABLE events (
    position        bigint  PRIMARY KEY,   -- global, gapless, 1-based
    stream          text    NOT NULL,
    stream_version  bigint  NOT NULL,      -- 1-based, gapless within the stream
    event_id        uuid    NOT NULL,      -- chosen by the client; hashed as lowercase, hyphenated
    event_type      text    NOT NULL,
    schema_version  bigint  NOT NULL,
    occurred_at     text    NOT NULL,      -- RFC 3339 as normalised by jishi
    recorded_at     text    NOT NULL,      -- RFC 3339 UTC, microseconds
    actor_id        text    NOT NULL,
    actor_name      text    NOT NULL,
    actor_role      text    NOT NULL,
    actor_org       text    NOT NULL,
    payload         text    NOT NULL,      -- RFC 8785 canonical JSON object
    payload_digest  bytea   NOT NULL,      -- BLAKE3(payload), 32 bytes
    prev_hash       bytea   NOT NULL,      -- hash at position - 1, 32 bytes
    hash            bytea   NOT NULL       -- BLAKE3(tag || canonical envelope), 32 bytes
);

CREATE UNIQUE INDEX events_event_id ON events (event_id);
CREATE UNIQUE INDEX events_stream_version ON events (stream, stream_version);

-- The ledger is append-only. A superuser can disable these triggers; the hash
-- chain and signed checkpoints are what catch that. The triggers stop
-- accidents and tools that assume rows can be edited.
CREATE FUNCTION jishi_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'jishi: the ledger is append-only: % on %.% is refused; record a correction event instead',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION jishi_refuse_change();
