-- jishi ledger, SQLite, version 3: attestations (docs/FORMAT.md §9, D69).
--
-- One row per commit group: the recording key's signature over the group's
-- first and last positions and the last event's hash, written in the same
-- transaction as the events. The key itself is never here: the database
-- holds only public keys (in the events of stream `ledger/keys`), so whoever
-- can write the database cannot write a row that a valid attestation covers.
CREATE TABLE attestations (
    last_position   INTEGER PRIMARY KEY,     -- the group's last position
    first_position  INTEGER NOT NULL,        -- the group's first position
    key_name        TEXT    NOT NULL,
    key_id          INTEGER NOT NULL,        -- c2sp key id, 0 .. 2^32 - 1
    signature       BLOB    NOT NULL         -- 64 bytes in both suites
);

CREATE TRIGGER attestations_no_update BEFORE UPDATE ON attestations
BEGIN
    SELECT RAISE(ABORT, 'jishi: attestations are written once and never changed');
END;
CREATE TRIGGER attestations_no_delete BEFORE DELETE ON attestations
BEGIN
    SELECT RAISE(ABORT, 'jishi: attestations are written once and never deleted');
END;
