-- jishi ledger, PostgreSQL, version 7: events are appended through a
-- function, and `jishi_app` may no longer INSERT into `events` (D63).
--
-- With INSERT on `events`, the application role could write any position
-- and any `recorded_at`, with a hash computed to match: a row backdated to
-- "yesterday", or one placed out of turn. The hash covers both, so the
-- client computes them and the database cannot fill them in (a column-level
-- grant leaving them to a DEFAULT would leave the hash unknowable to the
-- client). Instead the rows go through `jishi_append_events`, which runs as
-- the ledger's owner (SECURITY DEFINER) and writes them only if
--   * the positions follow the head without a gap,
--   * each prev_hash is the hash of the row before it (the head's for the
--     first),
--   * each recorded_at is in the stored form (UTC, microseconds, `Z`), not
--     before the row before it, and within 300 seconds of the database
--     server's clock.
-- It cannot recompute BLAKE3, so a wrong hash or a malformed field is still
-- only found by `jishi verify`; position and time are what only the
-- database can judge at the moment of writing. The store calls it for every
-- append, whoever it runs as, so the application works the same under the
-- owner and under `jishi_app`.
CREATE FUNCTION jishi_append_events(
    p_position bigint[], p_stream text[], p_stream_version bigint[], p_event_id uuid[],
    p_event_type text[], p_schema_version bigint[], p_occurred_at text[],
    p_recorded_at text[], p_actor_id text[], p_actor_name text[], p_actor_role text[],
    p_actor_org text[], p_payload text[], p_payload_digest bytea[], p_prev_hash bytea[],
    p_hash bytea[]
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
       OR cardinality(p_prev_hash) IS DISTINCT FROM n OR cardinality(p_hash) IS DISTINCT FROM n THEN
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
                        payload, payload_digest, prev_hash, hash)
        SELECT * FROM unnest(p_position, p_stream, p_stream_version, p_event_id, p_event_type,
                             p_schema_version, p_occurred_at, p_recorded_at, p_actor_id,
                             p_actor_name, p_actor_role, p_actor_org, p_payload,
                             p_payload_digest, p_prev_hash, p_hash);
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
        'bytea[]) SET search_path = %I, pg_catalog, pg_temp', current_schema());
END
$$;

REVOKE ALL ON FUNCTION jishi_append_events(bigint[], text[], bigint[], uuid[], text[], bigint[],
    text[], text[], text[], text[], text[], text[], text[], bytea[], bytea[], bytea[]) FROM PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jishi_app') THEN
        REVOKE INSERT ON events FROM jishi_app;
        GRANT EXECUTE ON FUNCTION jishi_append_events(bigint[], text[], bigint[], uuid[], text[],
            bigint[], text[], text[], text[], text[], text[], text[], text[], bytea[], bytea[],
            bytea[]) TO jishi_app;
    END IF;
END
$$;
