-- jishi ledger, PostgreSQL, version 8: attestations. The same layout as
-- migrations/sqlite/0003_attestations.sql; see docs/FORMAT.md §9 (D69).
--
-- One row per commit group: the recording key's signature over the group's
-- first and last positions and the last event's hash, written in the same
-- statement as the events. The key itself is never here.
CREATE TABLE attestations (
    last_position   bigint PRIMARY KEY CHECK (last_position >= 1),
    first_position  bigint NOT NULL CHECK (first_position >= 1 AND first_position <= last_position),
    key_name        text   NOT NULL,
    key_id          bigint NOT NULL CHECK (key_id >= 0 AND key_id < 4294967296),
    signature       bytea  NOT NULL
);

CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations
    FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change();
CREATE TRIGGER attestations_no_truncate BEFORE TRUNCATE ON attestations
    FOR EACH STATEMENT EXECUTE FUNCTION jishi_refuse_change();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jishi_app') THEN
        GRANT SELECT, INSERT ON attestations TO jishi_app;
    END IF;
END
$$;
