-- jishi ledger, PostgreSQL, version 9: format 3, each event commits to its
-- stream predecessor (docs/FORMAT.md §10, D71).
--
-- `stream_prev` is the hash of the previous event of the same stream (32
-- zero bytes for a stream's first event); the event hash covers it (tag
-- `jishi.event.v2`). It is NULL for the events recorded before this
-- version, whose hashes (tag `jishi.event.v1`) do not cover it; once one
-- event has a value, verify refuses a later NULL. Adding the column
-- changes no stored row.
--
-- The append function of version 7 takes one more column: it is dropped and
-- created again with it (same checks, same owner-only SECURITY DEFINER, same
-- grant), so that no way to append without the column is left.
ALTER TABLE events ADD COLUMN stream_prev bytea
    CHECK (stream_prev IS NULL OR octet_length(stream_prev) = 32);

DROP FUNCTION jishi_append_events(bigint[], text[], bigint[], uuid[], text[], bigint[], text[],
    text[], text[], text[], text[], text[], text[], bytea[], bytea[], bytea[]);

CREATE FUNCTION jishi_append_events(
    p_position bigint[], p_stream text[], p_stream_version bigint[], p_event_id uuid[],
    p_event_type text[], p_schema_version bigint[], p_occurred_at text[],
    p_recorded_at text[], p_actor_id text[], p_actor_name text[], p_actor_role text[],
    p_actor_org text[], p_payload text[], p_payload_digest bytea[], p_prev_hash bytea[],
    p_hash bytea[], p_stream_prev bytea[]
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    n integer := coalesce(cardinality(p_position), 0);
    head_position bigint;
    head_hash bytea;
    head_recorded text;
    bad text;
BEGIN
    IF n = 0 THEN
        RETURN 0;
    END IF;
    IF cardinality(p_stream) IS DISTINCT FROM n OR cardinality(p_stream_version) IS DISTINCT FROM n
       OR cardinality(p_event_id) IS DISTINCT FROM n OR cardinality(p_event_type) IS DISTINCT FROM n
       OR cardinality(p_schema_version) IS DISTINCT FROM n
       OR cardinality(p_occurred_at) IS DISTINCT FROM n
       OR cardinality(p_recorded_at) IS DISTINCT FROM n
       OR cardinality(p_actor_id) IS DISTINCT FROM n OR cardinality(p_actor_name) IS DISTINCT FROM n
       OR cardinality(p_actor_role) IS DISTINCT FROM n OR cardinality(p_actor_org) IS DISTINCT FROM n
       OR cardinality(p_payload) IS DISTINCT FROM n
       OR cardinality(p_payload_digest) IS DISTINCT FROM n
       OR cardinality(p_prev_hash) IS DISTINCT FROM n OR cardinality(p_hash) IS DISTINCT FROM n
       OR cardinality(p_stream_prev) IS DISTINCT FROM n THEN
        RAISE EXCEPTION 'jishi: jishi_append_events: every column needs % values', n
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT position, hash, recorded_at INTO head_position, head_hash, head_recorded
        FROM events ORDER BY position DESC LIMIT 1;
    -- The first row that fails, in order; CASE tries the checks in turn, so
    -- a recorded_at is cast only once its form was checked.
    SELECT c.reason INTO bad FROM (
        SELECT r.i, CASE
             WHEN r.pos IS DISTINCT FROM coalesce(head_position, 0) + r.i THEN
               format('position %s: the next position is %s', r.pos,
                      coalesce(head_position, 0) + r.i)
             WHEN r.prev IS DISTINCT FROM CASE WHEN r.i = 1
                    THEN coalesce(head_hash, decode(repeat('00', 32), 'hex'))
                    ELSE p_hash[r.i - 1] END THEN
               format('position %s: prev_hash is not the hash of the row before it', r.pos)
             WHEN r.rec IS NULL
                  OR r.rec !~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{6}Z$' THEN
               format('position %s: recorded_at %L is not YYYY-MM-DDTHH:MM:SS.ffffffZ', r.pos, r.rec)
             WHEN r.rec COLLATE "C" < (CASE WHEN r.i = 1 THEN coalesce(head_recorded, '')
                    ELSE p_recorded_at[r.i - 1] END) COLLATE "C" THEN
               format('position %s: recorded_at %s is earlier than the row before it', r.pos, r.rec)
             WHEN abs(extract(epoch FROM (r.rec::timestamptz - clock_timestamp()))) > 300 THEN
               format('position %s: recorded_at %s is more than 300 s from the database clock (%s)',
                      r.pos, r.rec, clock_timestamp())
           END AS reason
        FROM unnest(p_position, p_prev_hash, p_recorded_at) WITH ORDINALITY AS r(pos, prev, rec, i)
    ) AS c
    WHERE c.reason IS NOT NULL
    ORDER BY c.i
    LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'jishi: refused to append: %', bad
            USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO events (position, stream, stream_version, event_id, event_type, schema_version,
                        occurred_at, recorded_at, actor_id, actor_name, actor_role, actor_org,
                        payload, payload_digest, prev_hash, hash, stream_prev)
        SELECT * FROM unnest(p_position, p_stream, p_stream_version, p_event_id, p_event_type,
                             p_schema_version, p_occurred_at, p_recorded_at, p_actor_id,
                             p_actor_name, p_actor_role, p_actor_org, p_payload,
                             p_payload_digest, p_prev_hash, p_hash, p_stream_prev);
    RETURN n;
END
$$;

-- A SECURITY DEFINER function must not find its tables by the caller's
-- search_path: pinned to the ledger's own schema (then pg_temp, searched
-- last, so that a temporary table cannot stand in for `events`).
DO $$
BEGIN
    EXECUTE format(
        'ALTER FUNCTION jishi_append_events(bigint[], text[], bigint[], uuid[], text[], '
        'bigint[], text[], text[], text[], text[], text[], text[], text[], bytea[], bytea[], '
        'bytea[], bytea[]) SET search_path = %I, pg_catalog, pg_temp', current_schema());
END
$$;

REVOKE ALL ON FUNCTION jishi_append_events(bigint[], text[], bigint[], uuid[], text[], bigint[],
    text[], text[], text[], text[], text[], text[], text[], bytea[], bytea[], bytea[], bytea[])
    FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jishi_app') THEN
        GRANT EXECUTE ON FUNCTION jishi_append_events(bigint[], text[], bigint[], uuid[], text[],
            bigint[], text[], text[], text[], text[], text[], text[], text[], bytea[], bytea[],
            bytea[], bytea[]) TO jishi_app;
    END IF;
END
$$;
